//! A store member: one Raft node with its RocksDB, its mutual-TLS port, and the loops that
//! expire leases and compact history. Its methods are the store's API for code in the same
//! process; a write or a linearizable read that reaches a follower is forwarded to the leader.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use openraft::error::{CheckIsLeaderError, ClientWriteError, ForwardToLeader, RaftError};
use openraft::{BasicNode, Config, SnapshotPolicy};
use rocksdb::DB;
use serde::{de::DeserializeOwned, Serialize};
use tokio::net::TcpListener;

use crate::batch::{Batcher, Outcome};
use crate::lease::LeaseClock;
use crate::mvcc::{Command, CommandResponse, MvccReader};
use crate::network::Network;
use crate::pki::TlsIdentity;
use crate::raft::{LogStore, Raft, StateMachine};
use crate::transport::{HttpClient, TransportError};
use crate::types::*;
use crate::watch::{WatchHub, WatchStream};

// How long a failover takes follows from openraft 0.9's election rules and these timers:
//
// - A follower that has heard from its leader refuses to vote for another for the longest
//   election timeout after the last heartbeat (the leader lease), and starts an election
//   itself after that lease plus its own election timeout, drawn once per process between
//   the shortest and the longest. It checks on a tick of 1.5 heartbeat intervals.
// - A candidate whose log is shorter than the other survivor's is refused. If its id is the
//   higher, its vote for itself also refuses the other's election in the same term, which
//   tries again one election timeout later (and again if the refused candidate has started
//   another election, in a new term, meanwhile).
// - A member refused once for a shorter log waits twice the longest election timeout more
//   before its next election, and openraft 0.9 clears that mark only when it next elects: in
//   a later failover it delays the survivor with the longer log (openraft PR #2087 fixes
//   this after 0.9).
//
// With the defaults, the first election after a leader's death starts 700-950 ms after its
// last heartbeat (lease + timeout + tick); a candidate outvoted by a shorter log wins within
// 1.5 s (lease + 2 x (timeout + tick)), a marked one within 1.75 s (lease + timeout +
// 2 x longest + tick), and both at once within 2.85 s. The earlier 150 ms heartbeats and
// 750-1500 ms timeouts made these 3.2 s, 4.95 s, 6.2 s and 9.7 s: longer than a request
// waits for a leader (`LEADER_WAIT`). `keelson bench failover` measures the time from a
// leader's death to the first write its successor acknowledges.

/// The default heartbeat interval (see [`MemberConfig::heartbeat_interval`]).
pub const DEFAULT_HEARTBEAT_INTERVAL: Duration = Duration::from_millis(100);
/// The default range of election timeouts (see [`MemberConfig::election_timeout_min`]).
pub const DEFAULT_ELECTION_TIMEOUT_MIN: Duration = Duration::from_millis(300);
pub const DEFAULT_ELECTION_TIMEOUT_MAX: Duration = Duration::from_millis(400);

/// How long a request waits for a leader to be elected (or reachable) before it fails.
const LEADER_WAIT: Duration = Duration::from_secs(8);
const FORWARD_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest a request waits before it tries the leader again (it goes on sooner when a
/// new leader is named).
const RETRY_PAUSE: Duration = Duration::from_millis(100);

pub(crate) const PROPOSE_PATH: &str = "/internal/propose";
pub(crate) const LEADER_RANGE_PATH: &str = "/internal/range";
pub(crate) const LEADER_KEEPALIVE_PATH: &str = "/internal/keepalive";

/// How to run a member.
#[derive(Clone)]
pub struct MemberConfig {
    pub id: u64,
    pub data_dir: PathBuf,
    /// The address to listen on (port 0 picks a free port).
    pub listen: SocketAddr,
    /// Every member of the cluster by id and address, this one included; empty for a
    /// single-member cluster.
    pub peers: BTreeMap<u64, String>,
    pub identity: TlsIdentity,
    /// Build a Raft snapshot after this many log entries.
    pub snapshot_threshold: u64,
    /// Log entries kept behind a snapshot for followers that lag a little.
    pub logs_to_keep: u64,
    /// How often a quiet watch is told the revision it has seen everything up to.
    pub progress_interval: Duration,
    /// Every interval, the leader compacts history up to the revision of the previous tick.
    pub compaction_interval: Option<Duration>,
    /// How often the leader sends heartbeats; also how long it waits for a follower's answer
    /// to one append (openraft uses the same value for both).
    pub heartbeat_interval: Duration,
    /// The range each member draws its election timeout from; the longest is also how long
    /// a follower refuses to vote after hearing from its leader. Together with the heartbeat
    /// interval they bound how long a failover takes (see `DEFAULT_HEARTBEAT_INTERVAL`).
    pub election_timeout_min: Duration,
    pub election_timeout_max: Duration,
}

impl MemberConfig {
    /// A single-member cluster: the embedded default.
    pub fn single(data_dir: PathBuf, listen: SocketAddr, identity: TlsIdentity) -> MemberConfig {
        MemberConfig {
            id: 1,
            data_dir,
            listen,
            peers: BTreeMap::new(),
            identity,
            snapshot_threshold: 20_000,
            logs_to_keep: 5_000,
            progress_interval: Duration::from_secs(5),
            compaction_interval: Some(Duration::from_secs(300)),
            heartbeat_interval: DEFAULT_HEARTBEAT_INTERVAL,
            election_timeout_min: DEFAULT_ELECTION_TIMEOUT_MIN,
            election_timeout_max: DEFAULT_ELECTION_TIMEOUT_MAX,
        }
    }
}

/// A running member. Cheap to clone.
#[derive(Clone)]
pub struct Member {
    inner: Arc<Inner>,
}

struct Inner {
    id: u64,
    address: SocketAddr,
    raft: Raft,
    db: Arc<DB>,
    hub: Arc<WatchHub>,
    leases: Arc<LeaseClock>,
    client: HttpClient,
    batcher: Batcher,
    committed: Arc<std::sync::atomic::AtomicU64>,
    progress_interval: Duration,
    tasks: std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl Member {
    /// Opens the data dir, starts Raft and the TLS port, and joins or forms the cluster.
    pub async fn start(config: MemberConfig) -> anyhow::Result<Member> {
        if !config.peers.is_empty() && !config.peers.contains_key(&config.id) {
            anyhow::bail!("--peers must list this member's own id {}", config.id);
        }
        let db = crate::db::open(&config.data_dir, config.id)?;
        let hub = Arc::new(WatchHub::new());
        let leases = Arc::new(LeaseClock::default());
        let state_machine =
            StateMachine::new(db.clone(), hub.clone(), leases.clone()).map_err(|e| {
                anyhow::anyhow!(
                    "cannot read the state machine in {}: {e}",
                    config.data_dir.display()
                )
            })?;
        let log_store = LogStore::new(db.clone());
        let committed = log_store.committed_index();
        let client = HttpClient::new(&config.identity)?;
        let raft_config = raft_config(&config)?;
        let raft = Raft::new(
            config.id,
            Arc::new(raft_config),
            Network {
                client: client.clone(),
            },
            log_store,
            state_machine,
        )
        .await?;

        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen))?;
        let address = listener.local_addr()?;
        let (batcher, batching) = Batcher::start(raft.clone());
        let member = Member {
            inner: Arc::new(Inner {
                id: config.id,
                address,
                raft: raft.clone(),
                db,
                hub,
                leases,
                client,
                batcher,
                committed,
                progress_interval: config.progress_interval,
                tasks: Default::default(),
            }),
        };
        member
            .inner
            .tasks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(batching);
        let tls = Arc::new(config.identity.server_config()?);
        member.spawn(crate::server::serve(listener, tls, member.clone()));

        let peers = if config.peers.is_empty() {
            BTreeMap::from([(config.id, address.to_string())])
        } else {
            config.peers.clone()
        };
        let first = peers.keys().next().copied() == Some(config.id);
        if first && !raft.is_initialized().await? {
            let nodes: BTreeMap<u64, BasicNode> = peers
                .iter()
                .map(|(id, addr)| (*id, BasicNode { addr: addr.clone() }))
                .collect();
            raft.initialize(nodes)
                .await
                .map_err(|e| anyhow::anyhow!("cannot form the cluster: {e}"))?;
        }
        member.spawn(member.clone().expire_leases());
        if let Some(every) = config.compaction_interval {
            member.spawn(member.clone().compact_history(every));
        }
        Ok(member)
    }

    fn spawn(&self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        let handle = tokio::spawn(task);
        self.inner
            .tasks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(handle);
    }

    /// The address the member's port is bound to.
    pub fn address(&self) -> SocketAddr {
        self.inner.address
    }

    pub fn id(&self) -> u64 {
        self.inner.id
    }

    /// Stops Raft and the member's port and loops.
    pub async fn shutdown(&self) {
        for task in self
            .inner
            .tasks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
        {
            task.abort();
        }
        let _ = self.inner.raft.shutdown().await;
    }

    pub(crate) fn raft(&self) -> &Raft {
        &self.inner.raft
    }

    /// Runs a transaction.
    pub async fn txn(&self, req: TxnRequest) -> Result<TxnResponse> {
        req.validate()?;
        let deadline = Instant::now() + LEADER_WAIT;
        loop {
            match self.inner.batcher.submit(req.clone()).await {
                Outcome::Done(answer) => return answer,
                Outcome::NotLeader(to) => {
                    let command = Command::Txn(req.clone());
                    if let Some(answer) =
                        self.forward(&to, PROPOSE_PATH, &command, deadline).await?
                    {
                        return match answer.and_then(into_result)? {
                            CommandResponse::Txn(r) => Ok(r),
                            other => Err(unexpected(other)),
                        };
                    }
                }
            }
        }
    }

    /// Reads keys under a prefix: linearizable unless `serializable` (or at a past
    /// revision this member already holds).
    pub async fn range(&self, req: RangeRequest) -> Result<RangeResponse> {
        let local = req.serializable
            || (req.revision != 0 && req.revision <= self.inner.hub.current_revision());
        if local {
            return self.local_range(&req);
        }
        let deadline = Instant::now() + LEADER_WAIT;
        loop {
            match self.inner.raft.ensure_linearizable().await {
                Ok(_) => return self.local_range(&req),
                Err(RaftError::APIError(CheckIsLeaderError::ForwardToLeader(to))) => {
                    match self.forward(&to, LEADER_RANGE_PATH, &req, deadline).await? {
                        Some(answer) => return answer,
                        None => continue,
                    }
                }
                Err(RaftError::APIError(CheckIsLeaderError::QuorumNotEnough(e))) => {
                    if Instant::now() > deadline {
                        return Err(StoreError::Unavailable(format!("no quorum: {e}")));
                    }
                    tokio::time::sleep(RETRY_PAUSE).await;
                }
                Err(RaftError::Fatal(e)) => {
                    return Err(StoreError::Unavailable(format!("raft has stopped: {e}")))
                }
            }
        }
    }

    /// A linearizable read on this member only, which must be the leader.
    pub(crate) async fn leader_range(&self, req: RangeRequest) -> Result<RangeResponse> {
        match self.inner.raft.ensure_linearizable().await {
            Ok(_) => self.local_range(&req),
            Err(e) => Err(StoreError::Unavailable(format!(
                "member {} cannot serve a linearizable read: {e}",
                self.inner.id
            ))),
        }
    }

    fn local_range(&self, req: &RangeRequest) -> Result<RangeResponse> {
        if !req.prefix.is_empty() {
            validate_key(&req.prefix)?;
        }
        let view = self.inner.db.snapshot();
        MvccReader::at(&self.inner.db, &view).range(req)
    }

    /// Reads one key.
    pub async fn get(&self, key: &[u8]) -> Result<Option<KeyValue>> {
        validate_key(key)?;
        let resp = self.range(RangeRequest::key(key)).await?;
        Ok(resp.kvs.into_iter().find(|kv| kv.key == key))
    }

    /// Watches a prefix from a revision (on this member's state).
    pub fn watch(&self, req: WatchRequest) -> Result<WatchStream> {
        crate::watch::start(
            self.inner.db.clone(),
            &self.inner.hub,
            req,
            self.inner.progress_interval,
        )
    }

    /// Drops the history up to `revision`: older reads and watches fail with `Compacted`.
    pub async fn compact(&self, revision: Revision) -> Result<Revision> {
        match self.propose(Command::Compact { revision }).await? {
            CommandResponse::Compacted { revision } => Ok(revision),
            other => Err(unexpected(other)),
        }
    }

    pub async fn lease_grant(&self, ttl_seconds: u64) -> Result<Lease> {
        match self.propose(Command::LeaseGrant { ttl_seconds }).await? {
            CommandResponse::LeaseGranted(lease) => Ok(lease),
            other => Err(unexpected(other)),
        }
    }

    /// Revokes a lease, deleting its keys; returns the revision of the deletion.
    pub async fn lease_revoke(&self, id: LeaseId) -> Result<Revision> {
        match self.propose(Command::LeaseRevoke { id }).await? {
            CommandResponse::LeaseRevoked { revision } => Ok(revision),
            other => Err(unexpected(other)),
        }
    }

    /// Renews a lease for another full TTL (on the leader, whose clock expires leases).
    pub async fn lease_keepalive(&self, id: LeaseId) -> Result<Lease> {
        let deadline = Instant::now() + LEADER_WAIT;
        loop {
            match self.inner.raft.ensure_linearizable().await {
                Ok(_) => return self.leader_keepalive(id),
                Err(RaftError::APIError(CheckIsLeaderError::ForwardToLeader(to))) => {
                    if let Some(answer) = self
                        .forward(&to, LEADER_KEEPALIVE_PATH, &id, deadline)
                        .await?
                    {
                        return answer;
                    }
                }
                Err(e) => return Err(StoreError::Unavailable(e.to_string())),
            }
        }
    }

    pub(crate) fn leader_keepalive(&self, id: LeaseId) -> Result<Lease> {
        self.inner
            .leases
            .keepalive(id)
            .ok_or(StoreError::LeaseNotFound(id))
    }

    pub fn status(&self) -> MemberStatus {
        let metrics = self.inner.raft.metrics().borrow().clone();
        let (revision, compact_revision) = MvccReader::latest(&self.inner.db)
            .revisions()
            .unwrap_or((0, 0));
        MemberStatus {
            id: self.inner.id,
            address: self.inner.address.to_string(),
            members: metrics
                .membership_config
                .nodes()
                .map(|(id, node)| (*id, node.addr.clone()))
                .collect(),
            leader: metrics.current_leader,
            term: metrics.current_term,
            last_log_index: metrics.last_log_index.unwrap_or(0),
            commit_index: self
                .inner
                .committed
                .load(std::sync::atomic::Ordering::Relaxed),
            applied_index: metrics.last_applied.map_or(0, |l| l.index),
            revision,
            compact_revision,
        }
    }

    /// Replicates a command through the leader and returns what applying it produced.
    async fn propose(&self, command: Command) -> Result<CommandResponse> {
        let deadline = Instant::now() + LEADER_WAIT;
        loop {
            match self.inner.raft.client_write(command.clone()).await {
                Ok(resp) => return into_result(resp.data),
                Err(RaftError::APIError(ClientWriteError::ForwardToLeader(to))) => {
                    if let Some(answer) =
                        self.forward(&to, PROPOSE_PATH, &command, deadline).await?
                    {
                        return answer.and_then(into_result);
                    }
                }
                Err(e) => return Err(StoreError::Unavailable(e.to_string())),
            }
        }
    }

    /// Proposes on this member only, which must be the leader (a forwarded command).
    pub(crate) async fn leader_propose(&self, command: Command) -> Result<CommandResponse> {
        if let Command::Txn(req) = command {
            return match self.inner.batcher.submit(req).await {
                Outcome::Done(answer) => {
                    Ok(answer.map_or_else(CommandResponse::Error, CommandResponse::Txn))
                }
                Outcome::NotLeader(_) => Err(StoreError::Unavailable(format!(
                    "member {} is not the leader",
                    self.inner.id
                ))),
            };
        }
        match self.inner.raft.client_write(command).await {
            Ok(resp) => Ok(resp.data),
            Err(e) => Err(StoreError::Unavailable(format!(
                "member {}: {e}",
                self.inner.id
            ))),
        }
    }

    /// Sends a request to the leader. `None` means "try again": no leader is known yet, or
    /// it could not be reached (so the request certainly had no effect).
    async fn forward<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        to: &ForwardToLeader<u64, BasicNode>,
        path: &str,
        req: &Req,
        deadline: Instant,
    ) -> Result<Option<Result<Resp>>> {
        let give_up = |why: String| {
            if Instant::now() > deadline {
                Err(StoreError::Unavailable(why))
            } else {
                Ok(None)
            }
        };
        let leader = match (&to.leader_id, &to.leader_node) {
            (Some(id), Some(node)) if *id != self.inner.id => node.addr.clone(),
            _ => {
                let result = give_up("no leader has been elected".into());
                if result.is_ok() {
                    self.leader_change(to.leader_id).await;
                }
                return result;
            }
        };
        match self
            .inner
            .client
            .call::<Req, Result<Resp>>(&leader, path, req, Some(FORWARD_TIMEOUT))
            .await
        {
            Ok(answer) => Ok(Some(answer)),
            Err(e @ TransportError::Unreachable { .. }) => {
                let result = give_up(e.to_string());
                if result.is_ok() {
                    self.leader_change(to.leader_id).await;
                }
                result
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Waits until Raft names a leader other than `stale` (one is elected, or this member
    /// hears from it), for at most `RETRY_PAUSE`: a request waiting for a failover goes on
    /// the moment it is over.
    async fn leader_change(&self, stale: Option<u64>) {
        let mut metrics = self.inner.raft.metrics();
        let changed = metrics.wait_for(|m| m.current_leader.is_some() && m.current_leader != stale);
        let _ = tokio::time::timeout(RETRY_PAUSE, changed).await;
    }

    fn is_leader(&self) -> bool {
        self.inner.raft.metrics().borrow().current_leader == Some(self.inner.id)
    }

    /// On the leader, revokes every lease whose deadline has passed.
    async fn expire_leases(self) {
        let mut was_leader = false;
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        loop {
            tick.tick().await;
            let leader = self.is_leader();
            if leader && !was_leader {
                self.inner.leases.extend_all();
            }
            was_leader = leader;
            if !leader {
                continue;
            }
            for id in self.inner.leases.expired(Instant::now()) {
                match self.leader_propose(Command::LeaseRevoke { id }).await {
                    Ok(CommandResponse::Error(StoreError::LeaseNotFound(_))) => {
                        self.inner.leases.revoked(id)
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!("cannot revoke expired lease {id}: {e}"),
                }
            }
        }
    }

    /// On the leader, compacts history to the revision seen one interval ago.
    async fn compact_history(self, every: Duration) {
        let mut tick = tokio::time::interval(every);
        tick.tick().await;
        let mut previous = None;
        loop {
            tick.tick().await;
            let current = self.inner.hub.current_revision();
            if let (true, Some(revision)) = (self.is_leader(), previous) {
                if let Ok(CommandResponse::Compacted { .. }) =
                    self.leader_propose(Command::Compact { revision }).await
                {
                    tracing::debug!("compacted history up to {revision}");
                }
            }
            previous = Some(current);
        }
    }
}

/// openraft's configuration for a member.
fn raft_config(config: &MemberConfig) -> anyhow::Result<Config> {
    Ok(Config {
        cluster_name: "keelson-store".into(),
        snapshot_policy: SnapshotPolicy::LogsSinceLast(config.snapshot_threshold.max(1)),
        max_in_snapshot_log_to_keep: config.logs_to_keep,
        snapshot_max_chunk_size: 1024 * 1024,
        max_payload_entries: 1000,
        ..timers(
            config.heartbeat_interval,
            config.election_timeout_min,
            config.election_timeout_max,
        )?
    }
    .validate()?)
}

/// openraft's defaults with these timers, which must be in order: heartbeat interval below
/// the shortest election timeout, below the longest.
fn timers(
    heartbeat: Duration,
    election_min: Duration,
    election_max: Duration,
) -> anyhow::Result<Config> {
    let millis = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    let (heartbeat, election_min, election_max) = (
        millis(heartbeat),
        millis(election_min),
        millis(election_max),
    );
    if heartbeat == 0 || election_min <= heartbeat || election_max <= election_min {
        anyhow::bail!(
            "Raft timers out of order: the heartbeat interval ({heartbeat} ms) must be above 0 \
             and below the shortest election timeout ({election_min} ms), which must be below \
             the longest ({election_max} ms)"
        );
    }
    Ok(Config {
        heartbeat_interval: heartbeat,
        election_timeout_min: election_min,
        election_timeout_max: election_max,
        ..Default::default()
    })
}

fn into_result(resp: CommandResponse) -> Result<CommandResponse> {
    match resp {
        CommandResponse::Error(e) => Err(e),
        other => Ok(other),
    }
}

fn unexpected(resp: CommandResponse) -> StoreError {
    StoreError::Internal(format!(
        "unexpected answer from the state machine: {resp:?}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The longest each way to a new leader may take from the old one's last heartbeat, by
    /// openraft 0.9's rules (see the notes at `DEFAULT_HEARTBEAT_INTERVAL`): the first
    /// election wins; the first candidate has the shorter log and the higher id; the survivor
    /// with the longer log is marked by an earlier failover; both.
    fn election_paths(config: &Config) -> [(&'static str, Duration); 4] {
        let ms = Duration::from_millis;
        let tick = ms(config.heartbeat_interval * 3 / 2);
        let lease = ms(config.election_timeout_max);
        let timeout = ms(config.election_timeout_max);
        let first = lease + timeout + tick;
        let outvoted = first + timeout + tick;
        let marked = first + 2 * ms(config.election_timeout_max);
        let both = marked + 2 * (timeout + tick);
        [
            ("first election", first),
            ("outvoted by a shorter log", outvoted),
            ("marked by an earlier failover", marked),
            ("both", both),
        ]
    }

    fn default_config() -> Config {
        let config = timers(
            DEFAULT_HEARTBEAT_INTERVAL,
            DEFAULT_ELECTION_TIMEOUT_MIN,
            DEFAULT_ELECTION_TIMEOUT_MAX,
        )
        .and_then(|c| Ok(c.validate()?));
        match config {
            Ok(config) => config,
            Err(e) => panic!("the default timers are refused: {e}"),
        }
    }

    #[test]
    fn with_the_default_timers_each_slow_election_path_ends_within_two_seconds() {
        for (path, slowest) in &election_paths(&default_config())[..3] {
            assert!(
                *slowest < Duration::from_secs(2),
                "{path}: a new leader may take {slowest:?}"
            );
        }
    }

    #[test]
    fn a_request_waits_for_a_leader_longer_than_the_slowest_election() {
        for (path, slowest) in election_paths(&default_config()) {
            assert!(
                slowest < LEADER_WAIT,
                "{path}: a new leader may take {slowest:?}, a request waits {LEADER_WAIT:?}"
            );
        }
    }

    #[test]
    fn timers_out_of_order_are_refused() {
        let ms = Duration::from_millis;
        assert!(timers(ms(100), ms(300), ms(400)).is_ok());
        for (heartbeat, min, max) in [
            (0, 300, 400),
            (300, 300, 400),
            (100, 400, 400),
            (100, 500, 400),
        ] {
            let refused = timers(ms(heartbeat), ms(min), ms(max));
            assert!(refused.is_err(), "{heartbeat}/{min}/{max} accepted");
        }
    }
}
