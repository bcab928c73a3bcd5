//! The DaemonSet controller against an in-process server: one pod per eligible node (node
//! selector, taints and upstream's automatic tolerations), pinned to its node, replaced when
//! the template changes, with ControllerRevisions as history.

use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet};
use k8s_openapi::api::core::v1::{Node, Pod};
use keelson_tests::workloads::{eventually, owned_pods, with_controllers};
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::json;

async fn node(nodes: &Api<Node>, name: &str, labels: serde_json::Value, taints: serde_json::Value) {
    let node: Node = serde_json::from_value(json!({
        "metadata": {"name": name, "labels": labels},
        "spec": {"taints": taints},
    }))
    .expect("a node");
    nodes
        .create(&PostParams::default(), &node)
        .await
        .expect("create");
}

fn pinned_to(pod: &Pod) -> Option<String> {
    let affinity = serde_json::to_value(pod.spec.as_ref()?.affinity.as_ref()?).ok()?;
    affinity
        .pointer("/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms/0/matchFields/0/values/0")?
        .as_str()
        .map(str::to_string)
}

#[tokio::test]
async fn a_daemon_set_runs_one_pod_per_eligible_node_and_rolls_out_changes() {
    let (server, _manager) = with_controllers().await;
    let client = server.client();
    let nodes: Api<Node> = Api::all(client.clone());
    node(&nodes, "plain", json!({"disk": "ssd"}), json!([])).await;
    node(
        &nodes,
        "cordoned",
        json!({"disk": "ssd"}),
        json!([{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}]),
    )
    .await;
    node(
        &nodes,
        "dedicated",
        json!({"disk": "ssd"}),
        json!([{"key": "dedicated", "value": "db", "effect": "NoSchedule"}]),
    )
    .await;
    node(&nodes, "spinning", json!({"disk": "hdd"}), json!([])).await;
    let sets: Api<DaemonSet> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let ds: DaemonSet = serde_json::from_value(json!({
        "metadata": {"name": "agent"},
        "spec": {
            "selector": {"matchLabels": {"app": "agent"}},
            "template": {
                "metadata": {"labels": {"app": "agent"}},
                "spec": {"nodeSelector": {"disk": "ssd"}, "containers": [{"name": "c", "image": "agent:1"}]},
            },
        },
    }))
    .expect("a DaemonSet");
    let uid = sets
        .create(&PostParams::default(), &ds)
        .await
        .expect("create")
        .uid()
        .expect("uid");
    // ssd nodes, tolerating the unschedulable taint but not the dedicated one.
    eventually("pods on plain and cordoned", || async {
        let mut on: Vec<String> = owned_pods(&pods, &uid)
            .await
            .iter()
            .filter_map(pinned_to)
            .collect();
        on.sort();
        on == ["cordoned", "plain"]
    })
    .await;
    eventually("the status", || async {
        sets.get("agent")
            .await
            .ok()
            .and_then(|d| d.status)
            .is_some_and(|s| s.desired_number_scheduled == 2 && s.current_number_scheduled == 2)
    })
    .await;
    let revisions: Api<ControllerRevision> = Api::namespaced(client.clone(), "default");
    // A new image replaces every pod, and the history has two revisions.
    sets.patch("agent", &PatchParams::default(), &Patch::Strategic(json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "agent:2"}]}}}})))
        .await
        .expect("update");
    eventually("the new image on both nodes", || async {
        let owned = owned_pods(&pods, &uid).await;
        owned.len() == 2
            && owned.iter().all(|p| {
                p.spec
                    .as_ref()
                    .and_then(|s| s.containers.first()?.image.clone())
                    .as_deref()
                    == Some("agent:2")
            })
    })
    .await;
    let history = revisions
        .list(&Default::default())
        .await
        .expect("list")
        .items;
    let mut numbers: Vec<i64> = history.iter().map(|r| r.revision).collect();
    numbers.sort();
    assert_eq!(numbers, [1, 2]);
}
