//! Errors as clients expect them: a `meta/v1 Status` with upstream's `code` and `reason`.

use serde_json::{json, Value};

/// How upstream prints a bad value in a field error: strings as Go's `%q`, numbers and
/// booleans bare, anything else as JSON.
pub trait Shown {
    fn shown(&self) -> String;
}

impl Shown for str {
    fn shown(&self) -> String {
        go_quote(self)
    }
}

impl Shown for String {
    fn shown(&self) -> String {
        go_quote(self)
    }
}

impl Shown for Value {
    fn shown(&self) -> String {
        match self {
            Value::String(s) => go_quote(s),
            other => other.to_string(),
        }
    }
}

macro_rules! shown_bare {
    ($($t:ty),*) => {$(
        impl Shown for $t {
            fn shown(&self) -> String {
                self.to_string()
            }
        }
    )*};
}
shown_bare!(i64, i32, u64, u32, u16, usize, bool);

impl<T: Shown + ?Sized> Shown for &T {
    fn shown(&self) -> String {
        (**self).shown()
    }
}

/// Go's `strconv.Quote`: double quotes, with `"` and `\` escaped, control and other
/// unprintable characters as escapes.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len().saturating_add(2));
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x80 && (c.is_ascii_control()) => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if c.is_control() || (c.is_whitespace() && c != ' ') => {
                let code = c as u32;
                if code < 0x10000 {
                    out.push_str(&format!("\\u{code:04x}"));
                } else {
                    out.push_str(&format!("\\U{code:08x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// One field-level problem of an Invalid (422) error, with upstream's reason, field path
/// and message (the message without the field, as upstream's `ErrorBody`).
#[derive(Debug, Clone, PartialEq)]
pub struct Cause {
    pub reason: &'static str,
    pub field: String,
    pub message: String,
}

impl Cause {
    /// `Invalid value: <value>: <detail>` (no detail part when it is empty).
    pub fn invalid(field: impl Into<String>, value: impl Shown, detail: &str) -> Cause {
        let mut message = format!("Invalid value: {}", value.shown());
        if !detail.is_empty() {
            message.push_str(": ");
            message.push_str(detail);
        }
        Cause {
            reason: "FieldValueInvalid",
            field: field.into(),
            message,
        }
    }
    pub fn required(field: impl Into<String>) -> Cause {
        Cause {
            reason: "FieldValueRequired",
            field: field.into(),
            message: "Required value".into(),
        }
    }
    /// `Required value: <detail>`.
    pub fn required_with(field: impl Into<String>, detail: &str) -> Cause {
        Cause {
            reason: "FieldValueRequired",
            field: field.into(),
            message: format!("Required value: {detail}"),
        }
    }
    pub fn forbidden(field: impl Into<String>, detail: &str) -> Cause {
        Cause {
            reason: "FieldValueForbidden",
            field: field.into(),
            message: format!("Forbidden: {detail}"),
        }
    }
    /// A value named twice where it must be unique.
    pub fn duplicate(field: impl Into<String>, value: &(impl Shown + ?Sized)) -> Cause {
        Cause {
            reason: "FieldValueDuplicate",
            field: field.into(),
            message: format!("Duplicate value: {}", value.shown()),
        }
    }
    /// A value outside a fixed set: `Unsupported value: "X": supported values: "A", "B"`.
    pub fn not_supported(field: impl Into<String>, value: impl Shown, valid: &[&str]) -> Cause {
        let mut message = format!("Unsupported value: {}", value.shown());
        if !valid.is_empty() {
            let quoted: Vec<String> = valid.iter().map(|v| go_quote(v)).collect();
            message.push_str(": supported values: ");
            message.push_str(&quoted.join(", "));
        }
        Cause {
            reason: "FieldValueNotSupported",
            field: field.into(),
            message,
        }
    }
    /// A reference to something that does not exist.
    pub fn not_found(field: impl Into<String>, value: impl Shown) -> Cause {
        Cause {
            reason: "FieldValueNotFound",
            field: field.into(),
            message: format!("Not found: {}", value.shown()),
        }
    }
    /// A list longer than allowed: `Too many: 21: must have at most 20 items`.
    pub fn too_many(field: impl Into<String>, actual: usize, max: usize) -> Cause {
        let unit = if max == 1 { "item" } else { "items" };
        Cause {
            reason: "FieldValueTooMany",
            field: field.into(),
            message: format!("Too many: {actual}: must have at most {max} {unit}"),
        }
    }
    pub fn too_long(field: impl Into<String>, max_bytes: usize) -> Cause {
        let unit = if max_bytes == 1 { "byte" } else { "bytes" };
        Cause {
            reason: "FieldValueTooLong",
            field: field.into(),
            message: format!("Too long: may not be more than {max_bytes} {unit}"),
        }
    }
    pub fn immutable(field: impl Into<String>, value: &Value) -> Cause {
        Cause::invalid(field, value, "field is immutable")
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
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> ApiError {
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
        // Upstream's aggregate leaves out an error identical to an earlier one (the causes
        // keep them all).
        let mut seen = std::collections::HashSet::new();
        let mut summary: Vec<String> = Vec::with_capacity(causes.len());
        for c in &causes {
            let text = if c.field.is_empty() {
                c.message.clone()
            } else {
                format!("{}: {}", c.field, c.message)
            };
            if seen.insert(text.clone()) {
                summary.push(text);
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_shown_as_upstream_prints_them() {
        assert_eq!("a\"b\\\n".shown(), r#""a\"b\\\n""#);
        assert_eq!("\u{1}".shown(), r#""\x01""#);
        assert_eq!("é".shown(), "\"é\"");
        assert_eq!((-1i64).shown(), "-1");
        assert_eq!(true.shown(), "true");
        assert_eq!(json!({"a": 1}).shown(), r#"{"a":1}"#);
        assert_eq!(json!("x").shown(), "\"x\"");
        assert_eq!(Value::Null.shown(), "null");
    }

    #[test]
    fn cause_messages() {
        assert_eq!(Cause::invalid("f", 0, "").message, "Invalid value: 0");
        assert_eq!(
            Cause::not_supported("f", "X", &["A", "B"]).message,
            "Unsupported value: \"X\": supported values: \"A\", \"B\""
        );
        assert_eq!(
            Cause::not_supported("f", "X", &[]).message,
            "Unsupported value: \"X\""
        );
        assert_eq!(Cause::not_found("f", "data").message, "Not found: \"data\"");
        assert_eq!(
            Cause::too_many("f", 21, 20).message,
            "Too many: 21: must have at most 20 items"
        );
        assert_eq!(
            Cause::too_many("f", 2, 1).message,
            "Too many: 2: must have at most 1 item"
        );
        assert_eq!(
            Cause::too_long("f", 1).message,
            "Too long: may not be more than 1 byte"
        );
        assert_eq!(
            Cause::required_with("f", "why").message,
            "Required value: why"
        );
        assert_eq!(
            Cause::immutable("type", &json!("kubernetes.io/tls")).message,
            "Invalid value: \"kubernetes.io/tls\": field is immutable"
        );
    }

    #[test]
    fn the_summary_leaves_out_repeated_errors() {
        let cause = Cause::required("spec.ports");
        let error = ApiError::invalid("Service", "", "s", vec![cause.clone(), cause]);
        assert_eq!(
            error.message,
            "Service \"s\" is invalid: spec.ports: Required value"
        );
        assert_eq!(
            error
                .details
                .as_ref()
                .map(|d| d["causes"].as_array().map(Vec::len)),
            Some(Some(2))
        );
    }
}
