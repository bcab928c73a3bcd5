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
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
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
#[derive(Clone, Debug, PartialEq)]
struct Node {
    resource: Arc<ApiResource>,
    namespace: Option<String>,
    name: String,
    owners: Vec<OwnerReference>,
    deleting: bool,
    finalizers: Vec<String>,
}

impl Node {
    /// The object's uid and what the graph keeps of it; `None` without a uid.
    fn of(resource: Arc<ApiResource>, meta: &ObjectMeta) -> Option<(String, Node)> {
        let uid = meta.uid.clone()?;
        let node = Node {
            resource,
            namespace: meta.namespace.clone(),
            name: meta.name.clone().unwrap_or_default(),
            owners: meta.owner_references.clone().unwrap_or_default(),
            deleting: meta.deletion_timestamp.is_some(),
            finalizers: meta.finalizers.clone().unwrap_or_default(),
        };
        Some((uid, node))
    }

    fn has_finalizer(&self, finalizer: &str) -> bool {
        self.finalizers.iter().any(|f| f == finalizer)
    }
}

/// What the collector does about one object.
#[derive(Debug, PartialEq)]
enum Decision {
    Nothing,
    /// Its owners are gone (or deleting it in the foreground): it is deleted.
    Delete(PropagationPolicy),
    /// Some owners are gone: only these references are kept.
    KeepOwners(Vec<OwnerReference>),
    /// It is deleted with the `orphan` finalizer: each dependent keeps these references
    /// (all but the ones to it), then the finalizer goes.
    Orphan(Vec<(Node, Vec<OwnerReference>)>),
    /// It is deleted with the `foregroundDeletion` finalizer: these dependents (uid, node)
    /// are deleted with this propagation; the finalizer goes unless `blocked` (a dependent
    /// that blocks its deletion is left).
    Foreground {
        delete: Vec<(String, Node, PropagationPolicy)>,
        blocked: bool,
    },
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

    /// What to do about the object `uid` as the graph stands. An owner reference whose uid
    /// the graph does not hold is a gone owner, whatever object has its name now.
    fn decide(&self, uid: &str) -> Decision {
        let Some(node) = self.nodes.get(uid) else {
            return Decision::Nothing;
        };
        let dependents: Vec<(String, &Node)> = self
            .dependents_of(uid)
            .into_iter()
            .filter_map(|d| self.nodes.get(&d).map(|n| (d, n)))
            .collect();
        if node.deleting && node.has_finalizer(ORPHAN) {
            return Decision::Orphan(
                dependents
                    .into_iter()
                    .map(|(_, d)| {
                        let kept = d.owners.iter().filter(|o| o.uid != uid).cloned();
                        (d.clone(), kept.collect())
                    })
                    .collect(),
            );
        }
        if node.deleting && node.has_finalizer(FOREGROUND) {
            let mut blocked = false;
            let mut delete = Vec::new();
            for (dependent_uid, dependent) in dependents {
                let blocks = dependent
                    .owners
                    .iter()
                    .any(|o| o.uid == uid && o.block_owner_deletion == Some(true));
                blocked |= blocks;
                if !dependent.deleting {
                    let policy = if blocks {
                        PropagationPolicy::Foreground
                    } else {
                        PropagationPolicy::Background
                    };
                    delete.push((dependent_uid, dependent.clone(), policy));
                }
            }
            return Decision::Foreground { delete, blocked };
        }
        if node.owners.is_empty() || node.deleting {
            return Decision::Nothing;
        }
        let owners: Vec<(&OwnerReference, Option<&Node>)> = node
            .owners
            .iter()
            .map(|o| (o, self.nodes.get(&o.uid)))
            .collect();
        let gone: Vec<&str> = owners
            .iter()
            .filter(|(_, n)| n.is_none())
            .map(|(o, _)| o.uid.as_str())
            .collect();
        let deleting_in_foreground = |n: &Node| n.deleting && n.has_finalizer(FOREGROUND);
        let blocking_foreground = owners.iter().any(|(o, n)| {
            o.block_owner_deletion == Some(true) && n.is_some_and(deleting_in_foreground)
        });
        if gone.len() == owners.len() {
            return Decision::Delete(PropagationPolicy::Background);
        }
        if blocking_foreground
            && owners
                .iter()
                .all(|(_, n)| n.is_none_or(deleting_in_foreground))
        {
            return Decision::Delete(PropagationPolicy::Foreground);
        }
        if !gone.is_empty() {
            return Decision::KeepOwners(
                node.owners
                    .iter()
                    .filter(|o| !gone.contains(&o.uid.as_str()))
                    .cloned()
                    .collect(),
            );
        }
        Decision::Nothing
    }
}

/// Resources the collector leaves alone, as upstream's `DefaultIgnoredResources`: events
/// (served under two groups) are the most written objects and never own anything.
const IGNORED: [(&str, &str); 2] = [("", "events"), ("events.k8s.io", "events")];

/// The resources whose objects can own and be owned: everything listable, watchable and
/// deletable but the ignored ones.
fn resources() -> Vec<Arc<ApiResource>> {
    keelson_apis::catalogue::builtin()
        .iter()
        .filter(|r| r.has_verb("list") && r.has_verb("watch") && r.has_verb("delete"))
        .filter(|r| !IGNORED.contains(&(r.group(), r.plural())))
        .map(|r| {
            let gvk = GroupVersionKind::gvk(r.group(), r.version(), r.facts.kind);
            Arc::new(ApiResource::from_gvk_with_plural(&gvk, r.plural()))
        })
        .collect()
}

/// The served custom resources (the storage version of each Established CRD): their
/// objects own and are owned like any other.
async fn custom_resources(client: &kube::Client) -> Vec<Arc<ApiResource>> {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let Ok(list) = crds.list(&Default::default()).await else {
        return Vec::new();
    };
    list.items
        .iter()
        .filter_map(|crd| {
            let status = crd.status.as_ref()?;
            let established = status
                .conditions
                .iter()
                .flatten()
                .any(|c| c.type_ == "Established" && c.status == "True");
            let version = crd.spec.versions.iter().find(|v| v.storage)?;
            let names = status.accepted_names.as_ref()?;
            let plural = &names.plural;
            (established && !plural.is_empty()).then(|| {
                let gvk = GroupVersionKind::gvk(&crd.spec.group, &version.name, &names.kind);
                Arc::new(ApiResource::from_gvk_with_plural(&gvk, plural))
            })
        })
        .collect()
}

/// How often CRDs are looked at for new kinds to watch.
const DISCOVERY_PERIOD: std::time::Duration = std::time::Duration::from_secs(5);

/// Runs the garbage collector until `shutdown`.
pub async fn run(ctx: Arc<Context>, shutdown: CancellationToken) {
    let graph = Arc::new(Mutex::new(Graph::default()));
    let (queue, mut work) = mpsc::unbounded_channel::<String>();
    let mut resources = resources();
    resources.extend(custom_resources(&ctx.client).await);
    let known = Arc::new(Mutex::new(resources.clone()));
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
    // Kinds defined later are watched once their CRDs are Established.
    watches.push(tokio::spawn(discover(
        ctx.client.clone(),
        known.clone(),
        graph.clone(),
        queue.clone(),
    )));
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
        known,
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

/// Watches the kinds of CRDs established after the collector started.
async fn discover(
    client: kube::Client,
    known: Arc<Mutex<Vec<Arc<ApiResource>>>>,
    graph: Arc<Mutex<Graph>>,
    queue: mpsc::UnboundedSender<String>,
) {
    let (synced, _) = mpsc::unbounded_channel::<()>();
    let mut watches = Vec::new();
    loop {
        tokio::time::sleep(DISCOVERY_PERIOD).await;
        for resource in custom_resources(&client).await {
            let new = {
                let mut known = match known.lock() {
                    Ok(k) => k,
                    Err(poisoned) => poisoned.into_inner(),
                };
                let seen = known
                    .iter()
                    .any(|r| r.group == resource.group && r.plural == resource.plural);
                if !seen {
                    known.push(resource.clone());
                }
                !seen
            };
            if new {
                watches.push(tokio::spawn(watch(
                    client.clone(),
                    resource,
                    graph.clone(),
                    queue.clone(),
                    synced.clone(),
                )));
            }
        }
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
                let Some((uid, node)) = Node::of(resource.clone(), &obj.metadata) else {
                    continue;
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
    /// Every kind watched, to look up owners the graph does not hold.
    known: Arc<Mutex<Vec<Arc<ApiResource>>>>,
}

impl Collector {
    fn api(&self, node: &Node) -> Api<DynamicObject> {
        match &node.namespace {
            Some(ns) => Api::namespaced_with(self.client.clone(), ns, &*node.resource),
            None => Api::all_with(self.client.clone(), &*node.resource),
        }
    }

    async fn process(&self, uid: &str) -> Result<(), kube::Error> {
        let (node, decision) = {
            let graph = lock(&self.graph);
            let Some(node) = graph.nodes.get(uid).cloned() else {
                return Ok(());
            };
            (node, graph.decide(uid))
        };
        // An owner missing from the graph may only not be watched yet: as upstream does,
        // the API is asked before a dependent is collected for its absence.
        if matches!(decision, Decision::Delete(_) | Decision::KeepOwners(_)) {
            let missing: Vec<OwnerReference> = {
                let graph = lock(&self.graph);
                node.owners
                    .iter()
                    .filter(|o| !graph.nodes.contains_key(&o.uid))
                    .cloned()
                    .collect()
            };
            for owner in &missing {
                if self.owner_exists(&node, owner).await {
                    let queue = self.queue.clone();
                    let uid = uid.to_string();
                    tokio::spawn(async move {
                        tokio::time::sleep(DISCOVERY_PERIOD).await;
                        let _ = queue.send(uid);
                    });
                    return Ok(());
                }
            }
        }
        match decision {
            Decision::Nothing => Ok(()),
            Decision::Delete(policy) => self.delete(&node, policy).await,
            Decision::KeepOwners(kept) => {
                self.patch(&node, json!({"metadata": {"ownerReferences": kept}}))
                    .await
            }
            Decision::Orphan(release) => {
                // Every dependent released first, then the owner let go.
                for (dependent, kept) in &release {
                    self.patch(dependent, json!({"metadata": {"ownerReferences": kept}}))
                        .await?;
                }
                self.remove_finalizer(&node, ORPHAN).await
            }
            Decision::Foreground { delete, blocked } => {
                for (dependent_uid, dependent, policy) in delete {
                    self.delete(&dependent, policy).await?;
                    let _ = self.queue.send(dependent_uid);
                }
                if blocked {
                    // The owner is looked at again as its dependents go.
                    return Ok(());
                }
                self.remove_finalizer(&node, FOREGROUND).await
            }
        }
    }

    /// Whether `owner` of `node` exists, read from the API; an owner of a kind not known
    /// counts as existing (nothing is deleted on a guess).
    async fn owner_exists(&self, node: &Node, owner: &OwnerReference) -> bool {
        let (group, version) = match owner.api_version.split_once('/') {
            Some((g, v)) => (g, v),
            None => ("", owner.api_version.as_str()),
        };
        let resource = {
            let known = match self.known.lock() {
                Ok(k) => k,
                Err(poisoned) => poisoned.into_inner(),
            };
            known
                .iter()
                .find(|r| r.group == group && r.kind == owner.kind)
                .cloned()
        };
        let Some(resource) = resource else {
            return true;
        };
        let mut resource = (*resource).clone();
        resource.version = version.to_string();
        resource.api_version = owner.api_version.clone();
        let api: Api<PartialObjectMeta<DynamicObject>> = match &node.namespace {
            Some(ns) => Api::namespaced_with(self.client.clone(), ns, &resource),
            None => Api::all_with(self.client.clone(), &resource),
        };
        match api.get_metadata_opt(&owner.name).await {
            Ok(Some(found)) => found.metadata.uid.as_deref() == Some(owner.uid.as_str()),
            Ok(None) => false,
            Err(kube::Error::Api(e)) if e.code == 404 => false,
            Err(_) => true,
        }
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_not_watched_but_every_other_owner_kind_is() {
        let watched: Vec<(String, String)> = resources()
            .iter()
            .map(|r| (r.group.clone(), r.plural.clone()))
            .collect();
        let has = |group: &str, plural: &str| watched.contains(&(group.into(), plural.into()));
        assert!(!has("", "events"));
        assert!(!has("events.k8s.io", "events"));
        assert!(has("", "pods"));
        assert!(has("apps", "replicasets"));
        assert!(has("coordination.k8s.io", "leases"));
    }

    /// A graph of the objects whose metadata is given.
    fn graph(objects: &[serde_json::Value]) -> Graph {
        let gvk = GroupVersionKind::gvk("", "v1", "Pod");
        let resource = Arc::new(ApiResource::from_gvk_with_plural(&gvk, "pods"));
        let mut graph = Graph::default();
        for meta in objects {
            let meta: ObjectMeta = serde_json::from_value(meta.clone()).unwrap();
            let (uid, node) = Node::of(resource.clone(), &meta).unwrap();
            graph.upsert(uid, node);
        }
        graph
    }

    /// A reference to the ReplicaSet `name` with `uid`.
    fn owner(name: &str, uid: &str) -> serde_json::Value {
        json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": name, "uid": uid})
    }

    /// The same, blocking the owner's deletion in the foreground.
    fn blocking_owner(name: &str, uid: &str) -> serde_json::Value {
        json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": name, "uid": uid,
               "blockOwnerDeletion": true, "controller": true})
    }

    fn reference(value: serde_json::Value) -> OwnerReference {
        serde_json::from_value(value).unwrap()
    }

    fn node(graph: &Graph, uid: &str) -> Node {
        graph.nodes.get(uid).cloned().unwrap()
    }

    #[test]
    fn dependent_is_deleted_in_the_background_once_its_only_owner_is_gone() {
        let mut g = graph(&[
            json!({"name": "web", "namespace": "default", "uid": "rs-1"}),
            json!({"name": "web-a", "namespace": "default", "uid": "pod-1",
                   "ownerReferences": [owner("web", "rs-1")]}),
        ]);
        assert_eq!(g.decide("pod-1"), Decision::Nothing);
        g.remove("rs-1");
        assert_eq!(
            g.decide("pod-1"),
            Decision::Delete(PropagationPolicy::Background)
        );
    }

    #[test]
    fn dependent_whose_owners_are_all_gone_is_deleted() {
        let g = graph(&[
            json!({"name": "web-a", "namespace": "default", "uid": "pod-1",
                   "ownerReferences": [owner("web", "rs-1"), owner("api", "rs-2")]}),
        ]);
        assert_eq!(
            g.decide("pod-1"),
            Decision::Delete(PropagationPolicy::Background)
        );
    }

    #[test]
    fn dependent_with_one_owner_left_keeps_only_the_reference_to_it() {
        let g = graph(&[
            json!({"name": "api", "namespace": "default", "uid": "rs-2"}),
            json!({"name": "web-a", "namespace": "default", "uid": "pod-1",
                   "ownerReferences": [owner("web", "rs-1"), owner("api", "rs-2")]}),
        ]);
        assert_eq!(
            g.decide("pod-1"),
            Decision::KeepOwners(vec![reference(owner("api", "rs-2"))])
        );
    }

    #[test]
    fn owner_reference_whose_uid_no_longer_matches_counts_as_gone() {
        // The ReplicaSet `web` was deleted and created again: same name, new uid.
        let g = graph(&[
            json!({"name": "web", "namespace": "default", "uid": "rs-new"}),
            json!({"name": "web-a", "namespace": "default", "uid": "pod-1",
                   "ownerReferences": [owner("web", "rs-old")]}),
        ]);
        assert_eq!(
            g.decide("pod-1"),
            Decision::Delete(PropagationPolicy::Background)
        );
    }

    #[test]
    fn dependent_already_being_deleted_is_not_collected_again() {
        let g = graph(&[
            json!({"name": "web-a", "namespace": "default", "uid": "pod-1",
                   "deletionTimestamp": "2024-01-01T00:00:00Z",
                   "ownerReferences": [owner("web", "rs-1")]}),
        ]);
        assert_eq!(g.decide("pod-1"), Decision::Nothing);
    }

    #[test]
    fn foreground_owner_deletes_a_blocking_dependent_in_the_foreground_and_waits() {
        let g = graph(&[
            json!({"name": "web", "namespace": "default", "uid": "rs-1",
                   "deletionTimestamp": "2024-01-01T00:00:00Z",
                   "finalizers": ["foregroundDeletion"]}),
            json!({"name": "web-a", "namespace": "default", "uid": "pod-1",
                   "ownerReferences": [blocking_owner("web", "rs-1")]}),
        ]);
        assert_eq!(
            g.decide("rs-1"),
            Decision::Foreground {
                delete: vec![(
                    "pod-1".into(),
                    node(&g, "pod-1"),
                    PropagationPolicy::Foreground
                )],
                blocked: true,
            }
        );
    }

    #[test]
    fn foreground_owner_deletes_a_non_blocking_dependent_in_the_background_and_goes() {
        let g = graph(&[
            json!({"name": "web", "namespace": "default", "uid": "rs-1",
                   "deletionTimestamp": "2024-01-01T00:00:00Z",
                   "finalizers": ["foregroundDeletion"]}),
            json!({"name": "web-a", "namespace": "default", "uid": "pod-1",
                   "ownerReferences": [owner("web", "rs-1")]}),
        ]);
        assert_eq!(
            g.decide("rs-1"),
            Decision::Foreground {
                delete: vec![(
                    "pod-1".into(),
                    node(&g, "pod-1"),
                    PropagationPolicy::Background
                )],
                blocked: false,
            }
        );
    }

    #[test]
    fn foreground_owner_keeps_waiting_for_a_blocking_dependent_already_being_deleted() {
        let g = graph(&[
            json!({"name": "web", "namespace": "default", "uid": "rs-1",
                   "deletionTimestamp": "2024-01-01T00:00:00Z",
                   "finalizers": ["foregroundDeletion"]}),
            json!({"name": "web-a", "namespace": "default", "uid": "pod-1",
                   "deletionTimestamp": "2024-01-01T00:00:01Z",
                   "finalizers": ["example.com/hold"],
                   "ownerReferences": [blocking_owner("web", "rs-1")]}),
        ]);
        assert_eq!(
            g.decide("rs-1"),
            Decision::Foreground {
                delete: vec![],
                blocked: true
            }
        );
    }

    #[test]
    fn foreground_owner_without_dependents_lets_its_finalizer_go() {
        let g = graph(
            &[json!({"name": "web", "namespace": "default", "uid": "rs-1",
                   "deletionTimestamp": "2024-01-01T00:00:00Z",
                   "finalizers": ["foregroundDeletion"]})],
        );
        assert_eq!(
            g.decide("rs-1"),
            Decision::Foreground {
                delete: vec![],
                blocked: false
            }
        );
    }

    #[test]
    fn dependent_blocking_a_foreground_owner_is_deleted_in_the_foreground() {
        let g = graph(&[
            json!({"name": "web", "namespace": "default", "uid": "rs-1",
                   "deletionTimestamp": "2024-01-01T00:00:00Z",
                   "finalizers": ["foregroundDeletion"]}),
            json!({"name": "web-a", "namespace": "default", "uid": "pod-1",
                   "ownerReferences": [blocking_owner("web", "rs-1")]}),
        ]);
        assert_eq!(
            g.decide("pod-1"),
            Decision::Delete(PropagationPolicy::Foreground)
        );
    }

    #[test]
    fn dependent_blocking_a_foreground_owner_is_kept_while_another_owner_lives() {
        let g = graph(&[
            json!({"name": "web", "namespace": "default", "uid": "rs-1",
                   "deletionTimestamp": "2024-01-01T00:00:00Z",
                   "finalizers": ["foregroundDeletion"]}),
            json!({"name": "api", "namespace": "default", "uid": "rs-2"}),
            json!({"name": "web-a", "namespace": "default", "uid": "pod-1",
                   "ownerReferences": [blocking_owner("web", "rs-1"), owner("api", "rs-2")]}),
        ]);
        assert_eq!(g.decide("pod-1"), Decision::Nothing);
    }

    #[test]
    fn orphan_finalizer_removes_only_the_reference_to_the_deleted_owner() {
        let g = graph(&[
            json!({"name": "web", "namespace": "default", "uid": "rs-1",
                   "deletionTimestamp": "2024-01-01T00:00:00Z",
                   "finalizers": ["orphan"]}),
            json!({"name": "api", "namespace": "default", "uid": "rs-2"}),
            json!({"name": "web-a", "namespace": "default", "uid": "pod-1",
                   "ownerReferences": [blocking_owner("web", "rs-1"), owner("api", "rs-2")]}),
        ]);
        assert_eq!(
            g.decide("rs-1"),
            Decision::Orphan(vec![(
                node(&g, "pod-1"),
                vec![reference(owner("api", "rs-2"))]
            )])
        );
    }

    #[test]
    fn orphan_finalizer_leaves_a_sole_dependent_without_owners() {
        let g = graph(&[
            json!({"name": "web", "namespace": "default", "uid": "rs-1",
                   "deletionTimestamp": "2024-01-01T00:00:00Z",
                   "finalizers": ["orphan"]}),
            json!({"name": "web-a", "namespace": "default", "uid": "pod-1",
                   "ownerReferences": [owner("web", "rs-1")]}),
        ]);
        assert_eq!(
            g.decide("rs-1"),
            Decision::Orphan(vec![(node(&g, "pod-1"), vec![])])
        );
    }
}
