//! NodePorts: a pod's host ports must be free on the node (same protocol and port on the
//! same address, or either on `0.0.0.0`, collide).

use crate::scheduler::cache::NodeInfo;
use crate::scheduler::framework::{Cluster, Plugin, PreFilter, State, Status};
use crate::scheduler::pod_info::PodInfo;
use crate::scheduler::queue::ClusterEvent;

pub const NAME: &str = "NodePorts";
/// Upstream's `ErrReason`.
pub const REASON: &str = "node(s) didn't have free ports for the requested pod ports";

pub struct NodePorts;

impl Plugin for NodePorts {
    fn name(&self) -> &'static str {
        NAME
    }

    fn pre_filter(&self, pod: &PodInfo, _: &Cluster) -> Result<PreFilter, Status> {
        Ok(if pod.host_ports.is_empty() {
            PreFilter::Skip
        } else {
            PreFilter::Run(None)
        })
    }

    fn filter(&self, _: Option<&State>, pod: &PodInfo, node: &NodeInfo) -> Result<(), Status> {
        let taken = pod
            .host_ports
            .iter()
            .any(|want| node.used_ports.iter().any(|used| used.conflicts(want)));
        if taken {
            Err(Status::unschedulable(NAME, REASON))
        } else {
            Ok(())
        }
    }

    fn cares(&self, event: ClusterEvent) -> bool {
        matches!(
            event,
            ClusterEvent::NodeAdd | ClusterEvent::AssignedPodDelete
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::framework::tests::node;
    use crate::scheduler::pod_info::tests::pod;

    fn with_port(name: &str, port: i32, ip: Option<&str>) -> std::sync::Arc<PodInfo> {
        let mut p = serde_json::json!({"containerPort": port, "hostPort": port});
        if let Some(ip) = ip {
            p["hostIP"] = ip.into();
        }
        pod(
            name,
            serde_json::json!({"containers": [{"name": "c", "ports": [p]}]}),
        )
    }

    #[test]
    fn host_ports_must_be_free() {
        let mut n = node("n", "1", "1Gi", serde_json::json!({}));
        n.add_pod(with_port("a", 8080, Some("10.0.0.1")));
        let err = NodePorts
            .filter(None, &with_port("b", 8080, None), &n)
            .expect_err("0.0.0.0 collides with any address");
        assert_eq!(err.reasons, [REASON]);
        assert!(NodePorts
            .filter(None, &with_port("c", 8080, Some("10.0.0.2")), &n)
            .is_ok());
        assert!(NodePorts
            .filter(None, &with_port("d", 9090, None), &n)
            .is_ok());
    }
}
