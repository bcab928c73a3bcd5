//! The options requests pass to the registry (`fieldValidation`, the options every write
//! shares, a list's selectors and paging) and what a write returns.

use serde_json::Value;

use crate::selectors::{FieldSelector, LabelSelector};
use crate::status::{ApiError, ApiResult};

/// `fieldValidation`: what to do with unknown fields in a body.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum FieldValidation {
    Ignore,
    #[default]
    Warn,
    Strict,
}

impl FieldValidation {
    pub fn parse(value: Option<&str>) -> ApiResult<FieldValidation> {
        match value {
            None | Some("") | Some("Warn") => Ok(FieldValidation::Warn),
            Some("Ignore") => Ok(FieldValidation::Ignore),
            Some("Strict") => Ok(FieldValidation::Strict),
            Some(other) => Err(ApiError::bad_request(format!(
                "fieldValidation must be one of Ignore, Warn or Strict, not {other:?}"
            ))),
        }
    }
}

/// Options every write shares.
#[derive(Clone, Debug, Default)]
pub struct WriteOptions {
    pub dry_run: bool,
    pub field_validation: FieldValidation,
    pub field_manager: Option<String>,
    /// `force` of an apply: take fields other managers own.
    pub force: bool,
    /// The request's User-Agent, whose product names the field manager when the request
    /// names none.
    pub user_agent: Option<String>,
    /// Set by server-side apply: the object's managedFields are the apply's already.
    pub applied: bool,
    /// Fields the request body named twice (found while decoding its bytes).
    pub duplicate_fields: Vec<String>,
}

/// A write's result: the HTTP code, the object, and warnings for the `Warning` header.
#[derive(Debug)]
pub struct Outcome {
    pub code: u16,
    pub object: Value,
    pub warnings: Vec<String>,
}

/// `labelSelector`, `fieldSelector`, `limit`, `continue`, `resourceVersion`,
/// `resourceVersionMatch` of a list.
#[derive(Clone, Debug, Default)]
pub struct ListOptions {
    pub labels: LabelSelector,
    pub fields: FieldSelector,
    pub limit: Option<u64>,
    pub continue_token: Option<String>,
    pub resource_version: Option<String>,
    pub resource_version_match: Option<String>,
}
