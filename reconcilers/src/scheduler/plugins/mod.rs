//! The plugins of the default profile, one per file, by upstream's names. Each one's
//! filter reasons are upstream's, word for word: they end up in FailedScheduling events.

pub mod balanced_allocation;
pub mod image_locality;
pub mod inter_pod_affinity;
pub mod node_affinity;
pub mod node_name;
pub mod node_ports;
pub mod node_resources_fit;
pub mod node_unschedulable;
pub mod pod_topology_spread;
pub mod taint_toleration;
pub mod volume_binding;
