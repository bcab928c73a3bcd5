//! The objects a cluster has from its first start: the four namespaces, the `kubernetes`
//! Service with its EndpointSlice pointing at this server, and upstream's bootstrap RBAC
//! roles and bindings (`cluster-admin`, `admin`, `edit`, `view`, the discovery and
//! basic-user roles), which clients read even before authorization enforces them.
//! Objects that exist are left as they are, except the CRDs of this project's own custom
//! resources (`keelson_apis::crds`), whose spec follows the running binary's types.

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
    for crd in keelson_apis::crds::all() {
        let crd = serde_json::to_value(&crd).context("a CRD of this project")?;
        ensure_crd(registry, crd).await?;
    }
    Ok(())
}

/// Creates a CRD of this project, or brings the spec of the stored one up to date.
async fn ensure_crd(registry: &Registry, crd: Value) -> anyhow::Result<()> {
    let target = Target::builtin(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        None,
    )
    .context("customresourcedefinitions is missing from the route table")?;
    let name = crd
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    for _ in 0..3 {
        let mut stored = match registry.get(&target, &name).await {
            Ok(stored) => stored,
            Err(e) if e.reason == "NotFound" => {
                match registry
                    .create(&target, crd.clone(), &WriteOptions::default())
                    .await
                {
                    Ok(_) => return Ok(()),
                    Err(e) if e.reason == "AlreadyExists" => continue,
                    Err(e) => anyhow::bail!("cannot create the CRD {name}: {e}"),
                }
            }
            Err(e) => anyhow::bail!("cannot read the CRD {name}: {e}"),
        };
        // Compared after defaulting, as stored.
        let mut wanted = crd.clone();
        target.strategy().default(&mut wanted);
        if stored.get("spec") == wanted.get("spec") {
            return Ok(());
        }
        crate::strategy::set(
            &mut stored,
            &["spec"],
            wanted.get("spec").cloned().unwrap_or_default(),
        );
        match registry
            .update(&target, &name, None, stored, &WriteOptions::default())
            .await
        {
            Ok(_) => return Ok(()),
            Err(e) if e.reason == "Conflict" => continue,
            Err(e) => anyhow::bail!("cannot update the CRD {name}: {e}"),
        }
    }
    anyhow::bail!("the CRD {name} kept changing while it was brought up to date")
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
