//! The store's public data model: keys with their revisions, transactions, ranges, watch
//! messages and errors. These types cross the wire between members and clients (bincode).

use serde::{Deserialize, Serialize};

/// A store revision: incremented once per committed transaction that changed something.
pub type Revision = u64;

/// A lease identifier; `0` means "no lease".
pub type LeaseId = u64;

/// The largest key accepted, like etcd's default.
pub const MAX_KEY_BYTES: usize = 64 * 1024;

/// The largest value accepted (etcd's default request limit is 1.5 MiB; Kubernetes objects
/// may reach 3 MiB at the API server, so the store allows a little more).
pub const MAX_VALUE_BYTES: usize = 4 * 1024 * 1024;

/// One key and its value as of some revision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyValue {
    #[serde(with = "serde_bytes")]
    pub key: Vec<u8>,
    #[serde(with = "serde_bytes")]
    pub value: Vec<u8>,
    /// The revision of the transaction that created the key (since its last deletion).
    pub create_revision: Revision,
    /// The revision of the transaction that last wrote the key.
    pub mod_revision: Revision,
    /// How many times the key was written since it was created (1 after creation).
    pub version: u64,
    /// The lease the key is attached to, or 0.
    pub lease: LeaseId,
}

/// A comparison evaluated by a transaction before it chooses its operations.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Compare {
    /// The key exists and was last written at exactly this revision.
    ModRevision {
        #[serde(with = "serde_bytes")]
        key: Vec<u8>,
        revision: Revision,
    },
    /// The key exists.
    Exists {
        #[serde(with = "serde_bytes")]
        key: Vec<u8>,
    },
    /// The key does not exist.
    Absent {
        #[serde(with = "serde_bytes")]
        key: Vec<u8>,
    },
}

impl Compare {
    pub fn key(&self) -> &[u8] {
        match self {
            Compare::ModRevision { key, .. }
            | Compare::Exists { key }
            | Compare::Absent { key } => key,
        }
    }
}

/// One operation of a transaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    Put {
        #[serde(with = "serde_bytes")]
        key: Vec<u8>,
        #[serde(with = "serde_bytes")]
        value: Vec<u8>,
        /// Attach the key to this lease (0: none). The lease must exist.
        lease: LeaseId,
    },
    Delete {
        #[serde(with = "serde_bytes")]
        key: Vec<u8>,
    },
    Get {
        #[serde(with = "serde_bytes")]
        key: Vec<u8>,
    },
}

impl Op {
    pub fn put(key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) -> Op {
        Op::Put {
            key: key.into(),
            value: value.into(),
            lease: 0,
        }
    }
    pub fn delete(key: impl Into<Vec<u8>>) -> Op {
        Op::Delete { key: key.into() }
    }
    pub fn get(key: impl Into<Vec<u8>>) -> Op {
        Op::Get { key: key.into() }
    }
    pub fn key(&self) -> &[u8] {
        match self {
            Op::Put { key, .. } | Op::Delete { key } | Op::Get { key } => key,
        }
    }
}

/// A transaction: if every compare holds, `success` runs, otherwise `failure`.
/// Everything it writes shares one new revision.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnRequest {
    pub compare: Vec<Compare>,
    pub success: Vec<Op>,
    pub failure: Vec<Op>,
}

/// The result of one operation, in the order of the chosen operation list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OpResponse {
    /// A put, with the key's previous value if it had one.
    Put { prev: Option<KeyValue> },
    /// A delete, with the value it removed (None when the key was absent).
    Delete { prev: Option<KeyValue> },
    /// A get, as of the transaction's point in the order.
    Get { kv: Option<KeyValue> },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnResponse {
    /// Whether every compare held (so `success` ran).
    pub succeeded: bool,
    /// The store's revision after the transaction: its own revision when it wrote something.
    pub revision: Revision,
    pub responses: Vec<OpResponse>,
}

/// A read of the keys that start with `prefix`, in key order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RangeRequest {
    #[serde(with = "serde_bytes")]
    pub prefix: Vec<u8>,
    /// Only keys strictly after this one (the `continue` point of a paged read).
    #[serde(with = "serde_bytes")]
    pub start_after: Vec<u8>,
    /// At most this many keys; 0 means no limit.
    pub limit: u64,
    /// Read as of this revision; 0 means the latest.
    pub revision: Revision,
    /// Serve from the member's local state without confirming leadership (may be stale).
    pub serializable: bool,
    /// Return keys and revisions without values.
    pub keys_only: bool,
}

impl RangeRequest {
    pub fn prefix(prefix: impl Into<Vec<u8>>) -> RangeRequest {
        RangeRequest {
            prefix: prefix.into(),
            ..Default::default()
        }
    }
    /// A read of exactly one key.
    pub fn key(key: impl Into<Vec<u8>>) -> RangeRequest {
        let key = key.into();
        RangeRequest {
            limit: 1,
            prefix: key,
            ..Default::default()
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RangeResponse {
    pub kvs: Vec<KeyValue>,
    /// More keys follow the last one returned.
    pub more: bool,
    /// The revision the read was served at.
    pub revision: Revision,
}

/// What changed in one event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventKind {
    Put,
    Delete,
}

/// One change to one key. For a delete, `kv` holds the key and the deleting revision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub kind: EventKind,
    pub kv: KeyValue,
    pub prev_kv: Option<KeyValue>,
}

/// Start a watch of every key under `prefix`, replaying history from `start_revision`
/// (0: only changes after the current revision).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchRequest {
    #[serde(with = "serde_bytes")]
    pub prefix: Vec<u8>,
    pub start_revision: Revision,
}

/// What a watch delivers, in revision order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WatchMessage {
    /// The events of one revision that match the watch.
    Events {
        revision: Revision,
        events: Vec<Event>,
    },
    /// Every change up to `revision` has been delivered.
    Progress { revision: Revision },
    /// The watch can no longer be served: its start, or a point it fell behind to, was
    /// compacted away. The watch ends after this message.
    Compacted { compact_revision: Revision },
}

/// A granted lease.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub id: LeaseId,
    pub ttl_seconds: u64,
}

/// The state of one member, as `keelson store status` prints it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberStatus {
    pub id: u64,
    pub address: String,
    pub members: Vec<(u64, String)>,
    pub leader: Option<u64>,
    pub term: u64,
    pub last_log_index: u64,
    pub commit_index: u64,
    pub applied_index: u64,
    pub revision: Revision,
    pub compact_revision: Revision,
}

/// Every error the store reports, to local callers and across the wire alike.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum StoreError {
    #[error("revision {requested} has been compacted (oldest available is {compact_revision})")]
    Compacted {
        requested: Revision,
        compact_revision: Revision,
    },
    #[error("revision {requested} is newer than the current revision {current}")]
    FutureRevision {
        requested: Revision,
        current: Revision,
    },
    #[error("invalid key: {0}")]
    InvalidKey(String),
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    #[error("lease {0} not found")]
    LeaseNotFound(LeaseId),
    /// The request may or may not have taken effect (a leader was lost mid-request, a call
    /// timed out).
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    /// The request never reached a member, so it certainly had no effect: safe to retry.
    #[error("{0}")]
    Unreachable(String),
    #[error("internal store error: {0}")]
    Internal(String),
}

impl StoreError {
    /// Whether retrying the same request later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            StoreError::Unavailable(_) | StoreError::Unreachable(_)
        )
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Checks a key that a client wants to write or read.
pub fn validate_key(key: &[u8]) -> Result<()> {
    if key.is_empty() {
        return Err(StoreError::InvalidKey("a key must not be empty".into()));
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(StoreError::InvalidKey(format!(
            "a key must be at most {MAX_KEY_BYTES} bytes, this one has {}",
            key.len()
        )));
    }
    Ok(())
}

impl TxnRequest {
    /// Rejects a transaction that cannot be applied, before it is replicated.
    pub fn validate(&self) -> Result<()> {
        for c in &self.compare {
            validate_key(c.key())?;
        }
        for op in self.success.iter().chain(&self.failure) {
            validate_key(op.key())?;
            if let Op::Put { value, .. } = op {
                if value.len() > MAX_VALUE_BYTES {
                    return Err(StoreError::InvalidRequest(format!(
                        "a value must be at most {MAX_VALUE_BYTES} bytes, this one has {}",
                        value.len()
                    )));
                }
            }
        }
        Ok(())
    }
}
