//! DefaultPreemption (upstream's PostFilter plugin): when a pod fits nowhere, find a node
//! where evicting pods of lower priority would make room, choose the victims so that as
//! few and as unimportant pods as possible go, and nominate the node for the pod.
//!
//! On each node that preemption could help (its rejection was not unresolvable), every
//! lower-priority pod is taken away; if the pod then fits, the victims are reprieved one
//! by one as long as the pod still fits: first those whose eviction would violate a
//! PodDisruptionBudget, then the others, most important first within each group. A
//! victim violates a budget of its namespace that selects it when the budget's
//! `status.disruptionsAllowed`, less one for each more important potential victim it
//! selects, is used up; pods in the budget's `status.disruptedPods` are already counted by
//! the API server and neither violate nor use it up. Among the nodes that work, upstream's
//! order picks one: the fewest victims violating a budget, then the lowest highest-victim
//! priority, then the lowest sum of victim priorities, then the fewest victims, then the
//! most recently started victims. The driver then evicts the victims (marking them
//! `DisruptionTarget`) and records the nominated node; the pod is tried again when they
//! are gone.

use std::sync::Arc;

use k8s_openapi::api::policy::v1::PodDisruptionBudget;

use super::cache::NodeInfo;
use super::failure::{histogram, nodes_message};
use super::framework::{Cluster, Code, FilterRun, FitError, Framework, Objects, Status};
use super::labels::Selector;
use super::pod_info::PodInfo;
use super::queue::Nominator;

/// Upstream's `minCandidateNodesPercentage` and `minCandidateNodesAbsolute`: how many
/// workable nodes to find before choosing.
const MIN_CANDIDATE_NODES_PERCENTAGE: usize = 10;
const MIN_CANDIDATE_NODES_ABSOLUTE: usize = 100;

pub const NAME: &str = "DefaultPreemption";
const NOT_HELPFUL: &str = "Preemption is not helpful for scheduling";
const NO_VICTIMS: &str = "No preemption victims found for incoming pod";

/// What preemption decided.
#[derive(Debug, Default)]
pub struct Preemption {
    /// The node nominated for the pod.
    pub node: Option<String>,
    /// Pods to evict from it.
    pub victims: Vec<Arc<PodInfo>>,
    /// Lower-priority pods nominated for that node, whose nomination no longer holds.
    pub displaced: Vec<Arc<PodInfo>>,
    /// Whether the pod's earlier nomination should be cleared (no node works).
    pub clear: bool,
    /// `preemption: ...` for the failure message, when it did not succeed.
    pub message: Option<String>,
}

/// A node that works, with the victims to evict there (most important first) and how many
/// of them violate a PodDisruptionBudget.
struct Candidate {
    node: String,
    victims: Vec<Arc<PodInfo>>,
    violations: usize,
}

/// A PodDisruptionBudget as preemption reads it.
struct Budget {
    pdb: Arc<PodDisruptionBudget>,
    selector: Selector,
    allowed: i32,
}

impl Budget {
    /// The budgets that can select a pod: a budget whose selector does not parse, is
    /// missing or is empty selects nothing.
    fn all(objects: &dyn Objects) -> Vec<Budget> {
        objects
            .pod_disruption_budgets()
            .into_iter()
            .filter_map(|pdb| {
                let selector = Selector::from_label_selector(
                    pdb.spec.as_ref().and_then(|s| s.selector.as_ref()),
                )
                .ok()?;
                if selector.is_empty() {
                    return None;
                }
                let allowed = pdb.status.as_ref().map_or(0, |s| s.disruptions_allowed);
                Some(Budget {
                    pdb,
                    selector,
                    allowed,
                })
            })
            .collect()
    }

    /// Whether evicting `pod` uses up some of this budget: the budget is in its namespace,
    /// selects it, and has not already counted its disruption.
    fn covers(&self, pod: &PodInfo) -> bool {
        self.pdb.metadata.namespace.as_deref().unwrap_or_default() == pod.namespace
            && self.selector.matches(pod.labels())
            && !self
                .pdb
                .status
                .as_ref()
                .and_then(|s| s.disrupted_pods.as_ref())
                .is_some_and(|d| d.contains_key(&pod.name))
    }
}

/// Splits `pods` into those whose eviction would violate a budget and the others, keeping
/// their order (upstream's `filterPodsWithPDBViolation`): each budget allows as many
/// evictions as its `disruptionsAllowed`, taken by the pods in the order given.
fn split_by_budgets(
    pods: Vec<Arc<PodInfo>>,
    budgets: &[Budget],
) -> (Vec<Arc<PodInfo>>, Vec<Arc<PodInfo>>) {
    let mut allowed: Vec<i32> = budgets.iter().map(|b| b.allowed).collect();
    let mut violating = Vec::new();
    let mut others = Vec::new();
    for pod in pods {
        let mut violates = false;
        // A pod without labels matches no budget.
        if pod.labels().is_some_and(|l| !l.is_empty()) {
            for (budget, left) in budgets.iter().zip(allowed.iter_mut()) {
                if budget.covers(&pod) {
                    *left = left.saturating_sub(1);
                    violates |= *left < 0;
                }
            }
        }
        if violates {
            violating.push(pod);
        } else {
            others.push(pod);
        }
    }
    (violating, others)
}

/// Whether a pod is being deleted because the scheduler preempted it.
pub fn terminating_by_preemption(pod: &PodInfo) -> bool {
    pod.terminating
        && pod
            .pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| {
                c.iter().any(|c| {
                    c.type_ == "DisruptionTarget"
                        && c.reason.as_deref() == Some("PreemptionByScheduler")
                })
            })
}

/// Upstream's `MoreImportantPod`: higher priority, then started earlier.
fn more_important(a: &PodInfo, b: &PodInfo) -> std::cmp::Ordering {
    b.priority
        .cmp(&a.priority)
        .then_with(|| start_time(a).cmp(&start_time(b)))
}

/// When a pod started (its creation when it has not), in nanoseconds.
fn start_time(pod: &PodInfo) -> i128 {
    pod.pod
        .status
        .as_ref()
        .and_then(|s| s.start_time.as_ref())
        .or(pod.pod.metadata.creation_timestamp.as_ref())
        .map_or(i128::MAX, |t| t.0.as_nanosecond())
}

/// Why the pod may not preempt, if it may not (upstream's `PodEligibleToPreemptOthers`).
fn not_eligible(
    pod: &PodInfo,
    cluster: &Cluster,
    nominator: &Nominator,
    fit: &FitError,
) -> Option<&'static str> {
    let policy = pod
        .pod
        .spec
        .as_ref()
        .and_then(|s| s.preemption_policy.as_deref());
    if policy == Some("Never") {
        return Some("not eligible due to preemptionPolicy=Never.");
    }
    let nominated = nominator
        .node_of(&pod.key)
        .map(str::to_string)
        .or_else(|| {
            pod.pod
                .status
                .as_ref()
                .and_then(|s| s.nominated_node_name.clone())
                .filter(|n| !n.is_empty())
        })?;
    if fit
        .status_of(&nominated)
        .is_some_and(|s| s.code == Code::UnschedulableAndUnresolvable)
    {
        return None;
    }
    let node = cluster.cache.node(&nominated)?;
    node.pods
        .iter()
        .any(|p| p.priority < pod.priority && terminating_by_preemption(p))
        .then_some("not eligible due to a terminating pod on the nominated node.")
}

/// The victims on one node (most important first) and how many of them violate a budget,
/// or why the node does not work (upstream's `SelectVictimsOnNode`).
fn select_victims(
    framework: &Framework,
    run: &FilterRun,
    pod: &PodInfo,
    node: &NodeInfo,
    nominator: &Nominator,
    budgets: &[Budget],
) -> Result<(Vec<Arc<PodInfo>>, usize), Status> {
    let mut potential: Vec<Arc<PodInfo>> = node
        .pods
        .iter()
        .filter(|p| p.priority < pod.priority)
        .cloned()
        .collect();
    if potential.is_empty() {
        return Err(Status::unresolvable(NAME, NO_VICTIMS));
    }
    let mut without = node.clone();
    for victim in &potential {
        without.remove_pod(&victim.key);
    }
    framework.run_filters_with_nominated(run, pod, &without, nominator)?;
    potential.sort_by(|a, b| more_important(a, b));
    // Reprieve the victims that would violate a budget first, then the others.
    let (violating, others) = split_by_budgets(potential, budgets);
    let mut victims = Vec::new();
    let mut violations = 0;
    let ordered = violating
        .into_iter()
        .map(|p| (p, true))
        .chain(others.into_iter().map(|p| (p, false)));
    for (candidate, violates) in ordered {
        without.add_pod(candidate.clone());
        if framework
            .run_filters_with_nominated(run, pod, &without, nominator)
            .is_err()
        {
            without.remove_pod(&candidate.key);
            victims.push(candidate);
            violations += usize::from(violates);
        }
    }
    victims.sort_by(|a, b| more_important(a, b));
    Ok((victims, violations))
}

/// The node to preempt on (upstream's `pickOneNodeForPreemption`); victims are sorted most
/// important first.
fn pick(candidates: &[Candidate]) -> Option<usize> {
    let highest = |v: &[Arc<PodInfo>]| v.first().map_or(i64::MIN, |p| i64::from(p.priority));
    let sum = |v: &[Arc<PodInfo>]| {
        v.iter()
            .map(|p| i64::from(p.priority) + i64::from(i32::MAX) + 1)
            .fold(0i64, i64::saturating_add)
    };
    // The earliest start among the victims of the highest priority.
    let earliest = |v: &[Arc<PodInfo>]| {
        let top = highest(v);
        v.iter()
            .filter(|p| i64::from(p.priority) == top)
            .map(|p| start_time(p))
            .min()
            .unwrap_or(i128::MAX)
    };
    candidates
        .iter()
        .enumerate()
        .min_by(|(a, ca), (b, cb)| {
            let (va, vb) = (&ca.victims, &cb.victims);
            ca.violations
                .cmp(&cb.violations)
                .then_with(|| highest(va).cmp(&highest(vb)))
                .then_with(|| sum(va).cmp(&sum(vb)))
                .then_with(|| va.len().cmp(&vb.len()))
                .then_with(|| earliest(vb).cmp(&earliest(va)))
                .then_with(|| a.cmp(b))
        })
        .map(|(i, _)| i)
}

/// Tries to make room for `pod`, which fits nowhere for the reasons in `fit`.
pub fn preempt(
    framework: &mut Framework,
    cluster: &Cluster,
    nominator: &Nominator,
    pod: &PodInfo,
    fit: &FitError,
) -> Preemption {
    if let Some(reason) = not_eligible(pod, cluster, nominator, fit) {
        return Preemption {
            message: Some(format!("preemption: {reason}")),
            ..Preemption::default()
        };
    }
    let all = cluster.cache.node_count();
    let not_helpful = Status::unresolvable(NAME, NOT_HELPFUL);
    let failed = |statuses: &[Status]| Preemption {
        clear: true,
        message: Some(format!(
            "preemption: {}",
            nodes_message(
                all,
                &histogram(
                    statuses.iter(),
                    Some((&not_helpful, all.saturating_sub(statuses.len())))
                )
            )
        )),
        ..Preemption::default()
    };
    let potential: Vec<&NodeInfo> = cluster
        .cache
        .nodes()
        .filter(|n| {
            fit.status_of(&n.name)
                .is_none_or(|s| s.code != Code::UnschedulableAndUnresolvable)
        })
        .collect();
    if potential.is_empty() {
        return failed(&[]);
    }
    let run = match framework.pre_filter(pod, cluster) {
        Ok(run) => run,
        Err(status) => {
            return Preemption {
                message: Some(format!("preemption: {}", status.message())),
                ..Preemption::default()
            }
        }
    };
    let wanted = (potential.len() * MIN_CANDIDATE_NODES_PERCENTAGE / 100)
        .max(MIN_CANDIDATE_NODES_ABSOLUTE)
        .min(potential.len());
    let budgets = Budget::all(cluster.objects);
    let offset = framework.rng.below(potential.len());
    let mut candidates = Vec::new();
    let mut statuses = Vec::new();
    for i in 0..potential.len() {
        if candidates.len() >= wanted {
            break;
        }
        let Some(node) = potential.get((offset + i) % potential.len()) else {
            continue;
        };
        if !run.allows(&node.name) {
            statuses.push(Status::unresolvable(NAME, NOT_HELPFUL));
            continue;
        }
        match select_victims(framework, &run, pod, node, nominator, &budgets) {
            Ok((victims, _)) if victims.is_empty() => statuses.push(Status::error(
                NAME,
                format!("expected at least one victim pod on node {:?}", node.name),
            )),
            Ok((victims, violations)) => candidates.push(Candidate {
                node: node.name.clone(),
                victims,
                violations,
            }),
            Err(status) => statuses.push(status),
        }
    }
    let Some(best) = pick(&candidates) else {
        return failed(&statuses);
    };
    let Some(Candidate { node, victims, .. }) = candidates.into_iter().nth(best) else {
        return failed(&statuses);
    };
    let displaced = nominator
        .pods_on(&node)
        .iter()
        .filter(|p| p.priority < pod.priority && p.key != pod.key)
        .cloned()
        .collect();
    Preemption {
        node: Some(node),
        victims,
        displaced,
        clear: false,
        message: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::cache::Cache;
    use crate::scheduler::framework::{NoObjects, Outcome, Profile};
    use crate::scheduler::pod_info::tests::pod_with;
    use k8s_openapi::api::core::v1::Node;

    fn node(name: &str, cpu: &str) -> Arc<Node> {
        Arc::new(
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": name},
                "status": {"allocatable": {"cpu": cpu, "memory": "8Gi", "pods": "110"}},
            }))
            .expect("node"),
        )
    }

    fn cpu_pod(
        name: &str,
        node: Option<&str>,
        cpu: &str,
        priority: i32,
        started: &str,
    ) -> Arc<PodInfo> {
        let mut spec = serde_json::json!({"containers": [{"name": "c", "resources": {"requests": {"cpu": cpu}}}]});
        if let Some(node) = node {
            spec["nodeName"] = node.into();
        }
        pod_with(
            name,
            serde_json::json!({"creationTimestamp": started}),
            spec,
            priority,
        )
    }

    fn unschedulable(framework: &mut Framework, cache: &Cache, pod: &PodInfo) -> FitError {
        let cluster = Cluster {
            cache,
            objects: &NoObjects,
        };
        match framework.schedule(pod, &cluster, &Nominator::new()) {
            Outcome::Unschedulable(fit) => fit,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn fewest_and_least_important_victims() {
        let mut cache = Cache::new();
        cache.set_node(node("n1", "4"));
        cache.set_node(node("n2", "4"));
        // n1: two low pods of 2 CPU; n2: one low pod of 1 CPU and one medium of 3 CPU.
        cache.set_bound_pod(cpu_pod("low-a", Some("n1"), "2", 1, "2026-01-01T00:00:00Z"));
        cache.set_bound_pod(cpu_pod("low-b", Some("n1"), "2", 1, "2026-01-01T00:00:01Z"));
        cache.set_bound_pod(cpu_pod("low-c", Some("n2"), "1", 1, "2026-01-01T00:00:00Z"));
        cache.set_bound_pod(cpu_pod("mid", Some("n2"), "3", 50, "2026-01-01T00:00:00Z"));
        let mut framework = Framework::new(Profile::default_profile(), 3);
        let high = cpu_pod("high", None, "2", 100, "2026-01-02T00:00:00Z");
        let fit = unschedulable(&mut framework, &cache, &high);
        let cluster = Cluster {
            cache: &cache,
            objects: &NoObjects,
        };
        let p = preempt(&mut framework, &cluster, &Nominator::new(), &high, &fit);
        // On n2 the medium pod would have to go; on n1 one low pod suffices.
        assert_eq!(p.node.as_deref(), Some("n1"));
        let victims: Vec<&str> = p.victims.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(victims.len(), 1, "{victims:?}");
        assert!(p.message.is_none());
    }

    /// Objects holding only PodDisruptionBudgets.
    struct Budgets(Vec<Arc<PodDisruptionBudget>>);

    impl Objects for Budgets {
        fn namespace_labels(&self, _: &str) -> Option<crate::scheduler::labels::Labels> {
            None
        }
        fn services(&self, _: &str) -> Vec<Arc<k8s_openapi::api::core::v1::Service>> {
            Vec::new()
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
        fn pod_disruption_budgets(&self) -> Vec<Arc<PodDisruptionBudget>> {
            self.0.clone()
        }
    }

    /// A budget in `namespace` selecting `app=<app>`, with `allowed` disruptions left and
    /// `disrupted` pods already counted.
    fn budget(
        namespace: &str,
        app: &str,
        allowed: i32,
        disrupted: &[&str],
    ) -> Arc<PodDisruptionBudget> {
        let disrupted: serde_json::Map<String, serde_json::Value> = disrupted
            .iter()
            .map(|p| (p.to_string(), "2026-01-01T00:00:00Z".into()))
            .collect();
        Arc::new(
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": app, "namespace": namespace},
                "spec": {"selector": {"matchLabels": {"app": app}}},
                "status": {
                    "disruptionsAllowed": allowed,
                    "currentHealthy": 1,
                    "desiredHealthy": 1,
                    "expectedPods": 1,
                    "disruptedPods": disrupted,
                },
            }))
            .expect("budget"),
        )
    }

    /// A pod of `namespace` labelled `app=<app>`, bound to `node`.
    fn app_pod(
        name: &str,
        namespace: &str,
        app: &str,
        node: &str,
        cpu: &str,
        priority: i32,
        started: &str,
    ) -> Arc<PodInfo> {
        pod_with(
            name,
            serde_json::json!({
                "namespace": namespace,
                "labels": {"app": app},
                "creationTimestamp": started,
            }),
            serde_json::json!({
                "nodeName": node,
                "containers": [{"name": "c", "resources": {"requests": {"cpu": cpu}}}],
            }),
            priority,
        )
    }

    /// Preempts for `pod` with `budgets` in the cluster.
    fn preempt_with(
        cache: &Cache,
        budgets: Vec<Arc<PodDisruptionBudget>>,
        pod: &PodInfo,
    ) -> Preemption {
        let mut framework = Framework::new(Profile::default_profile(), 3);
        let fit = unschedulable(&mut framework, cache, pod);
        let objects = Budgets(budgets);
        let cluster = Cluster {
            cache,
            objects: &objects,
        };
        preempt(&mut framework, &cluster, &Nominator::new(), pod, &fit)
    }

    fn victim_names(p: &Preemption) -> Vec<&str> {
        p.victims.iter().map(|v| v.name.as_str()).collect()
    }

    #[test]
    fn victim_of_an_exhausted_budget_is_reprieved_when_another_suffices() {
        let mut cache = Cache::new();
        cache.set_node(node("n1", "4"));
        // Without budgets the later-started (less important) `guarded` would go.
        cache.set_bound_pod(cpu_pod("free", Some("n1"), "2", 1, "2026-01-01T00:00:00Z"));
        cache.set_bound_pod(app_pod(
            "guarded",
            "default",
            "web",
            "n1",
            "2",
            1,
            "2026-01-01T00:00:01Z",
        ));
        let high = cpu_pod("high", None, "2", 100, "2026-01-02T00:00:00Z");
        let p = preempt_with(&cache, vec![budget("default", "web", 0, &[])], &high);
        assert_eq!(p.node.as_deref(), Some("n1"));
        assert_eq!(victim_names(&p), ["free"]);
    }

    #[test]
    fn node_with_fewer_budget_violations_is_chosen() {
        let mut cache = Cache::new();
        cache.set_node(node("n1", "4"));
        cache.set_node(node("n2", "4"));
        // n1's victim has the lower priority but its budget allows no disruption.
        cache.set_bound_pod(app_pod(
            "guarded",
            "default",
            "web",
            "n1",
            "4",
            1,
            "2026-01-01T00:00:00Z",
        ));
        cache.set_bound_pod(cpu_pod("mid", Some("n2"), "4", 50, "2026-01-01T00:00:00Z"));
        let high = cpu_pod("high", None, "4", 100, "2026-01-02T00:00:00Z");
        let p = preempt_with(&cache, vec![budget("default", "web", 0, &[])], &high);
        assert_eq!(p.node.as_deref(), Some("n2"));
        assert_eq!(victim_names(&p), ["mid"]);
    }

    #[test]
    fn budget_of_one_lets_one_matching_victim_go_but_not_two() {
        let mut cache = Cache::new();
        cache.set_node(node("n1", "4"));
        cache.set_node(node("n2", "4"));
        for (name, started) in [
            ("web-a", "2026-01-01T00:00:00Z"),
            ("web-b", "2026-01-01T00:00:01Z"),
        ] {
            cache.set_bound_pod(app_pod(name, "default", "web", "n1", "2", 1, started));
        }
        cache.set_bound_pod(cpu_pod("mid", Some("n2"), "4", 50, "2026-01-01T00:00:00Z"));
        let budgets = || vec![budget("default", "web", 1, &[])];
        // One web pod has to go: the budget allows it, so n1's lower priority wins.
        let small = cpu_pod("small", None, "2", 100, "2026-01-02T00:00:00Z");
        let p = preempt_with(&cache, budgets(), &small);
        assert_eq!(p.node.as_deref(), Some("n1"));
        assert_eq!(victim_names(&p).len(), 1, "{:?}", victim_names(&p));
        // Both would have to go: the second violates the budget, so n2 is chosen.
        let big = cpu_pod("big", None, "4", 100, "2026-01-02T00:00:00Z");
        let p = preempt_with(&cache, budgets(), &big);
        assert_eq!(p.node.as_deref(), Some("n2"));
        assert_eq!(victim_names(&p), ["mid"]);
    }

    #[test]
    fn pod_in_disrupted_pods_does_not_count_against_the_budget() {
        let mut cache = Cache::new();
        cache.set_node(node("n1", "4"));
        // Both are selected by a budget allowing no disruption, but `counted` is already
        // among its disrupted pods: only `other` would violate it, so `other` is reprieved
        // first and the more important `counted` goes.
        cache.set_bound_pod(app_pod(
            "counted",
            "default",
            "web",
            "n1",
            "2",
            1,
            "2026-01-01T00:00:00Z",
        ));
        cache.set_bound_pod(app_pod(
            "other",
            "default",
            "web",
            "n1",
            "2",
            1,
            "2026-01-01T00:00:01Z",
        ));
        let high = cpu_pod("high", None, "2", 100, "2026-01-02T00:00:00Z");
        let p = preempt_with(
            &cache,
            vec![budget("default", "web", 0, &["counted"])],
            &high,
        );
        assert_eq!(p.node.as_deref(), Some("n1"));
        assert_eq!(victim_names(&p), ["counted"]);
    }

    #[test]
    fn budget_in_another_namespace_does_not_count() {
        let mut cache = Cache::new();
        cache.set_node(node("n1", "4"));
        // Same labels; the budget is in `team`, so it protects `theirs` but not `ours`.
        cache.set_bound_pod(app_pod(
            "ours",
            "default",
            "web",
            "n1",
            "2",
            1,
            "2026-01-01T00:00:00Z",
        ));
        cache.set_bound_pod(app_pod(
            "theirs",
            "team",
            "web",
            "n1",
            "2",
            1,
            "2026-01-01T00:00:01Z",
        ));
        let high = cpu_pod("high", None, "2", 100, "2026-01-02T00:00:00Z");
        let p = preempt_with(&cache, vec![budget("team", "web", 0, &[])], &high);
        assert_eq!(p.node.as_deref(), Some("n1"));
        assert_eq!(victim_names(&p), ["ours"]);
    }

    #[test]
    fn nothing_to_preempt() {
        let mut cache = Cache::new();
        cache.set_node(node("n1", "1"));
        cache.set_node(node("n2", "4"));
        cache.set_bound_pod(cpu_pod("same", Some("n2"), "3", 10, "2026-01-01T00:00:00Z"));
        let mut framework = Framework::new(Profile::default_profile(), 3);
        let p2 = cpu_pod("p", None, "2", 10, "2026-01-02T00:00:00Z");
        let fit = unschedulable(&mut framework, &cache, &p2);
        let cluster = Cluster {
            cache: &cache,
            objects: &NoObjects,
        };
        let p = preempt(&mut framework, &cluster, &Nominator::new(), &p2, &fit);
        assert_eq!(p.node, None);
        assert!(p.clear);
        assert_eq!(
            p.message.as_deref(),
            Some("preemption: 0/2 nodes are available: 1 No preemption victims found for incoming pod, 1 Preemption is not helpful for scheduling.")
        );
        let never = pod_with(
            "never",
            serde_json::json!({}),
            serde_json::json!({"preemptionPolicy": "Never", "containers": [{"name": "c", "resources": {"requests": {"cpu": "2"}}}]}),
            100,
        );
        let fit = unschedulable(&mut framework, &cache, &never);
        let p = preempt(&mut framework, &cluster, &Nominator::new(), &never, &fit);
        assert_eq!(
            p.message.as_deref(),
            Some("preemption: not eligible due to preemptionPolicy=Never.")
        );
    }
}
