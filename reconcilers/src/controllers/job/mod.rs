//! `job-controller`: runs a Job's pods to completion ([`plan`] decides, this module acts):
//! up to `parallelism` at a time until `completions` succeed (each completion index once for
//! Indexed Jobs, with the index in an annotation, a label, the hostname and
//! `JOB_COMPLETION_INDEX`), failed pods retried after upstream's back-off until
//! `backoffLimit`, `activeDeadlineSeconds` and `suspend` honoured, `podFailurePolicy`,
//! `backoffLimitPerIndex` (per-index failure counts in the pods' `job-index-failure-count` and
//! `job-index-ignored-failure-count` annotations, with a back-off per index) with
//! `maxFailedIndexes`, and `successPolicy` ([`policy`]), and
//! the status with its conditions (`SuccessCriteriaMet`/`Complete`,
//! `FailureTarget`/`Failed`, `Suspended`).
//! Pods are counted through the job-tracking finalizer ([`tracking`]).
//! `ttl-after-finished-controller` ([`ttl`]) deletes finished Jobs after their TTL.

pub mod plan;
pub mod policy;
pub mod tracking;
pub mod ttl;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{EnvVar, EnvVarSource, ObjectFieldSelector, Pod};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::EventType;
use kube::{Api, Resource, ResourceExt};
use serde_json::json;

use super::expectations::Expectations;
use super::{controlled_by, not_found, pods, publish};
use crate::{Context, Error, Reconciler};

/// The job controller's loops: the Jobs, and the release of pods whose Job is gone.
pub async fn run(ctx: Arc<Context>, shutdown: tokio_util::sync::CancellationToken) {
    tokio::join!(
        crate::run(Jobs::default(), ctx.clone(), shutdown.clone()),
        crate::run(tracking::Orphans, ctx, shutdown),
    );
}

#[derive(Default)]
pub struct Jobs {
    expectations: Expectations,
}

impl Reconciler for Jobs {
    type Object = Job;
    const NAME: &'static str = "job-controller";

    fn watches(&self, c: Controller<Job>, ctx: &Context) -> Controller<Job> {
        c.owns_shared_stream(ctx.informers.get::<Pod>().subscribe())
    }

    async fn reconcile(&self, job: Arc<Job>, ctx: Arc<Context>) -> Result<Action, Error> {
        self.sync(&job, &ctx).await
    }
}

/// When the last failed pod of a Job finished.
fn last_failure(owned: &[Pod]) -> Option<jiff::Timestamp> {
    owned
        .iter()
        .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Failed"))
        .filter_map(|p| {
            let statuses = p.status.as_ref()?.container_statuses.as_ref()?;
            statuses
                .iter()
                .filter_map(|c| c.state.as_ref()?.terminated.as_ref()?.finished_at.as_ref())
                .map(|t| t.0)
                .max()
        })
        .max()
}

impl Jobs {
    async fn sync(&self, job: &Job, ctx: &Context) -> Result<Action, Error> {
        let (Some(namespace), Some(name), Some(uid)) = (
            job.meta().namespace.clone(),
            job.meta().name.clone(),
            job.meta().uid.clone(),
        ) else {
            return Ok(Action::await_change());
        };
        let key = format!("{namespace}/{name}");
        if job.meta().deletion_timestamp.is_some() {
            self.expectations.forget(&key);
            return Ok(Action::await_change());
        }
        let cache = ctx.informers.get::<Pod>().store();
        if !self
            .expectations
            .satisfied(&key, &cache, |p: &Pod| !pods::is_active(p))
        {
            return Ok(Action::requeue(Duration::from_secs(1)));
        }
        let owned: Vec<Pod> = controlled_by::<Pod>(ctx, &namespace, &uid)
            .iter()
            .map(|p| (**p).clone())
            .collect();
        let now = jiff::Timestamp::now();
        let plan = plan::plan(job, &owned, now, last_failure(&owned));
        let pods_api: Api<Pod> = Api::namespaced(ctx.client.clone(), &namespace);
        let recorder = ctx.recorder(Self::NAME);
        let reference = job.object_ref(&());
        let owner = job
            .controller_owner_ref(&())
            .ok_or_else(|| Error::Other(format!("{key} has no identity")))?;

        let mut created = Vec::new();
        let mut failure = None;
        for index in &plan.start {
            let counts = index.and_then(|i| plan.index_failure_counts.get(&i).copied());
            let pod = self.pod_for(job, &name, &namespace, *index, counts, owner.clone())?;
            match pods_api.create(&PostParams::default(), &pod).await {
                Ok(pod) => created.push(pod),
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        self.expectations.created(
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
        self.expectations.deleted(
            &key,
            plan.stop.iter().map(|n| (namespace.clone(), n.clone())),
        );
        for name in &plan.stop {
            match pods_api.delete(name, &DeleteParams::default()).await {
                Ok(_) => {
                    publish(
                        &recorder,
                        &reference,
                        EventType::Normal,
                        "SuccessfulDelete",
                        format!("Deleted pod: {name}"),
                    )
                    .await;
                }
                Err(e) if not_found(&e) => {}
                Err(e) => return Err(e.into()),
            }
        }
        if let Some((condition, reason, message)) =
            plan.finish.as_ref().filter(|_| plan.finished_now)
        {
            if condition == &"Complete" {
                publish(
                    &recorder,
                    &reference,
                    EventType::Normal,
                    "Completed",
                    "Job completed".into(),
                )
                .await;
            } else {
                publish(
                    &recorder,
                    &reference,
                    EventType::Warning,
                    reason,
                    message.clone(),
                )
                .await;
            }
        }
        let mut status = plan.status.clone();
        if let Some(active) = status.active.as_mut() {
            *active = active
                .saturating_add(i32::try_from(created.len()).unwrap_or(0))
                .saturating_sub(i32::try_from(plan.stop.len()).unwrap_or(0))
                .max(0);
        }
        if job.status.as_ref() != Some(&status) {
            let api: Api<Job> = Api::namespaced(ctx.client.clone(), &namespace);
            api.patch_status(
                &name,
                &PatchParams::default(),
                &Patch::Merge(json!({ "status": status })),
            )
            .await?;
        }
        // Recorded in the status above: their finalizers can go.
        for name in &plan.release {
            if let Some(pod) = owned
                .iter()
                .find(|p| p.metadata.name.as_deref() == Some(name))
            {
                tracking::release(&pods_api, pod).await?;
            }
        }
        if let Some(e) = failure {
            return Err(e.into());
        }
        if let Some(wait) = plan.wait {
            return Ok(Action::requeue(wait));
        }
        // Come back when the active deadline passes.
        let deadline = job.spec.as_ref().and_then(|s| s.active_deadline_seconds);
        if let (Some(deadline), Some(start), None) =
            (deadline, status.start_time.as_ref(), &plan.finish)
        {
            let elapsed = now.duration_since(start.0).as_secs_f64();
            let left = (deadline as f64 - elapsed).max(0.0) + 0.5;
            return Ok(Action::requeue(Duration::from_secs_f64(left)));
        }
        Ok(Action::await_change())
    }

    /// A pod of the Job, for a completion index when the Job is Indexed, with the index's
    /// `(failure count, ignored failure count)` annotations under `backoffLimitPerIndex`
    /// (the ignored count only once non-zero, as upstream).
    fn pod_for(
        &self,
        job: &Job,
        name: &str,
        namespace: &str,
        index: Option<i32>,
        failure_counts: Option<(i32, i32)>,
        owner: k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference,
    ) -> Result<Pod, Error> {
        let template = job
            .spec
            .as_ref()
            .map(|s| s.template.clone())
            .ok_or_else(|| Error::Other(format!("{namespace}/{name} has no pod template")))?;
        let prefix = match index {
            Some(i) => format!("{name}-{i}-"),
            None => format!("{name}-"),
        };
        let mut pod = pods::from_template(&template, &prefix, namespace, owner);
        pod.metadata
            .finalizers
            .get_or_insert_with(Vec::new)
            .push(tracking::FINALIZER.into());
        if let Some(i) = index {
            let value = i.to_string();
            let annotations = pod.metadata.annotations.get_or_insert_with(BTreeMap::new);
            annotations.insert(plan::INDEX.into(), value.clone());
            if let Some((counted, ignored)) = failure_counts {
                annotations.insert(plan::FAILURE_COUNT.into(), counted.to_string());
                if ignored > 0 {
                    annotations.insert(plan::IGNORED_FAILURE_COUNT.into(), ignored.to_string());
                }
            }
            pod.metadata
                .labels
                .get_or_insert_with(BTreeMap::new)
                .insert(plan::INDEX.into(), value);
            if let Some(spec) = pod.spec.as_mut() {
                spec.hostname.get_or_insert_with(|| format!("{name}-{i}"));
                let env = EnvVar {
                    name: "JOB_COMPLETION_INDEX".into(),
                    value: None,
                    value_from: Some(EnvVarSource {
                        field_ref: Some(ObjectFieldSelector {
                            api_version: Some("v1".into()),
                            field_path: format!("metadata.annotations['{}']", plan::INDEX),
                        }),
                        ..EnvVarSource::default()
                    }),
                };
                for container in spec
                    .containers
                    .iter_mut()
                    .chain(spec.init_containers.iter_mut().flatten())
                {
                    container.env.get_or_insert_with(Vec::new).push(env.clone());
                }
            }
        }
        Ok(pod)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job() -> Job {
        serde_json::from_value(json!({
            "metadata": {"name": "j", "namespace": "ns", "uid": "u"},
            "spec": {"completionMode": "Indexed", "completions": 2, "parallelism": 2,
                "backoffLimitPerIndex": 1,
                "template": {"spec": {"containers": [{"name": "main", "image": "x"}]}}},
        }))
        .unwrap()
    }

    fn annotation<'a>(pod: &'a Pod, key: &str) -> Option<&'a str> {
        pod.metadata
            .annotations
            .as_ref()?
            .get(key)
            .map(String::as_str)
    }

    #[test]
    fn the_first_pod_of_an_index_has_failure_count_0() {
        let j = job();
        let p = plan::plan(&j, &[], jiff::Timestamp::UNIX_EPOCH, None);
        let counts = p.index_failure_counts.get(&1).copied();
        let owner = j.controller_owner_ref(&()).unwrap();
        let pod = Jobs::default()
            .pod_for(&j, "j", "ns", Some(1), counts, owner)
            .unwrap();
        assert_eq!(annotation(&pod, plan::INDEX), Some("1"));
        assert_eq!(annotation(&pod, plan::FAILURE_COUNT), Some("0"));
        assert_eq!(annotation(&pod, plan::IGNORED_FAILURE_COUNT), None);
    }

    #[test]
    fn a_replacement_pod_carries_both_failure_counts() {
        let j = job();
        let owner = j.controller_owner_ref(&()).unwrap();
        let pod = Jobs::default()
            .pod_for(&j, "j", "ns", Some(0), Some((2, 1)), owner)
            .unwrap();
        assert_eq!(annotation(&pod, plan::FAILURE_COUNT), Some("2"));
        assert_eq!(annotation(&pod, plan::IGNORED_FAILURE_COUNT), Some("1"));
    }
}
