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

async fn monitor(
    ctx: &Context,
    node: &Node,
    lease: Option<&Lease>,
    started: jiff::Timestamp,
) -> Result<(), kube::Error> {
    let now = jiff::Timestamp::now();
    let grace = ctx.node_monitor_grace_period.unwrap_or(DEFAULT_GRACE);
    let heard = last_heard(node, lease).unwrap_or(started).max(started);
    let silent = now.duration_since(heard).as_secs_f64() > grace.as_secs_f64();
    let api: Api<Node> = Api::all(ctx.client.clone());
    let name = node.name_any();
    if silent && condition_status(node, "Ready").as_deref() != Some("Unknown") {
        let stamp = Time(now);
        let conditions: Vec<serde_json::Value> = ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"]
            .iter()
            .map(|t| json!({
                "type": t, "status": "Unknown", "reason": "NodeStatusUnknown",
                "message": "Kubelet stopped posting node status.",
                "lastTransitionTime": stamp, "lastHeartbeatTime": heard.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
            }))
            .collect();
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
    let ready = condition_status(node, "Ready");
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
    if taints != current {
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

/// Runs the taint eviction controller until `shutdown`.
pub async fn evict(ctx: Arc<Context>, shutdown: CancellationToken) {
    let nodes = ctx.informers.get::<Node>();
    let pods = ctx.informers.get::<Pod>();
    nodes.ready().await;
    pods.ready().await;
    loop {
        let now = jiff::Timestamp::now();
        let tainted: HashMap<String, Vec<Taint>> = nodes
            .store()
            .state()
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
        for pod in pods.store().state() {
            let Some(taints) = pod
                .spec
                .as_ref()
                .and_then(|s| s.node_name.as_ref())
                .and_then(|n| tainted.get(n))
            else {
                continue;
            };
            if pod.metadata.deletion_timestamp.is_some() {
                continue;
            }
            let due = taints.iter().any(|taint| match tolerated_for(&pod, taint) {
                None => true,
                Some(None) => false,
                Some(Some(seconds)) => {
                    let added = taint.time_added.as_ref().map_or(now, |t| t.0);
                    now.duration_since(added).as_secs_f64() >= seconds as f64
                }
            });
            if !due {
                continue;
            }
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
