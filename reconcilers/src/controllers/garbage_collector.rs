//! `garbage-collector-controller`: ownerReferences for every resource, as upstream's
//! garbage collector honours them.
//!
//! It keeps a graph of every object's identity and owners, fed by a metadata-only watch of
//! every resource that can be listed, watched and deleted (the graph needs all of them,
//! whatever kind owns what, so it does not go through the typed informers). Once every watch
//! has listed, it acts on:
//! - an object whose owners are all gone: deleted (in the background);
//! - an object with some owners gone: the dangling references removed;
//! - an owner deleted with the `orphan` finalizer: its dependents released, then the
//!   finalizer removed (`--cascade=orphan`);
//! - an owner deleted with the `foregroundDeletion` finalizer: its dependents deleted in the
//!   foreground too, and the finalizer removed once no dependent that blocks its deletion
//!   is left (`--cascade=foreground`).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{DeleteParams, DynamicObject, Patch, PatchParams, PropagationPolicy};
use kube::core::{ApiResource, GroupVersionKind, PartialObjectMeta};
use kube::runtime::watcher;
use kube::Api;
use serde_json::json;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::not_found;
use crate::Context;

const ORPHAN: &str = "orphan";
const FOREGROUND: &str = "foregroundDeletion";

/// What the graph knows of one object.
#[derive(Clone, Debug)]
struct Node {
    resource: Arc<ApiResource>,
    namespace: Option<String>,
    name: String,
    owners: Vec<OwnerReference>,
    deleting: bool,
    finalizers: Vec<String>,
}

#[derive(Default)]
struct Graph {
    nodes: HashMap<String, Node>,
    /// Owner uid to the uids of the objects that name it.
    dependents: HashMap<String, HashSet<String>>,
}

impl Graph {
    fn upsert(&mut self, uid: String, node: Node) {
        self.unlink(&uid);
        for owner in &node.owners {
            self.dependents
                .entry(owner.uid.clone())
                .or_default()
                .insert(uid.clone());
        }
        self.nodes.insert(uid, node);
    }

    fn remove(&mut self, uid: &str) {
        self.unlink(uid);
        self.nodes.remove(uid);
    }

    fn unlink(&mut self, uid: &str) {
        let owners: Vec<String> = self
            .nodes
            .get(uid)
            .map(|n| n.owners.iter().map(|o| o.uid.clone()).collect())
            .unwrap_or_default();
        for owner in owners {
            if let Some(set) = self.dependents.get_mut(&owner) {
                set.remove(uid);
                if set.is_empty() {
                    self.dependents.remove(&owner);
                }
            }
        }
    }

    fn dependents_of(&self, uid: &str) -> Vec<String> {
        self.dependents
            .get(uid)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }
}

/// The resources whose objects can own and be owned: everything listable, watchable and
/// deletable.
fn resources() -> Vec<Arc<ApiResource>> {
    keelson_apis::catalogue::builtin()
        .iter()
        .filter(|r| r.has_verb("list") && r.has_verb("watch") && r.has_verb("delete"))
        .map(|r| {
            let gvk = GroupVersionKind::gvk(r.group(), r.version(), r.facts.kind);
            Arc::new(ApiResource::from_gvk_with_plural(&gvk, r.plural()))
        })
        .collect()
}

/// Runs the garbage collector until `shutdown`.
pub async fn run(ctx: Arc<Context>, shutdown: CancellationToken) {
    let graph = Arc::new(Mutex::new(Graph::default()));
    let (queue, mut work) = mpsc::unbounded_channel::<String>();
    let resources = resources();
    let (synced_tx, mut synced_rx) = mpsc::unbounded_channel::<()>();
    let mut watches = Vec::new();
    for resource in resources.iter().cloned() {
        watches.push(tokio::spawn(watch(
            ctx.client.clone(),
            resource,
            graph.clone(),
            queue.clone(),
            synced_tx.clone(),
        )));
    }
    // Nothing is collected until every resource has been listed once: an owner not yet
    // seen is not an owner that is gone.
    let mut listed = 0;
    while listed < resources.len() {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            s = synced_rx.recv() => match s {
                Some(()) => listed += 1,
                None => break,
            },
        }
    }
    let collector = Collector {
        client: ctx.client.clone(),
        graph: graph.clone(),
        queue: queue.clone(),
    };
    // Everything seen so far gets one look.
    let all: Vec<String> = lock(&graph).nodes.keys().cloned().collect();
    for uid in all {
        let _ = queue.send(uid);
    }
    loop {
        let uid = tokio::select! {
            _ = shutdown.cancelled() => break,
            uid = work.recv() => match uid {
                Some(uid) => uid,
                None => break,
            },
        };
        if let Err(e) = collector.process(&uid).await {
            tracing::debug!(controller = "garbage-collector-controller", "{uid}: {e}");
            let queue = queue.clone();
            // Tried again a little later.
            tokio::spawn(async move {
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                let _ = queue.send(uid);
            });
        }
    }
    for w in watches {
        w.abort();
    }
}

fn lock(graph: &Mutex<Graph>) -> std::sync::MutexGuard<'_, Graph> {
    match graph.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// Feeds the graph with one resource's objects and queues what changed.
async fn watch(
    client: kube::Client,
    resource: Arc<ApiResource>,
    graph: Arc<Mutex<Graph>>,
    queue: mpsc::UnboundedSender<String>,
    synced: mpsc::UnboundedSender<()>,
) {
    let api: Api<PartialObjectMeta<DynamicObject>> = Api::all_with(client, &*resource);
    let stream = watcher::watcher(api, watcher::Config::default());
    futures::pin_mut!(stream);
    let mut first_list = true;
    while let Some(event) = stream.next().await {
        let event = match event {
            Ok(event) => event,
            Err(e) => {
                tracing::debug!(resource = %resource.plural, "metadata watch failed, retrying: {e}");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                continue;
            }
        };
        match event {
            watcher::Event::Apply(obj) | watcher::Event::InitApply(obj) => {
                let meta = obj.metadata;
                let Some(uid) = meta.uid.clone() else {
                    continue;
                };
                let node = Node {
                    resource: resource.clone(),
                    namespace: meta.namespace.clone(),
                    name: meta.name.clone().unwrap_or_default(),
                    owners: meta.owner_references.clone().unwrap_or_default(),
                    deleting: meta.deletion_timestamp.is_some(),
                    finalizers: meta.finalizers.clone().unwrap_or_default(),
                };
                lock(&graph).upsert(uid.clone(), node);
                let _ = queue.send(uid);
            }
            watcher::Event::Delete(obj) => {
                let Some(uid) = obj.metadata.uid.clone() else {
                    continue;
                };
                // Its dependents may now be orphans; its owners may be waiting for it.
                let affected = {
                    let mut graph = lock(&graph);
                    let owners: Vec<String> = graph
                        .nodes
                        .get(&uid)
                        .map(|n| n.owners.iter().map(|o| o.uid.clone()).collect())
                        .unwrap_or_default();
                    graph.remove(&uid);
                    let mut affected = graph.dependents_of(&uid);
                    affected.extend(owners);
                    affected
                };
                for other in affected {
                    let _ = queue.send(other);
                }
            }
            watcher::Event::InitDone => {
                if first_list {
                    first_list = false;
                    let _ = synced.send(());
                }
            }
            watcher::Event::Init => {}
        }
    }
}

struct Collector {
    client: kube::Client,
    graph: Arc<Mutex<Graph>>,
    queue: mpsc::UnboundedSender<String>,
}

impl Collector {
    fn api(&self, node: &Node) -> Api<DynamicObject> {
        match &node.namespace {
            Some(ns) => Api::namespaced_with(self.client.clone(), ns, &*node.resource),
            None => Api::all_with(self.client.clone(), &*node.resource),
        }
    }

    async fn process(&self, uid: &str) -> Result<(), kube::Error> {
        let (node, dependents, owners) = {
            let graph = lock(&self.graph);
            let Some(node) = graph.nodes.get(uid).cloned() else {
                return Ok(());
            };
            let dependents: Vec<(String, Node)> = graph
                .dependents_of(uid)
                .into_iter()
                .filter_map(|d| graph.nodes.get(&d).cloned().map(|n| (d, n)))
                .collect();
            let owners: Vec<(OwnerReference, Option<Node>)> = node
                .owners
                .iter()
                .map(|o| (o.clone(), graph.nodes.get(&o.uid).cloned()))
                .collect();
            (node, dependents, owners)
        };
        if node.deleting && node.finalizers.iter().any(|f| f == ORPHAN) {
            return self.orphan(uid, &node, &dependents).await;
        }
        if node.deleting && node.finalizers.iter().any(|f| f == FOREGROUND) {
            return self.delete_in_foreground(uid, &node, &dependents).await;
        }
        if owners.is_empty() || node.deleting {
            return Ok(());
        }
        let gone: Vec<&OwnerReference> = owners
            .iter()
            .filter(|(_, n)| n.is_none())
            .map(|(o, _)| o)
            .collect();
        let blocking_foreground = owners.iter().any(|(o, n)| {
            o.block_owner_deletion == Some(true)
                && n.as_ref()
                    .is_some_and(|n| n.deleting && n.finalizers.iter().any(|f| f == FOREGROUND))
        });
        if gone.len() == owners.len() {
            return self.delete(&node, PropagationPolicy::Background).await;
        }
        if blocking_foreground
            && owners.iter().all(|(_, n)| {
                n.as_ref()
                    .is_none_or(|n| n.deleting && n.finalizers.iter().any(|f| f == FOREGROUND))
            })
        {
            return self.delete(&node, PropagationPolicy::Foreground).await;
        }
        if !gone.is_empty() {
            let gone: HashSet<&str> = gone.iter().map(|o| o.uid.as_str()).collect();
            let kept: Vec<&OwnerReference> = node
                .owners
                .iter()
                .filter(|o| !gone.contains(o.uid.as_str()))
                .collect();
            return self
                .patch(&node, json!({"metadata": {"ownerReferences": kept}}))
                .await;
        }
        Ok(())
    }

    async fn delete(&self, node: &Node, policy: PropagationPolicy) -> Result<(), kube::Error> {
        let params = DeleteParams {
            propagation_policy: Some(policy),
            ..DeleteParams::default()
        };
        match self.api(node).delete(&node.name, &params).await {
            Ok(_) => Ok(()),
            Err(e) if not_found(&e) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn patch(&self, node: &Node, patch: serde_json::Value) -> Result<(), kube::Error> {
        match self
            .api(node)
            .patch(&node.name, &PatchParams::default(), &Patch::Merge(patch))
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if not_found(&e) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn remove_finalizer(&self, node: &Node, finalizer: &str) -> Result<(), kube::Error> {
        let kept: Vec<&String> = node.finalizers.iter().filter(|f| *f != finalizer).collect();
        self.patch(node, json!({"metadata": {"finalizers": kept}}))
            .await
    }

    /// Releases every dependent, then lets the owner go.
    async fn orphan(
        &self,
        uid: &str,
        node: &Node,
        dependents: &[(String, Node)],
    ) -> Result<(), kube::Error> {
        for (_, dependent) in dependents {
            let kept: Vec<&OwnerReference> =
                dependent.owners.iter().filter(|o| o.uid != uid).collect();
            self.patch(dependent, json!({"metadata": {"ownerReferences": kept}}))
                .await?;
        }
        self.remove_finalizer(node, ORPHAN).await
    }

    /// Deletes the dependents (in the foreground in turn); once none that blocks the owner's
    /// deletion is left, lets the owner go.
    async fn delete_in_foreground(
        &self,
        uid: &str,
        node: &Node,
        dependents: &[(String, Node)],
    ) -> Result<(), kube::Error> {
        let mut blocking = false;
        for (dependent_uid, dependent) in dependents {
            let blocks = dependent
                .owners
                .iter()
                .any(|o| o.uid == uid && o.block_owner_deletion == Some(true));
            blocking |= blocks;
            if !dependent.deleting {
                let policy = if blocks {
                    PropagationPolicy::Foreground
                } else {
                    PropagationPolicy::Background
                };
                self.delete(dependent, policy).await?;
                let _ = self.queue.send(dependent_uid.clone());
            }
        }
        if blocking {
            // The owner is looked at again as its dependents go.
            return Ok(());
        }
        self.remove_finalizer(node, FOREGROUND).await
    }
}
