//! `namespace`: empties a namespace that is being deleted, then removes its `kubernetes`
//! finalizer so the API server deletes it.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{DeleteParams, DynamicObject, ListParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::runtime::controller::Action;
use kube::Api;

use crate::{Context, Error, Reconciler};

pub struct NamespaceLifecycle;

/// The finalizer the API server puts on every namespace.
const FINALIZER: &str = "kubernetes";

impl Reconciler for NamespaceLifecycle {
    type Object = Namespace;
    const NAME: &'static str = "namespace-controller";

    async fn reconcile(&self, ns: Arc<Namespace>, ctx: Arc<Context>) -> Result<Action, Error> {
        if ns.metadata.deletion_timestamp.is_none() {
            return Ok(Action::await_change());
        }
        let Some(name) = ns.metadata.name.as_deref() else {
            return Ok(Action::await_change());
        };
        let mut remaining = 0;
        for r in keelson_apis::catalogue::builtin() {
            if !r.namespaced() || !r.has_verb("deletecollection") || !r.has_verb("list") {
                continue;
            }
            let gvk = GroupVersionKind::gvk(r.group(), r.version(), r.facts.kind);
            let resource = ApiResource::from_gvk_with_plural(&gvk, r.plural());
            let api: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), name, &resource);
            api.delete_collection(&DeleteParams::background(), &ListParams::default())
                .await?;
            remaining += api
                .list_metadata(&ListParams::default().limit(1))
                .await?
                .items
                .len();
        }
        if remaining > 0 {
            // Finalizers or graceful deletion hold some objects; look again shortly.
            return Ok(Action::requeue(Duration::from_secs(1)));
        }
        let mut finalized = (*ns).clone();
        if let Some(spec) = finalized.spec.as_mut() {
            if let Some(finalizers) = spec.finalizers.as_mut() {
                finalizers.retain(|f| f != FINALIZER);
            }
        }
        let api: Api<Namespace> = Api::all(ctx.client.clone());
        match api
            .replace_subresource("finalize", name, &PostParams::default(), &finalized)
            .await
        {
            Ok(_) => Ok(Action::await_change()),
            Err(kube::Error::Api(e)) if e.code == 404 => Ok(Action::await_change()),
            Err(e) => Err(e.into()),
        }
    }
}
