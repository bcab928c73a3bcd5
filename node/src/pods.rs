//! The pod loop: one [`Reconciler`] over the pods bound to this process's nodes (one shared
//! Pod informer, however many nodes; pods of other nodes are filtered out before they are
//! queued). For each pod it does what upstream's kubelet `syncPod` does:
//!
//! 1. A pod the API already calls `Succeeded` or `Failed` has its sandbox removed, and is
//!    deleted for good (grace period 0) if it is being deleted.
//! 2. A pod being deleted has its containers stopped within its grace period; once none
//!    runs, its final status is written (a terminal phase) and it is deleted with grace
//!    period 0, so the API server removes it.
//! 3. Otherwise: a pod without a sandbox is first reported `Pending` (containers being
//!    created); the sandbox is made; containers are started as [`actions`] plans (init
//!    containers first, restarts after the crash-loop back-off); the status
//!    ([`status`]) is written through `pods/status` when it changed.
//!
//! A pod is synced again when it changes, when the runtime reports one of its containers
//! exited, when a back-off or readiness delay ends, and every `syncFrequency` regardless.
//! Housekeeping removes the sandboxes of pods that no longer exist (deleted with grace
//! period 0 by someone else).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures::StreamExt;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{ObjectReference, Pod, PodStatus};
use kube::api::{DeleteParams, Patch, PatchParams, Preconditions};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Event, EventType, Recorder};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::Api;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use keelson_reconcilers::{Context, Error, Reconciler};

use crate::actions::{self, Plan};
use crate::backoff::{self, BackOff};
use crate::runtime::{ContainerConfig, ContainerState, Runtime, SandboxConfig, SandboxStatus};
use crate::status::{self, Observation, Waiting};

/// How long a container whose creation failed waits before it is tried again.
const CREATE_RETRY: Duration = backoff::INITIAL;
/// Upstream's default `terminationGracePeriodSeconds`.
const DEFAULT_GRACE_SECONDS: i64 = 30;
/// How often housekeeping looks for sandboxes of pods that are gone.
const HOUSEKEEPING_INTERVAL: Duration = Duration::from_secs(10);

/// One node of this process, as the pod loop needs it.
pub struct NodeHandle<R> {
    pub name: String,
    /// The node's InternalIP.
    pub address: Ipv4Addr,
    pub runtime: R,
    recorder: Recorder,
}

impl<R: Runtime> NodeHandle<R> {
    /// `recorder` reports events as this node's kubelet.
    pub fn new(name: String, address: Ipv4Addr, runtime: R, recorder: Recorder) -> Self {
        NodeHandle {
            name,
            address,
            runtime,
            recorder,
        }
    }

    /// Publishes an event about `pod` (a container of it, with `field_path`) in the
    /// background: events are best effort and never hold a sync up.
    fn event(
        &self,
        pod: &Pod,
        field_path: Option<String>,
        type_: EventType,
        reason: &str,
        note: String,
    ) {
        let regarding = ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Pod".into()),
            name: pod.metadata.name.clone(),
            namespace: pod.metadata.namespace.clone(),
            uid: pod.metadata.uid.clone(),
            resource_version: pod.metadata.resource_version.clone(),
            field_path,
        };
        let event = Event {
            type_,
            reason: reason.to_string(),
            note: Some(note),
            action: reason.to_string(),
            secondary: None,
        };
        let recorder = self.recorder.clone();
        tokio::spawn(async move {
            if let Err(e) = recorder.publish(&event, &regarding).await {
                tracing::debug!("cannot publish a pod event: {e}");
            }
        });
    }
}

/// The field path of a container in upstream's events: `spec.containers{app}`.
fn field_path(pod: &Pod, name: &str) -> String {
    let init = pod
        .spec
        .iter()
        .flat_map(|s| s.init_containers.iter().flatten())
        .any(|c| c.name == name);
    let list = if init { "initContainers" } else { "containers" };
    format!("spec.{list}{{{name}}}")
}

/// What the loop and its housekeeping share.
struct Shared<R> {
    nodes: HashMap<String, NodeHandle<R>>,
    back_off: Mutex<BackOff>,
    /// Pods whose containers were told to stop (for the `Killing` events, once).
    stopping: Mutex<HashSet<String>>,
    /// Pods (by UID) this loop has seen through to a terminal phase: never started again,
    /// even when a change from before that reaches the cache late says otherwise.
    finished: Mutex<HashMap<String, ObjectRef<Pod>>>,
    sync_frequency: Duration,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    match mutex.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// The pod loop over the pods of a set of nodes, each with its runtime.
pub struct PodLoop<R> {
    shared: Arc<Shared<R>>,
}

impl<R: Runtime> PodLoop<R> {
    pub fn new(nodes: Vec<NodeHandle<R>>, sync_frequency: Duration) -> PodLoop<R> {
        PodLoop {
            shared: Arc::new(Shared {
                nodes: nodes.into_iter().map(|n| (n.name.clone(), n)).collect(),
                back_off: Mutex::new(BackOff::default()),
                stopping: Mutex::new(HashSet::new()),
                finished: Mutex::new(HashMap::new()),
                sync_frequency,
            }),
        }
    }

    /// Removes, every few seconds until `shutdown`, the sandboxes of pods that are gone
    /// from the API (`pods` is the shared Pod informer's cache).
    pub fn housekeeping(
        &self,
        pods: Store<Pod>,
        shutdown: CancellationToken,
    ) -> impl std::future::Future<Output = ()> + Send + 'static {
        let shared = self.shared.clone();
        async move {
            // No need to wait for the cache to be filled: a sandbox exists only for a pod
            // the loop read from it. (Nor could it: kube-runtime's `wait_until_ready`
            // wakes only the last of several waiters.)
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(HOUSEKEEPING_INTERVAL) => {}
                }
                let exists = |uid: &str, pod: &ObjectRef<Pod>| {
                    pods.get(pod)
                        .is_some_and(|p| p.metadata.uid.as_deref() == Some(uid))
                };
                lock(&shared.finished).retain(|uid, pod| exists(uid, pod));
                for node in shared.nodes.values() {
                    for pod in node.runtime.sandboxes().await {
                        let key = ObjectRef::new(&pod.name).within(&pod.namespace);
                        if !exists(&pod.uid, &key) {
                            tracing::debug!(node = %node.name, pod = %pod.name, "removing the sandbox of a pod that is gone");
                            if let Err(e) = node.runtime.remove_sandbox(&pod.uid).await {
                                tracing::warn!(node = %node.name, "cannot remove a sandbox: {e}");
                            }
                            lock(&shared.back_off).forget_pod(&pod.uid);
                            lock(&shared.stopping).remove(&pod.uid);
                        }
                    }
                }
            }
        }
    }
}

fn node_name(pod: &Pod) -> Option<&str> {
    pod.spec.as_ref()?.node_name.as_deref()
}

impl<R: Runtime> Reconciler for PodLoop<R> {
    type Object = Pod;
    const NAME: &'static str = "kubelet";

    fn selects(&self, pod: &Pod) -> bool {
        node_name(pod).is_some_and(|n| self.shared.nodes.contains_key(n))
    }

    fn watches(&self, controller: Controller<Pod>, _ctx: &Context) -> Controller<Pod> {
        let exits =
            futures::stream::select_all(self.shared.nodes.values().map(|n| n.runtime.events()))
                .map(|pod| ObjectRef::new(&pod.name).within(&pod.namespace));
        controller.reconcile_on(exits)
    }

    async fn reconcile(&self, pod: Arc<Pod>, ctx: Arc<Context>) -> Result<Action, Error> {
        let Some(node) = node_name(&pod).and_then(|n| self.shared.nodes.get(n)) else {
            return Ok(Action::await_change());
        };
        let (Some(name), Some(namespace), Some(uid)) = (
            pod.metadata.name.as_deref(),
            pod.metadata.namespace.as_deref(),
            pod.metadata.uid.as_deref(),
        ) else {
            return Ok(Action::await_change());
        };
        let sync = PodSync {
            shared: &self.shared,
            node,
            pod: &pod,
            api: Api::namespaced(ctx.client.clone(), namespace),
            name,
            uid,
        };
        sync.run().await
    }
}

/// One sync of one pod.
struct PodSync<'a, R> {
    shared: &'a Shared<R>,
    node: &'a NodeHandle<R>,
    pod: &'a Pod,
    api: Api<Pod>,
    name: &'a str,
    uid: &'a str,
}

impl<R: Runtime> PodSync<'_, R> {
    async fn run(&self) -> Result<Action, Error> {
        let phase = self.pod.status.as_ref().and_then(|s| s.phase.as_deref());
        let finished = lock(&self.shared.finished).contains_key(self.uid);
        if finished || matches!(phase, Some(status::SUCCEEDED | status::FAILED)) {
            self.forget().await?;
            if self.pod.metadata.deletion_timestamp.is_some() {
                self.delete_now().await?;
            }
            return Ok(Action::await_change());
        }
        if self.pod.metadata.deletion_timestamp.is_some() {
            return self.terminate().await;
        }
        let mut sandbox = self.node.runtime.sandbox(self.uid).await;
        if sandbox.is_none() {
            // As the kubelet does: report the pod Pending before anything of it exists.
            let pending = self.compute(None, &BTreeMap::new(), false).status;
            self.write_status(pending).await?;
            let config = SandboxConfig {
                pod: crate::runtime::PodRef {
                    namespace: self.pod.metadata.namespace.clone().unwrap_or_default(),
                    name: self.name.to_string(),
                    uid: self.uid.to_string(),
                },
                host_network: self
                    .pod
                    .spec
                    .as_ref()
                    .is_some_and(|s| s.host_network == Some(true)),
                annotations: self.pod.metadata.annotations.clone().unwrap_or_default(),
            };
            match self.node.runtime.create_sandbox(&config).await {
                Ok(created) => sandbox = Some(created),
                Err(e) => {
                    self.node.event(
                        self.pod,
                        None,
                        EventType::Warning,
                        "FailedCreatePodSandBox",
                        format!("Failed to create pod sandbox: {e}"),
                    );
                    return Err(Error::Other(format!(
                        "cannot create the sandbox of {}: {e}",
                        self.name
                    )));
                }
            }
        }
        let mut sandbox = sandbox.ok_or_else(|| Error::Other("the sandbox vanished".into()))?;
        // Start what can start; a started init container may let the next one start at once.
        let mut plan = Plan::default();
        let mut failed: BTreeMap<String, Waiting> = BTreeMap::new();
        let rounds = self.container_count().saturating_add(1);
        for _ in 0..rounds {
            plan = actions::plan(
                self.pod,
                &sandbox,
                &lock(&self.shared.back_off),
                Timestamp::now(),
            );
            plan.start.retain(|s| !failed.contains_key(&s.name));
            if plan.start.is_empty() && plan.stop.is_empty() {
                break;
            }
            self.carry_out(&plan, &mut failed).await;
            sandbox = self
                .node
                .runtime
                .sandbox(self.uid)
                .await
                .ok_or_else(|| Error::Other("the sandbox vanished".into()))?;
            if plan.start.is_empty() {
                // Only stops: nothing new can start before the runtime reports them.
                break;
            }
        }
        for name in plan.waiting.keys() {
            self.node.event(
                self.pod,
                Some(field_path(self.pod, name)),
                EventType::Warning,
                "BackOff",
                format!(
                    "Back-off restarting failed container {name} in pod {}",
                    actions::pod_description(self.pod)
                ),
            );
        }
        let mut waiting = plan.waiting.clone();
        waiting.extend(failed.clone());
        let computed = self.compute(Some(&sandbox), &waiting, false);
        let phase = computed.status.phase.clone();
        self.write_status(computed.status).await?;
        if matches!(phase.as_deref(), Some(status::SUCCEEDED | status::FAILED)) {
            // Done for good: nothing of it needs to run or keep its address.
            self.finish();
            self.forget().await?;
            return Ok(Action::await_change());
        }
        let mut wake = [computed.changes_at, plan.wake_at]
            .into_iter()
            .flatten()
            .min();
        if !failed.is_empty() {
            let retry = Timestamp::now().checked_add(CREATE_RETRY).ok();
            wake = wake.into_iter().chain(retry).min();
        }
        Ok(self.requeue(wake))
    }

    fn container_count(&self) -> usize {
        self.pod.spec.as_ref().map_or(0, |s| {
            s.containers.len() + s.init_containers.as_ref().map_or(0, Vec::len)
        })
    }

    /// Requeues at `wake` (a little after, so the time has surely come), or after the
    /// sync frequency, whichever is sooner.
    fn requeue(&self, wake: Option<Timestamp>) -> Action {
        let sync = self.shared.sync_frequency;
        let after = wake
            .and_then(|at| Duration::try_from(at.duration_since(Timestamp::now())).ok())
            .map_or(sync, |d| {
                d.saturating_add(Duration::from_millis(20)).min(sync)
            });
        Action::requeue(after.max(Duration::from_millis(20)))
    }

    fn compute(
        &self,
        sandbox: Option<&SandboxStatus>,
        waiting: &BTreeMap<String, Waiting>,
        terminal: bool,
    ) -> status::Computed {
        status::pod_status(&Observation {
            pod: self.pod,
            node_ip: self.node.address,
            sandbox,
            waiting,
            terminal,
            now: Timestamp::now(),
        })
    }

    /// Starts and stops what `plan` says; creation failures are added to `failed`.
    async fn carry_out(&self, plan: &Plan, failed: &mut BTreeMap<String, Waiting>) {
        for start in &plan.start {
            let config = ContainerConfig {
                name: start.name.clone(),
                image: start.image.clone(),
                attempt: start.attempt,
                init: start.init,
            };
            let path = Some(field_path(self.pod, &start.name));
            match self.node.runtime.start_container(self.uid, &config).await {
                Ok(_) => {
                    if let Some(exited) = start.restarts_after {
                        lock(&self.shared.back_off)
                            .next(&backoff::key(self.uid, &start.name), exited);
                    }
                    self.node.event(
                        self.pod,
                        path.clone(),
                        EventType::Normal,
                        "Pulled",
                        format!(
                            "Container image {:?} already present on machine",
                            start.image
                        ),
                    );
                    self.node.event(
                        self.pod,
                        path.clone(),
                        EventType::Normal,
                        "Created",
                        format!("Created container: {}", start.name),
                    );
                    self.node.event(
                        self.pod,
                        path,
                        EventType::Normal,
                        "Started",
                        format!("Started container {}", start.name),
                    );
                }
                Err(e) => {
                    self.node.event(
                        self.pod,
                        path,
                        EventType::Warning,
                        "Failed",
                        format!("Error: {e}"),
                    );
                    failed.insert(
                        start.name.clone(),
                        Waiting {
                            reason: "CreateContainerError".into(),
                            message: e.to_string(),
                        },
                    );
                }
            }
        }
        for id in &plan.stop {
            if let Err(e) = self
                .node
                .runtime
                .stop_container(self.uid, id, self.grace_period(false))
                .await
            {
                tracing::warn!(pod = %self.name, "cannot stop a container: {e}");
            }
        }
    }

    /// The grace period: the deletion's when `deleting`, else the pod's.
    fn grace_period(&self, deleting: bool) -> Duration {
        let of_pod = self
            .pod
            .spec
            .as_ref()
            .and_then(|s| s.termination_grace_period_seconds);
        let seconds = if deleting {
            self.pod.metadata.deletion_grace_period_seconds.or(of_pod)
        } else {
            of_pod
        };
        Duration::from_secs(u64::try_from(seconds.unwrap_or(DEFAULT_GRACE_SECONDS)).unwrap_or(0))
    }

    /// A pod being deleted: its containers stop within the grace period; then its final
    /// status is written and it is deleted for good.
    async fn terminate(&self) -> Result<Action, Error> {
        let Some(sandbox) = self.node.runtime.sandbox(self.uid).await else {
            // Nothing of it ever ran here.
            self.delete_now().await?;
            return Ok(Action::await_change());
        };
        let grace = self.grace_period(true);
        let first = lock(&self.shared.stopping).insert(self.uid.to_string());
        for container in sandbox
            .containers
            .iter()
            .filter(|c| c.state == ContainerState::Running)
        {
            if first {
                self.node.event(
                    self.pod,
                    Some(field_path(self.pod, &container.name)),
                    EventType::Normal,
                    "Killing",
                    format!("Stopping container {}", container.name),
                );
            }
            self.node
                .runtime
                .stop_container(self.uid, &container.id, grace)
                .await
                .map_err(|e| Error::Other(format!("cannot stop {}: {e}", container.name)))?;
        }
        let sandbox = self.node.runtime.sandbox(self.uid).await;
        let still_running = sandbox.as_ref().is_some_and(|s| {
            s.containers
                .iter()
                .any(|c| c.state == ContainerState::Running)
        });
        if still_running {
            let computed = self.compute(sandbox.as_ref(), &BTreeMap::new(), false);
            self.write_status(computed.status).await?;
            // The runtime reports the exits; look again by the end of the grace period.
            let deadline = Timestamp::now().checked_add(grace).ok();
            return Ok(self.requeue(deadline));
        }
        let last = self.compute(sandbox.as_ref(), &BTreeMap::new(), true);
        self.write_status(last.status).await?;
        self.finish();
        self.delete_now().await?;
        self.forget().await?;
        Ok(Action::await_change())
    }

    /// Deletes the pod for good (grace period 0), if it is still this pod.
    async fn delete_now(&self) -> Result<(), Error> {
        let params = DeleteParams {
            grace_period_seconds: Some(0),
            preconditions: Some(Preconditions {
                uid: Some(self.uid.to_string()),
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        match self.api.delete(self.name, &params).await {
            Ok(_) => Ok(()),
            // Gone already, or a new pod of the same name.
            Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Remembers that the pod reached a terminal phase here.
    fn finish(&self) {
        let key = ObjectRef::new(self.name)
            .within(self.pod.metadata.namespace.as_deref().unwrap_or_default());
        lock(&self.shared.finished).insert(self.uid.to_string(), key);
    }

    /// Removes the pod's sandbox (releasing its IP) and what the loop kept about it.
    async fn forget(&self) -> Result<(), Error> {
        self.node
            .runtime
            .remove_sandbox(self.uid)
            .await
            .map_err(|e| {
                Error::Other(format!("cannot remove the sandbox of {}: {e}", self.name))
            })?;
        lock(&self.shared.back_off).forget_pod(self.uid);
        lock(&self.shared.stopping).remove(self.uid);
        Ok(())
    }

    /// Writes `desired` through `pods/status` (a strategic merge patch, as upstream's status
    /// manager sends) unless the pod already has it.
    async fn write_status(&self, desired: PodStatus) -> Result<(), Error> {
        let current = self.pod.status.clone().unwrap_or_default();
        if same_status(&current, &desired) {
            return Ok(());
        }
        let order: Vec<_> = desired
            .conditions
            .iter()
            .flatten()
            .map(|c| json!({ "type": c.type_ }))
            .collect();
        let mut status = serde_json::to_value(&desired)
            .map_err(|e| Error::Other(format!("cannot encode a pod status: {e}")))?;
        if let Some(map) = status.as_object_mut() {
            // A condition's reason and message that went away are deleted, not merged.
            for condition in map
                .get_mut("conditions")
                .and_then(|c| c.as_array_mut())
                .into_iter()
                .flatten()
                .filter_map(|c| c.as_object_mut())
            {
                for field in ["reason", "message"] {
                    condition.entry(field).or_insert(serde_json::Value::Null);
                }
            }
            map.insert("$setElementOrder/conditions".into(), json!(order));
        }
        let patch = json!({
            "metadata": { "uid": self.uid },
            "status": status,
        });
        match self
            .api
            .patch_status(self.name, &PatchParams::default(), &Patch::Strategic(patch))
            .await
        {
            Ok(_) => Ok(()),
            // Deleted meanwhile: housekeeping removes what is left.
            Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// Whether two statuses say the same, whatever the order of their conditions.
fn same_status(a: &PodStatus, b: &PodStatus) -> bool {
    let sorted = |s: &PodStatus| {
        let mut s = s.clone();
        if let Some(conditions) = s.conditions.as_mut() {
            conditions.sort_by(|x, y| x.type_.cmp(&y.type_));
        }
        s
    };
    sorted(a) == sorted(b)
}
