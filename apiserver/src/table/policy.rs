//! Printers of the limits put on workloads: pod disruption budgets and resource quotas.

use jiff::Timestamp;
use serde_json::{json, Value};

use super::cells::*;
use super::{col, Column, Printer, AGE, NAME};

// The column tables are exempt from rustfmt so each column stays on one line.

#[rustfmt::skip]
static POD_DISRUPTION_BUDGET_COLUMNS: &[Column] = &[
    NAME,
    col("Min Available", "string", "Pods that must stay available."),
    col("Max Unavailable", "string", "Pods that may be unavailable."),
    col("Allowed Disruptions", "integer", "Pods that may be disrupted right now."),
    AGE,
];

#[rustfmt::skip]
static RESOURCE_QUOTA_COLUMNS: &[Column] = &[
    NAME,
    col("Request", "string", "Used and hard limits of non-limit resources."),
    col("Limit", "string", "Used and hard limits of limits.* resources."),
    AGE,
];

/// `policy/v1/poddisruptionbudgets`.
pub struct PodDisruptionBudgets;

impl Printer for PodDisruptionBudgets {
    fn columns(&self) -> &'static [Column] {
        POD_DISRUPTION_BUDGET_COLUMNS
    }

    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        vec![
            name(obj),
            json!(int_or_string(at(obj, &["spec", "minAvailable"])).unwrap_or_else(|| "N/A".into())),
            json!(
                int_or_string(at(obj, &["spec", "maxUnavailable"])).unwrap_or_else(|| "N/A".into())
            ),
            json!(int(obj, &["status", "disruptionsAllowed"])),
            age(obj, now),
        ]
    }
}

/// `v1/resourcequotas`.
pub struct ResourceQuotas;

impl Printer for ResourceQuotas {
    fn columns(&self) -> &'static [Column] {
        RESOURCE_QUOTA_COLUMNS
    }

    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        resource_quota_cells(obj, now)
    }
}

fn resource_quota_cells(o: &Value, now: Timestamp) -> Vec<Value> {
    let used = obj(o, &["status", "used"]);
    let mut request: Vec<String> = Vec::new();
    let mut limit: Vec<String> = Vec::new();
    // serde_json maps iterate sorted, matching upstream's sorted resource names.
    for (resource, hard) in obj(o, &["status", "hard"]).into_iter().flatten() {
        let entry = format!(
            "{resource}: {}/{}",
            quantity(used.and_then(|u| u.get(resource))),
            quantity(Some(hard))
        );
        let mut pieces = resource.split('.');
        if pieces.next() == Some("limits") && pieces.next().is_some() {
            limit.push(entry);
        } else {
            request.push(entry);
        }
    }
    vec![
        name(o),
        json!(request.join(", ")),
        json!(limit.join(", ")),
        age(o, now),
    ]
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::table::testing::*;

    #[test]
    fn quota_and_budget_rows() {
        let quota = json!({"status": {"hard": {"limits.cpu": "2", "pods": "10", "requests.cpu": "1"},
                                      "used": {"pods": "3", "requests.cpu": "500m"}}});
        assert_eq!(
            cells("", "resourcequotas", &quota, now())[1..3],
            [
                json!("pods: 3/10, requests.cpu: 500m/1"),
                json!("limits.cpu: 0/2")
            ]
        );
        let pdb = json!({"spec": {"minAvailable": "50%"}, "status": {"disruptionsAllowed": 1}});
        assert_eq!(
            cells("policy", "poddisruptionbudgets", &pdb, now())[1..4],
            [json!("50%"), json!("N/A"), json!(1)]
        );
    }
}
