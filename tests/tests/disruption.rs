//! Disruption budgets and the pod garbage collector against an in-process server: a PDB's
//! status follows its pods and an eviction it does not allow is refused; pods bound to a
//! node that does not exist are collected.

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use keelson_tests::workloads::{eventually, mark_pods_ready, owned_pods, with_controllers};
use kube::api::{EvictParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::json;

#[tokio::test]
async fn a_budget_counts_healthy_pods_and_refuses_evictions_it_does_not_allow() {
    let (server, _manager) = with_controllers().await;
    let client = server.client();
    let _kubelet = mark_pods_ready(client.clone(), "default");
    let sets: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let budgets: Api<PodDisruptionBudget> = Api::namespaced(client.clone(), "default");
    let rs: ReplicaSet = serde_json::from_value(json!({
        "metadata": {"name": "guarded"},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "guarded"}},
            "template": {"metadata": {"labels": {"app": "guarded"}}, "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}},
        },
    }))
    .expect("a set");
    let uid = sets
        .create(&PostParams::default(), &rs)
        .await
        .expect("create")
        .uid()
        .expect("uid");
    let pdb: PodDisruptionBudget = serde_json::from_value(json!({
        "metadata": {"name": "guard"},
        "spec": {"minAvailable": 3, "selector": {"matchLabels": {"app": "guarded"}}},
    }))
    .expect("a budget");
    budgets
        .create(&PostParams::default(), &pdb)
        .await
        .expect("create");
    eventually("3 healthy, none allowed", || async {
        budgets
            .get("guard")
            .await
            .ok()
            .and_then(|b| b.status)
            .is_some_and(|s| {
                s.current_healthy == 3
                    && s.desired_healthy == 3
                    && s.disruptions_allowed == 0
                    && s.expected_pods == 3
            })
    })
    .await;
    let victim = owned_pods(&pods, &uid).await.remove(0).name_any();
    let refused = pods.evict(&victim, &EvictParams::default()).await;
    assert!(
        matches!(&refused, Err(kube::Error::Api(s)) if s.code == 429),
        "{refused:?}"
    );
    // With room for one disruption, the eviction goes through.
    budgets
        .patch(
            "guard",
            &Default::default(),
            &kube::api::Patch::Merge(json!({"spec": {"minAvailable": 2}})),
        )
        .await
        .expect("relax");
    eventually("one allowed", || async {
        budgets
            .get("guard")
            .await
            .ok()
            .and_then(|b| b.status)
            .is_some_and(|s| s.disruptions_allowed == 1)
    })
    .await;
    pods.evict(&victim, &EvictParams::default())
        .await
        .expect("the eviction");
}

#[tokio::test]
async fn pods_bound_to_a_node_that_does_not_exist_are_collected() {
    let (server, _manager) = with_controllers().await;
    let pods: Api<Pod> = Api::namespaced(server.client(), "default");
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "stray"},
        "spec": {"nodeName": "gone", "containers": [{"name": "c", "image": "nginx:1.27"}]},
    }))
    .expect("a pod");
    pods.create(&PostParams::default(), &pod)
        .await
        .expect("create");
    eventually("the pod collected", || async {
        pods.get_opt("stray").await.ok().flatten().is_none()
    })
    .await;
}
