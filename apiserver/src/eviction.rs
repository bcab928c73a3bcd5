//! `pods/eviction`: a delete that respects PodDisruptionBudgets. A pod that is not running
//! (Pending, Succeeded, Failed) or already deleting may always go; otherwise the one budget
//! that selects it must allow a disruption, which the eviction uses up.

use serde_json::{json, Value};

use crate::registry::{Registry, Target, WriteOptions};
use crate::selectors::LabelSelector;
use crate::status::{ApiError, ApiResult};

fn too_many_requests(message: String, causes: Value) -> ApiError {
    ApiError {
        code: 429,
        reason: "TooManyRequests",
        message,
        details: Some(json!({ "causes": causes })),
    }
}

/// Checks the budgets of a pod about to be evicted, and takes one disruption from the
/// budget that covers it.
pub async fn admit(
    registry: &Registry,
    pods: &Target<'_>,
    name: &str,
    opts: &WriteOptions,
) -> ApiResult<()> {
    let pod = registry.get(pods, name).await?;
    let phase = pod
        .pointer("/status/phase")
        .and_then(Value::as_str)
        .unwrap_or("");
    if matches!(phase, "Pending" | "Succeeded" | "Failed")
        || pod.pointer("/metadata/deletionTimestamp").is_some()
    {
        return Ok(());
    }
    let Some(budgets) = Target::builtin("policy", "v1", "poddisruptionbudgets", pods.namespace)
    else {
        return Ok(());
    };
    let empty = serde_json::Map::new();
    let labels = pod
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let listed = registry.list(&budgets, &Default::default()).await?;
    let covering: Vec<&Value> = listed
        .get("items")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|pdb| {
            pdb.pointer("/spec/selector")
                .and_then(|s| LabelSelector::from_json(s).ok())
                .is_some_and(|s| s.matches(labels))
        })
        .collect();
    let pdb = match covering.as_slice() {
        [] => return Ok(()),
        [one] => *one,
        _ => {
            return Err(ApiError::internal(
                "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
            ))
        }
    };
    let pdb_name = pdb
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let allowed = pdb
        .pointer("/status/disruptionsAllowed")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if allowed <= 0 {
        return Err(too_many_requests(
            "Cannot evict pod as it would violate the pod's disruption budget.".into(),
            json!([{
                "reason": "DisruptionBudget",
                "message": format!("The disruption budget {pdb_name} does not allow a disruption now"),
            }]),
        ));
    }
    let mut status = pdb.get("status").cloned().unwrap_or_else(|| json!({}));
    crate::strategy::set(
        &mut status,
        &["disruptionsAllowed"],
        json!(allowed.saturating_sub(1)),
    );
    let mut updated = pdb.clone();
    crate::strategy::set(&mut updated, &["status"], status);
    registry
        .update(&budgets, &pdb_name, Some("status"), updated, opts)
        .await
        .map(|_| ())
}
