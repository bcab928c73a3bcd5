//! The scheduling loop: one task that owns the queue, the cache and the nominator, so none
//! of them needs a lock. It alternates between taking in what the informers report (pods,
//! nodes, and the objects that define spreading and namespace selectors), the outcomes of
//! bindings, the queue's timers, and scheduling the next active pod. Everything it writes
//! (bindings, conditions, events, evictions) is written by tasks it spawns, so a slow
//! write never holds up the next pod.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt};
use k8s_openapi::api::apps::v1::{ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{
    Namespace, Node, PersistentVolume, PersistentVolumeClaim, Pod, ReplicationController, Service,
};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::scheduling::v1::PriorityClass;
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::runtime::events::{Event, EventType, Recorder};
use kube::runtime::reflector::Store;
use kube::{Api, Resource};
use tokio::sync::{mpsc, Semaphore};
use tokio_util::sync::CancellationToken;

use super::binding::{bind, Bound};
use super::cache::Cache;
use super::failure::{self, Nomination, Reason};
use super::framework::{Cluster, Framework, Outcome, Profile};
use super::objects::InformerObjects;
use super::pod_info::{PodInfo, DEFAULT_SCHEDULER_NAME};
use super::preemption;
use super::queue::{
    ClusterEvent, Nominator, QueuedPod, SchedulingQueue, FLUSH_UNSCHEDULABLE_INTERVAL,
};
use crate::Context;

/// How often the caches are compared with the informers' (a safety net for changes a
/// subscriber missed while it was resynced).
const SWEEP_INTERVAL: Duration = Duration::from_secs(10);
/// How long to wait for the informers beyond pods and nodes before scheduling anyway.
const AUXILIARY_SYNC: Duration = Duration::from_secs(30);
/// Bindings and other writes in flight at once.
const MAX_WRITES_IN_FLIGHT: usize = 256;

/// Changes of the kinds that only move unschedulable pods.
enum Other {
    Namespace,
    Workload,
    Storage,
}

/// How many recorders FailedScheduling events are spread over.
const RECORDER_SHARDS: usize = 64;

pub(super) struct Driver {
    pub(super) ctx: Arc<Context>,
    /// The recorders of FailedScheduling events, a pod's always the same one so that its
    /// repeated failures form a series. kube-runtime's recorder prunes its whole cache of
    /// recent events on every publish, under one lock: with one recorder, 10,000
    /// unschedulable pods made every report scan 10,000 entries; shards keep each small.
    recorders: Vec<Recorder>,
    pub(super) pods: Store<Pod>,
    pub(super) nodes: Store<Node>,
    pub(super) priority_classes: Store<PriorityClass>,
    pub(super) objects: InformerObjects,
    pub(super) queue: SchedulingQueue,
    pub(super) cache: Cache,
    pub(super) nominator: Nominator,
    pub(super) framework: Framework,
    /// Pods whose binding is being written, to requeue if it fails.
    binding: HashMap<String, QueuedPod>,
    bound_tx: mpsc::UnboundedSender<Bound>,
    bound_rx: mpsc::UnboundedReceiver<Bound>,
    writes: Arc<Semaphore>,
    /// Pods bound since the start (for logs and the benchmark).
    scheduled: u64,
}

impl Driver {
    pub(super) fn new(ctx: Arc<Context>, profile: Profile) -> Driver {
        let (bound_tx, bound_rx) = mpsc::unbounded_channel();
        let seed = uuid::Uuid::new_v4().as_u64_pair().0;
        Driver {
            recorders: (0..RECORDER_SHARDS)
                .map(|_| ctx.recorder(DEFAULT_SCHEDULER_NAME))
                .collect(),
            pods: ctx.informers.get::<Pod>().store(),
            nodes: ctx.informers.get::<Node>().store(),
            priority_classes: ctx.informers.get::<PriorityClass>().store(),
            objects: InformerObjects::new(&ctx),
            queue: SchedulingQueue::new(),
            cache: Cache::new(),
            nominator: Nominator::new(),
            framework: Framework::new(profile, seed),
            binding: HashMap::new(),
            bound_tx,
            bound_rx,
            writes: Arc::new(Semaphore::new(MAX_WRITES_IN_FLIGHT)),
            scheduled: 0,
            ctx,
        }
    }

    /// Runs until `shutdown` is cancelled.
    pub(super) async fn run(mut self, shutdown: CancellationToken) {
        // Subscribe before reading the caches, so no change falls in between.
        let informers = &self.ctx.informers;
        let pods = informers.get::<Pod>();
        let nodes = informers.get::<Node>();
        let mut pod_changes = pods.subscribe().boxed();
        let mut node_changes = nodes.subscribe().boxed();
        let others: Vec<BoxStream<'static, Other>> = vec![
            informers
                .get::<Namespace>()
                .subscribe()
                .map(|_| Other::Namespace)
                .boxed(),
            informers
                .get::<Service>()
                .subscribe()
                .map(|_| Other::Workload)
                .boxed(),
            informers
                .get::<ReplicaSet>()
                .subscribe()
                .map(|_| Other::Workload)
                .boxed(),
            informers
                .get::<StatefulSet>()
                .subscribe()
                .map(|_| Other::Workload)
                .boxed(),
            informers
                .get::<ReplicationController>()
                .subscribe()
                .map(|_| Other::Workload)
                .boxed(),
            informers
                .get::<PersistentVolumeClaim>()
                .subscribe()
                .map(|_| Other::Storage)
                .boxed(),
            informers
                .get::<PersistentVolume>()
                .subscribe()
                .map(|_| Other::Storage)
                .boxed(),
            informers
                .get::<StorageClass>()
                .subscribe()
                .map(|_| Other::Storage)
                .boxed(),
        ];
        let mut other_changes = futures::stream::select_all(others);
        let ready = async {
            pods.ready().await;
            nodes.ready().await;
            // The rest refine priorities, spreading and namespace selectors; a kind the
            // server does not serve must not keep pods from being scheduled.
            let others = async {
                informers.get::<PriorityClass>().ready().await;
                informers.get::<Namespace>().ready().await;
                informers.get::<Service>().ready().await;
                informers.get::<ReplicaSet>().ready().await;
                informers.get::<StatefulSet>().ready().await;
                informers.get::<ReplicationController>().ready().await;
                informers.get::<PersistentVolumeClaim>().ready().await;
                informers.get::<PersistentVolume>().ready().await;
                informers.get::<StorageClass>().ready().await;
                informers.get::<PodDisruptionBudget>().ready().await;
            };
            if tokio::time::timeout(AUXILIARY_SYNC, others).await.is_err() {
                tracing::warn!("scheduling before every informer synced (PriorityClasses, Services, workloads, namespaces, storage, disruption budgets)");
            }
        };
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ready => {}
        }
        self.resync();
        tracing::info!(
            nodes = self.cache.node_count(),
            pending = self.queue.counts().0,
            "scheduler started"
        );
        let mut next_leftover_flush = Instant::now() + FLUSH_UNSCHEDULABLE_INTERVAL;
        let mut next_sweep = Instant::now() + SWEEP_INTERVAL;
        loop {
            // Take in everything already reported before the next cycle.
            while let Some(Some(pod)) = pod_changes.next().now_or_never() {
                self.on_pod(&pod);
            }
            while let Some(Some(node)) = node_changes.next().now_or_never() {
                self.on_node(&node);
            }
            while let Some(Some(other)) = other_changes.next().now_or_never() {
                self.on_other(other);
            }
            while let Ok(bound) = self.bound_rx.try_recv() {
                self.on_bound(bound);
            }
            let now = Instant::now();
            let leftover = now >= next_leftover_flush;
            if leftover {
                next_leftover_flush = now + FLUSH_UNSCHEDULABLE_INTERVAL;
            }
            self.queue.flush(now, leftover);
            if now >= next_sweep {
                next_sweep = now + SWEEP_INTERVAL;
                self.resync();
            }
            if shutdown.is_cancelled() {
                return;
            }
            if self.queue.has_active() {
                self.schedule_one();
                // Let the binding tasks and the informers run between cycles.
                tokio::task::yield_now().await;
                continue;
            }
            let wake = [
                Some(next_leftover_flush),
                Some(next_sweep),
                self.queue.next_backoff_expiry(),
            ]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(now + SWEEP_INTERVAL);
            tokio::select! {
                _ = shutdown.cancelled() => return,
                pod = pod_changes.next() => match pod {
                    Some(pod) => self.on_pod(&pod),
                    None => return,
                },
                node = node_changes.next() => match node {
                    Some(node) => self.on_node(&node),
                    None => return,
                },
                Some(other) = other_changes.next() => self.on_other(other),
                Some(bound) = self.bound_rx.recv() => self.on_bound(bound),
                _ = tokio::time::sleep_until(tokio::time::Instant::from_std(wake)) => {}
            }
        }
    }

    fn on_other(&mut self, other: Other) {
        let event = match other {
            Other::Namespace => ClusterEvent::NamespaceChange,
            Other::Workload => ClusterEvent::WorkloadChange,
            Other::Storage => ClusterEvent::StorageChange,
        };
        self.move_pods(event);
    }

    /// Moves the unschedulable pods `event` may help.
    pub(super) fn move_pods(&mut self, event: ClusterEvent) {
        let profile = &self.framework.profile;
        self.queue.move_for_event(
            event,
            |plugin, event| profile.cares(plugin, event),
            Instant::now(),
        );
    }

    /// One scheduling cycle for the next active pod.
    fn schedule_one(&mut self) {
        let Some((queued, cycle)) = self.queue.pop() else {
            return;
        };
        let info = queued.info.clone();
        let cluster = Cluster {
            cache: &self.cache,
            objects: &self.objects,
        };
        let outcome = self.framework.schedule(&info, &cluster, &self.nominator);
        match outcome {
            Outcome::Fits(node) => {
                tracing::debug!(pod = %info.key, node = %node, "assumed");
                self.cache.assume(info.clone(), &node);
                self.nominator.remove(&info.key);
                self.binding.insert(info.key.clone(), queued);
                tokio::spawn(bind(
                    self.ctx.clone(),
                    info.pod.clone(),
                    info.key.clone(),
                    node,
                    self.writes.clone(),
                    self.bound_tx.clone(),
                ));
            }
            Outcome::Unschedulable(mut fit) => {
                let cluster = Cluster {
                    cache: &self.cache,
                    objects: &self.objects,
                };
                let preemption = preemption::preempt(
                    &mut self.framework,
                    &cluster,
                    &self.nominator,
                    &info,
                    &fit,
                );
                fit.post_filter_msg = preemption.message.clone();
                let message = failure::fit_message(&fit);
                tracing::debug!(pod = %info.key, "unschedulable: {message}");
                let nomination = match &preemption.node {
                    Some(node) => {
                        self.nominator.nominate(info.clone(), node);
                        Nomination::Set(node.clone())
                    }
                    None if preemption.clear => {
                        self.nominator.remove(&info.key);
                        Nomination::Clear
                    }
                    None => Nomination::Keep,
                };
                if let Some(node) = &preemption.node {
                    self.evict(&info, node, &preemption.victims, &preemption.displaced);
                }
                self.queue
                    .add_unschedulable(queued, fit.plugins(), cycle, Instant::now());
                self.report(&info, Reason::Unschedulable, message, nomination);
            }
            Outcome::Error(message) => {
                tracing::debug!(pod = %info.key, "scheduling failed: {message}");
                self.queue.add_backoff(queued, Instant::now());
                self.report(&info, Reason::SchedulerError, message, Nomination::Keep);
            }
        }
    }

    /// Writes the failure on the pod (from the informer's latest copy of it).
    fn report(&self, info: &PodInfo, reason: Reason, message: String, nomination: Nomination) {
        let pod = self.current(&info.key).unwrap_or_else(|| info.pod.clone());
        let ctx = self.ctx.clone();
        let Some(recorder) = self.recorder_of(&info.key) else {
            return;
        };
        let writes = self.writes.clone();
        tokio::spawn(async move {
            let _permit = writes.acquire().await;
            failure::report(
                ctx.client.clone(),
                recorder,
                pod,
                reason,
                message,
                nomination,
            )
            .await;
        });
    }

    /// The recorder of a pod's events.
    fn recorder_of(&self, key: &str) -> Option<Recorder> {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        key.hash(&mut hasher);
        let shard = usize::try_from(hasher.finish() % RECORDER_SHARDS as u64).unwrap_or(0);
        self.recorders.get(shard).cloned()
    }

    /// The informer's copy of a pod by key.
    pub(super) fn current(&self, key: &str) -> Option<Arc<Pod>> {
        let (namespace, name) = key.split_once('/')?;
        self.pods
            .get(&kube::runtime::reflector::ObjectRef::new(name).within(namespace))
    }

    /// A binding was written or refused.
    fn on_bound(&mut self, bound: Bound) {
        let queued = self.binding.remove(&bound.key);
        let Some(error) = bound.error else {
            self.scheduled += 1;
            if self.scheduled % 1000 == 0 {
                let (active, backoff, unschedulable, gated) = self.queue.counts();
                tracing::debug!(
                    scheduled = self.scheduled,
                    active,
                    backoff,
                    unschedulable,
                    gated,
                    "scheduling"
                );
            }
            return;
        };
        tracing::debug!(pod = %bound.key, node = %bound.node, "binding failed: {error}");
        if self.cache.is_assumed(&bound.key) {
            self.cache.remove_pod(&bound.key);
            self.move_pods(ClusterEvent::AssignedPodDelete);
        }
        // Requeue the pod as it is now, if it still waits for this scheduler.
        let Some(pod) = self.current(&bound.key) else {
            return;
        };
        let Some(mut queued) = queued else {
            return;
        };
        if !self.wants(&pod) || self.queue.contains(&bound.key) {
            return;
        }
        let priority = self.priority_of(&pod);
        let info = Arc::new(PodInfo::new(pod, priority));
        queued.info = info.clone();
        self.queue.add_backoff(queued, Instant::now());
        self.report(&info, Reason::SchedulerError, error, Nomination::Keep);
    }

    /// Evicts the victims of a preemption for `pod` on `node`, and withdraws the nomination
    /// of lower-priority pods nominated there.
    fn evict(
        &mut self,
        pod: &PodInfo,
        node: &str,
        victims: &[Arc<PodInfo>],
        displaced: &[Arc<PodInfo>],
    ) {
        for other in displaced {
            self.nominator.remove(&other.key);
            let ctx = self.ctx.clone();
            let other = other.clone();
            tokio::spawn(async move {
                let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &other.namespace);
                let patch = serde_json::json!({"status": {"nominatedNodeName": null}});
                if let Err(e) = api
                    .patch_status(&other.name, &PatchParams::default(), &Patch::Merge(patch))
                    .await
                {
                    tracing::debug!(pod = %other.key, "cannot clear the nominated node: {e}");
                }
            });
        }
        for victim in victims {
            tracing::info!(pod = %pod.key, victim = %victim.key, node, "preempting");
            let ctx = self.ctx.clone();
            let victim = victim.clone();
            let preemptor = pod.pod.object_ref(&());
            let note = format!("Preempted by pod {} on node {node}", pod.uid);
            tokio::spawn(async move {
                let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &victim.namespace);
                let condition = serde_json::json!({"status": {"conditions": [{
                    "type": "DisruptionTarget",
                    "status": "True",
                    "reason": "PreemptionByScheduler",
                    "message": format!("{DEFAULT_SCHEDULER_NAME}: preempting to accommodate a higher priority pod"),
                    "lastTransitionTime": jiff::Timestamp::now().to_string(),
                }]}});
                if let Err(e) = api
                    .patch_status(
                        &victim.name,
                        &PatchParams::default(),
                        &Patch::Strategic(condition),
                    )
                    .await
                {
                    tracing::debug!(pod = %victim.key, "cannot mark the victim: {e}");
                }
                match api.delete(&victim.name, &DeleteParams::default()).await {
                    Ok(_) => {}
                    Err(kube::Error::Api(e)) if e.code == 404 => return,
                    Err(e) => {
                        tracing::warn!(pod = %victim.key, "cannot evict the victim: {e}");
                        return;
                    }
                }
                let event = Event {
                    type_: EventType::Normal,
                    reason: "Preempted".into(),
                    note: Some(note),
                    action: "Preempting".into(),
                    secondary: Some(preemptor),
                };
                let recorder = ctx.recorder(DEFAULT_SCHEDULER_NAME);
                if let Err(e) = recorder.publish(&event, &victim.pod.object_ref(&())).await {
                    tracing::debug!(pod = %victim.key, "cannot record the Preempted event: {e}");
                }
            });
        }
    }
}
