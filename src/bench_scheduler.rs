//! `keelson bench scheduler`: upstream's scheduler_perf `SchedulingBasic` against a
//! `keelson up` started by this command. 5,000 nodes are created as Node objects (4 CPU,
//! 32 GiB, 110 pods, as scheduler_perf's `node-default.yaml`), 1,000 pods are placed first,
//! then 10,000 pods (`pod-default.yaml`: one container requesting 100m CPU and 500 MiB) are
//! created by concurrent clients and measured: bindings per second from the first create
//! to the last binding, and the time from each create request to the binding a watch sees
//! (p50/p99). The goal is at least 1,000 pods/s.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::bail;
use clap::Args;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::PostParams;
use kube::runtime::watcher;
use kube::Api;

use crate::bench::percentile;
use crate::bench_api::{client, rss_mib, start_keelson_up};

#[derive(Args)]
pub struct SchedulerBenchArgs {
    /// Nodes to create.
    #[arg(long, default_value_t = 5_000)]
    nodes: usize,
    /// Pods placed before the measurement.
    #[arg(long, default_value_t = 1_000)]
    init_pods: usize,
    /// Pods measured.
    #[arg(long, default_value_t = 10_000)]
    pods: usize,
    /// Concurrent clients creating nodes and pods.
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// How long to wait for the pods to be bound, in seconds.
    #[arg(long, default_value_t = 600)]
    timeout: u64,
}

const NAMESPACE: &str = "default";

fn node(name: &str) -> anyhow::Result<Node> {
    let resources = serde_json::json!({"pods": "110", "cpu": "4", "memory": "32Gi"});
    Ok(serde_json::from_value(serde_json::json!({
        "metadata": {"name": name},
        "spec": {},
        "status": {
            "capacity": resources,
            "allocatable": resources,
            "conditions": [{"type": "Ready", "status": "True"}],
            "phase": "Running",
        },
    }))?)
}

fn pod(name: &str) -> anyhow::Result<Pod> {
    let resources = serde_json::json!({"cpu": "100m", "memory": "500Mi"});
    Ok(serde_json::from_value(serde_json::json!({
        "metadata": {"name": name},
        "spec": {"containers": [{
            "name": "pause",
            "image": "registry.k8s.io/pause:3.10",
            "ports": [{"containerPort": 80}],
            "resources": {"limits": resources, "requests": resources},
        }]},
    }))?)
}

/// Creates `count` objects named `{prefix}{i}` with `create` from `clients` concurrent
/// clients, noting when each create was sent in `sent`.
async fn create_all<F, Fut>(
    kubeconfig: &Path,
    clients: usize,
    count: usize,
    prefix: &str,
    sent: Option<Arc<Mutex<HashMap<String, Instant>>>>,
    create: F,
) -> anyhow::Result<Duration>
where
    F: Fn(kube::Client, String) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let started = Instant::now();
    let mut tasks = Vec::new();
    let clients = clients.max(1);
    for c in 0..clients {
        let client = client(kubeconfig).await?;
        let prefix = prefix.to_string();
        let sent = sent.clone();
        let create = create.clone();
        tasks.push(tokio::spawn(async move {
            for i in (c..count).step_by(clients) {
                let name = format!("{prefix}{i}");
                if let Some(sent) = &sent {
                    if let Ok(mut sent) = sent.lock() {
                        sent.insert(name.clone(), Instant::now());
                    }
                }
                create(client.clone(), name).await?;
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(started.elapsed())
}

async fn create_node(client: kube::Client, name: String) -> anyhow::Result<()> {
    Api::<Node>::all(client)
        .create(&PostParams::default(), &node(&name)?)
        .await?;
    Ok(())
}

async fn create_pod(client: kube::Client, name: String) -> anyhow::Result<()> {
    Api::<Pod>::namespaced(client, NAMESPACE)
        .create(&PostParams::default(), &pod(&name)?)
        .await?;
    Ok(())
}

/// When each pod was first seen bound, by name.
type Bound = Arc<Mutex<HashMap<String, Instant>>>;

fn bound_count(bound: &Bound, prefix: &str) -> usize {
    bound
        .lock()
        .map(|b| b.keys().filter(|k| k.starts_with(prefix)).count())
        .unwrap_or(0)
}

/// Waits until `wanted` pods named `prefix...` are bound (or the deadline passes).
async fn wait_bound(bound: &Bound, prefix: &str, wanted: usize, deadline: Instant) -> usize {
    loop {
        let n = bound_count(bound, prefix);
        if n >= wanted || Instant::now() >= deadline {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub async fn scheduler(args: SchedulerBenchArgs) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    // scheduler_perf runs the API server and the scheduler alone; the node lifecycle
    // controllers would mark these kubelet-less nodes unreachable and untolerable.
    let (server, kubeconfig) = start_keelson_up(
        dir.path(),
        &["--controllers=*,-node-lifecycle-controller,-taint-eviction-controller"],
    )?;
    let pid = server.0.id();
    println!(
        "keelson bench scheduler (SchedulingBasic): {} nodes, {} pods placed first, {} pods measured, {} clients",
        args.nodes, args.init_pods, args.pods, args.clients
    );

    let took = create_all(
        &kubeconfig,
        args.clients,
        args.nodes,
        "node-",
        None,
        create_node,
    )
    .await?;
    println!(
        "nodes    {} created in {:.1} s",
        args.nodes,
        took.as_secs_f64()
    );

    // A watch notes when each pod is first seen bound.
    let bound: Bound = Arc::new(Mutex::new(HashMap::new()));
    let watch_client = client(&kubeconfig).await?;
    let seen = bound.clone();
    let watching = tokio::spawn(async move {
        let api: Api<Pod> = Api::namespaced(watch_client, NAMESPACE);
        let mut events = watcher(api, watcher::Config::default()).boxed();
        while let Some(event) = events.next().await {
            let pods = match event {
                Ok(watcher::Event::Apply(pod) | watcher::Event::InitApply(pod)) => vec![pod],
                _ => continue,
            };
            let now = Instant::now();
            for pod in pods {
                let on_node = pod
                    .spec
                    .as_ref()
                    .and_then(|s| s.node_name.as_deref())
                    .is_some_and(|n| !n.is_empty());
                if let (true, Some(name), Ok(mut bound)) = (on_node, pod.metadata.name, seen.lock())
                {
                    bound.entry(name).or_insert(now);
                }
            }
        }
    });

    let deadline = Instant::now() + Duration::from_secs(args.timeout);
    let took = create_all(
        &kubeconfig,
        args.clients,
        args.init_pods,
        "init-",
        None,
        create_pod,
    )
    .await?;
    let placed = wait_bound(&bound, "init-", args.init_pods, deadline).await;
    println!(
        "init     {placed} of {} pods bound (created in {:.1} s)",
        args.init_pods,
        took.as_secs_f64()
    );
    if placed < args.init_pods {
        bail!("the first pods were not all bound");
    }

    let sent: Arc<Mutex<HashMap<String, Instant>>> = Arc::new(Mutex::new(HashMap::new()));
    let started = Instant::now();
    let took = create_all(
        &kubeconfig,
        args.clients,
        args.pods,
        "pod-",
        Some(sent.clone()),
        create_pod,
    )
    .await?;
    let done = wait_bound(&bound, "pod-", args.pods, deadline).await;
    watching.abort();
    let sent = sent.lock().map(|s| s.clone()).unwrap_or_default();
    let bound = bound.lock().map(|b| b.clone()).unwrap_or_default();
    let mut latencies = Vec::with_capacity(args.pods);
    let mut last = started;
    let mut first_bound: Option<Instant> = None;
    for (name, at) in bound.iter().filter(|(k, _)| k.starts_with("pod-")) {
        if let Some(created) = sent.get(name) {
            latencies.push(at.saturating_duration_since(*created));
        }
        last = last.max(*at);
        first_bound = Some(first_bound.map_or(*at, |f| f.min(*at)));
    }
    latencies.sort();
    let window = last
        .saturating_duration_since(started)
        .as_secs_f64()
        .max(1e-9);
    println!(
        "create   {} pods in {:.1} s ({:.0}/s)",
        args.pods,
        took.as_secs_f64(),
        args.pods as f64 / took.as_secs_f64().max(1e-9)
    );
    println!(
        "schedule {done} of {} pods bound in {:.1} s: {:.0} pods/s (first create to last binding); \
         creation to binding p50 {:.0} ms, p99 {:.0} ms",
        args.pods,
        window,
        done as f64 / window,
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
    );
    if let Some(first) = first_bound {
        let binding_window = last
            .saturating_duration_since(first)
            .as_secs_f64()
            .max(1e-9);
        println!(
            "         {:.0} pods/s from the first binding to the last (goal >= 1,000)",
            done as f64 / binding_window
        );
    }
    println!("server RSS: {:.0} MiB", rss_mib(pid));
    drop(server);
    if done < args.pods {
        bail!("{} pods were not bound in time", args.pods - done);
    }
    Ok(())
}
