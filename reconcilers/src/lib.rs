//! Keelson's reconcile framework (over `kube-runtime`) and its built-in controllers. Every
//! loop sees the cluster only through `kube::Client` — in `keelson up` a client over the
//! API server's in-process tower service — never through the API server's or the store's
//! crates.
//!
//! - [`Reconciler`]: the one trait every loop implements; [`run`] drives one with
//!   `kube_runtime::Controller` (level-triggered, with retries on error).
//! - [`controllers`]: the built-in loops; [`start_default`] runs the default set.

pub mod controllers;

use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Api, Resource};
use serde::de::DeserializeOwned;

/// What every reconcile loop gets.
pub struct Context {
    pub client: kube::Client,
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
    type Object: Resource<DynamicType = ()>
        + Clone
        + DeserializeOwned
        + Debug
        + Send
        + Sync
        + 'static;
    /// The name `--controllers` selects it by.
    const NAME: &'static str;
    /// Adds watches beyond the object's own (for example of objects it creates).
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

/// Runs a reconciler until the process ends.
pub async fn run<R: Reconciler>(reconciler: R, ctx: Arc<Context>) {
    let api: Api<R::Object> = Api::all(ctx.client.clone());
    let controller = reconciler.watches(Controller::new(api, watcher::Config::default()), &ctx);
    let reconciler = Arc::new(reconciler);
    controller
        .run(
            move |obj, ctx| {
                let reconciler = reconciler.clone();
                async move { reconciler.reconcile(obj, ctx).await }
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

/// Starts the default controllers on the runtime; they run until the process ends.
pub fn start_default(client: kube::Client) -> Vec<tokio::task::JoinHandle<()>> {
    let ctx = Arc::new(Context { client });
    vec![
        tokio::spawn(run(controllers::namespace::NamespaceLifecycle, ctx.clone())),
        tokio::spawn(run(controllers::serviceaccount::DefaultServiceAccount, ctx)),
    ]
}
