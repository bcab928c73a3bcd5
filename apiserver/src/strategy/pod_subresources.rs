//! The subresources of pods: `binding` (the node a pod runs on, with `PodScheduled`),
//! `ephemeralcontainers` (only additions) and `resize` (container resources in place).

use serde_json::{json, Value};

use crate::status::{ApiError, ApiResult, Cause};

fn meta_str<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    obj.get("metadata")?.get(field)?.as_str()
}

fn now_rfc3339() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// Binds a pod to the node its Binding names.
pub fn binding(current: &Value, body: &Value) -> ApiResult<Value> {
    let node = body
        .pointer("/target/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    if node.is_empty() {
        return Err(ApiError::invalid(
            "Binding",
            "",
            "Pod",
            vec![Cause::required("target.name")],
        ));
    }
    let assigned = current
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .unwrap_or("");
    if !assigned.is_empty() {
        let name = meta_str(current, "name").unwrap_or("");
        return Err(ApiError::conflict(
            "",
            "pods",
            name,
            &format!("pod {name} is already assigned to node \"{assigned}\""),
        ));
    }
    let name = meta_str(current, "name").unwrap_or("");
    if current.pointer("/metadata/deletionTimestamp").is_some() {
        return Err(ApiError::conflict(
            "",
            "pods",
            name,
            &format!("pod {name} is being deleted, cannot be assigned to a host"),
        ));
    }
    let gated = current
        .pointer("/spec/schedulingGates")
        .and_then(Value::as_array)
        .is_some_and(|g| !g.is_empty());
    if gated {
        return Err(ApiError::conflict(
            "",
            "pods",
            name,
            &format!("pod {name} has non-empty .spec.schedulingGates"),
        ));
    }
    let mut new = current.clone();
    crate::strategy::set(&mut new, &["spec", "nodeName"], json!(node));
    // The binding's annotations are the pod's too.
    if let Some(annotations) = body
        .pointer("/metadata/annotations")
        .and_then(Value::as_object)
    {
        for (k, v) in annotations {
            crate::strategy::set(&mut new, &["metadata", "annotations", k], v.clone());
        }
    }
    scheduled(&mut new);
    Ok(new)
}

/// Only ephemeral containers may be added; the rest of the pod stays as it was.
pub fn ephemeral_containers(current: &Value, decoded: &Value) -> ApiResult<Value> {
    super::take_part(
        current,
        decoded,
        &["spec", "ephemeralContainers"],
        check_ephemeral_containers,
    )
}

/// An in-place resize changes only the containers' resources.
pub fn resize(current: &Value, decoded: &Value) -> ApiResult<Value> {
    let mut new = current.clone();
    for list in ["containers", "initContainers"] {
        let wanted = decoded
            .pointer(&format!("/spec/{list}"))
            .and_then(Value::as_array);
        let Some(containers) = new
            .pointer_mut(&format!("/spec/{list}"))
            .and_then(Value::as_array_mut)
        else {
            continue;
        };
        for container in containers {
            let name = container.get("name").cloned();
            let resources = wanted
                .into_iter()
                .flatten()
                .find(|c| c.get("name") == name.as_ref())
                .and_then(|c| c.get("resources"))
                .cloned();
            if let Some(resources) = resources {
                crate::strategy::set(container, &["resources"], resources);
            }
        }
    }
    Ok(new)
}

/// Marks a bound pod `PodScheduled=True`, as upstream's binding does (the transition time
/// moves only when the condition's status changes).
fn scheduled(pod: &mut Value) {
    let now = now_rfc3339();
    let Some(status) = pod
        .as_object_mut()
        .map(|o| o.entry("status").or_insert(json!({})))
    else {
        return;
    };
    let Some(status) = status.as_object_mut() else {
        return;
    };
    let conditions = status.entry("conditions").or_insert(json!([]));
    let Some(conditions) = conditions.as_array_mut() else {
        return;
    };
    let existing = conditions
        .iter_mut()
        .find(|c| c.get("type").and_then(Value::as_str) == Some("PodScheduled"));
    match existing {
        Some(c) => {
            let since = match c.get("status").and_then(Value::as_str) {
                Some("True") => c.get("lastTransitionTime").cloned().unwrap_or(json!(now)),
                _ => json!(now),
            };
            *c = json!({"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": since});
        }
        None => conditions.push(
            json!({"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": now}),
        ),
    }
}

/// Existing ephemeral containers may be neither removed nor changed (422 as upstream).
fn check_ephemeral_containers(current: &Value, wanted: &Value) -> ApiResult<()> {
    let name_of = |c: &Value| {
        c.get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let wanted = wanted.as_array().map(Vec::as_slice).unwrap_or_default();
    let mut causes = Vec::new();
    for existing in current
        .pointer("/spec/ephemeralContainers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = name_of(existing);
        match wanted.iter().find(|c| name_of(c) == name) {
            None => causes.push(Cause::forbidden(
                "spec.ephemeralContainers",
                &format!("existing ephemeral containers \"{name}\" may not be removed\n"),
            )),
            Some(c) if c != existing => causes.push(Cause::forbidden(
                "spec.ephemeralContainers",
                &format!("existing ephemeral containers \"{name}\" may not be changed\n"),
            )),
            Some(_) => {}
        }
    }
    let mut seen: std::collections::HashSet<String> = ["containers", "initContainers"]
        .iter()
        .filter_map(|l| {
            current
                .pointer(&format!("/spec/{l}"))
                .and_then(Value::as_array)
        })
        .flatten()
        .map(name_of)
        .collect();
    for (i, c) in wanted.iter().enumerate() {
        let name = name_of(c);
        if name.is_empty() {
            causes.push(Cause::required(format!(
                "spec.ephemeralContainers[{i}].name"
            )));
        } else if !seen.insert(name.clone()) {
            causes.push(Cause::duplicate(
                format!("spec.ephemeralContainers[{i}].name"),
                &json!(name),
            ));
        }
        if c.get("image")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            causes.push(Cause::required(format!(
                "spec.ephemeralContainers[{i}].image"
            )));
        }
        for forbidden in [
            "ports",
            "livenessProbe",
            "readinessProbe",
            "startupProbe",
            "lifecycle",
        ] {
            if c.get(forbidden).is_some() {
                causes.push(Cause::forbidden(
                    format!("spec.ephemeralContainers[{i}].{forbidden}"),
                    "cannot be set for an Ephemeral Container",
                ));
            }
        }
    }
    if causes.is_empty() {
        return Ok(());
    }
    Err(ApiError::invalid(
        "Pod",
        "",
        meta_str(current, "name").unwrap_or(""),
        causes,
    ))
}
