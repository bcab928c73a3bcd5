//! The node lifecycle and taint eviction controllers against an in-process server: a node
//! whose agent stops renewing its Lease becomes Unknown and tainted unreachable, and its
//! pods are evicted once they stop tolerating that.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod};
use keelson_tests::workloads::{eventually, with_controllers_configured};
use kube::api::PostParams;
use kube::Api;
use serde_json::json;

#[tokio::test]
async fn a_silent_node_is_tainted_and_its_pods_evicted() {
    let (server, _manager) = with_controllers_configured(|c| {
        c.node_monitor_grace_period = Some(Duration::from_secs(2));
    })
    .await;
    let client = server.client();
    let nodes: Api<Node> = Api::all(client.clone());
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let node: Node = serde_json::from_value(json!({
        "metadata": {"name": "silent"},
        "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]},
    }))
    .expect("a node");
    nodes
        .create(&PostParams::default(), &node)
        .await
        .expect("create");
    let pod = |name: &str, seconds: Option<i64>| -> Pod {
        let mut tolerations = vec![];
        if let Some(s) = seconds {
            tolerations.push(json!({"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": s}));
        }
        serde_json::from_value(json!({
            "metadata": {"name": name},
            "spec": {"nodeName": "silent", "tolerations": tolerations, "containers": [{"name": "c", "image": "nginx:1.27"}]},
        }))
        .expect("a pod")
    };
    pods.create(&PostParams::default(), &pod("quick", Some(1)))
        .await
        .expect("create");
    pods.create(&PostParams::default(), &pod("patient", Some(3600)))
        .await
        .expect("create");
    eventually("the node unknown and tainted", || async {
        nodes.get("silent").await.is_ok_and(|n| {
            let unknown = n
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|c| {
                    c.iter().any(|c| {
                        c.type_ == "Ready"
                            && c.status == "Unknown"
                            && c.reason.as_deref() == Some("NodeStatusUnknown")
                    })
                });
            let tainted = n
                .spec
                .as_ref()
                .and_then(|s| s.taints.as_ref())
                .is_some_and(|t| {
                    t.iter().any(|t| {
                        t.key == "node.kubernetes.io/unreachable" && t.effect == "NoExecute"
                    })
                });
            unknown && tainted
        })
    })
    .await;
    // The pod tolerating the taint for a second goes (gracefully, being on a node); the one
    // tolerating it for an hour stays.
    eventually("the quick pod evicted", || async {
        pods.get("quick")
            .await
            .is_ok_and(|p| p.metadata.deletion_timestamp.is_some())
    })
    .await;
    assert!(pods
        .get("patient")
        .await
        .expect("get")
        .metadata
        .deletion_timestamp
        .is_none());
}
