//! The node-ipam controller against an in-process server: nodes without a pod CIDR get
//! distinct `/24`s of `--cluster-cidr`; when none is left, the node gets upstream's
//! `CIDRNotAvailable` event and no CIDR.

use k8s_openapi::api::core::v1::Node;
use k8s_openapi::api::events::v1::Event;
use keelson_tests::workloads::{eventually, with_controllers_configured};
use kube::api::{ListParams, PostParams};
use kube::Api;
use serde_json::json;

fn pod_cidr(node: &Node) -> Option<String> {
    node.spec.as_ref()?.pod_cidr.clone()
}

#[tokio::test]
async fn nodes_get_distinct_pod_cidrs_until_the_cluster_cidr_is_full() {
    let (server, _manager) = with_controllers_configured(|c| {
        c.cluster_cidr = Some("10.9.0.0/23".parse().expect("a CIDR"));
    })
    .await;
    let nodes: Api<Node> = Api::all(server.client());
    // One node has a CIDR already (a kubelet's from an earlier run): it is kept and not
    // given again.
    let with_cidr: Node = serde_json::from_value(json!({
        "metadata": {"name": "n0"},
        "spec": {"podCIDR": "10.9.0.0/24", "podCIDRs": ["10.9.0.0/24"]},
    }))
    .expect("a node");
    nodes
        .create(&PostParams::default(), &with_cidr)
        .await
        .expect("create");
    for name in ["n1", "n2"] {
        let node: Node =
            serde_json::from_value(json!({"metadata": {"name": name}})).expect("a node");
        nodes
            .create(&PostParams::default(), &node)
            .await
            .expect("create");
    }
    eventually("one of n1 and n2 given 10.9.1.0/24", || async {
        let (Ok(n1), Ok(n2)) = (nodes.get("n1").await, nodes.get("n2").await) else {
            return false;
        };
        let given: Vec<Option<String>> = vec![pod_cidr(&n1), pod_cidr(&n2)];
        given.contains(&Some("10.9.1.0/24".to_string())) && given.contains(&None)
    })
    .await;
    let n1 = nodes.get("n1").await.expect("n1");
    let full = if pod_cidr(&n1).is_some() { "n2" } else { "n1" };
    let node = nodes.get(full).await.expect("the node");
    assert_eq!(
        node.spec.as_ref().and_then(|s| s.pod_cidrs.clone()),
        None,
        "{node:?}"
    );
    let events: Api<Event> = Api::all(server.client());
    eventually("the CIDRNotAvailable event", || async {
        events.list(&ListParams::default()).await.is_ok_and(|list| {
            list.items.iter().any(|e| {
                e.reason.as_deref() == Some("CIDRNotAvailable")
                    && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(full)
            })
        })
    })
    .await;
    assert_eq!(
        pod_cidr(&nodes.get("n0").await.expect("n0")).as_deref(),
        Some("10.9.0.0/24")
    );
}
