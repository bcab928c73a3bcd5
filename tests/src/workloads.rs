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
    let server = InProcess::start().await;
    let manager = Manager::start(
        server.client(),
        ManagerConfig {
            controllers: vec!["*".into()],
            leader_election: None,
        },
    )
    .expect("the default controllers");
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
