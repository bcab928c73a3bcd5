//! Support for tests of the workload loops: an in-process server with the controller
//! manager running, polling until the cluster reaches a state, and the pods an owner owns.

use std::future::Future;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use keelson_reconcilers::manager::{Manager, ManagerConfig};
use kube::api::ListParams;
use kube::{Api, ResourceExt};

use crate::in_process::InProcess;

/// An in-process server running every default controller (no leader election).
pub async fn with_controllers() -> (InProcess, Manager) {
    with_controllers_configured(|_| {}).await
}

/// Like [`with_controllers`], with the manager's configuration changed by `configure`.
pub async fn with_controllers_configured(
    configure: impl FnOnce(&mut ManagerConfig),
) -> (InProcess, Manager) {
    let server = InProcess::start().await;
    let mut config = ManagerConfig {
        controllers: vec!["*".into()],
        leader_election: None,
        root_ca: Some("test CA".into()),
        node_monitor_grace_period: None,
        cluster_cidr: None,
    };
    configure(&mut config);
    let manager = Manager::start(server.client(), config).expect("the default controllers");
    (server, manager)
}

/// Polls `check` until it holds, for at most 30 s.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The pods (not being deleted) whose controller is the object with `uid`.
pub async fn owned_pods(pods: &Api<Pod>, uid: &str) -> Vec<Pod> {
    pods.list(&ListParams::default())
        .await
        .map(|l| l.items)
        .unwrap_or_default()
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter(|p| {
            p.owner_references()
                .iter()
                .any(|r| r.uid == uid && r.controller == Some(true))
        })
        .collect()
}

/// Stands in for the nodes until a test runs them: every pod of `namespace` that is not
/// Ready yet becomes Running and Ready. Runs until the returned task is dropped or aborted.
pub fn mark_pods_ready(client: kube::Client, namespace: &str) -> tokio::task::JoinHandle<()> {
    let pods: Api<Pod> = Api::namespaced(client, namespace);
    tokio::spawn(async move {
        loop {
            for pod in pods
                .list(&ListParams::default())
                .await
                .map(|l| l.items)
                .unwrap_or_default()
            {
                let ready = pod
                    .status
                    .as_ref()
                    .and_then(|s| s.conditions.as_ref())
                    .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
                if ready || pod.metadata.deletion_timestamp.is_some() {
                    continue;
                }
                let now = jiff::Timestamp::now()
                    .strftime("%Y-%m-%dT%H:%M:%SZ")
                    .to_string();
                let status = serde_json::json!({"status": {
                    "phase": "Running",
                    "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": now}],
                }});
                let _ = pods
                    .patch_status(
                        &pod.name_any(),
                        &kube::api::PatchParams::default(),
                        &kube::api::Patch::Merge(status),
                    )
                    .await;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
}

/// Stands in for the nodes of a Job's pods: each pending pod of `namespace` gets the phase
/// `finish` gives it (`Succeeded`, `Failed`, or `None` to leave it). Runs until aborted.
pub fn finish_pods(
    client: kube::Client,
    namespace: &str,
    finish: impl Fn(&Pod) -> Option<&'static str> + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    let pods: Api<Pod> = Api::namespaced(client, namespace);
    tokio::spawn(async move {
        loop {
            for pod in pods
                .list(&ListParams::default())
                .await
                .map(|l| l.items)
                .unwrap_or_default()
            {
                let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
                if matches!(phase, Some("Succeeded" | "Failed")) {
                    continue;
                }
                let Some(to) = finish(&pod) else { continue };
                let status = serde_json::json!({"status": {"phase": to}});
                let _ = pods
                    .patch_status(
                        &pod.name_any(),
                        &kube::api::PatchParams::default(),
                        &kube::api::Patch::Merge(status),
                    )
                    .await;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
}

/// Creates an object of type `K` from JSON through `api`, failing the test if refused.
pub async fn create_from_json<K>(api: &Api<K>, value: serde_json::Value)
where
    K: kube::Resource
        + Clone
        + std::fmt::Debug
        + for<'de> k8s_openapi::serde::Deserialize<'de>
        + k8s_openapi::serde::Serialize,
{
    let object: K = serde_json::from_value(value).expect("an object");
    api.create(&kube::api::PostParams::default(), &object)
        .await
        .expect("create");
}
