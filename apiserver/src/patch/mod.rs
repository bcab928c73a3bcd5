//! PATCH bodies: JSON patch (RFC 6902), JSON merge patch (RFC 7386), strategic merge patch
//! ([`strategic`], with upstream's merge keys from the OpenAPI schemas), and server-side
//! apply ([`mod@apply`], with field ownership in `managedFields`: [`managed_fields`] holds the
//! field sets, [`typed`] computes them by schema, [`field_manager`] records every other
//! write, [`conflict`] words an apply's conflicts).

pub mod apply;
pub mod conflict;
pub mod field_manager;
pub mod managed_fields;
pub mod strategic;
pub mod typed;

pub use field_manager::Writer;

use serde_json::Value;

use crate::status::{ApiError, ApiResult};

/// The kind of patch, from the request's Content-Type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchType {
    Json,
    Merge,
    Strategic,
    /// Server-side apply (`application/apply-patch+yaml`).
    Apply,
}

impl PatchType {
    pub fn from_content_type(content_type: &str) -> ApiResult<PatchType> {
        let essence = content_type.split(';').next().unwrap_or("").trim();
        match essence {
            "application/json-patch+json" => Ok(PatchType::Json),
            "application/merge-patch+json" => Ok(PatchType::Merge),
            "application/strategic-merge-patch+json" => Ok(PatchType::Strategic),
            "application/apply-patch+yaml" => Ok(PatchType::Apply),
            other => Err(ApiError {
                code: 415,
                reason: "UnsupportedMediaType",
                message: format!("the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (got {other:?})"),
                details: None,
            }),
        }
    }
}

/// Decodes a patch body, checking its shape.
pub fn parse(patch_type: PatchType, body: &[u8]) -> ApiResult<Value> {
    let value: Value = if patch_type == PatchType::Apply {
        crate::codec::decode_yaml_or_json(body)?
    } else {
        serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?
    };
    match (patch_type, &value) {
        (PatchType::Json, Value::Array(_)) => Ok(value),
        (PatchType::Json, _) => Err(ApiError::bad_request(
            "json patch must be an array of operations",
        )),
        (_, Value::Object(_)) => Ok(value),
        _ => Err(ApiError::bad_request("the patch must be a JSON object")),
    }
}

fn invalid_patch(message: String) -> ApiError {
    ApiError {
        code: 422,
        reason: "Invalid",
        message,
        details: None,
    }
}

/// Applies a parsed patch to `original`, whose OpenAPI definition is `definition`; an
/// apply patch is applied for the field manager `manager`.
pub fn apply(
    patch_type: PatchType,
    original: &Value,
    patch: &Value,
    definition: &str,
    manager: &str,
) -> ApiResult<Value> {
    let index = strategic::SchemaIndex::new(crate::documents::schemas());
    let api_version = [patch, original]
        .iter()
        .find_map(|o| o.get("apiVersion").and_then(Value::as_str))
        .unwrap_or_default();
    let writer = Writer::with_schema(
        manager,
        api_version,
        typed::Typed::new(index.definition(definition)),
    );
    apply_as(patch_type, original, patch, definition, &writer)
}

/// [`apply`] for a write whose manager and ownership rules `writer` holds.
pub fn apply_as(
    patch_type: PatchType,
    original: &Value,
    patch: &Value,
    definition: &str,
    writer: &Writer<'_>,
) -> ApiResult<Value> {
    match patch_type {
        PatchType::Json => {
            let ops: json_patch::Patch = serde_json::from_value(patch.clone())
                .map_err(|e| ApiError::bad_request(format!("invalid json patch: {e}")))?;
            let mut doc = original.clone();
            json_patch::patch(&mut doc, &ops)
                .map_err(|e| invalid_patch(format!("the patch could not be applied: {e}")))?;
            Ok(doc)
        }
        PatchType::Merge => {
            let mut doc = original.clone();
            json_patch::merge(&mut doc, patch);
            Ok(doc)
        }
        PatchType::Strategic => {
            let index = strategic::SchemaIndex::new(crate::documents::schemas());
            strategic::apply(original, patch, index.definition(definition))
                .map_err(|e| invalid_patch(e.to_string()))
        }
        PatchType::Apply if writer.tracks_apply() => apply::apply(original, patch, writer, &now()),
        // Other subresources (scale) merge an apply; the write records who changed what.
        PatchType::Apply => {
            let index = strategic::SchemaIndex::new(crate::documents::schemas());
            let schema = typed::Typed::new(index.definition(definition));
            Ok(apply::merge(original, patch, schema, 0))
        }
    }
}

/// The time managedFields entries are stamped with.
pub fn now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}
