//! The workload controllers against an in-process server: ReplicaSets and
//! ReplicationControllers keep their pods (creating, deleting in upstream's order, adopting
//! orphans, releasing what the selector no longer matches) and report them in their status.

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{Pod, ReplicationController};
use keelson_tests::workloads::{eventually, owned_pods, with_controllers};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::json;

fn replica_set(name: &str, replicas: i32) -> ReplicaSet {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]},
            },
        },
    }))
    .expect("a ReplicaSet")
}

#[tokio::test]
async fn a_replica_set_creates_and_deletes_its_pods() {
    let (server, _manager) = with_controllers().await;
    let client = server.client();
    let sets: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let rs = sets
        .create(&PostParams::default(), &replica_set("web", 3))
        .await
        .expect("create");
    let uid = rs.uid().expect("a uid");
    eventually("3 pods", || async {
        owned_pods(&pods, &uid).await.len() == 3
    })
    .await;
    let owned = owned_pods(&pods, &uid).await;
    assert!(owned.iter().all(|p| p.name_any().starts_with("web-")));
    let owner = &owned[0].owner_references()[0];
    assert_eq!(
        (
            owner.kind.as_str(),
            owner.controller,
            owner.block_owner_deletion
        ),
        ("ReplicaSet", Some(true), Some(true))
    );
    eventually("status.replicas 3", || async {
        sets.get("web")
            .await
            .ok()
            .and_then(|r| r.status)
            .map(|s| s.replicas)
            == Some(3)
    })
    .await;
    // A deleted pod is replaced.
    pods.delete(&owned[0].name_any(), &DeleteParams::default())
        .await
        .expect("delete");
    eventually("a replacement", || async {
        let now = owned_pods(&pods, &uid).await;
        now.len() == 3 && now.iter().all(|p| p.name_any() != owned[0].name_any())
    })
    .await;
    // Scaled down, it deletes the surplus.
    sets.patch(
        "web",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 1}})),
    )
    .await
    .expect("scale");
    eventually("1 pod", || async {
        owned_pods(&pods, &uid).await.len() == 1
    })
    .await;
    eventually("status.replicas 1", || async {
        sets.get("web")
            .await
            .ok()
            .and_then(|r| r.status)
            .map(|s| s.replicas)
            == Some(1)
    })
    .await;
}

#[tokio::test]
async fn a_replica_set_adopts_orphans_and_releases_what_it_no_longer_selects() {
    let (server, _manager) = with_controllers().await;
    let client = server.client();
    let sets: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let orphan: Pod = serde_json::from_value(json!({
        "metadata": {"name": "orphan", "labels": {"app": "adopter"}},
        "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]},
    }))
    .expect("a pod");
    pods.create(&PostParams::default(), &orphan)
        .await
        .expect("create");
    let rs = sets
        .create(&PostParams::default(), &replica_set("adopter", 2))
        .await
        .expect("create");
    let uid = rs.uid().expect("a uid");
    eventually("the orphan adopted and one more pod", || async {
        let owned = owned_pods(&pods, &uid).await;
        owned.len() == 2 && owned.iter().any(|p| p.name_any() == "orphan")
    })
    .await;
    // Relabelled, the pod is released, and the set makes another.
    pods.patch(
        "orphan",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"app": "other"}}})),
    )
    .await
    .expect("relabel");
    eventually("the pod released and replaced", || async {
        let owned = owned_pods(&pods, &uid).await;
        let released = pods
            .get("orphan")
            .await
            .is_ok_and(|p| p.owner_references().is_empty());
        released && owned.len() == 2 && owned.iter().all(|p| p.name_any() != "orphan")
    })
    .await;
}

#[tokio::test]
async fn a_replication_controller_keeps_its_pods() {
    let (server, _manager) = with_controllers().await;
    let client = server.client();
    let controllers: Api<ReplicationController> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let rc: ReplicationController = serde_json::from_value(json!({
        "metadata": {"name": "legacy"},
        "spec": {
            "replicas": 2,
            "template": {
                "metadata": {"labels": {"app": "legacy"}},
                "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]},
            },
        },
    }))
    .expect("an RC");
    let rc = controllers
        .create(&PostParams::default(), &rc)
        .await
        .expect("create");
    let uid = rc.uid().expect("a uid");
    eventually("2 pods", || async {
        owned_pods(&pods, &uid).await.len() == 2
    })
    .await;
}
