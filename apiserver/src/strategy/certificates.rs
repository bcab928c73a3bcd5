//! CertificateSigningRequests: the `approval` subresource changes only the conditions
//! (Approved, Denied, Failed), and Approved and Denied exclude each other.

use serde_json::Value;

use super::Strategy;
use crate::status::{ApiError, ApiResult, Cause};

fn meta_str<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    obj.get("metadata")?.get(field)?.as_str()
}

pub struct CertificateSigningRequests;

impl Strategy for CertificateSigningRequests {
    fn write_subresource(
        &self,
        name: &str,
        current: &Value,
        body: &Value,
        decode: &mut dyn FnMut(&Value) -> ApiResult<Value>,
    ) -> Option<ApiResult<Value>> {
        if name != "approval" {
            return None;
        }
        Some(decode(body).and_then(|decoded| {
            super::take_part(current, &decoded, &["status", "conditions"], check_approval)
        }))
    }
}

/// Approved and Denied exclude each other and must be `True` (422 as upstream).
fn check_approval(current: &Value, conditions: &Value) -> ApiResult<()> {
    let mut causes = Vec::new();
    let mut approved = false;
    let mut denied = false;
    for (i, c) in conditions.as_array().into_iter().flatten().enumerate() {
        let kind = c.get("type").and_then(Value::as_str).unwrap_or("");
        let status = c.get("status").and_then(Value::as_str).unwrap_or("");
        match kind {
            "Approved" => approved = true,
            "Denied" => denied = true,
            "Failed" | "" => {}
            _ => continue,
        }
        if kind.is_empty() {
            causes.push(Cause::required(format!("status.conditions[{i}].type")));
        } else if matches!(kind, "Approved" | "Denied") && status != "True" {
            causes.push(Cause {
                reason: "FieldValueNotSupported",
                field: format!("status.conditions[{i}].status"),
                message: format!("Unsupported value: \"{status}\": supported values: \"True\""),
            });
        }
    }
    if approved && denied {
        causes.push(Cause::invalid(
            "status.conditions",
            "Approved and Denied",
            "Approved and Denied conditions are mutually exclusive",
        ));
    }
    if causes.is_empty() {
        return Ok(());
    }
    Err(ApiError::invalid(
        "CertificateSigningRequest",
        "certificates.k8s.io",
        meta_str(current, "name").unwrap_or(""),
        causes,
    ))
}
