//! Job tracking with finalizers, as upstream tracks Jobs: every pod of a Job carries the
//! `batch.kubernetes.io/job-tracking` finalizer, so a finished pod cannot disappear
//! before it is counted. A finished pod is first written into the Job's
//! `status.uncountedTerminatedPods` (by UID), then its finalizer is removed, and once the
//! finalizer is gone (or the pod is), the UID moves from there into `succeeded` or
//! `failed`. A crash at any step repeats no count and loses none.
//!
//! A pod being deleted before it finished counts as failed (unless the Job is finished or
//! suspended, when its pods are stopped on purpose). Pods whose Job is gone or being
//! deleted lose the finalizer at once ([`Orphans`]).

use std::collections::BTreeSet;
use std::sync::Arc;

use k8s_openapi::api::batch::v1::{Job, UncountedTerminatedPods};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::Api;
use serde_json::json;

use super::policy::{self, FailureAction};
use crate::controllers::{not_found, pods};
use crate::{Context, Error, Reconciler};

/// The finalizer every pod of a Job carries until it is counted.
pub const FINALIZER: &str = "batch.kubernetes.io/job-tracking";

pub fn has_finalizer(pod: &Pod) -> bool {
    pod.metadata
        .finalizers
        .as_ref()
        .is_some_and(|f| f.iter().any(|x| x == FINALIZER))
}

/// How a tracked pod ended, if it has: `Some(true)` succeeded, `Some(false)` failed.
fn outcome(pod: &Pod, stopping: bool) -> Option<bool> {
    match pod.status.as_ref().and_then(|s| s.phase.as_deref()) {
        Some("Succeeded") => Some(true),
        Some("Failed") => Some(false),
        _ if pod.metadata.deletion_timestamp.is_some() && !stopping => Some(false),
        _ => None,
    }
}

/// The counts of one pass.
#[derive(Debug, Default, PartialEq)]
pub struct Tally {
    /// Counted for good (what `status.succeeded`/`failed` say).
    pub succeeded: i32,
    pub failed: i32,
    /// Finished, recorded by UID, not yet counted.
    pub uncounted: UncountedTerminatedPods,
    /// Pods whose finalizer can go (recorded, ignored, or stopped on purpose).
    pub release: Vec<String>,
}

impl Tally {
    /// Succeeded pods, counted or recorded.
    pub fn all_succeeded(&self) -> i32 {
        let recorded = self.uncounted.succeeded.as_ref().map_or(0, Vec::len);
        self.succeeded
            .saturating_add(i32::try_from(recorded).unwrap_or(i32::MAX))
    }

    /// Failed pods, counted or recorded.
    pub fn all_failed(&self) -> i32 {
        let recorded = self.uncounted.failed.as_ref().map_or(0, Vec::len);
        self.failed
            .saturating_add(i32::try_from(recorded).unwrap_or(i32::MAX))
    }
}

/// Moves finished pods through `uncountedTerminatedPods` into the counts. `stopping`: the
/// Job is finished or suspended (its pods being deleted are not failures). `hold`: UIDs of
/// failed pods whose finalizer stays for now (the latest failed pod of an index awaiting its
/// replacement, with `backoffLimitPerIndex`, so that the pod, and the failure counts in its
/// annotations, outlive it); they are recorded as usual, and released once no longer held.
pub fn tally(job: &Job, owned: &[Pod], stopping: bool, hold: &BTreeSet<String>) -> Tally {
    let spec = job.spec.clone().unwrap_or_default();
    let old = job.status.clone().unwrap_or_default();
    let old_uncounted = old.uncounted_terminated_pods.unwrap_or_default();
    let uid = |p: &Pod| p.metadata.uid.clone().unwrap_or_default();
    let tracked: std::collections::HashMap<String, &Pod> =
        owned.iter().map(|p| (uid(p), p)).collect();
    let mut out = Tally {
        succeeded: old.succeeded.unwrap_or(0),
        failed: old.failed.unwrap_or(0),
        ..Tally::default()
    };
    let mut recorded: BTreeSet<String> = BTreeSet::new();
    let mut keep = |uids: Option<Vec<String>>, count: &mut i32| -> Vec<String> {
        let mut still = Vec::new();
        for u in uids.into_iter().flatten() {
            recorded.insert(u.clone());
            match tracked.get(&u) {
                // Its finalizer is not gone yet: it stays recorded.
                Some(pod) if has_finalizer(pod) => still.push(u),
                // Released (or gone): counted for good.
                _ => *count = count.saturating_add(1),
            }
        }
        still
    };
    let mut succeeded = keep(old_uncounted.succeeded, &mut out.succeeded);
    let mut failed = keep(old_uncounted.failed, &mut out.failed);
    for pod in owned.iter().filter(|p| has_finalizer(p)) {
        let u = uid(pod);
        let name = pod.metadata.name.clone().unwrap_or_default();
        if recorded.contains(&u) {
            if stopping || !hold.contains(&u) {
                out.release.push(name);
            }
            continue;
        }
        match outcome(pod, stopping) {
            None if stopping && pod.metadata.deletion_timestamp.is_some() => {
                out.release.push(name);
            }
            None => {}
            Some(_) if stopping => out.release.push(name),
            Some(true) => {
                succeeded.push(u);
                out.release.push(name);
            }
            Some(false) => {
                let held = hold.contains(&u);
                if policy::failure_action(&spec, pod) != FailureAction::Ignore {
                    failed.push(u);
                }
                if !held {
                    out.release.push(name);
                }
            }
        }
    }
    out.uncounted = UncountedTerminatedPods {
        succeeded: Some(succeeded),
        failed: Some(failed),
    };
    out
}

/// Removes the tracking finalizer from a pod (a no-op if it has gone). The other
/// finalizers are written back as read, guarded by the pod's resourceVersion: a pod
/// changed meanwhile is a conflict, retried by the loop.
pub async fn release(api: &Api<Pod>, pod: &Pod) -> Result<(), kube::Error> {
    if !has_finalizer(pod) {
        return Ok(());
    }
    let name = pod.metadata.name.clone().unwrap_or_default();
    let rest: Vec<&String> = pod
        .metadata
        .finalizers
        .iter()
        .flatten()
        .filter(|f| *f != FINALIZER)
        .collect();
    let patch = json!({"metadata": {
        "finalizers": rest,
        "resourceVersion": pod.metadata.resource_version,
    }});
    match api
        .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if not_found(&e) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Releases the tracked pods whose Job is gone or being deleted.
pub struct Orphans;

impl Reconciler for Orphans {
    type Object = Pod;
    const NAME: &'static str = "job-controller-orphans";

    fn selects(&self, pod: &Pod) -> bool {
        has_finalizer(pod) && pods::controller_of(&pod.metadata).is_some_and(|r| r.kind == "Job")
    }

    async fn reconcile(&self, pod: Arc<Pod>, ctx: Arc<Context>) -> Result<Action, Error> {
        if !self.selects(&pod) {
            return Ok(Action::await_change());
        }
        let jobs = ctx.informers.get::<Job>();
        jobs.ready().await;
        let Some(owner) = pods::controller_of(&pod.metadata) else {
            return Ok(Action::await_change());
        };
        let namespace = pod.metadata.namespace.clone().unwrap_or_default();
        let job = jobs
            .store()
            .get(&kube::runtime::reflector::ObjectRef::new(&owner.name).within(&namespace));
        let orphaned = match job {
            None => true,
            Some(job) => {
                job.metadata.uid.as_deref() != Some(owner.uid.as_str())
                    || job.metadata.deletion_timestamp.is_some()
            }
        };
        if orphaned {
            let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &namespace);
            release(&api, &pod).await?;
        }
        Ok(Action::await_change())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(status: serde_json::Value) -> Job {
        serde_json::from_value(
            json!({"metadata": {"name": "j"}, "spec": {"template": {}}, "status": status}),
        )
        .unwrap()
    }

    fn pod(uid: &str, phase: &str, tracked: bool) -> Pod {
        let finalizers: Vec<&str> = if tracked { vec![FINALIZER] } else { vec![] };
        serde_json::from_value(json!({
            "metadata": {"name": uid, "uid": uid, "finalizers": finalizers},
            "status": {"phase": phase},
        }))
        .unwrap()
    }

    #[test]
    fn finished_pods_are_recorded_then_counted_once_released() {
        // Pass 1: a and b finished and still carry the finalizer: recorded, to be released.
        let j = job(json!({"succeeded": 1, "failed": 0}));
        let owned = [
            pod("a", "Succeeded", true),
            pod("b", "Failed", true),
            pod("c", "Running", true),
        ];
        let t = tally(&j, &owned, false, &BTreeSet::new());
        assert_eq!((t.succeeded, t.failed), (1, 0));
        assert_eq!(t.uncounted.succeeded, Some(vec!["a".to_string()]));
        assert_eq!(t.uncounted.failed, Some(vec!["b".to_string()]));
        assert_eq!((t.all_succeeded(), t.all_failed()), (2, 1));
        assert_eq!(t.release, ["a", "b"]);
        // Pass 2: a's finalizer is gone and b was deleted: both counted, nothing recorded.
        let j = job(json!({"succeeded": 1, "failed": 0,
            "uncountedTerminatedPods": {"succeeded": ["a"], "failed": ["b"]}}));
        let owned = [pod("a", "Succeeded", false), pod("c", "Running", true)];
        let t = tally(&j, &owned, false, &BTreeSet::new());
        assert_eq!((t.succeeded, t.failed), (2, 1));
        assert_eq!(t.uncounted.succeeded, Some(vec![]));
        assert!(t.release.is_empty());
        // Pass 3 over the same pods: nothing counted twice.
        let j = job(json!({"succeeded": 2, "failed": 1,
            "uncountedTerminatedPods": {"succeeded": [], "failed": []}}));
        assert_eq!(
            tally(&j, &owned, false, &BTreeSet::new()).all_succeeded(),
            2
        );
    }

    #[test]
    fn a_pod_deleted_before_it_finished_fails_unless_the_job_stops_it() {
        let mut deleted = pod("d", "Running", true);
        deleted.metadata.deletion_timestamp = Some(
            k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(jiff::Timestamp::UNIX_EPOCH),
        );
        let j = job(json!({}));
        let t = tally(&j, std::slice::from_ref(&deleted), false, &BTreeSet::new());
        assert_eq!(t.uncounted.failed, Some(vec!["d".to_string()]));
        let t = tally(&j, std::slice::from_ref(&deleted), true, &BTreeSet::new());
        assert_eq!(t.all_failed(), 0);
        assert_eq!(t.release, ["d"]);
    }

    #[test]
    fn a_held_failed_pod_is_recorded_but_keeps_its_finalizer() {
        let j = job(json!({}));
        let hold: BTreeSet<String> = ["b".to_string()].into_iter().collect();
        let owned = [pod("a", "Failed", true), pod("b", "Failed", true)];
        let t = tally(&j, &owned, false, &hold);
        assert_eq!(
            t.uncounted.failed,
            Some(vec!["a".to_string(), "b".to_string()])
        );
        assert_eq!(t.release, ["a"]);
        // Recorded, still held: it stays; once no longer held (or the Job stops), it goes.
        let j = job(json!({"uncountedTerminatedPods": {"failed": ["a", "b"]}}));
        let owned = [pod("b", "Failed", true)];
        let t = tally(&j, &owned, false, &hold);
        assert_eq!(t.failed, 1);
        assert!(t.release.is_empty());
        assert_eq!(t.all_failed(), 2);
        let t = tally(&j, &owned, false, &BTreeSet::new());
        assert_eq!(t.release, ["b"]);
        let t = tally(&j, &owned, true, &hold);
        assert_eq!(t.release, ["b"]);
    }
}
