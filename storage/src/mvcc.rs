//! The MVCC key space kept in RocksDB: the current value of every key, the events of every
//! retained revision, the leases, and the state machine's own bookkeeping.
//!
//! Only the latest value of a key is stored. A read at an older revision `R` is answered
//! from the latest values corrected by the retained events after `R`: the first event on a
//! key after `R` carries the key's value at `R` as its `prev_kv`. Compaction drops events up
//! to a revision, which is exactly what makes older reads and watches impossible.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use rocksdb::{ColumnFamily, Direction, IteratorMode, ReadOptions, Snapshot, WriteBatch, DB};
use serde::{Deserialize, Serialize};

use crate::codec::{decode, encode};
use crate::types::*;

pub(crate) const CF_LOG: &str = "raft_log";
pub(crate) const CF_RAFT: &str = "raft_meta";
pub(crate) const CF_KV: &str = "kv";
pub(crate) const CF_EVENTS: &str = "events";
pub(crate) const CF_LEASES: &str = "leases";
pub(crate) const CF_SM: &str = "sm_meta";
pub(crate) const ALL_CFS: [&str; 6] = [CF_LOG, CF_RAFT, CF_KV, CF_EVENTS, CF_LEASES, CF_SM];

const SM_REVISION: &[u8] = b"revision";
const SM_COMPACT: &[u8] = b"compact_revision";

/// A command replicated through the Raft log and applied by every member in log order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    Txn(TxnRequest),
    /// Transactions batched into one entry by the leader (one fsync for all of them); each
    /// is applied in order and takes its own revision.
    Txns(Vec<TxnRequest>),
    Compact {
        revision: Revision,
    },
    /// The lease's id is the index of the log entry that grants it, so every member agrees.
    LeaseGrant {
        ttl_seconds: u64,
    },
    LeaseRevoke {
        id: LeaseId,
    },
}

/// What applying a command produced, returned to the member that proposed it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CommandResponse {
    Txn(TxnResponse),
    /// One answer per transaction of a `Command::Txns`.
    Txns(Vec<Result<TxnResponse>>),
    Compacted {
        revision: Revision,
    },
    LeaseGranted(Lease),
    LeaseRevoked {
        revision: Revision,
    },
    /// A Raft-internal entry (blank or membership) that carries no command.
    Nothing,
    Error(StoreError),
}

/// A lease as the state machine keeps it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseRecord {
    pub ttl_seconds: u64,
    pub keys: BTreeSet<Vec<u8>>,
}

pub(crate) fn rev_key(rev: Revision) -> [u8; 8] {
    rev.to_be_bytes()
}

pub(crate) fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Internal(format!("corrupt {what} in the data dir: {e}"))
}

pub(crate) fn db_err(e: rocksdb::Error) -> StoreError {
    StoreError::Internal(format!("rocksdb: {e}"))
}

// Opening a data dir creates the column families (fresh) or fails without them (existing), and
// the names are this crate's constants: no data dir can make this `expect` fail once open.
#[allow(clippy::expect_used)]
pub(crate) fn cf<'a>(db: &'a DB, name: &str) -> &'a ColumnFamily {
    db.cf_handle(name)
        .expect("column family opened with the data dir")
}

/// Read access to the MVCC key space, over the live database or a consistent snapshot.
pub(crate) struct MvccReader<'a> {
    db: &'a DB,
    snapshot: Option<&'a Snapshot<'a>>,
}

impl<'a> MvccReader<'a> {
    /// Reads the latest state.
    pub fn latest(db: &'a DB) -> Self {
        MvccReader { db, snapshot: None }
    }

    /// Reads the state of a RocksDB snapshot: every read sees the same point.
    pub fn at(db: &'a DB, snapshot: &'a Snapshot<'a>) -> Self {
        MvccReader {
            db,
            snapshot: Some(snapshot),
        }
    }

    fn options(&self) -> ReadOptions {
        let mut options = ReadOptions::default();
        if let Some(snapshot) = self.snapshot {
            options.set_snapshot(snapshot);
        }
        options
    }

    fn get_cf(&self, name: &str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.db
            .get_cf_opt(cf(self.db, name), key, &self.options())
            .map_err(db_err)
    }

    fn u64_meta(&self, key: &[u8]) -> Result<u64> {
        match self.get_cf(CF_SM, key)? {
            None => Ok(0),
            Some(v) => decode(&v).map_err(|e| corrupt("state machine metadata", e)),
        }
    }

    /// (current revision, compact revision)
    pub fn revisions(&self) -> Result<(Revision, Revision)> {
        Ok((self.u64_meta(SM_REVISION)?, self.u64_meta(SM_COMPACT)?))
    }

    pub fn get(&self, key: &[u8]) -> Result<Option<KeyValue>> {
        match self.get_cf(CF_KV, key)? {
            None => Ok(None),
            Some(v) => decode(&v).map(Some).map_err(|e| corrupt("key", e)),
        }
    }

    pub fn lease(&self, id: LeaseId) -> Result<Option<LeaseRecord>> {
        match self.get_cf(CF_LEASES, &id.to_be_bytes())? {
            None => Ok(None),
            Some(v) => decode(&v).map(Some).map_err(|e| corrupt("lease", e)),
        }
    }

    pub fn leases(&self) -> Result<Vec<(LeaseId, LeaseRecord)>> {
        let mut out = Vec::new();
        for item in self.view_iter(CF_LEASES, IteratorMode::Start) {
            let (k, v) = item.map_err(db_err)?;
            let id = u64::from_be_bytes(k.as_ref().try_into().map_err(|e| corrupt("lease id", e))?);
            out.push((id, decode(&v).map_err(|e| corrupt("lease", e))?));
        }
        Ok(out)
    }

    fn view_iter(
        &self,
        name: &str,
        mode: IteratorMode,
    ) -> rocksdb::DBIteratorWithThreadMode<'a, DB> {
        self.db
            .iterator_cf_opt(cf(self.db, name), self.options(), mode)
    }

    /// The events of revisions `from..=to`, at most `max_revisions` of them.
    pub fn events(
        &self,
        from: Revision,
        to: Revision,
        max_revisions: usize,
    ) -> Result<Vec<(Revision, Vec<Event>)>> {
        let (_, compact) = self.revisions()?;
        if from <= compact {
            return Err(StoreError::Compacted {
                requested: from,
                compact_revision: compact,
            });
        }
        let start = rev_key(from);
        let mut out = Vec::new();
        for item in self.view_iter(CF_EVENTS, IteratorMode::From(&start, Direction::Forward)) {
            let (k, v) = item.map_err(db_err)?;
            let rev =
                u64::from_be_bytes(k.as_ref().try_into().map_err(|e| corrupt("event key", e))?);
            if rev > to || out.len() >= max_revisions {
                break;
            }
            out.push((rev, decode(&v).map_err(|e| corrupt("event", e))?));
        }
        Ok(out)
    }

    /// Keys under a prefix as of a revision; see the module doc for how older revisions are read.
    pub fn range(&self, req: &RangeRequest) -> Result<RangeResponse> {
        let (current, compact) = self.revisions()?;
        let at = if req.revision == 0 {
            current
        } else {
            req.revision
        };
        if at > current {
            return Err(StoreError::FutureRevision {
                requested: at,
                current,
            });
        }
        if at < compact {
            return Err(StoreError::Compacted {
                requested: at,
                compact_revision: compact,
            });
        }
        let wanted = |key: &[u8]| key.starts_with(&req.prefix) && key > req.start_after.as_slice();

        // The state at `at` of every key written after it.
        let mut past: BTreeMap<Vec<u8>, Option<KeyValue>> = BTreeMap::new();
        if at < current {
            for (_, events) in self.events(at + 1, current, usize::MAX)? {
                for ev in events {
                    if wanted(&ev.kv.key) && !past.contains_key(&ev.kv.key) {
                        past.insert(ev.kv.key.clone(), ev.prev_kv);
                    }
                }
            }
        }

        let mut start = req.prefix.clone();
        if req.start_after.as_slice() >= start.as_slice() {
            start = req.start_after.clone();
            start.push(0);
        }
        let mut latest = self
            .view_iter(CF_KV, IteratorMode::From(&start, Direction::Forward))
            .map(|item| -> Result<(Vec<u8>, Vec<u8>)> {
                let (k, v) = item.map_err(db_err)?;
                Ok((k.into_vec(), v.into_vec()))
            })
            .take_while(|item| {
                item.as_ref()
                    .map_or(true, |(k, _)| k.starts_with(&req.prefix))
            })
            .peekable();
        let mut past = past.into_iter().peekable();

        let limit = if req.limit == 0 {
            usize::MAX
        } else {
            req.limit as usize
        };
        let mut kvs = Vec::new();
        let mut more = false;
        loop {
            let from_latest = match (latest.peek(), past.peek()) {
                (None, None) => break,
                (Some(Err(_)), _) => {
                    return Err(latest
                        .next()
                        .and_then(|r| r.err())
                        .unwrap_or_else(|| StoreError::Internal("iterator".into())))
                }
                (Some(Ok((lk, _))), Some((pk, _))) => lk < pk,
                (Some(_), None) => true,
                (None, Some(_)) => false,
            };
            let kv = if from_latest {
                let Some(Ok((_, v))) = latest.next() else {
                    break;
                };
                Some(decode::<KeyValue>(&v).map_err(|e| corrupt("key", e))?)
            } else {
                let Some((pk, kv)) = past.next() else {
                    break;
                };
                if matches!(latest.peek(), Some(Ok((lk, _))) if *lk == pk) {
                    latest.next();
                }
                kv
            };
            let Some(mut kv) = kv else { continue };
            if kvs.len() == limit {
                more = true;
                break;
            }
            if req.keys_only {
                kv.value.clear();
            }
            kvs.push(kv);
        }
        Ok(RangeResponse {
            kvs,
            more,
            revision: at,
        })
    }
}

/// The changes of one batch of applied commands, collected in memory and written to RocksDB
/// in one atomic write. Later commands of the batch see the effects of earlier ones.
pub(crate) struct ApplyBatch<'a> {
    db: &'a DB,
    kv: HashMap<Vec<u8>, Option<KeyValue>>,
    leases: HashMap<LeaseId, Option<LeaseRecord>>,
    /// The events of each revision this batch created, in order.
    pub events: Vec<(Revision, Arc<Vec<Event>>)>,
    pub revision: Revision,
    pub compact_revision: Revision,
    compacted_to: Option<Revision>,
    /// Leases granted (id, ttl) and revoked in this batch, for the expiry clock.
    pub granted: Vec<Lease>,
    pub revoked: Vec<LeaseId>,
    pub batch: WriteBatch,
}

impl<'a> ApplyBatch<'a> {
    pub fn new(db: &'a DB) -> Result<Self> {
        let (revision, compact_revision) = MvccReader::latest(db).revisions()?;
        Ok(ApplyBatch {
            db,
            kv: HashMap::new(),
            leases: HashMap::new(),
            events: Vec::new(),
            revision,
            compact_revision,
            compacted_to: None,
            granted: Vec::new(),
            revoked: Vec::new(),
            batch: WriteBatch::default(),
        })
    }

    fn reader(&self) -> MvccReader<'a> {
        MvccReader::latest(self.db)
    }

    fn get(&self, key: &[u8]) -> Result<Option<KeyValue>> {
        match self.kv.get(key) {
            Some(v) => Ok(v.clone()),
            None => self.reader().get(key),
        }
    }

    fn lease(&self, id: LeaseId) -> Result<Option<LeaseRecord>> {
        match self.leases.get(&id) {
            Some(v) => Ok(v.clone()),
            None => self.reader().lease(id),
        }
    }

    /// The batch's copy of a lease, read once per batch and then changed in place (a
    /// lease may hold many keys: copying it per write would cost in proportion to them).
    fn lease_mut(&mut self, id: LeaseId) -> Result<Option<&mut LeaseRecord>> {
        if !self.leases.contains_key(&id) {
            let read = self.reader().lease(id)?;
            self.leases.insert(id, read);
        }
        Ok(self.leases.get_mut(&id).and_then(Option::as_mut))
    }

    fn detach(&mut self, lease: LeaseId, key: &[u8]) -> Result<()> {
        if lease == 0 {
            return Ok(());
        }
        if let Some(rec) = self.lease_mut(lease)? {
            rec.keys.remove(key);
        }
        Ok(())
    }

    /// Applies one command; `index` is the command's log index. A command that is refused
    /// (a missing lease, a bad compaction) changes nothing and answers with its error; an
    /// `Internal` error means the store itself could not be read, and stops the state
    /// machine rather than let a half-applied command through.
    pub fn apply(&mut self, command: &Command, index: u64) -> Result<CommandResponse> {
        let result = match command {
            Command::Txn(req) => self.txn(req).map(CommandResponse::Txn),
            Command::Txns(reqs) => {
                let mut answers = Vec::with_capacity(reqs.len());
                for req in reqs {
                    match self.txn(req) {
                        Err(e @ StoreError::Internal(_)) => return Err(e),
                        answer => answers.push(answer),
                    }
                }
                Ok(CommandResponse::Txns(answers))
            }
            Command::Compact { revision } => self.compact(*revision),
            Command::LeaseGrant { ttl_seconds } => self.lease_grant(index, *ttl_seconds),
            Command::LeaseRevoke { id } => self.lease_revoke(*id),
        };
        match result {
            Err(e @ StoreError::Internal(_)) => Err(e),
            Err(refused) => Ok(CommandResponse::Error(refused)),
            Ok(answer) => Ok(answer),
        }
    }

    fn txn(&mut self, req: &TxnRequest) -> Result<TxnResponse> {
        // A request that fails validation never reaches the log, but the state machine
        // must not trust the log's content either.
        req.validate()?;
        let mut succeeded = true;
        for c in &req.compare {
            let current = self.get(c.key())?;
            let holds = match c {
                Compare::ModRevision { revision, .. } => {
                    current.is_some_and(|kv| kv.mod_revision == *revision)
                }
                Compare::Exists { .. } => current.is_some(),
                Compare::Absent { .. } => current.is_none(),
            };
            if !holds {
                succeeded = false;
                break;
            }
        }
        let ops = if succeeded {
            &req.success
        } else {
            &req.failure
        };
        for op in ops {
            if let Op::Put { lease, .. } = op {
                if *lease != 0 && self.lease_mut(*lease)?.is_none() {
                    return Err(StoreError::LeaseNotFound(*lease));
                }
            }
        }
        let rev = self.revision + 1;
        let mut events = Vec::new();
        let mut responses = Vec::with_capacity(ops.len());
        for op in ops {
            match op {
                Op::Put { key, value, lease } => {
                    let prev = self.get(key)?;
                    let kv = KeyValue {
                        key: key.clone(),
                        value: value.clone(),
                        create_revision: prev.as_ref().map_or(rev, |p| p.create_revision),
                        mod_revision: rev,
                        version: prev.as_ref().map_or(1, |p| p.version + 1),
                        lease: *lease,
                    };
                    if let Some(p) = &prev {
                        if p.lease != *lease {
                            self.detach(p.lease, key)?;
                        }
                    }
                    if *lease != 0 {
                        match self.lease_mut(*lease)? {
                            Some(rec) => {
                                rec.keys.insert(key.clone());
                            }
                            None => {
                                let rec = LeaseRecord {
                                    keys: [key.clone()].into(),
                                    ..LeaseRecord::default()
                                };
                                self.leases.insert(*lease, Some(rec));
                            }
                        }
                    }
                    self.kv.insert(key.clone(), Some(kv.clone()));
                    events.push(Event {
                        kind: EventKind::Put,
                        kv,
                        prev_kv: prev.clone(),
                    });
                    responses.push(OpResponse::Put { prev });
                }
                Op::Delete { key } => {
                    let prev = self.delete_key(key, rev, &mut events)?;
                    responses.push(OpResponse::Delete { prev });
                }
                Op::Get { key } => responses.push(OpResponse::Get { kv: self.get(key)? }),
            }
        }
        self.commit_revision(rev, events);
        Ok(TxnResponse {
            succeeded,
            revision: self.revision,
            responses,
        })
    }

    fn delete_key(
        &mut self,
        key: &[u8],
        rev: Revision,
        events: &mut Vec<Event>,
    ) -> Result<Option<KeyValue>> {
        let prev = self.get(key)?;
        if let Some(p) = &prev {
            self.detach(p.lease, key)?;
            self.kv.insert(key.to_vec(), None);
            let tombstone = KeyValue {
                key: key.to_vec(),
                value: Vec::new(),
                create_revision: 0,
                mod_revision: rev,
                version: 0,
                lease: 0,
            };
            events.push(Event {
                kind: EventKind::Delete,
                kv: tombstone,
                prev_kv: prev.clone(),
            });
        }
        Ok(prev)
    }

    /// A transaction that changed nothing does not take a revision.
    fn commit_revision(&mut self, rev: Revision, events: Vec<Event>) {
        if !events.is_empty() {
            self.revision = rev;
            self.events.push((rev, Arc::new(events)));
        }
    }

    fn compact(&mut self, revision: Revision) -> Result<CommandResponse> {
        if revision > self.revision {
            return Err(StoreError::FutureRevision {
                requested: revision,
                current: self.revision,
            });
        }
        if revision <= self.compact_revision {
            return Err(StoreError::Compacted {
                requested: revision,
                compact_revision: self.compact_revision,
            });
        }
        self.compact_revision = revision;
        self.compacted_to = Some(revision);
        Ok(CommandResponse::Compacted { revision })
    }

    fn lease_grant(&mut self, index: u64, ttl_seconds: u64) -> Result<CommandResponse> {
        if ttl_seconds == 0 {
            return Err(StoreError::InvalidRequest(
                "a lease needs a TTL of at least 1 second".into(),
            ));
        }
        self.leases.insert(
            index,
            Some(LeaseRecord {
                ttl_seconds,
                keys: BTreeSet::new(),
            }),
        );
        let lease = Lease {
            id: index,
            ttl_seconds,
        };
        self.granted.push(lease);
        Ok(CommandResponse::LeaseGranted(lease))
    }

    fn lease_revoke(&mut self, id: LeaseId) -> Result<CommandResponse> {
        let Some(rec) = self.lease(id)? else {
            return Err(StoreError::LeaseNotFound(id));
        };
        let rev = self.revision + 1;
        let mut events = Vec::new();
        for key in &rec.keys {
            self.delete_key(key, rev, &mut events)?;
        }
        self.leases.insert(id, None);
        self.revoked.push(id);
        self.commit_revision(rev, events);
        Ok(CommandResponse::LeaseRevoked {
            revision: self.revision,
        })
    }

    /// Moves everything the batch changed into its RocksDB write batch.
    pub fn finish(mut self) -> Self {
        let db = self.db;
        for (key, value) in self.kv.drain() {
            match value {
                Some(kv) => self.batch.put_cf(cf(db, CF_KV), &key, encode(&kv)),
                None => self.batch.delete_cf(cf(db, CF_KV), &key),
            }
        }
        for (id, rec) in self.leases.drain() {
            match rec {
                Some(rec) => self
                    .batch
                    .put_cf(cf(db, CF_LEASES), id.to_be_bytes(), encode(&rec)),
                None => self.batch.delete_cf(cf(db, CF_LEASES), id.to_be_bytes()),
            }
        }
        for (rev, events) in &self.events {
            self.batch
                .put_cf(cf(db, CF_EVENTS), rev_key(*rev), encode(events.as_ref()));
        }
        if let Some(to) = self.compacted_to {
            self.batch
                .delete_range_cf(cf(db, CF_EVENTS), rev_key(0), rev_key(to + 1));
        }
        self.batch
            .put_cf(cf(db, CF_SM), SM_REVISION, encode(&self.revision));
        self.batch
            .put_cf(cf(db, CF_SM), SM_COMPACT, encode(&self.compact_revision));
        self
    }
}

/// The whole MVCC state as a snapshot carries it (no history: a member that installs a
/// snapshot can serve watches only from the snapshot's revision on).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct MvccSnapshot {
    pub revision: Revision,
    pub kvs: Vec<KeyValue>,
    pub leases: Vec<(LeaseId, LeaseRecord)>,
}

impl MvccSnapshot {
    pub fn read(reader: &MvccReader<'_>) -> Result<MvccSnapshot> {
        let (revision, _) = reader.revisions()?;
        let mut kvs = Vec::new();
        for item in reader.view_iter(CF_KV, IteratorMode::Start) {
            let (_, v) = item.map_err(db_err)?;
            kvs.push(decode(&v).map_err(|e| corrupt("key", e))?);
        }
        Ok(MvccSnapshot {
            revision,
            kvs,
            leases: reader.leases()?,
        })
    }

    /// Replaces the whole MVCC state with this snapshot's, in `batch`.
    pub fn write_into(&self, db: &DB, batch: &mut WriteBatch) -> Result<()> {
        for name in [CF_KV, CF_LEASES, CF_EVENTS] {
            for item in db.iterator_cf(cf(db, name), IteratorMode::Start) {
                let (k, _) = item.map_err(db_err)?;
                batch.delete_cf(cf(db, name), k);
            }
        }
        for kv in &self.kvs {
            batch.put_cf(cf(db, CF_KV), &kv.key, encode(kv));
        }
        for (id, rec) in &self.leases {
            batch.put_cf(cf(db, CF_LEASES), id.to_be_bytes(), encode(rec));
        }
        batch.put_cf(cf(db, CF_SM), SM_REVISION, encode(&self.revision));
        batch.put_cf(cf(db, CF_SM), SM_COMPACT, encode(&self.revision));
        Ok(())
    }
}
