//! Keelson's reconcile framework (over `kube-runtime`), its built-in controllers and the
//! scheduler. Every loop sees the cluster only through `kube::Client`, never through the
//! API server's or the store's crates. It holds nothing yet.
