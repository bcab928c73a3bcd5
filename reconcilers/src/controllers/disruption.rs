//! `disruption-controller`: a PodDisruptionBudget's status from the pods it selects, which
//! evictions then consult: how many pods are expected (the scale of their controllers when
//! the budget is relative, else the pods themselves), how many must stay healthy, how many
//! are, and so how many disruptions are allowed. A relative budget over a pod whose
//! controller's scale is unknown fails safe, as upstream: no disruption allowed.

use std::collections::BTreeSet;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::{ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{Pod, ReplicationController};
use k8s_openapi::api::policy::v1::{
    PodDisruptionBudget, PodDisruptionBudgetSpec, PodDisruptionBudgetStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{Patch, PatchParams};
use kube::core::Selector;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::EventType;
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Resource, ResourceExt};
use serde_json::json;

use super::{pods, publish};
use crate::{Context, Error, Reconciler};

pub struct Disruption;

fn selector_of(pdb: &PodDisruptionBudget) -> Option<Selector> {
    let selector = pdb.spec.as_ref()?.selector.clone()?;
    Selector::try_from(selector).ok()
}

/// An int-or-percent of `total`, percentages rounded up (upstream's for budgets).
fn scaled(value: &IntOrString, total: i32) -> i32 {
    match value {
        IntOrString::Int(n) => *n,
        IntOrString::String(s) => s
            .strip_suffix('%')
            .and_then(|p| p.parse::<i64>().ok())
            .map_or(0, |p| {
                let v = (p.saturating_mul(i64::from(total)) + 99).div_euclid(100);
                i32::try_from(v).unwrap_or(i32::MAX)
            }),
    }
}

/// What a selected pod's controller tells of the pods a relative budget expects.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Scale {
    /// The pod has no controller: upstream leaves it out of the count, with a warning.
    Unmanaged,
    /// Its controller, under a key naming it, asks for this many replicas.
    Of(String, i32),
    /// Its controller is none whose scale is known: the budget cannot be computed.
    Unknown,
}

/// The replicas a pod's controller asks for, by the controller's kind (and only when the
/// object of that name is the one the pod names, as upstream checks its UID).
fn controller_scale(ctx: &Context, pod: &Pod) -> Scale {
    let Some(owner) = pods::controller_of(pod.meta()) else {
        return Scale::Unmanaged;
    };
    let Some(namespace) = pod.namespace() else {
        return Scale::Unknown;
    };
    let key = format!("{}/{}/{}", owner.kind, namespace, owner.name);
    let owned = |uid: Option<String>| uid.as_deref() == Some(owner.uid.as_str());
    let scale = match owner.kind.as_str() {
        "ReplicaSet" => ctx
            .informers
            .get::<ReplicaSet>()
            .store()
            .get(&ObjectRef::new(&owner.name).within(&namespace))
            .filter(|rs| owned(rs.uid()))
            .and_then(|rs| replica_set_scale(&rs, &namespace, key)),
        "StatefulSet" => ctx
            .informers
            .get::<StatefulSet>()
            .store()
            .get(&ObjectRef::new(&owner.name).within(&namespace))
            .filter(|ss| owned(ss.uid()))
            .and_then(|ss| Some((key, ss.spec.as_ref()?.replicas.unwrap_or(1)))),
        "ReplicationController" => ctx
            .informers
            .get::<ReplicationController>()
            .store()
            .get(&ObjectRef::new(&owner.name).within(&namespace))
            .filter(|rc| owned(rc.uid()))
            .and_then(|rc| Some((key, rc.spec.as_ref()?.replicas.unwrap_or(1)))),
        _ => None,
    };
    scale.map_or(Scale::Unknown, |(key, replicas)| Scale::Of(key, replicas))
}

/// A ReplicaSet's scale under `key`; a set of a Deployment counts as the Deployment, at the
/// replicas the Deployment wants of it.
fn replica_set_scale(rs: &ReplicaSet, namespace: &str, key: String) -> Option<(String, i32)> {
    if let Some(d) = pods::controller_of(rs.meta()).filter(|r| r.kind == "Deployment") {
        return Some((
            format!("Deployment/{namespace}/{}", d.name),
            rs.annotations()
                .get("deployment.kubernetes.io/desired-replicas")
                .and_then(|r| r.parse().ok())
                .unwrap_or_else(|| rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0)),
        ));
    }
    Some((key, rs.spec.as_ref()?.replicas.unwrap_or(1)))
}

/// The pods a budget expects, and the selected pods left out of that count for having no
/// controller.
#[derive(Debug, PartialEq, Eq)]
struct Expected {
    count: i32,
    unmanaged: Vec<String>,
}

/// The pods a budget expects of its selected `pods` (each by name, with its controller's
/// scale): when it is relative (`maxUnavailable`, or `minAvailable` as a percentage) the
/// summed scale of the pods' distinct controllers, pods without one left out; else the pods
/// themselves. A relative budget over a pod whose controller's scale is unknown cannot be
/// computed: the error says which pod, in upstream's words.
fn expected_pods(
    spec: &PodDisruptionBudgetSpec,
    pods: impl IntoIterator<Item = (String, Scale)>,
) -> Result<Expected, String> {
    let relative = spec.max_unavailable.is_some()
        || matches!(spec.min_available, Some(IntOrString::String(_)));
    if !relative {
        let count = pods.into_iter().count();
        return Ok(Expected {
            count: i32::try_from(count).unwrap_or(i32::MAX),
            unmanaged: Vec::new(),
        });
    }
    let mut seen = BTreeSet::new();
    let mut expected = Expected {
        count: 0,
        unmanaged: Vec::new(),
    };
    for (pod, scale) in pods {
        match scale {
            Scale::Unmanaged => expected.unmanaged.push(pod),
            Scale::Of(key, replicas) => {
                if seen.insert(key) {
                    expected.count = expected.count.saturating_add(replicas);
                }
            }
            Scale::Unknown => return Err(format!("found no controllers for pod {pod:?}")),
        }
    }
    Ok(expected)
}

/// `conditions` with `condition` set as upstream's `SetStatusCondition` does: one of its
/// type replaced, keeping its transition time while its status holds; the others kept.
fn set_condition(conditions: Option<&Vec<Condition>>, condition: Condition) -> Vec<Condition> {
    let mut conditions = conditions.cloned().unwrap_or_default();
    match conditions.iter_mut().find(|c| c.type_ == condition.type_) {
        Some(current) => {
            let last_transition_time = if current.status == condition.status {
                current.last_transition_time.clone()
            } else {
                condition.last_transition_time.clone()
            };
            *current = Condition {
                last_transition_time,
                ..condition
            };
        }
        None => conditions.push(condition),
    }
    conditions
}

/// A budget's status when it expects `expected` pods of which `healthy` are ready, at `now`:
/// the healthy pods it must keep, the disruptions that leaves (none while it expects no pod,
/// as upstream: a budget whose pods are yet to appear is safe when they do), and the
/// DisruptionAllowed condition (its transition time kept while its status stays).
fn budget_status(
    pdb: &PodDisruptionBudget,
    expected: i32,
    healthy: i32,
    now: Time,
) -> PodDisruptionBudgetStatus {
    let spec = pdb.spec.clone().unwrap_or_default();
    let desired = match (&spec.min_available, &spec.max_unavailable) {
        (Some(min), _) => scaled(min, expected),
        (None, Some(max)) => (expected - scaled(max, expected)).max(0),
        (None, None) => 0,
    };
    let allowed = if expected > 0 {
        (healthy - desired).max(0)
    } else {
        0
    };
    let old = pdb.status.clone().unwrap_or_default();
    let (status_value, reason) = if allowed > 0 {
        ("True", "SufficientPods")
    } else {
        ("False", "InsufficientPods")
    };
    PodDisruptionBudgetStatus {
        current_healthy: healthy,
        desired_healthy: desired,
        disruptions_allowed: allowed,
        expected_pods: expected,
        observed_generation: pdb.metadata.generation,
        disrupted_pods: old.disrupted_pods.clone(),
        conditions: Some(set_condition(
            old.conditions.as_ref(),
            Condition {
                type_: "DisruptionAllowed".into(),
                status: status_value.into(),
                reason: reason.into(),
                message: String::new(),
                observed_generation: pdb.metadata.generation,
                last_transition_time: now,
            },
        )),
    }
}

/// A budget's status when its sync failed with `message`, at `now`, as upstream's fail-safe
/// writes it: no disruption allowed, DisruptionAllowed False for SyncFailed with the error,
/// the rest of the status as it was.
fn failed_status(
    pdb: &PodDisruptionBudget,
    message: String,
    now: Time,
) -> PodDisruptionBudgetStatus {
    let old = pdb.status.clone().unwrap_or_default();
    let conditions = set_condition(
        old.conditions.as_ref(),
        Condition {
            type_: "DisruptionAllowed".into(),
            status: "False".into(),
            reason: "SyncFailed".into(),
            message,
            observed_generation: old.observed_generation,
            last_transition_time: now,
        },
    );
    PodDisruptionBudgetStatus {
        disruptions_allowed: 0,
        conditions: Some(conditions),
        ..old
    }
}

impl Reconciler for Disruption {
    type Object = PodDisruptionBudget;
    const NAME: &'static str = "disruption-controller";

    fn watches(
        &self,
        c: Controller<PodDisruptionBudget>,
        ctx: &Context,
    ) -> Controller<PodDisruptionBudget> {
        let budgets = ctx.informers.get::<PodDisruptionBudget>().store();
        c.watches_shared_stream(ctx.informers.get::<Pod>().subscribe(), move |pod| {
            let namespace = pod.namespace().unwrap_or_default();
            budgets
                .state()
                .iter()
                .filter(|b| b.namespace().as_deref() == Some(namespace.as_str()))
                .filter(|b| selector_of(b).is_some_and(|s| pods::selects(&s, pod.meta())))
                .map(|b| ObjectRef::from_obj(b.as_ref()))
                .collect::<Vec<_>>()
        })
    }

    async fn reconcile(
        &self,
        pdb: Arc<PodDisruptionBudget>,
        ctx: Arc<Context>,
    ) -> Result<Action, Error> {
        let (Some(namespace), Some(name)) = (pdb.namespace(), pdb.metadata.name.clone()) else {
            return Ok(Action::await_change());
        };
        let spec = pdb.spec.clone().unwrap_or_default();
        // All the selected pods, terminating and finished ones too, as upstream lists them.
        let selected: Vec<Arc<Pod>> = match selector_of(&pdb) {
            Some(selector) => ctx
                .informers
                .get::<Pod>()
                .store()
                .state()
                .into_iter()
                .filter(|p| p.namespace().as_deref() == Some(namespace.as_str()))
                .filter(|p| pods::selects(&selector, p.meta()))
                .collect(),
            None => Vec::new(),
        };
        let recorder = ctx.recorder(Self::NAME);
        let reference = pdb.object_ref(&());
        if selected.is_empty() {
            publish(
                &recorder,
                &reference,
                EventType::Normal,
                "NoPods",
                "No matching pods found".into(),
            )
            .await;
        }
        let now = Time(jiff::Timestamp::now());
        let scales = selected
            .iter()
            .map(|p| (p.name_any(), controller_scale(&ctx, p)));
        let status = match expected_pods(&spec, scales) {
            Ok(expected) => {
                if !expected.unmanaged.is_empty() {
                    let selector = selector_of(&pdb).map(|s| s.to_string()).unwrap_or_default();
                    publish(
                        &recorder,
                        &reference,
                        EventType::Warning,
                        "UnmanagedPods",
                        format!(
                            "Pods selected by this PodDisruptionBudget (selector: {selector}) \
                             were found to be unmanaged. As a result, the status of the PDB \
                             cannot be calculated correctly, which may result in undefined \
                             behavior. To account for these pods please set \
                             \".spec.minAvailable\" field of the PDB to an integer value."
                        ),
                    )
                    .await;
                }
                let healthy = selected
                    .iter()
                    .filter(|p| p.metadata.deletion_timestamp.is_none() && pods::is_ready(p))
                    .count();
                let healthy = i32::try_from(healthy).unwrap_or(i32::MAX);
                budget_status(&pdb, expected.count, healthy, now)
            }
            Err(e) => {
                publish(
                    &recorder,
                    &reference,
                    EventType::Warning,
                    "CalculateExpectedPodCountFailed",
                    format!("Failed to calculate the number of expected pods: {e}"),
                )
                .await;
                tracing::debug!(controller = Self::NAME, "{namespace}/{name}: {e}");
                failed_status(&pdb, e, now)
            }
        };
        if pdb.status.as_ref() != Some(&status) {
            let api: Api<PodDisruptionBudget> = Api::namespaced(ctx.client.clone(), &namespace);
            api.patch_status(
                &name,
                &PatchParams::default(),
                &Patch::Merge(json!({ "status": status })),
            )
            .await?;
        }
        Ok(Action::await_change())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn at(time: &str) -> Time {
        Time(time.parse().unwrap())
    }

    fn pdb(spec: Value, status: Value) -> PodDisruptionBudget {
        serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "default", "generation": 3},
            "spec": spec,
            "status": status,
        }))
        .unwrap()
    }

    fn budget(spec: Value) -> PodDisruptionBudget {
        pdb(spec, json!({}))
    }

    fn spec(spec: Value) -> PodDisruptionBudgetSpec {
        serde_json::from_value(spec).unwrap()
    }

    /// The status's counts: expected, current healthy, desired healthy, allowed.
    fn counts(status: &PodDisruptionBudgetStatus) -> (i32, i32, i32, i32) {
        (
            status.expected_pods,
            status.current_healthy,
            status.desired_healthy,
            status.disruptions_allowed,
        )
    }

    fn condition(status: &PodDisruptionBudgetStatus) -> Condition {
        let conditions = status.conditions.clone().unwrap();
        assert_eq!(conditions.len(), 1);
        conditions[0].clone()
    }

    fn of(pod: &str, key: &str, replicas: i32) -> (String, Scale) {
        (pod.into(), Scale::Of(key.into(), replicas))
    }

    fn scales() -> Vec<(String, Scale)> {
        vec![
            of("web-1", "Deployment/default/web", 4),
            of("web-2", "Deployment/default/web", 4),
            of("web-3", "Deployment/default/web", 4),
            of("db-0", "StatefulSet/default/db", 2),
        ]
    }

    fn count(expected: Result<Expected, String>) -> i32 {
        expected.unwrap().count
    }

    fn replica_set(value: Value) -> ReplicaSet {
        serde_json::from_value(value).unwrap()
    }

    const NOW: &str = "2024-05-01T10:00:00Z";
    const EARLIER: &str = "2024-04-30T08:00:00Z";

    #[test]
    fn an_integer_min_available_expects_the_selected_pods_themselves() {
        let spec = spec(json!({"minAvailable": 2}));
        assert_eq!(count(expected_pods(&spec, scales())), 4);
    }

    #[test]
    fn a_percentage_min_available_expects_each_controllers_scale_once() {
        let spec = spec(json!({"minAvailable": "50%"}));
        assert_eq!(count(expected_pods(&spec, scales())), 6);
    }

    #[test]
    fn max_unavailable_expects_each_controllers_scale_once() {
        let spec = spec(json!({"maxUnavailable": 1}));
        assert_eq!(count(expected_pods(&spec, scales())), 6);
    }

    #[test]
    fn an_integer_min_available_is_the_desired_healthy_count() {
        let status = budget_status(&budget(json!({"minAvailable": 2})), 3, 3, at(NOW));
        assert_eq!(counts(&status), (3, 3, 2, 1));
    }

    #[test]
    fn a_percentage_min_available_rounds_the_desired_healthy_count_up() {
        let status = budget_status(&budget(json!({"minAvailable": "50%"})), 5, 5, at(NOW));
        assert_eq!(counts(&status), (5, 5, 3, 2));
    }

    #[test]
    fn an_integer_max_unavailable_desires_the_rest_of_the_expected_pods() {
        let status = budget_status(&budget(json!({"maxUnavailable": 1})), 4, 4, at(NOW));
        assert_eq!(counts(&status), (4, 4, 3, 1));
    }

    #[test]
    fn a_percentage_max_unavailable_rounds_the_pods_that_may_go_up() {
        // 30% of 5 is 1.5: two may go, three must stay.
        let status = budget_status(&budget(json!({"maxUnavailable": "30%"})), 5, 5, at(NOW));
        assert_eq!(counts(&status), (5, 5, 3, 2));
    }

    #[test]
    fn max_unavailable_above_the_expected_pods_desires_none_healthy() {
        let status = budget_status(&budget(json!({"maxUnavailable": 5})), 3, 2, at(NOW));
        assert_eq!(counts(&status), (3, 2, 0, 2));
    }

    #[test]
    fn a_budget_with_neither_bound_desires_none_healthy() {
        let status = budget_status(&budget(json!({})), 2, 2, at(NOW));
        assert_eq!(counts(&status), (2, 2, 0, 2));
    }

    #[test]
    fn fewer_healthy_pods_than_desired_allow_no_disruption() {
        let status = budget_status(&budget(json!({"minAvailable": 3})), 3, 1, at(NOW));
        assert_eq!(counts(&status), (3, 1, 3, 0));
    }

    #[test]
    fn sufficient_pods_make_disruption_allowed_true_from_now() {
        let status = budget_status(&budget(json!({"minAvailable": 1})), 2, 2, at(NOW));
        let c = condition(&status);
        assert_eq!(c.type_, "DisruptionAllowed");
        assert_eq!(c.status, "True");
        assert_eq!(c.reason, "SufficientPods");
        assert_eq!(c.last_transition_time, at(NOW));
        assert_eq!(c.observed_generation, Some(3));
        assert_eq!(status.observed_generation, Some(3));
    }

    #[test]
    fn healthy_pods_only_at_the_desired_count_make_disruption_allowed_false() {
        let status = budget_status(&budget(json!({"minAvailable": 2})), 2, 2, at(NOW));
        let c = condition(&status);
        assert_eq!(c.status, "False");
        assert_eq!(c.reason, "InsufficientPods");
    }

    #[test]
    fn the_condition_keeps_its_transition_time_while_its_status_holds() {
        let pdb = pdb(
            json!({"minAvailable": 1}),
            json!({
                "currentHealthy": 2, "desiredHealthy": 1, "disruptionsAllowed": 1, "expectedPods": 2,
                "conditions": [{
                    "type": "DisruptionAllowed", "status": "True", "reason": "SufficientPods",
                    "message": "", "lastTransitionTime": EARLIER,
                }],
            }),
        );
        let status = budget_status(&pdb, 3, 3, at(NOW));
        assert_eq!(condition(&status).last_transition_time, at(EARLIER));
    }

    #[test]
    fn the_condition_transitions_now_when_its_status_flips() {
        let pdb = pdb(
            json!({"minAvailable": 2}),
            json!({
                "currentHealthy": 3, "desiredHealthy": 2, "disruptionsAllowed": 1, "expectedPods": 3,
                "conditions": [{
                    "type": "DisruptionAllowed", "status": "True", "reason": "SufficientPods",
                    "message": "", "lastTransitionTime": EARLIER,
                }],
            }),
        );
        let status = budget_status(&pdb, 3, 2, at(NOW));
        let c = condition(&status);
        assert_eq!(c.status, "False");
        assert_eq!(c.last_transition_time, at(NOW));
    }

    #[test]
    fn disrupted_pods_recorded_by_evictions_are_kept() {
        let pdb = pdb(
            json!({"minAvailable": 1}),
            json!({
                "currentHealthy": 2, "desiredHealthy": 1, "disruptionsAllowed": 1, "expectedPods": 2,
                "disruptedPods": {"web-1": EARLIER},
            }),
        );
        let status = budget_status(&pdb, 2, 2, at(NOW));
        let disrupted = status.disrupted_pods.unwrap();
        assert_eq!(disrupted.get("web-1"), Some(&at(EARLIER)));
    }

    #[test]
    fn a_replica_set_of_a_deployment_counts_as_the_deployment_at_its_desired_replicas() {
        let rs = replica_set(json!({
            "metadata": {
                "name": "web-abc", "namespace": "default",
                "annotations": {"deployment.kubernetes.io/desired-replicas": "5"},
                "ownerReferences": [{
                    "apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
                    "uid": "d-uid", "controller": true,
                }],
            },
            "spec": {"replicas": 2, "selector": {}},
        }));
        assert_eq!(
            replica_set_scale(&rs, "default", "ReplicaSet/default/web-abc".into()),
            Some(("Deployment/default/web".into(), 5))
        );
    }

    #[test]
    fn a_deployments_replica_set_without_desired_replicas_counts_its_own() {
        let rs = replica_set(json!({
            "metadata": {
                "name": "web-abc", "namespace": "default",
                "ownerReferences": [{
                    "apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
                    "uid": "d-uid", "controller": true,
                }],
            },
            "spec": {"replicas": 2, "selector": {}},
        }));
        assert_eq!(
            replica_set_scale(&rs, "default", "ReplicaSet/default/web-abc".into()),
            Some(("Deployment/default/web".into(), 2))
        );
    }

    #[test]
    fn a_bare_replica_set_counts_itself_at_one_replica_by_default() {
        let rs = replica_set(json!({
            "metadata": {"name": "web-abc", "namespace": "default"},
            "spec": {"selector": {}},
        }));
        assert_eq!(
            replica_set_scale(&rs, "default", "ReplicaSet/default/web-abc".into()),
            Some(("ReplicaSet/default/web-abc".into(), 1))
        );
    }

    #[test]
    fn an_integer_min_available_counts_pods_without_a_known_controller_alike() {
        let spec = spec(json!({"minAvailable": 1}));
        let pods = vec![
            ("bare".to_string(), Scale::Unmanaged),
            ("job-1".to_string(), Scale::Unknown),
        ];
        assert_eq!(
            expected_pods(&spec, pods),
            Ok(Expected {
                count: 2,
                unmanaged: Vec::new()
            })
        );
    }

    #[test]
    fn a_relative_budget_leaves_pods_without_a_controller_out_and_names_them() {
        for spec in [
            spec(json!({"minAvailable": "50%"})),
            spec(json!({"maxUnavailable": 1})),
        ] {
            let mut pods = scales();
            pods.push(("bare".to_string(), Scale::Unmanaged));
            assert_eq!(
                expected_pods(&spec, pods),
                Ok(Expected {
                    count: 6,
                    unmanaged: vec!["bare".to_string()]
                })
            );
        }
    }

    #[test]
    fn a_relative_budget_over_a_pod_whose_controller_is_unknown_fails() {
        for spec in [
            spec(json!({"minAvailable": "50%"})),
            spec(json!({"maxUnavailable": "10%"})),
        ] {
            let mut pods = scales();
            pods.push(("job-1".to_string(), Scale::Unknown));
            assert_eq!(
                expected_pods(&spec, pods),
                Err(r#"found no controllers for pod "job-1""#.to_string())
            );
        }
    }

    #[test]
    fn a_budget_expecting_no_pods_allows_no_disruption() {
        // Only unmanaged pods under a relative budget: none expected, though two are healthy.
        for spec in [
            json!({"maxUnavailable": 1}),
            json!({"minAvailable": "50%"}),
            json!({}),
        ] {
            let status = budget_status(&budget(spec), 0, 2, at(NOW));
            assert_eq!(counts(&status), (0, 2, 0, 0));
            let c = condition(&status);
            assert_eq!(
                (c.status.as_str(), c.reason.as_str()),
                ("False", "InsufficientPods")
            );
        }
    }

    #[test]
    fn a_failed_sync_allows_no_disruption_and_says_why_keeping_the_rest_of_the_status() {
        let pdb = pdb(
            json!({"maxUnavailable": 1}),
            json!({
                "currentHealthy": 3, "desiredHealthy": 2, "disruptionsAllowed": 1, "expectedPods": 3,
                "observedGeneration": 2,
                "conditions": [{
                    "type": "DisruptionAllowed", "status": "True", "reason": "SufficientPods",
                    "message": "", "lastTransitionTime": EARLIER, "observedGeneration": 2,
                }],
            }),
        );
        let status = failed_status(&pdb, "found no controllers for pod \"x\"".into(), at(NOW));
        assert_eq!(counts(&status), (3, 3, 2, 0));
        assert_eq!(status.observed_generation, Some(2));
        let c = condition(&status);
        assert_eq!(c.type_, "DisruptionAllowed");
        assert_eq!(c.status, "False");
        assert_eq!(c.reason, "SyncFailed");
        assert_eq!(c.message, "found no controllers for pod \"x\"");
        assert_eq!(c.observed_generation, Some(2));
        assert_eq!(c.last_transition_time, at(NOW));
    }

    #[test]
    fn a_sync_failing_again_keeps_the_conditions_transition_time() {
        let pdb = pdb(
            json!({"maxUnavailable": 1}),
            json!({
                "currentHealthy": 3, "desiredHealthy": 2, "disruptionsAllowed": 0, "expectedPods": 3,
                "conditions": [{
                    "type": "DisruptionAllowed", "status": "False", "reason": "InsufficientPods",
                    "message": "", "lastTransitionTime": EARLIER,
                }],
            }),
        );
        let c = condition(&failed_status(&pdb, "boom".into(), at(NOW)));
        assert_eq!(c.reason, "SyncFailed");
        assert_eq!(c.last_transition_time, at(EARLIER));
    }

    #[test]
    fn other_conditions_are_kept() {
        let pdb = pdb(
            json!({"minAvailable": 1}),
            json!({
                "conditions": [{
                    "type": "Example", "status": "True", "reason": "Because",
                    "message": "", "lastTransitionTime": EARLIER,
                }],
            }),
        );
        let status = budget_status(&pdb, 2, 2, at(NOW));
        let types: Vec<String> = status
            .conditions
            .unwrap()
            .into_iter()
            .map(|c| c.type_)
            .collect();
        assert_eq!(types, ["Example", "DisruptionAllowed"]);
    }
}
