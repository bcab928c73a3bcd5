//! The scheduling framework: runs the profile's plugins for one pod (upstream's
//! `schedulePod`).
//!
//! 1. *PreFilter*: each filter plugin reads the pod (and the cluster, for spreading and
//!    affinity) once; it may skip itself for this pod, reject the pod outright, or narrow
//!    the nodes to look at.
//! 2. *Filter*: nodes are checked in turn from where the last cycle stopped (so every node
//!    gets its turn) until enough feasible ones are found: all nodes in small clusters,
//!    `max(100, n × (50 − n/125)%)` (at least 5%) in large ones, as upstream's
//!    `percentageOfNodesToScore` default does. A node's first failing plugin gives its
//!    reasons. Nodes nominated for preempting pods of at least this priority are checked
//!    with those pods on them.
//! 3. *Score*: each score plugin scores each feasible node, normalises its scores to
//!    0..=100, and is weighted as in upstream's default profile (TaintToleration 3,
//!    NodeAffinity 2, PodTopologySpread 2, InterPodAffinity 2, NodeResourcesFit 1,
//!    NodeResourcesBalancedAllocation 1, ImageLocality 1).
//! 4. The highest total wins; ties are broken at random.
//!
//! A pod that fits nowhere gets a [`FitError`]: each node's reasons, for the message
//! `failure` writes and for the queue, which waits for events the rejecting plugins care
//! about.

use std::any::Any;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use k8s_openapi::api::apps::v1::{ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{
    PersistentVolume, PersistentVolumeClaim, ReplicationController, Service,
};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::storage::v1::StorageClass;

use super::cache::{Cache, NodeInfo};
use super::labels::Labels;
use super::plugins;
use super::pod_info::PodInfo;
use super::queue::{ClusterEvent, Nominator};

/// The highest score a plugin gives a node.
pub const MAX_NODE_SCORE: i64 = 100;
/// Below this many nodes, every node is checked (`minFeasibleNodesToFind`).
const MIN_FEASIBLE_NODES_TO_FIND: usize = 100;
/// The adaptive percentage never goes below this (`minFeasibleNodesPercentageToFind`).
const MIN_FEASIBLE_NODES_PERCENTAGE: usize = 5;

/// How a plugin judged a pod for a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    /// Does not fit now; preempting lower-priority pods might help.
    Unschedulable,
    /// Does not fit, and preemption would not change that.
    UnschedulableAndUnresolvable,
    /// Something went wrong (an invalid selector): the pod backs off.
    Error,
}

/// A plugin's verdict with upstream's reasons (`Insufficient cpu`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    pub code: Code,
    pub reasons: Vec<String>,
    pub plugin: &'static str,
}

impl Status {
    pub fn unschedulable(plugin: &'static str, reason: impl Into<String>) -> Status {
        Status {
            code: Code::Unschedulable,
            reasons: vec![reason.into()],
            plugin,
        }
    }

    pub fn unresolvable(plugin: &'static str, reason: impl Into<String>) -> Status {
        Status {
            code: Code::UnschedulableAndUnresolvable,
            reasons: vec![reason.into()],
            plugin,
        }
    }

    pub fn error(plugin: &'static str, message: impl Into<String>) -> Status {
        Status {
            code: Code::Error,
            reasons: vec![message.into()],
            plugin,
        }
    }

    /// The reasons joined as upstream's `Status.Message()` does.
    pub fn message(&self) -> String {
        self.reasons.join(", ")
    }
}

/// What a plugin computed for one pod in PreFilter or PreScore and reads per node.
pub type State = Box<dyn Any + Send + Sync>;

/// The state a plugin stored, as its own type.
pub fn state<T: 'static>(state: Option<&State>) -> Option<&T> {
    state.and_then(|s| s.downcast_ref::<T>())
}

/// What PreFilter decided for a pod.
pub enum PreFilter {
    /// Call `filter` on each node, with this state.
    Run(Option<State>),
    /// Nothing to check for this pod (no host ports, no constraints): `filter` is not called.
    Skip,
    /// Only these nodes can fit (NodeAffinity's `metadata.name In (...)`).
    Nodes(HashSet<String>),
}

/// What PreScore decided for a pod.
pub enum PreScore {
    Run(Option<State>),
    /// Nothing to score for this pod (every node would score the same).
    Skip,
}

/// Objects beyond nodes and pods that plugins read: namespaces' labels (namespace
/// selectors), and the Services and workloads that define default spreading.
pub trait Objects: Send + Sync {
    fn namespace_labels(&self, namespace: &str) -> Option<Labels>;
    fn services(&self, namespace: &str) -> Vec<Arc<Service>>;
    fn replication_controller(
        &self,
        namespace: &str,
        name: &str,
    ) -> Option<Arc<ReplicationController>>;
    fn replica_set(&self, namespace: &str, name: &str) -> Option<Arc<ReplicaSet>>;
    fn stateful_set(&self, namespace: &str, name: &str) -> Option<Arc<StatefulSet>>;
    // Volume binding's objects; none unless an implementation has them.
    fn claim(&self, _namespace: &str, _name: &str) -> Option<Arc<PersistentVolumeClaim>> {
        None
    }
    fn volume(&self, _name: &str) -> Option<Arc<PersistentVolume>> {
        None
    }
    fn volumes(&self) -> Vec<Arc<PersistentVolume>> {
        Vec::new()
    }
    fn storage_class(&self, _name: &str) -> Option<Arc<StorageClass>> {
        None
    }
    /// Every PodDisruptionBudget (preemption's); none unless an implementation has them.
    fn pod_disruption_budgets(&self) -> Vec<Arc<PodDisruptionBudget>> {
        Vec::new()
    }
}

/// No objects (tests of plugins that read none).
pub struct NoObjects;

impl Objects for NoObjects {
    fn namespace_labels(&self, _: &str) -> Option<Labels> {
        None
    }
    fn services(&self, _: &str) -> Vec<Arc<Service>> {
        Vec::new()
    }
    fn replication_controller(&self, _: &str, _: &str) -> Option<Arc<ReplicationController>> {
        None
    }
    fn replica_set(&self, _: &str, _: &str) -> Option<Arc<ReplicaSet>> {
        None
    }
    fn stateful_set(&self, _: &str, _: &str) -> Option<Arc<StatefulSet>> {
        None
    }
}

/// The cluster as plugins see it during one cycle.
pub struct Cluster<'a> {
    pub cache: &'a Cache,
    pub objects: &'a dyn Objects,
}

/// One plugin; it implements the extension points it has (upstream's multi-point plugins).
pub trait Plugin: Send + Sync {
    fn name(&self) -> &'static str;
    fn pre_filter(&self, _pod: &PodInfo, _cluster: &Cluster) -> Result<PreFilter, Status> {
        Ok(PreFilter::Run(None))
    }
    fn filter(
        &self,
        _state: Option<&State>,
        _pod: &PodInfo,
        _node: &NodeInfo,
    ) -> Result<(), Status> {
        Ok(())
    }
    fn pre_score(
        &self,
        _pod: &PodInfo,
        _nodes: &[&NodeInfo],
        _cluster: &Cluster,
    ) -> Result<PreScore, Status> {
        Ok(PreScore::Run(None))
    }
    /// A raw score, made 0..=100 by `normalize`.
    fn score(&self, _state: Option<&State>, _pod: &PodInfo, _node: &NodeInfo) -> i64 {
        0
    }
    fn normalize(&self, _state: Option<&State>, _nodes: &[&NodeInfo], _scores: &mut [i64]) {}
    /// Whether `event` could make a pod this plugin rejected schedulable.
    fn cares(&self, _event: ClusterEvent) -> bool {
        false
    }
}

/// Upstream's `DefaultNormalizeScore`: scales scores so the highest is 100 (or, reversed,
/// so the highest is 0 and a zero is 100).
pub fn default_normalize(scores: &mut [i64], reverse: bool) {
    let max = scores.iter().copied().max().unwrap_or(0);
    if max <= 0 {
        if reverse {
            scores.iter_mut().for_each(|s| *s = MAX_NODE_SCORE);
        }
        return;
    }
    for s in scores.iter_mut() {
        let scaled = MAX_NODE_SCORE.saturating_mul(*s) / max;
        *s = if reverse {
            MAX_NODE_SCORE - scaled
        } else {
            scaled
        };
    }
}

/// The plugins and their weights.
pub struct Profile {
    pub filters: Vec<Arc<dyn Plugin>>,
    pub scores: Vec<(Arc<dyn Plugin>, i64)>,
    /// `percentageOfNodesToScore`; `None` for upstream's adaptive default.
    pub percentage_of_nodes_to_score: Option<usize>,
}

impl Profile {
    /// Upstream's default profile (filters in upstream's order; score weights as upstream).
    pub fn default_profile() -> Profile {
        let taints: Arc<dyn Plugin> = Arc::new(plugins::taint_toleration::TaintToleration);
        let affinity: Arc<dyn Plugin> = Arc::new(plugins::node_affinity::NodeAffinity);
        let fit: Arc<dyn Plugin> = Arc::new(plugins::node_resources_fit::NodeResourcesFit);
        let spread: Arc<dyn Plugin> = Arc::new(plugins::pod_topology_spread::PodTopologySpread);
        let inter_pod: Arc<dyn Plugin> = Arc::new(plugins::inter_pod_affinity::InterPodAffinity);
        Profile {
            filters: vec![
                Arc::new(plugins::node_unschedulable::NodeUnschedulable),
                Arc::new(plugins::node_name::NodeName),
                taints.clone(),
                affinity.clone(),
                Arc::new(plugins::node_ports::NodePorts),
                fit.clone(),
                Arc::new(plugins::volume_binding::VolumeBinding),
                spread.clone(),
                inter_pod.clone(),
            ],
            scores: vec![
                (taints, 3),
                (affinity, 2),
                (fit, 1),
                (spread, 2),
                (inter_pod, 2),
                (
                    Arc::new(plugins::balanced_allocation::NodeResourcesBalancedAllocation),
                    1,
                ),
                (Arc::new(plugins::image_locality::ImageLocality), 1),
            ],
            percentage_of_nodes_to_score: None,
        }
    }

    /// Whether `event` could help a pod that `plugin` rejected.
    pub fn cares(&self, plugin: &str, event: ClusterEvent) -> bool {
        self.filters
            .iter()
            .find(|p| p.name() == plugin)
            .is_some_and(|p| p.cares(event))
    }

    /// How many feasible nodes to look for among `all` (upstream's
    /// `numFeasibleNodesToFind`).
    pub fn nodes_to_find(&self, all: usize) -> usize {
        if all < MIN_FEASIBLE_NODES_TO_FIND {
            return all;
        }
        let percentage = match self.percentage_of_nodes_to_score {
            Some(p) if p > 0 => p.min(100),
            _ => 50usize
                .saturating_sub(all / 125)
                .max(MIN_FEASIBLE_NODES_PERCENTAGE),
        };
        (all.saturating_mul(percentage) / 100).max(MIN_FEASIBLE_NODES_TO_FIND)
    }
}

/// Why a pod fits no node.
#[derive(Clone, Debug, Default)]
pub struct FitError {
    /// Nodes in the cluster.
    pub num_all_nodes: usize,
    /// A PreFilter rejection, which applies to every node.
    pub pre_filter: Option<Status>,
    /// The nodes checked and their reasons.
    pub statuses: HashMap<String, Status>,
    /// The status of the nodes PreFilter left out.
    pub absent: Option<Status>,
    /// What preemption said (`preemption: ...`).
    pub post_filter_msg: Option<String>,
}

impl FitError {
    /// The plugins that rejected the pod somewhere: events they care about retry it.
    pub fn plugins(&self) -> Vec<&'static str> {
        let mut plugins: BTreeSet<&'static str> =
            self.statuses.values().map(|s| s.plugin).collect();
        plugins.extend(self.pre_filter.iter().map(|s| s.plugin));
        plugins.extend(self.absent.iter().map(|s| s.plugin));
        plugins.into_iter().collect()
    }

    /// The status of a node, counting nodes PreFilter left out.
    pub fn status_of(&self, node: &str) -> Option<&Status> {
        self.statuses
            .get(node)
            .or(self.pre_filter.as_ref())
            .or(self.absent.as_ref())
    }
}

/// How a scheduling attempt ended.
#[derive(Debug)]
pub enum Outcome {
    /// The node chosen.
    Fits(String),
    Unschedulable(FitError),
    Error(String),
}

/// What PreFilter left for the filters of one cycle (also used by preemption).
pub struct FilterRun {
    states: Vec<Option<State>>,
    skip: Vec<bool>,
    /// Nodes a PreFilter limited the pod to, and the plugins that did.
    allowed: Option<(HashSet<String>, Vec<&'static str>)>,
}

impl FilterRun {
    /// Whether a PreFilter left the node out.
    pub fn allows(&self, node: &str) -> bool {
        self.allowed
            .as_ref()
            .is_none_or(|(nodes, _)| nodes.contains(node))
    }
}

/// A small xorshift generator: ties between equally good nodes are broken at random, and
/// preemption starts at a random node, as upstream does.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    pub fn below(&mut self, n: usize) -> usize {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        if n == 0 {
            0
        } else {
            usize::try_from(x % (n as u64)).unwrap_or(0)
        }
    }
}

/// Runs the profile for one pod at a time.
pub struct Framework {
    pub profile: Profile,
    /// Where the next cycle starts checking nodes.
    next_start: usize,
    pub rng: Rng,
}

impl Framework {
    pub fn new(profile: Profile, seed: u64) -> Framework {
        Framework {
            profile,
            next_start: 0,
            rng: Rng::new(seed),
        }
    }

    /// Runs every PreFilter; a rejection ends the attempt.
    pub fn pre_filter(&self, pod: &PodInfo, cluster: &Cluster) -> Result<FilterRun, Status> {
        let mut run = FilterRun {
            states: Vec::with_capacity(self.profile.filters.len()),
            skip: Vec::with_capacity(self.profile.filters.len()),
            allowed: None,
        };
        for plugin in &self.profile.filters {
            match plugin.pre_filter(pod, cluster)? {
                PreFilter::Run(state) => {
                    run.states.push(state);
                    run.skip.push(false);
                }
                PreFilter::Skip => {
                    run.states.push(None);
                    run.skip.push(true);
                }
                PreFilter::Nodes(nodes) => {
                    run.states.push(None);
                    run.skip.push(false);
                    run.allowed = Some(match run.allowed.take() {
                        None => (nodes, vec![plugin.name()]),
                        Some((previous, mut by)) => {
                            by.push(plugin.name());
                            (previous.intersection(&nodes).cloned().collect(), by)
                        }
                    });
                }
            }
        }
        Ok(run)
    }

    /// Runs the filters on one node; the first rejection is the node's status.
    pub fn run_filters(
        &self,
        run: &FilterRun,
        pod: &PodInfo,
        node: &NodeInfo,
    ) -> Result<(), Status> {
        for (i, plugin) in self.profile.filters.iter().enumerate() {
            if run.skip.get(i).copied().unwrap_or(false) {
                continue;
            }
            plugin.filter(run.states.get(i).and_then(Option::as_ref), pod, node)?;
        }
        Ok(())
    }

    /// Runs the filters as if the pods nominated for the node with at least this pod's
    /// priority were already there (then, if that passes, without them: upstream's
    /// `RunFilterPluginsWithNominatedPods`).
    pub fn run_filters_with_nominated(
        &self,
        run: &FilterRun,
        pod: &PodInfo,
        node: &NodeInfo,
        nominator: &Nominator,
    ) -> Result<(), Status> {
        if nominator.is_empty() {
            return self.run_filters(run, pod, node);
        }
        let nominated: Vec<&Arc<PodInfo>> = nominator
            .pods_on(&node.name)
            .iter()
            .filter(|p| p.key != pod.key && p.priority >= pod.priority)
            .collect();
        if nominated.is_empty() {
            return self.run_filters(run, pod, node);
        }
        let mut with = node.clone();
        for p in nominated {
            with.add_pod(p.clone());
        }
        self.run_filters(run, pod, &with)?;
        self.run_filters(run, pod, node)
    }

    /// One scheduling attempt: the node for `pod`, or why there is none.
    pub fn schedule(&mut self, pod: &PodInfo, cluster: &Cluster, nominator: &Nominator) -> Outcome {
        if let Some(e) = &pod.affinity_error {
            return Outcome::Error(e.clone());
        }
        let all = cluster.cache.node_count();
        if all == 0 {
            return Outcome::Error("no nodes available to schedule pods".into());
        }
        let run = match self.pre_filter(pod, cluster) {
            Ok(run) => run,
            Err(status) if status.code == Code::Error => return Outcome::Error(status.message()),
            Err(status) => {
                return Outcome::Unschedulable(FitError {
                    num_all_nodes: all,
                    pre_filter: Some(status),
                    ..FitError::default()
                })
            }
        };
        let absent = run.allowed.as_ref().map(|(_, by)| {
            Status::unresolvable(
                by.first().copied().unwrap_or("PreFilter"),
                format!("node(s) didn't satisfy plugin(s) [{}]", by.join(" ")),
            )
        });
        let mut statuses = HashMap::new();

        // A node nominated for this pod by an earlier preemption is tried first.
        let nominated = nominator.node_of(&pod.key).map(str::to_string).or_else(|| {
            pod.pod
                .status
                .as_ref()
                .and_then(|s| s.nominated_node_name.clone())
                .filter(|n| !n.is_empty())
        });
        if let Some(node) = nominated.as_deref().and_then(|n| cluster.cache.node(n)) {
            if run.allows(&node.name)
                && self
                    .run_filters_with_nominated(&run, pod, node, nominator)
                    .is_ok()
            {
                return Outcome::Fits(node.name.clone());
            }
        }

        let wanted = self.profile.nodes_to_find(all);
        let slots = cluster.cache.slots();
        let mut feasible: Vec<&NodeInfo> = Vec::with_capacity(wanted.min(all));
        let mut processed = 0;
        let start = if slots.is_empty() {
            0
        } else {
            self.next_start % slots.len()
        };
        for offset in 0..slots.len() {
            if feasible.len() >= wanted {
                break;
            }
            processed += 1;
            let Some(node) = slots.get((start + offset) % slots.len()) else {
                continue;
            };
            if node.node.is_none() || !run.allows(&node.name) {
                continue;
            }
            match self.run_filters_with_nominated(&run, pod, node, nominator) {
                Ok(()) => feasible.push(node),
                Err(status) if status.code == Code::Error => {
                    return Outcome::Error(status.message())
                }
                Err(status) => {
                    statuses.insert(node.name.clone(), status);
                }
            }
        }
        if !slots.is_empty() {
            self.next_start = (start + processed) % slots.len();
        }
        if feasible.is_empty() {
            return Outcome::Unschedulable(FitError {
                num_all_nodes: all,
                statuses,
                absent,
                ..FitError::default()
            });
        }
        if let [only] = feasible.as_slice() {
            return Outcome::Fits(only.name.clone());
        }
        match self.prioritize(pod, &feasible, cluster) {
            Ok(totals) => Outcome::Fits(self.select_host(&feasible, &totals)),
            Err(status) => Outcome::Error(status.message()),
        }
    }

    /// The weighted total score of each feasible node.
    pub fn prioritize(
        &self,
        pod: &PodInfo,
        nodes: &[&NodeInfo],
        cluster: &Cluster,
    ) -> Result<Vec<i64>, Status> {
        let mut totals = vec![0i64; nodes.len()];
        let mut scores = vec![0i64; nodes.len()];
        for (plugin, weight) in &self.profile.scores {
            let state = match plugin.pre_score(pod, nodes, cluster)? {
                PreScore::Skip => continue,
                PreScore::Run(state) => state,
            };
            for (score, node) in scores.iter_mut().zip(nodes) {
                *score = plugin.score(state.as_ref(), pod, node);
            }
            plugin.normalize(state.as_ref(), nodes, &mut scores);
            for (total, score) in totals.iter_mut().zip(&scores) {
                let score = (*score).clamp(0, MAX_NODE_SCORE);
                *total = total.saturating_add(score.saturating_mul(*weight));
            }
        }
        Ok(totals)
    }

    /// The node with the highest total; among equals, one at random (reservoir sampling).
    fn select_host(&mut self, nodes: &[&NodeInfo], totals: &[i64]) -> String {
        let mut best = 0;
        let mut best_score = i64::MIN;
        let mut ties = 0;
        for (i, score) in totals.iter().enumerate() {
            if *score > best_score {
                best = i;
                best_score = *score;
                ties = 1;
            } else if *score == best_score {
                ties += 1;
                if self.rng.below(ties) == 0 {
                    best = i;
                }
            }
        }
        nodes.get(best).map(|n| n.name.clone()).unwrap_or_default()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::scheduler::pod_info::tests::pod;
    use k8s_openapi::api::core::v1::Node;

    /// A node from its allocatable, labels and taints (test helper for the plugins).
    pub fn node(name: &str, cpu: &str, memory: &str, extra: serde_json::Value) -> NodeInfo {
        let mut json = serde_json::json!({
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
            "spec": {},
            "status": {"allocatable": {"cpu": cpu, "memory": memory, "pods": "110"}},
        });
        if let Some(labels) = extra.get("labels").and_then(|l| l.as_object()) {
            for (k, v) in labels {
                json["metadata"]["labels"][k] = v.clone();
            }
        }
        if let Some(spec) = extra.get("spec") {
            json["spec"] = spec.clone();
        }
        let node: Node = serde_json::from_value(json).expect("node");
        NodeInfo::new(Arc::new(node))
    }

    #[test]
    fn nodes_to_find_follows_upstream() {
        let profile = Profile::default_profile();
        assert_eq!(profile.nodes_to_find(3), 3);
        assert_eq!(profile.nodes_to_find(99), 99);
        assert_eq!(profile.nodes_to_find(100), 100);
        assert_eq!(profile.nodes_to_find(1000), 420);
        assert_eq!(profile.nodes_to_find(5000), 500);
        assert_eq!(profile.nodes_to_find(6000), 300);
        assert_eq!(profile.nodes_to_find(10000), 500);
    }

    #[test]
    fn default_normalization() {
        let mut s = [0, 5, 10];
        default_normalize(&mut s, false);
        assert_eq!(s, [0, 50, 100]);
        let mut s = [0, 5, 10];
        default_normalize(&mut s, true);
        assert_eq!(s, [100, 50, 0]);
        let mut s = [0, 0];
        default_normalize(&mut s, true);
        assert_eq!(s, [100, 100]);
    }

    fn cache_of(nodes: Vec<NodeInfo>) -> Cache {
        let mut cache = Cache::new();
        for n in nodes {
            if let Some(node) = n.node.clone() {
                cache.set_node(node);
            }
        }
        cache
    }

    #[test]
    fn the_least_allocated_node_wins_and_a_pod_that_fits_nowhere_says_why() {
        let mut cache = cache_of(vec![
            node("small", "1", "1Gi", serde_json::json!({})),
            node("big", "8", "16Gi", serde_json::json!({})),
            node(
                "tainted",
                "8",
                "16Gi",
                serde_json::json!({"spec": {"taints": [
                {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]}}),
            ),
        ]);
        let mut framework = Framework::new(Profile::default_profile(), 7);
        let nominator = Nominator::new();
        let p = pod(
            "p",
            serde_json::json!({"containers": [{"name": "c", "resources": {"requests": {"cpu": "500m", "memory": "256Mi"}}}]}),
        );
        let cluster = Cluster {
            cache: &cache,
            objects: &NoObjects,
        };
        match framework.schedule(&p, &cluster, &nominator) {
            Outcome::Fits(node) => assert_eq!(node, "big"),
            other => panic!("{other:?}"),
        }
        let greedy = pod(
            "greedy",
            serde_json::json!({"containers": [{"name": "c", "resources": {"requests": {"cpu": "6"}}}]}),
        );
        cache.assume(greedy, "big");
        let cluster = Cluster {
            cache: &cache,
            objects: &NoObjects,
        };
        let huge = pod(
            "huge",
            serde_json::json!({"containers": [{"name": "c", "resources": {"requests": {"cpu": "4"}}}]}),
        );
        match framework.schedule(&huge, &cluster, &nominator) {
            Outcome::Unschedulable(e) => {
                assert_eq!(e.num_all_nodes, 3);
                assert_eq!(e.statuses["small"].reasons, ["Insufficient cpu"]);
                assert_eq!(e.statuses["small"].code, Code::UnschedulableAndUnresolvable);
                assert_eq!(e.statuses["big"].code, Code::Unschedulable);
                assert_eq!(
                    e.statuses["tainted"].reasons,
                    ["node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"]
                );
                assert_eq!(e.plugins(), ["NodeResourcesFit", "TaintToleration"]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn no_nodes_is_an_error() {
        let cache = Cache::new();
        let mut framework = Framework::new(Profile::default_profile(), 1);
        let cluster = Cluster {
            cache: &cache,
            objects: &NoObjects,
        };
        match framework.schedule(
            &pod("p", serde_json::json!({})),
            &cluster,
            &Nominator::new(),
        ) {
            Outcome::Error(e) => assert_eq!(e, "no nodes available to schedule pods"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn ties_are_broken_at_random() {
        let nodes: Vec<NodeInfo> = (0..4)
            .map(|i| node(&format!("n{i}"), "4", "8Gi", serde_json::json!({})))
            .collect();
        let cache = cache_of(nodes);
        let mut framework = Framework::new(Profile::default_profile(), 42);
        let cluster = Cluster {
            cache: &cache,
            objects: &NoObjects,
        };
        let mut chosen = BTreeSet::new();
        for _ in 0..64 {
            if let Outcome::Fits(n) = framework.schedule(
                &pod("p", serde_json::json!({})),
                &cluster,
                &Nominator::new(),
            ) {
                chosen.insert(n);
            }
        }
        assert_eq!(chosen.len(), 4, "{chosen:?}");
    }
}
