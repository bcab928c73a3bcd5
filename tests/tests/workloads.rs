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

fn deployment(name: &str, replicas: i32, image: &str) -> k8s_openapi::api::apps::v1::Deployment {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": image}]},
            },
        },
    }))
    .expect("a Deployment")
}

/// `kubectl rollout status`'s test of a finished rollout.
fn rolled_out(d: &k8s_openapi::api::apps::v1::Deployment) -> bool {
    let (Some(spec), Some(status)) = (&d.spec, &d.status) else {
        return false;
    };
    let replicas = spec.replicas.unwrap_or(1);
    status.observed_generation >= d.metadata.generation
        && status.updated_replicas.unwrap_or(0) >= replicas
        && status.replicas.unwrap_or(0) <= status.updated_replicas.unwrap_or(0)
        && status.available_replicas.unwrap_or(0) >= status.updated_replicas.unwrap_or(0)
}

#[tokio::test]
async fn a_deployment_rolls_out_a_new_template_and_back() {
    use k8s_openapi::api::apps::v1::Deployment;
    let (server, _manager) = with_controllers().await;
    let client = server.client();
    let _kubelet = keelson_tests::workloads::mark_pods_ready(client.clone(), "default");
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let sets: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    deployments
        .create(&PostParams::default(), &deployment("web", 3, "nginx:1.27"))
        .await
        .expect("create");
    eventually("the first rollout", || async {
        deployments.get("web").await.is_ok_and(|d| rolled_out(&d))
    })
    .await;
    let d = deployments.get("web").await.expect("get");
    assert_eq!(
        d.annotations()
            .get("deployment.kubernetes.io/revision")
            .map(String::as_str),
        Some("1")
    );
    let conditions = d.status.and_then(|s| s.conditions).unwrap_or_default();
    let progressing = conditions
        .iter()
        .find(|c| c.type_ == "Progressing")
        .expect("Progressing");
    assert_eq!(
        progressing.reason.as_deref(),
        Some("NewReplicaSetAvailable")
    );
    assert!(conditions
        .iter()
        .any(|c| c.type_ == "Available" && c.status == "True"));

    // A new image rolls out through a second set; the first ends at 0.
    roll_out_image(&deployments, "nginx:1.28", "2").await;
    let all = sets.list(&Default::default()).await.expect("list").items;
    assert_eq!(all.len(), 2, "{all:?}");
    let replicas: Vec<(String, i32)> = all
        .iter()
        .map(|rs| {
            (
                rs.annotations()
                    .get("deployment.kubernetes.io/revision")
                    .cloned()
                    .unwrap_or_default(),
                rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(-1),
            )
        })
        .collect();
    assert!(
        replicas.contains(&("1".into(), 0)) && replicas.contains(&("2".into(), 3)),
        "{replicas:?}"
    );

    // Back to the first template (what `kubectl rollout undo` sends): the first set returns
    // as revision 3.
    roll_out_image(&deployments, "nginx:1.27", "3").await;
    let all = sets.list(&Default::default()).await.expect("list").items;
    assert_eq!(all.len(), 2, "the first set is reused: {all:?}");
}

/// Sets the image of deployment `web`'s container and waits until that rollout is done
/// as `revision`.
async fn roll_out_image(
    deployments: &Api<k8s_openapi::api::apps::v1::Deployment>,
    image: &str,
    revision: &str,
) {
    deployments
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Strategic(json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": image}]}}}})),
        )
        .await
        .expect("set image");
    eventually(&format!("the rollout of {image}"), || async {
        deployments.get("web").await.is_ok_and(|d| {
            rolled_out(&d)
                && d.annotations()
                    .get("deployment.kubernetes.io/revision")
                    .map(String::as_str)
                    == Some(revision)
        })
    })
    .await;
}

#[tokio::test]
async fn a_recreate_deployment_removes_old_pods_before_new_ones_start() {
    use k8s_openapi::api::apps::v1::Deployment;
    let (server, _manager) = with_controllers().await;
    let client = server.client();
    let _kubelet = keelson_tests::workloads::mark_pods_ready(client.clone(), "default");
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let mut d = deployment("re", 2, "nginx:1.27");
    if let Some(spec) = d.spec.as_mut() {
        spec.strategy =
            Some(serde_json::from_value(json!({"type": "Recreate"})).expect("a strategy"));
    }
    deployments
        .create(&PostParams::default(), &d)
        .await
        .expect("create");
    eventually("the first rollout", || async {
        deployments.get("re").await.is_ok_and(|d| rolled_out(&d))
    })
    .await;
    deployments
        .patch(
            "re",
            &PatchParams::default(),
            &Patch::Strategic(json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "nginx:1.28"}]}}}})),
        )
        .await
        .expect("set image");
    // Never old and new pods at once.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let images: Vec<String> = pods
            .list(&Default::default())
            .await
            .expect("list")
            .items
            .iter()
            .filter_map(|p| p.spec.as_ref()?.containers.first()?.image.clone())
            .collect();
        let old = images.iter().filter(|i| *i == "nginx:1.27").count();
        let new = images.iter().filter(|i| *i == "nginx:1.28").count();
        assert!(old == 0 || new == 0, "old and new pods at once: {images:?}");
        if new == 2 && old == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the recreate did not finish: {images:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
