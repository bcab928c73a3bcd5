//! The scheduler (`default-scheduler`): a reconcile loop over unscheduled pods that places
//! each pod whose `spec.schedulerName` is `default-scheduler` on a node, as upstream's
//! kube-scheduler does with its default profile, and binds it through
//! `POST pods/{name}/binding`. Pods naming another scheduler are left alone, so a second
//! scheduler can run beside it.
//!
//! Unlike the controllers, it is not driven by `kube_runtime::Controller`: a scheduler
//! needs its own queue (highest priority first, back-off per pod, unschedulable pods parked
//! until the cluster changes) and must see deletions to free resources, so one
//! [`driver`] task takes the shared informers' change streams directly (no watch of its
//! own) and owns the queue and the cache.
//!
//! One concern per file:
//! - [`queue`]: the scheduling queue (active, backoff, unschedulable) and the nominator;
//! - [`cache`]: nodes and the pods placed on them, including *assumed* pods whose binding
//!   is still being written;
//! - [`pod_info`], [`resources`], [`labels`]: what is read of a pod, its requests, and the
//!   selectors it carries;
//! - [`framework`]: runs the filter and score plugins and picks the node;
//! - [`plugins`]: one file per plugin, by upstream's names;
//! - [`preemption`]: DefaultPreemption, for pods that fit nowhere;
//! - `binding`: writes the binding; [`failure`]: the `PodScheduled=False` condition and the
//!   FailedScheduling event with upstream's message;
//! - `intake`: informer changes into the queue and the cache;
//! - `driver`: the loop.
//!
//! [`Scheduler::start`] runs it while holding the `kube-scheduler` Lease in `kube-system`
//! (upstream's name and default durations), as `keelson up` and `keelson server` do.

mod binding;
pub mod cache;
mod driver;
pub mod failure;
pub mod framework;
mod intake;
pub mod labels;
mod objects;
pub mod plugins;
pub mod pod_info;
pub mod preemption;
pub mod queue;
pub mod resources;

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::leader::LeaderElection;
use crate::Context;

pub use pod_info::DEFAULT_SCHEDULER_NAME;

/// The name of the scheduler's Lease (upstream's).
pub const LEASE_NAME: &str = "kube-scheduler";

/// How the scheduler runs.
#[derive(Clone, Debug, Default)]
pub struct SchedulerConfig {
    /// The lease to hold while scheduling (`LeaderElection::new(LEASE_NAME)`), or `None` to
    /// schedule at once (`--leader-elect=false`).
    pub leader_election: Option<LeaderElection>,
    /// Upstream's `percentageOfNodesToScore`; `None` for its adaptive default.
    pub percentage_of_nodes_to_score: Option<usize>,
}

/// A running scheduler.
pub struct Scheduler {
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Scheduler {
    /// Starts scheduling over the process's shared informers in `ctx` (after taking the
    /// lease, when electing). Losing the lease stops scheduling until it is taken again.
    pub fn start(ctx: Arc<Context>, config: SchedulerConfig) -> Scheduler {
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        let task = tokio::spawn(async move {
            loop {
                if let Some(election) = &config.leader_election {
                    if !election.acquire(&ctx.client, &stop).await {
                        return;
                    }
                }
                let term = stop.child_token();
                let running = tokio::spawn(run(ctx.clone(), config.clone(), term.clone()));
                match &config.leader_election {
                    Some(election) => election.hold(&ctx.client, &stop).await,
                    None => stop.cancelled().await,
                }
                term.cancel();
                let _ = running.await;
                if stop.is_cancelled() {
                    return;
                }
            }
        });
        Scheduler { shutdown, task }
    }

    /// Stops scheduling (bindings already sent complete on their own) and releases the
    /// lease.
    pub async fn shutdown(self) {
        self.shutdown.cancel();
        let _ = self.task.await;
    }
}

/// Schedules until `shutdown` is cancelled, without leader election.
pub async fn run(ctx: Arc<Context>, config: SchedulerConfig, shutdown: CancellationToken) {
    let mut profile = framework::Profile::default_profile();
    profile.percentage_of_nodes_to_score = config.percentage_of_nodes_to_score;
    driver::Driver::new(ctx, profile).run(shutdown).await;
}
