//! The loop that turns CustomResourceDefinitions into served resources, as upstream's
//! apiextensions controllers (naming, establishing, finalizing) do: it accepts a CRD's
//! names unless another CRD of the group holds them, serves its versions, then reports
//! `NamesAccepted` and `Established` (in that order, so a client that sees Established can
//! use the resource at once), and on deletion removes its objects before letting the CRD go.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Map, Value};

use crate::registry::{ListOptions, Registry, Target, WriteOptions};
use crate::status::ApiResult;

/// Holds a deleted CRD until its objects are gone.
pub const CLEANUP_FINALIZER: &str = "customresourcecleanup.apiextensions.k8s.io";

fn crds<'a>() -> Option<Target<'a>> {
    Target::builtin(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        None,
    )
}

/// Runs until `shutdown`: reconciles every CRD whenever one changes (and every few
/// seconds, so deletions waiting on finalizers of objects go on).
pub async fn run(state: Arc<crate::ApiServerState>, shutdown: tokio_util::sync::CancellationToken) {
    let Some(target) = crds() else {
        return;
    };
    loop {
        let revision = match reconcile(&state.registry).await {
            Ok(revision) => revision,
            Err(e) => {
                tracing::warn!("custom resource definitions: {}", e.message);
                0
            }
        };
        let mut watch = match state.registry.cache(&target).await {
            Some(cache) => cache.watch_from(revision.saturating_add(1)),
            None => None,
        };
        let changed = async {
            match watch.as_mut() {
                // Progress notices come whenever a consistent list (this loop's own
                // included) waits for the cache; only a change of a CRD is news.
                Some(w) => {
                    while let Some(keelson_storage::WatchMessage::Progress { .. }) =
                        w.next().await.as_deref()
                    {}
                }
                None => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        };
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = changed => {}
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
        }
    }
}

/// One pass over every CRD; returns the revision the CRDs were read at.
pub async fn reconcile(registry: &Registry) -> ApiResult<u64> {
    let Some(target) = crds() else {
        return Ok(0);
    };
    let list = registry.list(&target, &ListOptions::default()).await?;
    let revision = list
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .and_then(|rv| rv.parse().ok())
        .unwrap_or(0);
    let mut crds: Vec<Value> = list
        .get("items")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    // Names once accepted stay with their CRD; among the rest, the first to claim wins.
    crds.sort_by_cached_key(|crd| {
        let established = crd
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .is_some_and(|cs| {
                cs.iter()
                    .any(|c| c["type"] == "Established" && c["status"] == "True")
            });
        let created = crd
            .pointer("/metadata/creationTimestamp")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        (!established, created, name(crd).to_string())
    });
    let mut taken: HashSet<(String, String)> = HashSet::new();
    let mut served = Vec::new();
    let mut statuses = Vec::new();
    for crd in &crds {
        let group = crd
            .pointer("/spec/group")
            .and_then(Value::as_str)
            .unwrap_or("");
        let conflict = name_conflict(crd, group, &taken);
        let mut wanted = crd.clone();
        if conflict.is_none() {
            for n in claimed_names(crd.pointer("/spec/names")) {
                taken.insert((group.to_string(), n));
            }
            if let Some(names) = crd.pointer("/spec/names").cloned() {
                crate::strategy::set(&mut wanted, &["status", "acceptedNames"], names);
            }
            match super::definition::descriptors(&wanted) {
                Ok(descriptors) => served.extend(descriptors),
                Err(e) => tracing::warn!("cannot serve {}: {e}", name(crd)),
            }
        }
        set_conditions(&mut wanted, conflict.as_deref());
        if let Some(storage) = storage_version(crd) {
            let stored = wanted
                .pointer_mut("/status/storedVersions")
                .and_then(Value::as_array_mut);
            match stored {
                Some(list) if list.iter().any(|v| v.as_str() == Some(storage)) => {}
                Some(list) => list.push(json!(storage)),
                None => crate::strategy::set(
                    &mut wanted,
                    &["status", "storedVersions"],
                    json!([storage]),
                ),
            }
        }
        if wanted.get("status") != crd.get("status") {
            statuses.push(wanted);
        }
    }
    // Serve first, then say so.
    registry.resources.set_custom(served);
    for wanted in statuses {
        let name = name(&wanted).to_string();
        let written = registry
            .update(
                &target,
                &name,
                Some("status"),
                wanted,
                &WriteOptions::default(),
            )
            .await;
        if let Err(e) = written {
            if e.reason != "Conflict" && e.reason != "NotFound" {
                tracing::warn!("cannot update the status of CRD {name}: {}", e.message);
            }
        }
    }
    for crd in crds
        .iter()
        .filter(|c| c.pointer("/metadata/deletionTimestamp").is_some())
    {
        if let Err(e) = clean_up(registry, crd).await {
            tracing::warn!(
                "cannot delete the objects of CRD {}: {}",
                name(crd),
                e.message
            );
        }
    }
    Ok(revision)
}

fn name(obj: &Value) -> &str {
    obj.pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn storage_version(crd: &Value) -> Option<&str> {
    crd.pointer("/spec/versions")?
        .as_array()?
        .iter()
        .find(|v| v.get("storage").and_then(Value::as_bool) == Some(true))?
        .get("name")?
        .as_str()
}

/// Every name a CRD claims in its group, tagged by what it is.
fn claimed_names(names: Option<&Value>) -> Vec<String> {
    let Some(names) = names else {
        return Vec::new();
    };
    let field = |f: &str| names.get(f).and_then(Value::as_str).unwrap_or("");
    let mut claimed = vec![
        format!("resource:{}", field("plural")),
        format!("resource:{}", field("singular")),
        format!("kind:{}", field("kind")),
        format!("kind:{}", field("listKind")),
    ];
    if let Some(short) = names.get("shortNames").and_then(Value::as_array) {
        claimed.extend(
            short
                .iter()
                .filter_map(Value::as_str)
                .map(|s| format!("resource:{s}")),
        );
    }
    claimed.retain(|n| !n.ends_with(':'));
    claimed
}

/// Why a CRD's names cannot be accepted, in upstream's words, if they cannot.
fn name_conflict(crd: &Value, group: &str, taken: &HashSet<(String, String)>) -> Option<String> {
    let names = crd.pointer("/spec/names")?;
    for (field, tag, what) in [
        ("plural", "resource", "plural"),
        ("singular", "resource", "singular"),
        ("kind", "kind", "kind"),
        ("listKind", "kind", "listKind"),
    ] {
        if let Some(value) = names.get(field).and_then(Value::as_str) {
            if taken.contains(&(group.to_string(), format!("{tag}:{value}"))) {
                return Some(format!("{what} {value:?} is already in use"));
            }
        }
    }
    let short = names.get("shortNames").and_then(Value::as_array)?;
    short
        .iter()
        .filter_map(Value::as_str)
        .find(|s| taken.contains(&(group.to_string(), format!("resource:{s}"))))
        .map(|s| format!("shortNames {s:?} is already in use"))
}

/// Sets `NamesAccepted` and `Established` (and `Terminating` on deletion), keeping the
/// transition time of a condition whose status stays.
fn set_conditions(crd: &mut Value, conflict: Option<&str>) {
    let accepted = match conflict {
        None => ("True", "NoConflicts", "no conflicts found".to_string()),
        Some(why) => ("False", "NameConflict", why.to_string()),
    };
    let established = match conflict {
        None => (
            "True",
            "InitialNamesAccepted",
            "the initial names have been accepted".to_string(),
        ),
        Some(_) => (
            "False",
            "NotAccepted",
            "not all names are accepted".to_string(),
        ),
    };
    let mut wanted = vec![("NamesAccepted", accepted), ("Established", established)];
    if crd.pointer("/metadata/deletionTimestamp").is_some() {
        wanted.push((
            "Terminating",
            (
                "True",
                "InstanceDeletionInProgress",
                "CustomResource deletion is in progress".to_string(),
            ),
        ));
    }
    let old: Vec<Value> = crd
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let now = jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let conditions: Vec<Value> = wanted
        .into_iter()
        .map(|(type_, (status, reason, message))| {
            let previous = old
                .iter()
                .find(|c| c.get("type").and_then(Value::as_str) == Some(type_));
            let since = previous
                .filter(|c| c.get("status").and_then(Value::as_str) == Some(status))
                .and_then(|c| c.get("lastTransitionTime").cloned())
                .unwrap_or_else(|| json!(now));
            json!({
                "type": type_,
                "status": status,
                "lastTransitionTime": since,
                "reason": reason,
                "message": message,
            })
        })
        .collect();
    crate::strategy::set(crd, &["status", "conditions"], Value::Array(conditions));
    if let Some(status) = crd.get_mut("status").and_then(Value::as_object_mut) {
        if conflict.is_some() && !status.contains_key("acceptedNames") {
            status.insert("acceptedNames".into(), Value::Object(Map::new()));
        }
    }
}

/// Deletes a deleted CRD's objects, then drops its finalizer once none is left.
async fn clean_up(registry: &Registry, crd: &Value) -> ApiResult<()> {
    let finalizers: Vec<Value> = crd
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if !finalizers
        .iter()
        .any(|f| f.as_str() == Some(CLEANUP_FINALIZER))
    {
        return Ok(());
    }
    let group = crd
        .pointer("/spec/group")
        .and_then(Value::as_str)
        .unwrap_or("");
    let plural = crd
        .pointer("/status/acceptedNames/plural")
        .and_then(Value::as_str)
        .unwrap_or("");
    let mut remaining = 0;
    if let Some(version) = storage_version(crd) {
        if let Some(target) = registry.target(group, version, plural, None) {
            let objects = registry.list(&target, &ListOptions::default()).await?;
            let items = objects
                .get("items")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            remaining = items.len();
            for item in items {
                let namespace = item.pointer("/metadata/namespace").and_then(Value::as_str);
                let one = target.in_namespace(namespace);
                match registry
                    .delete(&one, name(&item), &json!({}), &WriteOptions::default())
                    .await
                {
                    Ok(_) => {}
                    Err(e) if e.reason == "NotFound" => {}
                    Err(e) => return Err(e),
                }
            }
        }
    }
    if remaining > 0 {
        // Deleted objects may wait for their own finalizers; the next pass looks again.
        return Ok(());
    }
    let Some(target) = crds() else {
        return Ok(());
    };
    let mut finished = crd.clone();
    let kept: Vec<Value> = finalizers
        .into_iter()
        .filter(|f| f.as_str() != Some(CLEANUP_FINALIZER))
        .collect();
    crate::strategy::set(
        &mut finished,
        &["metadata", "finalizers"],
        Value::Array(kept),
    );
    match registry
        .update(&target, name(crd), None, finished, &WriteOptions::default())
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if e.reason == "Conflict" || e.reason == "NotFound" => Ok(()),
        Err(e) => Err(e),
    }
}
