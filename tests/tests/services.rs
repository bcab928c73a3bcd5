//! The Service-side controllers against an in-process server: a Service's selected pods
//! become its EndpointSlice and Endpoints (ready, not ready, terminating; named ports
//! resolved), and every namespace gets `kube-root-ca.crt`.

use k8s_openapi::api::core::v1::{ConfigMap, Endpoints, Namespace, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use keelson_tests::workloads::{eventually, with_controllers};
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::Api;
use serde_json::json;

async fn running_pod(pods: &Api<Pod>, name: &str, ip: &str, ready: bool) {
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "c", "image": "nginx:1.27", "ports": [{"name": "http", "containerPort": 8080}]}]},
    }))
    .expect("a pod");
    pods.create(&PostParams::default(), &pod)
        .await
        .expect("create");
    let status = json!({"status": {
        "phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
        "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}],
    }});
    pods.patch_status(name, &PatchParams::default(), &Patch::Merge(status))
        .await
        .expect("status");
}

#[tokio::test]
async fn a_services_pods_become_its_endpoint_slice_and_endpoints() {
    let (server, _manager) = with_controllers().await;
    let client = server.client();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let services: Api<Service> = Api::namespaced(client.clone(), "default");
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), "default");
    let endpoints: Api<Endpoints> = Api::namespaced(client.clone(), "default");
    running_pod(&pods, "a", "10.244.1.5", true).await;
    running_pod(&pods, "b", "10.244.1.6", false).await;
    let service: Service = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]},
    }))
    .expect("a service");
    services
        .create(&PostParams::default(), &service)
        .await
        .expect("create");
    eventually("a slice with both pods", || async {
        let list = slices
            .list(&ListParams::default().labels("kubernetes.io/service-name=web"))
            .await
            .map(|l| l.items)
            .unwrap_or_default();
        list.len() == 1 && list[0].endpoints.len() == 2
    })
    .await;
    let slice = slices
        .list(&ListParams::default().labels("kubernetes.io/service-name=web"))
        .await
        .expect("list")
        .items
        .remove(0);
    assert_eq!(slice.ports.as_ref().and_then(|p| p[0].port), Some(8080));
    let ready_of = |ip: &str| {
        slice
            .endpoints
            .iter()
            .find(|e| e.addresses == [ip.to_string()])
            .and_then(|e| e.conditions.as_ref()?.ready)
    };
    assert_eq!(ready_of("10.244.1.5"), Some(true));
    assert_eq!(ready_of("10.244.1.6"), Some(false));
    eventually("the legacy Endpoints", || async {
        endpoints
            .get("web")
            .await
            .ok()
            .and_then(|e| e.subsets)
            .is_some_and(|s| {
                s[0].addresses.as_ref().is_some_and(|a| a.len() == 1)
                    && s[0]
                        .not_ready_addresses
                        .as_ref()
                        .is_some_and(|a| a.len() == 1)
            })
    })
    .await;
}

#[tokio::test]
async fn every_namespace_gets_the_root_ca() {
    let (server, _manager) = with_controllers().await;
    let client = server.client();
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": "team"}})).expect("ns");
    namespaces
        .create(&PostParams::default(), &ns)
        .await
        .expect("create");
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), "team");
    eventually("kube-root-ca.crt", || async {
        maps.get("kube-root-ca.crt").await.is_ok_and(|cm| {
            cm.data.and_then(|d| d.get("ca.crt").cloned()).as_deref() == Some("test CA")
        })
    })
    .await;
    // Deleted, it comes back.
    maps.delete("kube-root-ca.crt", &Default::default())
        .await
        .expect("delete");
    eventually("kube-root-ca.crt again", || async {
        maps.get("kube-root-ca.crt").await.is_ok()
    })
    .await;
}
