//! How subresources see and change their object: `status` (the object; only its status
//! changes) and `scale` (an `autoscaling/v1` Scale of the replicas the strategy points at)
//! for every resource; a resource's own subresources (a pod's `binding`, a namespace's
//! `finalize`...) are its strategy's `write_subresource`.

use serde_json::{json, Value};

use super::{Registry, Target, WriteOptions};
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
        Some(other) => {
            let mut decode = |b: &Value| registry.decode_object(target, b.clone(), opts, warnings);
            match target
                .strategy()
                .write_subresource(other, current, &body, &mut decode)
            {
                Some(written) => written,
                None => Err(unsupported(target, other)),
            }
        }
    }
}
