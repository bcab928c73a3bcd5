//! The garbage collector against an in-process server with the controllers running:
//! dependents of a deleted owner go (background), are released (orphan), or go first while
//! the owner waits for them (foreground); a dependent whose owner never existed goes too.

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use keelson_tests::workloads::{eventually, owned_pods, with_controllers};
use kube::api::{DeleteParams, PostParams, PropagationPolicy};
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

fn delete_with(policy: PropagationPolicy) -> DeleteParams {
    DeleteParams {
        propagation_policy: Some(policy),
        ..DeleteParams::default()
    }
}

async fn set_with_pods(client: &kube::Client, name: &str) -> (Api<ReplicaSet>, Api<Pod>, String) {
    let sets: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let rs = sets
        .create(&PostParams::default(), &replica_set(name, 2))
        .await
        .expect("create");
    let uid = rs.uid().expect("a uid");
    eventually("2 pods", || async {
        owned_pods(&pods, &uid).await.len() == 2
    })
    .await;
    (sets, pods, uid)
}

fn pods_of<'a>(all: &'a [Pod], app: &str) -> Vec<&'a Pod> {
    all.iter()
        .filter(|p| p.labels().get("app").map(String::as_str) == Some(app))
        .collect()
}

#[tokio::test]
async fn deleting_an_owner_in_the_background_deletes_its_dependents() {
    let (server, _manager) = with_controllers().await;
    let (sets, pods, _) = set_with_pods(&server.client(), "bg").await;
    sets.delete("bg", &delete_with(PropagationPolicy::Background))
        .await
        .expect("delete");
    eventually("the pods gone", || async {
        let all = pods.list(&Default::default()).await.expect("list").items;
        pods_of(&all, "bg").is_empty()
    })
    .await;
}

#[tokio::test]
async fn deleting_an_owner_as_orphan_releases_its_dependents() {
    let (server, _manager) = with_controllers().await;
    let (sets, pods, uid) = set_with_pods(&server.client(), "orphans").await;
    sets.delete("orphans", &delete_with(PropagationPolicy::Orphan))
        .await
        .expect("delete");
    eventually("the set gone", || async {
        sets.get_opt("orphans").await.ok().flatten().is_none()
    })
    .await;
    let all = pods.list(&Default::default()).await.expect("list").items;
    let left = pods_of(&all, "orphans");
    assert_eq!(left.len(), 2, "the pods stay");
    assert!(left
        .iter()
        .all(|p| p.owner_references().iter().all(|r| r.uid != uid)));
}

#[tokio::test]
async fn deleting_an_owner_in_the_foreground_waits_for_its_dependents() {
    let (server, _manager) = with_controllers().await;
    let (sets, pods, _) = set_with_pods(&server.client(), "fg").await;
    sets.delete("fg", &delete_with(PropagationPolicy::Foreground))
        .await
        .expect("delete");
    // The set is gone only after its pods are.
    eventually("the set gone", || async {
        match sets.get_opt("fg").await.ok().flatten() {
            Some(rs) => {
                assert!(rs.metadata.deletion_timestamp.is_some());
                false
            }
            None => {
                let all = pods.list(&Default::default()).await.expect("list").items;
                assert!(
                    pods_of(&all, "fg").is_empty(),
                    "the set went before its pods"
                );
                true
            }
        }
    })
    .await;
}

#[tokio::test]
async fn an_object_whose_owner_does_not_exist_is_deleted() {
    let (server, _manager) = with_controllers().await;
    let maps: Api<ConfigMap> = Api::namespaced(server.client(), "default");
    let orphaned: ConfigMap = serde_json::from_value(json!({
        "metadata": {"name": "dangling", "ownerReferences": [{
            "apiVersion": "v1", "kind": "ConfigMap", "name": "never", "uid": "00000000-0000-0000-0000-000000000000",
        }]},
    }))
    .expect("a config map");
    maps.create(&PostParams::default(), &orphaned)
        .await
        .expect("create");
    eventually("the dangling object gone", || async {
        maps.get_opt("dangling").await.ok().flatten().is_none()
    })
    .await;
}
