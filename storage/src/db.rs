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
    if fresh {
        std::fs::create_dir_all(&path).map_err(|source| OpenError::Io {
            path: path.clone(),
            source,
        })?;
    } else {
        check_is_ours(&path)?;
    }
    let mut opts = Options::default();
    opts.create_if_missing(fresh);
    opts.create_missing_column_families(fresh);
    opts.set_paranoid_checks(true);
    // RocksDB's diagnostic logs live beside the store, so that even an open that fails
    // (a damaged store) leaves the store's own files as they were.
    let log_dir = data_dir.join("store-logs");
    std::fs::create_dir_all(&log_dir).map_err(|source| OpenError::Io {
        path: log_dir.clone(),
        source,
    })?;
    opts.set_db_log_dir(&log_dir);
    let cfs = ALL_CFS
        .iter()
        .map(|name| ColumnFamilyDescriptor::new(*name, Options::default()));
    let db = DB::open_cf_descriptors(&opts, &path, cfs).map_err(rocks)?;
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

/// An existing dir must hold a RocksDB with exactly our column families.
fn check_is_ours(path: &Path) -> Result<(), OpenError> {
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
    Ok(())
}
