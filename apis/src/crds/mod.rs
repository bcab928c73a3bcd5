//! This project's custom resources, defined in Rust with kube's `CustomResource` derive.
//! Keelson serves them as built-ins (the API server installs their CRDs at start), and
//! `codegen` writes their CRD manifests to `apis/src/generated/crds/` so the same types
//! can be installed on any cluster. `cargo run --bin codegen -- new` adds one here.

pub mod foo;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

/// The CRD of every custom resource of this project.
pub fn all() -> Vec<CustomResourceDefinition> {
    vec![
        // codegen new: registrations
        foo::Foo::crd(),
    ]
}
