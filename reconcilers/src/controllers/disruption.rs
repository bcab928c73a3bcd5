//! `disruption-controller`: a PodDisruptionBudget's status from the pods it selects, which
//! evictions then consult: how many pods are expected (the scale of their controllers when
//! the budget is relative, else the pods themselves), how many must stay healthy, how many
//! are, and so how many disruptions are allowed.

use std::collections::BTreeSet;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::{ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{Pod, ReplicationController};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{Patch, PatchParams};
use kube::core::Selector;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Resource, ResourceExt};
use serde_json::json;

use super::pods;
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

/// The replicas a pod's controller asks for, by the controller's kind.
fn controller_scale(ctx: &Context, pod: &Pod) -> Option<(String, i32)> {
    let owner = pods::controller_of(pod.meta())?;
    let namespace = pod.namespace()?;
    let key = format!("{}/{}/{}", owner.kind, namespace, owner.name);
    let replicas = match owner.kind.as_str() {
        "ReplicaSet" => {
            let rs = ctx
                .informers
                .get::<ReplicaSet>()
                .store()
                .get(&ObjectRef::new(&owner.name).within(&namespace))?;
            // A set of a Deployment counts as the Deployment.
            if let Some(d) = pods::controller_of(rs.meta()).filter(|r| r.kind == "Deployment") {
                return Some((
                    format!("Deployment/{namespace}/{}", d.name),
                    rs.annotations()
                        .get("deployment.kubernetes.io/desired-replicas")
                        .and_then(|r| r.parse().ok())
                        .unwrap_or_else(|| rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0)),
                ));
            }
            rs.spec.as_ref()?.replicas.unwrap_or(1)
        }
        "StatefulSet" => ctx
            .informers
            .get::<StatefulSet>()
            .store()
            .get(&ObjectRef::new(&owner.name).within(&namespace))?
            .spec
            .as_ref()?
            .replicas
            .unwrap_or(1),
        "ReplicationController" => ctx
            .informers
            .get::<ReplicationController>()
            .store()
            .get(&ObjectRef::new(&owner.name).within(&namespace))?
            .spec
            .as_ref()?
            .replicas
            .unwrap_or(1),
        _ => return None,
    };
    Some((key, replicas))
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
        let selected: Vec<Arc<Pod>> = match selector_of(&pdb) {
            Some(selector) => ctx
                .informers
                .get::<Pod>()
                .store()
                .state()
                .into_iter()
                .filter(|p| p.namespace().as_deref() == Some(namespace.as_str()))
                .filter(|p| p.metadata.deletion_timestamp.is_none())
                .filter(|p| pods::selects(&selector, p.meta()))
                .collect(),
            None => Vec::new(),
        };
        let pod_count = i32::try_from(selected.len()).unwrap_or(i32::MAX);
        let relative = spec.max_unavailable.is_some()
            || matches!(spec.min_available, Some(IntOrString::String(_)));
        let expected = if relative {
            let mut seen = BTreeSet::new();
            selected
                .iter()
                .filter_map(|p| controller_scale(&ctx, p))
                .filter(|(key, _)| seen.insert(key.clone()))
                .map(|(_, n)| n)
                .fold(0, i32::saturating_add)
        } else {
            pod_count
        };
        let desired = match (&spec.min_available, &spec.max_unavailable) {
            (Some(min), _) => scaled(min, expected),
            (None, Some(max)) => (expected - scaled(max, expected)).max(0),
            (None, None) => 0,
        };
        let healthy = i32::try_from(selected.iter().filter(|p| pods::is_ready(p)).count())
            .unwrap_or(i32::MAX);
        let allowed = (healthy - desired).max(0);
        let now = Time(jiff::Timestamp::now());
        let old = pdb.status.clone().unwrap_or_default();
        let (status_value, reason, message) = if allowed > 0 {
            ("True", "SufficientPods", String::new())
        } else {
            ("False", "InsufficientPods", String::new())
        };
        let transition = old
            .conditions
            .iter()
            .flatten()
            .find(|c| c.type_ == "DisruptionAllowed" && c.status == status_value)
            .map_or(now.clone(), |c| c.last_transition_time.clone());
        let status = PodDisruptionBudgetStatus {
            current_healthy: healthy,
            desired_healthy: desired,
            disruptions_allowed: allowed,
            expected_pods: expected,
            observed_generation: pdb.metadata.generation,
            disrupted_pods: old.disrupted_pods.clone(),
            conditions: Some(vec![Condition {
                type_: "DisruptionAllowed".into(),
                status: status_value.into(),
                reason: reason.into(),
                message,
                observed_generation: pdb.metadata.generation,
                last_transition_time: transition,
            }]),
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
