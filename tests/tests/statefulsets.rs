//! The StatefulSet controller against an in-process server, with a stand-in for the nodes
//! that makes pods Running and Ready: ordered creation with stable names, hostnames and
//! claims, scale-down from the highest ordinal, and a rolling update down to the partition.

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use keelson_tests::workloads::{eventually, mark_pods_ready, with_controllers};
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::json;

/// The sorted names of the objects of `api` that `labels` selects and that are not being
/// deleted.
async fn live_names<K>(api: &Api<K>, labels: &str) -> Vec<String>
where
    K: kube::Resource + Clone + k8s_openapi::serde::de::DeserializeOwned + std::fmt::Debug,
{
    let mut names: Vec<String> = api
        .list(&ListParams::default().labels(labels))
        .await
        .map(|l| l.items)
        .unwrap_or_default()
        .iter()
        .filter(|o| o.meta().deletion_timestamp.is_none())
        .map(|o| o.name_any())
        .collect();
    names.sort();
    names
}

async fn names(pods: &Api<Pod>) -> Vec<String> {
    live_names(pods, "app=db").await
}

/// Creates StatefulSet `db` (pods labelled `app=db`, one `data` claim each) with `fields`
/// added to its spec.
async fn create_db_set(sets: &Api<StatefulSet>, fields: serde_json::Value) {
    let mut spec = json!({
        "serviceName": "db",
        "selector": {"matchLabels": {"app": "db"}},
        "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [{"name": "c", "image": "db:1"}]}},
        "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}],
    });
    if let (Some(spec), Some(fields)) = (spec.as_object_mut(), fields.as_object()) {
        spec.extend(fields.clone());
    }
    let sts: StatefulSet =
        serde_json::from_value(json!({"metadata": {"name": "db"}, "spec": spec}))
            .expect("a StatefulSet");
    sets.create(&PostParams::default(), &sts)
        .await
        .expect("create");
}

#[tokio::test]
async fn a_stateful_set_creates_in_order_scales_down_from_the_top_and_rolls_out() {
    let (server, _manager) = with_controllers().await;
    let client = server.client();
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), "default");
    create_db_set(&sets, json!({"replicas": 3})).await;
    // Without ready pods, OrderedReady stops at the first.
    eventually("db-0 only", || async { names(&pods).await == ["db-0"] }).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(
        names(&pods).await,
        ["db-0"],
        "the next pod came before db-0 was ready"
    );
    let _kubelet = mark_pods_ready(client.clone(), "default");
    eventually("all three", || async {
        names(&pods).await == ["db-0", "db-1", "db-2"]
    })
    .await;
    let db1 = pods.get("db-1").await.expect("db-1");
    let spec = db1.spec.expect("a spec");
    assert_eq!(
        (spec.hostname.as_deref(), spec.subdomain.as_deref()),
        (Some("db-1"), Some("db"))
    );
    assert_eq!(
        db1.metadata
            .labels
            .unwrap_or_default()
            .get("apps.kubernetes.io/pod-index")
            .map(String::as_str),
        Some("1")
    );
    let claim_names: Vec<String> = claims
        .list(&ListParams::default())
        .await
        .expect("list")
        .items
        .iter()
        .map(|c| c.name_any())
        .collect();
    for n in ["data-db-0", "data-db-1", "data-db-2"] {
        assert!(claim_names.contains(&n.to_string()), "{claim_names:?}");
    }
    // A new image rolls from the highest ordinal down to the partition (1): db-0 keeps db:1.
    sets.patch(
        "db",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 1}},
            "template": {"spec": {"containers": [{"name": "c", "image": "db:2"}]}},
        }})),
    )
    .await
    .expect("update");
    let image = |p: &Pod| {
        p.spec
            .as_ref()
            .and_then(|s| s.containers.first()?.image.clone())
            .unwrap_or_default()
    };
    eventually("db-1 and db-2 updated", || async {
        let (Ok(p1), Ok(p2), Ok(p0)) = (
            pods.get("db-1").await,
            pods.get("db-2").await,
            pods.get("db-0").await,
        ) else {
            return false;
        };
        image(&p1) == "db:2" && image(&p2) == "db:2" && image(&p0) == "db:1"
    })
    .await;
    // Scaled down, the highest ordinals go.
    sets.patch(
        "db",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 1}})),
    )
    .await
    .expect("scale");
    eventually("db-0 left", || async { names(&pods).await == ["db-0"] }).await;
    eventually("the status", || async {
        sets.get("db")
            .await
            .ok()
            .and_then(|s| s.status)
            .is_some_and(|s| s.replicas == 1 && s.ready_replicas == Some(1))
    })
    .await;
}

#[tokio::test]
async fn claims_of_pods_removed_by_a_scale_down_go_with_them_when_the_policy_says_so() {
    let (server, _manager) = with_controllers().await;
    let client = server.client();
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), "default");
    create_db_set(
        &sets,
        json!({
            "replicas": 2,
            "podManagementPolicy": "Parallel",
            "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Delete"},
        }),
    )
    .await;
    let _kubelet = mark_pods_ready(client.clone(), "default");
    let claim_names = || live_names(&claims, "app=db");
    eventually("both pods and claims", || async {
        names(&pods).await == ["db-0", "db-1"] && claim_names().await == ["data-db-0", "data-db-1"]
    })
    .await;
    sets.patch(
        "db",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 1}})),
    )
    .await
    .expect("scale down");
    eventually("db-1's claim deleted with it, db-0's kept", || async {
        names(&pods).await == ["db-0"] && claim_names().await == ["data-db-0"]
    })
    .await;
    let kept = claims.get("data-db-0").await.expect("data-db-0");
    assert_eq!(
        kept.metadata.owner_references, None,
        "whenDeleted: Retain leaves the claim of a pod in range unowned"
    );
}
