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

impl NodeIpam {
    /// The CIDRs in use: the cache's nodes' and those given but not yet seen there.
    fn taken(&self, ctx: &Context) -> Result<BTreeSet<Cidr>, Error> {
        let nodes = ctx.informers.get::<Node>().store().state();
        let mut given = self
            .given
            .lock()
            .map_err(|_| Error::Other("node-ipam state poisoned".into()))?;
        let present: BTreeSet<&str> = nodes
            .iter()
            .filter_map(|n| n.metadata.name.as_deref())
            .collect();
        // Forget what the cache now shows, and what was given to nodes since deleted.
        given.retain(|name, _| {
            present.contains(name.as_str())
                && !nodes
                    .iter()
                    .any(|n| n.metadata.name.as_deref() == Some(name) && pod_cidr(n).is_some())
        });
        Ok(nodes
            .iter()
            .filter_map(|n| pod_cidr(n))
            .chain(given.values().copied())
            .collect())
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
        if let Some(cidr) = self.given.lock().ok().and_then(|g| g.get(&name).copied()) {
            // Given already; the informer has not shown it yet.
            tracing::debug!(node = %name, %cidr, "pod CIDR given, awaiting the cache");
            return Ok(Action::requeue(Duration::from_secs(1)));
        }
        let cluster = ctx.cluster_cidr;
        let taken = self.taken(&ctx)?;
        let Some(cidr) = free_node_cidr(&cluster, &taken) else {
            publish(
                &ctx.recorder("cidrAllocator"),
                &node.object_ref(&()),
                EventType::Normal,
                "CIDRNotAvailable",
                format!(
                    "Node {name} status is now: CIDRNotAvailable (no /{NODE_CIDR_MASK_SIZE} is \
                     left in the cluster CIDR {cluster})"
                ),
            )
            .await;
            return Ok(Action::requeue(FULL_RETRY));
        };
        if let Ok(mut given) = self.given.lock() {
            given.insert(name.clone(), cidr);
        }
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
