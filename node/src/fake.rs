//! The fake runtime: sandboxes and containers that exist only in memory, for simulating
//! many nodes in one process. A sandbox gets a pod IP from the node's pod CIDR; containers
//! are running from the moment they start, and exit only when the pod's annotations say:
//!
//! | annotation | meaning |
//! |---|---|
//! | `sim.keelson.dev/exit-after: 5s` | containers exit this long after each start (Go durations: `500ms`, `1m30s`) |
//! | `sim.keelson.dev/exit-code: 1` | with this exit code (0 to 255; default 0); alone, they exit at once |
//! | `sim.keelson.dev/stop-after: 2s` | once asked to stop, containers take this long to exit (code 0); longer than the grace period, they are killed at its end (code 137). Default: the whole grace period |
//! | `sim.keelson.dev/<key>.<container>` | any of the above for one container, overriding the pod's |
//!
//! Init containers complete at once with code 0 unless their own `exit-after.<name>` or
//! `exit-code.<name>` says otherwise; the pod-wide `exit-*` annotations apply to the other
//! containers (sidecars included). A restarted container behaves as it did the first time,
//! so `exit-after` with `restartPolicy: Always` is a crash loop. An annotation that cannot be
//! read fails the container's creation (`CreateContainerError`, naming it).

use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures::stream::BoxStream;
use futures::StreamExt;
use jiff::Timestamp;
use tokio::sync::broadcast;

use crate::ipam::{Cidr, IpPool};
use crate::runtime::{
    ContainerConfig, ContainerState, ContainerStatus, PodRef, Runtime, RuntimeError, SandboxConfig,
    SandboxStatus,
};

/// Annotation: how long after each start containers exit.
pub const EXIT_AFTER: &str = "sim.keelson.dev/exit-after";
/// Annotation: the code they exit with.
pub const EXIT_CODE: &str = "sim.keelson.dev/exit-code";
/// Annotation: how long containers take to exit once asked to stop.
pub const STOP_AFTER: &str = "sim.keelson.dev/stop-after";

/// The exit code of a container killed at the end of its grace period (128 + SIGKILL).
const KILLED: i32 = 137;

/// Exit notices that may wait for the pod loop before the oldest are dropped (the loop's
/// periodic sync catches up on those): enough for every pod of a full node (110 by default)
/// at once. The channel holds this many slots from the start, for each of a process's
/// thousands of simulated nodes.
const EVENT_BUFFER: usize = 128;

/// An in-memory runtime for one node.
pub struct FakeRuntime {
    state: Arc<Mutex<State>>,
    events: broadcast::Sender<PodRef>,
}

struct State {
    pool: IpPool,
    sandboxes: HashMap<String, Sandbox>,
    /// Makes every id unique.
    serial: u64,
}

struct Sandbox {
    id: String,
    pod: PodRef,
    ip: Option<Ipv4Addr>,
    created_at: Timestamp,
    annotations: BTreeMap<String, String>,
    containers: Vec<Instance>,
}

/// One container instance and how it is going to end.
struct Instance {
    status: ContainerStatus,
    /// When it exits on its own, and with which code.
    exits: Option<(Timestamp, i32)>,
    /// When it exits because it was asked to stop, and with which code.
    stops: Option<(Timestamp, i32)>,
    /// How long it takes to stop when asked (`None`: the whole grace period).
    stop_after: Option<Duration>,
}

impl Instance {
    /// Marks the instance exited if its end has come by `now`.
    fn settle(&mut self, now: Timestamp) {
        if self.status.state != ContainerState::Running {
            return;
        }
        let end = match (self.exits, self.stops) {
            (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
            (a, b) => a.or(b),
        };
        if let Some((at, code)) = end.filter(|(at, _)| *at <= now) {
            self.status.state = ContainerState::Exited;
            self.status.finished_at = Some(at);
            self.status.exit_code = code;
        }
    }
}

impl FakeRuntime {
    /// A runtime handing out pod IPs from `pod_cidr`.
    pub fn new(pod_cidr: Cidr) -> FakeRuntime {
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        FakeRuntime {
            state: Arc::new(Mutex::new(State {
                pool: IpPool::new(pod_cidr),
                sandboxes: HashMap::new(),
                serial: 0,
            })),
            events,
        }
    }

    /// `nodeInfo.containerRuntimeVersion` of nodes running this runtime.
    pub fn runtime_version() -> String {
        format!("fake://{}", env!("CARGO_PKG_VERSION"))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        match self.state.lock() {
            Ok(state) => state,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Tells the pod loop about `pod` at `at` (a container's end).
    fn notify_at(&self, pod: PodRef, at: Timestamp) {
        let events = self.events.clone();
        let wait: Duration = at
            .duration_since(Timestamp::now())
            .try_into()
            .unwrap_or(Duration::ZERO);
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            // Nobody listening is fine: the pod loop syncs periodically too.
            let _ = events.send(pod);
        });
    }
}

impl State {
    /// A new id: 64 hex digits, like containerd's.
    fn new_id(&mut self, what: &str) -> String {
        self.serial = self.serial.wrapping_add(1);
        digest(&format!("{what}/{}/{}", self.serial, uuid::Uuid::new_v4()))
    }
}

fn digest(text: &str) -> String {
    let hash = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
    hash.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

impl Runtime for FakeRuntime {
    fn version(&self) -> String {
        FakeRuntime::runtime_version()
    }

    async fn create_sandbox(&self, config: &SandboxConfig) -> Result<SandboxStatus, RuntimeError> {
        let mut state = self.lock();
        if let Some(existing) = state.sandboxes.get(&config.pod.uid) {
            return Ok(existing.status());
        }
        let ip = if config.host_network {
            None
        } else {
            let pool = &mut state.pool;
            Some(
                pool.allocate()
                    .ok_or_else(|| RuntimeError::NoAddress(pool.cidr().to_string()))?,
            )
        };
        let sandbox = Sandbox {
            id: state.new_id("sandbox"),
            pod: config.pod.clone(),
            ip,
            created_at: Timestamp::now(),
            annotations: config.annotations.clone(),
            containers: Vec::new(),
        };
        let status = sandbox.status();
        state.sandboxes.insert(config.pod.uid.clone(), sandbox);
        Ok(status)
    }

    async fn start_container(
        &self,
        pod_uid: &str,
        config: &ContainerConfig,
    ) -> Result<String, RuntimeError> {
        let now = Timestamp::now();
        let mut state = self.lock();
        let id = format!("fake://{}", state.new_id("container"));
        let sandbox = state
            .sandboxes
            .get_mut(pod_uid)
            .ok_or_else(|| RuntimeError::NoSandbox(pod_uid.to_string()))?;
        let behaviour = Behaviour::of(&sandbox.annotations, &config.name, config.init)
            .map_err(RuntimeError::CreateContainer)?;
        for instance in sandbox.containers.iter_mut() {
            instance.settle(now);
            if instance.status.name == config.name
                && instance.status.state == ContainerState::Running
            {
                return Err(RuntimeError::CreateContainer(format!(
                    "container {:?} is already running",
                    config.name
                )));
            }
        }
        let image = normalize_image(&config.image);
        let exits = match behaviour.exit {
            Some((after, code)) => Some((
                now.checked_add(after)
                    .map_err(|e| RuntimeError::CreateContainer(e.to_string()))?,
                code,
            )),
            None => None,
        };
        sandbox.containers.push(Instance {
            status: ContainerStatus {
                id: id.clone(),
                name: config.name.clone(),
                attempt: config.attempt,
                image_id: format!("fake://sha256:{}", digest(&image)),
                image,
                state: ContainerState::Running,
                started_at: now,
                finished_at: None,
                exit_code: 0,
                reason: String::new(),
                message: String::new(),
            },
            exits,
            stops: None,
            stop_after: behaviour.stop_after,
        });
        // Keep the newest two instances of the name, as the kubelet's garbage collection
        // keeps the last dead one.
        let mut of_name: Vec<u32> = sandbox
            .containers
            .iter()
            .filter(|c| c.status.name == config.name)
            .map(|c| c.status.attempt)
            .collect();
        of_name.sort_unstable_by(|a, b| b.cmp(a));
        if let Some(&oldest_kept) = of_name.get(1) {
            sandbox
                .containers
                .retain(|c| c.status.name != config.name || c.status.attempt >= oldest_kept);
        }
        let pod = sandbox.pod.clone();
        drop(state);
        if let Some((at, _)) = exits {
            self.notify_at(pod, at);
        }
        Ok(id)
    }

    async fn stop_container(
        &self,
        pod_uid: &str,
        container_id: &str,
        timeout: Duration,
    ) -> Result<(), RuntimeError> {
        let now = Timestamp::now();
        let mut state = self.lock();
        let sandbox = state
            .sandboxes
            .get_mut(pod_uid)
            .ok_or_else(|| RuntimeError::NoSandbox(pod_uid.to_string()))?;
        let pod = sandbox.pod.clone();
        let instance = sandbox
            .containers
            .iter_mut()
            .find(|c| c.status.id == container_id)
            .ok_or_else(|| RuntimeError::NoContainer(container_id.to_string()))?;
        instance.settle(now);
        if instance.status.state != ContainerState::Running {
            return Ok(());
        }
        let takes = instance.stop_after.unwrap_or(timeout);
        let (after, code) = if takes <= timeout {
            (takes, 0)
        } else {
            (timeout, KILLED)
        };
        let at = now.checked_add(after).unwrap_or(now);
        // Asked again (a shorter grace period), the earlier end stands.
        let stops = match instance.stops {
            Some(planned) if planned.0 <= at => planned,
            _ => (at, code),
        };
        instance.stops = Some(stops);
        instance.settle(now);
        drop(state);
        self.notify_at(pod, stops.0);
        Ok(())
    }

    async fn remove_sandbox(&self, pod_uid: &str) -> Result<(), RuntimeError> {
        let mut state = self.lock();
        if let Some(sandbox) = state.sandboxes.remove(pod_uid) {
            if let Some(ip) = sandbox.ip {
                state.pool.release(ip);
            }
        }
        Ok(())
    }

    async fn sandbox(&self, pod_uid: &str) -> Option<SandboxStatus> {
        let now = Timestamp::now();
        let mut state = self.lock();
        let sandbox = state.sandboxes.get_mut(pod_uid)?;
        for instance in sandbox.containers.iter_mut() {
            instance.settle(now);
        }
        Some(sandbox.status())
    }

    async fn sandboxes(&self) -> Vec<PodRef> {
        self.lock()
            .sandboxes
            .values()
            .map(|s| s.pod.clone())
            .collect()
    }

    fn events(&self) -> BoxStream<'static, PodRef> {
        futures::stream::unfold(self.events.subscribe(), |mut receiver| async move {
            loop {
                match receiver.recv().await {
                    Ok(pod) => return Some((pod, receiver)),
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        })
        .boxed()
    }
}

impl Sandbox {
    fn status(&self) -> SandboxStatus {
        SandboxStatus {
            id: self.id.clone(),
            pod: self.pod.clone(),
            ip: self.ip,
            created_at: self.created_at,
            containers: self.containers.iter().map(|c| c.status.clone()).collect(),
        }
    }
}

/// How one container behaves, from the pod's annotations.
#[derive(Debug, PartialEq)]
struct Behaviour {
    /// How long after its start it exits, and with which code.
    exit: Option<(Duration, i32)>,
    stop_after: Option<Duration>,
}

impl Behaviour {
    fn of(
        annotations: &BTreeMap<String, String>,
        container: &str,
        init: bool,
    ) -> Result<Behaviour, String> {
        // The container's own annotation, else (but not for init containers' exits) the pod's.
        let lookup = |key: &str, pod_wide: bool| -> Option<(String, &String)> {
            let own = format!("{key}.{container}");
            if let Some(value) = annotations.get(&own) {
                return Some((own, value));
            }
            pod_wide
                .then(|| annotations.get(key).map(|v| (key.to_string(), v)))
                .flatten()
        };
        let exit_after = lookup(EXIT_AFTER, !init)
            .map(|(key, value)| parse_duration(value).map_err(|e| format!("annotation {key}: {e}")))
            .transpose()?;
        let exit_code = lookup(EXIT_CODE, !init)
            .map(|(key, value)| match value.trim().parse::<i32>() {
                Ok(code) if (0..=255).contains(&code) => Ok(code),
                _ => Err(format!(
                    "annotation {key}: {value:?} is not an exit code (0 to 255)"
                )),
            })
            .transpose()?;
        let stop_after = lookup(STOP_AFTER, true)
            .map(|(key, value)| parse_duration(value).map_err(|e| format!("annotation {key}: {e}")))
            .transpose()?;
        let exit = match (exit_after, exit_code) {
            (Some(after), code) => Some((after, code.unwrap_or(0))),
            (None, Some(code)) => Some((Duration::ZERO, code)),
            (None, None) if init => Some((Duration::ZERO, 0)),
            (None, None) => None,
        };
        Ok(Behaviour { exit, stop_after })
    }
}

/// A duration as Go writes it: `300ms`, `5s`, `1.5m`, `1h30m` (units `ns`, `us`, `µs`,
/// `ms`, `s`, `m`, `h`), not negative.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("{text:?} is not a duration such as 500ms, 5s or 1m30s");
    let mut rest = text.trim();
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total = Duration::ZERO;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let (number, tail) = rest.split_at(number_len);
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let nanos_per_unit: u64 = match unit {
            "ns" => 1,
            "us" | "µs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return Err(bad()),
        };
        let value: f64 = number.parse().map_err(|_| bad())?;
        let nanos = value * nanos_per_unit as f64;
        if !nanos.is_finite() || nanos < 0.0 || nanos > u64::MAX as f64 {
            return Err(bad());
        }
        total = total
            .checked_add(Duration::from_nanos(nanos.round() as u64))
            .ok_or_else(bad)?;
        rest = tail;
    }
    Ok(total)
}

/// An image reference as containerd resolves it: `nginx` -> `docker.io/library/nginx:latest`.
fn normalize_image(image: &str) -> String {
    let (first, _) = image.split_once('/').unwrap_or(("", image));
    let has_domain = first.contains('.') || first.contains(':') || first == "localhost";
    let mut full = if has_domain {
        image.to_string()
    } else if image.contains('/') {
        format!("docker.io/{image}")
    } else {
        format!("docker.io/library/{image}")
    };
    let last = full.rsplit('/').next().unwrap_or("");
    if !last.contains(':') && !full.contains('@') {
        full.push_str(":latest");
    }
    full
}

#[cfg(test)]
mod tests {
    use super::*;

    fn annotations(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn durations_read_as_go_writes_them() {
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1.5h"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        for bad in ["", "5", "s", "-5s", "5x", "1m30", "abc"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn behaviour_comes_from_the_containers_or_the_pods_annotations() {
        let none = annotations(&[]);
        assert_eq!(
            Behaviour::of(&none, "app", false),
            Ok(Behaviour {
                exit: None,
                stop_after: None
            }),
            "containers run until stopped"
        );
        assert_eq!(
            Behaviour::of(&none, "setup", true).unwrap().exit,
            Some((Duration::ZERO, 0)),
            "init containers complete at once"
        );
        let pod = annotations(&[
            (EXIT_AFTER, "5s"),
            (EXIT_CODE, "1"),
            ("sim.keelson.dev/exit-code.sidecar", "0"),
            (STOP_AFTER, "2s"),
        ]);
        assert_eq!(
            Behaviour::of(&pod, "app", false),
            Ok(Behaviour {
                exit: Some((Duration::from_secs(5), 1)),
                stop_after: Some(Duration::from_secs(2)),
            })
        );
        assert_eq!(
            Behaviour::of(&pod, "sidecar", false).unwrap().exit,
            Some((Duration::from_secs(5), 0))
        );
        assert_eq!(
            Behaviour::of(&pod, "setup", true).unwrap().exit,
            Some((Duration::ZERO, 0)),
            "the pod-wide exit annotations are not the init containers'"
        );
        let code_only = annotations(&[("sim.keelson.dev/exit-code.setup", "3")]);
        assert_eq!(
            Behaviour::of(&code_only, "setup", true).unwrap().exit,
            Some((Duration::ZERO, 3))
        );
        let bad = annotations(&[(EXIT_CODE, "300")]);
        let err = Behaviour::of(&bad, "app", false).unwrap_err();
        assert!(err.contains("sim.keelson.dev/exit-code"), "{err}");
        let bad = annotations(&[("sim.keelson.dev/exit-after.app", "soon")]);
        let err = Behaviour::of(&bad, "app", false).unwrap_err();
        assert!(err.contains("sim.keelson.dev/exit-after.app"), "{err}");
    }

    #[test]
    fn images_are_named_as_containerd_names_them() {
        assert_eq!(normalize_image("nginx"), "docker.io/library/nginx:latest");
        assert_eq!(
            normalize_image("nginx:1.27"),
            "docker.io/library/nginx:1.27"
        );
        assert_eq!(
            normalize_image("bitnami/redis"),
            "docker.io/bitnami/redis:latest"
        );
        assert_eq!(
            normalize_image("registry.k8s.io/pause:3.10"),
            "registry.k8s.io/pause:3.10"
        );
        assert_eq!(
            normalize_image("localhost:5000/app"),
            "localhost:5000/app:latest"
        );
        assert_eq!(
            normalize_image("busybox@sha256:abc"),
            "docker.io/library/busybox@sha256:abc"
        );
    }

    fn pod(uid: &str) -> SandboxConfig {
        SandboxConfig {
            pod: PodRef {
                namespace: "default".into(),
                name: uid.into(),
                uid: uid.into(),
            },
            host_network: false,
            annotations: annotations(&[(STOP_AFTER, "0s")]),
        }
    }

    fn container(name: &str, attempt: u32) -> ContainerConfig {
        ContainerConfig {
            name: name.into(),
            image: "nginx".into(),
            attempt,
            init: false,
        }
    }

    #[tokio::test]
    async fn sandboxes_get_pod_ips_and_containers_stop_when_asked() {
        let runtime = FakeRuntime::new("10.244.1.0/24".parse().unwrap());
        let sandbox = runtime.create_sandbox(&pod("a")).await.unwrap();
        assert_eq!(sandbox.ip, Some(Ipv4Addr::new(10, 244, 1, 2)));
        let again = runtime.create_sandbox(&pod("a")).await.unwrap();
        assert_eq!(again.id, sandbox.id, "creating a sandbox is idempotent");
        let other = runtime.create_sandbox(&pod("b")).await.unwrap();
        assert_eq!(other.ip, Some(Ipv4Addr::new(10, 244, 1, 3)));
        let id = runtime
            .start_container("a", &container("app", 0))
            .await
            .unwrap();
        assert!(id.starts_with("fake://"));
        assert!(runtime
            .start_container("a", &container("app", 1))
            .await
            .is_err());
        let status = runtime.sandbox("a").await.unwrap();
        let (newest, before) = status.instances("app");
        let newest = newest.unwrap();
        assert_eq!(newest.state, ContainerState::Running);
        assert_eq!(newest.image, "docker.io/library/nginx:latest");
        assert!(newest.image_id.starts_with("fake://sha256:"));
        assert!(before.is_none());
        // stop-after 0s: it exits at once, with code 0.
        runtime
            .stop_container("a", &id, Duration::from_secs(30))
            .await
            .unwrap();
        let status = runtime.sandbox("a").await.unwrap();
        let stopped = status.instances("app").0.unwrap();
        assert_eq!(stopped.state, ContainerState::Exited);
        assert_eq!(stopped.exit_code, 0);
        // A new attempt keeps the one before it.
        runtime
            .start_container("a", &container("app", 1))
            .await
            .unwrap();
        let status = runtime.sandbox("a").await.unwrap();
        let (newest, before) = status.instances("app");
        assert_eq!(newest.map(|c| c.attempt), Some(1));
        assert_eq!(before.map(|c| c.attempt), Some(0));
        runtime.remove_sandbox("a").await.unwrap();
        assert!(runtime.sandbox("a").await.is_none());
        assert_eq!(runtime.sandboxes().await.len(), 1);
    }

    #[tokio::test]
    async fn containers_that_outlast_the_grace_period_are_killed() {
        let runtime = FakeRuntime::new("10.244.1.0/24".parse().unwrap());
        let mut config = pod("a");
        config.annotations = annotations(&[(STOP_AFTER, "1h")]);
        runtime.create_sandbox(&config).await.unwrap();
        let id = runtime
            .start_container("a", &container("app", 0))
            .await
            .unwrap();
        runtime
            .stop_container("a", &id, Duration::ZERO)
            .await
            .unwrap();
        let status = runtime.sandbox("a").await.unwrap();
        let killed = status.instances("app").0.unwrap();
        assert_eq!(killed.state, ContainerState::Exited);
        assert_eq!(killed.exit_code, 137);
    }

    #[tokio::test]
    async fn containers_exit_when_their_annotations_say() {
        let runtime = FakeRuntime::new("10.244.1.0/24".parse().unwrap());
        let mut config = pod("a");
        config.annotations = annotations(&[(EXIT_AFTER, "50ms"), (EXIT_CODE, "2")]);
        runtime.create_sandbox(&config).await.unwrap();
        let mut events = runtime.events();
        runtime
            .start_container("a", &container("app", 0))
            .await
            .unwrap();
        let event = tokio::time::timeout(Duration::from_secs(10), events.next())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(event.uid, "a");
        let status = runtime.sandbox("a").await.unwrap();
        let exited = status.instances("app").0.unwrap();
        assert_eq!(exited.state, ContainerState::Exited);
        assert_eq!(exited.exit_code, 2);
        assert!(exited.finished_at.unwrap() >= exited.started_at);
    }
}
