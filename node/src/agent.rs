//! A process's simulated nodes, started and stopped together: each registered (retrying
//! until the API server answers), each with its fake runtime, Lease and status heartbeats;
//! one pod loop and one housekeeping task for all of them, over the process's shared
//! informers.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::runtime::events::{Recorder, Reporter};
use tokio_util::sync::CancellationToken;

use keelson_reconcilers::{run, Context};

use crate::config::SimulatedNodesConfig;
use crate::fake::FakeRuntime;
use crate::lease;
use crate::pods::{NodeHandle, PodLoop};
use crate::registration::{self, Facts, Registered};

/// How long to wait before trying a failed registration again.
const REGISTER_RETRY: Duration = Duration::from_secs(2);

/// Running simulated nodes.
pub struct SimulatedNodes {
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl SimulatedNodes {
    /// Starts `config.count` nodes over `client` in the background (none when the count is
    /// 0). Registration is retried until it succeeds or the nodes are shut down.
    pub fn start(client: kube::Client, config: SimulatedNodesConfig) -> SimulatedNodes {
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        let task = tokio::spawn(async move {
            if config.count > 0 {
                run_nodes(client, config, stop).await;
            }
        });
        SimulatedNodes { shutdown, task }
    }

    /// Stops the nodes' loops (the Nodes and their pods stay, as when a kubelet stops).
    pub async fn shutdown(self) {
        self.shutdown.cancel();
        let _ = self.task.await;
    }
}

/// Nodes registered at once (each waits for the node-ipam controller's pod CIDR).
const REGISTERING_AT_ONCE: usize = 128;

/// Registers every node, retrying each until it succeeds; `None` if shut down first.
async fn register_all(
    client: &kube::Client,
    config: &SimulatedNodesConfig,
    facts: &Facts,
    shutdown: &CancellationToken,
) -> Option<Vec<Registered>> {
    use futures::StreamExt;
    let register_one = |index: u32| async move {
        let name = config.node_name(index);
        loop {
            match registration::register(client, config, facts, &name).await {
                Ok(node) => return Some(node),
                Err(e) => tracing::warn!(node = %name, "cannot register the node yet: {e:#}"),
            }
            tokio::select! {
                _ = shutdown.cancelled() => return None,
                _ = tokio::time::sleep(REGISTER_RETRY) => {}
            }
        }
    };
    let registering = futures::stream::iter(1..=config.count)
        .map(register_one)
        .buffered(REGISTERING_AT_ONCE)
        .collect::<Vec<_>>();
    let registered = tokio::select! {
        _ = shutdown.cancelled() => return None,
        registered = registering => registered,
    };
    registered.into_iter().collect()
}

async fn run_nodes(
    client: kube::Client,
    config: SimulatedNodesConfig,
    shutdown: CancellationToken,
) {
    let facts = Facts {
        runtime_version: FakeRuntime::runtime_version(),
        boot_id: uuid::Uuid::new_v4().to_string(),
    };
    let Some(registered) = register_all(&client, &config, &facts, &shutdown).await else {
        return;
    };
    let ctx = Arc::new(Context::new(client.clone()));
    let node_store = ctx.informers.get::<Node>().store();
    let mut tasks = Vec::new();
    let mut handles = Vec::new();
    for node in &registered {
        tasks.push(tokio::spawn(lease::keep(
            client.clone(),
            node.name.clone(),
            config.lease_duration,
            shutdown.clone(),
        )));
        tasks.push(tokio::spawn(registration::keep_status(
            client.clone(),
            node.clone(),
            config.clone(),
            facts.clone(),
            node_store.clone(),
            shutdown.clone(),
        )));
        let recorder = Recorder::new(
            client.clone(),
            Reporter {
                controller: "kubelet".into(),
                instance: Some(node.name.clone()),
            },
        );
        handles.push(NodeHandle::new(
            node.name.clone(),
            node.address,
            FakeRuntime::new(node.pod_cidr),
            recorder,
        ));
    }
    let pods = PodLoop::new(handles, config.sync_frequency);
    let pod_store = ctx.informers.get::<Pod>().store();
    tasks.push(tokio::spawn(pods.housekeeping(pod_store, shutdown.clone())));
    run(pods, ctx, shutdown).await;
    for task in tasks {
        let _ = task.await;
    }
}
