//! `ttl-after-finished-controller`: deletes a finished Job (and, in the background, its
//! pods) `ttlSecondsAfterFinished` after it finished.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use kube::api::DeleteParams;
use kube::runtime::controller::Action;
use kube::{Api, ResourceExt};

use crate::controllers::not_found;
use crate::{Context, Error, Reconciler};

pub struct TtlAfterFinished;

/// When a Job finished: its completion time, or when its Failed condition became true.
pub fn finished_at(job: &Job) -> Option<jiff::Timestamp> {
    let status = job.status.as_ref()?;
    if let Some(t) = &status.completion_time {
        return Some(t.0);
    }
    status
        .conditions
        .iter()
        .flatten()
        .find(|c| matches!(c.type_.as_str(), "Complete" | "Failed") && c.status == "True")
        .and_then(|c| c.last_transition_time.as_ref())
        .map(|t| t.0)
}

/// What the TTL of a Job asks for at a given time.
#[derive(Debug, PartialEq)]
pub enum Expiry {
    /// No TTL, not finished yet, or already being deleted: nothing to do until it changes.
    Never,
    /// Delete it once this long has passed.
    In(Duration),
    /// Its time is up: delete it now.
    Now,
}

/// When `job` is to be deleted, seen at `now`.
pub fn expiry(job: &Job, now: jiff::Timestamp) -> Expiry {
    let Some(ttl) = job.spec.as_ref().and_then(|s| s.ttl_seconds_after_finished) else {
        return Expiry::Never;
    };
    let Some(finished) = finished_at(job) else {
        return Expiry::Never;
    };
    if job.metadata.deletion_timestamp.is_some() {
        return Expiry::Never;
    }
    let left = f64::from(ttl) - now.duration_since(finished).as_secs_f64();
    if left > 0.0 {
        // A little after the moment, so that the next pass finds it expired.
        Expiry::In(Duration::from_secs_f64(left + 0.1))
    } else {
        Expiry::Now
    }
}

impl Reconciler for TtlAfterFinished {
    type Object = Job;
    const NAME: &'static str = "ttl-after-finished-controller";

    async fn reconcile(&self, job: Arc<Job>, ctx: Arc<Context>) -> Result<Action, Error> {
        let Some(namespace) = job.namespace() else {
            return Ok(Action::await_change());
        };
        match expiry(&job, jiff::Timestamp::now()) {
            Expiry::Never => return Ok(Action::await_change()),
            Expiry::In(wait) => return Ok(Action::requeue(wait)),
            Expiry::Now => {}
        }
        let api: Api<Job> = Api::namespaced(ctx.client.clone(), &namespace);
        match api
            .delete(&job.name_any(), &DeleteParams::background())
            .await
        {
            Ok(_) => Ok(Action::await_change()),
            Err(e) if not_found(&e) => Ok(Action::await_change()),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(s: &str) -> jiff::Timestamp {
        s.parse().unwrap()
    }

    fn job(ttl: Option<i32>, status: serde_json::Value) -> Job {
        serde_json::from_value(json!({
            "metadata": {"name": "pi", "namespace": "default"},
            "spec": {"ttlSecondsAfterFinished": ttl, "template": {}},
            "status": status,
        }))
        .unwrap()
    }

    fn completed() -> serde_json::Value {
        json!({"completionTime": "2026-01-01T00:00:00Z", "conditions": [
            {"type": "Complete", "status": "True", "lastTransitionTime": "2026-01-01T00:00:00Z"}]})
    }

    #[test]
    fn a_job_without_a_ttl_is_kept() {
        assert_eq!(
            expiry(&job(None, completed()), at("2027-01-01T00:00:00Z")),
            Expiry::Never
        );
    }

    #[test]
    fn a_running_job_is_kept_whatever_its_ttl() {
        let running = job(Some(0), json!({"active": 1}));
        assert_eq!(expiry(&running, at("2027-01-01T00:00:00Z")), Expiry::Never);
    }

    #[test]
    fn a_completed_job_waits_out_the_rest_of_its_ttl() {
        let expiry = expiry(&job(Some(100), completed()), at("2026-01-01T00:00:40Z"));
        assert_eq!(expiry, Expiry::In(Duration::from_secs_f64(60.1)));
    }

    #[test]
    fn a_completed_job_goes_once_its_ttl_has_passed() {
        let done = job(Some(100), completed());
        assert_eq!(expiry(&done, at("2026-01-01T00:01:40Z")), Expiry::Now);
    }

    #[test]
    fn a_ttl_of_zero_deletes_a_finished_job_at_once() {
        assert_eq!(
            expiry(&job(Some(0), completed()), at("2026-01-01T00:00:00Z")),
            Expiry::Now
        );
    }

    #[test]
    fn a_failed_job_counts_from_its_failed_condition() {
        let failed = job(
            Some(30),
            json!({"conditions": [
                {"type": "Failed", "status": "True", "lastTransitionTime": "2026-01-01T00:00:10Z"}]}),
        );
        assert_eq!(
            expiry(&failed, at("2026-01-01T00:00:20Z")),
            Expiry::In(Duration::from_secs_f64(20.1))
        );
    }

    #[test]
    fn a_job_being_deleted_is_not_deleted_again() {
        let mut done = job(Some(0), completed());
        done.metadata.deletion_timestamp = Some(
            k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(at("2026-01-01T00:00:01Z")),
        );
        assert_eq!(expiry(&done, at("2026-01-01T00:00:05Z")), Expiry::Never);
    }
}
