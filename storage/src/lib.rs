//! Keelson's store: an MVCC key-value store replicated with openraft and persisted in
//! RocksDB — what etcd is to Kubernetes.
//!
//! - [`types`]: the data model: keys with `create_revision`, `mod_revision`, `version` and
//!   lease; transactions with compares; ranges; watch messages; errors.
//! - `mvcc`: the key space in RocksDB and how commands change it, one global revision per
//!   transaction that writes; reads at past revisions from the retained events.
//! - `raft`: openraft's log store (fsynced) and state machine over RocksDB;
//!   `network`/`server`/`transport`: members talk HTTP/2 over mutual TLS, with `coalesce`
//!   gathering the frames of concurrent calls into one write.
//! - [`db`]: opening a data dir; a fresh store starts on a long, reused WAL so that synced
//!   appends do not grow the file.
//! - `batch`: group commit — concurrent transactions share one Raft entry and one fsync.
//! - [`Member`]: one running member and the in-process API; [`StoreClient`]: the same API
//!   over the network; [`pki`]: the cluster CA and identities.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use keelson_storage::{pki, Member, MemberConfig, RangeRequest};
//! let dir = std::path::PathBuf::from("/tmp/keelson-demo");
//! pki::init_ca(&dir.join("ca"), "demo-ca")?;
//! pki::issue(&dir.join("ca"), &dir.join("pki"), "member-1", &pki::default_sans())?;
//! let identity = pki::TlsIdentity::load(&dir.join("pki"))?;
//! let member = Member::start(MemberConfig::single(dir, "127.0.0.1:0".parse()?, identity)).await?;
//! let revision = member.txn(keelson_storage::TxnRequest {
//!     success: vec![keelson_storage::Op::put("/registry/a", "1")],
//!     ..Default::default()
//! }).await?.revision;
//! let page = member.range(RangeRequest::prefix("/registry/")).await?;
//! assert_eq!(page.kvs[0].mod_revision, revision);
//! # Ok(()) }
//! ```

// Input from clients, peers and the disk must never panic a member.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::unreachable,
        clippy::todo,
        clippy::unimplemented
    )
)]

mod batch;
mod client;
mod coalesce;
mod codec;
pub mod db;
mod lease;
mod member;
mod mvcc;
mod network;
pub mod pki;
mod raft;
mod server;
pub mod transport;
pub mod types;
mod watch;

pub use client::StoreClient;
pub use member::{
    Member, MemberConfig, DEFAULT_ELECTION_TIMEOUT_MAX, DEFAULT_ELECTION_TIMEOUT_MIN,
    DEFAULT_HEARTBEAT_INTERVAL,
};
pub use types::*;
pub use watch::{ProgressRequester, WatchStream};
