//! The resource quota controller against an in-process server: `status.hard` mirrors the
//! spec and `status.used` counts the namespace's pods (their requests and limits, within
//! the quota's scopes), claims, Services and objects, and follows them as they change.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ConfigMap, Pod, ResourceQuota};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use keelson_tests::workloads::{create_from_json as create, eventually, with_controllers};
use kube::api::DeleteParams;
use kube::Api;
use serde_json::json;

fn used(quota: &ResourceQuota) -> BTreeMap<String, String> {
    quota
        .status
        .as_ref()
        .and_then(|s| s.used.as_ref())
        .map(|u| {
            u.iter()
                .map(|(k, Quantity(v))| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default()
}

fn expected(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[tokio::test]
async fn a_quota_reports_what_its_namespace_uses() {
    let (server, _manager) = with_controllers().await;
    let client = server.client();
    let quotas: Api<ResourceQuota> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    create(
        &quotas,
        json!({
            "metadata": {"name": "compute"},
            "spec": {"hard": {
                "pods": "10", "requests.cpu": "4", "requests.memory": "4Gi", "limits.cpu": "8",
                "limits.memory": "8Gi", "configmaps": "20", "services": "5",
                "persistentvolumeclaims": "3", "requests.storage": "10Gi",
                "count/deployments.apps": "2",
            }},
        }),
    )
    .await;
    create(
        &quotas,
        json!({
            "metadata": {"name": "best-effort"},
            "spec": {"hard": {"pods": "5"}, "scopes": ["BestEffort"]},
        }),
    )
    .await;
    let container = |requests: serde_json::Value, limits: serde_json::Value| json!([{"name": "c", "image": "nginx:1.27", "resources": {"requests": requests, "limits": limits}}]);
    create(
        &pods,
        json!({"metadata": {"name": "a"}, "spec": {"containers": container(
        json!({"cpu": "500m", "memory": "256Mi"}), json!({"cpu": "1", "memory": "512Mi"}))}}),
    )
    .await;
    create(
        &pods,
        json!({"metadata": {"name": "b"}, "spec": {"containers": container(
        json!({"cpu": "1", "memory": "1Gi"}), json!({"cpu": "2", "memory": "1Gi"}))}}),
    )
    .await;
    create(&pods, json!({"metadata": {"name": "plain"}, "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}})).await;
    create(
        &Api::<k8s_openapi::api::core::v1::PersistentVolumeClaim>::namespaced(client.clone(), "default"),
        json!({"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "2Gi"}}}}),
    )
    .await;
    create(
        &Api::<k8s_openapi::api::apps::v1::Deployment>::namespaced(client.clone(), "default"),
        json!({"metadata": {"name": "web"}, "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}}}),
    )
    .await;
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let configmap_count = configmaps
        .list(&Default::default())
        .await
        .expect("list")
        .items
        .len()
        .to_string();

    // The `kubernetes` Service is in `default` from the start.
    let want = expected(&[
        ("pods", "3"),
        ("requests.cpu", "1500m"),
        ("requests.memory", "1280Mi"),
        ("limits.cpu", "3"),
        ("limits.memory", "1536Mi"),
        ("configmaps", &configmap_count),
        ("services", "1"),
        ("persistentvolumeclaims", "1"),
        ("requests.storage", "2Gi"),
        ("count/deployments.apps", "1"),
    ]);
    eventually("the compute quota's usage", || async {
        quotas.get("compute").await.is_ok_and(|q| used(&q) == want)
    })
    .await;
    let compute = quotas.get("compute").await.expect("quota");
    assert_eq!(
        compute.status.as_ref().and_then(|s| s.hard.clone()),
        compute.spec.as_ref().and_then(|s| s.hard.clone())
    );
    eventually("the best-effort quota counting one pod", || async {
        quotas
            .get("best-effort")
            .await
            .is_ok_and(|q| used(&q) == expected(&[("pods", "1")]))
    })
    .await;

    // A deleted pod stops counting.
    pods.delete(
        "b",
        &DeleteParams {
            grace_period_seconds: Some(0),
            ..Default::default()
        },
    )
    .await
    .expect("delete");
    eventually("the usage without b", || async {
        quotas.get("compute").await.is_ok_and(|q| {
            let used = used(&q);
            used.get("pods").map(String::as_str) == Some("2")
                && used.get("requests.cpu").map(String::as_str) == Some("500m")
                && used.get("requests.memory").map(String::as_str) == Some("256Mi")
        })
    })
    .await;
}
