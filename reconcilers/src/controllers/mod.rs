//! The built-in controllers.

pub mod namespace;
pub mod serviceaccount;
