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

impl Reconciler for TtlAfterFinished {
    type Object = Job;
    const NAME: &'static str = "ttl-after-finished-controller";

    async fn reconcile(&self, job: Arc<Job>, ctx: Arc<Context>) -> Result<Action, Error> {
        let Some(ttl) = job.spec.as_ref().and_then(|s| s.ttl_seconds_after_finished) else {
            return Ok(Action::await_change());
        };
        let (Some(finished), Some(namespace)) = (finished_at(&job), job.namespace()) else {
            return Ok(Action::await_change());
        };
        if job.metadata.deletion_timestamp.is_some() {
            return Ok(Action::await_change());
        }
        let age = jiff::Timestamp::now()
            .duration_since(finished)
            .as_secs_f64();
        let left = f64::from(ttl) - age;
        if left > 0.0 {
            return Ok(Action::requeue(Duration::from_secs_f64(left + 0.1)));
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
