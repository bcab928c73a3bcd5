//! `daemonset-controller`: one pod of a DaemonSet on every node it should run on: nodes its
//! node selector and required node affinity accept whose taints its pods tolerate (with the
//! tolerations upstream adds to every daemon pod). Each pod is pinned to its node with node
//! affinity (`metadata.name`) and left to the scheduler, as upstream does. A template change
//! rolls out node by node within `maxUnavailable`; `OnDelete` waits for pods to be deleted.
//! Templates are kept as ControllerRevisions ([`history`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet};
use k8s_openapi::api::core::v1::{Node, NodeSelectorRequirement, Pod, Taint, Toleration};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::core::Selector;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::EventType;
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Resource, ResourceExt};
use serde_json::json;

use super::deployment::rollout::resolve;
use super::history::{self, HASH_LABEL};
use super::{controlled_by, not_found, pods, publish};
use crate::{Context, Error, Reconciler};

pub struct DaemonSets;

/// The tolerations upstream adds to every daemon pod, so node problems do not evict them.
fn daemon_tolerations(host_network: bool) -> Vec<Toleration> {
    let mut keys = vec![
        ("node.kubernetes.io/not-ready", "NoExecute"),
        ("node.kubernetes.io/unreachable", "NoExecute"),
        ("node.kubernetes.io/disk-pressure", "NoSchedule"),
        ("node.kubernetes.io/memory-pressure", "NoSchedule"),
        ("node.kubernetes.io/pid-pressure", "NoSchedule"),
        ("node.kubernetes.io/unschedulable", "NoSchedule"),
    ];
    if host_network {
        keys.push(("node.kubernetes.io/network-unavailable", "NoSchedule"));
    }
    keys.into_iter()
        .map(|(key, effect)| Toleration {
            key: Some(key.into()),
            operator: Some("Exists".into()),
            effect: Some(effect.into()),
            ..Toleration::default()
        })
        .collect()
}

fn tolerates(tolerations: &[Toleration], taint: &Taint) -> bool {
    tolerations.iter().any(|t| {
        let effect = t
            .effect
            .as_deref()
            .is_none_or(|e| e.is_empty() || e == taint.effect);
        let key = t.key.as_deref().is_none_or(|k| k.is_empty())
            || t.key.as_deref() == Some(taint.key.as_str());
        let value = match t.operator.as_deref() {
            Some("Exists") => true,
            _ => t.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or(""),
        };
        effect && key && value
    })
}

fn requirement_matches(req: &NodeSelectorRequirement, value: Option<&str>) -> bool {
    let values = req.values.clone().unwrap_or_default();
    match req.operator.as_str() {
        "In" => value.is_some_and(|v| values.iter().any(|x| x == v)),
        "NotIn" => value.is_none_or(|v| values.iter().all(|x| x != v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" | "Lt" => {
            let (Some(v), Some(bound)) = (
                value.and_then(|v| v.parse::<i64>().ok()),
                values.first().and_then(|b| b.parse::<i64>().ok()),
            ) else {
                return false;
            };
            if req.operator == "Gt" {
                v > bound
            } else {
                v < bound
            }
        }
        _ => false,
    }
}

/// Whether a daemon pod of `template` should run on `node`.
pub fn should_run(template: &k8s_openapi::api::core::v1::PodSpec, node: &Node) -> bool {
    let labels = node.labels();
    if let Some(selector) = &template.node_selector {
        if selector.iter().any(|(k, v)| labels.get(k) != Some(v)) {
            return false;
        }
    }
    let required = template
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|a| {
            a.required_during_scheduling_ignored_during_execution
                .as_ref()
        });
    if let Some(required) = required {
        let any_term = required.node_selector_terms.iter().any(|term| {
            term.match_expressions
                .iter()
                .flatten()
                .all(|r| requirement_matches(r, labels.get(&r.key).map(String::as_str)))
                && term.match_fields.iter().flatten().all(|r| {
                    requirement_matches(
                        r,
                        (r.key == "metadata.name")
                            .then(|| node.name_any())
                            .as_deref(),
                    )
                })
        });
        if !any_term {
            return false;
        }
    }
    let mut tolerations = template.tolerations.clone().unwrap_or_default();
    tolerations.extend(daemon_tolerations(template.host_network == Some(true)));
    node.spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .into_iter()
        .flatten()
        .filter(|t| t.effect == "NoSchedule" || t.effect == "NoExecute")
        .all(|t| tolerates(&tolerations, t))
}

/// The node a daemon pod is for: its binding, or the node its affinity pins it to.
/// A rolling update with `maxSurge` (upstream's surge mode): a node running only an old pod
/// gets a pod of the current revision beside it, on at most `max_surge` nodes at a time;
/// the old pod goes once its replacement is ready. An old pod that is not ready is replaced
/// at once. Returns the nodes to create pods on and the pods to delete.
fn surge_plan(
    eligible: &[String],
    by_node: &BTreeMap<String, Vec<Pod>>,
    hash: &str,
    max_surge: i32,
) -> (Vec<String>, Vec<String>) {
    let is_current = |p: &Pod| p.labels().get(HASH_LABEL).map(String::as_str) == Some(hash);
    let surging = eligible
        .iter()
        .filter_map(|n| by_node.get(n))
        .filter(|pods| pods.iter().any(is_current) && pods.iter().any(|p| !is_current(p)))
        .count();
    let mut budget = usize::try_from(max_surge)
        .unwrap_or(0)
        .saturating_sub(surging);
    let (mut create, mut delete) = (Vec::new(), Vec::new());
    for node in eligible {
        let Some(pods) = by_node.get(node) else {
            continue;
        };
        let (current, old): (Vec<&Pod>, Vec<&Pod>) = pods.iter().partition(|p| is_current(p));
        if old.is_empty() {
            continue;
        }
        match current.first() {
            Some(new) if pods::is_ready(new) => delete.extend(old.iter().map(|p| p.name_any())),
            Some(_) => {}
            None if old.iter().any(|p| !pods::is_ready(p)) => {
                delete.extend(old.iter().map(|p| p.name_any()));
            }
            None if budget > 0 => {
                budget -= 1;
                create.push(node.clone());
            }
            None => {}
        }
    }
    (create, delete)
}

fn node_of(pod: &Pod) -> Option<String> {
    let spec = pod.spec.as_ref()?;
    if let Some(node) = &spec.node_name {
        return Some(node.clone());
    }
    spec.affinity
        .as_ref()?
        .node_affinity
        .as_ref()?
        .required_during_scheduling_ignored_during_execution
        .as_ref()?
        .node_selector_terms
        .iter()
        .flat_map(|t| t.match_fields.iter().flatten())
        .find(|r| r.key == "metadata.name" && r.operator == "In")
        .and_then(|r| r.values.as_ref()?.first().cloned())
}

impl Reconciler for DaemonSets {
    type Object = DaemonSet;
    const NAME: &'static str = "daemonset-controller";

    fn watches(&self, c: Controller<DaemonSet>, ctx: &Context) -> Controller<DaemonSet> {
        // Any node change may change where every DaemonSet runs.
        let sets = ctx.informers.get::<DaemonSet>().store();
        c.owns_shared_stream(ctx.informers.get::<Pod>().subscribe())
            .owns_shared_stream(ctx.informers.get::<ControllerRevision>().subscribe())
            .watches_shared_stream(ctx.informers.get::<Node>().subscribe(), move |_| {
                sets.state()
                    .iter()
                    .map(|d| ObjectRef::from_obj(d.as_ref()))
                    .collect::<Vec<_>>()
            })
    }

    async fn reconcile(&self, ds: Arc<DaemonSet>, ctx: Arc<Context>) -> Result<Action, Error> {
        let (Some(namespace), Some(name), Some(uid)) = (
            ds.namespace(),
            ds.metadata.name.clone(),
            ds.metadata.uid.clone(),
        ) else {
            return Ok(Action::await_change());
        };
        if ds.metadata.deletion_timestamp.is_some() {
            return Ok(Action::await_change());
        }
        let spec = ds.spec.clone().unwrap_or_default();
        let selector = Selector::try_from(spec.selector.clone())
            .map_err(|e| Error::Other(format!("{namespace}/{name}: invalid selector: {e}")))?;
        let owner = ds
            .controller_owner_ref(&())
            .ok_or_else(|| Error::Other(format!("{namespace}/{name} has no identity")))?;
        let recorder = ctx.recorder(Self::NAME);
        let reference = ds.object_ref(&());

        // The current revision of the template.
        let revisions_api: Api<ControllerRevision> =
            Api::namespaced(ctx.client.clone(), &namespace);
        let revisions: Vec<ControllerRevision> =
            controlled_by::<ControllerRevision>(&ctx, &namespace, &uid)
                .iter()
                .map(|r| (**r).clone())
                .collect();
        let template = serde_json::to_value(&spec.template).unwrap_or_default();
        let labels = spec
            .template
            .metadata
            .as_ref()
            .and_then(|m| m.labels.clone())
            .unwrap_or_default();
        let collisions = ds.status.as_ref().and_then(|s| s.collision_count);
        let current = history::current(
            &revisions_api,
            &revisions,
            &name,
            &owner,
            &labels,
            &template,
            collisions,
        )
        .await?;
        let hash = current
            .labels()
            .get(HASH_LABEL)
            .cloned()
            .unwrap_or_default();

        let pod_spec = spec.template.spec.clone().unwrap_or_default();
        let nodes = ctx.informers.get::<Node>().store().state();
        let owned: Vec<Pod> = controlled_by::<Pod>(&ctx, &namespace, &uid)
            .iter()
            .filter(|p| pods::selects(&selector, p.meta()))
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .map(|p| (**p).clone())
            .collect();
        let mut by_node: BTreeMap<String, Vec<Pod>> = BTreeMap::new();
        for pod in owned.iter().filter(|p| pods::is_active(p)) {
            if let Some(node) = node_of(pod) {
                by_node.entry(node).or_default().push(pod.clone());
            }
        }
        let pods_api: Api<Pod> = Api::namespaced(ctx.client.clone(), &namespace);
        let eligible: Vec<&Arc<Node>> = nodes.iter().filter(|n| should_run(&pod_spec, n)).collect();
        let mut to_create: Vec<String> = Vec::new();
        let mut to_delete: Vec<String> = Vec::new();
        for node in &eligible {
            let node_name = node.name_any();
            match by_node.get(&node_name) {
                None => to_create.push(node_name),
                Some(pods) if pods.len() > 1 => {
                    // Keep the oldest of the current revision and the oldest of the older
                    // ones (both stay while a surge pod replaces the old one).
                    let (current, older): (Vec<&Pod>, Vec<&Pod>) = pods
                        .iter()
                        .partition(|p| p.labels().get(HASH_LABEL) == Some(&hash));
                    for mut group in [current, older] {
                        group.sort_by_key(|p| p.metadata.creation_timestamp.as_ref().map(|t| t.0));
                        to_delete.extend(group.iter().skip(1).map(|p| p.name_any()));
                    }
                }
                Some(_) => {}
            }
        }
        let eligible_names: Vec<String> = eligible.iter().map(|n| n.name_any()).collect();
        let misscheduled: Vec<String> = by_node
            .iter()
            .filter(|(node, _)| !eligible_names.contains(node))
            .flat_map(|(_, pods)| pods.iter().map(ResourceExt::name_any))
            .collect();
        to_delete.extend(misscheduled.iter().cloned());

        // Rolling update: old pods go within maxUnavailable.
        let desired = i32::try_from(eligible.len()).unwrap_or(i32::MAX);
        let strategy = spec.update_strategy.clone().unwrap_or_default();
        if strategy.type_.as_deref() != Some("OnDelete") {
            let rolling = strategy.rolling_update.clone().unwrap_or_default();
            let max_surge = resolve(rolling.max_surge.as_ref(), desired, 0, true);
            if max_surge > 0 {
                let (create, delete) = surge_plan(&eligible_names, &by_node, &hash, max_surge);
                to_create.extend(create);
                to_delete.extend(delete);
            }
            let max_unavailable =
                resolve(rolling.max_unavailable.as_ref(), desired, 0, true).max(1);
            let unavailable = eligible_names
                .iter()
                .filter(|n| {
                    by_node
                        .get(*n)
                        .is_none_or(|pods| !pods.iter().any(pods::is_ready))
                })
                .count();
            // With a surge, old pods go only once their replacement is ready (above).
            let mut budget = if max_surge > 0 {
                0
            } else {
                usize::try_from(max_unavailable)
                    .unwrap_or(1)
                    .saturating_sub(unavailable)
            };
            for node in &eligible_names {
                let Some(pods) = by_node.get(node) else {
                    continue;
                };
                for pod in pods {
                    let old = pod.labels().get(HASH_LABEL) != Some(&hash);
                    if old && max_surge == 0 && (!pods::is_ready(pod) || budget > 0) {
                        if pods::is_ready(pod) {
                            budget -= 1;
                        }
                        to_delete.push(pod.name_any());
                    }
                }
            }
        }

        for node in &to_create {
            let mut pod = pods::from_template(
                &spec.template,
                &format!("{name}-"),
                &namespace,
                owner.clone(),
            );
            let labels = pod.metadata.labels.get_or_insert_with(BTreeMap::new);
            labels.insert(HASH_LABEL.into(), hash.clone());
            labels.insert(
                "pod-template-generation".into(),
                ds.metadata.generation.unwrap_or(1).to_string(),
            );
            let spec = pod.spec.get_or_insert_with(Default::default);
            let mut tolerations = spec.tolerations.clone().unwrap_or_default();
            for t in daemon_tolerations(spec.host_network == Some(true)) {
                if !tolerations
                    .iter()
                    .any(|x| x.key == t.key && x.effect == t.effect)
                {
                    tolerations.push(t);
                }
            }
            spec.tolerations = Some(tolerations);
            let affinity = serde_json::from_value(json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}],
            }}}))
            .ok();
            spec.affinity = affinity;
            match pods_api.create(&PostParams::default(), &pod).await {
                Ok(created) => {
                    publish(
                        &recorder,
                        &reference,
                        EventType::Normal,
                        "SuccessfulCreate",
                        format!("Created pod: {}", created.name_any()),
                    )
                    .await
                }
                Err(e) => {
                    publish(
                        &recorder,
                        &reference,
                        EventType::Warning,
                        "FailedCreate",
                        format!("Error creating: {e}"),
                    )
                    .await;
                    return Err(e.into());
                }
            }
        }
        to_delete.sort();
        to_delete.dedup();
        for pod in &to_delete {
            match pods_api.delete(pod, &DeleteParams::default()).await {
                Ok(_) => {
                    publish(
                        &recorder,
                        &reference,
                        EventType::Normal,
                        "SuccessfulDelete",
                        format!("Deleted pod: {pod}"),
                    )
                    .await
                }
                Err(e) if not_found(&e) => {}
                Err(e) => return Err(e.into()),
            }
        }

        let active: Vec<&Pod> = by_node
            .iter()
            .filter(|(node, _)| eligible_names.contains(node))
            .filter_map(|(_, pods)| pods.first())
            .collect();
        let count = |f: &dyn Fn(&Pod) -> bool| {
            i32::try_from(active.iter().filter(|p| f(p)).count()).unwrap_or(i32::MAX)
        };
        let ready = count(&pods::is_ready);
        let min_ready = std::time::Duration::from_secs(
            u64::try_from(spec.min_ready_seconds.unwrap_or(0)).unwrap_or(0),
        );
        let now = jiff::Timestamp::now();
        let available = count(&|p| pods::is_available(p, min_ready, now));
        let status = json!({
            "currentNumberScheduled": i32::try_from(active.len()).unwrap_or(i32::MAX),
            "numberMisscheduled": i32::try_from(misscheduled.len()).unwrap_or(i32::MAX),
            "desiredNumberScheduled": desired,
            "numberReady": ready,
            "observedGeneration": ds.metadata.generation.unwrap_or(0),
            "updatedNumberScheduled": count(&|p| p.labels().get(HASH_LABEL) == Some(&hash)),
            "numberAvailable": available,
            "numberUnavailable": (desired - available).max(0),
        });
        let current_status = serde_json::to_value(&ds.status).unwrap_or_default();
        let changed = status
            .as_object()
            .into_iter()
            .flatten()
            .any(|(k, v)| current_status.get(k).unwrap_or(&json!(0)) != v);
        if changed {
            let api: Api<DaemonSet> = Api::namespaced(ctx.client.clone(), &namespace);
            api.patch_status(
                &name,
                &PatchParams::default(),
                &Patch::Merge(json!({ "status": status })),
            )
            .await?;
        }
        let in_use: Vec<String> = owned
            .iter()
            .filter_map(|p| p.labels().get(HASH_LABEL).cloned())
            .chain([hash])
            .collect();
        history::truncate(
            &revisions_api,
            &revisions,
            &in_use,
            spec.revision_history_limit.unwrap_or(10),
        )
        .await?;
        Ok(Action::await_change())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(labels: serde_json::Value, taints: serde_json::Value) -> Node {
        serde_json::from_value(
            json!({"metadata": {"name": "n1", "labels": labels}, "spec": {"taints": taints}}),
        )
        .unwrap()
    }

    #[test]
    fn daemon_pods_run_where_selector_affinity_and_taints_allow() {
        let plain: k8s_openapi::api::core::v1::PodSpec =
            serde_json::from_value(json!({"containers": []})).unwrap();
        assert!(should_run(&plain, &node(json!({}), json!([]))));
        // Upstream's automatic tolerations cover node problems, not other taints.
        assert!(should_run(
            &plain,
            &node(
                json!({}),
                json!([{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}])
            )
        ));
        assert!(!should_run(
            &plain,
            &node(
                json!({}),
                json!([{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}])
            )
        ));
        let tolerant: k8s_openapi::api::core::v1::PodSpec = serde_json::from_value(json!({"containers": [], "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}]})).unwrap();
        assert!(should_run(
            &tolerant,
            &node(
                json!({}),
                json!([{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}])
            )
        ));
        let selective: k8s_openapi::api::core::v1::PodSpec =
            serde_json::from_value(json!({"containers": [], "nodeSelector": {"disk": "ssd"}}))
                .unwrap();
        assert!(!should_run(&selective, &node(json!({}), json!([]))));
        assert!(should_run(
            &selective,
            &node(json!({"disk": "ssd"}), json!([]))
        ));
    }

    fn daemon_pod(name: &str, hash: &str, ready: bool) -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": name, "labels": {HASH_LABEL: hash}},
            "status": {"phase": "Running", "conditions": [
                {"type": "Ready", "status": if ready { "True" } else { "False" }},
            ]},
        }))
        .unwrap()
    }

    #[test]
    fn a_surge_replaces_old_pods_beside_them_within_max_surge() {
        let nodes: Vec<String> = ["a", "b", "c", "d"].iter().map(|s| s.to_string()).collect();
        let by_node = BTreeMap::from([
            // Surging: the new pod is not ready yet, the old one stays.
            (
                "a".to_string(),
                vec![
                    daemon_pod("a-old", "v1", true),
                    daemon_pod("a-new", "v2", false),
                ],
            ),
            // Done surging: the new pod is ready, the old one goes.
            (
                "b".to_string(),
                vec![
                    daemon_pod("b-old", "v1", true),
                    daemon_pod("b-new", "v2", true),
                ],
            ),
            ("c".to_string(), vec![daemon_pod("c-old", "v1", true)]),
            // An old pod that is not ready is replaced at once.
            ("d".to_string(), vec![daemon_pod("d-old", "v1", false)]),
        ]);
        // Two may surge at once: a and b are surging, so c waits.
        let (create, delete) = surge_plan(&nodes, &by_node, "v2", 2);
        assert!(create.is_empty(), "{create:?}");
        assert_eq!(delete, ["b-old", "d-old"]);
        let (create, _) = surge_plan(&nodes, &by_node, "v2", 3);
        assert_eq!(create, ["c"]);
    }
}
