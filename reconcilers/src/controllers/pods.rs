//! What the workload controllers share about the pods they own: whether a pod is active,
//! ready or available, which controller owns it, upstream's order for deleting surplus pods,
//! and a new pod made from a template.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::core::{Selector, SelectorExt};
use kube::ResourceExt;

/// Not finished and not being deleted: what counts towards a controller's replicas.
pub fn is_active(pod: &Pod) -> bool {
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    !matches!(phase, Some("Succeeded" | "Failed")) && pod.metadata.deletion_timestamp.is_none()
}

/// The time the pod's Ready condition became true, if it is.
pub fn ready_since(pod: &Pod) -> Option<jiff::Timestamp> {
    let ready = pod
        .status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready" && c.status == "True")?;
    Some(
        ready
            .last_transition_time
            .as_ref()
            .map_or(jiff::Timestamp::UNIX_EPOCH, |t| t.0),
    )
}

pub fn is_ready(pod: &Pod) -> bool {
    ready_since(pod).is_some()
}

/// Ready for at least `min_ready` at `now`.
pub fn is_available(pod: &Pod, min_ready: Duration, now: jiff::Timestamp) -> bool {
    ready_since(pod).is_some_and(|since| {
        min_ready.is_zero() || now.duration_since(since).as_secs_f64() >= min_ready.as_secs_f64()
    })
}

/// The controller that owns an object, if any.
pub fn controller_of(meta: &ObjectMeta) -> Option<&OwnerReference> {
    meta.owner_references
        .as_ref()?
        .iter()
        .find(|r| r.controller == Some(true))
}

/// Whether a selector (already converted) matches an object's labels.
pub fn selects(selector: &Selector, meta: &ObjectMeta) -> bool {
    let empty = BTreeMap::new();
    selector.matches(meta.labels.as_ref().unwrap_or(&empty))
}

fn phase_rank(pod: &Pod) -> u8 {
    match pod.status.as_ref().and_then(|s| s.phase.as_deref()) {
        Some("Pending") => 0,
        Some("Running") => 2,
        _ => 1,
    }
}

fn restarts(pod: &Pod) -> i32 {
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .into_iter()
        .flatten()
        .map(|c| c.restart_count)
        .max()
        .unwrap_or(0)
}

fn deletion_cost(pod: &Pod) -> i64 {
    pod.annotations()
        .get("controller.kubernetes.io/pod-deletion-cost")
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

/// Orders pods the way upstream deletes surplus ones, first to go first: unscheduled before
/// scheduled, pending before unknown before running, not ready before ready, lower
/// deletion cost first, more pods on the same node first, ready for less time first, more
/// restarts first, newer first.
pub fn rank_for_deletion(pods: &mut [Pod]) {
    let mut per_node: HashMap<String, usize> = HashMap::new();
    for pod in pods.iter() {
        if let Some(node) = pod.spec.as_ref().and_then(|s| s.node_name.clone()) {
            *per_node.entry(node).or_default() += 1;
        }
    }
    let node_load = |pod: &Pod| {
        pod.spec
            .as_ref()
            .and_then(|s| s.node_name.as_ref())
            .and_then(|n| per_node.get(n))
            .copied()
            .unwrap_or(0)
    };
    pods.sort_by(|a, b| {
        let scheduled = |p: &Pod| p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some();
        scheduled(a)
            .cmp(&scheduled(b))
            .then_with(|| phase_rank(a).cmp(&phase_rank(b)))
            .then_with(|| is_ready(a).cmp(&is_ready(b)))
            .then_with(|| deletion_cost(a).cmp(&deletion_cost(b)))
            .then_with(|| node_load(b).cmp(&node_load(a)))
            .then_with(|| match (ready_since(a), ready_since(b)) {
                (Some(x), Some(y)) => y.cmp(&x),
                _ => Ordering::Equal,
            })
            .then_with(|| restarts(b).cmp(&restarts(a)))
            .then_with(|| {
                let created = |p: &Pod| p.metadata.creation_timestamp.as_ref().map(|t| t.0);
                created(b).cmp(&created(a))
            })
    });
}

/// A new pod from `template`, named after `prefix` (`web-5d8f7-`), owned by `owner`.
pub fn from_template(
    template: &PodTemplateSpec,
    prefix: &str,
    namespace: &str,
    owner: OwnerReference,
) -> Pod {
    let template_meta = template.metadata.clone().unwrap_or_default();
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(prefix.to_string()),
            namespace: Some(namespace.to_string()),
            labels: template_meta.labels,
            annotations: template_meta.annotations,
            finalizers: template_meta.finalizers,
            owner_references: Some(vec![OwnerReference {
                controller: Some(true),
                block_owner_deletion: Some(true),
                ..owner
            }]),
            ..ObjectMeta::default()
        },
        spec: template.spec.clone(),
        status: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodCondition, PodSpec, PodStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn pod(name: &str, node: Option<&str>, phase: &str, ready: bool, created: i64) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                creation_timestamp: Some(Time(jiff::Timestamp::from_second(created).unwrap())),
                ..ObjectMeta::default()
            },
            spec: Some(PodSpec {
                node_name: node.map(str::to_string),
                ..PodSpec::default()
            }),
            status: Some(PodStatus {
                phase: Some(phase.into()),
                conditions: ready.then(|| {
                    vec![PodCondition {
                        type_: "Ready".into(),
                        status: "True".into(),
                        ..PodCondition::default()
                    }]
                }),
                ..PodStatus::default()
            }),
        }
    }

    #[test]
    fn surplus_pods_are_deleted_in_upstream_order() {
        let mut pods = vec![
            pod("ready-old", Some("n1"), "Running", true, 100),
            pod("unscheduled", None, "Pending", false, 50),
            pod("pending", Some("n2"), "Pending", false, 60),
            pod("not-ready", Some("n1"), "Running", false, 70),
            pod("ready-new", Some("n2"), "Running", true, 200),
        ];
        rank_for_deletion(&mut pods);
        let names: Vec<_> = pods.iter().map(|p| p.name_any()).collect();
        assert_eq!(
            names,
            [
                "unscheduled",
                "pending",
                "not-ready",
                "ready-new",
                "ready-old"
            ]
        );
    }

    #[test]
    fn finished_and_deleted_pods_are_not_active() {
        assert!(is_active(&pod("a", None, "Running", true, 0)));
        assert!(!is_active(&pod("b", None, "Succeeded", false, 0)));
        let mut deleted = pod("c", None, "Running", true, 0);
        deleted.metadata.deletion_timestamp = Some(Time(jiff::Timestamp::UNIX_EPOCH));
        assert!(!is_active(&deleted));
    }
}
