//! NodeUnschedulable: a cordoned node (`spec.unschedulable`) takes only pods that tolerate
//! the `node.kubernetes.io/unschedulable:NoSchedule` taint.

use k8s_openapi::api::core::v1::Taint;

use super::taint_toleration::tolerated;
use crate::scheduler::cache::NodeInfo;
use crate::scheduler::framework::{Plugin, State, Status};
use crate::scheduler::pod_info::PodInfo;
use crate::scheduler::queue::ClusterEvent;

pub const NAME: &str = "NodeUnschedulable";
/// Upstream's `ErrReasonUnschedulable`.
pub const REASON: &str = "node(s) were unschedulable";

pub struct NodeUnschedulable;

impl Plugin for NodeUnschedulable {
    fn name(&self) -> &'static str {
        NAME
    }

    fn filter(&self, _: Option<&State>, pod: &PodInfo, node: &NodeInfo) -> Result<(), Status> {
        if !node.unschedulable() {
            return Ok(());
        }
        let taint = Taint {
            key: "node.kubernetes.io/unschedulable".into(),
            effect: "NoSchedule".into(),
            ..Taint::default()
        };
        if tolerated(pod, &taint) {
            return Ok(());
        }
        Err(Status::unresolvable(NAME, REASON))
    }

    fn cares(&self, event: ClusterEvent) -> bool {
        match event {
            ClusterEvent::NodeAdd => true,
            ClusterEvent::NodeUpdate(change) => change.taints,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::framework::tests::node;
    use crate::scheduler::pod_info::tests::pod;

    #[test]
    fn cordoned_nodes_take_only_pods_that_tolerate_it() {
        let cordoned = node(
            "n",
            "1",
            "1Gi",
            serde_json::json!({"spec": {"unschedulable": true}}),
        );
        let plain = pod("p", serde_json::json!({}));
        let err = NodeUnschedulable
            .filter(None, &plain, &cordoned)
            .expect_err("cordoned");
        assert_eq!(err.reasons, [REASON]);
        let tolerant = pod(
            "t",
            serde_json::json!({"tolerations": [{"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"}]}),
        );
        assert!(NodeUnschedulable.filter(None, &tolerant, &cordoned).is_ok());
        let open = node("n", "1", "1Gi", serde_json::json!({}));
        assert!(NodeUnschedulable.filter(None, &plain, &open).is_ok());
    }
}
