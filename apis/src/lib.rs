//! The resource catalogue of Keelson: which API types exist and how they are served.
//!
//! This crate will hold one descriptor per served resource (group, version, kind, plural,
//! scope, subresources, verbs, storage path, schema), built from the `k8s-openapi` types and
//! from Keelson's own CRDs (`#[derive(CustomResource, JsonSchema)]`). `codegen` reads it to
//! write the route table, storage paths, OpenAPI and discovery documents under `generated/`.
//! It is filled by the API-server work; it holds nothing yet.
