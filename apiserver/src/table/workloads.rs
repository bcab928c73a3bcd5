//! Printers of the workload controllers: deployments, replica sets, stateful sets, daemon
//! sets, replication controllers and controller revisions.

use jiff::Timestamp;
use serde_json::{json, Value};

use super::cells::*;
use super::{col, Column, Printer, AGE, CONTAINERS, IMAGES, NAME, SELECTOR};

// The column tables are exempt from rustfmt so each column stays on one line.

#[rustfmt::skip]
static DEPLOYMENT_COLUMNS: &[Column] = &[
    NAME,
    col("Ready", "string", "Ready replicas out of desired replicas."),
    col("Up-to-date", "string", "Replicas running the latest pod template."),
    col("Available", "string", "Replicas available to serve."),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

#[rustfmt::skip]
static REPLICA_SET_COLUMNS: &[Column] = &[
    NAME,
    col("Desired", "integer", "Number of replicas wanted."),
    col("Current", "integer", "Number of replicas observed."),
    col("Ready", "integer", "Number of ready replicas."),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

#[rustfmt::skip]
static STATEFUL_SET_COLUMNS: &[Column] = &[
    NAME,
    col("Ready", "string", "Ready replicas out of desired replicas."),
    AGE,
    CONTAINERS,
    IMAGES,
];

#[rustfmt::skip]
static DAEMON_SET_COLUMNS: &[Column] = &[
    NAME,
    col("Desired", "integer", "Nodes that should run the daemon pod."),
    col("Current", "integer", "Nodes running at least one daemon pod."),
    col("Ready", "integer", "Nodes whose daemon pod is ready."),
    col("Up-to-date", "integer", "Nodes running the updated daemon pod."),
    col("Available", "integer", "Nodes whose daemon pod is available."),
    col("Node Selector", "string", "Node selector of the pod template."),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

#[rustfmt::skip]
static CONTROLLER_REVISION_COLUMNS: &[Column] = &[
    NAME,
    col("Controller", "string", "Controller that owns the revision."),
    col("Revision", "string", "Revision number."),
    AGE,
];

/// `apps/v1/deployments`.
pub struct Deployments;

impl Printer for Deployments {
    fn columns(&self) -> &'static [Column] {
        DEPLOYMENT_COLUMNS
    }

    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        deployment_cells(obj, now)
    }
}

/// `apps/v1/replicasets`.
pub struct ReplicaSets;

impl Printer for ReplicaSets {
    fn columns(&self) -> &'static [Column] {
        REPLICA_SET_COLUMNS
    }

    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        replica_set_cells(obj, now)
    }
}

/// `apps/v1/statefulsets`.
pub struct StatefulSets;

impl Printer for StatefulSets {
    fn columns(&self) -> &'static [Column] {
        STATEFUL_SET_COLUMNS
    }

    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        stateful_set_cells(obj, now)
    }
}

/// `apps/v1/daemonsets`.
pub struct DaemonSets;

impl Printer for DaemonSets {
    fn columns(&self) -> &'static [Column] {
        DAEMON_SET_COLUMNS
    }

    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        daemon_set_cells(obj, now)
    }
}

/// `v1/replicationcontrollers`.
pub struct ReplicationControllers;

impl Printer for ReplicationControllers {
    fn columns(&self) -> &'static [Column] {
        // Upstream prints ReplicationControllers with the ReplicaSet columns.
        REPLICA_SET_COLUMNS
    }

    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        replication_controller_cells(obj, now)
    }
}

/// `apps/v1/controllerrevisions`.
pub struct ControllerRevisions;

impl Printer for ControllerRevisions {
    fn columns(&self) -> &'static [Column] {
        CONTROLLER_REVISION_COLUMNS
    }

    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        controller_revision_cells(obj, now)
    }
}

/// spec.replicas, which defaulting sets to 1 when omitted.
fn desired_replicas(o: &Value) -> i64 {
    at(o, &["spec", "replicas"]).and_then(as_int).unwrap_or(1)
}

fn deployment_cells(o: &Value, now: Timestamp) -> Vec<Value> {
    let (names, images) = container_cells(at(o, &["spec", "template", "spec"]));
    // Unlike the other workloads, an unset selector prints as empty, not "<none>".
    let selector =
        selector_string(at(o, &["spec", "selector"])).unwrap_or_else(|()| "<invalid>".into());
    vec![
        name(o),
        json!(format!(
            "{}/{}",
            int(o, &["status", "readyReplicas"]),
            desired_replicas(o)
        )),
        json!(int(o, &["status", "updatedReplicas"])),
        json!(int(o, &["status", "availableReplicas"])),
        age(o, now),
        names,
        images,
        json!(selector),
    ]
}

fn replica_set_cells(o: &Value, now: Timestamp) -> Vec<Value> {
    let (names, images) = container_cells(at(o, &["spec", "template", "spec"]));
    vec![
        name(o),
        json!(desired_replicas(o)),
        json!(int(o, &["status", "replicas"])),
        json!(int(o, &["status", "readyReplicas"])),
        age(o, now),
        names,
        images,
        json!(format_label_selector(at(o, &["spec", "selector"]))),
    ]
}

fn replication_controller_cells(o: &Value, now: Timestamp) -> Vec<Value> {
    let (names, images) = container_cells(at(o, &["spec", "template", "spec"]));
    vec![
        name(o),
        json!(desired_replicas(o)),
        json!(int(o, &["status", "replicas"])),
        json!(int(o, &["status", "readyReplicas"])),
        age(o, now),
        names,
        images,
        json!(format_labels(obj(o, &["spec", "selector"]))),
    ]
}

fn stateful_set_cells(o: &Value, now: Timestamp) -> Vec<Value> {
    let (names, images) = container_cells(at(o, &["spec", "template", "spec"]));
    vec![
        name(o),
        json!(format!(
            "{}/{}",
            int(o, &["status", "readyReplicas"]),
            desired_replicas(o)
        )),
        age(o, now),
        names,
        images,
    ]
}

fn daemon_set_cells(o: &Value, now: Timestamp) -> Vec<Value> {
    let (names, images) = container_cells(at(o, &["spec", "template", "spec"]));
    vec![
        name(o),
        json!(int(o, &["status", "desiredNumberScheduled"])),
        json!(int(o, &["status", "currentNumberScheduled"])),
        json!(int(o, &["status", "numberReady"])),
        json!(int(o, &["status", "updatedNumberScheduled"])),
        json!(int(o, &["status", "numberAvailable"])),
        json!(format_labels(obj(
            o,
            &["spec", "template", "spec", "nodeSelector"]
        ))),
        age(o, now),
        names,
        images,
        json!(format_label_selector(at(o, &["spec", "selector"]))),
    ]
}

fn controller_revision_cells(o: &Value, now: Timestamp) -> Vec<Value> {
    let controller = arr(o, &["metadata", "ownerReferences"])
        .iter()
        .find(|r| flag(r, &["controller"]))
        .map_or_else(
            || "<none>".to_string(),
            |r| {
                let api_version = st(r, &["apiVersion"]);
                let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
                let kind = st(r, &["kind"]);
                let ref_name = st(r, &["name"]);
                match (group, kind) {
                    ("", "") => ref_name.to_string(),
                    ("", k) => format!("{}/{ref_name}", k.to_lowercase()),
                    (g, k) => format!("{}.{}/{ref_name}", k.to_lowercase(), g.to_lowercase()),
                }
            },
        );
    vec![
        name(o),
        json!(controller),
        json!(int(o, &["revision"])),
        age(o, now),
    ]
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::table::testing::*;

    #[test]
    fn deployment_row() {
        assert_eq!(
            col_names("apps", "deployments", 0),
            ["Name", "Ready", "Up-to-date", "Available", "Age"]
        );
        assert_eq!(
            col_names("apps", "deployments", 1),
            ["Containers", "Images", "Selector"]
        );
        let d = json!({
            "metadata": meta("web", "2024-04-29T12:00:00Z"),
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": "web"}, "matchExpressions": [
                    {"key": "tier", "operator": "In", "values": ["fe", "be"]},
                    {"key": "canary", "operator": "DoesNotExist"}
                ]},
                "template": {"spec": {"containers": [
                    {"name": "nginx", "image": "nginx:1.27"}, {"name": "log", "image": "busybox"}
                ]}}
            },
            "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}
        });
        assert_eq!(
            cells("apps", "deployments", &d, now()),
            vec![
                json!("web"),
                json!("2/3"),
                json!(3),
                json!(2),
                json!("2d"),
                json!("nginx,log"),
                json!("nginx:1.27,busybox"),
                json!("app=web,!canary,tier in (be,fe)")
            ]
        );
        // Omitted replicas default to 1; a bad selector is reported, not fatal.
        let bad =
            json!({"spec": {"selector": {"matchExpressions": [{"key": "k", "operator": "Near"}]}}});
        let c = cells("apps", "deployments", &bad, now());
        assert_eq!(c[1], json!("0/1"));
        assert_eq!(c[7], json!("<invalid>"));
    }
}
