//! NodeResourcesBalancedAllocation: prefers the node where, with the pod placed, CPU and
//! memory would be used in the most similar proportions (score `(1 − std) × 100` over the
//! requested fractions). Best-effort pods are not scored by it.

use crate::scheduler::cache::NodeInfo;
use crate::scheduler::framework::{Cluster, Plugin, PreScore, State, Status, MAX_NODE_SCORE};
use crate::scheduler::pod_info::PodInfo;

pub const NAME: &str = "NodeResourcesBalancedAllocation";

pub struct NodeResourcesBalancedAllocation;

/// Upstream's `balancedResourceScorer`.
fn balanced(requested_and_allocatable: &[(i64, i64)]) -> i64 {
    let fractions: Vec<f64> = requested_and_allocatable
        .iter()
        .filter(|(_, allocatable)| *allocatable != 0)
        .map(|(requested, allocatable)| (*requested as f64 / *allocatable as f64).min(1.0))
        .collect();
    let std = match fractions.as_slice() {
        [a, b] => ((a - b) / 2.0).abs(),
        f if f.len() > 2 => {
            let mean = f.iter().sum::<f64>() / f.len() as f64;
            (f.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / f.len() as f64).sqrt()
        }
        _ => 0.0,
    };
    ((1.0 - std) * MAX_NODE_SCORE as f64) as i64
}

impl Plugin for NodeResourcesBalancedAllocation {
    fn name(&self) -> &'static str {
        NAME
    }

    fn pre_score(&self, pod: &PodInfo, _: &[&NodeInfo], _: &Cluster) -> Result<PreScore, Status> {
        if pod.requests.milli_cpu == 0 && pod.requests.memory == 0 {
            return Ok(PreScore::Skip);
        }
        Ok(PreScore::Run(None))
    }

    fn score(&self, _: Option<&State>, pod: &PodInfo, node: &NodeInfo) -> i64 {
        balanced(&[
            (
                node.requested
                    .milli_cpu
                    .saturating_add(pod.requests.milli_cpu),
                node.allocatable.milli_cpu,
            ),
            (
                node.requested.memory.saturating_add(pod.requests.memory),
                node.allocatable.memory,
            ),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::framework::tests::node;
    use crate::scheduler::pod_info::tests::pod;

    #[test]
    fn similar_proportions_score_higher() {
        assert_eq!(balanced(&[(5, 10), (5, 10)]), 100);
        // Fractions 0.6 and 0.2: std 0.2.
        assert_eq!(balanced(&[(6, 10), (2, 10)]), 80);
        // Over capacity counts as full.
        assert_eq!(balanced(&[(20, 10), (0, 10)]), 50);
        assert_eq!(balanced(&[(1, 0), (1, 10)]), 100);
        let p = pod(
            "p",
            serde_json::json!({"containers": [{"name": "c", "resources": {"requests": {"cpu": "1", "memory": "1Gi"}}}]}),
        );
        let n = node("n", "4", "4Gi", serde_json::json!({}));
        assert_eq!(NodeResourcesBalancedAllocation.score(None, &p, &n), 100);
        let n = node("m", "2", "8Gi", serde_json::json!({}));
        // 0.5 and 0.125: std 0.1875 -> 81.
        assert_eq!(NodeResourcesBalancedAllocation.score(None, &p, &n), 81);
    }
}
