//! Server-side apply (`application/apply-patch+yaml`), after upstream's structured-merge-diff
//! `Updater.Apply`: the applied configuration is merged into the object (lists by their
//! schema list type, see [`super::typed`]); fields the manager applied last time and no
//! longer applies are removed unless another manager owns them (then they are only
//! released); and changing a field another manager owns is a conflict (409) unless the
//! apply is forced, which takes the field. Applying the value a field already has is no
//! conflict: the managers then share it. The applier's `Apply` entry in `managedFields`
//! owns exactly what it applied.

use serde_json::{Map, Value};

use super::conflict::{conflict_error, Conflict};
use super::field_manager::{entries_of, Writer};
use super::managed_fields::{self, Element, FieldSet, Path};
use super::typed::{self, keyed, ListKind, Typed};
use crate::status::{ApiError, ApiResult};

/// Bound on nesting, as the decoders already bound it.
const MAX_DEPTH: usize = 100;

/// Applies `applied` for `writer` to `live` (`{}` when the apply creates the object),
/// returning the new object with its `managedFields`.
pub fn apply(live: &Value, applied: &Value, writer: &Writer<'_>, now: &str) -> ApiResult<Value> {
    let Value::Object(config) = applied else {
        return Err(ApiError::bad_request(
            "the apply patch must be a JSON object",
        ));
    };
    if config
        .get("metadata")
        .and_then(|m| m.get("managedFields"))
        .is_some_and(|m| !m.is_null())
    {
        return Err(ApiError::bad_request("metadata.managedFields must be nil"));
    }
    let mut config = config.clone();
    if let Some(meta) = config.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.shift_remove("managedFields");
    }
    let config = Value::Object(config);
    let schema = writer.schema();

    let mut entries = entries_of(live);
    if entries.is_empty() && live.get("metadata").is_some() {
        entries = writer.before_first_apply(live, now);
    }
    let me = writer.apply_entry(FieldSet::new(), None);
    let previous = entries.iter().position(|e| e.same_manager(&me));
    let last = previous
        .and_then(|i| entries.get(i))
        .map(|e| e.fields.clone())
        .unwrap_or_default();
    let applied_all = typed::field_set(&config, schema);
    let applied_set = applied_all.filter(|p| writer.owns(p));

    let mut base = live.clone();
    if let Some(meta) = base.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.shift_remove("managedFields");
    }
    let mut merged = merge(&base, &config, schema, 0);
    let owned = entries
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != previous)
        .fold(applied_all, |acc, (_, e)| acc.union(&e.fields));
    prune(&mut merged, &last.difference(&applied_set), &owned);

    let comparison = writer.compare(&base, &merged);
    let changed = comparison.changed();
    let mut conflicts = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        if Some(i) == previous {
            continue;
        }
        for path in entry.fields.intersection(&changed).iter() {
            conflicts.push(Conflict {
                manager: entry.describe(),
                path: path.clone(),
            });
        }
    }
    if !conflicts.is_empty() && !writer.force {
        return Err(conflict_error(&conflicts));
    }
    for (i, entry) in entries.iter_mut().enumerate() {
        if Some(i) != previous {
            entry.fields = entry
                .fields
                .difference(&changed)
                .difference(&comparison.removed);
        }
    }
    // Upstream stamps the applier's entry only when the apply changed the object.
    let time = match previous.and_then(|i| entries.get(i)) {
        Some(entry) if merged == base => entry.time.clone(),
        _ => Some(now.to_string()),
    };
    let mine = writer.apply_entry(applied_set, time);
    match previous.and_then(|i| entries.get_mut(i)) {
        Some(entry) => *entry = mine,
        None => entries.push(mine),
    }
    if let Some(obj) = merged.as_object_mut() {
        obj.entry("metadata")
            .or_insert_with(|| Value::Object(Map::new()));
    }
    managed_fields::store(&mut merged, &entries);
    Ok(merged)
}

/// Merges an applied configuration into an object: objects field by field, granular lists
/// item by item (the object's items in their order, merged with the applied ones of the
/// same key, then the new ones), atomic values replaced. A null removes the field.
pub fn merge(live: &Value, config: &Value, schema: Typed<'_>, depth: usize) -> Value {
    if depth > MAX_DEPTH {
        return config.clone();
    }
    match (live, config) {
        (Value::Object(l), Value::Object(c)) if !schema.atomic_object() => {
            let mut out = l.clone();
            for (key, value) in c {
                if value.is_null() {
                    out.shift_remove(key);
                    continue;
                }
                let merged = match l.get(key) {
                    Some(existing) => merge(existing, value, schema.field(key), depth + 1),
                    None => without_nulls(value),
                };
                out.insert(key.clone(), merged);
            }
            Value::Object(out)
        }
        (Value::Array(l), Value::Array(c)) => {
            let kind = schema.list();
            let items = schema.items();
            let (Some(lk), Some(ck)) = (keyed(l, &kind, items), keyed(c, &kind, items)) else {
                return without_nulls(config);
            };
            let mut out: Vec<Value> = Vec::with_capacity(l.len() + c.len());
            for (pe, item) in &lk {
                match ck.iter().find(|(k, _)| k == pe) {
                    Some((_, applied)) if kind != ListKind::Set => {
                        out.push(merge(item, applied, items, depth + 1));
                    }
                    _ => out.push((*item).clone()),
                }
            }
            for (pe, item) in &ck {
                if !lk.iter().any(|(k, _)| k == pe) {
                    out.push(without_nulls(item));
                }
            }
            Value::Array(out)
        }
        _ => without_nulls(config),
    }
}

/// A configured value as stored: nulls in objects mean "not set".
fn without_nulls(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), without_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_nulls).collect()),
        other => other.clone(),
    }
}

/// Removes from `obj` the fields in `released` that nobody in `owned` owns anything at or
/// under. A named field all of whose owned descendants went is removed whole, as upstream
/// makes named fields members before pruning (so no empty `strategy: {}` is left behind).
fn prune(obj: &mut Value, released: &FieldSet, owned: &FieldSet) {
    let mut removed: Vec<Path> = Vec::new();
    for path in released.iter() {
        let candidates = (1..=path.len())
            .filter_map(|n| path.get(..n))
            .filter(|prefix| prefix.len() == path.len() || is_field(prefix.last()));
        for prefix in candidates {
            if removed.iter().any(|r| prefix.starts_with(r)) {
                break;
            }
            if !owned.has_under(prefix) {
                remove_path(obj, prefix);
                removed.push(prefix.to_vec());
                break;
            }
        }
    }
}

fn is_field(element: Option<&Element>) -> bool {
    element.is_some_and(|e| e.starts_with("f:"))
}

/// Removes the value at `path` (fields by name, list items by key or value).
fn remove_path(obj: &mut Value, path: &[Element]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut at = obj;
    for element in parents {
        match child_mut(at, element) {
            Some(next) => at = next,
            None => return,
        }
    }
    if let Some(field) = last.strip_prefix("f:") {
        if let Some(map) = at.as_object_mut() {
            map.shift_remove(field);
        }
    } else if let Some(list) = at.as_array_mut() {
        list.retain(|item| !matches(item, last));
    }
}

fn child_mut<'v>(value: &'v mut Value, element: &str) -> Option<&'v mut Value> {
    if let Some(field) = element.strip_prefix("f:") {
        return value.as_object_mut()?.get_mut(field);
    }
    value
        .as_array_mut()?
        .iter_mut()
        .find(|item| matches(item, element))
}

/// Whether a list item is the one a `k:` key or `v:` value names. A key field the item lacks
/// matches (it took its default when the key was made).
fn matches(item: &Value, element: &str) -> bool {
    if let Some(key) = element.strip_prefix("k:") {
        let Ok(Value::Object(key)) = serde_json::from_str::<Value>(key) else {
            return false;
        };
        return key
            .iter()
            .all(|(k, v)| item.get(k).is_none_or(|have| have == v));
    }
    if let Some(value) = element.strip_prefix("v:") {
        return serde_json::from_str::<Value>(value).is_ok_and(|v| v == *item);
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patch::strategic::SchemaIndex;
    use serde_json::json;

    const NOW: &str = "2026-01-01T00:00:00Z";

    fn writer(manager: &str, definition: &str, api_version: &str) -> Writer<'static> {
        let index = SchemaIndex::new(crate::documents::schemas());
        Writer::with_schema(
            manager,
            api_version,
            Typed::new(index.definition(definition)),
        )
    }

    fn service(ports: Value) -> Value {
        json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {"selector": {"app": "web"}, "ports": ports},
        })
    }

    fn apply_service(live: &Value, applied: &Value, manager: &str) -> Value {
        let w = writer(manager, "io.k8s.api.core.v1.Service", "v1");
        apply(live, applied, &w, NOW).unwrap()
    }

    fn deployment(replicas: Option<i64>) -> Value {
        let mut d = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web"},
            "spec": {"selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "web", "image": "nginx"}]}}},
        });
        if let Some(r) = replicas {
            d["spec"]["replicas"] = json!(r);
        }
        d
    }

    fn apply_deployment(
        live: &Value,
        applied: &Value,
        manager: &str,
        force: bool,
    ) -> ApiResult<Value> {
        let mut w = writer(manager, "io.k8s.api.apps.v1.Deployment", "apps/v1");
        w.force = force;
        apply(live, applied, &w, NOW)
    }

    fn entry<'v>(obj: &'v Value, manager: &str) -> Option<&'v Value> {
        obj["metadata"]["managedFields"]
            .as_array()?
            .iter()
            .find(|e| e["manager"] == manager)
    }

    #[test]
    fn an_apply_records_what_it_applied_as_upstream_documents() {
        let applied = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "test-cm", "namespace": "default", "labels": {"test-label": "test"}},
            "data": {"key": "some value"}});
        let w = writer("kubectl", "io.k8s.api.core.v1.ConfigMap", "v1");
        let out = apply(&json!({}), &applied, &w, NOW).unwrap();
        assert_eq!(
            out["metadata"]["managedFields"],
            json!([{"manager": "kubectl", "operation": "Apply", "apiVersion": "v1", "time": NOW,
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:metadata": {"f:labels": {"f:test-label": {}}}, "f:data": {"f:key": {}}}}])
        );
    }

    #[test]
    fn a_port_no_longer_applied_is_removed() {
        let first = service(json!([{"name": "http", "port": 8080}]));
        let created = apply_service(&json!({}), &first, "helm");
        let fields = &created["metadata"]["managedFields"][0]["fieldsV1"];
        assert!(
            fields["f:spec"]["f:ports"]
                .get("k:{\"port\":8080,\"protocol\":\"TCP\"}")
                .is_some(),
            "{fields}"
        );
        let second = service(json!([{"name": "http", "port": 9090}]));
        let updated = apply_service(&created, &second, "helm");
        assert_eq!(
            updated["spec"]["ports"],
            json!([{"name": "http", "port": 9090}])
        );
        assert_eq!(
            updated["metadata"]["managedFields"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn a_field_no_longer_applied_is_removed_when_nobody_else_owns_it() {
        let mut with_paused = deployment(Some(1));
        with_paused["spec"]["paused"] = json!(true);
        let live = apply_deployment(&json!({}), &with_paused, "a", false).unwrap();
        let out = apply_deployment(&live, &deployment(Some(1)), "a", false).unwrap();
        assert!(out["spec"].get("paused").is_none(), "{out}");
    }

    #[test]
    fn a_field_no_longer_applied_is_only_released_when_another_manager_owns_it() {
        let live = apply_deployment(&json!({}), &deployment(Some(2)), "a", false).unwrap();
        // b applies the same replicas: no conflict, shared ownership.
        let live = apply_deployment(
            &live,
            &json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web"}, "spec": {"replicas": 2}}),
            "b",
            false,
        )
        .unwrap();
        let out = apply_deployment(&live, &deployment(None), "a", false).unwrap();
        assert_eq!(out["spec"]["replicas"], 2, "{out}");
        assert!(entry(&out, "a").unwrap()["fieldsV1"]["f:spec"]
            .get("f:replicas")
            .is_none());
        assert!(entry(&out, "b").unwrap()["fieldsV1"]["f:spec"]
            .get("f:replicas")
            .is_some());
    }

    #[test]
    fn labels_no_longer_applied_are_removed_unless_another_manager_applies_them() {
        let mut a = service(json!([{"port": 80}]));
        a["metadata"]["labels"] = json!({"app": "web", "tier": "front"});
        let live = apply_service(&json!({}), &a, "one");
        let mut b = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}});
        b["metadata"]["labels"] = json!({"tier": "front"});
        let live = apply_service(&live, &b, "two");
        let mut a2 = service(json!([{"port": 80}]));
        a2["metadata"]["labels"] = json!({"app": "web"});
        let live = apply_service(&live, &a2, "one");
        assert_eq!(
            live["metadata"]["labels"],
            json!({"app": "web", "tier": "front"})
        );
        let b2 = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}});
        let live = apply_service(&live, &b2, "two");
        assert_eq!(live["metadata"]["labels"], json!({"app": "web"}));
        assert!(
            entry(&live, "two").is_none(),
            "an entry owning nothing goes"
        );
    }

    #[test]
    fn fields_set_by_others_are_kept() {
        let mut live = service(json!([{"port": 80}, {"port": 81}]));
        live["metadata"]["managedFields"] = json!([{"manager": "creator", "operation": "Update",
            "apiVersion": "v1", "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:ports": {}}}}]);
        let applied = service(json!([{"port": 80}]));
        let out = apply_service(&live, &applied, "first");
        assert_eq!(out["spec"]["ports"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn changing_a_field_another_manager_owns_is_a_conflict() {
        let live = apply_deployment(&json!({}), &deployment(Some(1)), "a", false).unwrap();
        let err = apply_deployment(&live, &deployment(Some(3)), "b", false).unwrap_err();
        assert_eq!((err.code, err.reason), (409, "Conflict"));
        assert_eq!(
            err.message,
            "Apply failed with 1 conflict: conflict with \"a\": .spec.replicas"
        );
        assert_eq!(err.details.unwrap()["causes"][0]["field"], ".spec.replicas");
    }

    #[test]
    fn a_conflict_with_an_updater_names_its_version() {
        let mut live = deployment(Some(1));
        live["metadata"]["managedFields"] = json!([{"manager": "kubectl-client-side-apply",
            "operation": "Update", "apiVersion": "apps/v1", "time": NOW, "fieldsType": "FieldsV1",
            "fieldsV1": {"f:spec": {"f:replicas": {}, "f:paused": {}}}}]);
        let mut applied = deployment(Some(2));
        applied["spec"]["paused"] = json!(true);
        let err = apply_deployment(&live, &applied, "kubectl", false).unwrap_err();
        assert_eq!(
            err.message,
            "Apply failed with 2 conflicts: conflicts with \"kubectl-client-side-apply\" using apps/v1:\n- .spec.paused\n- .spec.replicas"
        );
    }

    #[test]
    fn forcing_takes_the_conflicting_fields() {
        let live = apply_deployment(&json!({}), &deployment(Some(1)), "a", false).unwrap();
        let out = apply_deployment(&live, &deployment(Some(3)), "b", true).unwrap();
        assert_eq!(out["spec"]["replicas"], 3);
        assert!(entry(&out, "a").unwrap()["fieldsV1"]["f:spec"]
            .get("f:replicas")
            .is_none());
        assert!(entry(&out, "b").unwrap()["fieldsV1"]["f:spec"]
            .get("f:replicas")
            .is_some());
        // a no longer owns replicas: dropping it from a's config leaves it.
        let out = apply_deployment(&out, &deployment(None), "a", false).unwrap();
        assert_eq!(out["spec"]["replicas"], 3);
    }

    #[test]
    fn applying_the_value_another_manager_set_shares_it() {
        let live = apply_deployment(&json!({}), &deployment(Some(2)), "a", false).unwrap();
        let out = apply_deployment(&live, &deployment(Some(2)), "b", false).unwrap();
        for m in ["a", "b"] {
            assert!(
                entry(&out, m).unwrap()["fieldsV1"]["f:spec"]
                    .get("f:replicas")
                    .is_some(),
                "{m}"
            );
        }
    }

    #[test]
    fn the_first_apply_to_an_unmanaged_object_conflicts_with_before_first_apply() {
        let live = deployment(Some(1));
        let err = apply_deployment(&live, &deployment(Some(5)), "a", false).unwrap_err();
        assert!(
            err.message.contains("\"before-first-apply\" using apps/v1"),
            "{}",
            err.message
        );
    }

    #[test]
    fn map_lists_merge_by_key_and_atomic_lists_are_replaced() {
        let live = apply_deployment(&json!({}), &deployment(Some(1)), "a", false).unwrap();
        let mut sidecar = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"template": {"spec": {"containers": [{"name": "side", "image": "busybox", "args": ["x"]}]}}}});
        let out = apply_deployment(&live, &sidecar, "b", false).unwrap();
        let names: Vec<&str> = out["spec"]["template"]["spec"]["containers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["web", "side"]);
        sidecar["spec"]["template"]["spec"]["containers"][0]["args"] = json!(["y", "z"]);
        let out = apply_deployment(&out, &sidecar, "b", false).unwrap();
        assert_eq!(
            out["spec"]["template"]["spec"]["containers"][1]["args"],
            json!(["y", "z"])
        );
    }

    #[test]
    fn custom_resources_merge_by_their_crd_list_types() {
        let schema: &'static Value = Box::leak(Box::new(json!({"type": "object", "properties": {
        "spec": {"type": "object", "properties": {
            "routes": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["path"],
                "items": {"type": "object", "properties": {"path": {"type": "string"}, "to": {"type": "string"}}}},
        }}}})));
        let w = |m: &str| Writer::with_schema(m, "example.com/v1", Typed::custom(schema));
        let cr = |routes: Value| json!({"apiVersion": "example.com/v1", "kind": "Site", "metadata": {"name": "s"}, "spec": {"routes": routes}});
        let live = apply(
            &json!({}),
            &cr(json!([{"path": "/", "to": "a"}])),
            &w("one"),
            NOW,
        )
        .unwrap();
        let live = apply(
            &live,
            &cr(json!([{"path": "/b", "to": "b"}])),
            &w("two"),
            NOW,
        )
        .unwrap();
        assert_eq!(
            live["spec"]["routes"].as_array().unwrap().len(),
            2,
            "{live}"
        );
        let err = apply(
            &live,
            &cr(json!([{"path": "/", "to": "changed"}])),
            &w("two"),
            NOW,
        )
        .unwrap_err();
        assert_eq!(
            err.message,
            "Apply failed with 1 conflict: conflict with \"one\": .spec.routes[path=\"/\"].to"
        );
    }

    #[test]
    fn managed_fields_in_the_applied_configuration_are_refused() {
        let mut applied = deployment(Some(1));
        applied["metadata"]["managedFields"] = json!([]);
        let err = apply_deployment(&json!({}), &applied, "a", false).unwrap_err();
        assert_eq!(err.code, 400);
    }
}
