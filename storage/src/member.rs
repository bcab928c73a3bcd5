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

/// How long a request waits for a leader to be elected (or reachable) before it fails.
const LEADER_WAIT: Duration = Duration::from_secs(8);
const FORWARD_TIMEOUT: Duration = Duration::from_secs(10);

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
        let raft_config = Config {
            cluster_name: "keelson-store".into(),
            heartbeat_interval: 150,
            election_timeout_min: 750,
            election_timeout_max: 1500,
            snapshot_policy: SnapshotPolicy::LogsSinceLast(config.snapshot_threshold.max(1)),
            max_in_snapshot_log_to_keep: config.logs_to_keep,
            snapshot_max_chunk_size: 1024 * 1024,
            max_payload_entries: 1000,
            ..Default::default()
        }
        .validate()?;
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
                    tokio::time::sleep(Duration::from_millis(100)).await;
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
                    tokio::time::sleep(Duration::from_millis(50)).await;
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
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                result
            }
            Err(e) => Err(e.into()),
        }
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
