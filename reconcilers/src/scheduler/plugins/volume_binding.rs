//! VolumeBinding: a pod's PersistentVolumeClaims (and generic ephemeral volumes' claims)
//! decide where it can run, as upstream's plugin decides. A claim bound to a volume pins
//! the pod to the nodes the volume's node affinity allows. An unbound claim of a
//! `WaitForFirstConsumer` class either finds an available volume of its class, size and
//! access modes that the node can reach, or is provisioned for the chosen node when its
//! class has a provisioner (within the class's `allowedTopologies`); the scheduler then
//! marks the claim `volume.kubernetes.io/selected-node` for the provisioner. An unbound
//! claim of an `Immediate` class waits for the volume controller to bind it.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{Node, PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::StorageClass;

use crate::scheduler::cache::NodeInfo;
use crate::scheduler::framework::{state, Cluster, Plugin, PreFilter, State, Status};
use crate::scheduler::labels::RequiredNodeAffinity;
use crate::scheduler::pod_info::PodInfo;
use crate::scheduler::queue::ClusterEvent;
use crate::scheduler::resources::amount;

pub const NAME: &str = "VolumeBinding";
/// Upstream's reasons.
pub const NODE_CONFLICT: &str = "node(s) had volume node affinity conflict";
pub const BIND_CONFLICT: &str = "node(s) didn't find available persistent volumes to bind";
pub const UNBOUND_IMMEDIATE: &str = "pod has unbound immediate PersistentVolumeClaims";
pub const MISSING_PV: &str =
    "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)";
pub const TOPOLOGY_CONFLICT: &str = "node(s) didn't match the storage class's allowed topologies";
/// The annotation naming the node a claim is provisioned for.
pub const SELECTED_NODE: &str = "volume.kubernetes.io/selected-node";
/// The provisioner of classes whose volumes are made by hand.
const NO_PROVISIONER: &str = "kubernetes.io/no-provisioner";

/// The names of the claims a pod's volumes use.
pub fn claim_names(pod: &Pod) -> Vec<String> {
    let pod_name = pod.metadata.name.as_deref().unwrap_or_default();
    pod.spec
        .as_ref()
        .and_then(|s| s.volumes.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|v| match (&v.persistent_volume_claim, &v.ephemeral) {
            (Some(claim), _) => Some(claim.claim_name.clone()),
            (None, Some(_)) => Some(format!("{pod_name}-{}", v.name)),
            _ => None,
        })
        .collect()
}

/// What one claim asks of the node.
enum ClaimNeed {
    /// Bound: the volume's node affinity (None: any node).
    Bound(Option<RequiredNodeAffinity>),
    /// To be provisioned for the node, within these allowed topologies (empty: any).
    Provision(Vec<Vec<(String, BTreeSet<String>)>>),
    /// To be bound to one of these available volumes (by their node affinity).
    Match(Vec<Option<RequiredNodeAffinity>>),
}

/// The claims' needs, made once per pod.
struct Needs(Vec<ClaimNeed>);

fn volume_affinity(pv: &PersistentVolume) -> Option<RequiredNodeAffinity> {
    let required = pv
        .spec
        .as_ref()?
        .node_affinity
        .as_ref()?
        .required
        .as_ref()?;
    Some(RequiredNodeAffinity::new(None, Some(required)))
}

/// Whether an available volume can hold the claim: same class, no claim of another, enough
/// capacity, the access modes asked.
fn can_bind(pv: &PersistentVolume, claim: &PersistentVolumeClaim, class: &str) -> bool {
    let (Some(spec), Some(want)) = (pv.spec.as_ref(), claim.spec.as_ref()) else {
        return false;
    };
    if spec.storage_class_name.as_deref().unwrap_or_default() != class {
        return false;
    }
    let free = spec.claim_ref.as_ref().is_none_or(|r| {
        r.name.as_deref() == claim.metadata.name.as_deref()
            && r.namespace.as_deref() == claim.metadata.namespace.as_deref()
    });
    let phase_ok = pv
        .status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .is_none_or(|p| p == "Available" || p == "Pending");
    let capacity = spec
        .capacity
        .as_ref()
        .and_then(|c| c.get("storage"))
        .map_or(0, |q| amount("storage", q));
    let requested = want
        .resources
        .as_ref()
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get("storage"))
        .map_or(0, |q| amount("storage", q));
    let modes: BTreeSet<&String> = spec.access_modes.iter().flatten().collect();
    let modes_ok = want
        .access_modes
        .iter()
        .flatten()
        .all(|m| modes.contains(m));
    free && phase_ok && capacity >= requested && modes_ok
}

fn topologies(class: &StorageClass) -> Vec<Vec<(String, BTreeSet<String>)>> {
    class
        .allowed_topologies
        .iter()
        .flatten()
        .map(|term| {
            term.match_label_expressions
                .iter()
                .flatten()
                .map(|e| (e.key.clone(), e.values.iter().cloned().collect()))
                .collect()
        })
        .collect()
}

fn node_matches(affinity: &Option<RequiredNodeAffinity>, node: &Node) -> bool {
    affinity.as_ref().is_none_or(|a| a.matches(node))
}

/// Marks the pod's unbound claims of `WaitForFirstConsumer` classes that are provisioned
/// (not made by hand) with the node chosen, for the provisioner (upstream's PreBind).
pub async fn select_node(ctx: &crate::Context, pod: &Pod, node: &str) -> Result<(), kube::Error> {
    use kube::api::{Patch, PatchParams};
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    let claims = ctx.informers.get::<PersistentVolumeClaim>().store();
    let classes = ctx.informers.get::<StorageClass>().store();
    let api: kube::Api<PersistentVolumeClaim> =
        kube::Api::namespaced(ctx.client.clone(), &namespace);
    for name in claim_names(pod) {
        let Some(claim) =
            claims.get(&kube::runtime::reflector::ObjectRef::new(&name).within(&namespace))
        else {
            continue;
        };
        let spec = claim.spec.clone().unwrap_or_default();
        let unbound = spec.volume_name.as_deref().is_none_or(str::is_empty);
        let selected = claim
            .metadata
            .annotations
            .as_ref()
            .is_some_and(|a| a.contains_key(SELECTED_NODE));
        let provisioned = spec
            .storage_class_name
            .as_deref()
            .and_then(|c| classes.get(&kube::runtime::reflector::ObjectRef::new(c)))
            .is_some_and(|c| {
                c.volume_binding_mode.as_deref() == Some("WaitForFirstConsumer")
                    && c.provisioner != NO_PROVISIONER
            });
        if unbound && provisioned && !selected {
            let patch = serde_json::json!({"metadata": {"annotations": {SELECTED_NODE: node}}});
            api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await?;
        }
    }
    Ok(())
}

pub struct VolumeBinding;

impl Plugin for VolumeBinding {
    fn name(&self) -> &'static str {
        NAME
    }

    fn pre_filter(&self, pod: &PodInfo, cluster: &Cluster) -> Result<PreFilter, Status> {
        let names = claim_names(&pod.pod);
        if names.is_empty() {
            return Ok(PreFilter::Skip);
        }
        let objects = cluster.objects;
        let mut needs = Vec::new();
        for name in names {
            let Some(claim) = objects.claim(&pod.namespace, &name) else {
                return Err(Status::unresolvable(
                    NAME,
                    format!("persistentvolumeclaim \"{name}\" not found"),
                ));
            };
            if claim.metadata.deletion_timestamp.is_some() {
                return Err(Status::unresolvable(
                    NAME,
                    format!("persistentvolumeclaim \"{name}\" is being deleted"),
                ));
            }
            let spec = claim.spec.clone().unwrap_or_default();
            if let Some(volume) = spec.volume_name.as_deref().filter(|v| !v.is_empty()) {
                match objects.volume(volume) {
                    Some(pv) => needs.push(ClaimNeed::Bound(volume_affinity(&pv))),
                    None => return Err(Status::unresolvable(NAME, MISSING_PV)),
                }
                continue;
            }
            let class_name = spec.storage_class_name.clone().unwrap_or_default();
            let class = objects.storage_class(&class_name);
            let waits = class
                .as_ref()
                .and_then(|c| c.volume_binding_mode.as_deref())
                == Some("WaitForFirstConsumer");
            let Some(class) = class.filter(|_| waits) else {
                return Err(Status::unschedulable(NAME, UNBOUND_IMMEDIATE));
            };
            let candidates: Vec<Option<RequiredNodeAffinity>> = objects
                .volumes()
                .iter()
                .filter(|pv| can_bind(pv, &claim, &class_name))
                .map(|pv| volume_affinity(pv))
                .collect();
            if !candidates.is_empty() || class.provisioner == NO_PROVISIONER {
                needs.push(ClaimNeed::Match(candidates));
            } else {
                needs.push(ClaimNeed::Provision(topologies(&class)));
            }
        }
        Ok(PreFilter::Run(Some(Box::new(Needs(needs)))))
    }

    fn filter(&self, s: Option<&State>, _pod: &PodInfo, node: &NodeInfo) -> Result<(), Status> {
        let (Some(Needs(needs)), Some(object)) = (state::<Needs>(s), node.node.as_ref()) else {
            return Ok(());
        };
        let labels = object.metadata.labels.clone().unwrap_or_default();
        let mut reasons = Vec::new();
        for need in needs {
            let reason = match need {
                ClaimNeed::Bound(affinity) => {
                    (!node_matches(affinity, object)).then_some(NODE_CONFLICT)
                }
                ClaimNeed::Match(candidates) => {
                    (!candidates.iter().any(|a| node_matches(a, object))).then_some(BIND_CONFLICT)
                }
                ClaimNeed::Provision(terms) => {
                    let allowed = terms.is_empty()
                        || terms.iter().any(|term| {
                            term.iter().all(|(key, values)| {
                                labels.get(key).is_some_and(|v| values.contains(v))
                            })
                        });
                    (!allowed).then_some(TOPOLOGY_CONFLICT)
                }
            };
            if let Some(reason) = reason {
                if !reasons.iter().any(|r: &String| r == reason) {
                    reasons.push(reason.to_string());
                }
            }
        }
        if reasons.is_empty() {
            Ok(())
        } else {
            Err(Status {
                code: crate::scheduler::framework::Code::UnschedulableAndUnresolvable,
                reasons,
                plugin: NAME,
            })
        }
    }

    fn cares(&self, event: ClusterEvent) -> bool {
        matches!(
            event,
            ClusterEvent::NodeAdd | ClusterEvent::NodeUpdate(_) | ClusterEvent::StorageChange
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pv(name: &str, class: &str, size: &str, node: Option<&str>) -> PersistentVolume {
        let mut spec = json!({"storageClassName": class, "capacity": {"storage": size},
            "accessModes": ["ReadWriteOnce"], "hostPath": {"path": "/tmp"}});
        if let Some(node) = node {
            spec["nodeAffinity"] = json!({"required": {"nodeSelectorTerms": [{"matchExpressions": [
                {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]}]}});
        }
        serde_json::from_value(json!({"metadata": {"name": name}, "spec": spec})).unwrap()
    }

    fn claim(size: &str) -> PersistentVolumeClaim {
        serde_json::from_value(json!({"metadata": {"name": "c", "namespace": "ns"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}}))
        .unwrap()
    }

    #[test]
    fn an_available_volume_binds_by_class_size_and_modes() {
        assert!(can_bind(
            &pv("a", "local", "10Gi", None),
            &claim("5Gi"),
            "local"
        ));
        assert!(!can_bind(
            &pv("a", "local", "1Gi", None),
            &claim("5Gi"),
            "local"
        ));
        assert!(!can_bind(
            &pv("a", "other", "10Gi", None),
            &claim("5Gi"),
            "local"
        ));
        let affinity = volume_affinity(&pv("a", "local", "1Gi", Some("n1")));
        let node = |name: &str| -> Node {
            serde_json::from_value(
                json!({"metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}}}),
            )
            .unwrap()
        };
        assert!(node_matches(&affinity, &node("n1")));
        assert!(!node_matches(&affinity, &node("n2")));
    }

    #[test]
    fn claims_come_from_claim_volumes_and_ephemeral_volumes() {
        let pod: Pod =
            serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": {"containers": [],
            "volumes": [
                {"name": "data", "persistentVolumeClaim": {"claimName": "data-0"}},
                {"name": "scratch", "ephemeral": {"volumeClaimTemplate": {"spec": {}}}},
                {"name": "tmp", "emptyDir": {}},
            ]}}))
            .unwrap();
        assert_eq!(claim_names(&pod), ["data-0", "p-scratch"]);
    }
}
