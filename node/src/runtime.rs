//! The container runtime as the pod loop sees it: a small, CRI-shaped interface (pod
//! sandboxes holding containers, identified by the pod's UID). The fake runtime
//! ([`crate::fake`]) is the first implementation; a CRI client (containerd over gRPC) and a
//! host-process runtime implement the same trait later.
//!
//! Calls map onto the CRI: [`Runtime::create_sandbox`] is `RunPodSandbox`,
//! [`Runtime::start_container`] is `CreateContainer` + `StartContainer`,
//! [`Runtime::stop_container`] is `StopContainer` (but returns once the stop is under way:
//! the exit shows in [`Runtime::sandbox`] and [`Runtime::events`]),
//! [`Runtime::remove_sandbox`] is `StopPodSandbox` + `RemovePodSandbox`, [`Runtime::sandbox`]
//! is `PodSandboxStatus` + `ListContainers`, [`Runtime::sandboxes`] is `ListPodSandbox` and
//! [`Runtime::events`] is `GetContainerEvents`.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::Ipv4Addr;
use std::time::Duration;

use futures::stream::BoxStream;
use jiff::Timestamp;

/// The pod a sandbox belongs to (CRI's `PodSandboxMetadata`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PodRef {
    pub namespace: String,
    pub name: String,
    pub uid: String,
}

/// What a sandbox is made from.
#[derive(Clone, Debug)]
pub struct SandboxConfig {
    pub pod: PodRef,
    /// Shares the node's network: no pod IP of its own.
    pub host_network: bool,
    /// The pod's annotations (the CRI passes them on; the fake runtime reads its behaviour
    /// from them).
    pub annotations: BTreeMap<String, String>,
}

/// What a container is made from.
#[derive(Clone, Debug)]
pub struct ContainerConfig {
    pub name: String,
    pub image: String,
    /// How many times this container of the pod was started before (CRI's
    /// `ContainerMetadata.attempt`): the restart count.
    pub attempt: u32,
    /// A run-to-completion init container (not a sidecar). A runtime of real processes has
    /// no use for it; the fake one lets such containers complete at once by default.
    pub init: bool,
}

/// A sandbox and its containers.
#[derive(Clone, Debug, PartialEq)]
pub struct SandboxStatus {
    pub id: String,
    pub pod: PodRef,
    /// The pod's IP; `None` on the host's network.
    pub ip: Option<Ipv4Addr>,
    pub created_at: Timestamp,
    /// Every container instance the runtime still holds: for each name the newest and the
    /// one before it (what the kubelet needs for `state` and `lastState`).
    pub containers: Vec<ContainerStatus>,
}

impl SandboxStatus {
    /// The newest instance of container `name`, and the one before it.
    pub fn instances(&self, name: &str) -> (Option<&ContainerStatus>, Option<&ContainerStatus>) {
        let mut of_name: Vec<&ContainerStatus> =
            self.containers.iter().filter(|c| c.name == name).collect();
        of_name.sort_by_key(|c| std::cmp::Reverse(c.attempt));
        let mut newest_first = of_name.into_iter();
        (newest_first.next(), newest_first.next())
    }
}

/// The state of one container instance (CRI's `ContainerState`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContainerState {
    Running,
    Exited,
}

/// One container instance.
#[derive(Clone, Debug, PartialEq)]
pub struct ContainerStatus {
    /// The runtime's id, with its scheme (`fake://…`, `containerd://…`).
    pub id: String,
    pub name: String,
    pub attempt: u32,
    /// The image as the runtime resolved it (`docker.io/library/nginx:1.27`).
    pub image: String,
    /// The image's digest reference (`fake://sha256:…`).
    pub image_id: String,
    pub state: ContainerState,
    pub started_at: Timestamp,
    /// When it exited, with its exit code and the runtime's reason (`OOMKilled`; empty
    /// when the runtime gives none).
    pub finished_at: Option<Timestamp>,
    pub exit_code: i32,
    pub reason: String,
    pub message: String,
}

/// A runtime call that failed.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("no sandbox {0}")]
    NoSandbox(String),
    #[error("no container {0}")]
    NoContainer(String),
    /// No pod IP is left in the node's pod CIDR.
    #[error("failed to set up the pod network: no free IP in {0}")]
    NoAddress(String),
    /// The container could not be created from its configuration (the kubelet reports it
    /// as `CreateContainerError`).
    #[error("{0}")]
    CreateContainer(String),
}

/// A container runtime, CRI-shaped. Every call is keyed by the sandbox's pod UID.
pub trait Runtime: Send + Sync + 'static {
    /// The runtime's name and version as `nodeInfo.containerRuntimeVersion` shows it.
    fn version(&self) -> String;

    /// Makes the pod's sandbox, its network set up (`RunPodSandbox`). Idempotent: an
    /// existing sandbox of the pod is returned as it is.
    fn create_sandbox(
        &self,
        config: &SandboxConfig,
    ) -> impl Future<Output = Result<SandboxStatus, RuntimeError>> + Send;

    /// Creates and starts a container in the pod's sandbox; returns its id.
    fn start_container(
        &self,
        pod_uid: &str,
        config: &ContainerConfig,
    ) -> impl Future<Output = Result<String, RuntimeError>> + Send;

    /// Asks a running container to stop; it is killed if it has not exited within
    /// `timeout`. Returns once the stop is under way.
    fn stop_container(
        &self,
        pod_uid: &str,
        container_id: &str,
        timeout: Duration,
    ) -> impl Future<Output = Result<(), RuntimeError>> + Send;

    /// Kills whatever still runs in the pod's sandbox, tears its network down and forgets
    /// it. Removing a sandbox that does not exist succeeds.
    fn remove_sandbox(
        &self,
        pod_uid: &str,
    ) -> impl Future<Output = Result<(), RuntimeError>> + Send;

    /// The pod's sandbox and its containers, if it has one.
    fn sandbox(&self, pod_uid: &str) -> impl Future<Output = Option<SandboxStatus>> + Send;

    /// The pods that have a sandbox.
    fn sandboxes(&self) -> impl Future<Output = Vec<PodRef>> + Send;

    /// The pods whose containers changed state on their own (a container exited) from now
    /// on; the pod loop syncs them.
    fn events(&self) -> BoxStream<'static, PodRef>;
}
