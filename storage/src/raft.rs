//! openraft's storage traits over RocksDB: the log store (column families `raft_log` and
//! `raft_meta`) and the state machine (the MVCC column families), kept apart as in
//! openraft's `raft-kv-rocksdb` example.
//!
//! Durability: an append is written to RocksDB with a synced WAL write before Raft is told it
//! is flushed; openraft 0.9 waits for each flush before its next append, so concurrent
//! writers share fsyncs by being batched into one entry beforehand (see `batch`).
//! The state machine's writes are not synced on their own: after a crash, Raft re-applies
//! the durable log from the last applied index that reached the disk.

// openraft's own error type is large; its signatures are openraft's to choose.
#![allow(clippy::result_large_err)]

use std::io::Cursor;
use std::ops::{Bound, RangeBounds};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use openraft::storage::{LogFlushed, RaftLogStorage, RaftStateMachine};
use openraft::{
    AnyError, BasicNode, Entry, EntryPayload, LogId, LogState, RaftLogReader, RaftSnapshotBuilder,
    Snapshot, SnapshotMeta, StorageError, StorageIOError, StoredMembership, Vote,
};
use rocksdb::{Direction, IteratorMode, WriteBatch, WriteOptions, DB};
use serde::{Deserialize, Serialize};

use crate::codec::{decode, encode};
use crate::lease::LeaseClock;
use crate::mvcc::{
    cf, ApplyBatch, Command, CommandResponse, MvccReader, MvccSnapshot, CF_LOG, CF_RAFT, CF_SM,
};
use crate::watch::WatchHub;

openraft::declare_raft_types!(
    /// The Raft types of the Keelson store.
    pub TypeConfig:
        D = Command,
        R = CommandResponse,
        NodeId = u64,
        Node = BasicNode,
        Entry = Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
);

pub type Raft = openraft::Raft<TypeConfig>;
type StorageResult<T> = Result<T, StorageError<u64>>;

const VOTE: &[u8] = b"vote";
const LAST_PURGED: &[u8] = b"last_purged";
const SM_APPLIED: &[u8] = b"applied";
const SM_MEMBERSHIP: &[u8] = b"membership";
const SM_SNAPSHOT: &[u8] = b"snapshot";

fn any(e: impl std::fmt::Display) -> AnyError {
    AnyError::error(e)
}

fn synced() -> WriteOptions {
    let mut w = WriteOptions::default();
    w.set_sync(true);
    w
}

fn get_meta<T: for<'de> Deserialize<'de>>(
    db: &DB,
    cf_name: &str,
    key: &[u8],
) -> Result<Option<T>, AnyError> {
    match db.get_cf(cf(db, cf_name), key).map_err(any)? {
        None => Ok(None),
        Some(bytes) => decode(&bytes).map(Some).map_err(any),
    }
}

/// The Raft log in RocksDB.
#[derive(Clone)]
pub struct LogStore {
    db: Arc<DB>,
    /// The last committed index Raft told us of, for status reports.
    committed: Arc<AtomicU64>,
}

impl LogStore {
    pub fn new(db: Arc<DB>) -> LogStore {
        LogStore {
            db,
            committed: Arc::default(),
        }
    }

    /// The commit index as Raft last saved it.
    pub fn committed_index(&self) -> Arc<AtomicU64> {
        self.committed.clone()
    }

    fn log_cf(&self) -> &rocksdb::ColumnFamily {
        cf(&self.db, CF_LOG)
    }

    fn last_purged(&self) -> StorageResult<Option<LogId<u64>>> {
        // Stores written before the fix hold an encoded `Option<LogId>`; read both.
        match get_meta::<LogId<u64>>(&self.db, CF_RAFT, LAST_PURGED) {
            Ok(found) => Ok(found),
            Err(_) => get_meta::<Option<LogId<u64>>>(&self.db, CF_RAFT, LAST_PURGED)
                .map(Option::flatten)
                .map_err(|e| StorageIOError::read_logs(e).into()),
        }
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + std::fmt::Debug + Send>(
        &mut self,
        range: RB,
    ) -> StorageResult<Vec<Entry<TypeConfig>>> {
        let start = match range.start_bound() {
            Bound::Included(i) => *i,
            Bound::Excluded(i) => i.saturating_add(1),
            Bound::Unbounded => 0,
        };
        let mut out = Vec::new();
        let from = start.to_be_bytes();
        for item in self
            .db
            .iterator_cf(self.log_cf(), IteratorMode::From(&from, Direction::Forward))
        {
            let (key, value) = item.map_err(|e| StorageIOError::read_logs(any(e)))?;
            let index = u64::from_be_bytes(
                key.as_ref()
                    .try_into()
                    .map_err(|e| StorageIOError::read_logs(any(e)))?,
            );
            if !range.contains(&index) {
                break;
            }
            out.push(decode(&value).map_err(|e| StorageIOError::read_log_at_index(index, any(e)))?);
        }
        Ok(out)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> StorageResult<LogState<TypeConfig>> {
        let last_purged_log_id = self.last_purged()?;
        let last = self.db.iterator_cf(self.log_cf(), IteratorMode::End).next();
        let last_log_id = match last {
            None => last_purged_log_id,
            Some(item) => {
                let (_, value) = item.map_err(|e| StorageIOError::read_logs(any(e)))?;
                let entry: Entry<TypeConfig> =
                    decode(&value).map_err(|e| StorageIOError::read_logs(any(e)))?;
                Some(entry.log_id)
            }
        };
        Ok(LogState {
            last_purged_log_id,
            last_log_id,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<u64>) -> StorageResult<()> {
        self.db
            .put_cf_opt(cf(&self.db, CF_RAFT), VOTE, encode(vote), &synced())
            .map_err(|e| StorageIOError::write_vote(any(e)).into())
    }

    async fn read_vote(&mut self) -> StorageResult<Option<Vote<u64>>> {
        get_meta(&self.db, CF_RAFT, VOTE).map_err(|e| StorageIOError::read_vote(e).into())
    }

    /// Kept in memory only (for status): persisting it is optional in openraft, and a
    /// restarted member learns the commit index again from its log and its leader.
    async fn save_committed(&mut self, committed: Option<LogId<u64>>) -> StorageResult<()> {
        self.committed
            .store(committed.map_or(0, |c| c.index), Ordering::Relaxed);
        Ok(())
    }

    async fn append<I>(&mut self, entries: I, callback: LogFlushed<TypeConfig>) -> StorageResult<()>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + Send,
        I::IntoIter: Send,
    {
        let mut batch = WriteBatch::default();
        for entry in entries {
            batch.put_cf(
                self.log_cf(),
                entry.log_id.index.to_be_bytes(),
                encode(&entry),
            );
        }
        let result = self.db.write_opt(batch, &synced());
        callback.log_io_completed(
            result
                .as_ref()
                .map(|_| ())
                .map_err(|e| std::io::Error::other(e.to_string())),
        );
        result.map_err(|e| StorageIOError::write_logs(any(e)))?;
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId<u64>) -> StorageResult<()> {
        let mut batch = WriteBatch::default();
        batch.delete_range_cf(
            self.log_cf(),
            log_id.index.to_be_bytes(),
            u64::MAX.to_be_bytes(),
        );
        batch.delete_cf(self.log_cf(), u64::MAX.to_be_bytes());
        self.db
            .write_opt(batch, &synced())
            .map_err(|e| StorageIOError::write_logs(any(e)).into())
    }

    async fn purge(&mut self, log_id: LogId<u64>) -> StorageResult<()> {
        let mut batch = WriteBatch::default();
        batch.put_cf(cf(&self.db, CF_RAFT), LAST_PURGED, encode(&log_id));
        batch.delete_range_cf(
            self.log_cf(),
            0u64.to_be_bytes(),
            (log_id.index + 1).to_be_bytes(),
        );
        self.db
            .write_opt(batch, &synced())
            .map_err(|e| StorageIOError::write_logs(any(e)).into())
    }
}

/// A snapshot as kept in the state machine's column family.
#[derive(Serialize, Deserialize)]
struct StoredSnapshot {
    meta: SnapshotMeta<u64, BasicNode>,
    data: Vec<u8>,
}

/// The replicated state machine: the MVCC key space plus what Raft needs to know of it.
#[derive(Clone)]
pub struct StateMachine {
    db: Arc<DB>,
    hub: Arc<WatchHub>,
    leases: Arc<LeaseClock>,
}

impl StateMachine {
    pub(crate) fn new(
        db: Arc<DB>,
        hub: Arc<WatchHub>,
        leases: Arc<LeaseClock>,
    ) -> StorageResult<StateMachine> {
        let sm = StateMachine { db, hub, leases };
        let reader = MvccReader::latest(&sm.db);
        let (revision, _) = reader
            .revisions()
            .map_err(|e| StorageIOError::read_state_machine(any(e)))?;
        sm.hub.reset(revision);
        let leases = reader
            .leases()
            .map_err(|e| StorageIOError::read_state_machine(any(e)))?;
        sm.leases
            .reset(leases.iter().map(|(id, rec)| (*id, rec.ttl_seconds)));
        Ok(sm)
    }
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachine {
    async fn build_snapshot(&mut self) -> StorageResult<Snapshot<TypeConfig>> {
        let err = |e| StorageError::from(StorageIOError::read_state_machine(any(e)));
        // One RocksDB snapshot, so the applied index matches the data exactly.
        let view = self.db.snapshot();
        let applied: Option<LogId<u64>> = match view
            .get_cf(cf(&self.db, CF_SM), SM_APPLIED)
            .map_err(|e| err(e.to_string()))?
        {
            None => None,
            Some(b) => decode(&b).map_err(|e| err(e.to_string()))?,
        };
        let membership: StoredMembership<u64, BasicNode> = match view
            .get_cf(cf(&self.db, CF_SM), SM_MEMBERSHIP)
            .map_err(|e| err(e.to_string()))?
        {
            None => StoredMembership::default(),
            Some(b) => decode(&b).map_err(|e| err(e.to_string()))?,
        };
        let state =
            MvccSnapshot::read(&MvccReader::at(&self.db, &view)).map_err(|e| err(e.to_string()))?;
        drop(view);
        let snapshot_id = match applied {
            Some(id) => format!("{}-{}-{}", id.leader_id.term, id.index, state.revision),
            None => format!("0-0-{}", state.revision),
        };
        let meta = SnapshotMeta {
            last_log_id: applied,
            last_membership: membership,
            snapshot_id,
        };
        let stored = StoredSnapshot {
            meta: meta.clone(),
            data: encode(&state),
        };
        self.db
            .put_cf(cf(&self.db, CF_SM), SM_SNAPSHOT, encode(&stored))
            .map_err(|e| StorageIOError::write_snapshot(None, any(e)))?;
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(stored.data)),
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = Self;

    async fn applied_state(
        &mut self,
    ) -> StorageResult<(Option<LogId<u64>>, StoredMembership<u64, BasicNode>)> {
        let applied = get_meta::<Option<LogId<u64>>>(&self.db, CF_SM, SM_APPLIED)
            .map_err(StorageIOError::read_state_machine)?
            .flatten();
        let membership = get_meta(&self.db, CF_SM, SM_MEMBERSHIP)
            .map_err(StorageIOError::read_state_machine)?
            .unwrap_or_default();
        Ok((applied, membership))
    }

    async fn apply<I>(&mut self, entries: I) -> StorageResult<Vec<CommandResponse>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + Send,
        I::IntoIter: Send,
    {
        let sm_err = |e: crate::types::StoreError| {
            StorageError::from(StorageIOError::write_state_machine(any(e)))
        };
        let mut batch = ApplyBatch::new(&self.db).map_err(sm_err)?;
        let mut responses = Vec::new();
        let mut applied = None;
        let mut membership = None;
        for entry in entries {
            applied = Some(entry.log_id);
            responses.push(match &entry.payload {
                EntryPayload::Blank => CommandResponse::Nothing,
                EntryPayload::Normal(command) => batch
                    .apply(command, entry.log_id.index)
                    .map_err(|e| StorageIOError::apply(entry.log_id, any(e)))?,
                EntryPayload::Membership(m) => {
                    membership = Some(StoredMembership::new(Some(entry.log_id), m.clone()));
                    CommandResponse::Nothing
                }
            });
        }
        let mut batch = batch.finish();
        batch
            .batch
            .put_cf(cf(&self.db, CF_SM), SM_APPLIED, encode(&applied));
        if let Some(m) = &membership {
            batch
                .batch
                .put_cf(cf(&self.db, CF_SM), SM_MEMBERSHIP, encode(m));
        }
        let write = std::mem::take(&mut batch.batch);
        self.db
            .write(write)
            .map_err(|e| StorageIOError::write_state_machine(any(e)))?;
        for lease in &batch.granted {
            self.leases.granted(*lease);
        }
        for id in &batch.revoked {
            self.leases.revoked(*id);
        }
        self.hub.publish(batch.revision, batch.events);
        Ok(responses)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(&mut self) -> StorageResult<Box<Cursor<Vec<u8>>>> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<u64, BasicNode>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> StorageResult<()> {
        let data = snapshot.into_inner();
        let state: MvccSnapshot = decode(&data)
            .map_err(|e| StorageIOError::read_snapshot(Some(meta.signature()), any(e)))?;
        let mut batch = WriteBatch::default();
        state
            .write_into(&self.db, &mut batch)
            .map_err(|e| StorageIOError::write_snapshot(Some(meta.signature()), any(e)))?;
        batch.put_cf(cf(&self.db, CF_SM), SM_APPLIED, encode(&meta.last_log_id));
        batch.put_cf(
            cf(&self.db, CF_SM),
            SM_MEMBERSHIP,
            encode(&meta.last_membership),
        );
        let stored = StoredSnapshot {
            meta: meta.clone(),
            data,
        };
        batch.put_cf(cf(&self.db, CF_SM), SM_SNAPSHOT, encode(&stored));
        self.db
            .write_opt(batch, &synced())
            .map_err(|e| StorageIOError::write_snapshot(Some(meta.signature()), any(e)))?;
        self.leases
            .reset(state.leases.iter().map(|(id, rec)| (*id, rec.ttl_seconds)));
        self.hub.reset(state.revision);
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> StorageResult<Option<Snapshot<TypeConfig>>> {
        let stored: Option<StoredSnapshot> = get_meta(&self.db, CF_SM, SM_SNAPSHOT)
            .map_err(|e| StorageIOError::read_snapshot(None, e))?;
        Ok(stored.map(|s| Snapshot {
            meta: s.meta,
            snapshot: Box::new(Cursor::new(s.data)),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openraft::CommittedLeaderId;

    #[tokio::test]
    async fn a_purged_log_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let log_id = LogId::new(CommittedLeaderId::new(3, 1), 41);
        {
            let db = crate::db::open(dir.path(), 1).unwrap();
            let mut store = LogStore::new(db);
            store.purge(log_id).await.unwrap();
            assert_eq!(
                store.get_log_state().await.unwrap().last_purged_log_id,
                Some(log_id)
            );
        }
        let db = crate::db::open(dir.path(), 1).unwrap();
        let mut store = LogStore::new(db.clone());
        assert_eq!(
            store.get_log_state().await.unwrap().last_purged_log_id,
            Some(log_id)
        );
        // What stores written before the fix hold still reads.
        db.put_cf(cf(&db, CF_RAFT), LAST_PURGED, encode(&Some(log_id)))
            .unwrap();
        assert_eq!(store.last_purged().unwrap(), Some(log_id));
    }
}
