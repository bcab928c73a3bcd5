//! Errors as clients expect them: a `meta/v1 Status` with upstream's `code` and `reason`.

use serde_json::{json, Value};

/// One field-level problem of an Invalid (422) error.
#[derive(Debug, Clone, PartialEq)]
pub struct Cause {
    pub reason: &'static str,
    pub field: String,
    pub message: String,
}

impl Cause {
    pub fn invalid(field: impl Into<String>, value: impl std::fmt::Display, detail: &str) -> Cause {
        Cause {
            reason: "FieldValueInvalid",
            field: field.into(),
            message: format!("Invalid value: \"{value}\": {detail}"),
        }
    }
    pub fn required(field: impl Into<String>) -> Cause {
        Cause {
            reason: "FieldValueRequired",
            field: field.into(),
            message: "Required value".into(),
        }
    }
    pub fn forbidden(field: impl Into<String>, detail: &str) -> Cause {
        Cause {
            reason: "FieldValueForbidden",
            field: field.into(),
            message: format!("Forbidden: {detail}"),
        }
    }
    /// A value named twice where it must be unique (printed as JSON, as upstream does).
    pub fn duplicate(field: impl Into<String>, value: &Value) -> Cause {
        Cause {
            reason: "FieldValueDuplicate",
            field: field.into(),
            message: format!("Duplicate value: {value}"),
        }
    }
    pub fn too_long(field: impl Into<String>, max_bytes: usize) -> Cause {
        Cause {
            reason: "FieldValueTooLong",
            field: field.into(),
            message: format!("Too long: may not be more than {max_bytes} bytes"),
        }
    }
    pub fn immutable(field: impl Into<String>, value: &Value) -> Cause {
        Cause {
            reason: "FieldValueInvalid",
            field: field.into(),
            message: format!("Invalid value: {value}: field is immutable"),
        }
    }
}

/// An API error; becomes a Status response.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    pub details: Option<Value>,
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }
    /// `kind` as upstream qualifies it in messages: `deployments.apps` or `configmaps`.
    fn qualified(group: &str, plural: &str) -> String {
        if group.is_empty() {
            plural.to_string()
        } else {
            format!("{plural}.{group}")
        }
    }
    fn with_details(mut self, group: &str, plural: &str, name: &str) -> ApiError {
        let mut details = json!({ "name": name, "kind": plural });
        if !group.is_empty() {
            crate::strategy::set(&mut details, &["group"], json!(group));
        }
        self.details = Some(details);
        self
    }
    pub fn not_found(group: &str, plural: &str, name: &str) -> ApiError {
        let q = Self::qualified(group, plural);
        Self::new(404, "NotFound", format!("{q} \"{name}\" not found"))
            .with_details(group, plural, name)
    }
    pub fn already_exists(group: &str, plural: &str, name: &str) -> ApiError {
        let q = Self::qualified(group, plural);
        Self::new(
            409,
            "AlreadyExists",
            format!("{q} \"{name}\" already exists"),
        )
        .with_details(group, plural, name)
    }
    pub fn conflict(group: &str, plural: &str, name: &str, why: &str) -> ApiError {
        let q = Self::qualified(group, plural);
        Self::new(
            409,
            "Conflict",
            format!("Operation cannot be fulfilled on {q} \"{name}\": {why}"),
        )
        .with_details(group, plural, name)
    }
    /// 422 with field causes; `kind_group` is `Deployment.apps` or `ConfigMap`.
    pub fn invalid(kind: &str, group: &str, name: &str, causes: Vec<Cause>) -> ApiError {
        let qualified_kind = if group.is_empty() {
            kind.to_string()
        } else {
            format!("{kind}.{group}")
        };
        let summary: Vec<String> = causes
            .iter()
            .map(|c| {
                if c.field.is_empty() {
                    c.message.clone()
                } else {
                    format!("{}: {}", c.field, c.message)
                }
            })
            .collect();
        let summary = if summary.len() == 1 {
            summary.join("")
        } else {
            format!("[{}]", summary.join(", "))
        };
        let mut details = json!({ "name": name, "kind": kind, "causes": causes.iter().map(|c| json!({
            "reason": c.reason, "message": c.message, "field": c.field,
        })).collect::<Vec<_>>() });
        if !group.is_empty() {
            crate::strategy::set(&mut details, &["group"], json!(group));
        }
        ApiError {
            code: 422,
            reason: "Invalid",
            message: format!("{qualified_kind} \"{name}\" is invalid: {summary}"),
            details: Some(details),
        }
    }
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        Self::new(400, "BadRequest", message)
    }
    pub fn unauthorized() -> ApiError {
        Self::new(401, "Unauthorized", "Unauthorized")
    }
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        Self::new(403, "Forbidden", message)
    }
    pub fn method_not_allowed(message: impl Into<String>) -> ApiError {
        Self::new(405, "MethodNotAllowed", message)
    }
    pub fn not_acceptable(message: impl Into<String>) -> ApiError {
        Self::new(406, "NotAcceptable", message)
    }
    pub fn gone(message: impl Into<String>) -> ApiError {
        Self::new(410, "Expired", message)
    }
    pub fn too_large(message: impl Into<String>) -> ApiError {
        Self::new(413, "RequestEntityTooLarge", message)
    }
    pub fn unsupported_media_type(content_type: &str) -> ApiError {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!("the body of the request was in an unknown format - accepted media types include: application/json, application/yaml (got {content_type:?})"),
        )
    }
    pub fn not_found_path() -> ApiError {
        Self::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
    }
    pub fn internal(message: impl Into<String>) -> ApiError {
        Self::new(500, "InternalError", message)
    }
    pub fn unavailable(message: impl Into<String>) -> ApiError {
        Self::new(503, "ServiceUnavailable", message)
    }
    pub fn timeout(message: impl Into<String>) -> ApiError {
        Self::new(504, "Timeout", message)
    }

    /// The `meta/v1 Status` body, in upstream's field order.
    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
        });
        if let (Some(details), Some(map)) = (&self.details, status.as_object_mut()) {
            map.insert("details".into(), details.clone());
        }
        if let Some(map) = status.as_object_mut() {
            map.insert("code".into(), json!(self.code));
        }
        status
    }
}

impl From<keelson_storage::StoreError> for ApiError {
    fn from(e: keelson_storage::StoreError) -> ApiError {
        use keelson_storage::StoreError as E;
        match e {
            E::Compacted { requested, .. } => ApiError::gone(format!(
                "The resourceVersion for the provided watch is too old. (requested {requested})"
            )),
            E::FutureRevision { requested, current } => ApiError::timeout(format!(
                "Too large resource version: {requested}, current: {current}"
            )),
            E::InvalidKey(m) | E::InvalidRequest(m) => ApiError::bad_request(m),
            E::LeaseNotFound(id) => ApiError::internal(format!("lease {id} not found")),
            E::Unavailable(m) | E::Unreachable(m) => ApiError::unavailable(m),
            E::Internal(m) => ApiError::internal(m),
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
