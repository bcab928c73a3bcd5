//! `keelson bench workloads`: Deployments totalling 10,000 replicas on 5,000 simulated
//! nodes, by default 1,000 Deployments of 10 created at 150 replicas per second. This
//! command starts `keelson up` (API server, store, controllers, scheduler) and,
//! beside it, `keelson node --simulated-nodes 5000` as the nodes' agent, waits for every
//! node to be Ready, creates the Deployments, and measures through one watch of pods:
//! the time until every replica is Running, each pod's startup latency (from the watch
//! first showing the pod to it showing the pod Running, upstream's pod startup SLI on
//! nodes without image pulls) at p50 and p99, and the resident memory of both processes.
//! Goals: startup p99 under 1 s (upstream's SLO is 5 s), the server under 1 GB.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use clap::Args;
use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{ListParams, PostParams};
use kube::runtime::watcher;
use kube::Api;

use crate::bench::{percentile, Process};
use crate::bench_api::{client, rss_mib, start_keelson_up};

#[derive(Args)]
pub struct WorkloadsBenchArgs {
    /// Simulated nodes.
    #[arg(long, default_value_t = 5_000)]
    nodes: u32,
    /// Replicas over all Deployments.
    #[arg(long, default_value_t = 10_000)]
    replicas: u32,
    /// Deployments sharing the replicas (many small ones, as upstream's load tests make:
    /// a Deployment of 1,000 replicas arrives as one burst of pods).
    #[arg(long, default_value_t = 1_000)]
    deployments: u32,
    /// Pace the Deployments' creation to this many replicas per second (0: create them all
    /// at once). Upstream's load tests create pods at a set throughput; a burst measures
    /// mostly the queue.
    #[arg(long, default_value_t = 150)]
    pods_per_second: u32,
    /// How long to wait for the nodes, then for the pods, in seconds.
    #[arg(long, default_value_t = 900)]
    timeout: u64,
}

const NAMESPACE: &str = "default";

fn deployment(name: &str, replicas: u32) -> anyhow::Result<Deployment> {
    Ok(serde_json::from_value(serde_json::json!({
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{
                    "name": "web",
                    "image": "nginx:1.27",
                    "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
                }]},
            },
        },
    }))?)
}

/// Starts `keelson node --simulated-nodes N` against the cluster of `kubeconfig`.
fn start_nodes(kubeconfig: &std::path::Path, nodes: u32) -> anyhow::Result<Process> {
    let exe = std::env::current_exe().context("the keelson binary")?;
    let child = Command::new(exe)
        .arg("node")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(["--simulated-nodes", &nodes.to_string()])
        .args(["--node-name-prefix", "bench-node"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("starting keelson node")?;
    let mut process = Process(child);
    let stdout = process.0.stdout.take().context("stdout")?;
    // Its first line says it started; the rest is drained so it never blocks on the pipe.
    let mut lines = BufReader::new(stdout).lines();
    if lines.next().is_none() {
        bail!("keelson node did not start");
    }
    std::thread::spawn(move || lines.for_each(drop));
    Ok(process)
}

fn is_ready(node: &Node) -> bool {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// When the watch first showed each pod, and when it first showed it Running.
#[derive(Default)]
struct Seen {
    added: HashMap<String, Instant>,
    bound: HashMap<String, Instant>,
    running: HashMap<String, Instant>,
}

/// The p50 and p99 of the time from `from` to `to` over the pods in both.
fn stage(from: &HashMap<String, Instant>, to: &HashMap<String, Instant>) -> (f64, f64) {
    let mut latencies: Vec<Duration> = to
        .iter()
        .filter_map(|(name, at)| Some(at.saturating_duration_since(*from.get(name)?)))
        .collect();
    latencies.sort();
    (percentile(&latencies, 0.50), percentile(&latencies, 0.99))
}

pub async fn workloads(args: WorkloadsBenchArgs) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    // A /24 per node: 5,000 nodes need more than the default /16.
    let (server, kubeconfig) = start_keelson_up(dir.path(), &["--cluster-cidr", "10.0.0.0/8"])?;
    let pacing = match args.pods_per_second {
        0 => "created at once".to_string(),
        rate => format!("created at {rate} replicas/s"),
    };
    println!(
        "keelson bench workloads: {} Deployments, {} replicas ({pacing}), {} simulated nodes",
        args.deployments, args.replicas, args.nodes
    );
    let started = Instant::now();
    let agent = start_nodes(&kubeconfig, args.nodes)?;
    let client = client(&kubeconfig).await?;
    let nodes: Api<Node> = Api::all(client.clone());
    let deadline = Instant::now() + Duration::from_secs(args.timeout);
    loop {
        let list = nodes.list(&ListParams::default()).await?;
        let ready = list.items.iter().filter(|n| is_ready(n)).count();
        if ready >= args.nodes as usize {
            break;
        }
        if Instant::now() >= deadline {
            bail!("only {ready} of {} nodes became Ready", args.nodes);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    println!(
        "nodes    {} Ready in {:.1} s (server RSS {:.0} MiB, node agent RSS {:.0} MiB)",
        args.nodes,
        started.elapsed().as_secs_f64(),
        rss_mib(server.0.id()),
        rss_mib(agent.0.id()),
    );

    let seen = Arc::new(Mutex::new(Seen::default()));
    let recorder = seen.clone();
    let pods: Api<Pod> = Api::namespaced(client.clone(), NAMESPACE);
    let watching = tokio::spawn(async move {
        let mut events = watcher(pods, watcher::Config::default()).boxed();
        while let Some(event) = events.next().await {
            let Ok(watcher::Event::Apply(pod) | watcher::Event::InitApply(pod)) = event else {
                continue;
            };
            let now = Instant::now();
            let running = pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
            let bound = pod
                .spec
                .as_ref()
                .and_then(|s| s.node_name.as_ref())
                .is_some();
            if let (Some(name), Ok(mut seen)) = (pod.metadata.name, recorder.lock()) {
                seen.added.entry(name.clone()).or_insert(now);
                if bound {
                    seen.bound.entry(name.clone()).or_insert(now);
                }
                if running {
                    seen.running.entry(name).or_insert(now);
                }
            }
        }
    });

    let deployments: Api<Deployment> = Api::namespaced(client.clone(), NAMESPACE);
    let count = args.deployments.max(1);
    let created = Instant::now();
    for i in 0..count {
        let share = args.replicas / count + u32::from(i < args.replicas % count);
        if args.pods_per_second > 0 && i > 0 {
            let pace = Duration::from_secs_f64(f64::from(share) / f64::from(args.pods_per_second));
            tokio::time::sleep_until(
                tokio::time::Instant::from_std(created) + pace.saturating_mul(i),
            )
            .await;
        }
        deployments
            .create(
                &PostParams::default(),
                &deployment(&format!("web-{i}"), share)?,
            )
            .await?;
    }
    let wanted = args.replicas as usize;
    let running = loop {
        let running = seen.lock().map(|s| s.running.len()).unwrap_or(0);
        if running >= wanted || Instant::now() >= deadline {
            break running;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let all_running = created.elapsed();
    watching.abort();
    let (server_rss, agent_rss) = (rss_mib(server.0.id()), rss_mib(agent.0.id()));
    let ((bind50, bind99), (run50, run99)) = seen
        .lock()
        .map(|s| (stage(&s.added, &s.bound), stage(&s.bound, &s.running)))
        .unwrap_or_default();
    let mut latencies: Vec<Duration> = seen
        .lock()
        .map(|s| {
            s.running
                .iter()
                .filter_map(|(name, at)| Some(at.saturating_duration_since(*s.added.get(name)?)))
                .collect()
        })
        .unwrap_or_default();
    latencies.sort();
    println!(
        "pods     {running} of {wanted} Running {:.1} s after the Deployments were created",
        all_running.as_secs_f64()
    );
    println!(
        "startup  p50 {:.0} ms  p99 {:.0} ms  max {:.0} ms   (goal: p99 < 1000 ms)",
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        percentile(&latencies, 1.0),
    );
    println!(
        "stages   creation to binding p50 {bind50:.0} ms p99 {bind99:.0} ms; binding to Running p50 {run50:.0} ms p99 {run99:.0} ms"
    );
    println!(
        "memory   server RSS {server_rss:.0} MiB (goal < 1024), node agent RSS {agent_rss:.0} MiB"
    );
    if running < wanted {
        bail!("only {running} of {wanted} pods became Running");
    }
    Ok(())
}
