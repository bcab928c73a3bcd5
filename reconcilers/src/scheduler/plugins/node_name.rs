//! NodeName: a pod that names its node (`spec.nodeName`) fits only there. The scheduler
//! takes only pods without one, so this matters for what-if checks such as preemption.

use crate::scheduler::cache::NodeInfo;
use crate::scheduler::framework::{Cluster, Plugin, PreFilter, State, Status};
use crate::scheduler::pod_info::PodInfo;
use crate::scheduler::queue::ClusterEvent;

pub const NAME: &str = "NodeName";
/// Upstream's `ErrReason`.
pub const REASON: &str = "node(s) didn't match the requested node name";

pub struct NodeName;

impl Plugin for NodeName {
    fn name(&self) -> &'static str {
        NAME
    }

    fn pre_filter(&self, pod: &PodInfo, _: &Cluster) -> Result<PreFilter, Status> {
        Ok(if pod.node_name().is_empty() {
            PreFilter::Skip
        } else {
            PreFilter::Run(None)
        })
    }

    fn filter(&self, _: Option<&State>, pod: &PodInfo, node: &NodeInfo) -> Result<(), Status> {
        let wanted = pod.node_name();
        if wanted.is_empty() || wanted == node.name {
            Ok(())
        } else {
            Err(Status::unresolvable(NAME, REASON))
        }
    }

    fn cares(&self, event: ClusterEvent) -> bool {
        matches!(event, ClusterEvent::NodeAdd)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::framework::tests::node;
    use crate::scheduler::pod_info::tests::pod;

    #[test]
    fn only_the_named_node_fits() {
        let named = pod("p", serde_json::json!({"nodeName": "a"}));
        assert!(NodeName
            .filter(None, &named, &node("a", "1", "1Gi", serde_json::json!({})))
            .is_ok());
        let err = NodeName
            .filter(None, &named, &node("b", "1", "1Gi", serde_json::json!({})))
            .expect_err("other node");
        assert_eq!(err.reasons, [REASON]);
        let free = pod("q", serde_json::json!({}));
        assert!(NodeName
            .filter(None, &free, &node("b", "1", "1Gi", serde_json::json!({})))
            .is_ok());
    }
}
