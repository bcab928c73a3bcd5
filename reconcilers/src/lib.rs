//! Keelson's reconcile framework (over `kube-runtime`) and its built-in controllers. Every
//! loop sees the cluster only through `kube::Client` — in `keelson up` a client over the
//! API server's in-process tower service — never through the API server's or the store's
//! crates.
//!
//! - [`Reconciler`]: the one trait every loop implements (controllers, the scheduler, the
//!   node agent); [`run`] drives one with `kube_runtime::Controller` (level-triggered, with
//!   retries on error) over the process's shared [`informers`] — one watch per resource
//!   type, however many loops read it. `generated/` (written by `codegen`) adds a typed
//!   accessor per catalogue resource: `ctx.informers.apps_v1_deployments()`.
//! - [`Context`]: what every loop gets: the client, the informers, an event recorder.
//! - [`manager`]: selects loops with `--controllers` and runs them while holding the
//!   controller manager's Lease ([`leader`]).
//! - [`controllers`]: the built-in loops.
//! - [`scheduler`]: the default scheduler, run beside the manager under its own Lease.

pub mod controllers;
mod generated;
pub mod informers;
pub mod leader;
pub mod manager;
pub mod metrics;
pub mod scheduler;

use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Recorder, Reporter};
use tokio_util::sync::CancellationToken;

pub use informers::{Informed, Informer, Informers};

/// What every reconcile loop gets.
pub struct Context {
    pub client: kube::Client,
    /// The process's shared informers: a loop reads caches and subscribes to changes here
    /// instead of opening its own watches.
    pub informers: Informers,
    /// The API server's CA (PEM), which `kube-root-ca.crt` publishes.
    pub root_ca: Option<String>,
    /// How long a node may go unheard before it is marked unreachable
    /// (`--node-monitor-grace-period`; upstream's default when unset).
    pub node_monitor_grace_period: Option<Duration>,
    /// Every loop's workqueue metrics.
    pub metrics: Arc<metrics::LoopMetrics>,
    /// Where nodes' pod CIDRs come from (`--cluster-cidr`).
    pub cluster_cidr: keelson_apis::cidr::Cidr,
}

impl Context {
    pub fn new(client: kube::Client) -> Context {
        Context {
            informers: Informers::new(client.clone()),
            client,
            root_ca: None,
            node_monitor_grace_period: None,
            metrics: Arc::default(),
            cluster_cidr: controllers::node_ipam::default_cluster_cidr(),
        }
    }

    /// An event recorder (`events.k8s.io/v1`) reporting as `controller`.
    pub fn recorder(&self, controller: &str) -> Recorder {
        Recorder::new(
            self.client.clone(),
            Reporter {
                controller: controller.to_string(),
                instance: None,
            },
        )
    }
}

/// A reconcile failure; the loop retries the object after a back-off.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("API request failed: {0}")]
    Api(#[from] kube::Error),
    #[error("{0}")]
    Other(String),
}

/// One level-triggered loop: read the object and the world, write the difference.
pub trait Reconciler: Send + Sync + 'static {
    type Object: Informed;
    /// The name `--controllers` selects it by (upstream's canonical name).
    const NAME: &'static str;
    /// Whether an object of the type is this loop's at all. Objects it is not for are dropped
    /// from the shared change stream before they are queued, so a loop interested in a few
    /// objects of a busy type (the node agent: the pods bound to its nodes) costs the others
    /// nothing. All of them by default.
    fn selects(&self, _obj: &Self::Object) -> bool {
        true
    }
    /// Adds triggers beyond changes of the object itself, from other informers (objects it
    /// owns, objects it reads).
    fn watches(
        &self,
        controller: Controller<Self::Object>,
        _ctx: &Context,
    ) -> Controller<Self::Object> {
        controller
    }
    fn reconcile(
        &self,
        obj: Arc<Self::Object>,
        ctx: Arc<Context>,
    ) -> impl Future<Output = Result<Action, Error>> + Send;
}

/// Runs a reconciler until `shutdown` is cancelled; reconciles in progress finish first.
pub async fn run<R: Reconciler>(reconciler: R, ctx: Arc<Context>, shutdown: CancellationToken) {
    let reconciler = Arc::new(reconciler);
    let informer = ctx.informers.get::<R::Object>();
    let selector = reconciler.clone();
    let trigger = informer
        .subscribe()
        .filter(move |obj| std::future::ready(selector.selects(obj)));
    let controller = Controller::for_shared_stream(trigger, informer.store());
    let controller = reconciler
        .watches(controller, &ctx)
        .graceful_shutdown_on(async move { shutdown.cancelled().await });
    controller
        .run(
            move |obj, ctx| {
                let reconciler = reconciler.clone();
                async move {
                    let metrics = ctx.metrics.clone();
                    metrics.started(R::NAME);
                    let started = std::time::Instant::now();
                    let result = reconciler.reconcile(obj, ctx).await;
                    metrics.finished(R::NAME, started.elapsed(), result.is_err());
                    result
                }
            },
            |_obj, err, _ctx| {
                tracing::warn!(controller = R::NAME, "reconcile failed: {err}");
                Action::requeue(Duration::from_secs(2))
            },
            ctx,
        )
        .for_each(|_| async {})
        .await;
}
