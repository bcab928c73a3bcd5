//! Keelson's API server: the HTTPS front end that real Kubernetes clients talk to.
//!
//! A request will pass authentication, authorization, admission, the generic registry with
//! its per-resource strategy, and reach `keelson-storage`; discovery, OpenAPI, Table output,
//! patch, watch cache and CRD serving live here too. It holds nothing yet.
