//! `keelson bench store`: fsynced puts against a Keelson store member and a real etcd,
//! each a separate process on loopback started by this command, measured in the same run.
//! The two take turns round by round; prints throughput and p50/p99 latency per system and
//! client count as the median of the rounds, and the median of the per-round Keelson/etcd
//! ratios against the goals.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;
use keelson_storage::{pki, StoreClient};

#[derive(Args)]
pub struct StoreBenchArgs {
    /// Rounds per configuration; figures are medians over rounds (the machine is noisy).
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Distinct keys the puts cycle over.
    #[arg(long, default_value_t = 10_000)]
    keys: usize,
    /// Bytes per value.
    #[arg(long, default_value_t = 256)]
    value_size: usize,
    /// Concurrent client counts to measure.
    #[arg(long, value_delimiter = ',', default_value = "1,64")]
    clients: Vec<usize>,
    /// Puts per round with one client (a p99 over 1,000 samples is the 10th-worst one, too
    /// few to be steady on this noisy machine).
    #[arg(long, default_value_t = 4_000)]
    puts_single: usize,
    /// Puts per round with several clients.
    #[arg(long, default_value_t = 10_000)]
    puts_concurrent: usize,
    /// The etcd binary (Debian's `etcd-server` installs /usr/bin/etcd).
    #[arg(long, default_value = "etcd")]
    etcd: PathBuf,
}

/// A child process killed when dropped.
pub(crate) struct Process(pub(crate) Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

#[derive(Clone, Copy, Debug, Default)]
struct Figures {
    ops_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
}

pub(crate) fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

pub(crate) fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

/// Runs `puts` puts from `clients` concurrent tasks; `put(i)` performs put number i.
async fn drive<F, Fut>(clients: usize, puts: usize, put: F) -> anyhow::Result<Figures>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let put = Arc::new(put);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let put = put.clone();
        let next = next.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= puts {
                    return Ok::<_, anyhow::Error>(latencies);
                }
                let t = Instant::now();
                put(i).await?;
                latencies.push(t.elapsed());
            }
        }));
    }
    let mut latencies = Vec::with_capacity(puts);
    for task in tasks {
        latencies.extend(task.await??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    Ok(Figures {
        ops_per_sec: puts as f64 / elapsed,
        p50_ms: percentile(&latencies, 0.50),
        p99_ms: percentile(&latencies, 0.99),
    })
}

async fn wait_until<F, Fut>(what: &str, mut ready: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if ready().await {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("{what} did not become ready within 30 s")
}

async fn round_keelson(
    dir: &Path,
    clients: usize,
    puts: usize,
    args: &StoreBenchArgs,
) -> anyhow::Result<Figures> {
    pki::init_ca(&dir.join("ca"), "bench-ca")?;
    pki::issue(
        &dir.join("ca"),
        &dir.join("pki"),
        "bench-member",
        &pki::default_sans(),
    )?;
    let port = free_port()?;
    let exe = std::env::current_exe()?;
    let _member = Process(
        Command::new(exe)
            .args(["store", "serve", "--listen", &format!("127.0.0.1:{port}")])
            .arg("--data-dir")
            .arg(dir.join("data"))
            .arg("--pki-dir")
            .arg(dir.join("pki"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start a keelson store member")?,
    );
    let client = StoreClient::new(
        vec![format!("127.0.0.1:{port}")],
        &pki::TlsIdentity::load(&dir.join("pki"))?,
    )?;
    wait_until("the keelson member", || {
        let client = client.clone();
        async move { client.status().await.is_ok_and(|s| s.leader.is_some()) }
    })
    .await?;
    let value = vec![b'v'; args.value_size];
    let keys = args.keys;
    drive(clients, puts, move |i| {
        let client = client.clone();
        let value = value.clone();
        async move {
            client.put(format!("/bench/{:08}", i % keys), value).await?;
            Ok(())
        }
    })
    .await
}

async fn round_etcd(
    dir: &Path,
    clients: usize,
    puts: usize,
    args: &StoreBenchArgs,
) -> anyhow::Result<Figures> {
    let (client_port, peer_port) = (free_port()?, free_port()?);
    let client_url = format!("http://127.0.0.1:{client_port}");
    let peer_url = format!("http://127.0.0.1:{peer_port}");
    let _etcd = Process(
        Command::new(&args.etcd)
            .arg("--data-dir")
            .arg(dir.join("etcd"))
            .args([
                "--name",
                "bench",
                "--listen-client-urls",
                &client_url,
                "--advertise-client-urls",
                &client_url,
            ])
            .args([
                "--listen-peer-urls",
                &peer_url,
                "--initial-advertise-peer-urls",
                &peer_url,
            ])
            .args(["--initial-cluster", &format!("bench={peer_url}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| {
                format!(
                    "cannot start etcd ({}); install Debian's etcd-server or pass --etcd PATH",
                    args.etcd.display()
                )
            })?,
    );
    let connected: Arc<std::sync::Mutex<Option<etcd_client::Client>>> = Arc::default();
    wait_until("etcd", || {
        let url = client_url.clone();
        let slot = connected.clone();
        async move {
            let Ok(mut c) = etcd_client::Client::connect([url], None).await else {
                return false;
            };
            let ok = c.status().await.is_ok();
            if ok {
                *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(c);
            }
            ok
        }
    })
    .await?;
    let client = connected
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take()
        .context("etcd connection")?;
    let value = vec![b'v'; args.value_size];
    let keys = args.keys;
    drive(clients, puts, move |i| {
        let mut kv = client.kv_client();
        let value = value.clone();
        async move {
            kv.put(format!("/bench/{:08}", i % keys), value, None)
                .await?;
            Ok(())
        }
    })
    .await
}

pub async fn store(args: StoreBenchArgs) -> anyhow::Result<()> {
    if args.rounds == 0 || args.clients.is_empty() {
        bail!("--rounds and --clients must not be empty");
    }
    println!(
        "keelson bench store: fsynced puts of {}-byte values over {} keys; median of {} rounds (the systems alternate), each on a fresh data dir",
        args.value_size, args.keys, args.rounds
    );
    println!("(keelson: one member process, HTTP/2 + mutual TLS; etcd: one member process, gRPC without TLS)");
    println!(
        "{:>8} {:>8} {:>12} {:>10} {:>10}",
        "clients", "system", "puts/s", "p50 ms", "p99 ms"
    );
    let mut ratios = Vec::new();
    for &clients in &args.clients {
        let puts = if clients == 1 {
            args.puts_single
        } else {
            args.puts_concurrent
        };
        // The systems take turns round by round, so that a slow spell of this noisy
        // machine falls on both rather than on whichever ran then.
        let (mut keelson, mut etcd) = (Vec::new(), Vec::new());
        for _ in 0..args.rounds {
            let dir = tempfile::tempdir()?;
            keelson.push(round_keelson(dir.path(), clients, puts, &args).await?);
            let dir = tempfile::tempdir()?;
            etcd.push(round_etcd(dir.path(), clients, puts, &args).await?);
        }
        for (system, rounds) in [("keelson", &keelson), ("etcd", &etcd)] {
            let figures = Figures {
                ops_per_sec: median(rounds.iter().map(|f| f.ops_per_sec).collect()),
                p50_ms: median(rounds.iter().map(|f| f.p50_ms).collect()),
                p99_ms: median(rounds.iter().map(|f| f.p99_ms).collect()),
            };
            println!(
                "{:>8} {:>8} {:>12.0} {:>10.2} {:>10.2}",
                clients, system, figures.ops_per_sec, figures.p50_ms, figures.p99_ms
            );
        }
        let per_round = |f: fn(&Figures) -> f64| {
            median(
                keelson
                    .iter()
                    .zip(&etcd)
                    .map(|(k, e)| f(k) / f(e))
                    .collect(),
            )
        };
        ratios.push((
            clients,
            per_round(|f| f.ops_per_sec),
            per_round(|f| f.p50_ms),
            per_round(|f| f.p99_ms),
        ));
    }
    for (clients, throughput, p50, p99) in ratios {
        println!(
            "ratio keelson/etcd at {clients} client(s), median over rounds: throughput {throughput:.2}x, p50 {p50:.2}x, p99 {p99:.2}x"
        );
    }
    println!("goals: throughput >= 1.5x etcd's at 64 clients; p99 <= 1.0x etcd's at 1 client");
    Ok(())
}
