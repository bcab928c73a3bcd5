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

/// The resources a namespace is emptied of, in the catalogue's order: every namespaced one
/// that can be listed and deleted as a collection.
fn contents() -> impl Iterator<Item = ApiResource> {
    keelson_apis::catalogue::builtin()
        .iter()
        .filter(|r| r.namespaced() && r.has_verb("deletecollection") && r.has_verb("list"))
        .map(|r| {
            let gvk = GroupVersionKind::gvk(r.group(), r.version(), r.facts.kind);
            ApiResource::from_gvk_with_plural(&gvk, r.plural())
        })
}

/// The namespace as `finalize` takes it: without the `kubernetes` finalizer, other
/// finalizers kept.
fn finalized(ns: &Namespace) -> Namespace {
    let mut finalized = ns.clone();
    if let Some(spec) = finalized.spec.as_mut() {
        if let Some(finalizers) = spec.finalizers.as_mut() {
            finalizers.retain(|f| f != FINALIZER);
        }
    }
    finalized
}

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
        for resource in contents() {
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
        let finalized = finalized(&ns);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_is_emptied_of_every_namespaced_resource_and_nothing_else() {
        let plurals: Vec<String> = contents().map(|r| r.plural).collect();
        for namespaced in [
            "pods",
            "configmaps",
            "secrets",
            "deployments",
            "leases",
            "events",
        ] {
            assert!(plurals.iter().any(|p| p == namespaced), "{namespaced} kept");
        }
        for cluster_scoped in ["nodes", "namespaces", "clusterroles", "persistentvolumes"] {
            assert!(
                !plurals.iter().any(|p| p == cluster_scoped),
                "{cluster_scoped} emptied"
            );
        }
    }

    #[test]
    fn resources_without_deletecollection_are_not_emptied() {
        // `bindings` can only be created; `localsubjectaccessreviews` likewise.
        let plurals: Vec<String> = contents().map(|r| r.plural).collect();
        assert!(!plurals.iter().any(|p| p == "bindings"));
        assert!(!plurals.iter().any(|p| p == "localsubjectaccessreviews"));
    }

    #[test]
    fn finalize_removes_only_the_kubernetes_finalizer() {
        let ns: Namespace = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "team", "deletionTimestamp": "2024-01-01T00:00:00Z"},
            "spec": {"finalizers": ["kubernetes", "example.com/cleanup"]},
        }))
        .unwrap();
        assert_eq!(
            finalized(&ns).spec.and_then(|s| s.finalizers),
            Some(vec!["example.com/cleanup".to_string()])
        );
    }
}
