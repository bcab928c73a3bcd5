//! Printers of what runs the pods: nodes, their heartbeat leases and runtime classes.

use std::collections::BTreeSet;

use jiff::Timestamp;
use serde_json::{json, Value};

use super::cells::*;
use super::{col, wide, Column, Printer, AGE, NAME};

// The column tables are exempt from rustfmt so each column stays on one line.

#[rustfmt::skip]
static NODE_COLUMNS: &[Column] = &[
    NAME,
    col("Status", "string", "Readiness and schedulability of the node."),
    col("Roles", "string", "Roles of the node, from its node-role labels."),
    AGE,
    col("Version", "string", "Kubelet version of the node."),
    wide("Internal-IP", "string", "First internal IP address of the node."),
    wide("External-IP", "string", "First external IP address of the node."),
    wide("OS-Image", "string", "Operating system image of the node."),
    wide("Kernel-Version", "string", "Kernel version of the node."),
    wide("Container-Runtime", "string", "Container runtime version of the node."),
];

#[rustfmt::skip]
static LEASE_COLUMNS: &[Column] = &[
    NAME,
    col("Holder", "string", "Identity of the current holder of the lease."),
    AGE,
];

#[rustfmt::skip]
static RUNTIME_CLASS_COLUMNS: &[Column] = &[
    NAME,
    col("Handler", "string", "CRI handler that runs pods of this class."),
    AGE,
];

/// `v1/nodes`.
pub struct Nodes;

impl Printer for Nodes {
    fn columns(&self) -> &'static [Column] {
        NODE_COLUMNS
    }

    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        node_cells(obj, now)
    }
}

/// `coordination.k8s.io/v1/leases`.
pub struct Leases;

impl Printer for Leases {
    fn columns(&self) -> &'static [Column] {
        LEASE_COLUMNS
    }

    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        vec![
            name(obj),
            json!(st(obj, &["spec", "holderIdentity"])),
            age(obj, now),
        ]
    }
}

/// `node.k8s.io/v1/runtimeclasses`.
pub struct RuntimeClasses;

impl Printer for RuntimeClasses {
    fn columns(&self) -> &'static [Column] {
        RUNTIME_CLASS_COLUMNS
    }

    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        vec![name(obj), json!(st(obj, &["handler"])), age(obj, now)]
    }
}

fn node_cells(o: &Value, now: Timestamp) -> Vec<Value> {
    let mut status: Vec<String> = Vec::new();
    // Only the Ready condition is summarised; the last entry of a type wins, as in a map.
    if let Some(c) = arr(o, &["status", "conditions"])
        .iter()
        .rev()
        .find(|c| st(c, &["type"]) == "Ready")
    {
        status.push(
            if st(c, &["status"]) == "True" {
                "Ready"
            } else {
                "NotReady"
            }
            .into(),
        );
    }
    if status.is_empty() {
        status.push("Unknown".into());
    }
    if flag(o, &["spec", "unschedulable"]) {
        status.push("SchedulingDisabled".into());
    }
    let mut roles: BTreeSet<String> = BTreeSet::new();
    for (k, v) in obj(o, &["metadata", "labels"]).into_iter().flatten() {
        if let Some(role) = k.strip_prefix("node-role.kubernetes.io/") {
            if !role.is_empty() {
                roles.insert(role.to_string());
            }
        } else if k == "kubernetes.io/role" {
            let v = text(v);
            if !v.is_empty() {
                roles.insert(v);
            }
        }
    }
    let roles = if roles.is_empty() {
        "<none>".to_string()
    } else {
        roles.into_iter().collect::<Vec<_>>().join(",")
    };
    let address = |t: &str| {
        arr(o, &["status", "addresses"])
            .iter()
            .find(|a| st(a, &["type"]) == t)
            .map_or_else(|| "<none>".to_string(), |a| st(a, &["address"]).to_string())
    };
    let info = |field: &str| {
        let v = st(o, &["status", "nodeInfo", field]);
        if v.is_empty() {
            "<unknown>".to_string()
        } else {
            v.to_string()
        }
    };
    vec![
        name(o),
        json!(status.join(",")),
        json!(roles),
        age(o, now),
        json!(st(o, &["status", "nodeInfo", "kubeletVersion"])),
        json!(address("InternalIP")),
        json!(address("ExternalIP")),
        json!(info("osImage")),
        json!(info("kernelVersion")),
        json!(info("containerRuntimeVersion")),
    ]
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::table::testing::*;

    #[test]
    fn node_row() {
        let node = json!({
            "metadata": {"name": "n1", "labels": {"node-role.kubernetes.io/control-plane": "", "kubernetes.io/role": "db"}},
            "spec": {"unschedulable": true},
            "status": {"conditions": [{"type": "Ready", "status": "False"}], "nodeInfo": {"kubeletVersion": "v1.35.0"},
                       "addresses": [{"type": "InternalIP", "address": "192.168.1.2"}]}
        });
        assert_eq!(
            cells("", "nodes", &node, now()),
            vec![
                json!("n1"),
                json!("NotReady,SchedulingDisabled"),
                json!("control-plane,db"),
                json!("<unknown>"),
                json!("v1.35.0"),
                json!("192.168.1.2"),
                json!("<none>"),
                json!("<unknown>"),
                json!("<unknown>"),
                json!("<unknown>")
            ]
        );
    }
}
