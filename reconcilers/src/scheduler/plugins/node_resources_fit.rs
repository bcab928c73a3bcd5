//! NodeResourcesFit: the pod's requests must fit in the node's allocatable minus what the
//! pods already there (bound or assumed) request, and the node must have room for one more
//! pod (filter). Score: LeastAllocated, upstream's default strategy: the more CPU and
//! memory left after placing the pod (counting requests missing from containers as the
//! defaults), the better, CPU and memory weighted equally.

use crate::scheduler::cache::NodeInfo;
use crate::scheduler::framework::{Code, Plugin, State, Status, MAX_NODE_SCORE};
use crate::scheduler::pod_info::PodInfo;
use crate::scheduler::queue::ClusterEvent;

pub const NAME: &str = "NodeResourcesFit";

pub struct NodeResourcesFit;

/// One resource the node lacks: the reason, and whether the pod would not fit even on the
/// empty node (then preemption cannot help).
struct Insufficient {
    reason: String,
    unresolvable: bool,
}

/// What the pod lacks on the node (upstream's `fitsRequest`), in upstream's order.
fn insufficient(pod: &PodInfo, node: &NodeInfo) -> Vec<Insufficient> {
    let mut out = Vec::new();
    let (want, have, used) = (&pod.requests, &node.allocatable, &node.requested);
    if node.pods.len().saturating_add(1) as i64 > have.pods {
        out.push(Insufficient {
            reason: "Too many pods".into(),
            unresolvable: false,
        });
    }
    if want.is_zero() {
        return out;
    }
    let mut check = |name: &str, want: i64, have: i64, used: i64| {
        if want > 0 && want > have.saturating_sub(used) {
            out.push(Insufficient {
                reason: format!("Insufficient {name}"),
                unresolvable: want > have,
            });
        }
    };
    check("cpu", want.milli_cpu, have.milli_cpu, used.milli_cpu);
    check("memory", want.memory, have.memory, used.memory);
    check(
        "ephemeral-storage",
        want.ephemeral_storage,
        have.ephemeral_storage,
        used.ephemeral_storage,
    );
    for (name, amount) in &want.scalar {
        check(name, *amount, have.scalar(name), used.scalar(name));
    }
    out
}

/// Upstream's `leastRequestedScore`: the share of the resource left, 0..=100.
fn least_requested(requested: i64, capacity: i64) -> i64 {
    if capacity <= 0 || requested > capacity {
        return 0;
    }
    capacity
        .saturating_sub(requested)
        .saturating_mul(MAX_NODE_SCORE)
        / capacity
}

impl Plugin for NodeResourcesFit {
    fn name(&self) -> &'static str {
        NAME
    }

    fn filter(&self, _: Option<&State>, pod: &PodInfo, node: &NodeInfo) -> Result<(), Status> {
        let lacking = insufficient(pod, node);
        if lacking.is_empty() {
            return Ok(());
        }
        let code = if lacking.iter().any(|i| i.unresolvable) {
            Code::UnschedulableAndUnresolvable
        } else {
            Code::Unschedulable
        };
        Err(Status {
            code,
            reasons: lacking.into_iter().map(|i| i.reason).collect(),
            plugin: NAME,
        })
    }

    fn score(&self, _: Option<&State>, pod: &PodInfo, node: &NodeInfo) -> i64 {
        let mut total = 0;
        let mut weights = 0;
        for (requested, allocatable) in [
            (
                node.non_zero_cpu.saturating_add(pod.non_zero_cpu),
                node.allocatable.milli_cpu,
            ),
            (
                node.non_zero_memory.saturating_add(pod.non_zero_memory),
                node.allocatable.memory,
            ),
        ] {
            if allocatable == 0 {
                continue;
            }
            total += least_requested(requested, allocatable);
            weights += 1;
        }
        if weights == 0 {
            0
        } else {
            total / weights
        }
    }

    fn cares(&self, event: ClusterEvent) -> bool {
        match event {
            ClusterEvent::NodeAdd | ClusterEvent::AssignedPodDelete => true,
            ClusterEvent::NodeUpdate(change) => change.allocatable,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::framework::tests::node;
    use crate::scheduler::pod_info::tests::pod;

    fn requesting(name: &str, cpu: &str, memory: &str) -> std::sync::Arc<PodInfo> {
        pod(
            name,
            serde_json::json!({"containers": [{"name": "c", "resources": {"requests": {"cpu": cpu, "memory": memory}}}]}),
        )
    }

    #[test]
    fn requests_must_fit_in_what_is_left() {
        let mut n = node("n", "2", "4Gi", serde_json::json!({}));
        n.add_pod(requesting("a", "1500m", "3Gi"));
        assert!(NodeResourcesFit
            .filter(None, &requesting("b", "500m", "1Gi"), &n)
            .is_ok());
        let err = NodeResourcesFit
            .filter(None, &requesting("c", "600m", "2Gi"), &n)
            .expect_err("too big");
        assert_eq!(err.reasons, ["Insufficient cpu", "Insufficient memory"]);
        assert_eq!(err.code, Code::Unschedulable, "preemption could free room");
        let err = NodeResourcesFit
            .filter(None, &requesting("d", "3", "1Mi"), &n)
            .expect_err("bigger than the node");
        assert_eq!(err.reasons, ["Insufficient cpu"]);
        assert_eq!(err.code, Code::UnschedulableAndUnresolvable);
        let gpu = pod(
            "g",
            serde_json::json!({"containers": [{"name": "c", "resources": {"requests": {"example.com/gpu": "1"}}}]}),
        );
        let err = NodeResourcesFit.filter(None, &gpu, &n).expect_err("no gpu");
        assert_eq!(err.reasons, ["Insufficient example.com/gpu"]);
    }

    #[test]
    fn too_many_pods() {
        let mut n = node("n", "2", "4Gi", serde_json::json!({}));
        n.allocatable.pods = 1;
        let best_effort = pod("b", serde_json::json!({}));
        assert!(NodeResourcesFit.filter(None, &best_effort, &n).is_ok());
        n.add_pod(pod("a", serde_json::json!({})));
        let err = NodeResourcesFit
            .filter(None, &best_effort, &n)
            .expect_err("full");
        assert_eq!(err.reasons, ["Too many pods"]);
    }

    #[test]
    fn least_allocated_scores() {
        // Upstream's example: 10 CPU / 20 GB nodes; 3 CPU / 5 GB in use plus the pod's 1 / 2.
        let mut n = node("n", "10", "20G", serde_json::json!({}));
        n.add_pod(requesting("a", "3", "5G"));
        let p = requesting("p", "1", "2G");
        // cpu (10-4)/10 = 60, memory (20-7)/20 = 65: (60 + 65) / 2 = 62.
        assert_eq!(NodeResourcesFit.score(None, &p, &n), 62);
        // A pod without requests counts as 100m and 200Mi.
        let empty = node("e", "1", "1Gi", serde_json::json!({}));
        let best_effort = pod("b", serde_json::json!({}));
        // cpu (1000-100)/1000 = 90, memory (1024-200)/1024 = 80.
        assert_eq!(NodeResourcesFit.score(None, &best_effort, &empty), 85);
        assert_eq!(least_requested(5, 4), 0);
        assert_eq!(least_requested(0, 0), 0);
    }
}
