//! `replicaset-controller` and `replicationcontroller-controller`: keep `spec.replicas` pods
//! of the template running. One engine serves both kinds (upstream runs the same code for
//! them): it adopts orphans the selector matches and releases pods it no longer matches,
//! creates missing pods in slow-start batches (1, 2, 4, ... up to 500 at a time, stopping at
//! the first failure), deletes surplus pods in upstream's order, waits for the cache to show
//! what it did before counting again, and reports the counts in the status.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec, ReplicationController};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::core::Selector;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::EventType;
use kube::{Api, Resource, ResourceExt};
use serde_json::json;

use super::expectations::Expectations;
use super::{not_found, pods, publish};
use crate::{Context, Error, Informed, Reconciler};

/// The most pods one pass creates or deletes (upstream's `burstReplicas`).
const BURST: usize = 500;

/// What the engine needs of a replicated kind.
pub trait Replicated:
    Informed + serde::Serialize + Resource<Scope = k8s_openapi::NamespaceResourceScope>
{
    fn desired(&self) -> i32;
    fn pod_selector(&self) -> Result<Selector, String>;
    fn pod_template(&self) -> Option<&PodTemplateSpec>;
    fn min_ready_seconds(&self) -> i32;
}

impl Replicated for ReplicaSet {
    fn desired(&self) -> i32 {
        self.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
    }
    fn pod_selector(&self) -> Result<Selector, String> {
        let selector = self
            .spec
            .as_ref()
            .map(|s| s.selector.clone())
            .unwrap_or_default();
        Selector::try_from(selector).map_err(|e| e.to_string())
    }
    fn pod_template(&self) -> Option<&PodTemplateSpec> {
        self.spec.as_ref().and_then(|s| s.template.as_ref())
    }
    fn min_ready_seconds(&self) -> i32 {
        self.spec
            .as_ref()
            .and_then(|s| s.min_ready_seconds)
            .unwrap_or(0)
    }
}

impl Replicated for ReplicationController {
    fn desired(&self) -> i32 {
        self.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
    }
    fn pod_selector(&self) -> Result<Selector, String> {
        let labels = self.spec.as_ref().and_then(|s| s.selector.clone());
        Selector::try_from(LabelSelector {
            match_labels: labels,
            match_expressions: None,
        })
        .map_err(|e| e.to_string())
    }
    fn pod_template(&self) -> Option<&PodTemplateSpec> {
        self.spec.as_ref().and_then(|s| s.template.as_ref())
    }
    fn min_ready_seconds(&self) -> i32 {
        self.spec
            .as_ref()
            .and_then(|s| s.min_ready_seconds)
            .unwrap_or(0)
    }
}

/// The replication loop of one kind.
pub struct Replication<K> {
    name: &'static str,
    expectations: Expectations,
    _kind: std::marker::PhantomData<fn() -> K>,
}

impl<K> Replication<K> {
    fn new(name: &'static str) -> Replication<K> {
        Replication {
            name,
            expectations: Expectations::default(),
            _kind: std::marker::PhantomData,
        }
    }
}

pub fn replica_sets() -> Replication<ReplicaSet> {
    Replication::new("replicaset-controller")
}

pub fn replication_controllers() -> Replication<ReplicationController> {
    Replication::new("replicationcontroller-controller")
}

impl Reconciler for Replication<ReplicaSet> {
    type Object = ReplicaSet;
    const NAME: &'static str = "replicaset-controller";
    fn watches(&self, c: Controller<ReplicaSet>, ctx: &Context) -> Controller<ReplicaSet> {
        c.owns_shared_stream(ctx.informers.get::<Pod>().subscribe())
    }
    async fn reconcile(&self, obj: Arc<ReplicaSet>, ctx: Arc<Context>) -> Result<Action, Error> {
        sync(self, &obj, &ctx).await
    }
}

impl Reconciler for Replication<ReplicationController> {
    type Object = ReplicationController;
    const NAME: &'static str = "replicationcontroller-controller";
    fn watches(
        &self,
        c: Controller<ReplicationController>,
        ctx: &Context,
    ) -> Controller<ReplicationController> {
        c.owns_shared_stream(ctx.informers.get::<Pod>().subscribe())
    }
    async fn reconcile(
        &self,
        obj: Arc<ReplicationController>,
        ctx: Arc<Context>,
    ) -> Result<Action, Error> {
        sync(self, &obj, &ctx).await
    }
}

/// The counts a replicated object reports.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub replicas: i32,
    pub fully_labeled: i32,
    pub ready: i32,
    pub available: i32,
}

/// Counts the active pods an object owns.
pub fn count(pods: &[Pod], template: Option<&PodTemplateSpec>, min_ready: Duration) -> Counts {
    let now = jiff::Timestamp::now();
    let template_labels = template
        .and_then(|t| t.metadata.as_ref())
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    let fully_labeled = |p: &Pod| {
        let labels = p.labels();
        template_labels
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
    };
    let n = |f: &dyn Fn(&Pod) -> bool| {
        i32::try_from(pods.iter().filter(|p| f(p)).count()).unwrap_or(i32::MAX)
    };
    Counts {
        replicas: n(&|_| true),
        fully_labeled: n(&fully_labeled),
        ready: n(&pods::is_ready),
        available: n(&|p| pods::is_available(p, min_ready, now)),
    }
}

async fn sync<K: Replicated>(
    loop_: &Replication<K>,
    obj: &K,
    ctx: &Context,
) -> Result<Action, Error> {
    let (Some(namespace), Some(name), Some(uid)) = (
        obj.meta().namespace.clone(),
        obj.meta().name.clone(),
        obj.meta().uid.clone(),
    ) else {
        return Ok(Action::await_change());
    };
    let key = format!("{namespace}/{name}");
    if obj.meta().deletion_timestamp.is_some() {
        // The garbage collector deletes the pods.
        loop_.expectations.forget(&key);
        return Ok(Action::await_change());
    }
    let selector = match obj.pod_selector() {
        Ok(selector) => selector,
        Err(e) => return Err(Error::Other(format!("{key} has an invalid selector: {e}"))),
    };
    let pods_api: Api<Pod> = Api::namespaced(ctx.client.clone(), &namespace);
    let cache = ctx.informers.get::<Pod>().store();
    let owner = obj
        .controller_owner_ref(&())
        .ok_or_else(|| Error::Other(format!("{key} has no identity to own pods with")))?;

    // Claim: adopt orphans the selector matches, release owned pods it no longer matches.
    let mut owned = Vec::new();
    for pod in cache.state() {
        if pod.meta().namespace.as_deref() != Some(namespace.as_str()) {
            continue;
        }
        let matches = pods::selects(&selector, pod.meta());
        match pods::controller_of(pod.meta()) {
            Some(r) if r.uid == uid => {
                if matches {
                    owned.push((*pod).clone());
                } else if pods::is_active(&pod) {
                    release(&pods_api, &pod, &uid).await?;
                }
            }
            None if matches && pods::is_active(&pod) => {
                adopt(&pods_api, &pod, &owner).await?;
                owned.push((*pod).clone());
            }
            _ => {}
        }
    }
    let mut active: Vec<Pod> = owned.into_iter().filter(pods::is_active).collect();

    let recorder = ctx.recorder(loop_.name);
    let reference = obj.object_ref(&());
    if loop_
        .expectations
        .satisfied(&key, &cache, |p: &Pod| !pods::is_active(p))
    {
        let want = usize::try_from(obj.desired()).unwrap_or(0);
        if active.len() < want {
            let template = obj
                .pod_template()
                .ok_or_else(|| Error::Other(format!("{key} has no pod template")))?;
            let missing = (want - active.len()).min(BURST);
            let prefix = format!("{name}-");
            let mut created = Vec::new();
            let mut batch = 1;
            let mut failure = None;
            while created.len() < missing && failure.is_none() {
                let size = batch.min(missing - created.len());
                let pod = pods::from_template(template, &prefix, &namespace, owner.clone());
                let params = PostParams::default();
                let results =
                    futures::future::join_all((0..size).map(|_| pods_api.create(&params, &pod)))
                        .await;
                for result in results {
                    match result {
                        Ok(pod) => created.push(pod),
                        Err(e) => failure = Some(e),
                    }
                }
                batch = batch.saturating_mul(2);
            }
            loop_.expectations.created(
                &key,
                created.iter().map(|p| (namespace.clone(), p.name_any())),
            );
            for pod in &created {
                publish(
                    &recorder,
                    &reference,
                    EventType::Normal,
                    "SuccessfulCreate",
                    format!("Created pod: {}", pod.name_any()),
                )
                .await;
            }
            if let Some(e) = failure {
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
            active.extend(created);
        } else if active.len() > want {
            pods::rank_for_deletion(&mut active);
            let surplus: Vec<Pod> = active.drain(..(active.len() - want).min(BURST)).collect();
            loop_.expectations.deleted(
                &key,
                surplus.iter().map(|p| (namespace.clone(), p.name_any())),
            );
            for pod in &surplus {
                match pods_api
                    .delete(&pod.name_any(), &DeleteParams::default())
                    .await
                {
                    Ok(_) => {
                        publish(
                            &recorder,
                            &reference,
                            EventType::Normal,
                            "SuccessfulDelete",
                            format!("Deleted pod: {}", pod.name_any()),
                        )
                        .await;
                    }
                    Err(e) if not_found(&e) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
    }

    let min_ready = Duration::from_secs(u64::try_from(obj.min_ready_seconds()).unwrap_or(0));
    let counts = count(&active, obj.pod_template(), min_ready);
    write_status::<K>(ctx, &namespace, &name, obj, &counts).await?;
    // A pod ready but not yet available becomes available without any change to watch.
    if counts.ready > counts.available {
        return Ok(Action::requeue(min_ready.max(Duration::from_secs(1))));
    }
    Ok(Action::await_change())
}

async fn write_status<K: Replicated>(
    ctx: &Context,
    namespace: &str,
    name: &str,
    obj: &K,
    counts: &Counts,
) -> Result<(), Error> {
    let current = serde_json::to_value(obj).unwrap_or_default();
    let status = json!({
        "replicas": counts.replicas,
        "fullyLabeledReplicas": counts.fully_labeled,
        "readyReplicas": counts.ready,
        "availableReplicas": counts.available,
        "observedGeneration": obj.meta().generation.unwrap_or(0),
    });
    let unchanged = [
        "replicas",
        "fullyLabeledReplicas",
        "readyReplicas",
        "availableReplicas",
        "observedGeneration",
    ]
    .iter()
    .all(|f| {
        let have = current
            .pointer(&format!("/status/{f}"))
            .cloned()
            .unwrap_or(json!(0));
        have == status[*f]
    });
    if unchanged {
        return Ok(());
    }
    let api: Api<K> = Api::namespaced(ctx.client.clone(), namespace);
    api.patch_status(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({ "status": status })),
    )
    .await?;
    Ok(())
}

async fn adopt(
    api: &Api<Pod>,
    pod: &Pod,
    owner: &k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference,
) -> Result<(), Error> {
    let mut refs = pod.owner_references().to_vec();
    refs.push(
        k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
            controller: Some(true),
            block_owner_deletion: Some(true),
            ..owner.clone()
        },
    );
    let patch = json!({ "metadata": { "ownerReferences": refs, "uid": pod.uid() } });
    api.patch(
        &pod.name_any(),
        &PatchParams::default(),
        &Patch::Merge(patch),
    )
    .await?;
    Ok(())
}

async fn release(api: &Api<Pod>, pod: &Pod, owner_uid: &str) -> Result<(), Error> {
    let refs: Vec<_> = pod
        .owner_references()
        .iter()
        .filter(|r| r.uid != owner_uid)
        .cloned()
        .collect();
    let patch = json!({ "metadata": { "ownerReferences": refs, "uid": pod.uid() } });
    match api
        .patch(
            &pod.name_any(),
            &PatchParams::default(),
            &Patch::Merge(patch),
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if not_found(&e) => Ok(()),
        Err(e) => Err(e.into()),
    }
}
