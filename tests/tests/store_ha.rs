//! Three store member processes on loopback: the leader is SIGKILLed during a concurrent
//! workload whose history must be linearizable; a new leader takes writes; the old leader
//! rejoins and catches up, through a snapshot when it missed more than the retained log.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use keelson_storage::{Op, RangeRequest, StoreClient, StoreError, TxnRequest};
use keelson_tests::linearizability::{check, Kind, Operation};
use keelson_tests::*;

const KEYS: u64 = 5;

struct Cluster {
    members: Vec<MemberProcess>,
    endpoints: Vec<String>,
    admin: std::path::PathBuf,
    _root: tempfile::TempDir,
}

impl Cluster {
    fn start() -> Cluster {
        let root = tempfile::tempdir().unwrap();
        let admin = make_cluster_pki(root.path(), &[1, 2, 3]);
        let endpoints: Vec<String> = (0..3)
            .map(|_| format!("127.0.0.1:{}", free_port()))
            .collect();
        let peers = endpoints
            .iter()
            .enumerate()
            .map(|(i, a)| format!("{}={a}", i + 1))
            .collect::<Vec<_>>()
            .join(",");
        let mut members: Vec<MemberProcess> = (0..3)
            .map(|i| {
                let id = i as u64 + 1;
                MemberProcess::new(
                    id,
                    root.path().join(format!("m{id}")),
                    endpoints[i].clone(),
                    &peers,
                    &["--snapshot-threshold", "200", "--logs-to-keep", "20"],
                )
            })
            .collect();
        for m in &mut members {
            m.start();
        }
        Cluster {
            members,
            endpoints,
            admin,
            _root: root,
        }
    }

    fn client_of(&self, id: u64) -> StoreClient {
        client(&[self.endpoints[id as usize - 1].clone()], &self.admin)
    }

    fn client_of_all(&self) -> StoreClient {
        client(&self.endpoints, &self.admin)
    }

    fn member(&mut self, id: u64) -> &mut MemberProcess {
        &mut self.members[id as usize - 1]
    }

    fn logs(&self) -> String {
        self.members
            .iter()
            .map(|m| format!("--- member {}\n{}", m.id, m.log_text()))
            .collect()
    }
}

/// Waits until member `id` has applied at least `revision` (its own, local view); on
/// failure shows every member's log.
async fn wait_caught_up(
    cluster: &Cluster,
    id: u64,
    revision: u64,
    within: Duration,
) -> keelson_storage::MemberStatus {
    let client = cluster.client_of(id);
    let deadline = Instant::now() + within;
    loop {
        let last = match client.status().await {
            Ok(status) if status.revision >= revision => return status,
            Ok(status) => format!("{status:?}"),
            Err(e) => e.to_string(),
        };
        assert!(
            Instant::now() < deadline,
            "member {id} did not reach revision {revision} within {within:?}; last status: {last}\n{}",
            cluster.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One worker: random reads and unique writes against one member, recorded, until `stop`.
async fn worker(
    id: u64,
    store: StoreClient,
    origin: Instant,
    stop: Arc<AtomicBool>,
    history: Arc<Mutex<Vec<Operation>>>,
) {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64 ^ (id * 0x1000_0001);
    let mut rand = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let key = format!("/lin/{}", rand() % KEYS);
        let invoked = origin.elapsed().as_nanos() as u64;
        let (kind, outcome) = if rand() % 2 == 0 {
            n += 1;
            let value = id * 1_000_000 + n;
            let result = store
                .txn(TxnRequest {
                    success: vec![Op::put(key.clone(), value.to_string())],
                    ..Default::default()
                })
                .await;
            (Kind::Write(value), result.map(|_| ()))
        } else {
            match store.get(key.clone()).await {
                Ok(kv) => {
                    let seen =
                        kv.map(|kv| String::from_utf8(kv.value).unwrap().parse::<u64>().unwrap());
                    (Kind::Read(seen), Ok(()))
                }
                Err(e) => (Kind::Read(None), Err(e)),
            }
        };
        let completed = origin.elapsed().as_nanos() as u64;
        match outcome {
            Ok(()) => history.lock().unwrap().push(Operation {
                key,
                kind,
                invoked,
                completed: Some(completed),
            }),
            // Never reached a member: it had no effect, so it is not part of the history.
            Err(StoreError::Unreachable(_)) => tokio::time::sleep(Duration::from_millis(100)).await,
            // Outcome unknown: a write may or may not have happened.
            Err(_) => history.lock().unwrap().push(Operation {
                key,
                kind,
                invoked,
                completed: None,
            }),
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Writes issued at or after `since` (ns from the origin) that completed, and when the first
/// of them did.
fn writes_since(history: &Mutex<Vec<Operation>>, since: u64) -> (usize, Option<u64>) {
    let history = history.lock().unwrap();
    let completed: Vec<u64> = history
        .iter()
        .filter(|op| op.invoked >= since && matches!(op.kind, Kind::Write(_)))
        .filter_map(|op| op.completed)
        .collect();
    (completed.len(), completed.iter().min().copied())
}

/// Writes that must complete after the leader's death before the workload stops.
const WRITES_AFTER_THE_KILL: usize = 20;
/// How long they may take: far beyond a failover's few seconds, so that only a failover that
/// never ends fails the test (how fast it is, `keelson bench failover` measures).
const FAILOVER_PATIENCE: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn survives_the_loss_of_the_leader_and_stays_linearizable() {
    let mut cluster = Cluster::start();
    let all = cluster.client_of_all();
    let old_leader = wait_for_leader(&all, Duration::from_secs(30)).await;

    // A concurrent workload of reads and writes through every member, across a failover.
    let origin = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let history: Arc<Mutex<Vec<Operation>>> = Arc::default();
    let workers: Vec<_> = (0..6)
        .map(|w| {
            tokio::spawn(worker(
                w,
                cluster.client_of(w % 3 + 1),
                origin,
                stop.clone(),
                history.clone(),
            ))
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let killed = origin.elapsed().as_nanos() as u64;
    cluster.member(old_leader).kill();
    // Writes go on through the survivors once they have elected a new leader.
    let patience = Instant::now() + FAILOVER_PATIENCE;
    while writes_since(&history, killed).0 < WRITES_AFTER_THE_KILL && Instant::now() < patience {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // And a while longer, so that the history has reads and writes on the new leader.
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.unwrap();
    }
    let (completed_after_kill, first) = writes_since(&history, killed);
    assert!(
        completed_after_kill >= WRITES_AFTER_THE_KILL,
        "writes did not go on after the leader died ({completed_after_kill} completed within \
         {FAILOVER_PATIENCE:?})\n{}",
        cluster.logs()
    );
    if let Some(first) = first {
        eprintln!(
            "first write issued after the leader's death acknowledged {} ms after it",
            (first - killed) / 1_000_000
        );
    }
    let history = history.lock().unwrap().clone();
    if let Err(e) = check(&history) {
        panic!("{e}");
    }

    // A new leader was elected among the survivors, and takes writes.
    let survivors = cluster.client_of_all();
    let new_leader = wait_for_leader(
        &cluster.client_of(old_leader % 3 + 1),
        Duration::from_secs(30),
    )
    .await;
    assert_ne!(new_leader, old_leader);
    let revision = survivors.put("/after-failover", "1").await.unwrap();

    // The old leader restarts and catches up.
    cluster.member(old_leader).start();
    let status = wait_caught_up(&cluster, old_leader, revision, Duration::from_secs(30)).await;
    let rejoined = cluster.client_of(old_leader);
    assert_eq!(status.id, old_leader);
    let local = rejoined
        .range(RangeRequest {
            serializable: true,
            ..RangeRequest::key("/after-failover")
        })
        .await
        .unwrap();
    assert_eq!(local.kvs[0].mod_revision, revision);
}

/// Writes one key, again while the outcome is unknown: the first write after the leader is
/// killed may travel on the client's connection to it before the client notices it closed.
/// Writing the same value twice is harmless here.
async fn put_until_answered(store: &StoreClient, key: String, value: String) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match store.put(key.clone(), value.clone()).await {
            Ok(revision) => return revision,
            Err(e) if Instant::now() < deadline => {
                eprintln!("retrying the write of {key}: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("the write of {key} failed for 30 s: {e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_old_leader_behind_the_retained_log_catches_up_through_a_snapshot() {
    let mut cluster = Cluster::start();
    let all = cluster.client_of_all();
    let old_leader = wait_for_leader(&all, Duration::from_secs(30)).await;
    all.put("/snap/before", "1").await.unwrap();
    cluster.member(old_leader).kill();

    // Far more entries than the snapshot threshold (200) plus the kept log (20).
    let mut last = 0;
    for i in 0..600 {
        last = put_until_answered(&all, format!("/snap/{i:04}"), format!("{i}")).await;
    }
    let leader = wait_for_leader(
        &cluster.client_of(old_leader % 3 + 1),
        Duration::from_secs(30),
    )
    .await;
    assert_ne!(leader, old_leader);
    cluster.member(old_leader).start();
    let status = wait_caught_up(&cluster, old_leader, last, Duration::from_secs(60)).await;
    let lagging = cluster.client_of(old_leader);
    assert!(
        status.compact_revision > 0,
        "the member caught up without installing a snapshot (its history starts at 0)\n{}",
        cluster.logs()
    );
    // Its local state equals the leader's.
    let local = lagging
        .range(RangeRequest {
            serializable: true,
            revision: last,
            ..RangeRequest::prefix("/snap/")
        })
        .await
        .unwrap();
    let leader_view = cluster
        .client_of(leader)
        .range(RangeRequest {
            revision: last,
            ..RangeRequest::prefix("/snap/")
        })
        .await
        .unwrap();
    assert_eq!(local.kvs.len(), 601);
    assert_eq!(local.kvs, leader_view.kvs);
}
