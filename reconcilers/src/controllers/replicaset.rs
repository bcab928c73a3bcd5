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

/// Counts the active pods an object owns, at `now`.
pub fn count(
    pods: &[Pod],
    template: Option<&PodTemplateSpec>,
    min_ready: Duration,
    now: jiff::Timestamp,
) -> Counts {
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

/// What a pass does with a pod in the cache.
#[derive(Debug, PartialEq, Eq)]
enum Claim {
    /// Owned and selected: counted.
    Keep,
    /// An active orphan the selector matches: adopted, then counted.
    Adopt,
    /// Owned, active and no longer selected: released.
    Release,
    /// Another namespace's, another controller's, or finished and not ours to count.
    Ignore,
}

/// Whether the object with `uid` in `namespace` keeps, adopts, releases or ignores `pod`.
fn claim(pod: &Pod, namespace: &str, uid: &str, selector: &Selector) -> Claim {
    if pod.meta().namespace.as_deref() != Some(namespace) {
        return Claim::Ignore;
    }
    let matches = pods::selects(selector, pod.meta());
    match pods::controller_of(pod.meta()) {
        Some(r) if r.uid == uid => {
            if matches {
                Claim::Keep
            } else if pods::is_active(pod) {
                Claim::Release
            } else {
                Claim::Ignore
            }
        }
        None if matches && pods::is_active(pod) => Claim::Adopt,
        _ => Claim::Ignore,
    }
}

/// How many pods a pass creates or deletes to reach `desired` from `active`: the
/// difference, at most [`BURST`].
#[derive(Debug, PartialEq, Eq)]
enum Change {
    Create(usize),
    Delete(usize),
    None,
}

fn change(active: usize, desired: i32) -> Change {
    let want = usize::try_from(desired).unwrap_or(0);
    if active < want {
        Change::Create((want - active).min(BURST))
    } else if active > want {
        Change::Delete((active - want).min(BURST))
    } else {
        Change::None
    }
}

/// Slow start: the sizes of the batches `missing` pods are created in, 1, 2, 4, ... the last
/// one what remains (a pass stops after the batch where a creation fails).
fn batches(missing: usize) -> Vec<usize> {
    let mut sizes = Vec::new();
    let mut done = 0;
    let mut batch = 1_usize;
    while done < missing {
        let size = batch.min(missing - done);
        sizes.push(size);
        done += size;
        batch = batch.saturating_mul(2);
    }
    sizes
}

/// Takes the `count` pods to delete out of `active`, in upstream's order.
fn take_surplus(active: &mut Vec<Pod>, count: usize) -> Vec<Pod> {
    pods::rank_for_deletion(active);
    active.drain(..count.min(active.len())).collect()
}

/// When to look again without a change to watch: once a pod ready but not yet available
/// may have become available.
fn requeue_after(counts: &Counts, min_ready: Duration) -> Option<Duration> {
    (counts.ready > counts.available).then(|| min_ready.max(Duration::from_secs(1)))
}

/// The status to write for `counts`, if it differs from the object's.
fn status_change<K: Replicated>(obj: &K, counts: &Counts) -> Option<serde_json::Value> {
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
        Some(&have) == status.get(*f)
    });
    (!unchanged).then_some(status)
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
        match claim(&pod, &namespace, &uid, &selector) {
            Claim::Keep => owned.push((*pod).clone()),
            Claim::Adopt => {
                adopt(&pods_api, &pod, &owner).await?;
                owned.push((*pod).clone());
            }
            Claim::Release => release(&pods_api, &pod, &uid).await?,
            Claim::Ignore => {}
        }
    }
    let mut active: Vec<Pod> = owned.into_iter().filter(pods::is_active).collect();

    let recorder = ctx.recorder(loop_.name);
    let reference = obj.object_ref(&());
    if loop_
        .expectations
        .satisfied(&key, &cache, |p: &Pod| !pods::is_active(p))
    {
        match change(active.len(), obj.desired()) {
            Change::Create(missing) => {
                let template = obj
                    .pod_template()
                    .ok_or_else(|| Error::Other(format!("{key} has no pod template")))?;
                let prefix = format!("{name}-");
                let mut created = Vec::new();
                let mut failure = None;
                for size in batches(missing) {
                    let pod = pods::from_template(template, &prefix, &namespace, owner.clone());
                    let params = PostParams::default();
                    let results = futures::future::join_all(
                        (0..size).map(|_| pods_api.create(&params, &pod)),
                    )
                    .await;
                    for result in results {
                        match result {
                            Ok(pod) => created.push(pod),
                            Err(e) => failure = Some(e),
                        }
                    }
                    if failure.is_some() {
                        break;
                    }
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
            }
            Change::Delete(count) => {
                let surplus = take_surplus(&mut active, count);
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
            Change::None => {}
        }
    }

    let min_ready = Duration::from_secs(u64::try_from(obj.min_ready_seconds()).unwrap_or(0));
    let counts = count(
        &active,
        obj.pod_template(),
        min_ready,
        jiff::Timestamp::now(),
    );
    write_status::<K>(ctx, &namespace, &name, obj, &counts).await?;
    // A pod ready but not yet available becomes available without any change to watch.
    Ok(requeue_after(&counts, min_ready).map_or_else(Action::await_change, Action::requeue))
}

async fn write_status<K: Replicated>(
    ctx: &Context,
    namespace: &str,
    name: &str,
    obj: &K,
    counts: &Counts,
) -> Result<(), Error> {
    let Some(status) = status_change(obj, counts) else {
        return Ok(());
    };
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

#[cfg(test)]
mod tests {
    use super::*;

    const T0: &str = "2025-01-01T00:00:00Z";

    fn replica_set(fields: serde_json::Value) -> ReplicaSet {
        let mut rs = json!({
            "metadata": {"name": "web", "namespace": "ns", "uid": "rs-uid", "generation": 2},
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web", "tier": "front"}},
                    "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]},
                },
            },
        });
        if let (Some(rs), Some(fields)) = (rs.as_object_mut(), fields.as_object()) {
            rs.extend(fields.clone());
        }
        serde_json::from_value(rs).unwrap()
    }

    fn selector() -> Selector {
        replica_set(json!({})).pod_selector().unwrap()
    }

    /// A running pod `name` in `ns` labelled `app: web`, with `fields` over its metadata,
    /// spec and status.
    fn pod(name: &str, fields: serde_json::Value) -> Pod {
        let mut pod = json!({
            "metadata": {"name": name, "namespace": "ns", "labels": {"app": "web"}},
            "spec": {"containers": []},
            "status": {"phase": "Running"},
        });
        if let (Some(pod), Some(fields)) = (pod.as_object_mut(), fields.as_object()) {
            for (k, v) in fields {
                match (
                    pod.get_mut(k).and_then(|o| o.as_object_mut()),
                    v.as_object(),
                ) {
                    (Some(have), Some(v)) => have.extend(v.clone()),
                    _ => {
                        pod.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        serde_json::from_value(pod).unwrap()
    }

    fn owned_by(uid: &str) -> serde_json::Value {
        json!([{
            "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "x", "uid": uid,
            "controller": true,
        }])
    }

    fn ready_since(seconds_after_t0: i64) -> serde_json::Value {
        json!({"phase": "Running", "conditions": [{
            "type": "Ready", "status": "True",
            "lastTransitionTime": at(seconds_after_t0).to_string(),
        }]})
    }

    fn at(seconds_after_t0: i64) -> jiff::Timestamp {
        let t0: jiff::Timestamp = T0.parse().unwrap();
        t0.checked_add(jiff::SignedDuration::from_secs(seconds_after_t0))
            .unwrap()
    }

    fn names(pods: &[Pod]) -> Vec<String> {
        pods.iter().map(|p| p.name_any()).collect()
    }

    #[test]
    fn an_owned_pod_the_selector_matches_is_kept() {
        let pod = pod(
            "a",
            json!({"metadata": {"ownerReferences": owned_by("rs-uid")}}),
        );
        assert_eq!(claim(&pod, "ns", "rs-uid", &selector()), Claim::Keep);
    }

    #[test]
    fn a_finished_owned_pod_the_selector_matches_is_kept_to_be_filtered_later() {
        let pod = pod(
            "a",
            json!({
                "metadata": {"ownerReferences": owned_by("rs-uid")},
                "status": {"phase": "Succeeded"},
            }),
        );
        assert_eq!(claim(&pod, "ns", "rs-uid", &selector()), Claim::Keep);
    }

    #[test]
    fn an_orphan_the_selector_matches_is_adopted() {
        let pod = pod("a", json!({}));
        assert_eq!(claim(&pod, "ns", "rs-uid", &selector()), Claim::Adopt);
    }

    #[test]
    fn an_orphan_with_only_non_controller_owners_is_adopted() {
        let pod = pod(
            "a",
            json!({"metadata": {"ownerReferences": [{
                "apiVersion": "v1", "kind": "ConfigMap", "name": "cm", "uid": "cm-uid",
            }]}}),
        );
        assert_eq!(claim(&pod, "ns", "rs-uid", &selector()), Claim::Adopt);
    }

    #[test]
    fn a_finished_orphan_is_not_adopted() {
        let pod = pod("a", json!({"status": {"phase": "Failed"}}));
        assert_eq!(claim(&pod, "ns", "rs-uid", &selector()), Claim::Ignore);
    }

    #[test]
    fn a_terminating_orphan_is_not_adopted() {
        let pod = pod(
            "a",
            json!({"metadata": {"deletionTimestamp": T0, "finalizers": ["f"]}}),
        );
        assert_eq!(claim(&pod, "ns", "rs-uid", &selector()), Claim::Ignore);
    }

    #[test]
    fn an_orphan_the_selector_does_not_match_is_left_alone() {
        let pod = pod("a", json!({"metadata": {"labels": {"app": "db"}}}));
        assert_eq!(claim(&pod, "ns", "rs-uid", &selector()), Claim::Ignore);
    }

    #[test]
    fn a_pod_another_controller_owns_is_left_alone() {
        let pod = pod(
            "a",
            json!({"metadata": {"ownerReferences": owned_by("other")}}),
        );
        assert_eq!(claim(&pod, "ns", "rs-uid", &selector()), Claim::Ignore);
    }

    #[test]
    fn a_pod_in_another_namespace_is_left_alone() {
        let pod = pod("a", json!({"metadata": {"namespace": "elsewhere"}}));
        assert_eq!(claim(&pod, "ns", "rs-uid", &selector()), Claim::Ignore);
    }

    #[test]
    fn an_owned_pod_the_selector_no_longer_matches_is_released() {
        let pod = pod(
            "a",
            json!({"metadata": {"labels": {"app": "debug"}, "ownerReferences": owned_by("rs-uid")}}),
        );
        assert_eq!(claim(&pod, "ns", "rs-uid", &selector()), Claim::Release);
    }

    #[test]
    fn a_finished_owned_pod_the_selector_no_longer_matches_is_not_released() {
        let pod = pod(
            "a",
            json!({
                "metadata": {"labels": {"app": "debug"}, "ownerReferences": owned_by("rs-uid")},
                "status": {"phase": "Succeeded"},
            }),
        );
        assert_eq!(claim(&pod, "ns", "rs-uid", &selector()), Claim::Ignore);
    }

    #[test]
    fn a_replication_controllers_selector_matches_its_labels() {
        let rc: ReplicationController = serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "ns", "uid": "rc-uid"},
            "spec": {"selector": {"app": "web"}},
        }))
        .unwrap();
        let selector = rc.pod_selector().unwrap();
        assert_eq!(
            claim(&pod("a", json!({})), "ns", "rc-uid", &selector),
            Claim::Adopt
        );
        let other = pod("b", json!({"metadata": {"labels": {"app": "db"}}}));
        assert_eq!(claim(&other, "ns", "rc-uid", &selector), Claim::Ignore);
    }

    #[test]
    fn missing_pods_are_created() {
        assert_eq!(change(1, 3), Change::Create(2));
    }

    #[test]
    fn surplus_pods_are_deleted() {
        assert_eq!(change(5, 3), Change::Delete(2));
    }

    #[test]
    fn nothing_changes_at_the_desired_count() {
        assert_eq!(change(3, 3), Change::None);
    }

    #[test]
    fn a_negative_desired_count_deletes_every_pod() {
        assert_eq!(change(2, -1), Change::Delete(2));
    }

    #[test]
    fn creations_in_one_pass_are_capped_at_the_burst() {
        assert_eq!(change(0, 1200), Change::Create(500));
    }

    #[test]
    fn deletions_in_one_pass_are_capped_at_the_burst() {
        assert_eq!(change(1200, 100), Change::Delete(500));
    }

    #[test]
    fn slow_start_batches_double_and_the_last_takes_the_rest() {
        assert_eq!(batches(10), vec![1, 2, 4, 3]);
    }

    #[test]
    fn slow_start_batches_of_a_power_of_two_less_one_are_full() {
        assert_eq!(batches(15), vec![1, 2, 4, 8]);
    }

    #[test]
    fn a_full_burst_is_created_in_nine_batches() {
        let sizes = batches(BURST);
        assert_eq!(sizes, vec![1, 2, 4, 8, 16, 32, 64, 128, 245]);
    }

    #[test]
    fn nothing_missing_means_no_batches() {
        assert_eq!(batches(0), Vec::<usize>::new());
    }

    #[test]
    fn scale_down_deletes_unscheduled_then_pending_then_unready_pods_first() {
        let mut active = vec![
            pod(
                "ready",
                json!({"spec": {"nodeName": "n1"}, "status": ready_since(0)}),
            ),
            pod("unready", json!({"spec": {"nodeName": "n1"}})),
            pod(
                "pending",
                json!({"spec": {"nodeName": "n2"}, "status": {"phase": "Pending"}}),
            ),
            pod("unscheduled", json!({"status": {"phase": "Pending"}})),
        ];
        let surplus = take_surplus(&mut active, 3);
        assert_eq!(names(&surplus), ["unscheduled", "pending", "unready"]);
        assert_eq!(names(&active), ["ready"]);
    }

    #[test]
    fn scale_down_deletes_the_lower_deletion_cost_first() {
        let cost = |name: &str, cost: &str| {
            pod(
                name,
                json!({
                    "metadata": {"annotations": {"controller.kubernetes.io/pod-deletion-cost": cost}},
                    "spec": {"nodeName": name},
                    "status": ready_since(0),
                }),
            )
        };
        let mut active = vec![cost("a", "10"), cost("b", "-5"), cost("c", "0")];
        let surplus = take_surplus(&mut active, 1);
        assert_eq!(names(&surplus), ["b"]);
    }

    #[test]
    fn scale_down_deletes_the_pod_ready_for_the_shortest_time_first() {
        let mut active = vec![
            pod(
                "old",
                json!({"spec": {"nodeName": "n1"}, "status": ready_since(0)}),
            ),
            pod(
                "new",
                json!({"spec": {"nodeName": "n2"}, "status": ready_since(60)}),
            ),
        ];
        let surplus = take_surplus(&mut active, 1);
        assert_eq!(names(&surplus), ["new"]);
        assert_eq!(names(&active), ["old"]);
    }

    #[test]
    fn scale_down_of_more_than_there_is_takes_every_pod() {
        let mut active = vec![pod("a", json!({})), pod("b", json!({}))];
        assert_eq!(take_surplus(&mut active, 5).len(), 2);
        assert!(active.is_empty());
    }

    #[test]
    fn counts_tell_ready_available_and_fully_labeled_pods_apart() {
        let rs = replica_set(json!({}));
        let pods = [
            pod(
                "labeled-ready",
                json!({"metadata": {"labels": {"app": "web", "tier": "front"}}, "status": ready_since(0)}),
            ),
            pod("ready", json!({"status": ready_since(0)})),
            pod("running", json!({})),
        ];
        let counts = count(&pods, rs.pod_template(), Duration::ZERO, at(0));
        assert_eq!(
            counts,
            Counts {
                replicas: 3,
                fully_labeled: 1,
                ready: 2,
                available: 2,
            }
        );
    }

    #[test]
    fn a_pod_ready_for_less_than_min_ready_seconds_is_not_available() {
        let pods = [pod("a", json!({"status": ready_since(0)}))];
        let counts = count(&pods, None, Duration::from_secs(10), at(9));
        assert_eq!((counts.ready, counts.available), (1, 0));
    }

    #[test]
    fn a_pod_ready_for_min_ready_seconds_is_available() {
        let pods = [pod("a", json!({"status": ready_since(0)}))];
        let counts = count(&pods, None, Duration::from_secs(10), at(10));
        assert_eq!((counts.ready, counts.available), (1, 1));
    }

    #[test]
    fn a_ready_pod_not_yet_available_requeues_after_min_ready_seconds() {
        let counts = Counts {
            replicas: 1,
            fully_labeled: 1,
            ready: 1,
            available: 0,
        };
        assert_eq!(
            requeue_after(&counts, Duration::from_secs(10)),
            Some(Duration::from_secs(10))
        );
    }

    #[test]
    fn a_requeue_waits_at_least_a_second() {
        let counts = Counts {
            replicas: 1,
            fully_labeled: 1,
            ready: 1,
            available: 0,
        };
        assert_eq!(
            requeue_after(&counts, Duration::ZERO),
            Some(Duration::from_secs(1))
        );
    }

    #[test]
    fn no_requeue_when_every_ready_pod_is_available() {
        let counts = Counts {
            replicas: 2,
            fully_labeled: 2,
            ready: 1,
            available: 1,
        };
        assert_eq!(requeue_after(&counts, Duration::from_secs(10)), None);
    }

    #[test]
    fn an_unchanged_status_is_not_written() {
        let rs = replica_set(json!({"status": {
            "replicas": 3, "fullyLabeledReplicas": 3, "readyReplicas": 2,
            "availableReplicas": 1, "observedGeneration": 2,
        }}));
        let counts = Counts {
            replicas: 3,
            fully_labeled: 3,
            ready: 2,
            available: 1,
        };
        assert_eq!(status_change(&rs, &counts), None);
    }

    #[test]
    fn missing_status_fields_count_as_zero() {
        let mut rs = replica_set(json!({}));
        rs.metadata.generation = None;
        assert_eq!(status_change(&rs, &Counts::default()), None);
    }

    #[test]
    fn a_changed_count_writes_the_whole_status() {
        let rs = replica_set(json!({"status": {
            "replicas": 3, "fullyLabeledReplicas": 3, "readyReplicas": 2,
            "availableReplicas": 1, "observedGeneration": 2,
        }}));
        let counts = Counts {
            replicas: 3,
            fully_labeled: 3,
            ready: 3,
            available: 1,
        };
        assert_eq!(
            status_change(&rs, &counts),
            Some(json!({
                "replicas": 3, "fullyLabeledReplicas": 3, "readyReplicas": 3,
                "availableReplicas": 1, "observedGeneration": 2,
            }))
        );
    }

    #[test]
    fn a_new_generation_is_written_as_observed() {
        let rs = replica_set(json!({"status": {"replicas": 0, "observedGeneration": 1}}));
        let status = status_change(&rs, &Counts::default()).unwrap();
        assert_eq!(status["observedGeneration"], 2);
    }
}
