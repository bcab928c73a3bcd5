//! Custom resources (`apiextensions.k8s.io/v1`): CRDs become served resources
//! ([`controller`] accepts their names and serves them, [`definition`] makes their
//! descriptors, [`discovery`] lists them); what a version's structural schema does to its
//! objects ([`schema`]: validation, defaulting and pruning) and its CEL rules ([`cel`]:
//! `x-kubernetes-validations`), as the hooks of one [`strategy::CustomStrategy`].

pub mod cel;
pub mod controller;
pub mod definition;
pub mod discovery;
pub mod documents;
pub mod openapi;
pub mod schema;
pub mod strategy;
