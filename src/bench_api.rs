//! `keelson bench api`: 64 concurrent kube-rs clients create pods over HTTPS against a
//! `keelson up` started by this command, then list them all, then 1,000 watchers follow
//! 1,000 updates. Then the same creates and lists of a custom resource whose CRD has a
//! schema and CEL rules (`CronTab`), printed beside the built-in rows. Prints throughput,
//! p50/p99 per verb, the server's RSS and lost watch events, against the goals in the
//! README (create p99 < 50 ms, list < 200 ms, no loss).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{
    ApiResource, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams, PostParams,
    WatchEvent, WatchParams,
};
use kube::{Api, Client};

use crate::bench::{median, percentile, Process};

#[derive(Args)]
pub struct ApiBenchArgs {
    /// Pods to create.
    #[arg(long, default_value_t = 10_000)]
    pods: usize,
    /// Concurrent clients creating them (each its own kube::Client and connections).
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// Full lists of all pods to time (the median is reported).
    #[arg(long, default_value_t = 5)]
    lists: usize,
    /// Watchers following the updates.
    #[arg(long, default_value_t = 1_000)]
    watchers: usize,
    /// Updates the watchers must all see.
    #[arg(long, default_value_t = 1_000)]
    updates: usize,
}

const NAMESPACE: &str = "default";

pub(crate) fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn pod(name: &str) -> Pod {
    serde_json::from_value(serde_json::json!({
        "metadata": { "name": name, "labels": { "app": "bench" } },
        "spec": { "containers": [{ "name": "app", "image": "registry.example/app:1" }] },
    }))
    .unwrap_or_default()
}

pub(crate) async fn client(kubeconfig: &Path) -> anyhow::Result<Client> {
    let kubeconfig = kube::config::Kubeconfig::read_from(kubeconfig)?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?;
    Ok(Client::try_from(config)?)
}

fn report(verb: &str, mut latencies: Vec<Duration>, elapsed: Duration) {
    latencies.sort();
    println!(
        "{verb:<8} {:>7} requests  {:>9.0}/s  p50 {:>7.2} ms  p99 {:>7.2} ms",
        latencies.len(),
        latencies.len() as f64 / elapsed.as_secs_f64().max(1e-9),
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
    );
}

/// Starts `keelson up` (this binary) on free ports with its data in `dir`; returns the
/// process (killed when dropped) and the admin kubeconfig once it is serving. `extra` are
/// further `keelson up` flags.
pub(crate) fn start_keelson_up(dir: &Path, extra: &[&str]) -> anyhow::Result<(Process, PathBuf)> {
    let exe = std::env::current_exe().context("the keelson binary")?;
    let mut child = Command::new(exe)
        .args(["up", "--data-dir"])
        .arg(dir.join("data"))
        .args([
            "--bind-address",
            "127.0.0.1",
            "--secure-port",
            "0",
            "--store-listen",
            "127.0.0.1:0",
        ])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("starting keelson up")?;
    let stdout = child.stdout.take().context("stdout")?;
    let server = Process(child);
    let mut lines = BufReader::new(stdout).lines();
    while let Some(line) = lines.next() {
        let line = line?;
        if let Some(path) = line.strip_prefix("admin kubeconfig: ") {
            // The rest is drained: a closed pipe would fail the server's later output.
            std::thread::spawn(move || lines.for_each(drop));
            return Ok((server, PathBuf::from(path.trim())));
        }
    }
    bail!("keelson up did not start")
}

pub async fn api(args: ApiBenchArgs) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (server, kubeconfig) = start_keelson_up(dir.path(), &[])?;
    let pid = server.0.id();
    println!(
        "keelson bench api: {} pods by {} clients, {} lists, {} watchers x {} updates (RSS idle {:.0} MiB)",
        args.pods,
        args.clients,
        args.lists,
        args.watchers,
        args.updates,
        rss_mib(pid)
    );

    // Create.
    let started = Instant::now();
    let creates = create_all(&kubeconfig, args.clients, args.pods, |client, name| {
        async move {
            let api: Api<Pod> = Api::namespaced(client, NAMESPACE);
            api.create(&PostParams::default(), &pod(&name))
                .await
                .map(drop)
        }
        .boxed()
    })
    .await?;
    report("create", creates, started.elapsed());
    println!("RSS after create: {:.0} MiB", rss_mib(pid));

    // List.
    let lister: Api<Pod> = Api::namespaced(client(&kubeconfig).await?, NAMESPACE);
    let mut list_ms = Vec::new();
    let mut listed = 0;
    for _ in 0..args.lists {
        let t = Instant::now();
        let list = lister.list(&ListParams::default()).await?;
        list_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        listed = list.items.len();
    }
    println!(
        "list     {listed} pods: median {:.0} ms over {} lists",
        median(list_ms.clone()),
        list_ms.len()
    );

    // Watch: every watcher starts at the same revision and must see every update.
    let rv = lister
        .list_metadata(&ListParams::default().limit(1))
        .await?
        .metadata
        .resource_version
        .unwrap_or_default();
    let watch_client = client(&kubeconfig).await?;
    let expected = args.updates.min(args.pods);
    let mut watchers = Vec::new();
    for _ in 0..args.watchers {
        let api: Api<Pod> = Api::namespaced(watch_client.clone(), NAMESPACE);
        let rv = rv.clone();
        watchers.push(tokio::spawn(async move {
            let mut stream = api
                .watch(&WatchParams::default().timeout(290), &rv)
                .await?
                .boxed();
            let mut seen = 0;
            while seen < expected {
                match tokio::time::timeout(Duration::from_secs(60), stream.try_next()).await {
                    Ok(Ok(Some(WatchEvent::Modified(_)))) => seen += 1,
                    Ok(Ok(Some(_))) => {}
                    _ => break,
                }
            }
            anyhow::Ok(seen)
        }));
    }
    let updater: Api<Pod> = Api::namespaced(client(&kubeconfig).await?, NAMESPACE);
    let started = Instant::now();
    let mut updates = Vec::new();
    for i in 0..expected {
        let name = format!("bench-{}-{}", i % args.clients, i / args.clients);
        let t = Instant::now();
        updater
            .patch(
                &name,
                &PatchParams::default(),
                &Patch::Merge(
                    serde_json::json!({ "metadata": { "labels": { "round": i.to_string() } } }),
                ),
            )
            .await?;
        updates.push(t.elapsed());
    }
    report("update", updates, started.elapsed());
    let mut received = 0usize;
    for w in watchers {
        received += w.await?.unwrap_or(0);
    }
    let delivered = started.elapsed();
    let wanted = expected * args.watchers;
    println!(
        "watch    {} watchers: {received} of {wanted} events delivered in {:.1} s ({:.0} events/s), lost {}",
        args.watchers,
        delivered.as_secs_f64(),
        received as f64 / delivered.as_secs_f64().max(1e-9),
        wanted.saturating_sub(received)
    );
    println!("RSS after watch: {:.0} MiB", rss_mib(pid));
    custom_resource_rows(&kubeconfig, &args).await?;
    println!("RSS after custom resources: {:.0} MiB", rss_mib(pid));
    drop(server);
    Ok(())
}

/// Creates `total` objects by `clients` concurrent clients (each its own connections),
/// named `bench-<client>-<i>`; returns each create's latency.
async fn create_all(
    kubeconfig: &Path,
    clients: usize,
    total: usize,
    create: fn(Client, String) -> BoxFuture<'static, kube::Result<()>>,
) -> anyhow::Result<Vec<Duration>> {
    let mut tasks = Vec::new();
    for c in 0..clients {
        let client = client(kubeconfig).await?;
        let count = total / clients + usize::from(c < total % clients);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(count);
            for i in 0..count {
                let t = Instant::now();
                create(client.clone(), format!("bench-{c}-{i}")).await?;
                latencies.push(t.elapsed());
            }
            anyhow::Ok(latencies)
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await??);
    }
    Ok(latencies)
}

/// The CRD of the custom-resource rows: a structural schema with bounds and a pattern, a
/// CEL rule across fields and a CEL transition rule.
fn crontab_crd() -> anyhow::Result<CustomResourceDefinition> {
    Ok(serde_json::from_value(serde_json::json!({
        "metadata": {"name": "crontabs.bench.keelson.dev"},
        "spec": {
            "group": "bench.keelson.dev",
            "scope": "Namespaced",
            "names": {"plural": "crontabs", "kind": "CronTab"},
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "properties": {"spec": {
                        "type": "object",
                        "required": ["cronSpec", "replicas"],
                        "x-kubernetes-validations": [
                            {"rule": "self.minReplicas <= self.replicas", "message": "replicas must not be below minReplicas"},
                            {"rule": "self.image == oldSelf.image", "message": "image is immutable"}
                        ],
                        "properties": {
                            "cronSpec": {"type": "string", "pattern": "^(\\d+|\\*)(/\\d+)?(\\s+(\\d+|\\*)(/\\d+)?){4}$"},
                            "image": {"type": "string", "maxLength": 253},
                            "replicas": {"type": "integer", "minimum": 1, "maximum": 10},
                            "minReplicas": {"type": "integer", "minimum": 0, "default": 1}
                        }
                    }}
                }}
            }]
        }
    }))?)
}

fn crontab_resource() -> ApiResource {
    let gvk = GroupVersionKind::gvk("bench.keelson.dev", "v1", "CronTab");
    ApiResource::from_gvk_with_plural(&gvk, "crontabs")
}

/// The create and list rows of a custom resource with a schema and CEL rules.
async fn custom_resource_rows(kubeconfig: &Path, args: &ApiBenchArgs) -> anyhow::Result<()> {
    let admin = client(kubeconfig).await?;
    let crds: Api<CustomResourceDefinition> = Api::all(admin.clone());
    crds.create(&PostParams::default(), &crontab_crd()?).await?;
    let established = Instant::now();
    loop {
        let crd = crds.get("crontabs.bench.keelson.dev").await?;
        let conditions = crd.status.and_then(|s| s.conditions).unwrap_or_default();
        if conditions
            .iter()
            .any(|c| c.type_ == "Established" && c.status == "True")
        {
            break;
        }
        if established.elapsed() > Duration::from_secs(30) {
            bail!("the CronTab CRD was not Established within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let started = Instant::now();
    let creates = create_all(kubeconfig, args.clients, args.pods, |client, name| {
        async move {
            let api: Api<DynamicObject> =
                Api::namespaced_with(client, NAMESPACE, &crontab_resource());
            let mut obj = DynamicObject::new(&name, &crontab_resource());
            obj.data = serde_json::json!({"spec": {
                "cronSpec": "*/5 * * * *", "image": "registry.example/cron:1", "replicas": 3
            }});
            api.create(&PostParams::default(), &obj).await.map(drop)
        }
        .boxed()
    })
    .await?;
    report("create-cr", creates, started.elapsed());
    let lister: Api<DynamicObject> = Api::namespaced_with(admin, NAMESPACE, &crontab_resource());
    let mut list_ms = Vec::new();
    let mut listed = 0;
    for _ in 0..args.lists {
        let t = Instant::now();
        let list = lister.list(&ListParams::default()).await?;
        list_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        listed = list.items.len();
    }
    println!(
        "list-cr  {listed} crontabs: median {:.0} ms over {} lists",
        median(list_ms.clone()),
        list_ms.len()
    );
    Ok(())
}
