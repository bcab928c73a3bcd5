//! Keelson's node agent (kubelet). It sees the cluster only through `kube::Client`, so it
//! runs the same inside `keelson up` (over the API server's in-process service) and as
//! `keelson node` against any cluster (over HTTPS with a kubeconfig). So far its nodes are
//! simulated: many of them per process, each running its pods with the fake runtime.
//!
//! How the parts fit, for each node of a process ([`agent`] starts them together):
//!
//! - [`registration`]: the `Node` object — registered (or taken over) with its labels,
//!   capacity, addresses, `nodeInfo` and a pod CIDR ([`ipam`]), and its status kept current;
//! - [`lease`]: the node's Lease in `kube-node-lease`, renewed every 10 s (the nodes'
//!   heartbeats spread over the period by [`jitter`]);
//! - [`pods`]: the pod loop, one `keelson_reconcilers::Reconciler` for the pods of all the
//!   process's nodes (one shared Pod informer): it makes sandboxes, starts and stops
//!   containers through a [`runtime::Runtime`] as [`actions`] plans them (init containers,
//!   restart policy, the crash-loop [`backoff`]), honours graceful deletion, and writes the
//!   pod status that [`status`] computes (phase, conditions, container statuses);
//! - [`runtime`]: the CRI-shaped runtime interface; [`fake`] its in-memory implementation,
//!   whose containers run until the pod's `sim.keelson.dev/*` annotations say they exit;
//! - [`client`]: the bounded client `keelson node` talks to its cluster with;
//! - [`config`]: what the nodes are made of (the `--simulated-node-*` flags), [`quantity`]
//!   the resource amounts in them.
//!
//! Still to come (see ARCHITECTURE.md §6): the CRI and host-process runtimes, probes that
//! run, volumes, the Downward API, static pods, and the HTTPS server for logs and exec.

// Input from the API and the command line must never panic the agent.
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

pub mod actions;
pub mod agent;
pub mod backoff;
pub mod client;
pub mod config;
pub mod fake;
pub mod ipam;
pub mod jitter;
pub mod lease;
pub mod pods;
pub mod quantity;
pub mod registration;
pub mod runtime;
pub mod status;

pub use agent::SimulatedNodes;
pub use config::SimulatedNodesConfig;
