//! Keelson's node agent (kubelet): a reconcile loop over the pods bound to one node, the
//! runtimes it drives (CRI, host processes, fake) and its HTTPS server for logs and exec.
//! It sees the cluster only through `kube::Client`. It holds nothing yet.
