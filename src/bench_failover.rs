//! `keelson bench failover`: three store members on loopback, each its own process started by
//! this command, under a steady load of writes from clients that know every member (each
//! starting at a different one). Round after round the leader is SIGKILLed, and the command
//! measures the time from the kill to the first write issued after it that is acknowledged,
//! and to the moment a survivor names the new leader; then it restarts the killed member and
//! waits until it has caught up. Prints every round, then the median and the maximum against
//! the goal: a write acknowledged within 2 s of the leader's death.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;
use keelson_storage::{pki, StoreClient};

use crate::bench::{free_port, median, Process};

#[derive(Args)]
pub struct FailoverBenchArgs {
    /// Failovers to measure.
    #[arg(long, default_value_t = 15)]
    rounds: usize,
    /// Concurrent writers, each with its own client of all three members.
    #[arg(long, default_value_t = 6)]
    writers: usize,
    /// Pause between two writes of one writer, in milliseconds.
    #[arg(long, default_value_t = 5)]
    pause_ms: u64,
    /// Passed to every member as `store serve --heartbeat-interval-ms` (default: the
    /// member's own default).
    #[arg(long)]
    heartbeat_interval_ms: Option<u64>,
    /// Passed to every member as `store serve --election-timeout-min-ms` (default: the
    /// member's own default).
    #[arg(long)]
    election_timeout_min_ms: Option<u64>,
    /// Passed to every member as `store serve --election-timeout-max-ms` (default: the
    /// member's own default).
    #[arg(long)]
    election_timeout_max_ms: Option<u64>,
    /// Keep the members' data dirs and logs here (default: a temporary dir, removed after).
    #[arg(long)]
    dir: Option<PathBuf>,
}

/// The goal: the new leader acknowledges a write within this of the old one's death.
const GOAL: Duration = Duration::from_secs(2);
/// A round that has not seen a write acknowledged by then fails the benchmark.
const GIVE_UP: Duration = Duration::from_secs(30);

/// One `keelson store serve` process, restartable.
struct MemberProcess {
    address: String,
    args: Vec<String>,
    log: PathBuf,
    process: Option<Process>,
}

impl MemberProcess {
    fn start(&mut self) -> anyhow::Result<()> {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("cannot open {}", self.log.display()))?;
        let child = Command::new(std::env::current_exe()?)
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("cannot start a keelson store member")?;
        self.process = Some(Process(child));
        Ok(())
    }

    /// SIGKILL, and reaped: the process is gone when this returns.
    fn kill(&mut self) {
        drop(self.process.take());
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

/// Acknowledged writes: when each was issued and when its answer came.
#[derive(Default)]
struct Acknowledged(Mutex<Vec<(Instant, Instant)>>);

impl Acknowledged {
    fn push(&self, issued: Instant, answered: Instant) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((issued, answered));
    }

    /// The first answer to a write issued at or after `since`.
    fn first_answer_since(&self, since: Instant) -> Option<Instant> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|(issued, _)| *issued >= since)
            .map(|(_, answered)| *answered)
            .min()
    }
}

async fn writer(
    store: StoreClient,
    key: String,
    pause: Duration,
    stop: Arc<AtomicBool>,
    acknowledged: Arc<Acknowledged>,
    failed: Arc<AtomicU64>,
) {
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let issued = Instant::now();
        match store.put(key.clone(), n.to_string()).await {
            Ok(_) => acknowledged.push(issued, Instant::now()),
            Err(_) => {
                failed.fetch_add(1, Ordering::Relaxed);
            }
        }
        tokio::time::sleep(pause).await;
    }
}

/// Waits until every member names the same leader and has applied a write made through
/// it; returns that leader.
async fn settled(members: &[StoreClient], all: &StoreClient) -> anyhow::Result<u64> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if Instant::now() > deadline {
            bail!("the members did not agree on a leader and catch up within 60 s");
        }
        if let Ok(revision) = all.put("/bench/failover/settle", "1").await {
            let mut leaders = Vec::new();
            for member in members {
                match member.status().await {
                    Ok(status) if status.revision >= revision => leaders.push(status.leader),
                    _ => break,
                }
            }
            if leaders.len() == members.len() {
                if let Some(Some(leader)) = leaders.first().copied() {
                    if leaders.iter().all(|l| *l == Some(leader)) {
                        return Ok(leader);
                    }
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub async fn failover(args: FailoverBenchArgs) -> anyhow::Result<()> {
    if args.rounds == 0 || args.writers == 0 {
        bail!("--rounds and --writers must be at least 1");
    }
    let temp = tempfile::tempdir()?;
    let root = args
        .dir
        .clone()
        .unwrap_or_else(|| temp.path().to_path_buf());
    std::fs::create_dir_all(&root)?;
    let (members, endpoints, admin) = start_cluster(&root, &args)?;
    let mut members = members;
    let identity = pki::TlsIdentity::load(&admin)?;
    let one_each: Vec<StoreClient> = endpoints
        .iter()
        .map(|e| StoreClient::new(vec![e.clone()], &identity))
        .collect::<anyhow::Result<_>>()?;
    let all = StoreClient::new(endpoints.clone(), &identity)?;

    println!(
        "keelson bench failover: 3 store members on loopback (heartbeat {} ms, election timeout {}-{} ms), \
         {} writers with clients of all members; the leader is SIGKILLed {} times",
        args.heartbeat_interval_ms
            .unwrap_or(keelson_storage::DEFAULT_HEARTBEAT_INTERVAL.as_millis() as u64),
        args.election_timeout_min_ms
            .unwrap_or(keelson_storage::DEFAULT_ELECTION_TIMEOUT_MIN.as_millis() as u64),
        args.election_timeout_max_ms
            .unwrap_or(keelson_storage::DEFAULT_ELECTION_TIMEOUT_MAX.as_millis() as u64),
        args.writers,
        args.rounds
    );
    let outcome = async {
        settled(&one_each, &all).await?;
        let stop = Arc::new(AtomicBool::new(false));
        let acknowledged = Arc::new(Acknowledged::default());
        let failed = Arc::new(AtomicU64::new(0));
        let mut writers = Vec::new();
        for w in 0..args.writers {
            let mut rotated = endpoints.clone();
            rotated.rotate_left(w % endpoints.len());
            writers.push(tokio::spawn(writer(
                StoreClient::new(rotated, &identity)?,
                format!("/bench/failover/w{w}"),
                Duration::from_millis(args.pause_ms),
                stop.clone(),
                acknowledged.clone(),
                failed.clone(),
            )));
        }
        let mut rounds = Vec::new();
        for round in 1..=args.rounds {
            let leader = settled(&one_each, &all).await?;
            tokio::time::sleep(Duration::from_secs(1)).await;
            let index = (leader - 1) as usize;
            let failed_before = failed.load(Ordering::Relaxed);
            let killed = Instant::now();
            members[index].kill();
            let (mut named, mut answered) = (None, None);
            while named.is_none() || answered.is_none() {
                if killed.elapsed() > GIVE_UP {
                    bail!(
                        "round {round}: no write acknowledged within {GIVE_UP:?} of the leader's death\n{}",
                        members
                            .iter()
                            .map(|m| format!("--- {}\n{}", m.address, m.log_tail()))
                            .collect::<String>()
                    );
                }
                if named.is_none() {
                    for (i, member) in one_each.iter().enumerate() {
                        if i == index {
                            continue;
                        }
                        if let Ok(status) = member.status().await {
                            if status.leader.is_some_and(|l| l != leader) {
                                named = Some(killed.elapsed());
                                break;
                            }
                        }
                    }
                }
                if answered.is_none() {
                    answered = acknowledged
                        .first_answer_since(killed)
                        .map(|at| at.saturating_duration_since(killed));
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            let (named, answered) = (named.unwrap_or_default(), answered.unwrap_or_default());
            println!(
                "round {round:>2}: member {leader} killed; a survivor named the new leader after {:>5.0} ms; \
                 first write acknowledged after {:>5.0} ms ({} writes failed meanwhile)",
                millis(named),
                millis(answered),
                failed.load(Ordering::Relaxed) - failed_before
            );
            rounds.push((named, answered));
            members[index].start()?;
        }
        stop.store(true, Ordering::Relaxed);
        for w in writers {
            let _ = w.await;
        }
        Ok::<_, anyhow::Error>(rounds)
    }
    .await;
    for m in &mut members {
        m.kill();
    }
    let rounds = outcome?;
    let named: Vec<f64> = rounds.iter().map(|(n, _)| millis(*n)).collect();
    let answered: Vec<f64> = rounds.iter().map(|(_, a)| millis(*a)).collect();
    let max = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
    println!(
        "leader killed -> a survivor names the new leader: median {:.0} ms, max {:.0} ms",
        median(named.clone()),
        max(&named)
    );
    println!(
        "leader killed -> first write acknowledged: median {:.0} ms, max {:.0} ms over {} failovers",
        median(answered.clone()),
        max(&answered),
        rounds.len()
    );
    println!(
        "goal: a write acknowledged within {:.0} ms of the leader's death",
        millis(GOAL)
    );
    Ok(())
}

/// The cluster's certificates and three member processes, started.
fn start_cluster(
    root: &Path,
    args: &FailoverBenchArgs,
) -> anyhow::Result<(Vec<MemberProcess>, Vec<String>, PathBuf)> {
    let ca = root.join("ca");
    pki::init_ca(&ca, "bench-failover-ca")?;
    let admin = root.join("admin");
    pki::issue(&ca, &admin, "bench-admin", &pki::default_sans())?;
    let endpoints: Vec<String> = (0..3)
        .map(|_| free_port().map(|p| format!("127.0.0.1:{p}")))
        .collect::<anyhow::Result<_>>()?;
    let peers = endpoints
        .iter()
        .enumerate()
        .map(|(i, e)| format!("{}={e}", i + 1))
        .collect::<Vec<_>>()
        .join(",");
    let mut members = Vec::new();
    for (i, address) in endpoints.iter().enumerate() {
        let id = i + 1;
        let data = root.join(format!("m{id}"));
        pki::issue(
            &ca,
            &data.join("pki"),
            &format!("member-{id}"),
            &pki::default_sans(),
        )?;
        let mut member_args: Vec<String> = vec![
            "store".into(),
            "serve".into(),
            "--id".into(),
            id.to_string(),
            "--data-dir".into(),
            data.to_string_lossy().into_owned(),
            "--listen".into(),
            address.clone(),
            "--peers".into(),
            peers.clone(),
        ];
        if let Some(ms) = args.heartbeat_interval_ms {
            member_args.extend(["--heartbeat-interval-ms".into(), ms.to_string()]);
        }
        if let Some(ms) = args.election_timeout_min_ms {
            member_args.extend(["--election-timeout-min-ms".into(), ms.to_string()]);
        }
        if let Some(ms) = args.election_timeout_max_ms {
            member_args.extend(["--election-timeout-max-ms".into(), ms.to_string()]);
        }
        let mut member = MemberProcess {
            address: address.clone(),
            args: member_args,
            log: root.join(format!("m{id}.log")),
            process: None,
        };
        member.start()?;
        members.push(member);
    }
    Ok((members, endpoints, admin))
}
