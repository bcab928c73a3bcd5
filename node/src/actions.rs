//! What to do next to a running pod's containers, given what its sandbox holds: upstream's
//! `computePodActions`. Init containers run one at a time, in order, each to completion (a
//! sidecar — an init container with `restartPolicy: Always` — only until it has started);
//! then every container starts. An exited container is restarted as the pod's restart
//! policy says (init containers whenever it is not `Never`), after the crash-loop
//! back-off. When a pod that does not restart its containers is done, its sidecars are
//! stopped. Pure: the caller carries the plan out.

use std::collections::BTreeMap;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Container, ContainerStatus, Pod};

use crate::backoff::{self, go_duration, BackOff};
use crate::runtime::{self, ContainerState, SandboxStatus};
use crate::status::{is_sidecar, passes_from, Waiting};

/// A container to start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Start {
    pub name: String,
    pub image: String,
    pub attempt: u32,
    pub init: bool,
    /// When the instance it replaces exited: the restart counts towards the back-off.
    pub restarts_after: Option<Timestamp>,
}

/// What to do now, and what to report meanwhile.
#[derive(Debug, Default, PartialEq)]
pub struct Plan {
    pub start: Vec<Start>,
    /// Running containers to stop (by runtime id): sidecars of a pod that is done.
    pub stop: Vec<String>,
    /// Containers waiting out their back-off.
    pub waiting: BTreeMap<String, Waiting>,
    /// When a back-off ends.
    pub wake_at: Option<Timestamp>,
}

/// Upstream's `format.Pod`: `name_namespace(uid)`.
pub fn pod_description(pod: &Pod) -> String {
    format!(
        "{}_{}({})",
        pod.metadata.name.as_deref().unwrap_or_default(),
        pod.metadata.namespace.as_deref().unwrap_or_default(),
        pod.metadata.uid.as_deref().unwrap_or_default()
    )
}

/// Whether container `name` ran before, as the API last reported it (its sandbox was lost
/// since): its next start is then a restart.
fn ran_before(pod: &Pod, name: &str) -> Option<u32> {
    let status = pod.status.as_ref()?;
    let all = status
        .init_container_statuses
        .iter()
        .flatten()
        .chain(status.container_statuses.iter().flatten());
    all.filter(|s: &&ContainerStatus| s.name == name)
        .find(|s| {
            let state = s.state.clone().unwrap_or_default();
            state.running.is_some()
                || state.terminated.is_some()
                || s.last_state
                    .as_ref()
                    .is_some_and(|l| l.terminated.is_some())
        })
        .map(|s| {
            u32::try_from(s.restart_count)
                .unwrap_or(0)
                .saturating_add(1)
        })
}

struct Planner<'a> {
    pod: &'a Pod,
    uid: &'a str,
    sandbox: &'a SandboxStatus,
    back_off: &'a BackOff,
    now: Timestamp,
    plan: Plan,
}

impl Planner<'_> {
    fn start(&mut self, c: &Container, init: bool, replaces: Option<&runtime::ContainerStatus>) {
        let attempt = match replaces {
            Some(previous) => previous.attempt.saturating_add(1),
            None => ran_before(self.pod, &c.name).unwrap_or(0),
        };
        self.plan.start.push(Start {
            name: c.name.clone(),
            image: c.image.clone().unwrap_or_default(),
            attempt,
            init,
            restarts_after: replaces.and_then(|r| r.finished_at),
        });
    }

    /// Restarts an exited container unless it must wait out its back-off; whether it did.
    fn restart(&mut self, c: &Container, init: bool, exited: &runtime::ContainerStatus) -> bool {
        let finished = exited.finished_at.unwrap_or(self.now);
        let key = backoff::key(self.uid, &c.name);
        match self.back_off.waiting(&key, finished, self.now) {
            Some((wait, until)) => {
                self.plan.waiting.insert(
                    c.name.clone(),
                    Waiting {
                        reason: "CrashLoopBackOff".into(),
                        message: format!(
                            "back-off {} restarting failed container={} pod={}",
                            go_duration(wait),
                            c.name,
                            pod_description(self.pod)
                        ),
                    },
                );
                self.plan.wake_at = Some(match self.plan.wake_at {
                    Some(at) => at.min(until),
                    None => until,
                });
                false
            }
            None => {
                self.start(c, init, Some(exited));
                true
            }
        }
    }

    /// Whether any of the pod's (regular) containers was started in this sandbox.
    fn initialized(&self) -> bool {
        self.pod
            .spec
            .iter()
            .flat_map(|s| &s.containers)
            .any(|c| self.sandbox.instances(&c.name).0.is_some())
    }

    /// Walks the init containers; whether all are done (sidecars started).
    fn init_containers(&mut self, containers: &[Container], restart_policy: &str) -> bool {
        for c in containers {
            let newest = self.sandbox.instances(&c.name).0;
            if is_sidecar(c) {
                match newest {
                    None => {
                        self.start(c, false, None);
                        return false;
                    }
                    Some(n) if n.state == ContainerState::Running => {
                        if self.now < passes_from(c.startup_probe.as_ref(), n.started_at) {
                            return false;
                        }
                    }
                    // Once the pod's containers have started, an exited sidecar no longer
                    // holds them back (it is restarted with them).
                    Some(_) if self.initialized() => {}
                    Some(n) => {
                        self.restart(c, false, n);
                        return false;
                    }
                }
                continue;
            }
            match newest {
                None => {
                    self.start(c, true, None);
                    return false;
                }
                Some(n) if n.state == ContainerState::Running => return false,
                Some(n) if n.exit_code == 0 => {}
                Some(n) => {
                    // A failed init container: the pod fails if it never restarts.
                    if restart_policy != "Never" {
                        self.restart(c, true, n);
                    }
                    return false;
                }
            }
        }
        true
    }
}

/// The next actions for `pod`, running in `sandbox`, at `now`.
pub fn plan(pod: &Pod, sandbox: &SandboxStatus, back_off: &BackOff, now: Timestamp) -> Plan {
    let Some(spec) = pod.spec.as_ref() else {
        return Plan::default();
    };
    let restart_policy = spec.restart_policy.as_deref().unwrap_or("Always");
    let mut planner = Planner {
        pod,
        uid: pod.metadata.uid.as_deref().unwrap_or_default(),
        sandbox,
        back_off,
        now,
        plan: Plan::default(),
    };
    let init = spec.init_containers.as_deref().unwrap_or_default();
    if !planner.init_containers(init, restart_policy) {
        return planner.plan;
    }
    let mut done = true;
    for c in &spec.containers {
        match planner.sandbox.instances(&c.name).0 {
            None => {
                planner.start(c, false, None);
                done = false;
            }
            Some(n) if n.state == ContainerState::Running => done = false,
            Some(n) => {
                let restarts = match restart_policy {
                    "Never" => false,
                    "OnFailure" => n.exit_code != 0,
                    _ => true,
                };
                if restarts {
                    planner.restart(c, false, n);
                    done = false;
                }
            }
        }
    }
    // Restarted sidecars may be waiting for back-off: keep reporting them.
    for c in init.iter().filter(|c| is_sidecar(c)) {
        if let Some(n) = planner.sandbox.instances(&c.name).0 {
            if done && n.state == ContainerState::Running {
                planner.plan.stop.push(n.id.clone());
            } else if !done && n.state == ContainerState::Exited {
                planner.restart(c, false, n);
            }
        }
    }
    planner.plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::PodRef;
    use serde_json::json;
    use std::net::Ipv4Addr;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + seconds).unwrap()
    }

    fn pod(spec: serde_json::Value) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "ns", "uid": "u1"},
            "spec": spec,
        }))
        .unwrap()
    }

    fn instance(name: &str, attempt: u32, exit: Option<(i64, i32)>) -> runtime::ContainerStatus {
        runtime::ContainerStatus {
            id: format!("{name}-{attempt}"),
            name: name.into(),
            attempt,
            image: String::new(),
            image_id: String::new(),
            state: if exit.is_some() {
                ContainerState::Exited
            } else {
                ContainerState::Running
            },
            started_at: at(0),
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
                namespace: "ns".into(),
                name: "p".into(),
                uid: "u1".into(),
            },
            ip: Some(Ipv4Addr::new(10, 244, 0, 2)),
            created_at: at(0),
            containers,
        }
    }

    fn names(plan: &Plan) -> Vec<(&str, u32)> {
        plan.start
            .iter()
            .map(|s| (s.name.as_str(), s.attempt))
            .collect()
    }

    const TWO: &str = r#"{"initContainers": [{"name": "a", "image": "busybox"}, {"name": "b", "image": "busybox"}],
        "containers": [{"name": "x", "image": "nginx"}, {"name": "y", "image": "nginx"}]}"#;

    #[test]
    fn init_containers_start_one_at_a_time_then_all_containers() {
        let p = pod(serde_json::from_str(TWO).unwrap());
        let backoff = BackOff::default();
        let plan = plan(&p, &sandbox(vec![]), &backoff, at(1));
        assert_eq!(names(&plan), [("a", 0)]);
        assert!(plan.start[0].init);
        let running = sandbox(vec![instance("a", 0, None)]);
        assert_eq!(names(&super::plan(&p, &running, &backoff, at(1))), []);
        let done = sandbox(vec![instance("a", 0, Some((1, 0)))]);
        assert_eq!(names(&super::plan(&p, &done, &backoff, at(1))), [("b", 0)]);
        let both = sandbox(vec![
            instance("a", 0, Some((1, 0))),
            instance("b", 0, Some((1, 0))),
        ]);
        let plan = super::plan(&p, &both, &backoff, at(1));
        assert_eq!(names(&plan), [("x", 0), ("y", 0)]);
        assert!(!plan.start[0].init);
    }

    #[test]
    fn a_failed_init_container_is_retried_unless_the_pod_never_restarts() {
        let failed = sandbox(vec![instance("a", 0, Some((1, 1)))]);
        let backoff = BackOff::default();
        let mut spec: serde_json::Value = serde_json::from_str(TWO).unwrap();
        let p = pod(spec.clone());
        assert_eq!(names(&plan(&p, &failed, &backoff, at(2))), [("a", 1)]);
        spec["restartPolicy"] = json!("Never");
        let p = pod(spec);
        assert_eq!(plan(&p, &failed, &backoff, at(2)), Plan::default());
    }

    #[test]
    fn exited_containers_restart_as_the_policy_says_after_the_back_off() {
        let spec = |policy: &str| {
            pod(json!({"restartPolicy": policy, "containers": [{"name": "x", "image": "nginx"}]}))
        };
        let mut backoff = BackOff::default();
        let failed = sandbox(vec![instance("x", 0, Some((5, 1)))]);
        let succeeded = sandbox(vec![instance("x", 0, Some((5, 0)))]);
        assert_eq!(
            names(&plan(&spec("Always"), &succeeded, &backoff, at(6))),
            [("x", 1)]
        );
        assert_eq!(
            names(&plan(&spec("OnFailure"), &failed, &backoff, at(6))),
            [("x", 1)]
        );
        assert!(plan(&spec("OnFailure"), &succeeded, &backoff, at(6))
            .start
            .is_empty());
        assert!(plan(&spec("Never"), &failed, &backoff, at(6))
            .start
            .is_empty());
        let first = plan(&spec("Always"), &failed, &backoff, at(6));
        assert_eq!(first.start[0].restarts_after, Some(at(5)));
        // The first restart was recorded: the second waits 10 s from the exit.
        backoff.next("u1/x", at(5));
        let again = sandbox(vec![
            instance("x", 1, Some((8, 1))),
            instance("x", 0, Some((5, 1))),
        ]);
        let plan = plan(&spec("Always"), &again, &backoff, at(9));
        assert!(plan.start.is_empty());
        assert_eq!(plan.wake_at, Some(at(18)));
        let waiting = &plan.waiting["x"];
        assert_eq!(waiting.reason, "CrashLoopBackOff");
        assert_eq!(
            waiting.message,
            "back-off 10s restarting failed container=x pod=p_ns(u1)"
        );
        assert_eq!(
            names(&super::plan(&spec("Always"), &again, &backoff, at(18))),
            [("x", 2)]
        );
    }

    #[test]
    fn sidecars_start_before_the_next_container_and_stop_when_the_pod_is_done() {
        let p = pod(json!({
            "restartPolicy": "Never",
            "initContainers": [{"name": "proxy", "image": "envoy", "restartPolicy": "Always"}],
            "containers": [{"name": "job", "image": "busybox"}],
        }));
        let backoff = BackOff::default();
        let plan = plan(&p, &sandbox(vec![]), &backoff, at(1));
        assert_eq!(names(&plan), [("proxy", 0)]);
        assert!(
            !plan.start[0].init,
            "a sidecar is no run-to-completion container"
        );
        let started = sandbox(vec![instance("proxy", 0, None)]);
        assert_eq!(
            names(&super::plan(&p, &started, &backoff, at(1))),
            [("job", 0)]
        );
        let crashed = sandbox(vec![
            instance("proxy", 0, Some((2, 1))),
            instance("job", 0, None),
        ]);
        assert_eq!(
            names(&super::plan(&p, &crashed, &backoff, at(3))),
            [("proxy", 1)],
            "a sidecar that exits later is restarted beside the running containers"
        );
        let done = sandbox(vec![
            instance("proxy", 0, None),
            instance("job", 0, Some((3, 0))),
        ]);
        let plan = super::plan(&p, &done, &backoff, at(4));
        assert!(plan.start.is_empty());
        assert_eq!(plan.stop, ["proxy-0"]);
    }

    #[test]
    fn a_container_of_a_lost_sandbox_restarts_with_the_next_attempt() {
        let mut p = pod(json!({"containers": [{"name": "x", "image": "nginx"}]}));
        p.status = serde_json::from_value(json!({"containerStatuses": [{
            "name": "x", "image": "nginx", "imageID": "", "ready": true, "restartCount": 3,
            "state": {"running": {"startedAt": "2025-01-01T00:00:00Z"}}}]}))
        .unwrap();
        let plan = plan(&p, &sandbox(vec![]), &BackOff::default(), at(1));
        assert_eq!(names(&plan), [("x", 4)]);
    }
}
