//! NodeAffinity: a pod's `nodeSelector` and required node affinity must match the node
//! (filter); its preferred node affinity terms add their weights to the nodes they match
//! (score, normalised so the best node gets 100).

use std::collections::HashSet;

use k8s_openapi::api::core::v1::PreferredSchedulingTerm;

use crate::scheduler::cache::NodeInfo;
use crate::scheduler::framework::{
    default_normalize, state, Cluster, Plugin, PreFilter, PreScore, State, Status,
};
use crate::scheduler::labels::NodeTerm;
use crate::scheduler::pod_info::PodInfo;
use crate::scheduler::queue::ClusterEvent;

pub const NAME: &str = "NodeAffinity";
/// Upstream's `ErrReasonPod`.
pub const REASON: &str = "node(s) didn't match Pod's node affinity/selector";
/// Upstream's `errReasonConflict`: every term names nodes by name, and no name is left.
pub const REASON_CONFLICT: &str = "pod affinity terms conflict";

pub struct NodeAffinity;

/// The pod's preferred terms, compiled.
struct Preferred(Vec<(i64, NodeTerm)>);

fn preferred_terms(pod: &PodInfo) -> &[PreferredSchedulingTerm] {
    pod.pod
        .spec
        .as_ref()
        .and_then(|s| s.affinity.as_ref())
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|n| {
            n.preferred_during_scheduling_ignored_during_execution
                .as_deref()
        })
        .unwrap_or_default()
}

impl Plugin for NodeAffinity {
    fn name(&self) -> &'static str {
        NAME
    }

    fn pre_filter(&self, pod: &PodInfo, _: &Cluster) -> Result<PreFilter, Status> {
        if pod.node_affinity.is_empty() {
            return Ok(PreFilter::Skip);
        }
        // Terms that each name their nodes (`metadata.name In (...)`) limit the nodes to look
        // at; a term that does not lets every node through (terms are ORed).
        let terms = pod.node_affinity.terms();
        if terms.is_empty() {
            return Ok(PreFilter::Run(None));
        }
        let mut names = HashSet::new();
        for term in terms {
            match term.names_in() {
                Some(n) => names.extend(n),
                None => return Ok(PreFilter::Run(None)),
            }
        }
        if names.is_empty() {
            return Err(Status::unresolvable(NAME, REASON_CONFLICT));
        }
        Ok(PreFilter::Nodes(names))
    }

    fn filter(&self, _: Option<&State>, pod: &PodInfo, node: &NodeInfo) -> Result<(), Status> {
        match &node.node {
            Some(n) if pod.node_affinity.matches(n) => Ok(()),
            _ => Err(Status::unresolvable(NAME, REASON)),
        }
    }

    fn pre_score(&self, pod: &PodInfo, _: &[&NodeInfo], _: &Cluster) -> Result<PreScore, Status> {
        let terms: Vec<(i64, NodeTerm)> = preferred_terms(pod)
            .iter()
            .filter(|t| t.weight != 0)
            .map(|t| (i64::from(t.weight), NodeTerm::new(&t.preference)))
            .collect();
        if terms.is_empty() {
            return Ok(PreScore::Skip);
        }
        Ok(PreScore::Run(Some(Box::new(Preferred(terms)))))
    }

    fn score(&self, s: Option<&State>, _: &PodInfo, node: &NodeInfo) -> i64 {
        let (Some(preferred), Some(n)) = (state::<Preferred>(s), node.node.as_ref()) else {
            return 0;
        };
        preferred
            .0
            .iter()
            .filter(|(_, term)| term.matches(n))
            .map(|(weight, _)| *weight)
            .fold(0i64, i64::saturating_add)
    }

    fn normalize(&self, _: Option<&State>, _: &[&NodeInfo], scores: &mut [i64]) {
        default_normalize(scores, false);
    }

    fn cares(&self, event: ClusterEvent) -> bool {
        match event {
            ClusterEvent::NodeAdd => true,
            ClusterEvent::NodeUpdate(change) => change.labels,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::cache::Cache;
    use crate::scheduler::framework::tests::node;
    use crate::scheduler::framework::NoObjects;
    use crate::scheduler::pod_info::tests::pod;

    fn zone(name: &str, zone: &str) -> NodeInfo {
        node(
            name,
            "1",
            "1Gi",
            serde_json::json!({"labels": {"zone": zone}}),
        )
    }

    #[test]
    fn selector_and_required_affinity() {
        let a = zone("a", "a");
        let b = zone("b", "b");
        let selected = pod("p", serde_json::json!({"nodeSelector": {"zone": "a"}}));
        assert!(NodeAffinity.filter(None, &selected, &a).is_ok());
        let err = NodeAffinity
            .filter(None, &selected, &b)
            .expect_err("other zone");
        assert_eq!(err.reasons, [REASON]);
        let required = pod(
            "r",
            serde_json::json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [{"key": "zone", "operator": "NotIn", "values": ["a"]}]}]}}}}),
        );
        assert!(NodeAffinity.filter(None, &required, &a).is_err());
        assert!(NodeAffinity.filter(None, &required, &b).is_ok());
        let cache = Cache::new();
        let cluster = Cluster {
            cache: &cache,
            objects: &NoObjects,
        };
        assert!(matches!(
            NodeAffinity.pre_filter(&pod("free", serde_json::json!({})), &cluster),
            Ok(PreFilter::Skip)
        ));
        let by_name = pod(
            "n",
            serde_json::json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["b"]}]}]}}}}),
        );
        match NodeAffinity.pre_filter(&by_name, &cluster) {
            Ok(PreFilter::Nodes(names)) => assert_eq!(names, HashSet::from(["b".to_string()])),
            _ => panic!("node names expected"),
        }
    }

    #[test]
    fn preferred_terms_add_their_weights() {
        let a = zone("a", "a");
        let b = zone("b", "b");
        let c = zone("c", "c");
        let nodes = [&a, &b, &c];
        let p = pod(
            "p",
            serde_json::json!({"affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 80, "preference": {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}},
                {"weight": 20, "preference": {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a", "b"]}]}},
            ]}}}),
        );
        let cache = Cache::new();
        let cluster = Cluster {
            cache: &cache,
            objects: &NoObjects,
        };
        let Ok(PreScore::Run(s)) = NodeAffinity.pre_score(&p, &nodes, &cluster) else {
            panic!("scored");
        };
        let mut scores: Vec<i64> = nodes
            .iter()
            .map(|n| NodeAffinity.score(s.as_ref(), &p, n))
            .collect();
        assert_eq!(scores, [100, 20, 0]);
        NodeAffinity.normalize(s.as_ref(), &nodes, &mut scores);
        assert_eq!(scores, [100, 20, 0]);
    }
}
