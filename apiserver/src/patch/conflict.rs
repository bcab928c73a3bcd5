//! The 409 an apply answers when it would change fields other managers own, worded as
//! upstream's `fieldmanager/internal/conflict.go` (`NewConflictError`), which kubectl and
//! client libraries show as they are.

use serde_json::json;

use super::managed_fields::{path_string, Path};
use crate::status::ApiError;

/// One field another manager owns, with the manager as upstream describes it
/// (`"kubectl"`, or `"kube-controller-manager" using apps/v1`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Conflict {
    pub manager: String,
    pub path: Path,
}

/// The `Conflict` status of an apply, with one `FieldManagerConflict` cause per field.
pub fn conflict_error(conflicts: &[Conflict]) -> ApiError {
    let mut sorted = conflicts.to_vec();
    sorted.sort();
    let causes: Vec<_> = sorted
        .iter()
        .map(|c| {
            json!({
                "reason": "FieldManagerConflict",
                "message": format!("conflict with {}", c.manager),
                "field": path_string(&c.path),
            })
        })
        .collect();
    ApiError {
        code: 409,
        reason: "Conflict",
        message: message(&sorted),
        details: Some(json!({ "causes": causes })),
    }
}

/// `Apply failed with 1 conflict: conflict with "m": .spec.replicas`, or for several, the
/// fields listed under each manager in order.
fn message(sorted: &[Conflict]) -> String {
    if let [only] = sorted {
        return format!(
            "Apply failed with 1 conflict: conflict with {}: {}",
            only.manager,
            path_string(&only.path)
        );
    }
    let mut lines = Vec::new();
    let mut current: Option<&str> = None;
    for c in sorted {
        if current != Some(c.manager.as_str()) {
            lines.push(format!("conflicts with {}:", c.manager));
            current = Some(&c.manager);
        }
        lines.push(format!("- {}", path_string(&c.path)));
    }
    format!(
        "Apply failed with {} conflicts: {}",
        sorted.len(),
        lines.join("\n")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conflict(manager: &str, path: &[&str]) -> Conflict {
        Conflict {
            manager: manager.to_string(),
            path: path.iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn one_conflict_names_the_manager_and_the_field() {
        let err = conflict_error(&[conflict(
            "\"kubectl-client-side-apply\" using apps/v1",
            &["f:spec", "f:replicas"],
        )]);
        assert_eq!((err.code, err.reason), (409, "Conflict"));
        assert_eq!(
            err.message,
            "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using apps/v1: .spec.replicas"
        );
        assert_eq!(
            err.details.unwrap()["causes"],
            json!([{
                "reason": "FieldManagerConflict",
                "message": "conflict with \"kubectl-client-side-apply\" using apps/v1",
                "field": ".spec.replicas",
            }])
        );
    }

    #[test]
    fn several_conflicts_are_listed_by_manager() {
        let err = conflict_error(&[
            conflict("\"mgr\" using v1", &["f:spec", "f:y"]),
            conflict("\"a\"", &["f:data", "f:k"]),
            conflict("\"mgr\" using v1", &["f:spec", "f:x"]),
        ]);
        assert_eq!(
            err.message,
            "Apply failed with 3 conflicts: conflicts with \"a\":\n- .data.k\nconflicts with \"mgr\" using v1:\n- .spec.x\n- .spec.y"
        );
        assert_eq!(err.details.unwrap()["causes"].as_array().unwrap().len(), 3);
    }
}
