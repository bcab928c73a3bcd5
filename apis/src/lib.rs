//! The resource catalogue of Keelson: which API types exist and how they are served.
//!
//! - [`catalogue`]: one [`catalogue::ApiResource`] per served resource, joining upstream
//!   v1.35's discovery facts (names, scope, verbs, short names, categories, subresources) with
//!   the k8s-openapi type of its kind (group/version/kind, schema, typed decode) and its
//!   `/registry/...` storage prefix; plus the merge metadata strategic merge patch needs.
//! - [`openapi`]: builds the OpenAPI v3 documents and the discovery documents from the
//!   catalogue. `codegen` writes them under the API server's `generated/`, which it serves.
//! - [`crds`]: this project's custom resources, typed with kube's `CustomResource` derive;
//!   Keelson serves them as built-ins and codegen writes their CRD manifests.
//! - [`cidr`]: IPv4 CIDRs (`--cluster-cidr`, the nodes' pod CIDRs).
//! - [`quantity`]: resource quantities (`500m`, `1.5Gi`) read, compared and printed as upstream
//!   does; the API server validates with it, the scheduler counts requests with it.
//!
//! ```
//! let deployments = keelson_apis::catalogue::find("apps", "v1", "deployments").unwrap();
//! assert_eq!(deployments.facts.short_names, &["deploy"]);
//! assert_eq!(deployments.storage_prefix(), "/registry/deployments/");
//! ```

pub mod catalogue;
pub mod cidr;
pub mod crds;
pub mod openapi;
pub mod quantity;

/// The Kubernetes version Keelson speaks; `/version` reports it.
pub const KUBERNETES_VERSION: &str = "v1.35.0";
