//! Opening a member's data dir: one RocksDB with a column family per concern, refusing
//! anything that is not a Keelson store (without touching it) and a dir that belongs to
//! another member id.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rocksdb::{ColumnFamilyDescriptor, Options, DB};

use crate::codec::{decode, encode};
use crate::mvcc::{cf, ALL_CFS, CF_RAFT};

const MEMBER_ID_KEY: &[u8] = b"member_id";

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("{path} is not a Keelson store data dir: {why}; refusing to touch it")]
    Foreign { path: PathBuf, why: String },
    #[error("{path} belongs to store member {recorded}, not {requested}")]
    WrongMember {
        path: PathBuf,
        recorded: u64,
        requested: u64,
    },
    #[error("cannot open the store in {path}: {source}")]
    Rocks {
        path: PathBuf,
        source: rocksdb::Error,
    },
    #[error("cannot create {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The RocksDB directory inside a data dir.
pub fn store_path(data_dir: &Path) -> PathBuf {
    data_dir.join("store")
}

/// Opens (creating on first use) the store of member `member_id` in `data_dir`.
pub fn open(data_dir: &Path, member_id: u64) -> Result<Arc<DB>, OpenError> {
    let path = store_path(data_dir);
    let rocks = |source| OpenError::Rocks {
        path: path.clone(),
        source,
    };
    // An empty store dir is one whose first start stopped before RocksDB created its files.
    let fresh = std::fs::read_dir(&path).map_or(true, |mut d| d.next().is_none());
    let mut leftover_filler = false;
    if fresh {
        std::fs::create_dir_all(&path).map_err(|source| OpenError::Io {
            path: path.clone(),
            source,
        })?;
    } else {
        leftover_filler = check_is_ours(&path)?;
    }
    let mut opts = Options::default();
    opts.create_if_missing(fresh);
    opts.create_missing_column_families(fresh);
    opts.set_paranoid_checks(true);
    opts.set_recycle_log_file_num(WAL_FILES_KEPT_FOR_REUSE);
    // RocksDB's diagnostic logs live beside the store, so that even an open that fails
    // (a damaged store) leaves the store's own files as they were.
    let log_dir = data_dir.join("store-logs");
    std::fs::create_dir_all(&log_dir).map_err(|source| OpenError::Io {
        path: log_dir.clone(),
        source,
    })?;
    opts.set_db_log_dir(&log_dir);
    // A first start that stopped while making its first WAL left the filler behind.
    let filler = leftover_filler.then_some(FILLER_CF);
    let cfs = ALL_CFS
        .iter()
        .copied()
        .chain(filler)
        .map(|name| ColumnFamilyDescriptor::new(name, Options::default()));
    let mut db = DB::open_cf_descriptors(&opts, &path, cfs).map_err(rocks)?;
    if leftover_filler {
        db.drop_cf(FILLER_CF).map_err(rocks)?;
    }
    if fresh {
        start_on_a_long_wal(&mut db).map_err(rocks)?;
    }
    let recorded = db.get_cf(cf(&db, CF_RAFT), MEMBER_ID_KEY).map_err(rocks)?;
    match recorded {
        None => {
            let mut w = rocksdb::WriteOptions::default();
            w.set_sync(true);
            db.put_cf_opt(cf(&db, CF_RAFT), MEMBER_ID_KEY, encode(&member_id), &w)
                .map_err(rocks)?;
        }
        Some(bytes) => {
            let recorded: u64 = decode(&bytes).map_err(|e| OpenError::Foreign {
                path: path.clone(),
                why: format!("unreadable member id ({e})"),
            })?;
            if recorded != member_id {
                return Err(OpenError::WrongMember {
                    path,
                    recorded,
                    requested: member_id,
                });
            }
        }
    }
    Ok(Arc::new(db))
}

/// WAL files RocksDB keeps to write over in place instead of creating new ones.
const WAL_FILES_KEPT_FOR_REUSE: usize = 2;
/// How long the first WAL of a fresh store is made.
const FIRST_WAL_BYTES: usize = 32 << 20;
const FILLER_CF: &str = "wal_filler";

/// A synced append that grows a file must also write the file's new size; one into a file
/// that is already long enough writes only the data (on this project's machines, about a
/// third less time per fsync). RocksDB preallocates WAL space without growing the file, but
/// it writes over obsolete WAL files in place when asked to keep them for reuse. So a fresh
/// store fills one WAL with throwaway data and retires it twice over: the WAL it then writes
/// to is that long file. Later WALs are reused ones too, as memtables flush.
fn start_on_a_long_wal(db: &mut DB) -> Result<(), rocksdb::Error> {
    db.create_cf(FILLER_CF, &Options::default())?;
    let filler = vec![0u8; 1 << 20];
    if let Some(filler_cf) = db.cf_handle(FILLER_CF) {
        for i in 0..FIRST_WAL_BYTES / filler.len() {
            db.put_cf(filler_cf, i.to_be_bytes(), &filler)?;
        }
    }
    // Dropped unflushed: the filler never reaches a table file.
    db.drop_cf(FILLER_CF)?;
    // Each flush moves to another WAL: the first retires the long one, the second reuses it.
    for _ in 0..2 {
        db.put_cf(cf(db, CF_RAFT), b"wal_reuse", b"")?;
        db.flush_cf(cf(db, CF_RAFT))?;
    }
    db.delete_cf(cf(db, CF_RAFT), b"wal_reuse")
}

/// An existing dir must hold a RocksDB with our column families; whether it also holds the
/// filler of an unfinished first start.
fn check_is_ours(path: &Path) -> Result<bool, OpenError> {
    let foreign = |why: String| OpenError::Foreign {
        path: path.to_path_buf(),
        why,
    };
    if !path.join("CURRENT").exists() {
        return Err(foreign("it holds no RocksDB database".into()));
    }
    let cfs = DB::list_cf(&Options::default(), path).map_err(|source| OpenError::Rocks {
        path: path.to_path_buf(),
        source,
    })?;
    let missing: Vec<_> = ALL_CFS
        .iter()
        .filter(|c| !cfs.iter().any(|have| have == *c))
        .collect();
    if !missing.is_empty() {
        return Err(foreign(format!("it lacks the column families {missing:?}")));
    }
    Ok(cfs.iter().any(|c| c == FILLER_CF))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wal_lengths(data_dir: &Path) -> Vec<(String, u64)> {
        let mut logs: Vec<(String, u64)> = std::fs::read_dir(store_path(data_dir))
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".log"))
            .map(|e| {
                let len = e.metadata().unwrap().len();
                (e.file_name().to_string_lossy().into_owned(), len)
            })
            .collect();
        logs.sort();
        logs
    }

    #[test]
    fn a_fresh_store_writes_into_a_long_wal() {
        let dir = tempfile::tempdir().unwrap();
        let db = open(dir.path(), 1).unwrap();
        db.put_cf(cf(&db, CF_RAFT), b"k", b"v").unwrap();
        // RocksDB writes to the newest WAL; it is the long one, so appends do not grow it.
        let logs = wal_lengths(dir.path());
        let (name, len) = logs.last().expect("a WAL").clone();
        assert!(
            len >= FIRST_WAL_BYTES as u64,
            "the live WAL {name} is {len} bytes: {logs:?}"
        );
        drop(db);
        let db = open(dir.path(), 1).unwrap();
        assert_eq!(db.get_cf(cf(&db, CF_RAFT), b"k").unwrap().unwrap(), b"v");
        assert!(db.cf_handle(FILLER_CF).is_none());
    }

    #[test]
    fn the_filler_of_an_unfinished_first_start_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        drop(open(dir.path(), 1).unwrap());
        {
            let mut opts = Options::default();
            opts.create_missing_column_families(true);
            let names = ALL_CFS.iter().copied().chain([FILLER_CF]);
            let db = DB::open_cf(&opts, store_path(dir.path()), names).unwrap();
            db.put_cf(db.cf_handle(FILLER_CF).unwrap(), b"x", b"y")
                .unwrap();
        }
        let db = open(dir.path(), 1).unwrap();
        assert!(db.cf_handle(FILLER_CF).is_none());
        assert!(DB::list_cf(&Options::default(), store_path(dir.path()))
            .unwrap()
            .iter()
            .all(|c| c != FILLER_CF));
    }
}
