//! What a write body goes through before it is stored: decoding against its kind (with
//! unknown and duplicate fields reported as `fieldValidation` asks) and validation.

use serde_json::{json, Value};

use super::{meta_str, FieldValidation, Registry, Target, WriteOptions};
use crate::resource::Decoding;
use crate::status::{ApiError, ApiResult};
use crate::validation;

impl Registry {
    /// Type-checks a body against its kind, drops unknown fields, and reports them as
    /// `fieldValidation` asks.
    pub fn decode_object(
        &self,
        target: &Target<'_>,
        mut input: Value,
        opts: &WriteOptions,
        warnings: &mut Vec<String>,
    ) -> ApiResult<Value> {
        let validation = opts.field_validation;
        let kind = target.kind();
        let api_version = target.resource.api_version();
        let Some(obj) = input.as_object_mut() else {
            return Err(ApiError::bad_request(format!(
                "{kind} in version \"{}\" cannot be handled as a {kind}: the body must be a JSON object",
                target.resource.version()
            )));
        };
        match obj.get("apiVersion").and_then(Value::as_str) {
            None | Some("") => {
                obj.insert("apiVersion".into(), json!(api_version));
            }
            Some(v) if v == api_version => {}
            Some(v) => {
                return Err(ApiError::bad_request(format!(
                    "the API version in the data ({v}) does not match the expected API version ({api_version})"
                )))
            }
        }
        match obj.get("kind").and_then(Value::as_str) {
            None | Some("") => {
                obj.insert("kind".into(), json!(kind));
            }
            Some(k) if k == kind => {}
            Some(k) => {
                return Err(ApiError::bad_request(format!(
                    "the kind in the data ({k}) does not match the expected kind ({kind})"
                )))
            }
        }
        let normalized = match &target.resource.decoding {
            Decoding::Typed(typed) => (typed.normalize)(&input).map_err(|e| {
                ApiError::bad_request(format!(
                    "{kind} in version \"{}\" cannot be handled as a {kind}: {e}",
                    target.resource.version()
                ))
            })?,
            Decoding::Schema => {
                let mut pruned = input.clone();
                target.strategy().prune(&mut pruned);
                pruned
            }
        };
        if validation != FieldValidation::Ignore {
            let mut unknown = Vec::new();
            unknown_fields(&input, &normalized, "", &mut unknown);
            if !unknown.is_empty() || !opts.duplicate_fields.is_empty() {
                let listed: Vec<String> = opts
                    .duplicate_fields
                    .iter()
                    .map(|f| format!("duplicate field \"{f}\""))
                    .chain(unknown.iter().map(|f| format!("unknown field \"{f}\"")))
                    .collect();
                if validation == FieldValidation::Strict {
                    return Err(ApiError::bad_request(format!(
                        "{kind} in version \"{}\" cannot be handled as a {kind}: strict decoding error: {}",
                        target.resource.version(),
                        listed.join(", ")
                    )));
                }
                warnings.extend(listed);
            }
        }
        let mut normalized = normalized;
        target.strategy().default(&mut normalized);
        Ok(normalized)
    }

    pub(super) fn validate(
        &self,
        target: &Target<'_>,
        obj: &Value,
        old: Option<&Value>,
    ) -> ApiResult<()> {
        let strategy = target.strategy();
        let mut causes = Vec::new();
        validation::validate_metadata(obj, strategy.name_rule(), &mut causes);
        strategy.validate(obj, &mut causes);
        if let Some(old) = old {
            strategy.validate_update(obj, old, &mut causes);
        }
        strategy.validate_rules(obj, old, &mut causes);
        if causes.is_empty() {
            Ok(())
        } else {
            Err(ApiError::invalid(
                target.kind(),
                target.resource.group(),
                meta_str(obj, "name").unwrap_or(""),
                causes,
            ))
        }
    }
}

/// Finds fields of `input` the typed decode dropped: they are unknown to the schema.
fn unknown_fields(input: &Value, normalized: &Value, path: &str, out: &mut Vec<String>) {
    match (input, normalized) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in a {
                let here = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match b.get(k) {
                    Some(nv) => unknown_fields(v, nv, &here, out),
                    None if v.is_null() => {}
                    None => out.push(here),
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            for (i, (v, nv)) in a.iter().zip(b).enumerate() {
                unknown_fields(v, nv, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_are_found_at_their_path() {
        let input =
            json!({"spec": {"replicas": 1, "bogus": 2, "template": {"x": null}}, "extra": [1]});
        let normalized = json!({"spec": {"replicas": 1, "template": {}}});
        let mut out = Vec::new();
        unknown_fields(&input, &normalized, "", &mut out);
        out.sort();
        assert_eq!(out, vec!["extra", "spec.bogus"]);
    }
}
