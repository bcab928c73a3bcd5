//! `node-lifecycle-controller` and `taint-eviction-controller`, as upstream's: a node whose
//! agent stops renewing its Lease for `--node-monitor-grace-period` gets its conditions set
//! to Unknown ("Kubelet stopped posting node status.") and the `unreachable` taints; a node
//! that reports itself not ready gets the `not-ready` ones; a healthy node loses them again.
//! Pods on a node with a `NoExecute` taint they do not tolerate are deleted (at once, or
//! after their `tolerationSeconds`), so their controllers replace them elsewhere.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod, Taint};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::runtime::events::EventType;
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Resource, ResourceExt};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::{not_found, publish};
use crate::Context;

const UNREACHABLE: &str = "node.kubernetes.io/unreachable";
const NOT_READY: &str = "node.kubernetes.io/not-ready";
/// Upstream's `--node-monitor-period`.
const MONITOR_PERIOD: Duration = Duration::from_secs(5);

/// Upstream's `--node-monitor-grace-period` default.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(50);

fn condition_status(node: &Node, type_: &str) -> Option<String> {
    node.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| c.status.clone())
}

/// The last sign of life of a node: its Lease's renewal, else its Ready heartbeat.
fn last_heard(node: &Node, lease: Option<&Lease>) -> Option<jiff::Timestamp> {
    let renewed = lease
        .and_then(|l| l.spec.as_ref())
        .and_then(|s| s.renew_time.as_ref())
        .map(|t| t.0);
    let heartbeat = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
        .and_then(|c| c.last_heartbeat_time.as_ref())
        .map(|t| t.0);
    renewed.max(heartbeat)
}

/// Runs the node lifecycle controller until `shutdown`.
pub async fn run(ctx: Arc<Context>, shutdown: CancellationToken) {
    let nodes = ctx.informers.get::<Node>();
    let leases = ctx.informers.get::<Lease>();
    nodes.ready().await;
    leases.ready().await;
    // Nodes get the grace period from when this controller started watching them.
    let started = jiff::Timestamp::now();
    loop {
        for node in nodes.store().state() {
            let lease = leases
                .store()
                .get(&ObjectRef::new(&node.name_any()).within("kube-node-lease"));
            if let Err(e) = monitor(&ctx, &node, lease.as_deref(), started).await {
                tracing::debug!(controller = "node-lifecycle-controller", node = %node.name_any(), "{e}");
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(MONITOR_PERIOD) => {}
        }
    }
}

/// What the node lifecycle controller makes of one node at `now`.
#[derive(Debug, PartialEq)]
struct Assessment {
    /// When the node was last heard from (not before the controller started).
    heard: jiff::Timestamp,
    /// Unheard for longer than the grace period, and not yet Unknown: its conditions go
    /// Unknown now.
    mark_unknown: bool,
    /// The taints it gets, when they differ from those it has.
    taints: Option<Vec<Taint>>,
}

fn assess(
    node: &Node,
    lease: Option<&Lease>,
    started: jiff::Timestamp,
    now: jiff::Timestamp,
    grace: Duration,
) -> Assessment {
    let heard = last_heard(node, lease).unwrap_or(started).max(started);
    let silent = now.duration_since(heard).as_secs_f64() > grace.as_secs_f64();
    let ready = condition_status(node, "Ready");
    let mark_unknown = silent && ready.as_deref() != Some("Unknown");
    let wanted: Option<&str> = if silent || ready.as_deref() == Some("Unknown") {
        Some(UNREACHABLE)
    } else if ready.as_deref() == Some("False") {
        Some(NOT_READY)
    } else {
        None
    };
    let current: Vec<Taint> = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.clone())
        .unwrap_or_default();
    let mut taints: Vec<Taint> = current
        .iter()
        .filter(|t| (t.key != UNREACHABLE && t.key != NOT_READY) || Some(t.key.as_str()) == wanted)
        .cloned()
        .collect();
    if let Some(key) = wanted {
        for effect in ["NoSchedule", "NoExecute"] {
            if !taints.iter().any(|t| t.key == key && t.effect == effect) {
                taints.push(Taint {
                    key: key.into(),
                    effect: effect.into(),
                    time_added: (effect == "NoExecute").then_some(Time(now)),
                    value: None,
                });
            }
        }
    }
    Assessment {
        heard,
        mark_unknown,
        taints: (taints != current).then_some(taints),
    }
}

/// The conditions of a node unheard since `heard`, as set at `now`.
fn unknown_conditions(heard: jiff::Timestamp, now: jiff::Timestamp) -> Vec<serde_json::Value> {
    let stamp = Time(now);
    ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"]
        .iter()
        .map(|t| json!({
            "type": t, "status": "Unknown", "reason": "NodeStatusUnknown",
            "message": "Kubelet stopped posting node status.",
            "lastTransitionTime": stamp, "lastHeartbeatTime": heard.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        }))
        .collect()
}

async fn monitor(
    ctx: &Context,
    node: &Node,
    lease: Option<&Lease>,
    started: jiff::Timestamp,
) -> Result<(), kube::Error> {
    let now = jiff::Timestamp::now();
    let grace = ctx.node_monitor_grace_period.unwrap_or(DEFAULT_GRACE);
    let assessment = assess(node, lease, started, now, grace);
    let api: Api<Node> = Api::all(ctx.client.clone());
    let name = node.name_any();
    if assessment.mark_unknown {
        let conditions = unknown_conditions(assessment.heard, now);
        api.patch_status(
            &name,
            &PatchParams::default(),
            &Patch::Strategic(json!({"status": {"conditions": conditions}})),
        )
        .await?;
        let recorder = ctx.recorder("node-controller");
        publish(
            &recorder,
            &node.object_ref(&()),
            EventType::Normal,
            "NodeNotReady",
            format!("Node {name} status is now: NodeNotReady"),
        )
        .await;
    }
    if let Some(taints) = assessment.taints {
        api.patch(
            &name,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"taints": taints}})),
        )
        .await?;
    }
    Ok(())
}

/// How long a pod tolerates a taint: `None` when it does not, `Some(None)` forever.
fn tolerated_for(pod: &Pod, taint: &Taint) -> Option<Option<i64>> {
    pod.spec
        .as_ref()?
        .tolerations
        .iter()
        .flatten()
        .filter(|t| {
            let key = t.key.as_deref().is_none_or(|k| k.is_empty())
                || t.key.as_deref() == Some(taint.key.as_str());
            let effect = t
                .effect
                .as_deref()
                .is_none_or(|e| e.is_empty() || e == taint.effect);
            let value = t.operator.as_deref() == Some("Exists")
                || t.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or("");
            key && effect && value
        })
        .map(|t| t.toleration_seconds)
        .fold(None, |best: Option<Option<i64>>, seconds| {
            match (best, seconds) {
                (Some(None), _) | (_, None) => Some(None),
                (Some(Some(a)), Some(b)) => Some(Some(a.max(b))),
                (None, Some(b)) => Some(Some(b)),
            }
        })
}

/// Whether `pod` is to go at `now` for these `NoExecute` taints of its node: one it does
/// not tolerate, or tolerates for a time that has passed since the taint was added.
fn due(pod: &Pod, taints: &[Taint], now: jiff::Timestamp) -> bool {
    taints.iter().any(|taint| match tolerated_for(pod, taint) {
        None => true,
        Some(None) => false,
        Some(Some(seconds)) => {
            let added = taint.time_added.as_ref().map_or(now, |t| t.0);
            now.duration_since(added).as_secs_f64() >= seconds as f64
        }
    })
}

/// The pods to evict at `now`: those not being deleted already that are due on a node with
/// `NoExecute` taints.
fn evictions(nodes: &[Arc<Node>], pods: &[Arc<Pod>], now: jiff::Timestamp) -> Vec<Arc<Pod>> {
    let tainted: HashMap<String, Vec<Taint>> = nodes
        .iter()
        .filter_map(|n| {
            let taints: Vec<Taint> = n
                .spec
                .as_ref()?
                .taints
                .iter()
                .flatten()
                .filter(|t| t.effect == "NoExecute")
                .cloned()
                .collect();
            (!taints.is_empty()).then(|| (n.name_any(), taints))
        })
        .collect();
    pods.iter()
        .filter(|pod| {
            let Some(taints) = pod
                .spec
                .as_ref()
                .and_then(|s| s.node_name.as_ref())
                .and_then(|n| tainted.get(n))
            else {
                return false;
            };
            pod.metadata.deletion_timestamp.is_none() && due(pod, taints, now)
        })
        .cloned()
        .collect()
}

/// Runs the taint eviction controller until `shutdown`.
pub async fn evict(ctx: Arc<Context>, shutdown: CancellationToken) {
    let nodes = ctx.informers.get::<Node>();
    let pods = ctx.informers.get::<Pod>();
    nodes.ready().await;
    pods.ready().await;
    loop {
        let now = jiff::Timestamp::now();
        for pod in evictions(&nodes.store().state(), &pods.store().state(), now) {
            let namespace = pod.namespace().unwrap_or_default();
            let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &namespace);
            let recorder = ctx.recorder("taint-eviction-controller");
            publish(
                &recorder,
                &pod.object_ref(&()),
                EventType::Normal,
                "TaintManagerEviction",
                format!("Marking for deletion Pod {namespace}/{}", pod.name_any()),
            )
            .await;
            match api.delete(&pod.name_any(), &DeleteParams::default()).await {
                Ok(_) => {}
                Err(e) if not_found(&e) => {}
                Err(e) => tracing::debug!(controller = "taint-eviction-controller", "{e}"),
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test clock: `seconds` after a fixed instant.
    fn at(seconds: i64) -> jiff::Timestamp {
        jiff::Timestamp::from_second(1_700_000_000 + seconds).unwrap()
    }

    const GRACE: Duration = Duration::from_secs(50);

    /// Node `n1` reporting `ready` with its last heartbeat at `at(0)`.
    fn node(ready: &str, taints: serde_json::Value) -> Node {
        serde_json::from_value(json!({
            "metadata": {"name": "n1"},
            "spec": {"taints": taints},
            "status": {"conditions": [
                {"type": "Ready", "status": ready, "lastHeartbeatTime": at(0).to_string()}
            ]},
        }))
        .unwrap()
    }

    fn lease(renewed: jiff::Timestamp) -> Lease {
        serde_json::from_value(json!({
            "metadata": {"name": "n1", "namespace": "kube-node-lease"},
            "spec": {"holderIdentity": "n1", "renewTime": renewed.to_string()},
        }))
        .unwrap()
    }

    fn taints(value: serde_json::Value) -> Vec<Taint> {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn node_renewing_its_lease_stays_as_it_is_though_its_heartbeat_is_stale() {
        let assessment = assess(
            &node("True", json!([])),
            Some(&lease(at(100))),
            at(0),
            at(140),
            GRACE,
        );
        assert_eq!(
            assessment,
            Assessment {
                heard: at(100),
                mark_unknown: false,
                taints: None,
            }
        );
    }

    #[test]
    fn node_unheard_for_exactly_the_grace_period_is_not_yet_unknown() {
        let assessment = assess(
            &node("True", json!([])),
            Some(&lease(at(100))),
            at(0),
            at(150),
            GRACE,
        );
        assert!(!assessment.mark_unknown);
        assert_eq!(assessment.taints, None);
    }

    #[test]
    fn node_whose_lease_is_older_than_the_grace_period_goes_unknown_and_unreachable() {
        let assessment = assess(
            &node("True", json!([])),
            Some(&lease(at(100))),
            at(0),
            at(151),
            GRACE,
        );
        assert_eq!(
            assessment,
            Assessment {
                heard: at(100),
                mark_unknown: true,
                taints: Some(taints(json!([
                    {"key": UNREACHABLE, "effect": "NoSchedule"},
                    {"key": UNREACHABLE, "effect": "NoExecute", "timeAdded": at(151).to_string()},
                ]))),
            }
        );
    }

    #[test]
    fn unknown_conditions_say_the_kubelet_stopped_posting_since_the_lease_renewal() {
        let conditions = unknown_conditions(at(100), at(151));
        let types: Vec<&str> = conditions
            .iter()
            .filter_map(|c| c["type"].as_str())
            .collect();
        assert_eq!(
            types,
            ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"]
        );
        let ready = &conditions[0];
        assert_eq!(ready["status"], "Unknown");
        assert_eq!(ready["reason"], "NodeStatusUnknown");
        assert_eq!(ready["message"], "Kubelet stopped posting node status.");
        assert_eq!(ready["lastHeartbeatTime"], at(100).to_string());
        assert_eq!(ready["lastTransitionTime"], at(151).to_string());
    }

    #[test]
    fn node_never_heard_from_gets_the_grace_period_from_the_controller_start() {
        let silent: Node = serde_json::from_value(json!({"metadata": {"name": "n1"}})).unwrap();
        let within = assess(&silent, None, at(1000), at(1050), GRACE);
        assert!(!within.mark_unknown);
        let after = assess(&silent, None, at(1000), at(1051), GRACE);
        assert!(after.mark_unknown);
        assert_eq!(after.heard, at(1000));
    }

    #[test]
    fn node_already_unknown_and_tainted_is_left_as_it_is() {
        let unknown = node(
            "Unknown",
            json!([
                {"key": UNREACHABLE, "effect": "NoSchedule"},
                {"key": UNREACHABLE, "effect": "NoExecute", "timeAdded": at(60).to_string()},
            ]),
        );
        let assessment = assess(&unknown, Some(&lease(at(0))), at(0), at(500), GRACE);
        assert!(!assessment.mark_unknown);
        assert_eq!(assessment.taints, None);
    }

    #[test]
    fn node_reporting_not_ready_gets_the_not_ready_taints() {
        let assessment = assess(
            &node("False", json!([])),
            Some(&lease(at(100))),
            at(0),
            at(110),
            GRACE,
        );
        assert!(!assessment.mark_unknown);
        assert_eq!(
            assessment.taints,
            Some(taints(json!([
                {"key": NOT_READY, "effect": "NoSchedule"},
                {"key": NOT_READY, "effect": "NoExecute", "timeAdded": at(110).to_string()},
            ])))
        );
    }

    #[test]
    fn silent_node_trades_its_not_ready_taints_for_unreachable_ones() {
        let not_ready = node(
            "False",
            json!([
                {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"},
                {"key": NOT_READY, "effect": "NoSchedule"},
                {"key": NOT_READY, "effect": "NoExecute", "timeAdded": at(10).to_string()},
            ]),
        );
        let assessment = assess(&not_ready, Some(&lease(at(100))), at(0), at(200), GRACE);
        assert!(assessment.mark_unknown);
        assert_eq!(
            assessment.taints,
            Some(taints(json!([
                {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"},
                {"key": UNREACHABLE, "effect": "NoSchedule"},
                {"key": UNREACHABLE, "effect": "NoExecute", "timeAdded": at(200).to_string()},
            ])))
        );
    }

    #[test]
    fn node_ready_again_loses_its_unreachable_taints_and_keeps_the_others() {
        let recovered = node(
            "True",
            json!([
                {"key": UNREACHABLE, "effect": "NoSchedule"},
                {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"},
                {"key": UNREACHABLE, "effect": "NoExecute", "timeAdded": at(10).to_string()},
            ]),
        );
        let assessment = assess(&recovered, Some(&lease(at(300))), at(0), at(305), GRACE);
        assert!(!assessment.mark_unknown);
        assert_eq!(
            assessment.taints,
            Some(taints(
                json!([{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}])
            ))
        );
    }

    fn tainted(name: &str, taints: serde_json::Value) -> Arc<Node> {
        Arc::new(
            serde_json::from_value(json!({"metadata": {"name": name}, "spec": {"taints": taints}}))
                .unwrap(),
        )
    }

    /// Node `n1` unreachable since `at(100)`.
    fn unreachable_node() -> Arc<Node> {
        tainted(
            "n1",
            json!([
                {"key": UNREACHABLE, "effect": "NoSchedule"},
                {"key": UNREACHABLE, "effect": "NoExecute", "timeAdded": at(100).to_string()},
            ]),
        )
    }

    fn pod(name: &str, node: &str, tolerations: serde_json::Value) -> Arc<Pod> {
        Arc::new(
            serde_json::from_value(json!({
                "metadata": {"name": name, "namespace": "default"},
                "spec": {"nodeName": node, "containers": [], "tolerations": tolerations},
            }))
            .unwrap(),
        )
    }

    fn evicted(nodes: &[Arc<Node>], pods: &[Arc<Pod>], now: jiff::Timestamp) -> Vec<String> {
        evictions(nodes, pods, now)
            .iter()
            .map(|p| p.name_any())
            .collect()
    }

    /// Tolerates the unreachable taint for `seconds`.
    fn tolerates_unreachable(seconds: i64) -> serde_json::Value {
        json!([{"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute",
                "tolerationSeconds": seconds}])
    }

    #[test]
    fn pod_not_tolerating_a_noexecute_taint_is_evicted_at_once() {
        let nodes = [unreachable_node(), tainted("n2", json!([]))];
        let pods = [pod("on-n1", "n1", json!([])), pod("on-n2", "n2", json!([]))];
        assert_eq!(evicted(&nodes, &pods, at(100)), ["on-n1"]);
    }

    #[test]
    fn pod_is_kept_within_its_toleration_seconds() {
        let pods = [pod("web", "n1", tolerates_unreachable(300))];
        assert!(evicted(&[unreachable_node()], &pods, at(399)).is_empty());
    }

    #[test]
    fn pod_is_evicted_once_its_toleration_seconds_have_passed() {
        let pods = [pod("web", "n1", tolerates_unreachable(300))];
        assert_eq!(evicted(&[unreachable_node()], &pods, at(400)), ["web"]);
    }

    #[test]
    fn longest_matching_toleration_decides_when_a_pod_goes() {
        let tolerations = json!([
            {"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 60},
            {"operator": "Exists", "tolerationSeconds": 600},
        ]);
        let pods = [pod("web", "n1", tolerations)];
        assert!(evicted(&[unreachable_node()], &pods, at(699)).is_empty());
        assert_eq!(evicted(&[unreachable_node()], &pods, at(700)), ["web"]);
    }

    #[test]
    fn pod_tolerating_the_taint_without_a_limit_stays() {
        let tolerations =
            json!([{"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute"}]);
        let pods = [pod("web", "n1", tolerations)];
        assert!(evicted(&[unreachable_node()], &pods, at(100_000)).is_empty());
    }

    #[test]
    fn toleration_of_another_value_does_not_keep_the_pod() {
        let node = tainted(
            "n1",
            json!([{"key": "dedicated", "value": "gpu", "effect": "NoExecute"}]),
        );
        let tolerations = json!([{"key": "dedicated", "operator": "Equal", "value": "cpu"}]);
        let pods = [pod("web", "n1", tolerations)];
        assert_eq!(evicted(&[node], &pods, at(0)), ["web"]);
    }

    #[test]
    fn noschedule_taints_evict_nobody() {
        let node = tainted("n1", json!([{"key": NOT_READY, "effect": "NoSchedule"}]));
        let pods = [pod("web", "n1", json!([]))];
        assert!(evicted(&[node], &pods, at(0)).is_empty());
    }

    #[test]
    fn pod_already_being_deleted_is_not_evicted_again() {
        let deleting: Pod = serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "default",
                         "deletionTimestamp": at(100).to_string()},
            "spec": {"nodeName": "n1", "containers": []},
        }))
        .unwrap();
        assert!(evicted(&[unreachable_node()], &[Arc::new(deleting)], at(200)).is_empty());
    }
}
