//! `node-ipam-controller`: every Node without a pod CIDR gets the lowest free `/24` of
//! `--cluster-cidr` in `spec.podCIDR` and `spec.podCIDRs`, as upstream's range allocator
//! does. CIDRs are taken from the nodes the informer has seen plus those this loop handed
//! out itself, so two nodes never get one CIDR before the cache shows the first write. A
//! cluster CIDR with no room left gets upstream's `CIDRNotAvailable` event on the node.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::core::v1::Node;
use keelson_apis::cidr::{free_node_cidr, Cidr, NODE_CIDR_MASK_SIZE};
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::{Api, Resource};
use serde_json::json;

use super::{not_found, publish};
use crate::{Context, Error, Reconciler};

/// `--cluster-cidr` unless given: the conventional pod network (kind, flannel).
pub const DEFAULT_CLUSTER_CIDR: &str = "10.244.0.0/16";
/// [`DEFAULT_CLUSTER_CIDR`], parsed.
pub fn default_cluster_cidr() -> Cidr {
    Cidr::new(std::net::Ipv4Addr::new(10, 244, 0, 0), 16)
}

/// `--cluster-cidr`: an IPv4 CIDR between a /8 (node addresses are named after pod CIDRs
/// within one /8) and a /24 (one node's).
pub fn parse_cluster_cidr(text: &str) -> Result<Cidr, String> {
    let cidr: Cidr = text.parse().map_err(|e| format!("{e}"))?;
    if !(8..=NODE_CIDR_MASK_SIZE).contains(&cidr.prefix()) {
        return Err(format!(
            "{cidr} must be between a /8 and a /{NODE_CIDR_MASK_SIZE}"
        ));
    }
    Ok(cidr)
}

/// How soon a node is tried again when the cluster CIDR was full.
const FULL_RETRY: Duration = Duration::from_secs(30);

#[derive(Default)]
pub struct NodeIpam {
    /// CIDRs this loop gave, by node, until the informer shows them.
    given: Mutex<BTreeMap<String, Cidr>>,
}

fn pod_cidr(node: &Node) -> Option<Cidr> {
    node.spec.as_ref()?.pod_cidr.as_deref()?.parse().ok()
}

/// What a node without a pod CIDR gets.
#[derive(Debug, PartialEq)]
enum Allocation {
    /// The CIDR this loop gave it already, which the cache does not show yet.
    Given(Cidr),
    /// The lowest free `/24`, now recorded as given to it.
    New(Cidr),
    /// No `/24` is left (upstream's `CIDRNotAvailable`).
    Full,
}

/// The pod CIDR for node `name` out of `cluster`, given the cache's `nodes` and the CIDRs
/// this loop has `given` (which forgets those the cache now shows, and those of nodes since
/// deleted).
fn allocate(
    cluster: &Cidr,
    nodes: &[Arc<Node>],
    given: &mut BTreeMap<String, Cidr>,
    name: &str,
) -> Allocation {
    if let Some(cidr) = given.get(name) {
        return Allocation::Given(*cidr);
    }
    let present: BTreeSet<&str> = nodes
        .iter()
        .filter_map(|n| n.metadata.name.as_deref())
        .collect();
    given.retain(|name, _| {
        present.contains(name.as_str())
            && !nodes
                .iter()
                .any(|n| n.metadata.name.as_deref() == Some(name) && pod_cidr(n).is_some())
    });
    let taken: BTreeSet<Cidr> = nodes
        .iter()
        .filter_map(|n| pod_cidr(n))
        .chain(given.values().copied())
        .collect();
    match free_node_cidr(cluster, &taken) {
        Some(cidr) => {
            given.insert(name.to_string(), cidr);
            Allocation::New(cidr)
        }
        None => Allocation::Full,
    }
}

impl Reconciler for NodeIpam {
    type Object = Node;
    const NAME: &'static str = "node-ipam-controller";

    fn selects(&self, node: &Node) -> bool {
        pod_cidr(node).is_none()
    }

    async fn reconcile(&self, node: Arc<Node>, ctx: Arc<Context>) -> Result<Action, Error> {
        let Some(name) = node.metadata.name.clone() else {
            return Ok(Action::await_change());
        };
        if node.metadata.deletion_timestamp.is_some() || pod_cidr(&node).is_some() {
            return Ok(Action::await_change());
        }
        let cluster = ctx.cluster_cidr;
        let nodes = ctx.informers.get::<Node>().store().state();
        let allocation = {
            let mut given = self
                .given
                .lock()
                .map_err(|_| Error::Other("node-ipam state poisoned".into()))?;
            allocate(&cluster, &nodes, &mut given, &name)
        };
        let cidr = match allocation {
            Allocation::New(cidr) => cidr,
            Allocation::Given(cidr) => {
                tracing::debug!(node = %name, %cidr, "pod CIDR given, awaiting the cache");
                return Ok(Action::requeue(Duration::from_secs(1)));
            }
            Allocation::Full => {
                publish(
                    &ctx.recorder("cidrAllocator"),
                    &node.object_ref(&()),
                    EventType::Normal,
                    "CIDRNotAvailable",
                    format!(
                        "Node {name} status is now: CIDRNotAvailable (no /{NODE_CIDR_MASK_SIZE} \
                         is left in the cluster CIDR {cluster})"
                    ),
                )
                .await;
                return Ok(Action::requeue(FULL_RETRY));
            }
        };
        let api: Api<Node> = Api::all(ctx.client.clone());
        let patch = json!({"spec": {"podCIDR": cidr.to_string(), "podCIDRs": [cidr.to_string()]}});
        match api
            .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => {
                tracing::info!(node = %name, %cidr, "gave the node its pod CIDR");
                Ok(Action::await_change())
            }
            Err(e) => {
                if let Ok(mut given) = self.given.lock() {
                    given.remove(&name);
                }
                if not_found(&e) {
                    Ok(Action::await_change())
                } else {
                    Err(e.into())
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, pod_cidr: Option<&str>) -> Arc<Node> {
        let spec = match pod_cidr {
            Some(cidr) => json!({"podCIDR": cidr, "podCIDRs": [cidr]}),
            None => json!({}),
        };
        Arc::new(serde_json::from_value(json!({"metadata": {"name": name}, "spec": spec})).unwrap())
    }

    fn cidr(text: &str) -> Cidr {
        text.parse().unwrap()
    }

    #[test]
    fn first_node_gets_the_lowest_24_of_the_cluster_cidr() {
        let mut given = BTreeMap::new();
        let allocation = allocate(&default_cluster_cidr(), &[node("a", None)], &mut given, "a");
        assert_eq!(allocation, Allocation::New(cidr("10.244.0.0/24")));
        assert_eq!(given.get("a"), Some(&cidr("10.244.0.0/24")));
    }

    #[test]
    fn next_node_gets_the_lowest_24_no_node_has() {
        let nodes = [
            node("a", Some("10.244.0.0/24")),
            node("b", Some("10.244.2.0/24")),
            node("c", None),
        ];
        let allocation = allocate(&default_cluster_cidr(), &nodes, &mut BTreeMap::new(), "c");
        assert_eq!(allocation, Allocation::New(cidr("10.244.1.0/24")));
    }

    #[test]
    fn cidr_given_but_not_yet_in_the_cache_is_not_given_again() {
        let mut given = BTreeMap::from([("a".to_string(), cidr("10.244.0.0/24"))]);
        let nodes = [node("a", None), node("b", None)];
        let allocation = allocate(&default_cluster_cidr(), &nodes, &mut given, "b");
        assert_eq!(allocation, Allocation::New(cidr("10.244.1.0/24")));
    }

    #[test]
    fn node_given_a_cidr_gets_the_same_one_while_the_cache_catches_up() {
        let mut given = BTreeMap::from([("a".to_string(), cidr("10.244.3.0/24"))]);
        let allocation = allocate(&default_cluster_cidr(), &[node("a", None)], &mut given, "a");
        assert_eq!(allocation, Allocation::Given(cidr("10.244.3.0/24")));
    }

    #[test]
    fn cidr_given_to_a_node_since_deleted_is_free_again() {
        let mut given = BTreeMap::from([("gone".to_string(), cidr("10.244.0.0/24"))]);
        let allocation = allocate(&default_cluster_cidr(), &[node("b", None)], &mut given, "b");
        assert_eq!(allocation, Allocation::New(cidr("10.244.0.0/24")));
        assert_eq!(given.get("gone"), None);
    }

    #[test]
    fn given_cidr_is_forgotten_once_the_cache_shows_it() {
        let mut given = BTreeMap::from([("a".to_string(), cidr("10.244.0.0/24"))]);
        let nodes = [node("a", Some("10.244.0.0/24")), node("b", None)];
        let allocation = allocate(&default_cluster_cidr(), &nodes, &mut given, "b");
        assert_eq!(allocation, Allocation::New(cidr("10.244.1.0/24")));
        assert_eq!(given.get("a"), None);
    }

    #[test]
    fn full_cluster_cidr_is_cidr_not_available() {
        let cluster = cidr("10.244.0.0/23");
        let nodes = [
            node("a", Some("10.244.0.0/24")),
            node("b", Some("10.244.1.0/24")),
            node("c", None),
        ];
        let mut given = BTreeMap::new();
        assert_eq!(
            allocate(&cluster, &nodes, &mut given, "c"),
            Allocation::Full
        );
        assert!(given.is_empty());
    }

    #[test]
    fn only_nodes_without_a_pod_cidr_are_reconciled() {
        let ipam = NodeIpam::default();
        assert!(ipam.selects(&node("a", None)));
        assert!(!ipam.selects(&node("b", Some("10.244.0.0/24"))));
    }

    #[test]
    fn cluster_cidr_must_be_between_a_8_and_a_24() {
        assert_eq!(parse_cluster_cidr("10.0.0.0/8"), Ok(cidr("10.0.0.0/8")));
        assert!(parse_cluster_cidr("10.0.0.0/7").is_err());
        assert!(parse_cluster_cidr("10.244.0.0/25").is_err());
    }
}
