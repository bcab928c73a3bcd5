//! How subresources see and change their object: `status` (the object; only its status
//! changes), `scale` (an `autoscaling/v1` Scale of `spec.replicas`), `finalize` (namespace
//! `spec.finalizers`), `binding` (a pod's node), `ephemeralcontainers` (only additions),
//! `resize` (container resources), `approval` (a CSR's conditions).

use serde_json::{json, Value};

use super::{meta_str, Registry, Target, WriteOptions};
use crate::status::{ApiError, ApiResult, Cause};

pub fn view(target: &Target<'_>, sub: Option<&str>, obj: &Value) -> ApiResult<Value> {
    match sub {
        None | Some("status" | "finalize" | "ephemeralcontainers" | "approval" | "resize") => {
            Ok(obj.clone())
        }
        Some("scale") => {
            let paths = target.strategy().scale();
            let selector = paths
                .selector
                .and_then(|p| obj.pointer(p))
                .map(|s| match s {
                    Value::String(text) if !paths.selector_is_object => text.clone(),
                    other => selector_string(other),
                })
                .unwrap_or_default();
            let meta = obj.get("metadata").cloned().unwrap_or(json!({}));
            let mut scale_meta = json!({});
            for field in [
                "name",
                "namespace",
                "uid",
                "resourceVersion",
                "creationTimestamp",
            ] {
                if let Some(v) = meta.get(field) {
                    crate::strategy::set(&mut scale_meta, &[field], v.clone());
                }
            }
            Ok(json!({
                "kind": "Scale",
                "apiVersion": "autoscaling/v1",
                "metadata": scale_meta,
                "spec": { "replicas": obj.pointer(paths.spec_replicas).cloned().unwrap_or(json!(0)) },
                "status": {
                    "replicas": obj.pointer(paths.status_replicas).cloned().unwrap_or(json!(0)),
                    "selector": selector,
                },
            }))
        }
        Some(other) => Err(unsupported(target, other)),
    }
}

fn unsupported(target: &Target<'_>, sub: &str) -> ApiError {
    ApiError {
        message: format!(
            "the server could not find the requested resource ({}/{sub})",
            target.resource.plural()
        ),
        ..ApiError::not_found_path()
    }
}

/// `matchLabels` and `matchExpressions` as a label selector string.
fn selector_string(selector: &Value) -> String {
    let mut parts = Vec::new();
    if let Some(labels) = selector.get("matchLabels").and_then(Value::as_object) {
        for (k, v) in labels {
            parts.push(format!("{k}={}", v.as_str().unwrap_or("")));
        }
    }
    for expr in selector
        .get("matchExpressions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let key = expr.get("key").and_then(Value::as_str).unwrap_or("");
        let values: Vec<&str> = expr
            .get("values")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        match expr.get("operator").and_then(Value::as_str) {
            Some("In") => parts.push(format!("{key} in ({})", values.join(","))),
            Some("NotIn") => parts.push(format!("{key} notin ({})", values.join(","))),
            Some("Exists") => parts.push(key.to_string()),
            Some("DoesNotExist") => parts.push(format!("!{key}")),
            _ => {}
        }
    }
    parts.join(",")
}

/// The full object after a write to `sub` with `body`.
pub fn apply(
    registry: &Registry,
    target: &Target<'_>,
    sub: Option<&str>,
    current: &Value,
    body: Value,
    opts: &WriteOptions,
    warnings: &mut Vec<String>,
) -> ApiResult<Value> {
    match sub {
        None => {
            let mut new = registry.decode_object(target, body, opts, warnings)?;
            if target.has_status() {
                if let (Some(o), Some(status)) = (new.as_object_mut(), current.get("status")) {
                    o.insert("status".into(), status.clone());
                } else if let Some(o) = new.as_object_mut() {
                    o.remove("status");
                }
            }
            Ok(new)
        }
        Some("status") => {
            let decoded = registry.decode_object(target, body, opts, warnings)?;
            let mut new = current.clone();
            match decoded.get("status") {
                Some(status) => crate::strategy::set(&mut new, &["status"], status.clone()),
                None => {
                    if let Some(o) = new.as_object_mut() {
                        o.remove("status");
                    }
                }
            }
            Ok(new)
        }
        Some("finalize") if target.resource.plural() == "namespaces" => {
            let decoded = registry.decode_object(target, body, opts, warnings)?;
            let mut new = current.clone();
            let finalizers = decoded
                .pointer("/spec/finalizers")
                .cloned()
                .unwrap_or(json!([]));
            crate::strategy::set(&mut new, &["spec"], json!({ "finalizers": finalizers }));
            Ok(new)
        }
        // Only ephemeral containers may be added; the rest of the pod stays as it was.
        Some("ephemeralcontainers") if target.resource.plural() == "pods" => {
            let decoded = registry.decode_object(target, body, opts, warnings)?;
            take_part(
                current,
                &decoded,
                &["spec", "ephemeralContainers"],
                check_ephemeral_containers,
            )
        }
        // An in-place resize changes only the containers' resources.
        Some("resize") if target.resource.plural() == "pods" => {
            let decoded = registry.decode_object(target, body, opts, warnings)?;
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
        // Approval changes only the conditions (Approved, Denied, Failed).
        Some("approval") if target.resource.plural() == "certificatesigningrequests" => {
            let decoded = registry.decode_object(target, body, opts, warnings)?;
            take_part(current, &decoded, &["status", "conditions"], check_approval)
        }
        Some("binding") if target.resource.plural() == "pods" => {
            let node = body
                .pointer("/target/name")
                .and_then(Value::as_str)
                .unwrap_or("");
            if node.is_empty() {
                return Err(ApiError::invalid(
                    "Binding",
                    "",
                    target.kind(),
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
        Some("scale") => {
            let replicas = body.pointer("/spec/replicas").cloned().unwrap_or(json!(0));
            if !replicas
                .as_i64()
                .is_some_and(|r| r >= 0 && r <= i32::MAX as i64)
            {
                return Err(ApiError::invalid(
                    "Scale",
                    "autoscaling",
                    target.kind(),
                    vec![Cause::invalid(
                        "spec.replicas",
                        &replicas,
                        "must be greater than or equal to 0",
                    )],
                ));
            }
            let mut new = current.clone();
            let path: Vec<&str> = target
                .strategy()
                .scale()
                .spec_replicas
                .split('/')
                .skip(1)
                .collect();
            crate::strategy::set(&mut new, &path, replicas);
            Ok(new)
        }
        Some(other) => Err(unsupported(target, other)),
    }
}

/// Marks a bound pod `PodScheduled=True`, as upstream's binding does (the transition time
/// moves only when the condition's status changes).
fn scheduled(pod: &mut Value) {
    let now = super::now_rfc3339();
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

/// The current object with only the list at `path` taken from `decoded` (empty when it has
/// none), once `check` accepts the new list for the current object.
fn take_part(
    current: &Value,
    decoded: &Value,
    path: &[&str],
    check: fn(&Value, &Value) -> ApiResult<()>,
) -> ApiResult<Value> {
    let pointer: String = path.iter().map(|p| format!("/{p}")).collect();
    let wanted = decoded
        .pointer(&pointer)
        .cloned()
        .unwrap_or_else(|| json!([]));
    check(current, &wanted)?;
    let mut new = current.clone();
    crate::strategy::set(&mut new, path, wanted);
    Ok(new)
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

/// Approved and Denied exclude each other and must be `True` (422 as upstream).
fn check_approval(current: &Value, conditions: &Value) -> ApiResult<()> {
    let mut causes = Vec::new();
    let mut approved = false;
    let mut denied = false;
    for (i, c) in conditions.as_array().into_iter().flatten().enumerate() {
        let kind = c.get("type").and_then(Value::as_str).unwrap_or("");
        let status = c.get("status").and_then(Value::as_str).unwrap_or("");
        match kind {
            "Approved" => approved = true,
            "Denied" => denied = true,
            "Failed" | "" => {}
            _ => continue,
        }
        if kind.is_empty() {
            causes.push(Cause::required(format!("status.conditions[{i}].type")));
        } else if matches!(kind, "Approved" | "Denied") && status != "True" {
            causes.push(Cause {
                reason: "FieldValueNotSupported",
                field: format!("status.conditions[{i}].status"),
                message: format!("Unsupported value: \"{status}\": supported values: \"True\""),
            });
        }
    }
    if approved && denied {
        causes.push(Cause::invalid(
            "status.conditions",
            "Approved and Denied",
            "Approved and Denied conditions are mutually exclusive",
        ));
    }
    if causes.is_empty() {
        return Ok(());
    }
    Err(ApiError::invalid(
        "CertificateSigningRequest",
        "certificates.k8s.io",
        meta_str(current, "name").unwrap_or(""),
        causes,
    ))
}
