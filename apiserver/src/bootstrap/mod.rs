//! The objects a cluster has from its first start: the four namespaces, the `kubernetes`
//! Service with its EndpointSlice pointing at this server, and upstream's bootstrap RBAC
//! roles and bindings (`cluster-admin`, `admin`, `edit`, `view`, the discovery and
//! basic-user roles), which clients read even before authorization enforces them.
//! Objects that exist are left as they are.

pub mod kubernetes_endpoints;

use std::net::SocketAddr;

use anyhow::Context;
use serde_json::{json, Value};

use crate::registry::{Registry, Target, WriteOptions};

/// Upstream v1.35's bootstrap ClusterRoles (the aggregated `admin`, `edit` and `view` with
/// the rules their aggregation yields) and ClusterRoleBindings, as it stores them.
const RBAC: &str = include_str!("rbac.json");

/// Creates what is missing.
pub async fn create_objects(registry: &Registry, advertise: SocketAddr) -> anyhow::Result<()> {
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        create(
            registry,
            "",
            "namespaces",
            None,
            json!({ "metadata": { "name": ns } }),
        )
        .await?;
    }
    create(registry, "", "services", Some("default"), json!({
        "metadata": { "name": "kubernetes", "labels": { "component": "apiserver", "provider": "kubernetes" } },
        "spec": {
            "clusterIP": crate::strategy::first_service_ip(),
            "ports": [{ "name": "https", "port": 443, "protocol": "TCP", "targetPort": advertise.port() }],
        },
    }))
    .await?;
    create(registry, "discovery.k8s.io", "endpointslices", Some("default"), json!({
        "metadata": { "name": "kubernetes", "labels": { "kubernetes.io/service-name": "kubernetes", "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io" } },
        "addressType": if advertise.is_ipv4() { "IPv4" } else { "IPv6" },
        "endpoints": [{ "addresses": [advertise.ip().to_string()], "conditions": { "ready": true } }],
        "ports": [{ "name": "https", "port": advertise.port(), "protocol": "TCP" }],
    }))
    .await?;
    let rbac: Vec<Value> = serde_json::from_str(RBAC).context("the bootstrap RBAC data")?;
    for object in rbac {
        let plural = match object.get("kind").and_then(Value::as_str) {
            Some("ClusterRole") => "clusterroles",
            Some("ClusterRoleBinding") => "clusterrolebindings",
            other => anyhow::bail!("unexpected bootstrap RBAC kind {other:?}"),
        };
        create(registry, "rbac.authorization.k8s.io", plural, None, object).await?;
    }
    Ok(())
}

async fn create(
    registry: &Registry,
    group: &str,
    plural: &str,
    namespace: Option<&str>,
    obj: Value,
) -> anyhow::Result<()> {
    // Every bootstrap object is of a v1 resource.
    let target = Target::builtin(group, "v1", plural, namespace)
        .with_context(|| format!("{plural} is missing from the route table"))?;
    match registry
        .create(&target, obj, &WriteOptions::default())
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if e.reason == "AlreadyExists" => Ok(()),
        Err(e) => Err(anyhow::anyhow!("cannot create the bootstrap {plural}: {e}")),
    }
}
