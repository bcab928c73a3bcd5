//! A pod's status as upstream's kubelet reports it, computed from the pod, what the runtime
//! says of its sandbox and containers, and the time: container statuses (state, last state,
//! readiness, restart count), the phase (upstream's `getPhase`), the kubelet's conditions
//! (`PodReadyToStartContainers`, `Initialized`, `Ready`, `ContainersReady`, `PodScheduled`,
//! with upstream's reasons and messages, transition times kept while a status holds), the
//! IPs, the start time and the QoS class. Pure functions of their inputs: no I/O, no clock.
//!
//! Probes are not run yet: a declared readiness (or startup) probe counts as passing from
//! its `initialDelaySeconds` on.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateRunning, ContainerStateTerminated,
    ContainerStateWaiting, ContainerStatus, HostIP, Pod, PodCondition, PodIP, PodSpec, PodStatus,
    Probe,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::quantity;
use crate::runtime::{self, SandboxStatus};

pub const PENDING: &str = "Pending";
pub const RUNNING: &str = "Running";
pub const SUCCEEDED: &str = "Succeeded";
pub const FAILED: &str = "Failed";

/// The conditions the kubelet owns, in the order it writes them.
pub const KUBELET_CONDITIONS: &[&str] = &[
    "PodReadyToStartContainers",
    "Initialized",
    "Ready",
    "ContainersReady",
    "PodScheduled",
];

/// Why a container waits, when it is not simply being created: `CrashLoopBackOff`,
/// `CreateContainerError`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Waiting {
    pub reason: String,
    pub message: String,
}

/// Everything a pod's status is computed from.
pub struct Observation<'a> {
    pub pod: &'a Pod,
    /// The node's address: `hostIP`, and the pod IP of pods on the host's network.
    pub node_ip: Ipv4Addr,
    /// The pod's sandbox, while it has one.
    pub sandbox: Option<&'a SandboxStatus>,
    /// Containers (by name) that wait for a reason of the pod loop's.
    pub waiting: &'a BTreeMap<String, Waiting>,
    /// The pod is being deleted and nothing of it runs any more: its phase is final.
    pub terminal: bool,
    /// The time (written to the API in whole seconds, as it keeps times).
    pub now: Timestamp,
}

/// A computed status and the earliest time it changes without anything else changing (a
/// readiness delay ending).
#[derive(Debug)]
pub struct Computed {
    pub status: PodStatus,
    pub changes_at: Option<Timestamp>,
}

/// Upstream's `IsRestartableInitContainer`: a sidecar.
pub fn is_sidecar(container: &Container) -> bool {
    container.restart_policy.as_deref() == Some("Always")
}

/// The pod's status.
pub fn pod_status(o: &Observation<'_>) -> Computed {
    let spec = o.pod.spec.clone().unwrap_or_default();
    let old = o.pod.status.clone().unwrap_or_default();
    let init_containers = spec.init_containers.clone().unwrap_or_default();
    let default_reason = if init_containers.is_empty() {
        "ContainerCreating"
    } else {
        "PodInitializing"
    };
    let mut changes_at = None;
    let mut statuses = |containers: &[Container], old: &Option<Vec<ContainerStatus>>, init| {
        containers
            .iter()
            .map(|c| {
                let old = old.iter().flatten().find(|s| s.name == c.name);
                let (status, at) =
                    container_status(c, ContainerKind::of(c, init), o, old, default_reason);
                changes_at = earliest(changes_at, at);
                status
            })
            .collect::<Vec<_>>()
    };
    let init_statuses = statuses(&init_containers, &old.init_container_statuses, true);
    let container_statuses = statuses(&spec.containers, &old.container_statuses, false);

    let initialized_before = old
        .conditions
        .iter()
        .flatten()
        .any(|c| c.type_ == "Initialized" && c.status == "True");
    let has_initialized = initialized_before || any_regular_started(&spec, &container_statuses);
    let phase = phase(
        &spec,
        &init_statuses,
        &container_statuses,
        o.terminal,
        has_initialized,
    );

    let generation = o.pod.metadata.generation;
    let sandbox_ready = o.sandbox.is_some() && !o.terminal;
    let all: Vec<&ContainerStatus> = init_statuses.iter().chain(&container_statuses).collect();
    let initialized = initialized_condition(&spec, &all, phase);
    let containers_ready = containers_ready_condition(&spec, &all, phase);
    let ready = ready_condition(&spec, &containers_ready, old.conditions.as_deref());
    let ours = [
        condition(
            "PodReadyToStartContainers",
            if sandbox_ready { "True" } else { "False" },
            None,
            None,
        ),
        initialized,
        ready,
        containers_ready,
        condition("PodScheduled", "True", None, None),
    ];
    // Conditions of others (readiness gates, DisruptionTarget) first, then the kubelet's,
    // each keeping its transition time while its status holds.
    let mut conditions: Vec<PodCondition> = old
        .conditions
        .iter()
        .flatten()
        .filter(|c| !KUBELET_CONDITIONS.contains(&c.type_.as_str()))
        .cloned()
        .collect();
    for mut c in ours {
        let before = old.conditions.iter().flatten().find(|b| b.type_ == c.type_);
        c.last_transition_time = match before {
            Some(b) if b.status == c.status && b.last_transition_time.is_some() => {
                b.last_transition_time.clone()
            }
            _ => Some(time(o.now)),
        };
        c.observed_generation = generation;
        conditions.push(c);
    }

    let host_network = spec.host_network == Some(true);
    let pod_ip = if host_network {
        Some(o.node_ip.to_string())
    } else {
        o.sandbox
            .and_then(|s| s.ip)
            .map(|ip| ip.to_string())
            .or_else(|| old.pod_ip.clone())
    };
    let host_ip = o.node_ip.to_string();
    let status = PodStatus {
        phase: Some(phase.to_string()),
        conditions: Some(conditions),
        host_ip: Some(host_ip.clone()),
        host_ips: Some(vec![HostIP { ip: host_ip }]),
        pod_ips: pod_ip.clone().map(|ip| vec![PodIP { ip }]),
        pod_ip,
        start_time: old.start_time.clone().or(Some(time(o.now))),
        init_container_statuses: (!init_statuses.is_empty()).then_some(init_statuses),
        container_statuses: Some(container_statuses),
        qos_class: Some(qos_class(&spec).to_string()),
        observed_generation: generation,
        ..old
    };
    Computed { status, changes_at }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ContainerKind {
    /// A run-to-completion init container.
    Init,
    /// A restartable init container.
    Sidecar,
    Regular,
}

impl ContainerKind {
    fn of(c: &Container, init: bool) -> ContainerKind {
        match (init, is_sidecar(c)) {
            (true, true) => ContainerKind::Sidecar,
            (true, false) => ContainerKind::Init,
            (false, _) => ContainerKind::Regular,
        }
    }
}

fn earliest(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// When a probe declared with `initialDelaySeconds` starts passing for a container that
/// started at `started_at`.
pub fn passes_from(probe: Option<&Probe>, started_at: Timestamp) -> Timestamp {
    let delay = probe
        .and_then(|p| p.initial_delay_seconds)
        .filter(|d| *d > 0)
        .unwrap_or(0);
    started_at
        .checked_add(SignedDuration::from_secs(i64::from(delay)))
        .unwrap_or(started_at)
}

/// API times are whole seconds.
fn time(t: Timestamp) -> Time {
    Time(Timestamp::from_second(t.as_second()).unwrap_or(t))
}

fn terminated(c: &runtime::ContainerStatus) -> ContainerState {
    let reason = if !c.reason.is_empty() {
        c.reason.clone()
    } else if c.exit_code == 0 {
        "Completed".to_string()
    } else {
        "Error".to_string()
    };
    ContainerState {
        terminated: Some(ContainerStateTerminated {
            container_id: Some(c.id.clone()),
            exit_code: c.exit_code,
            finished_at: c.finished_at.map(time),
            message: (!c.message.is_empty()).then(|| c.message.clone()),
            reason: Some(reason),
            signal: None,
            started_at: Some(time(c.started_at)),
        }),
        ..ContainerState::default()
    }
}

fn waiting(reason: &str, message: Option<&str>) -> ContainerState {
    ContainerState {
        waiting: Some(ContainerStateWaiting {
            reason: Some(reason.to_string()),
            message: message.filter(|m| !m.is_empty()).map(str::to_string),
        }),
        ..ContainerState::default()
    }
}

/// One container's status, and when its readiness changes by itself.
fn container_status(
    c: &Container,
    kind: ContainerKind,
    o: &Observation<'_>,
    old: Option<&ContainerStatus>,
    default_reason: &str,
) -> (ContainerStatus, Option<Timestamp>) {
    let (newest, before) = o
        .sandbox
        .map(|s| s.instances(&c.name))
        .unwrap_or((None, None));
    let waits = o.waiting.get(&c.name);
    let last_of = |instance: Option<&runtime::ContainerStatus>| {
        Some(
            instance
                .filter(|i| i.state == runtime::ContainerState::Exited)
                .map(terminated)
                .unwrap_or_default(),
        )
    };
    let Some(newest) = newest else {
        // Not created yet (or its sandbox is gone): keep what the API knew of it.
        let state = match (waits, old.and_then(|s| s.state.as_ref())) {
            (Some(w), _) => waiting(&w.reason, Some(&w.message)),
            (None, Some(state)) if o.terminal || o.sandbox.is_none() && state.waiting.is_none() => {
                state.clone()
            }
            _ => waiting(default_reason, None),
        };
        let status = ContainerStatus {
            name: c.name.clone(),
            image: old
                .map(|s| s.image.clone())
                .filter(|i| !i.is_empty())
                .or_else(|| c.image.clone())
                .unwrap_or_default(),
            image_id: old.map(|s| s.image_id.clone()).unwrap_or_default(),
            container_id: old.and_then(|s| s.container_id.clone()),
            last_state: old
                .and_then(|s| s.last_state.clone())
                .or(Some(ContainerState::default())),
            ready: false,
            restart_count: old.map_or(0, |s| s.restart_count),
            started: Some(false),
            state: Some(state),
            ..ContainerStatus::default()
        };
        return (status, None);
    };
    let mut changes_at = None;
    let (state, last_state, ready, started) = match newest.state {
        runtime::ContainerState::Running => {
            let started_from = passes_from(c.startup_probe.as_ref(), newest.started_at);
            let ready_from =
                passes_from(c.readiness_probe.as_ref(), newest.started_at).max(started_from);
            let started = kind == ContainerKind::Init || o.now >= started_from;
            let ready = match kind {
                // A run-to-completion init container is ready once it succeeded.
                ContainerKind::Init => false,
                _ => started && o.now >= ready_from,
            };
            if kind != ContainerKind::Init {
                if !started {
                    changes_at = Some(started_from);
                } else if !ready {
                    changes_at = Some(ready_from);
                }
            }
            let running = ContainerState {
                running: Some(ContainerStateRunning {
                    started_at: Some(time(newest.started_at)),
                }),
                ..ContainerState::default()
            };
            (running, last_of(before), ready, started)
        }
        runtime::ContainerState::Exited => match waits {
            Some(w) => (
                waiting(&w.reason, Some(&w.message)),
                last_of(Some(newest)),
                false,
                false,
            ),
            None => {
                let succeeded = newest.exit_code == 0;
                (
                    terminated(newest),
                    last_of(before),
                    kind == ContainerKind::Init && succeeded,
                    false,
                )
            }
        },
    };
    let status = ContainerStatus {
        name: c.name.clone(),
        image: newest.image.clone(),
        image_id: newest.image_id.clone(),
        container_id: Some(newest.id.clone()),
        last_state,
        ready,
        restart_count: i32::try_from(newest.attempt).unwrap_or(i32::MAX),
        started: Some(started),
        state: Some(state),
        ..ContainerStatus::default()
    };
    (status, changes_at)
}

fn status_of<'a>(statuses: &'a [ContainerStatus], name: &str) -> Option<&'a ContainerStatus> {
    statuses.iter().find(|s| s.name == name)
}

fn state_of(s: &ContainerStatus) -> ContainerState {
    s.state.clone().unwrap_or_default()
}

fn last_terminated(s: &ContainerStatus) -> Option<&ContainerStateTerminated> {
    s.last_state.as_ref().and_then(|l| l.terminated.as_ref())
}

/// Upstream's `HasAnyRegularContainerStarted`.
fn any_regular_started(spec: &PodSpec, statuses: &[ContainerStatus]) -> bool {
    spec.containers.iter().any(|c| {
        status_of(statuses, &c.name).is_some_and(|s| {
            let state = state_of(s);
            state.running.is_some() || state.terminated.is_some() || last_terminated(s).is_some()
        })
    })
}

/// The pod's phase: upstream's `getPhase`. `terminal`: the pod is being deleted and none of
/// its containers runs any more, so none will be restarted.
pub fn phase(
    spec: &PodSpec,
    init_statuses: &[ContainerStatus],
    statuses: &[ContainerStatus],
    terminal: bool,
    has_initialized: bool,
) -> &'static str {
    let restart_policy = spec.restart_policy.as_deref().unwrap_or("Always");
    let mut pending_regular_init = 0;
    let mut pending_sidecars = 0;
    let mut failed_initialization = 0;
    let (mut unknown, mut running, mut stopped, mut succeeded) = (0, 0, 0, 0);
    let init_containers = spec.init_containers.as_deref().unwrap_or_default();
    for c in init_containers.iter().filter(|c| !is_sidecar(c)) {
        let Some(s) = status_of(init_statuses, &c.name) else {
            pending_regular_init += 1;
            continue;
        };
        let state = state_of(s);
        if state.running.is_some() {
            pending_regular_init += 1;
        } else if let Some(t) = &state.terminated {
            if t.exit_code != 0 {
                failed_initialization += 1;
            }
        } else if state.waiting.is_some() {
            match last_terminated(s) {
                Some(t) if t.exit_code != 0 => failed_initialization += 1,
                Some(_) => {}
                None => pending_regular_init += 1,
            }
        } else {
            pending_regular_init += 1;
        }
    }
    for c in init_containers.iter().filter(|c| is_sidecar(c)) {
        let Some(s) = status_of(init_statuses, &c.name) else {
            unknown += 1;
            continue;
        };
        let state = state_of(s);
        if state.running.is_some() {
            if s.started != Some(true) {
                pending_sidecars += 1;
            }
            running += 1;
        } else if state.terminated.is_some() {
            // Stopped sidecars do not count towards the phase.
        } else if state.waiting.is_some() {
            if last_terminated(s).is_none() {
                pending_sidecars += 1;
            }
        } else {
            pending_sidecars += 1;
            unknown += 1;
        }
    }
    for c in &spec.containers {
        let Some(s) = status_of(statuses, &c.name) else {
            unknown += 1;
            continue;
        };
        let state = state_of(s);
        if state.running.is_some() {
            running += 1;
        } else if let Some(t) = &state.terminated {
            stopped += 1;
            if t.exit_code == 0 {
                succeeded += 1;
            }
        } else if state.waiting.is_some() {
            if last_terminated(s).is_some() {
                stopped += 1;
            }
        } else {
            unknown += 1;
        }
    }
    if failed_initialization > 0 && restart_policy == "Never" {
        return FAILED;
    }
    if pending_regular_init > 0 || (pending_sidecars > 0 && !has_initialized) {
        return PENDING;
    }
    if running > 0 && unknown == 0 {
        return RUNNING;
    }
    if running == 0 && stopped > 0 && unknown == 0 {
        if terminal {
            return if stopped == succeeded {
                SUCCEEDED
            } else {
                FAILED
            };
        }
        if restart_policy == "Always" {
            return RUNNING;
        }
        if stopped == succeeded {
            return SUCCEEDED;
        }
        if restart_policy == "Never" {
            return FAILED;
        }
        return RUNNING;
    }
    PENDING
}

fn condition(
    type_: &str,
    status: &str,
    reason: Option<&str>,
    message: Option<String>,
) -> PodCondition {
    PodCondition {
        type_: type_.to_string(),
        status: status.to_string(),
        reason: reason.map(str::to_string),
        message: message.filter(|m| !m.is_empty()),
        ..PodCondition::default()
    }
}

/// Go's `%s` of a string slice: `[a b]`.
fn go_list(names: &[String]) -> String {
    format!("[{}]", names.join(" "))
}

/// Upstream's `GeneratePodInitializedCondition`.
fn initialized_condition(spec: &PodSpec, all: &[&ContainerStatus], phase: &str) -> PodCondition {
    let mut unknown = Vec::new();
    let mut incomplete = Vec::new();
    for c in spec.init_containers.iter().flatten() {
        let Some(s) = all.iter().find(|s| s.name == c.name) else {
            unknown.push(c.name.clone());
            continue;
        };
        if is_sidecar(c) {
            if s.started != Some(true) {
                incomplete.push(c.name.clone());
            }
            continue;
        }
        let done = state_of(s).terminated.is_some_and(|t| t.exit_code == 0);
        if !done {
            incomplete.push(c.name.clone());
        }
    }
    if phase == SUCCEEDED && unknown.is_empty() {
        return condition("Initialized", "True", Some("PodCompleted"), None);
    }
    let statuses: Vec<ContainerStatus> = all.iter().map(|s| (*s).clone()).collect();
    if any_regular_started(spec, &statuses) {
        return condition("Initialized", "True", None, None);
    }
    let mut messages = Vec::new();
    if !unknown.is_empty() {
        messages.push(format!(
            "containers with unknown status: {}",
            go_list(&unknown)
        ));
    }
    if !incomplete.is_empty() {
        messages.push(format!(
            "containers with incomplete status: {}",
            go_list(&incomplete)
        ));
    }
    if messages.is_empty() {
        condition("Initialized", "True", None, None)
    } else {
        condition(
            "Initialized",
            "False",
            Some("ContainersNotInitialized"),
            Some(messages.join(", ")),
        )
    }
}

/// Upstream's `GenerateContainersReadyCondition`.
fn containers_ready_condition(
    spec: &PodSpec,
    all: &[&ContainerStatus],
    phase: &str,
) -> PodCondition {
    let mut unknown = Vec::new();
    let mut unready = Vec::new();
    let sidecars = spec
        .init_containers
        .iter()
        .flatten()
        .filter(|c| is_sidecar(c));
    for c in sidecars.chain(&spec.containers) {
        match all.iter().find(|s| s.name == c.name) {
            Some(s) if !s.ready => unready.push(c.name.clone()),
            Some(_) => {}
            None => unknown.push(c.name.clone()),
        }
    }
    if phase == SUCCEEDED && unknown.is_empty() {
        return condition("ContainersReady", "False", Some("PodCompleted"), None);
    }
    if phase == FAILED {
        return condition("ContainersReady", "False", Some("PodFailed"), None);
    }
    let mut messages = Vec::new();
    if !unknown.is_empty() {
        messages.push(format!(
            "containers with unknown status: {}",
            go_list(&unknown)
        ));
    }
    if !unready.is_empty() {
        messages.push(format!(
            "containers with unready status: {}",
            go_list(&unready)
        ));
    }
    if messages.is_empty() {
        condition("ContainersReady", "True", None, None)
    } else {
        condition(
            "ContainersReady",
            "False",
            Some("ContainersNotReady"),
            Some(messages.join(", ")),
        )
    }
}

/// Upstream's `GeneratePodReadyCondition`: containers ready, then every readiness gate's
/// condition `True`.
fn ready_condition(
    spec: &PodSpec,
    containers_ready: &PodCondition,
    conditions: Option<&[PodCondition]>,
) -> PodCondition {
    if containers_ready.status != "True" {
        return condition(
            "Ready",
            &containers_ready.status,
            containers_ready.reason.as_deref(),
            containers_ready.message.clone(),
        );
    }
    let mut messages = Vec::new();
    for gate in spec.readiness_gates.iter().flatten() {
        let found = conditions
            .into_iter()
            .flatten()
            .find(|c| c.type_ == gate.condition_type);
        match found {
            None => messages.push(format!(
                "corresponding condition of pod readiness gate {:?} does not exist.",
                gate.condition_type
            )),
            Some(c) if c.status != "True" => messages.push(format!(
                "the status of pod readiness gate {:?} is not \"True\", but {}",
                gate.condition_type, c.status
            )),
            Some(_) => {}
        }
    }
    if messages.is_empty() {
        condition("Ready", "True", None, None)
    } else {
        condition(
            "Ready",
            "False",
            Some("ReadinessGatesNotReady"),
            Some(messages.join(", ")),
        )
    }
}

/// Upstream's `ComputePodQOS`: `BestEffort` without requests or limits of CPU and memory,
/// `Guaranteed` when every container limits both and requests what it limits, otherwise
/// `Burstable`. A request left out is the limit (the API server's default).
pub fn qos_class(spec: &PodSpec) -> &'static str {
    const COMPUTE: [&str; 2] = ["cpu", "memory"];
    let mut requests: BTreeMap<&str, quantity::Nanos> = BTreeMap::new();
    let mut limits: BTreeMap<&str, quantity::Nanos> = BTreeMap::new();
    let mut guaranteed = true;
    let containers = spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten());
    for c in containers {
        let resources = c.resources.clone().unwrap_or_default();
        let amount = |list: &Option<
            BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>,
        >,
                      name: &str| {
            list.as_ref()
                .and_then(|l| l.get(name))
                .and_then(|q| quantity::parse(&q.0).ok())
                .filter(|n| *n > 0)
        };
        let mut limited = 0;
        for name in COMPUTE {
            let limit = amount(&resources.limits, name);
            let request = amount(&resources.requests, name).or(limit);
            if let Some(r) = request {
                let sum = requests.entry(name).or_insert(0);
                *sum = sum.saturating_add(r);
            }
            if let Some(l) = limit {
                limited += 1;
                let sum = limits.entry(name).or_insert(0);
                *sum = sum.saturating_add(l);
            }
        }
        if limited < COMPUTE.len() {
            guaranteed = false;
        }
    }
    if requests.is_empty() && limits.is_empty() {
        return "BestEffort";
    }
    if guaranteed && requests == limits {
        return "Guaranteed";
    }
    "Burstable"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::{ContainerState as Rt, PodRef};
    use serde_json::json;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + seconds).unwrap()
    }

    fn pod(spec: serde_json::Value) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "default", "uid": "u1", "generation": 1},
            "spec": spec,
            "status": {"phase": "Pending", "qosClass": "BestEffort"},
        }))
        .unwrap()
    }

    fn instance(
        name: &str,
        attempt: u32,
        started: i64,
        exit: Option<(i64, i32)>,
    ) -> runtime::ContainerStatus {
        runtime::ContainerStatus {
            id: format!("fake://{name}-{attempt}"),
            name: name.into(),
            attempt,
            image: "docker.io/library/busybox:latest".into(),
            image_id: "fake://sha256:00".into(),
            state: if exit.is_some() {
                Rt::Exited
            } else {
                Rt::Running
            },
            started_at: at(started),
            finished_at: exit.map(|(t, _)| at(t)),
            exit_code: exit.map_or(0, |(_, c)| c),
            reason: String::new(),
            message: String::new(),
        }
    }

    fn sandbox(containers: Vec<runtime::ContainerStatus>) -> SandboxStatus {
        SandboxStatus {
            id: "s".into(),
            pod: PodRef {
                namespace: "default".into(),
                name: "p".into(),
                uid: "u1".into(),
            },
            ip: Some(Ipv4Addr::new(10, 244, 1, 7)),
            created_at: at(0),
            containers,
        }
    }

    fn compute(
        pod: &Pod,
        sandbox: Option<&SandboxStatus>,
        waiting: &BTreeMap<String, Waiting>,
        terminal: bool,
        now: i64,
    ) -> Computed {
        pod_status(&Observation {
            pod,
            node_ip: Ipv4Addr::new(127, 244, 1, 1),
            sandbox,
            waiting,
            terminal,
            now: at(now),
        })
    }

    fn conditions(status: &PodStatus) -> Vec<(String, String, Option<String>)> {
        status
            .conditions
            .iter()
            .flatten()
            .map(|c| (c.type_.clone(), c.status.clone(), c.reason.clone()))
            .collect()
    }

    fn c(type_: &str, status: &str, reason: Option<&str>) -> (String, String, Option<String>) {
        (type_.into(), status.into(), reason.map(str::to_string))
    }

    #[test]
    fn a_pod_without_a_sandbox_is_pending_with_its_containers_being_created() {
        let pod = pod(json!({"containers": [{"name": "app", "image": "nginx"}]}));
        let out = compute(&pod, None, &BTreeMap::new(), false, 0);
        let s = out.status;
        assert_eq!(s.phase.as_deref(), Some("Pending"));
        assert_eq!(s.host_ip.as_deref(), Some("127.244.1.1"));
        assert_eq!(s.pod_ip, None);
        assert_eq!(s.start_time, Some(Time(at(0))));
        assert_eq!(
            conditions(&s),
            [
                c("PodReadyToStartContainers", "False", None),
                c("Initialized", "True", None),
                c("Ready", "False", Some("ContainersNotReady")),
                c("ContainersReady", "False", Some("ContainersNotReady")),
                c("PodScheduled", "True", None),
            ]
        );
        let ready = &s.conditions.as_ref().unwrap()[2];
        assert_eq!(
            ready.message.as_deref(),
            Some("containers with unready status: [app]")
        );
        assert_eq!(ready.observed_generation, Some(1));
        let app = &s.container_statuses.unwrap()[0];
        assert_eq!(
            app.state
                .as_ref()
                .unwrap()
                .waiting
                .as_ref()
                .unwrap()
                .reason
                .as_deref(),
            Some("ContainerCreating")
        );
        assert_eq!(app.image, "nginx");
        assert_eq!(app.last_state, Some(ContainerState::default()));
    }

    #[test]
    fn a_running_container_makes_the_pod_running_and_ready() {
        let pod = pod(json!({"containers": [{"name": "app", "image": "busybox"}]}));
        let sb = sandbox(vec![instance("app", 0, 1, None)]);
        let out = compute(&pod, Some(&sb), &BTreeMap::new(), false, 2);
        let s = out.status;
        assert_eq!(s.phase.as_deref(), Some("Running"));
        assert_eq!(s.pod_ip.as_deref(), Some("10.244.1.7"));
        assert_eq!(s.pod_ips.as_ref().unwrap()[0].ip, "10.244.1.7");
        assert_eq!(s.host_ips.as_ref().unwrap()[0].ip, "127.244.1.1");
        assert_eq!(s.qos_class.as_deref(), Some("BestEffort"));
        assert_eq!(s.observed_generation, Some(1));
        assert!(conditions(&s).iter().all(|(_, status, _)| status == "True"));
        let app = &s.container_statuses.unwrap()[0];
        assert!(app.ready);
        assert_eq!(app.started, Some(true));
        assert_eq!(app.restart_count, 0);
        assert_eq!(app.container_id.as_deref(), Some("fake://app-0"));
        assert_eq!(app.image_id, "fake://sha256:00");
        assert_eq!(
            app.state
                .as_ref()
                .unwrap()
                .running
                .as_ref()
                .unwrap()
                .started_at,
            Some(Time(at(1)))
        );
        assert_eq!(out.changes_at, None);
    }

    #[test]
    fn a_readiness_probe_makes_ready_wait_for_its_initial_delay() {
        let pod = pod(json!({"containers": [{"name": "app", "image": "busybox",
            "readinessProbe": {"initialDelaySeconds": 5, "exec": {"command": ["true"]}}}]}));
        let sb = sandbox(vec![instance("app", 0, 10, None)]);
        let before = compute(&pod, Some(&sb), &BTreeMap::new(), false, 12);
        let app = &before.status.container_statuses.as_ref().unwrap()[0];
        assert!(!app.ready);
        assert_eq!(before.status.phase.as_deref(), Some("Running"));
        assert_eq!(before.changes_at, Some(at(15)));
        let after = compute(&pod, Some(&sb), &BTreeMap::new(), false, 15);
        assert!(after.status.container_statuses.as_ref().unwrap()[0].ready);
        assert_eq!(after.changes_at, None);
    }

    #[test]
    fn transition_times_are_kept_while_a_condition_holds() {
        let mut p = pod(json!({"containers": [{"name": "app", "image": "busybox"}]}));
        let sb = sandbox(vec![instance("app", 0, 1, None)]);
        let first = compute(&p, Some(&sb), &BTreeMap::new(), false, 2).status;
        p.status = Some(first);
        let later = compute(&p, Some(&sb), &BTreeMap::new(), false, 50).status;
        for cond in later.conditions.unwrap() {
            assert_eq!(
                cond.last_transition_time,
                Some(Time(at(2))),
                "{}",
                cond.type_
            );
        }
        assert_eq!(later.start_time, Some(Time(at(2))));
    }

    #[test]
    fn other_conditions_are_kept_and_readiness_gates_are_honoured() {
        let mut p = pod(json!({
            "containers": [{"name": "app", "image": "busybox"}],
            "readinessGates": [{"conditionType": "example.com/ready"}],
        }));
        let sb = sandbox(vec![instance("app", 0, 1, None)]);
        let s = compute(&p, Some(&sb), &BTreeMap::new(), false, 2).status;
        let ready = s
            .conditions
            .unwrap()
            .into_iter()
            .find(|c| c.type_ == "Ready")
            .unwrap();
        assert_eq!(ready.status, "False");
        assert_eq!(ready.reason.as_deref(), Some("ReadinessGatesNotReady"));
        assert_eq!(
            ready.message.as_deref(),
            Some("corresponding condition of pod readiness gate \"example.com/ready\" does not exist.")
        );
        p.status.as_mut().unwrap().conditions = Some(vec![PodCondition {
            type_: "example.com/ready".into(),
            status: "True".into(),
            ..PodCondition::default()
        }]);
        let s = compute(&p, Some(&sb), &BTreeMap::new(), false, 2).status;
        let types: Vec<String> = s
            .conditions
            .iter()
            .flatten()
            .map(|c| c.type_.clone())
            .collect();
        assert_eq!(
            types[0], "example.com/ready",
            "others' conditions come first"
        );
        let ready = s
            .conditions
            .unwrap()
            .into_iter()
            .find(|c| c.type_ == "Ready")
            .unwrap();
        assert_eq!(ready.status, "True");
    }

    #[test]
    fn init_containers_run_first() {
        let p = pod(json!({
            "initContainers": [{"name": "setup", "image": "busybox"}],
            "containers": [{"name": "app", "image": "busybox"}],
        }));
        let sb = sandbox(vec![instance("setup", 0, 1, None)]);
        let s = compute(&p, Some(&sb), &BTreeMap::new(), false, 1).status;
        assert_eq!(s.phase.as_deref(), Some("Pending"));
        let init = conditions(&s)
            .into_iter()
            .find(|c| c.0 == "Initialized")
            .unwrap();
        assert_eq!(
            init,
            c("Initialized", "False", Some("ContainersNotInitialized"))
        );
        let app = &s.container_statuses.as_ref().unwrap()[0];
        assert_eq!(
            app.state
                .as_ref()
                .unwrap()
                .waiting
                .as_ref()
                .unwrap()
                .reason
                .as_deref(),
            Some("PodInitializing")
        );
        let sb = sandbox(vec![
            instance("setup", 0, 1, Some((1, 0))),
            instance("app", 0, 2, None),
        ]);
        let s = compute(&p, Some(&sb), &BTreeMap::new(), false, 2).status;
        assert_eq!(s.phase.as_deref(), Some("Running"));
        let setup = &s.init_container_statuses.as_ref().unwrap()[0];
        assert!(setup.ready, "a completed init container is ready");
        let term = setup.state.as_ref().unwrap().terminated.as_ref().unwrap();
        assert_eq!(term.reason.as_deref(), Some("Completed"));
        assert!(conditions(&s).iter().all(|(_, status, _)| status == "True"));
    }

    #[test]
    fn a_failed_init_container_fails_a_pod_that_never_restarts() {
        let p = pod(json!({
            "restartPolicy": "Never",
            "initContainers": [{"name": "setup", "image": "busybox"}],
            "containers": [{"name": "app", "image": "busybox"}],
        }));
        let sb = sandbox(vec![instance("setup", 0, 1, Some((1, 2)))]);
        let s = compute(&p, Some(&sb), &BTreeMap::new(), false, 2).status;
        assert_eq!(s.phase.as_deref(), Some("Failed"));
        let term = s.init_container_statuses.unwrap()[0]
            .state
            .clone()
            .unwrap()
            .terminated
            .unwrap();
        assert_eq!((term.exit_code, term.reason.as_deref()), (2, Some("Error")));
    }

    #[test]
    fn exits_end_pods_as_their_restart_policy_says() {
        let exited = |code| sandbox(vec![instance("app", 0, 1, Some((6, code)))]);
        for (policy, code, phase) in [
            ("Never", 0, "Succeeded"),
            ("Never", 1, "Failed"),
            ("OnFailure", 0, "Succeeded"),
            ("OnFailure", 1, "Running"),
            ("Always", 0, "Running"),
            ("Always", 1, "Running"),
        ] {
            let p = pod(
                json!({"restartPolicy": policy, "containers": [{"name": "app", "image": "busybox"}]}),
            );
            let sb = exited(code);
            let s = compute(&p, Some(&sb), &BTreeMap::new(), false, 7).status;
            assert_eq!(
                s.phase.as_deref(),
                Some(phase),
                "{policy} after exit code {code}"
            );
        }
        let p = pod(
            json!({"restartPolicy": "Never", "containers": [{"name": "app", "image": "busybox"}]}),
        );
        let sb = exited(0);
        let s = compute(&p, Some(&sb), &BTreeMap::new(), false, 7).status;
        assert_eq!(
            conditions(&s),
            [
                c("PodReadyToStartContainers", "True", None),
                c("Initialized", "True", Some("PodCompleted")),
                c("Ready", "False", Some("PodCompleted")),
                c("ContainersReady", "False", Some("PodCompleted")),
                c("PodScheduled", "True", None),
            ]
        );
        let sb = exited(1);
        let s = compute(&p, Some(&sb), &BTreeMap::new(), false, 7).status;
        let ready = conditions(&s).into_iter().find(|c| c.0 == "Ready").unwrap();
        assert_eq!(ready, c("Ready", "False", Some("PodFailed")));
    }

    #[test]
    fn a_deleted_pod_whose_containers_stopped_is_terminal() {
        let p = pod(json!({"containers": [{"name": "app", "image": "busybox"}]}));
        let sb = sandbox(vec![instance("app", 0, 1, Some((30, 0)))]);
        let s = compute(&p, Some(&sb), &BTreeMap::new(), true, 31).status;
        assert_eq!(s.phase.as_deref(), Some("Succeeded"));
        let sb = sandbox(vec![instance("app", 0, 1, Some((30, 137)))]);
        let s = compute(&p, Some(&sb), &BTreeMap::new(), true, 31).status;
        assert_eq!(s.phase.as_deref(), Some("Failed"));
        let prsc = conditions(&s).into_iter().next().unwrap();
        assert_eq!(prsc, c("PodReadyToStartContainers", "False", None));
    }

    #[test]
    fn a_crash_loop_shows_the_back_off_and_the_last_exit() {
        let p = pod(json!({"containers": [{"name": "app", "image": "busybox"}]}));
        let sb = sandbox(vec![
            instance("app", 1, 3, Some((4, 1))),
            instance("app", 0, 1, Some((2, 1))),
        ]);
        let waiting = BTreeMap::from([(
            "app".to_string(),
            Waiting {
                reason: "CrashLoopBackOff".into(),
                message: "back-off 10s restarting failed container=app pod=p_default(u1)".into(),
            },
        )]);
        let s = compute(&p, Some(&sb), &waiting, false, 5).status;
        assert_eq!(s.phase.as_deref(), Some("Running"));
        let app = &s.container_statuses.unwrap()[0];
        assert_eq!(app.restart_count, 1);
        assert!(!app.ready);
        let w = app.state.as_ref().unwrap().waiting.as_ref().unwrap();
        assert_eq!(w.reason.as_deref(), Some("CrashLoopBackOff"));
        let last = app
            .last_state
            .as_ref()
            .unwrap()
            .terminated
            .as_ref()
            .unwrap();
        assert_eq!((last.exit_code, last.reason.as_deref()), (1, Some("Error")));
        assert_eq!(last.finished_at, Some(Time(at(4))));
        // Restarted: running, and the last state is the exit before.
        let sb = sandbox(vec![
            instance("app", 2, 15, None),
            instance("app", 1, 3, Some((4, 1))),
        ]);
        let s = compute(&p, Some(&sb), &BTreeMap::new(), false, 15).status;
        let app = &s.container_statuses.unwrap()[0];
        assert_eq!(app.restart_count, 2);
        assert!(app.state.as_ref().unwrap().running.is_some());
        assert_eq!(
            app.last_state
                .as_ref()
                .unwrap()
                .terminated
                .as_ref()
                .unwrap()
                .finished_at,
            Some(Time(at(4)))
        );
    }

    #[test]
    fn host_network_pods_have_the_nodes_ip() {
        let p =
            pod(json!({"hostNetwork": true, "containers": [{"name": "app", "image": "busybox"}]}));
        let mut sb = sandbox(vec![instance("app", 0, 1, None)]);
        sb.ip = None;
        let s = compute(&p, Some(&sb), &BTreeMap::new(), false, 2).status;
        assert_eq!(s.pod_ip.as_deref(), Some("127.244.1.1"));
    }

    #[test]
    fn qos_classes_are_upstreams() {
        let spec = |resources: serde_json::Value| -> PodSpec {
            serde_json::from_value(json!({"containers": [{"name": "a", "resources": resources}]}))
                .unwrap()
        };
        assert_eq!(qos_class(&spec(json!({}))), "BestEffort");
        assert_eq!(
            qos_class(&spec(json!({"requests": {"cpu": "100m"}}))),
            "Burstable"
        );
        assert_eq!(
            qos_class(&spec(json!({"limits": {"cpu": "1", "memory": "1Gi"}}))),
            "Guaranteed"
        );
        assert_eq!(
            qos_class(&spec(json!({"requests": {"cpu": "1000m", "memory": "1Gi"},
                "limits": {"cpu": "1", "memory": "1024Mi"}}))),
            "Guaranteed"
        );
        assert_eq!(
            qos_class(&spec(json!({"requests": {"cpu": "500m", "memory": "1Gi"},
                "limits": {"cpu": "1", "memory": "1Gi"}}))),
            "Burstable"
        );
        assert_eq!(
            qos_class(&spec(json!({"requests": {"example.com/gpu": "1"}}))),
            "BestEffort",
            "only CPU and memory count"
        );
    }
}
