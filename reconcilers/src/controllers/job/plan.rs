//! What a Job's next pass does, decided from the Job, its pods and the time alone: how many
//! pods (and which completion indexes) to start, which to stop, and the status with its
//! conditions. Kept free of the API so it can be tested over fixed inputs.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use k8s_openapi::api::batch::v1::{Job, JobCondition, JobSpec, JobStatus};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::policy::{self, FailureAction};
use super::tracking;
use crate::controllers::pods;

/// The annotation (and label) of an Indexed Job's pod's completion index.
pub const INDEX: &str = "batch.kubernetes.io/job-completion-index";

/// Upstream's back-off before a failed Job's next pod: 10 s doubling, at most 6 minutes.
pub fn backoff(failures: i32) -> Duration {
    let exponent = u32::try_from(failures.saturating_sub(1).max(0))
        .unwrap_or(0)
        .min(10);
    Duration::from_secs(10u64.saturating_mul(1u64 << exponent)).min(Duration::from_secs(360))
}

/// A pod's phase, when it has finished.
fn finished(pod: &Pod) -> Option<&str> {
    pod.status
        .as_ref()?
        .phase
        .as_deref()
        .filter(|p| matches!(*p, "Succeeded" | "Failed"))
}

pub fn index_of(pod: &Pod) -> Option<i32> {
    pod.metadata.annotations.as_ref()?.get(INDEX)?.parse().ok()
}

/// The annotation upstream sets on each pod of an Indexed Job with `backoffLimitPerIndex`:
/// the failures of its index so far (that count against the limit).
pub const FAILURE_COUNT: &str = "batch.kubernetes.io/job-index-failure-count";
/// Alongside it, once non-zero: the failures of the index a `podFailurePolicy` ignored.
pub const IGNORED_FAILURE_COUNT: &str = "batch.kubernetes.io/job-index-ignored-failure-count";

/// A count annotation of `pod`; 0 when absent, unparsable or negative, as upstream.
fn count_annotation(pod: &Pod, key: &str) -> i32 {
    pod.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(key))
        .and_then(|v| v.parse::<i32>().ok())
        .filter(|n| *n >= 0)
        .unwrap_or(0)
}

/// The counted failures of `pod`'s index before it (its `job-index-failure-count`).
pub fn index_failure_count(pod: &Pod) -> i32 {
    count_annotation(pod, FAILURE_COUNT)
}

/// All failures of `pod`'s index before it, ignored ones included.
fn index_absolute_failure_count(pod: &Pod) -> i32 {
    index_failure_count(pod).saturating_add(count_annotation(pod, IGNORED_FAILURE_COUNT))
}

/// The `(failure count, ignored failure count)` of a new pod of an index whose latest failed
/// pod is `replaced` (none: the index's first pod): the replaced pod's own, plus its failure,
/// counted or ignored as the `podFailurePolicy` says.
pub fn new_index_failure_counts(spec: &JobSpec, replaced: Option<&Pod>) -> (i32, i32) {
    let Some(pod) = replaced else {
        return (0, 0);
    };
    let counted = index_failure_count(pod);
    let ignored = count_annotation(pod, IGNORED_FAILURE_COUNT);
    if policy::failure_action(spec, pod) == FailureAction::Ignore {
        (counted, ignored.saturating_add(1))
    } else {
        (counted.saturating_add(1), ignored)
    }
}

/// When `pod` finished, as upstream estimates it: the last of its containers' finish times
/// (when all have one), else when it became not Ready, else when it was deleted (less its
/// grace period), else its creation.
pub fn finish_time(pod: &Pod) -> Option<jiff::Timestamp> {
    let status = pod.status.as_ref();
    let containers = status
        .and_then(|s| s.container_statuses.as_ref())
        .filter(|c| !c.is_empty())
        .and_then(|statuses| {
            statuses
                .iter()
                .map(|c| {
                    Some(
                        c.state
                            .as_ref()?
                            .terminated
                            .as_ref()?
                            .finished_at
                            .as_ref()?
                            .0,
                    )
                })
                .collect::<Option<Vec<_>>>()
        })
        .and_then(|times| times.into_iter().max());
    let not_ready = || {
        status
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_ == "Ready" && c.status == "False"))
            .and_then(|c| c.last_transition_time.as_ref())
            .map(|t| t.0)
    };
    let deleted = || {
        let at = pod.metadata.deletion_timestamp.as_ref()?.0;
        let grace = pod.metadata.deletion_grace_period_seconds.unwrap_or(0);
        at.checked_sub(jiff::SignedDuration::from_secs(grace)).ok()
    };
    containers
        .or_else(not_ready)
        .or_else(deleted)
        .or_else(|| pod.metadata.creation_timestamp.as_ref().map(|t| t.0))
}

/// How long a new pod of an index whose latest failed pod is `latest` waits: upstream's
/// back-off for the index's failures so far (ignored ones included) from that pod's finish.
fn index_wait(latest: Option<&Pod>, now: jiff::Timestamp) -> Option<Duration> {
    let pod = latest?;
    let failures = index_absolute_failure_count(pod).saturating_add(1);
    let since = now.duration_since(finish_time(pod)?).as_secs_f64();
    let needed = backoff(failures).as_secs_f64();
    (since < needed).then(|| Duration::from_secs_f64(needed - since))
}

/// The decisions of one pass.
#[derive(Debug, Default, PartialEq)]
pub struct Plan {
    /// Pods to start: `None` for a NonIndexed Job, the completion index otherwise.
    pub start: Vec<Option<i32>>,
    /// Active pods to stop (by name).
    pub stop: Vec<String>,
    /// The finishing condition (`Complete` or `Failed`), with its reason and message, if
    /// the Job is finishing. Its pods are stopped at once; the condition itself is set
    /// once every finished pod is counted (`SuccessCriteriaMet` or `FailureTarget` say
    /// so meanwhile), as upstream does.
    pub finish: Option<(&'static str, String, String)>,
    /// Whether the finishing condition is set in this pass.
    pub finished_now: bool,
    pub status: JobStatus,
    /// Wait this long before starting more pods (back-off after failures).
    pub wait: Option<Duration>,
    /// Pods whose tracking finalizer goes once the status is written.
    pub release: Vec<String>,
    /// With `backoffLimitPerIndex`: the `(failure count, ignored failure count)` annotations
    /// of the pod started for each index in `start`.
    pub index_failure_counts: BTreeMap<i32, (i32, i32)>,
}

/// `1,3-5,7` for a set of indexes, as upstream writes `completedIndexes`.
pub fn compress(indexes: &BTreeSet<i32>) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut run: Option<(i32, i32)> = None;
    for &i in indexes {
        run = match run {
            Some((start, end)) if end.checked_add(1) == Some(i) => Some((start, i)),
            Some((start, end)) => {
                parts.push(if start == end {
                    start.to_string()
                } else {
                    format!("{start}-{end}")
                });
                Some((i, i))
            }
            None => Some((i, i)),
        };
    }
    if let Some((start, end)) = run {
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
    }
    parts.join(",")
}

/// The indexes of a `completedIndexes` string (`0-2,4`); what does not parse is skipped.
pub fn expand(text: &str) -> BTreeSet<i32> {
    let mut out = BTreeSet::new();
    for part in text.split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.parse::<i32>(), b.parse::<i32>()) {
                    // Bounded: an index range never spans more than the completions allowed.
                    out.extend((a..=b).take(100_000));
                }
            }
            None => {
                if let Ok(i) = part.parse() {
                    out.insert(i);
                }
            }
        }
    }
    out
}

/// Plans a pass over `job` whose pods are `owned` (all of them, finished ones included).
pub fn plan(
    job: &Job,
    owned: &[Pod],
    now: jiff::Timestamp,
    last_failure: Option<jiff::Timestamp>,
) -> Plan {
    let spec = job.spec.clone().unwrap_or_default();
    let old = job.status.clone().unwrap_or_default();
    let indexed = spec.completion_mode.as_deref() == Some("Indexed");
    let parallelism = spec.parallelism.unwrap_or(1).max(0);
    let completions = spec.completions;
    let backoff_limit = spec.backoff_limit.unwrap_or(6);
    let suspended = spec.suspend == Some(true);
    let already_finished = old
        .conditions
        .iter()
        .flatten()
        .any(|c| matches!(c.type_.as_str(), "Complete" | "Failed") && c.status == "True");

    let active: Vec<&Pod> = owned.iter().filter(|p| pods::is_active(p)).collect();
    let succeeded_pods: Vec<&Pod> = owned
        .iter()
        .filter(|p| finished(p) == Some("Succeeded"))
        .collect();
    // Pods stopped because the Job finishes (or is suspended) are not failures.
    let finishing = old.conditions.iter().flatten().any(|c| {
        matches!(c.type_.as_str(), "SuccessCriteriaMet" | "FailureTarget") && c.status == "True"
    });
    let stopping = already_finished || suspended || finishing;
    // Failed pods: those that failed, and (unless the Job stops them) those deleted unfinished.
    let is_failed = |p: &Pod| {
        finished(p) == Some("Failed")
            || (!stopping && p.metadata.deletion_timestamp.is_some() && finished(p).is_none())
    };
    // With `backoffLimitPerIndex`, the indexes a pod's failure concerns.
    let per_index_limit = spec.backoff_limit_per_index.filter(|_| indexed);
    let tracked_index = |p: &Pod| {
        per_index_limit
            .and(index_of(p))
            .filter(|i| *i >= 0 && completions.is_none_or(|c| *i < c))
    };
    // What each failed pod means under the pod failure policy. An index fails once a
    // counted failure of it finds `backoffLimitPerIndex` failures counted before (in the
    // pod's `job-index-failure-count`), or a `FailIndex` rule matches, as upstream.
    let mut fail_job: Option<String> = None;
    let mut failed_indexes: BTreeSet<i32> = if per_index_limit.is_some() {
        expand(old.failed_indexes.as_deref().unwrap_or(""))
    } else {
        BTreeSet::new()
    };
    for pod in owned.iter().filter(|p| is_failed(p)) {
        let action = policy::failure_action(&spec, pod);
        let out_of_retries = per_index_limit.is_some_and(|limit| index_failure_count(pod) >= limit);
        match (action, tracked_index(pod)) {
            (FailureAction::FailJob(message), _) => {
                fail_job.get_or_insert(message);
            }
            (FailureAction::FailIndex, Some(index)) => {
                failed_indexes.insert(index);
            }
            (FailureAction::Count, Some(index)) if out_of_retries => {
                failed_indexes.insert(index);
            }
            _ => {}
        }
    }
    let mut completed: BTreeSet<i32> = if indexed {
        succeeded_pods
            .iter()
            .filter_map(|p| index_of(p))
            .filter(|i| completions.is_none_or(|c| *i < c))
            .filter(|i| !failed_indexes.contains(i))
            .collect()
    } else {
        BTreeSet::new()
    };
    if indexed {
        completed.extend(expand(old.completed_indexes.as_deref().unwrap_or("")));
    }
    let running: BTreeSet<i32> = active.iter().filter_map(|p| index_of(p)).collect();
    // The latest failed pod of each index to be started again (the most failures counted,
    // then the latest finish): its replacement's failure counts and back-off come from it,
    // and it keeps its finalizer until that replacement exists.
    let mut latest_failed: BTreeMap<i32, &Pod> = BTreeMap::new();
    for pod in owned.iter().filter(|p| is_failed(p)) {
        let Some(index) = tracked_index(pod) else {
            continue;
        };
        if completed.contains(&index) || failed_indexes.contains(&index) || running.contains(&index)
        {
            continue;
        }
        let newer = latest_failed.get(&index).is_none_or(|last| {
            index_absolute_failure_count(last) <= index_absolute_failure_count(pod)
                && finish_time(pod) >= finish_time(last)
        });
        if newer {
            latest_failed.insert(index, pod);
        }
    }
    let hold: BTreeSet<String> = if stopping {
        BTreeSet::new()
    } else {
        latest_failed
            .values()
            .filter_map(|p| p.metadata.uid.clone())
            .collect()
    };
    // Finished pods are counted through the tracking finalizer, once each.
    let tally = tracking::tally(job, owned, stopping, &hold);
    let failed = tally.all_failed();
    let succeeded = if indexed {
        i32::try_from(completed.len()).unwrap_or(i32::MAX)
    } else {
        tally.all_succeeded()
    };
    let ready =
        i32::try_from(active.iter().filter(|p| pods::is_ready(p)).count()).unwrap_or(i32::MAX);
    let terminating = i32::try_from(
        owned
            .iter()
            .filter(|p| p.metadata.deletion_timestamp.is_some() && finished(p).is_none())
            .count(),
    )
    .unwrap_or(i32::MAX);

    let mut plan = Plan::default();
    let start_time = old
        .start_time
        .clone()
        .or_else(|| (!suspended).then_some(Time(now)));
    let mut status = JobStatus {
        active: Some(i32::try_from(active.len()).unwrap_or(i32::MAX)),
        // Counted for good; the rest are in `uncountedTerminatedPods` until released.
        succeeded: Some(if indexed { succeeded } else { tally.succeeded }),
        failed: Some(tally.failed),
        ready: Some(ready),
        terminating: Some(terminating),
        start_time,
        completion_time: old.completion_time.clone(),
        completed_indexes: indexed.then(|| compress(&completed)),
        failed_indexes: per_index_limit
            .map(|_| compress(&failed_indexes))
            .or(old.failed_indexes.clone()),
        conditions: old.conditions.clone(),
        uncounted_terminated_pods: Some(tally.uncounted.clone()),
    };
    plan.release = tally.release.clone();
    if already_finished {
        plan.stop = active
            .iter()
            .filter_map(|p| p.metadata.name.clone())
            .collect();
        plan.status = status;
        return plan;
    }

    let complete = match completions {
        Some(c) => succeeded >= c,
        // Without completions, one success and no pod left running completes the Job.
        None => succeeded > 0 && active.is_empty(),
    };
    let success_rule = if indexed {
        policy::success_rule_met(&spec, &completed)
    } else {
        None
    };
    let total_indexes = completions.unwrap_or(0).max(0);
    let max_failed_exceeded = spec.max_failed_indexes.is_some_and(|max| {
        i64::try_from(failed_indexes.len()).unwrap_or(i64::MAX) > i64::from(max)
    });
    let indexes_done = indexed
        && !failed_indexes.is_empty()
        && (0..total_indexes).all(|i| completed.contains(&i) || failed_indexes.contains(&i));
    let deadline_passed = spec
        .active_deadline_seconds
        .zip(status.start_time.as_ref())
        .is_some_and(|(deadline, start)| {
            now.duration_since(start.0).as_secs_f64() > deadline as f64
        });
    // A finish decided earlier (its target condition set) stands.
    let decided = old.conditions.iter().flatten().find_map(|c| {
        let finish = match c.type_.as_str() {
            "SuccessCriteriaMet" => "Complete",
            "FailureTarget" => "Failed",
            _ => return None,
        };
        (c.status == "True").then(|| {
            (
                finish,
                c.reason.clone().unwrap_or_default(),
                c.message.clone().unwrap_or_default(),
            )
        })
    });
    if let Some(decided) = decided {
        plan.finish = Some(decided);
    } else if let Some(message) = fail_job {
        plan.finish = Some(("Failed", "PodFailurePolicy".into(), message));
    } else if let Some(rule) = success_rule {
        plan.finish = Some((
            "Complete",
            "SuccessPolicy".into(),
            format!("Matched rules at index {rule}"),
        ));
    } else if complete {
        plan.finish = Some((
            "Complete",
            "CompletionsReached".into(),
            "Reached expected number of succeeded pods".into(),
        ));
    } else if max_failed_exceeded {
        plan.finish = Some((
            "Failed",
            "MaxFailedIndexesExceeded".into(),
            "Job has exceeded the specified maximal number of failed indexes".into(),
        ));
    } else if indexes_done {
        plan.finish = Some((
            "Failed",
            "FailedIndexes".into(),
            "Job has failed indexes".into(),
        ));
    } else if failed > backoff_limit {
        plan.finish = Some((
            "Failed",
            "BackoffLimitExceeded".into(),
            "Job has reached the specified backoff limit".into(),
        ));
    } else if deadline_passed {
        plan.finish = Some((
            "Failed",
            "DeadlineExceeded".into(),
            "Job was active longer than specified deadline".into(),
        ));
    }
    if plan.finish.is_some() || suspended {
        plan.stop = active
            .iter()
            .filter_map(|p| p.metadata.name.clone())
            .collect();
    } else {
        // Start what parallelism and the remaining completions allow. With
        // `backoffLimitPerIndex` each index backs off on its own (below), as upstream.
        let global = per_index_limit.is_none();
        let wait = last_failure
            .filter(|_| global && failed > 0)
            .and_then(|at| {
                let since = now.duration_since(at).as_secs_f64();
                let needed = backoff(failed).as_secs_f64();
                (since < needed).then(|| Duration::from_secs_f64(needed - since))
            });
        if let Some(wait) = wait {
            plan.wait = Some(wait);
        } else if indexed {
            let total = completions.unwrap_or(0).max(0);
            let room = usize::try_from(parallelism)
                .unwrap_or(0)
                .saturating_sub(running.len());
            let pending = (0..total)
                .filter(|i| {
                    !completed.contains(i) && !running.contains(i) && !failed_indexes.contains(i)
                })
                .take(room);
            if per_index_limit.is_some() {
                for index in pending {
                    let latest = latest_failed.get(&index).copied();
                    match index_wait(latest, now) {
                        Some(wait) => {
                            plan.wait = Some(plan.wait.map_or(wait, |w| w.min(wait)));
                        }
                        None => {
                            plan.start.push(Some(index));
                            plan.index_failure_counts
                                .insert(index, new_index_failure_counts(&spec, latest));
                        }
                    }
                }
            } else {
                plan.start = pending.map(Some).collect();
            }
        } else {
            let remaining = completions.map_or(parallelism, |c| (c - succeeded).max(0));
            let want = parallelism.min(remaining);
            let missing = usize::try_from(want)
                .unwrap_or(0)
                .saturating_sub(active.len());
            plan.start = vec![None; missing];
        }
    }
    let mut conditions = status.conditions.take().unwrap_or_default();
    let was_suspended = conditions
        .iter()
        .any(|c| c.type_ == "Suspended" && c.status == "True");
    let mut set = |type_: &str, status: &str, reason: &str, message: &str| {
        if let Some(c) = conditions.iter_mut().find(|c| c.type_ == type_) {
            if c.status != status {
                c.status = status.into();
                c.last_transition_time = Some(Time(now));
            }
            c.reason = Some(reason.into());
            c.message = Some(message.into());
            c.last_probe_time = Some(Time(now));
        } else {
            conditions.push(JobCondition {
                type_: type_.into(),
                status: status.into(),
                reason: Some(reason.into()),
                message: Some(message.into()),
                last_probe_time: Some(Time(now)),
                last_transition_time: Some(Time(now)),
            });
        }
    };
    let counted_all = tally.uncounted.succeeded.as_ref().is_none_or(Vec::is_empty)
        && tally.uncounted.failed.as_ref().is_none_or(Vec::is_empty);
    plan.finished_now = plan.finish.is_some() && counted_all;
    match &plan.finish {
        Some(("Complete", reason, message)) => {
            set("SuccessCriteriaMet", "True", reason, message);
            if counted_all {
                set("Complete", "True", reason, message);
                status.completion_time = Some(Time(now));
            }
        }
        Some((_, reason, message)) => {
            set("FailureTarget", "True", reason, message);
            if counted_all {
                set("Failed", "True", reason, message);
            }
        }
        None if suspended => set("Suspended", "True", "JobSuspended", "Job suspended"),
        None => {
            if was_suspended {
                set("Suspended", "False", "JobResumed", "Job resumed");
            }
        }
    }
    status.conditions = (!conditions.is_empty()).then_some(conditions);
    plan.status = status;
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn job(spec: serde_json::Value) -> Job {
        serde_json::from_value(json!({"metadata": {"name": "j"}, "spec": spec})).unwrap()
    }

    fn pod(name: &str, phase: &str, index: Option<i32>) -> Pod {
        let mut annotations = serde_json::Map::new();
        if let Some(i) = index {
            annotations.insert(INDEX.into(), json!(i.to_string()));
        }
        serde_json::from_value(json!({
            "metadata": {"name": name, "uid": name, "annotations": annotations,
                "finalizers": [tracking::FINALIZER]},
            "status": {"phase": phase},
        }))
        .unwrap()
    }

    fn now() -> jiff::Timestamp {
        jiff::Timestamp::from_second(1_000_000).unwrap()
    }

    #[test]
    fn pods_start_up_to_parallelism_and_the_remaining_completions() {
        let j = job(json!({"parallelism": 2, "completions": 3, "template": {}}));
        assert_eq!(plan(&j, &[], now(), None).start.len(), 2);
        let done = [
            pod("a", "Succeeded", None),
            pod("b", "Succeeded", None),
            pod("c", "Running", None),
        ];
        assert_eq!(plan(&j, &done, now(), None).start.len(), 0);
        let p = plan(
            &j,
            &[
                pod("a", "Succeeded", None),
                pod("b", "Succeeded", None),
                pod("c", "Succeeded", None),
            ],
            now(),
            None,
        );
        assert_eq!(p.finish.as_ref().map(|f| f.0), Some("Complete"));
        // Decided, not yet Complete: the pods are recorded, then released.
        let has = |p: &Plan, type_: &str| {
            p.status
                .conditions
                .iter()
                .flatten()
                .any(|c| c.type_ == type_ && c.status == "True")
        };
        assert!(has(&p, "SuccessCriteriaMet") && !has(&p, "Complete"));
        assert_eq!(p.release, ["a", "b", "c"]);
        // The next pass counts the released pods and completes the Job.
        let mut j = j;
        j.status = Some(p.status.clone());
        let released: Vec<Pod> = ["a", "b", "c"]
            .iter()
            .map(|n| {
                let mut p = pod(n, "Succeeded", None);
                p.metadata.finalizers = None;
                p
            })
            .collect();
        let p = plan(&j, &released, now(), None);
        assert!(p.finished_now && has(&p, "Complete"));
        assert_eq!(p.status.succeeded, Some(3));
        assert!(p.status.completion_time.is_some());
    }

    #[test]
    fn indexed_jobs_run_each_index_once() {
        let j = job(
            json!({"parallelism": 3, "completions": 4, "completionMode": "Indexed", "template": {}}),
        );
        let pods = [pod("a", "Succeeded", Some(0)), pod("b", "Running", Some(2))];
        let p = plan(&j, &pods, now(), None);
        assert_eq!(p.start, vec![Some(1), Some(3)]);
        assert_eq!(p.status.completed_indexes.as_deref(), Some("0"));
        let mut all: BTreeSet<i32> = [0, 1, 2, 4, 5, 6, 9].into_iter().collect();
        assert_eq!(compress(&all), "0-2,4-6,9");
        assert_eq!(expand("0-2,4-6,9"), all);
        all.clear();
        assert_eq!(compress(&all), "");
    }

    #[test]
    fn failures_past_the_backoff_limit_fail_the_job() {
        let j = job(json!({"backoffLimit": 1, "template": {}}));
        let pods = [
            pod("a", "Failed", None),
            pod("b", "Failed", None),
            pod("c", "Running", None),
        ];
        let p = plan(&j, &pods, now(), None);
        assert_eq!(
            p.finish.as_ref().map(|f| (f.0, f.1.as_str())),
            Some(("Failed", "BackoffLimitExceeded"))
        );
        assert_eq!(p.stop, vec!["c".to_string()]);
        // Below the limit, the next pod waits for its back-off.
        let j = job(json!({"backoffLimit": 6, "template": {}}));
        let p = plan(&j, &[pod("a", "Failed", None)], now(), Some(now()));
        assert_eq!(p.wait, Some(Duration::from_secs(10)));
        assert_eq!(backoff(3), Duration::from_secs(40));
        assert_eq!(backoff(30), Duration::from_secs(360));
    }

    #[test]
    fn a_suspended_job_stops_its_pods() {
        let j = job(json!({"suspend": true, "template": {}}));
        let p = plan(&j, &[pod("a", "Running", None)], now(), None);
        assert_eq!(p.stop, vec!["a".to_string()]);
        assert!(p
            .status
            .conditions
            .unwrap()
            .iter()
            .any(|c| c.type_ == "Suspended" && c.status == "True"));
    }

    fn failed_with(name: &str, code: i32, index: Option<i32>) -> Pod {
        let mut p = pod(name, "Failed", index);
        p.status = Some(
            serde_json::from_value(json!({"phase": "Failed", "containerStatuses": [
                {"name": "main", "image": "x", "imageID": "", "ready": false, "restartCount": 0,
                 "state": {"terminated": {"exitCode": code}}},
            ]}))
            .unwrap(),
        );
        p
    }

    fn finish(p: &Plan) -> Option<(&str, &str)> {
        p.finish.as_ref().map(|f| (f.0, f.1.as_str()))
    }

    #[test]
    fn a_pod_failure_policy_fails_the_job_or_ignores_failures() {
        let j = job(
            json!({"backoffLimit": 0, "template": {}, "podFailurePolicy": {"rules": [
                {"action": "FailJob", "onExitCodes": {"operator": "In", "values": [42]}},
                {"action": "Ignore", "onExitCodes": {"operator": "In", "values": [7]}},
            ]}}),
        );
        // Ignored failures are not counted: the Job goes on despite backoffLimit 0.
        let p = plan(&j, &[failed_with("a", 7, None)], now(), None);
        assert_eq!(finish(&p), None);
        assert_eq!(p.status.failed, Some(0));
        assert_eq!(p.start.len(), 1);
        let p = plan(&j, &[failed_with("a", 42, None)], now(), None);
        assert_eq!(finish(&p), Some(("Failed", "PodFailurePolicy")));
    }

    #[test]
    fn an_index_past_its_own_backoff_limit_fails_alone() {
        let j = job(
            json!({"completions": 3, "parallelism": 3, "completionMode": "Indexed",
            "backoffLimit": 100, "backoffLimitPerIndex": 1, "template": {}}),
        );
        let pods = [
            failed_with("a", 1, Some(1)),
            counted(failed_with("b", 1, Some(1)), 1, 0),
            pod("c", "Succeeded", Some(0)),
            pod("d", "Running", Some(2)),
        ];
        let p = plan(&j, &pods, now(), None);
        assert_eq!(p.status.failed_indexes.as_deref(), Some("1"));
        assert_eq!(finish(&p), None);
        assert!(p.start.is_empty(), "{:?}", p.start);
        // Once every index has succeeded or failed, the Job fails for its failed indexes.
        let mut done = pods.to_vec();
        done[3] = pod("d", "Succeeded", Some(2));
        let p = plan(&j, &done, now(), None);
        assert_eq!(finish(&p), Some(("Failed", "FailedIndexes")));
        let capped = job(
            json!({"completions": 3, "parallelism": 3, "completionMode": "Indexed",
            "backoffLimitPerIndex": 0, "maxFailedIndexes": 0, "template": {}}),
        );
        let p = plan(&capped, &[failed_with("a", 1, Some(0))], now(), None);
        assert_eq!(finish(&p), Some(("Failed", "MaxFailedIndexesExceeded")));
    }

    #[test]
    fn a_success_policy_completes_an_indexed_job_early() {
        let j = job(
            json!({"completions": 5, "parallelism": 5, "completionMode": "Indexed",
            "template": {}, "successPolicy": {"rules": [{"succeededIndexes": "0-1"}]}}),
        );
        let pods = [
            pod("a", "Succeeded", Some(0)),
            pod("b", "Succeeded", Some(1)),
            pod("c", "Running", Some(2)),
        ];
        let p = plan(&j, &pods, now(), None);
        assert_eq!(finish(&p), Some(("Complete", "SuccessPolicy")));
        assert_eq!(p.stop, vec!["c".to_string()]);
        let conditions = p.status.conditions.unwrap();
        assert!(conditions.iter().any(|c| c.type_ == "SuccessCriteriaMet"
            && c.message.as_deref() == Some("Matched rules at index 0")));
    }

    /// `pod` with the per-index failure count annotations.
    fn counted(mut pod: Pod, failures: i32, ignored: i32) -> Pod {
        let annotations = pod.metadata.annotations.get_or_insert_with(BTreeMap::new);
        annotations.insert(FAILURE_COUNT.into(), failures.to_string());
        annotations.insert(IGNORED_FAILURE_COUNT.into(), ignored.to_string());
        pod
    }

    fn per_index_job(limit: i32) -> Job {
        job(
            json!({"completions": 2, "parallelism": 2, "completionMode": "Indexed",
            "backoffLimitPerIndex": limit, "template": {}, "podFailurePolicy": {"rules": [
                {"action": "Ignore", "onExitCodes": {"operator": "In", "values": [7]}},
            ]}}),
        )
    }

    #[test]
    fn the_first_pod_of_an_index_counts_no_failures() {
        let p = plan(&per_index_job(2), &[], now(), None);
        assert_eq!(p.start, vec![Some(0), Some(1)]);
        assert_eq!(p.index_failure_counts.get(&0), Some(&(0, 0)));
        assert_eq!(p.index_failure_counts.get(&1), Some(&(0, 0)));
    }

    #[test]
    fn a_replacement_after_a_counted_failure_counts_one_more() {
        let pods = [
            counted(failed_with("a", 1, Some(0)), 1, 3),
            pod("b", "Running", Some(1)),
        ];
        let p = plan(&per_index_job(2), &pods, now(), None);
        assert_eq!(p.start, vec![Some(0)]);
        assert_eq!(p.index_failure_counts.get(&0), Some(&(2, 3)));
        assert_eq!(p.status.failed_indexes.as_deref(), Some(""));
        // The failed pod keeps its finalizer until its replacement runs.
        assert!(p.release.is_empty(), "{:?}", p.release);
    }

    #[test]
    fn an_ignored_failure_bumps_the_ignored_count_only() {
        let pods = [counted(failed_with("a", 7, Some(0)), 1, 0)];
        let p = plan(&per_index_job(1), &pods, now(), None);
        assert_eq!(p.start, vec![Some(0), Some(1)]);
        assert_eq!(p.index_failure_counts.get(&0), Some(&(1, 1)));
        // Not counted against the limit either: the index goes on.
        assert_eq!(p.status.failed_indexes.as_deref(), Some(""));
    }

    #[test]
    fn an_index_whose_failures_reach_its_limit_is_marked_failed() {
        // Its pod failed after 1 counted failure: 2 failures, over the limit of 1.
        let pods = [
            counted(failed_with("a", 1, Some(1)), 1, 0),
            pod("b", "Running", Some(0)),
        ];
        let p = plan(&per_index_job(1), &pods, now(), None);
        assert_eq!(p.status.failed_indexes.as_deref(), Some("1"));
        assert!(p.start.is_empty(), "{:?}", p.start);
        assert_eq!(p.release, ["a"]);
    }

    #[test]
    fn an_index_backs_off_by_its_own_failures() {
        let mut failed = counted(failed_with("a", 1, Some(0)), 2, 1);
        if let Some(c) = failed
            .status
            .as_mut()
            .and_then(|s| s.container_statuses.as_mut())
            .and_then(|c| c.first_mut())
        {
            c.state = serde_json::from_value(
                json!({"terminated": {"exitCode": 1, "finishedAt": "1970-01-12T13:46:30Z"}}),
            )
            .unwrap();
        }
        // 4 failures of the index: 80 s from its last one (10 s ago); index 1 starts meanwhile.
        let p = plan(&per_index_job(5), &[failed], now(), Some(now()));
        assert_eq!(p.start, vec![Some(1)]);
        assert_eq!(p.wait, Some(Duration::from_secs(70)));
    }
}
