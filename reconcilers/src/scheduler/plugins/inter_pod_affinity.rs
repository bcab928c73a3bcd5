//! InterPodAffinity: pods placed near (affinity) or away from (anti-affinity) other pods,
//! by topology domain.
//!
//! Filter (required terms): every required affinity term must find a matching pod in the
//! node's domain (a pod whose terms match only itself may go first anywhere with the
//! topology labels); no required anti-affinity term may find one; and no pod already
//! placed may have a required anti-affinity term that the new pod matches in that domain.
//!
//! Score (preferred terms, both ways, and existing pods' required affinity with weight 1,
//! upstream's `hardPodAffinityWeight`): each matching pair adds (affinity) or subtracts
//! (anti-affinity) the term's weight to every node in the matched pod's domain; scores are
//! then scaled to 0..=100 between the lowest and the highest.

use std::cell::RefCell;
use std::collections::HashMap;

use crate::scheduler::cache::NodeInfo;
use crate::scheduler::framework::{
    state, Cluster, Objects, Plugin, PreFilter, PreScore, State, Status, MAX_NODE_SCORE,
};
use crate::scheduler::labels::Labels;
use crate::scheduler::pod_info::{AffinityTerm, PodInfo};
use crate::scheduler::queue::ClusterEvent;

pub const NAME: &str = "InterPodAffinity";
/// Upstream's `ErrReasonAffinityRulesNotMatch`.
pub const REASON_AFFINITY: &str = "node(s) didn't match pod affinity rules";
/// Upstream's `ErrReasonAntiAffinityRulesNotMatch`.
pub const REASON_ANTI_AFFINITY: &str = "node(s) didn't match pod anti-affinity rules";
/// Upstream's `ErrReasonExistingAntiAffinityRulesNotMatch`.
pub const REASON_EXISTING_ANTI_AFFINITY: &str =
    "node(s) didn't satisfy existing pods anti-affinity rules";
/// Upstream's default `hardPodAffinityWeight`.
const HARD_POD_AFFINITY_WEIGHT: i64 = 1;

pub struct InterPodAffinity;

/// (topology key, value) -> count.
type TopologyCounts = HashMap<(String, String), i64>;

/// Namespace labels, looked up once per namespace in a cycle.
struct NamespaceLabels<'a> {
    objects: &'a dyn Objects,
    seen: RefCell<HashMap<String, Option<Labels>>>,
}

impl NamespaceLabels<'_> {
    fn get(&self, namespace: &str) -> Option<Labels> {
        self.seen
            .borrow_mut()
            .entry(namespace.to_string())
            .or_insert_with(|| self.objects.namespace_labels(namespace))
            .clone()
    }

    /// Whether `term` selects `pod`, reading the namespace's labels only when the term has
    /// a namespace selector.
    fn matches(&self, term: &AffinityTerm, pod: &PodInfo) -> bool {
        if term.namespaces.contains(&pod.namespace) {
            return term.selector.matches(pod.labels());
        }
        if term.namespace_selector == crate::scheduler::labels::Selector::nothing() {
            return false;
        }
        let labels = self.get(&pod.namespace);
        term.matches(pod, labels.as_ref())
    }
}

fn add(counts: &mut TopologyCounts, node: &NodeInfo, key: &str, value: i64) {
    if let Some(v) = node.label(key) {
        let entry = counts.entry((key.to_string(), v.to_string())).or_insert(0);
        *entry = entry.saturating_add(value);
    }
}

fn count(counts: &TopologyCounts, node: &NodeInfo, key: &str) -> Option<i64> {
    let value = node.label(key)?;
    Some(
        counts
            .get(&(key.to_string(), value.to_string()))
            .copied()
            .unwrap_or(0),
    )
}

/// What PreFilter counted.
struct FilterState {
    /// Domains where a placed pod's required anti-affinity term matches the new pod.
    existing_anti: TopologyCounts,
    /// Domains with pods matching all the new pod's required affinity terms.
    affinity: TopologyCounts,
    /// Domains with pods matching one of the new pod's required anti-affinity terms.
    anti: TopologyCounts,
}

/// Whether `pod` matches every term (namespace labels unknown: only named namespaces).
fn matches_all(terms: &[AffinityTerm], pod: &PodInfo, ns: &NamespaceLabels) -> bool {
    !terms.is_empty() && terms.iter().all(|t| ns.matches(t, pod))
}

/// What PreScore summed: a score per topology domain.
struct ScoreState(TopologyCounts);

impl Plugin for InterPodAffinity {
    fn name(&self) -> &'static str {
        NAME
    }

    fn pre_filter(&self, pod: &PodInfo, cluster: &Cluster) -> Result<PreFilter, Status> {
        let own = !pod.required_affinity.is_empty() || !pod.required_anti_affinity.is_empty();
        if !own && !cluster.cache.has_anti_affinity_pods() {
            return Ok(PreFilter::Skip);
        }
        let ns = NamespaceLabels {
            objects: cluster.objects,
            seen: RefCell::new(HashMap::new()),
        };
        let mut state = FilterState {
            existing_anti: HashMap::new(),
            affinity: HashMap::new(),
            anti: HashMap::new(),
        };
        for node in cluster.cache.nodes() {
            if node.pods_with_required_anti_affinity > 0 {
                for existing in &node.pods {
                    for term in &existing.required_anti_affinity {
                        if ns.matches(term, pod) {
                            add(&mut state.existing_anti, node, &term.topology_key, 1);
                        }
                    }
                }
            }
            if !own {
                continue;
            }
            for existing in &node.pods {
                if matches_all(&pod.required_affinity, existing, &ns) {
                    for term in &pod.required_affinity {
                        add(&mut state.affinity, node, &term.topology_key, 1);
                    }
                }
                for term in &pod.required_anti_affinity {
                    if ns.matches(term, existing) {
                        add(&mut state.anti, node, &term.topology_key, 1);
                    }
                }
            }
        }
        // Whether the pod may be the first of a group that wants to be together.
        let first_of_group =
            state.affinity.is_empty() && matches_all(&pod.required_affinity, pod, &ns);
        Ok(PreFilter::Run(Some(Box::new((state, first_of_group)))))
    }

    fn filter(&self, s: Option<&State>, pod: &PodInfo, node: &NodeInfo) -> Result<(), Status> {
        let Some((s, first_of_group)) = state::<(FilterState, bool)>(s) else {
            return Ok(());
        };
        let mut pods_exist = true;
        for term in &pod.required_affinity {
            match count(&s.affinity, node, &term.topology_key) {
                None => return Err(Status::unresolvable(NAME, REASON_AFFINITY)),
                Some(n) if n <= 0 => pods_exist = false,
                Some(_) => {}
            }
        }
        if !pods_exist && !first_of_group {
            return Err(Status::unresolvable(NAME, REASON_AFFINITY));
        }
        if !s.anti.is_empty() {
            for term in &pod.required_anti_affinity {
                if count(&s.anti, node, &term.topology_key).is_some_and(|n| n > 0) {
                    return Err(Status::unschedulable(NAME, REASON_ANTI_AFFINITY));
                }
            }
        }
        if !s.existing_anti.is_empty() {
            for (key, value) in node.labels().into_iter().flatten() {
                if s.existing_anti
                    .get(&(key.clone(), value.clone()))
                    .is_some_and(|n| *n > 0)
                {
                    return Err(Status::unschedulable(NAME, REASON_EXISTING_ANTI_AFFINITY));
                }
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
        let own = !pod.preferred_affinity.is_empty() || !pod.preferred_anti_affinity.is_empty();
        if nodes.is_empty() || (!own && !cluster.cache.has_affinity_pods()) {
            return Ok(PreScore::Skip);
        }
        let ns = NamespaceLabels {
            objects: cluster.objects,
            seen: RefCell::new(HashMap::new()),
        };
        let mut scores = HashMap::new();
        for node in cluster.cache.nodes() {
            if node.labels().is_none_or(|l| l.is_empty()) || (!own && node.pods_with_affinity == 0)
            {
                continue;
            }
            for existing in &node.pods {
                if !own && !existing.has_affinity() {
                    continue;
                }
                for w in &pod.preferred_affinity {
                    if ns.matches(&w.term, existing) {
                        add(&mut scores, node, &w.term.topology_key, w.weight);
                    }
                }
                for w in &pod.preferred_anti_affinity {
                    if ns.matches(&w.term, existing) {
                        add(&mut scores, node, &w.term.topology_key, -w.weight);
                    }
                }
                for term in &existing.required_affinity {
                    if ns.matches(term, pod) {
                        add(
                            &mut scores,
                            node,
                            &term.topology_key,
                            HARD_POD_AFFINITY_WEIGHT,
                        );
                    }
                }
                for w in &existing.preferred_affinity {
                    if ns.matches(&w.term, pod) {
                        add(&mut scores, node, &w.term.topology_key, w.weight);
                    }
                }
                for w in &existing.preferred_anti_affinity {
                    if ns.matches(&w.term, pod) {
                        add(&mut scores, node, &w.term.topology_key, -w.weight);
                    }
                }
            }
        }
        if scores.is_empty() {
            return Ok(PreScore::Skip);
        }
        Ok(PreScore::Run(Some(Box::new(ScoreState(scores)))))
    }

    fn score(&self, s: Option<&State>, _: &PodInfo, node: &NodeInfo) -> i64 {
        let Some(ScoreState(scores)) = state::<ScoreState>(s) else {
            return 0;
        };
        node.labels()
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| scores.get(&(k.clone(), v.clone())))
            .fold(0i64, |a, b| a.saturating_add(*b))
    }

    fn normalize(&self, _: Option<&State>, _: &[&NodeInfo], scores: &mut [i64]) {
        let (Some(min), Some(max)) = (scores.iter().min().copied(), scores.iter().max().copied())
        else {
            return;
        };
        let spread = max.saturating_sub(min);
        for score in scores.iter_mut() {
            *score = if spread > 0 {
                (MAX_NODE_SCORE as f64 * ((*score - min) as f64 / spread as f64)) as i64
            } else {
                0
            };
        }
    }

    fn cares(&self, event: ClusterEvent) -> bool {
        match event {
            ClusterEvent::NodeAdd
            | ClusterEvent::AssignedPodAdd
            | ClusterEvent::AssignedPodUpdate
            | ClusterEvent::AssignedPodDelete
            | ClusterEvent::NamespaceChange => true,
            ClusterEvent::NodeUpdate(change) => change.labels,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::cache::Cache;
    use crate::scheduler::framework::NoObjects;
    use crate::scheduler::pod_info::tests::pod_with;
    use k8s_openapi::api::core::v1::Node;
    use std::sync::Arc;

    fn zoned(name: &str, zone: &str) -> Arc<Node> {
        Arc::new(
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "zone": zone}},
            }))
            .expect("node"),
        )
    }

    fn labelled(name: &str, app: &str, spec: serde_json::Value) -> Arc<PodInfo> {
        pod_with(name, serde_json::json!({"labels": {"app": app}}), spec, 0)
    }

    fn term(app: &str, key: &str) -> serde_json::Value {
        serde_json::json!({"labelSelector": {"matchLabels": {"app": app}}, "topologyKey": key})
    }

    fn verdicts(cache: &Cache, p: &PodInfo) -> Vec<(String, Option<String>)> {
        let cluster = Cluster {
            cache,
            objects: &NoObjects,
        };
        let s = match InterPodAffinity.pre_filter(p, &cluster).expect("prefilter") {
            PreFilter::Run(s) => s,
            _ => None,
        };
        let mut out: Vec<_> = cache
            .nodes()
            .map(|n| {
                (
                    n.name.clone(),
                    InterPodAffinity
                        .filter(s.as_ref(), p, n)
                        .err()
                        .map(|e| e.message()),
                )
            })
            .collect();
        out.sort();
        out
    }

    fn cache() -> Cache {
        let mut cache = Cache::new();
        cache.set_node(zoned("a1", "a"));
        cache.set_node(zoned("a2", "a"));
        cache.set_node(zoned("b1", "b"));
        cache.set_bound_pod(labelled("db", "db", serde_json::json!({"nodeName": "a1"})));
        cache
    }

    #[test]
    fn required_affinity_needs_a_matching_pod_in_the_domain() {
        let cache = cache();
        let p = labelled(
            "web",
            "web",
            serde_json::json!({"affinity": {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term("db", "zone")]}}}),
        );
        let v = verdicts(&cache, &p);
        assert_eq!(v[0].1, None);
        assert_eq!(v[1].1, None, "same zone as the db pod");
        assert_eq!(v[2].1.as_deref(), Some(REASON_AFFINITY));
        // The first pod of a group that selects itself may go anywhere.
        let first = labelled(
            "cache",
            "cache",
            serde_json::json!({"affinity": {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term("cache", "zone")]}}}),
        );
        assert!(verdicts(&cache, &first).iter().all(|(_, e)| e.is_none()));
    }

    #[test]
    fn required_anti_affinity_both_ways() {
        let mut cache = cache();
        let p = labelled(
            "web",
            "web",
            serde_json::json!({"affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term("db", "kubernetes.io/hostname")]}}}),
        );
        let v = verdicts(&cache, &p);
        assert_eq!(v[0].1.as_deref(), Some(REASON_ANTI_AFFINITY));
        assert_eq!(v[1].1, None);
        // A placed pod that keeps web pods out of its zone.
        cache.set_bound_pod(labelled(
            "loner",
            "loner",
            serde_json::json!({"nodeName": "b1", "affinity": {"podAntiAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [term("web", "zone")]}}}),
        ));
        let plain = labelled("web2", "web", serde_json::json!({}));
        let v = verdicts(&cache, &plain);
        assert_eq!(v[0].1, None);
        assert_eq!(v[2].1.as_deref(), Some(REASON_EXISTING_ANTI_AFFINITY));
    }

    #[test]
    fn preferred_terms_score() {
        let cache = cache();
        let cluster = Cluster {
            cache: &cache,
            objects: &NoObjects,
        };
        let p = labelled(
            "web",
            "web",
            serde_json::json!({"affinity": {"podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 10, "podAffinityTerm": term("db", "zone")}]}}}),
        );
        let nodes: Vec<&NodeInfo> = cache.nodes().collect();
        let Ok(PreScore::Run(s)) = InterPodAffinity.pre_score(&p, &nodes, &cluster) else {
            panic!("scored");
        };
        let mut scores: Vec<i64> = nodes
            .iter()
            .map(|n| InterPodAffinity.score(s.as_ref(), &p, n))
            .collect();
        InterPodAffinity.normalize(s.as_ref(), &nodes, &mut scores);
        let by_name: HashMap<&str, i64> =
            nodes.iter().map(|n| n.name.as_str()).zip(scores).collect();
        assert_eq!(by_name["a1"], 100);
        assert_eq!(by_name["a2"], 100);
        assert_eq!(by_name["b1"], 0);
    }
}
