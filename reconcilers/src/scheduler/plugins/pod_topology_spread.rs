//! PodTopologySpread: spreads matching pods over topology domains (zones, nodes).
//!
//! - Filter, for `whenUnsatisfiable: DoNotSchedule` constraints: placing the pod in a
//!   domain must keep `matching pods there + 1 − fewest in any domain <= maxSkew` (the
//!   fewest counts as 0 while there are fewer domains than `minDomains`). A node without
//!   the topology label cannot take the pod.
//! - Score, for `ScheduleAnyway` constraints, or, for a pod without constraints that belongs
//!   to a Service, ReplicationController, ReplicaSet or StatefulSet, upstream's system
//!   defaults (max skew 3 over nodes, 5 over zones): fewer matching pods in the node's
//!   domains is better.
//!
//! Domains count only nodes the pod could go to under the constraint's node inclusion
//! policies (node affinity honoured, taints ignored by default); terminating pods and pods
//! in other namespaces do not count.

use std::collections::HashMap;

use k8s_openapi::api::core::v1::TopologySpreadConstraint;

use super::taint_toleration::untolerated_taint;
use crate::scheduler::cache::NodeInfo;
use crate::scheduler::framework::{
    state, Cluster, Objects, Plugin, PreFilter, PreScore, State, Status, MAX_NODE_SCORE,
};
use crate::scheduler::labels::{Requirement, Selector};
use crate::scheduler::pod_info::PodInfo;
use crate::scheduler::queue::ClusterEvent;

pub const NAME: &str = "PodTopologySpread";
/// Upstream's `ErrReasonConstraintsNotMatch`.
pub const REASON: &str = "node(s) didn't match pod topology spread constraints";
/// Upstream's `ErrReasonNodeLabelNotMatch`.
pub const REASON_MISSING_LABEL: &str =
    "node(s) didn't match pod topology spread constraints (missing required label)";

const HOSTNAME: &str = "kubernetes.io/hostname";
const ZONE: &str = "topology.kubernetes.io/zone";

pub struct PodTopologySpread;

/// One constraint, compiled.
struct Constraint {
    max_skew: i64,
    topology_key: String,
    selector: Selector,
    min_domains: i64,
    /// Count only nodes matching the pod's node affinity (`nodeAffinityPolicy: Honor`).
    honor_affinity: bool,
    /// Count only nodes whose taints the pod tolerates (`nodeTaintsPolicy: Honor`).
    honor_taints: bool,
}

impl Constraint {
    fn new(c: &TopologySpreadConstraint, pod: &PodInfo) -> Result<Constraint, Status> {
        let mut selector = Selector::from_label_selector(c.label_selector.as_ref())
            .map_err(|e| Status::error(NAME, e))?;
        // `matchLabelKeys`: the pod's own values of those labels narrow the selector.
        let extra: Vec<Requirement> = c
            .match_label_keys
            .iter()
            .flatten()
            .filter_map(|k| {
                pod.labels()
                    .and_then(|l| l.get(k))
                    .map(|v| Requirement::equals(k, v))
            })
            .collect();
        if !extra.is_empty() {
            selector = selector.and(extra);
        }
        Ok(Constraint {
            max_skew: i64::from(c.max_skew),
            topology_key: c.topology_key.clone(),
            selector,
            min_domains: i64::from(c.min_domains.unwrap_or(1)),
            honor_affinity: c.node_affinity_policy.as_deref() != Some("Ignore"),
            honor_taints: c.node_taints_policy.as_deref() == Some("Honor"),
        })
    }

    /// Whether the node's pods count for this constraint (node inclusion policies).
    fn includes(&self, pod: &PodInfo, node: &NodeInfo) -> bool {
        let Some(n) = node.node.as_ref() else {
            return false;
        };
        (!self.honor_affinity || pod.node_affinity.matches(n))
            && (!self.honor_taints || untolerated_taint(pod, node).is_none())
    }
}

/// Upstream's `helper.DefaultSelector`: the selectors of the Services selecting the pod,
/// and of the ReplicationController, ReplicaSet or StatefulSet controlling it.
fn default_selector(pod: &PodInfo, objects: &dyn Objects) -> Selector {
    let mut labels = std::collections::BTreeMap::new();
    for service in objects.services(&pod.namespace) {
        // A Service without a selector selects nothing (not everything).
        let Some(selector) = service.spec.as_ref().and_then(|s| s.selector.as_ref()) else {
            continue;
        };
        if Selector::from_map(selector).matches(pod.labels()) {
            labels.extend(selector.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
    }
    let mut selector = Selector::from_map(&labels);
    let owner = pod
        .pod
        .metadata
        .owner_references
        .iter()
        .flatten()
        .find(|o| o.controller == Some(true));
    let Some(owner) = owner else {
        return selector;
    };
    let group = owner
        .api_version
        .split_once('/')
        .map_or("", |(group, _)| group);
    match (group, owner.kind.as_str()) {
        ("", "ReplicationController") => {
            let rc = objects.replication_controller(&pod.namespace, &owner.name);
            if let Some(s) = rc
                .as_ref()
                .and_then(|rc| rc.spec.as_ref())
                .and_then(|s| s.selector.as_ref())
            {
                labels.extend(s.iter().map(|(k, v)| (k.clone(), v.clone())));
                selector = Selector::from_map(&labels);
            }
        }
        ("apps", "ReplicaSet") => {
            let rs = objects.replica_set(&pod.namespace, &owner.name);
            if let Some(rs) = rs.as_ref().and_then(|rs| rs.spec.as_ref()) {
                if let Ok(s) = Selector::from_label_selector(Some(&rs.selector)) {
                    selector = selector.and(s.requirements().iter().cloned());
                }
            }
        }
        ("apps", "StatefulSet") => {
            let ss = objects.stateful_set(&pod.namespace, &owner.name);
            if let Some(ss) = ss.as_ref().and_then(|ss| ss.spec.as_ref()) {
                if let Ok(s) = Selector::from_label_selector(Some(&ss.selector)) {
                    selector = selector.and(s.requirements().iter().cloned());
                }
            }
        }
        _ => {}
    }
    selector
}

/// The pod's constraints with `whenUnsatisfiable == action`; for a pod without any, the
/// system defaults (which are all `ScheduleAnyway`) over its default selector.
fn constraints(
    pod: &PodInfo,
    action: &str,
    objects: &dyn Objects,
) -> Result<Vec<Constraint>, Status> {
    let own = pod
        .pod
        .spec
        .as_ref()
        .and_then(|s| s.topology_spread_constraints.as_deref())
        .unwrap_or_default();
    if !own.is_empty() {
        return own
            .iter()
            .filter(|c| c.when_unsatisfiable == action)
            .map(|c| Constraint::new(c, pod))
            .collect();
    }
    if action != "ScheduleAnyway" {
        return Ok(Vec::new());
    }
    let selector = default_selector(pod, objects);
    if selector.is_empty() {
        return Ok(Vec::new());
    }
    Ok([(HOSTNAME, 3), (ZONE, 5)]
        .into_iter()
        .map(|(key, skew)| Constraint {
            max_skew: skew,
            topology_key: key.into(),
            selector: selector.clone(),
            min_domains: 1,
            honor_affinity: true,
            honor_taints: false,
        })
        .collect())
}

/// Matching pods on a node: same namespace, not terminating (upstream's
/// `countPodsMatchSelector`; an empty selector counts none).
fn count_matching(node: &NodeInfo, selector: &Selector, namespace: &str) -> i64 {
    if selector.is_empty() {
        return 0;
    }
    node.pods
        .iter()
        .filter(|p| !p.terminating && p.namespace == namespace && selector.matches(p.labels()))
        .count() as i64
}

fn has_all_keys(node: &NodeInfo, constraints: &[Constraint]) -> bool {
    constraints
        .iter()
        .all(|c| node.label(&c.topology_key).is_some())
}

/// PreFilter's counts: matching pods per domain of each constraint.
struct FilterState {
    constraints: Vec<Constraint>,
    counts: Vec<HashMap<String, i64>>,
    /// The fewest matching pods in any domain of each constraint.
    fewest: Vec<i64>,
}

/// PreScore's counts.
struct ScoreState {
    constraints: Vec<Constraint>,
    /// Matching pods per domain (not for the hostname key: those are counted per node).
    counts: Vec<HashMap<String, i64>>,
    /// `ln(domains + 2)`: spreading over many domains weighs more.
    weights: Vec<f64>,
    /// Feasible nodes missing a topology key: scored 0.
    ignored: std::collections::HashSet<String>,
}

impl Plugin for PodTopologySpread {
    fn name(&self) -> &'static str {
        NAME
    }

    fn pre_filter(&self, pod: &PodInfo, cluster: &Cluster) -> Result<PreFilter, Status> {
        let constraints = constraints(pod, "DoNotSchedule", cluster.objects)?;
        if constraints.is_empty() {
            return Ok(PreFilter::Skip);
        }
        let mut counts = vec![HashMap::new(); constraints.len()];
        for node in cluster.cache.nodes() {
            if !has_all_keys(node, &constraints) {
                continue;
            }
            for (c, counts) in constraints.iter().zip(counts.iter_mut()) {
                if !c.includes(pod, node) {
                    continue;
                }
                let Some(value) = node.label(&c.topology_key) else {
                    continue;
                };
                let n = count_matching(node, &c.selector, &pod.namespace);
                let entry = counts.entry(value.to_string()).or_insert(0i64);
                *entry = entry.saturating_add(n);
            }
        }
        let fewest = counts
            .iter()
            .map(|c| c.values().copied().min().unwrap_or(i64::from(i32::MAX)))
            .collect();
        Ok(PreFilter::Run(Some(Box::new(FilterState {
            constraints,
            counts,
            fewest,
        }))))
    }

    fn filter(&self, s: Option<&State>, pod: &PodInfo, node: &NodeInfo) -> Result<(), Status> {
        let Some(s) = state::<FilterState>(s) else {
            return Ok(());
        };
        for (i, c) in s.constraints.iter().enumerate() {
            let Some(value) = node.label(&c.topology_key) else {
                return Err(Status::unresolvable(NAME, REASON_MISSING_LABEL));
            };
            let counts = s.counts.get(i);
            let domains = counts.map_or(0, HashMap::len) as i64;
            let fewest = if domains < c.min_domains {
                0
            } else {
                s.fewest.get(i).copied().unwrap_or(0)
            };
            let own = i64::from(c.selector.matches(pod.labels()));
            let here = counts.and_then(|m| m.get(value)).copied().unwrap_or(0);
            if here.saturating_add(own).saturating_sub(fewest) > c.max_skew {
                return Err(Status::unschedulable(NAME, REASON));
            }
        }
        Ok(())
    }

    fn pre_score(
        &self,
        pod: &PodInfo,
        nodes: &[&NodeInfo],
        cluster: &Cluster,
    ) -> Result<PreScore, Status> {
        if nodes.is_empty() {
            return Ok(PreScore::Skip);
        }
        let constraints = constraints(pod, "ScheduleAnyway", cluster.objects)?;
        if constraints.is_empty() {
            return Ok(PreScore::Skip);
        }
        // With the system defaults, nodes without a zone label still spread over hostnames.
        let require_all = pod
            .pod
            .spec
            .as_ref()
            .and_then(|s| s.topology_spread_constraints.as_ref())
            .is_some_and(|c| !c.is_empty());
        let mut ignored = std::collections::HashSet::new();
        let mut counts = vec![HashMap::new(); constraints.len()];
        for node in nodes {
            if require_all && !has_all_keys(node, &constraints) {
                ignored.insert(node.name.clone());
                continue;
            }
            for (c, counts) in constraints.iter().zip(counts.iter_mut()) {
                if c.topology_key == HOSTNAME {
                    continue;
                }
                if let Some(value) = node.label(&c.topology_key) {
                    counts.entry(value.to_string()).or_insert(0i64);
                }
            }
        }
        let weights = constraints
            .iter()
            .zip(&counts)
            .map(|(c, counts)| {
                let size = if c.topology_key == HOSTNAME {
                    nodes.len().saturating_sub(ignored.len())
                } else {
                    counts.len()
                };
                ((size + 2) as f64).ln()
            })
            .collect();
        // Only domains of feasible nodes are counted: a constraint none of them has a domain
        // of (the zone default on nodes without zones) needs no pass over the cluster.
        let domains_to_count = constraints
            .iter()
            .zip(&counts)
            .any(|(c, counts)| c.topology_key != HOSTNAME && !counts.is_empty());
        if domains_to_count {
            for node in cluster.cache.nodes() {
                if require_all && !has_all_keys(node, &constraints) {
                    continue;
                }
                for (c, counts) in constraints.iter().zip(counts.iter_mut()) {
                    if c.topology_key == HOSTNAME {
                        continue;
                    }
                    let Some(count) = node.label(&c.topology_key).and_then(|v| counts.get_mut(v))
                    else {
                        continue;
                    };
                    if c.includes(pod, node) {
                        let n = count_matching(node, &c.selector, &pod.namespace);
                        *count = count.saturating_add(n);
                    }
                }
            }
        }
        Ok(PreScore::Run(Some(Box::new(ScoreState {
            constraints,
            counts,
            weights,
            ignored,
        }))))
    }

    fn score(&self, s: Option<&State>, pod: &PodInfo, node: &NodeInfo) -> i64 {
        let Some(s) = state::<ScoreState>(s) else {
            return 0;
        };
        if s.ignored.contains(&node.name) {
            return 0;
        }
        let mut score = 0.0;
        for (i, c) in s.constraints.iter().enumerate() {
            let Some(value) = node.label(&c.topology_key) else {
                continue;
            };
            let count = if c.topology_key == HOSTNAME {
                count_matching(node, &c.selector, &pod.namespace)
            } else {
                s.counts
                    .get(i)
                    .and_then(|m| m.get(value))
                    .copied()
                    .unwrap_or(0)
            };
            let weight = s.weights.get(i).copied().unwrap_or(0.0);
            score += count as f64 * weight + (c.max_skew - 1) as f64;
        }
        score.round() as i64
    }

    fn normalize(&self, s: Option<&State>, nodes: &[&NodeInfo], scores: &mut [i64]) {
        let Some(s) = state::<ScoreState>(s) else {
            return;
        };
        let counted = |i: usize| nodes.get(i).is_some_and(|n| !s.ignored.contains(&n.name));
        let mut min = i64::MAX;
        let mut max = 0;
        for (i, score) in scores.iter().enumerate() {
            if counted(i) {
                min = min.min(*score);
                max = max.max(*score);
            }
        }
        for (i, score) in scores.iter_mut().enumerate() {
            *score = if !counted(i) {
                0
            } else if max == 0 {
                MAX_NODE_SCORE
            } else {
                MAX_NODE_SCORE.saturating_mul(max.saturating_add(min).saturating_sub(*score)) / max
            };
        }
    }

    fn cares(&self, event: ClusterEvent) -> bool {
        match event {
            ClusterEvent::NodeAdd
            | ClusterEvent::NodeDelete
            | ClusterEvent::AssignedPodAdd
            | ClusterEvent::AssignedPodUpdate
            | ClusterEvent::AssignedPodDelete => true,
            ClusterEvent::NodeUpdate(change) => change.labels || change.taints,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::cache::Cache;
    use crate::scheduler::framework::NoObjects;
    use crate::scheduler::pod_info::tests::{pod, pod_with};
    use k8s_openapi::api::core::v1::{Node, Service};
    use std::sync::Arc;

    fn zoned(name: &str, zone: &str) -> Arc<Node> {
        Arc::new(
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "topology.kubernetes.io/zone": zone}},
                "status": {"allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"}},
            }))
            .expect("node"),
        )
    }

    fn web(name: &str, node: &str) -> Arc<PodInfo> {
        pod_with(
            name,
            serde_json::json!({"labels": {"app": "web"}}),
            serde_json::json!({"nodeName": node}),
            0,
        )
    }

    fn spread(when: &str, skew: i32) -> Arc<PodInfo> {
        pod_with(
            "new",
            serde_json::json!({"labels": {"app": "web"}}),
            serde_json::json!({"topologySpreadConstraints": [{
                "maxSkew": skew, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": when,
                "labelSelector": {"matchLabels": {"app": "web"}}}]}),
            0,
        )
    }

    /// Zone a: a1 (2 web pods), a2; zone b: b1 (1 web pod); zone c: c1 (none).
    fn cluster() -> Cache {
        let mut cache = Cache::new();
        for (name, zone) in [("a1", "a"), ("a2", "a"), ("b1", "b"), ("c1", "c")] {
            cache.set_node(zoned(name, zone));
        }
        cache.set_bound_pod(web("w1", "a1"));
        cache.set_bound_pod(web("w2", "a1"));
        cache.set_bound_pod(web("w3", "b1"));
        // Another namespace and other labels do not count.
        cache.set_bound_pod(pod_with(
            "other",
            serde_json::json!({"namespace": "other", "labels": {"app": "web"}}),
            serde_json::json!({"nodeName": "c1"}),
            0,
        ));
        cache.set_bound_pod(pod("plain", serde_json::json!({"nodeName": "c1"})));
        cache
    }

    fn filter_results(cache: &Cache, p: &PodInfo) -> Vec<(String, Option<String>)> {
        let cluster = Cluster {
            cache,
            objects: &NoObjects,
        };
        let PreFilter::Run(s) = PodTopologySpread
            .pre_filter(p, &cluster)
            .expect("prefilter")
        else {
            panic!("skipped");
        };
        let mut out: Vec<(String, Option<String>)> = cache
            .nodes()
            .map(|n| {
                let r = PodTopologySpread.filter(s.as_ref(), p, n);
                (n.name.clone(), r.err().map(|e| e.message()))
            })
            .collect();
        out.sort();
        out
    }

    #[test]
    fn do_not_schedule_keeps_the_skew() {
        let cache = cluster();
        // Counts a=2, b=1, c=0: with max skew 1 only zone c fits (0 + 1 - 0 <= 1).
        let results = filter_results(&cache, &spread("DoNotSchedule", 1));
        assert_eq!(
            results,
            [
                ("a1".to_string(), Some(REASON.to_string())),
                ("a2".to_string(), Some(REASON.to_string())),
                ("b1".to_string(), Some(REASON.to_string())),
                ("c1".to_string(), None),
            ]
        );
        let results = filter_results(&cache, &spread("DoNotSchedule", 2));
        assert_eq!(
            results.iter().filter(|(_, e)| e.is_none()).count(),
            2,
            "{results:?}"
        );
        // ScheduleAnyway constraints do not filter.
        let cluster = Cluster {
            cache: &cache,
            objects: &NoObjects,
        };
        assert!(matches!(
            PodTopologySpread.pre_filter(&spread("ScheduleAnyway", 1), &cluster),
            Ok(PreFilter::Skip)
        ));
    }

    #[test]
    fn min_domains_and_missing_labels() {
        let mut cache = cluster();
        cache.set_node(Arc::new(
            serde_json::from_value(serde_json::json!({"metadata": {"name": "bare"}}))
                .expect("node"),
        ));
        let p = pod_with(
            "new",
            serde_json::json!({"labels": {"app": "web"}}),
            serde_json::json!({"topologySpreadConstraints": [{
                "maxSkew": 2, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule",
                "minDomains": 5, "labelSelector": {"matchLabels": {"app": "web"}}}]}),
            0,
        );
        // Three domains < 5: the fewest counts as 0, so zone a (2 + 1) is out.
        let results = filter_results(&cache, &p);
        assert_eq!(results[0], ("a1".to_string(), Some(REASON.to_string())));
        assert_eq!(results[2], ("b1".to_string(), None));
        assert_eq!(
            results[3],
            ("bare".to_string(), Some(REASON_MISSING_LABEL.to_string()))
        );
    }

    #[test]
    fn schedule_anyway_prefers_emptier_domains() {
        let cache = cluster();
        let cluster = Cluster {
            cache: &cache,
            objects: &NoObjects,
        };
        let p = spread("ScheduleAnyway", 1);
        let nodes: Vec<&NodeInfo> = cache.nodes().collect();
        let PreScore::Run(s) = PodTopologySpread
            .pre_score(&p, &nodes, &cluster)
            .expect("prescore")
        else {
            panic!("skipped");
        };
        let mut scores: Vec<i64> = nodes
            .iter()
            .map(|n| PodTopologySpread.score(s.as_ref(), &p, n))
            .collect();
        PodTopologySpread.normalize(s.as_ref(), &nodes, &mut scores);
        let by_name: HashMap<&str, i64> =
            nodes.iter().map(|n| n.name.as_str()).zip(scores).collect();
        assert!(by_name["c1"] > by_name["b1"], "{by_name:?}");
        assert!(by_name["b1"] > by_name["a1"], "{by_name:?}");
        assert_eq!(by_name["a1"], by_name["a2"]);
        assert_eq!(by_name["c1"], 100);
    }

    struct WithService(Arc<Service>);

    impl Objects for WithService {
        fn namespace_labels(&self, _: &str) -> Option<crate::scheduler::labels::Labels> {
            None
        }
        fn services(&self, _: &str) -> Vec<Arc<Service>> {
            vec![self.0.clone()]
        }
        fn replication_controller(
            &self,
            _: &str,
            _: &str,
        ) -> Option<Arc<k8s_openapi::api::core::v1::ReplicationController>> {
            None
        }
        fn replica_set(
            &self,
            _: &str,
            _: &str,
        ) -> Option<Arc<k8s_openapi::api::apps::v1::ReplicaSet>> {
            None
        }
        fn stateful_set(
            &self,
            _: &str,
            _: &str,
        ) -> Option<Arc<k8s_openapi::api::apps::v1::StatefulSet>> {
            None
        }
    }

    #[test]
    fn pods_of_a_service_spread_by_default() {
        let cache = cluster();
        let service: Service = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"selector": {"app": "web"}},
        }))
        .expect("service");
        let objects = WithService(Arc::new(service));
        let cluster = Cluster {
            cache: &cache,
            objects: &objects,
        };
        let p = pod_with(
            "new",
            serde_json::json!({"labels": {"app": "web"}}),
            serde_json::json!({}),
            0,
        );
        let nodes: Vec<&NodeInfo> = cache.nodes().collect();
        let PreScore::Run(s) = PodTopologySpread
            .pre_score(&p, &nodes, &cluster)
            .expect("prescore")
        else {
            panic!("the defaults apply");
        };
        let scores: Vec<i64> = nodes
            .iter()
            .map(|n| PodTopologySpread.score(s.as_ref(), &p, n))
            .collect();
        let by_name: HashMap<&str, i64> =
            nodes.iter().map(|n| n.name.as_str()).zip(scores).collect();
        // More matching pods, a higher raw score (worse after normalising).
        assert!(by_name["a1"] > by_name["a2"], "{by_name:?}");
        assert!(by_name["a2"] > by_name["c1"], "{by_name:?}");
        // A pod no Service selects has no default constraints.
        let lone = pod("lone", serde_json::json!({}));
        assert!(matches!(
            PodTopologySpread.pre_score(&lone, &nodes, &cluster),
            Ok(PreScore::Skip)
        ));
    }
}
