//! Printers of pods and pod templates: READY, STATUS and RESTARTS as kubelet-reported
//! container states read, and the Completed row condition of finished pods.

use jiff::Timestamp;
use serde_json::{json, Value};

use super::cells::*;
use super::{col, wide, Column, Printer, AGE, NAME};

// The column tables are exempt from rustfmt so each column stays on one line.

#[rustfmt::skip]
static POD_COLUMNS: &[Column] = &[
    NAME,
    col("Ready", "string", "Ready containers out of all containers of this pod."),
    col("Status", "string", "Summary of the pod's phase and its containers' states."),
    col("Restarts", "string", "Container restarts in this pod, and how long ago the last one was."),
    AGE,
    wide("IP", "string", "First IP address allocated to the pod."),
    wide("Node", "string", "Node the pod is bound to."),
    wide("Nominated Node", "string", "Node the scheduler nominated while preempting for this pod."),
    wide("Readiness Gates", "string", "Readiness gates whose condition is True, out of all gates."),
];

#[rustfmt::skip]
static POD_TEMPLATE_COLUMNS: &[Column] = &[
    NAME,
    col("Containers", "string", "Names of each container in the template."),
    col("Images", "string", "Images referenced by each container in the template."),
    col("Pod Labels", "string", "Labels of the pod template."),
];

/// `v1/pods`.
pub struct Pods;

impl Printer for Pods {
    fn columns(&self) -> &'static [Column] {
        POD_COLUMNS
    }

    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        pod_cells(obj, now)
    }

    fn row_condition(&self, obj: &Value) -> Option<Value> {
        pod_row_condition(obj)
    }
}

/// `v1/podtemplates`.
pub struct PodTemplates;

impl Printer for PodTemplates {
    fn columns(&self) -> &'static [Column] {
        POD_TEMPLATE_COLUMNS
    }

    fn cells(&self, obj: &Value, _now: Timestamp) -> Vec<Value> {
        pod_template_cells(obj)
    }
}

fn is_restartable_init(pod: &Value, container_name: &str) -> bool {
    arr(pod, &["spec", "initContainers"])
        .iter()
        .any(|c| st(c, &["name"]) == container_name && st(c, &["restartPolicy"]) == "Always")
}

fn pod_condition_true(pod: &Value, type_: &str) -> bool {
    arr(pod, &["status", "conditions"])
        .iter()
        .find(|c| st(c, &["type"]) == type_)
        .is_some_and(|c| st(c, &["status"]) == "True")
}

fn later(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

fn exit_reason(prefix: &str, terminated: &Value) -> String {
    let signal = int(terminated, &["signal"]);
    if signal != 0 {
        format!("{prefix}Signal:{signal}")
    } else {
        format!("{prefix}ExitCode:{}", int(terminated, &["exitCode"]))
    }
}

fn pod_cells(pod: &Value, now: Timestamp) -> Vec<Value> {
    let init_specs = arr(pod, &["spec", "initContainers"]);
    // Sidecars (restartable init containers) count as regular containers for READY.
    let total = arr(pod, &["spec", "containers"]).len()
        + init_specs
            .iter()
            .filter(|c| st(c, &["restartPolicy"]) == "Always")
            .count();
    let mut ready = 0usize;
    let mut restarts = 0i64;
    let mut sidecar_restarts = 0i64;
    let mut last_restart: Option<Timestamp> = None;
    let mut last_sidecar_restart: Option<Timestamp> = None;

    let phase = st(pod, &["status", "phase"]);
    let status_reason = st(pod, &["status", "reason"]);
    let mut reason = if status_reason.is_empty() {
        phase
    } else {
        status_reason
    }
    .to_string();
    if arr(pod, &["status", "conditions"])
        .iter()
        .any(|c| st(c, &["type"]) == "PodScheduled" && st(c, &["reason"]) == "SchedulingGated")
    {
        reason = "SchedulingGated".into();
    }

    let mut initializing = false;
    for (i, cs) in arr(pod, &["status", "initContainerStatuses"])
        .iter()
        .enumerate()
    {
        let rc = int(cs, &["restartCount"]);
        let finished = timestamp(cs, &["lastState", "terminated", "finishedAt"]);
        restarts += rc;
        last_restart = later(last_restart, finished);
        let sidecar = is_restartable_init(pod, st(cs, &["name"]));
        if sidecar {
            sidecar_restarts += rc;
            last_sidecar_restart = later(last_sidecar_restart, finished);
        }
        let terminated = at(cs, &["state", "terminated"]).filter(|t| t.is_object());
        let waiting_reason = st(cs, &["state", "waiting", "reason"]);
        match terminated {
            Some(t) if int(t, &["exitCode"]) == 0 => continue,
            _ if sidecar && flag(cs, &["started"]) => {
                if flag(cs, &["ready"]) {
                    ready += 1;
                }
                continue;
            }
            Some(t) => {
                let r = st(t, &["reason"]);
                reason = if r.is_empty() {
                    exit_reason("Init:", t)
                } else {
                    format!("Init:{r}")
                };
            }
            None if !waiting_reason.is_empty() && waiting_reason != "PodInitializing" => {
                reason = format!("Init:{waiting_reason}");
            }
            None => reason = format!("Init:{i}/{}", init_specs.len()),
        }
        initializing = true;
        break;
    }

    if !initializing || pod_condition_true(pod, "Initialized") {
        restarts = sidecar_restarts;
        last_restart = last_sidecar_restart;
        let mut has_running = false;
        // Walked backwards so the first container's state wins the STATUS column.
        for cs in arr(pod, &["status", "containerStatuses"]).iter().rev() {
            restarts += int(cs, &["restartCount"]);
            last_restart = later(
                last_restart,
                timestamp(cs, &["lastState", "terminated", "finishedAt"]),
            );
            let waiting_reason = st(cs, &["state", "waiting", "reason"]);
            let terminated = at(cs, &["state", "terminated"]).filter(|t| t.is_object());
            if !waiting_reason.is_empty() {
                reason = waiting_reason.to_string();
            } else if let Some(t) = terminated {
                let r = st(t, &["reason"]);
                reason = if r.is_empty() {
                    exit_reason("", t)
                } else {
                    r.to_string()
                };
            } else if flag(cs, &["ready"]) && has_obj(cs, &["state", "running"]) {
                has_running = true;
                ready += 1;
            }
        }
        // A pod whose finished containers say Completed is still running if others run.
        if reason == "Completed" && has_running {
            reason = if pod_condition_true(pod, "Ready") {
                "Running"
            } else {
                "NotReady"
            }
            .into();
        }
    }

    if deleting(pod) && status_reason == "NodeLost" {
        reason = "Unknown".into();
    } else if deleting(pod) && phase != "Succeeded" && phase != "Failed" {
        reason = "Terminating".into();
    }

    let restarts_cell = match last_restart {
        Some(t) if restarts != 0 => format!("{restarts} ({} ago)", since(Some(t), now)),
        _ => restarts.to_string(),
    };

    let mut pod_ip = arr(pod, &["status", "podIPs"])
        .first()
        .map_or("", |p| st(p, &["ip"]));
    if pod_ip.is_empty() {
        // Conversion fills podIPs from the legacy singular field.
        pod_ip = st(pod, &["status", "podIP"]);
    }
    let none_if_empty = |s: &str| {
        if s.is_empty() {
            "<none>".to_string()
        } else {
            s.to_string()
        }
    };
    let gates = arr(pod, &["spec", "readinessGates"]);
    let readiness_gates = if gates.is_empty() {
        "<none>".to_string()
    } else {
        let conditions = arr(pod, &["status", "conditions"]);
        let true_count = gates
            .iter()
            .filter(|g| {
                let t = st(g, &["conditionType"]);
                conditions
                    .iter()
                    .find(|c| st(c, &["type"]) == t)
                    .is_some_and(|c| st(c, &["status"]) == "True")
            })
            .count();
        format!("{true_count}/{}", gates.len())
    };

    vec![
        name(pod),
        json!(format!("{ready}/{total}")),
        json!(reason),
        json!(restarts_cell),
        age(pod, now),
        json!(none_if_empty(pod_ip)),
        json!(none_if_empty(st(pod, &["spec", "nodeName"]))),
        json!(none_if_empty(st(pod, &["status", "nominatedNodeName"]))),
        json!(readiness_gates),
    ]
}

/// Finished pods carry a Completed row condition, which clients use to dim or hide them.
fn pod_row_condition(pod: &Value) -> Option<Value> {
    let (reason, message) = match st(pod, &["status", "phase"]) {
        "Succeeded" => ("Succeeded", "The pod has completed successfully."),
        "Failed" => ("Failed", "The pod failed."),
        _ => return None,
    };
    Some(json!({"type": "Completed", "status": "True", "reason": reason, "message": message}))
}

fn pod_template_cells(o: &Value) -> Vec<Value> {
    let (names, images) = container_cells(at(o, &["template", "spec"]));
    vec![
        name(o),
        names,
        images,
        json!(format_labels(obj(o, &["template", "metadata", "labels"]))),
    ]
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::table::testing::*;

    #[test]
    fn pod_columns_match_upstream() {
        assert_eq!(
            col_names("", "pods", 0),
            ["Name", "Ready", "Status", "Restarts", "Age"]
        );
        assert_eq!(
            col_names("", "pods", 1),
            ["IP", "Node", "Nominated Node", "Readiness Gates"]
        );
        assert_eq!(columns("", "pods")[3].type_, "string");
    }

    #[test]
    fn running_pod_row() {
        let pod = json!({
            "metadata": meta("web-0", "2024-05-01T11:55:00Z"),
            "spec": {"nodeName": "n1", "containers": [{"name": "a"}, {"name": "b"}]},
            "status": {
                "phase": "Running",
                "podIPs": [{"ip": "10.0.0.5"}],
                "conditions": [{"type": "Ready", "status": "True"}],
                "containerStatuses": [
                    {"name": "a", "ready": true, "restartCount": 2, "state": {"running": {}},
                     "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2024-05-01T11:57:00Z"}}},
                    {"name": "b", "ready": true, "restartCount": 0, "state": {"running": {}}}
                ]
            }
        });
        assert_eq!(
            cells("", "pods", &pod, now()),
            vec![
                json!("web-0"),
                json!("2/2"),
                json!("Running"),
                json!("2 (3m ago)"),
                json!("5m"),
                json!("10.0.0.5"),
                json!("n1"),
                json!("<none>"),
                json!("<none>")
            ]
        );
    }

    #[test]
    fn pending_pod_rows() {
        let unscheduled = json!({
            "metadata": meta("p", "2024-05-01T11:59:30Z"),
            "spec": {"containers": [{"name": "a"}]},
            "status": {"phase": "Pending"}
        });
        let c = cells("", "pods", &unscheduled, now());
        assert_eq!(
            c[1..5],
            [json!("0/1"), json!("Pending"), json!("0"), json!("30s")]
        );
        assert_eq!(c[5..7], [json!("<none>"), json!("<none>")]);

        let creating = json!({
            "metadata": meta("p", "2024-05-01T11:59:30Z"),
            "spec": {"containers": [{"name": "a"}]},
            "status": {"phase": "Pending", "containerStatuses": [
                {"name": "a", "ready": false, "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}}}
            ]}
        });
        assert_eq!(
            cells("", "pods", &creating, now())[2],
            json!("ContainerCreating")
        );

        let init = json!({
            "metadata": meta("p", "2024-05-01T11:59:30Z"),
            "spec": {"initContainers": [{"name": "i1"}, {"name": "i2"}], "containers": [{"name": "a"}]},
            "status": {"phase": "Pending", "initContainerStatuses": [
                {"name": "i1", "state": {"terminated": {"exitCode": 0}}},
                {"name": "i2", "state": {"running": {}}}
            ], "containerStatuses": [
                {"name": "a", "state": {"waiting": {"reason": "PodInitializing"}}}
            ]}
        });
        assert_eq!(cells("", "pods", &init, now())[2], json!("Init:1/2"));

        let init_crash = json!({
            "spec": {"initContainers": [{"name": "i1"}], "containers": [{"name": "a"}]},
            "status": {"phase": "Pending", "initContainerStatuses": [
                {"name": "i1", "restartCount": 4, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}
            ]}
        });
        let c = cells("", "pods", &init_crash, now());
        assert_eq!(c[2], json!("Init:CrashLoopBackOff"));
        assert_eq!(c[3], json!("4"));
        assert_eq!(c[4], json!("<unknown>"));
    }

    #[test]
    fn sidecar_counts_as_container() {
        let pod = json!({
            "spec": {"initContainers": [{"name": "proxy", "restartPolicy": "Always"}], "containers": [{"name": "a"}]},
            "status": {"phase": "Running",
                "conditions": [{"type": "Initialized", "status": "True"}],
                "initContainerStatuses": [{"name": "proxy", "started": true, "ready": true, "restartCount": 1, "state": {"running": {}}}],
                "containerStatuses": [{"name": "a", "ready": true, "state": {"running": {}}}]}
        });
        let c = cells("", "pods", &pod, now());
        assert_eq!(c[1], json!("2/2"));
        assert_eq!(c[2], json!("Running"));
        assert_eq!(c[3], json!("1"));
    }

    #[test]
    fn completed_pod_row_and_condition() {
        let pod = json!({
            "metadata": meta("job-x", "2024-04-30T12:00:00Z"),
            "spec": {"containers": [{"name": "a"}]},
            "status": {"phase": "Succeeded", "containerStatuses": [
                {"name": "a", "ready": false, "restartCount": 0,
                 "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}
            ]}
        });
        let c = cells("", "pods", &pod, now());
        assert_eq!(
            c[1..5],
            [json!("0/1"), json!("Completed"), json!("0"), json!("24h")]
        );
        let t = table("", "pods", &[pod], json!({}), "None", now());
        assert_eq!(t["rows"][0]["conditions"][0]["type"], "Completed");
        assert_eq!(t["rows"][0]["conditions"][0]["reason"], "Succeeded");
    }

    #[test]
    fn terminating_pod_row() {
        let mut m = meta("p", "2024-05-01T11:00:00Z");
        m["deletionTimestamp"] = json!("2024-05-01T11:59:00Z");
        let pod = json!({
            "metadata": m,
            "spec": {"containers": [{"name": "a"}]},
            "status": {"phase": "Running", "containerStatuses": [
                {"name": "a", "ready": true, "state": {"running": {}}}
            ]}
        });
        assert_eq!(cells("", "pods", &pod, now())[2], json!("Terminating"));

        // Finished pods keep their terminal status while being deleted.
        let mut done = pod.clone();
        done["status"] = json!({"phase": "Failed", "reason": "Evicted"});
        assert_eq!(cells("", "pods", &done, now())[2], json!("Evicted"));

        let mut lost = pod;
        lost["status"]["reason"] = json!("NodeLost");
        assert_eq!(cells("", "pods", &lost, now())[2], json!("Unknown"));
    }

    #[test]
    fn crash_loop_pod_row() {
        let pod = json!({
            "metadata": meta("crashy", "2024-05-01T10:00:00Z"),
            "spec": {"containers": [{"name": "a"}]},
            "status": {"phase": "Running", "containerStatuses": [
                {"name": "a", "ready": false, "restartCount": 5,
                 "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                 "lastState": {"terminated": {"exitCode": 137, "finishedAt": "2024-05-01T11:55:00Z"}}}
            ]}
        });
        let c = cells("", "pods", &pod, now());
        assert_eq!(
            c[1..5],
            [
                json!("0/1"),
                json!("CrashLoopBackOff"),
                json!("5 (5m ago)"),
                json!("120m")
            ]
        );

        let mut signalled = pod.clone();
        signalled["status"]["containerStatuses"][0]["state"] =
            json!({"terminated": {"exitCode": 137, "signal": 9}});
        assert_eq!(cells("", "pods", &signalled, now())[2], json!("Signal:9"));
        signalled["status"]["containerStatuses"][0]["state"] =
            json!({"terminated": {"exitCode": 2}});
        assert_eq!(cells("", "pods", &signalled, now())[2], json!("ExitCode:2"));
    }

    #[test]
    fn readiness_gates_cell() {
        let pod = json!({
            "spec": {"containers": [], "readinessGates": [{"conditionType": "a"}, {"conditionType": "b"}]},
            "status": {"conditions": [{"type": "a", "status": "True"}, {"type": "b", "status": "False"}]}
        });
        assert_eq!(cells("", "pods", &pod, now())[8], json!("1/2"));
    }
}
