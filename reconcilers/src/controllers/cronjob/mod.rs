//! `cronjob-controller`: makes a Job from a CronJob's template at each scheduled time
//! ([`schedule`], in `spec.timeZone`), as upstream does: the Job is named after the scheduled
//! minute (so a time is never run twice), a run later than `startingDeadlineSeconds` is
//! missed, `concurrencyPolicy` decides about runs still active (Allow, Forbid, Replace),
//! `suspend` stops new runs, and finished Jobs beyond the history limits are deleted. The
//! status lists the active Jobs and the last scheduled and successful times.

pub mod schedule;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::batch::v1::{CronJob, Job, JobSpec};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::EventType;
use kube::{Api, Resource, ResourceExt};
use serde_json::json;

use super::job::ttl::finished_at;
use super::{controlled_by, not_found, publish};
use crate::{Context, Error, Reconciler};
use schedule::Schedule;

const SCHEDULED_AT: &str = "batch.kubernetes.io/cronjob-scheduled-timestamp";

pub struct CronJobs;

/// How a Job ended: `Complete` or `Failed`, if it has.
fn outcome(job: &Job) -> Option<&str> {
    job.status
        .as_ref()?
        .conditions
        .iter()
        .flatten()
        .find(|c| matches!(c.type_.as_str(), "Complete" | "Failed") && c.status == "True")
        .map(|c| c.type_.as_str())
}

impl Reconciler for CronJobs {
    type Object = CronJob;
    const NAME: &'static str = "cronjob-controller";

    fn watches(&self, c: Controller<CronJob>, ctx: &Context) -> Controller<CronJob> {
        c.owns_shared_stream(ctx.informers.get::<Job>().subscribe())
    }

    async fn reconcile(&self, cj: Arc<CronJob>, ctx: Arc<Context>) -> Result<Action, Error> {
        let (Some(namespace), Some(name), Some(uid)) = (
            cj.namespace(),
            cj.metadata.name.clone(),
            cj.metadata.uid.clone(),
        ) else {
            return Ok(Action::await_change());
        };
        if cj.metadata.deletion_timestamp.is_some() {
            return Ok(Action::await_change());
        }
        let spec = cj.spec.clone().unwrap_or_default();
        let recorder = ctx.recorder(Self::NAME);
        let reference = cj.object_ref(&());
        let jobs_api: Api<Job> = Api::namespaced(ctx.client.clone(), &namespace);
        let mut jobs: Vec<Job> = controlled_by::<Job>(&ctx, &namespace, &uid)
            .iter()
            .map(|j| (**j).clone())
            .collect();
        jobs.sort_by_key(|j| j.metadata.creation_timestamp.as_ref().map(|t| t.0));
        let old = cj.status.clone().unwrap_or_default();
        let mut last_successful = old.last_successful_time.clone();
        for job in &jobs {
            if outcome(job) == Some("Complete") {
                let done = finished_at(job).map(Time);
                if done.as_ref().map(|t| t.0) > last_successful.as_ref().map(|t| t.0) {
                    publish(
                        &recorder,
                        &reference,
                        EventType::Normal,
                        "SawCompletedJob",
                        format!("Saw completed job: {}, condition: Complete", job.name_any()),
                    )
                    .await;
                    last_successful = done;
                }
            }
        }
        let mut active: Vec<&Job> = jobs.iter().filter(|j| outcome(j).is_none()).collect();

        let zone = match spec.time_zone.as_deref() {
            None => jiff::tz::TimeZone::UTC,
            Some(tz) => jiff::tz::TimeZone::get(tz)
                .map_err(|e| Error::Other(format!("unknown time zone {tz}: {e}")))?,
        };
        let schedule = match Schedule::parse(&spec.schedule) {
            Ok(s) => s,
            Err(e) => {
                publish(
                    &recorder,
                    &reference,
                    EventType::Warning,
                    "UnparseableSchedule",
                    format!("unparseable schedule: {:?} : {e}", spec.schedule),
                )
                .await;
                return Ok(Action::await_change());
            }
        };
        let now = jiff::Timestamp::now();
        // The latest scheduled time is also read from the Jobs made for it: the CronJob in
        // the cache may not show the status written when the newest one was made yet.
        let scheduled_jobs = jobs
            .iter()
            .filter_map(|j| {
                j.annotations()
                    .get(SCHEDULED_AT)?
                    .parse::<jiff::Timestamp>()
                    .ok()
            })
            .max()
            .map(Time);
        let mut last_schedule = old.last_schedule_time.clone().max(scheduled_jobs);
        let since = last_schedule
            .as_ref()
            .or(cj.metadata.creation_timestamp.as_ref())
            .map_or(now, |t| t.0);
        let (due, missed) = schedule.most_recent(since, now, &zone);
        if let (Some(due), false) = (due, spec.suspend == Some(true)) {
            if missed > 100 {
                publish(&recorder, &reference, EventType::Warning, "TooManyMissedTimes", "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew".into()).await;
            }
            let late = now.duration_since(due).as_secs_f64();
            let too_late = spec
                .starting_deadline_seconds
                .is_some_and(|d| late > d as f64);
            let job_name = format!("{name}-{}", due.as_second() / 60);
            let exists = jobs.iter().any(|j| j.name_any() == job_name);
            let policy = spec.concurrency_policy.as_deref().unwrap_or("Allow");
            if too_late {
                publish(
                    &recorder,
                    &reference,
                    EventType::Warning,
                    "MissSchedule",
                    format!(
                        "Missed scheduled time to start a job: {}",
                        due.strftime("%Y-%m-%dT%H:%M:%SZ")
                    ),
                )
                .await;
            } else if !exists && (policy != "Forbid" || active.is_empty()) {
                if policy == "Replace" {
                    for job in &active {
                        match jobs_api
                            .delete(&job.name_any(), &DeleteParams::background())
                            .await
                        {
                            Ok(_) => {
                                publish(
                                    &recorder,
                                    &reference,
                                    EventType::Normal,
                                    "SuccessfulDelete",
                                    format!("Deleted job {}", job.name_any()),
                                )
                                .await
                            }
                            Err(e) if not_found(&e) => {}
                            Err(e) => return Err(e.into()),
                        }
                    }
                    active.clear();
                }
                let owner = cj
                    .controller_owner_ref(&())
                    .ok_or_else(|| Error::Other(format!("{namespace}/{name} has no identity")))?;
                let job = job_for(&spec.job_template, &job_name, &namespace, due, owner);
                match jobs_api.create(&PostParams::default(), &job).await {
                    Ok(created) => {
                        publish(
                            &recorder,
                            &reference,
                            EventType::Normal,
                            "SuccessfulCreate",
                            format!("Created job {job_name}"),
                        )
                        .await;
                        jobs.push(created);
                    }
                    Err(kube::Error::Api(e)) if e.code == 409 => {}
                    Err(e) => return Err(e.into()),
                }
                last_schedule = Some(Time(due));
            }
        }

        // History: the newest successful and failed Jobs within their limits stay.
        for (kind, limit) in [
            ("Complete", spec.successful_jobs_history_limit.unwrap_or(3)),
            ("Failed", spec.failed_jobs_history_limit.unwrap_or(1)),
        ] {
            let finished: Vec<&Job> = jobs.iter().filter(|j| outcome(j) == Some(kind)).collect();
            let excess = finished
                .len()
                .saturating_sub(usize::try_from(limit).unwrap_or(0));
            for job in finished.into_iter().take(excess) {
                match jobs_api
                    .delete(&job.name_any(), &DeleteParams::background())
                    .await
                {
                    Ok(_) => {
                        publish(
                            &recorder,
                            &reference,
                            EventType::Normal,
                            "SuccessfulDelete",
                            format!("Deleted job {}", job.name_any()),
                        )
                        .await
                    }
                    Err(e) if not_found(&e) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }

        let active_refs: Vec<ObjectReference> = jobs
            .iter()
            .filter(|j| outcome(j).is_none())
            .map(|j| j.object_ref(&()))
            .collect();
        let status = json!({"status": {
            "active": (!active_refs.is_empty()).then_some(active_refs),
            "lastScheduleTime": last_schedule,
            "lastSuccessfulTime": last_successful,
        }});
        let current = json!({"status": {
            "active": old.active,
            "lastScheduleTime": old.last_schedule_time,
            "lastSuccessfulTime": old.last_successful_time,
        }});
        if status != current {
            let api: Api<CronJob> = Api::namespaced(ctx.client.clone(), &namespace);
            api.patch_status(&name, &PatchParams::default(), &Patch::Merge(status))
                .await?;
        }
        // Come back at the next scheduled time.
        let next = schedule
            .next(now, &zone)
            .map_or(Duration::from_secs(60), |t| {
                Duration::from_secs_f64(t.duration_since(now).as_secs_f64().max(0.0) + 0.2)
            });
        Ok(Action::requeue(next))
    }
}

/// The Job of one scheduled run.
fn job_for(
    template: &k8s_openapi::api::batch::v1::JobTemplateSpec,
    name: &str,
    namespace: &str,
    scheduled: jiff::Timestamp,
    owner: OwnerReference,
) -> Job {
    let meta = template.metadata.clone().unwrap_or_default();
    let mut annotations = meta.annotations.unwrap_or_default();
    annotations.insert(
        SCHEDULED_AT.into(),
        scheduled.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
    );
    Job {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some(namespace.into()),
            labels: meta.labels.or_else(|| Some(BTreeMap::new())),
            annotations: Some(annotations),
            owner_references: Some(vec![OwnerReference {
                controller: Some(true),
                block_owner_deletion: Some(true),
                ..owner
            }]),
            ..ObjectMeta::default()
        },
        spec: template.spec.clone().or_else(|| Some(JobSpec::default())),
        status: None,
    }
}
