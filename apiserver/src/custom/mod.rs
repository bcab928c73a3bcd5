//! Custom resources (`apiextensions.k8s.io/v1`): what a CustomResourceDefinition's
//! structural schema does to the objects of its resource ([`schema`]: validation,
//! defaulting and pruning) and its CEL rules ([`cel`]: `x-kubernetes-validations`).

pub mod cel;
pub mod schema;
