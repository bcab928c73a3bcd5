//! ConfigMaps and Secrets: `immutable: true` freezes their data; a Secret's `stringData` is
//! merged into `data` on every write and never stored.

use base64::Engine;
use serde_json::{json, Map, Value};

use super::{immutable, set_default, FieldLabel, Strategy};
use crate::status::Cause;

/// Upstream's limit on the data of one ConfigMap or Secret.
pub const MAX_DATA_BYTES: usize = 1024 * 1024;

pub struct ConfigMaps;
impl Strategy for ConfigMaps {
    fn validate(&self, obj: &Value, causes: &mut Vec<Cause>) {
        let total =
            data_bytes(obj, "data", false).saturating_add(data_bytes(obj, "binaryData", true));
        if total > MAX_DATA_BYTES {
            // Upstream names the whole object (the root path `[]`).
            causes.push(Cause::too_long("[]", MAX_DATA_BYTES));
        }
    }
    fn validate_update(&self, new: &Value, old: &Value, causes: &mut Vec<Cause>) {
        validate_immutable_data(new, old, causes);
    }
}

pub struct Secrets;
impl Strategy for Secrets {
    fn default(&self, obj: &mut Value) {
        set_default(obj, &["type"], json!("Opaque"));
        merge_string_data(obj);
    }
    fn validate(&self, obj: &Value, causes: &mut Vec<Cause>) {
        if data_bytes(obj, "data", true) > MAX_DATA_BYTES {
            causes.push(Cause::too_long("data", MAX_DATA_BYTES));
        }
    }
    fn validate_update(&self, new: &Value, old: &Value, causes: &mut Vec<Cause>) {
        validate_immutable_data(new, old, causes);
        immutable(new, old, "/type", "type", causes);
    }
    fn field_labels(&self) -> &'static [FieldLabel] {
        const LABELS: &[FieldLabel] = &[FieldLabel::field("type")];
        LABELS
    }
}

/// Moves `stringData` into `data` (base64), where it wins over a value of the same key.
fn merge_string_data(obj: &mut Value) {
    let Some(map) = obj.as_object_mut() else {
        return;
    };
    let Some(Value::Object(strings)) = map.shift_remove("stringData") else {
        return;
    };
    let data = map
        .entry("data")
        .or_insert_with(|| Value::Object(Map::new()));
    if !data.is_object() {
        *data = Value::Object(Map::new());
    }
    if let Some(data) = data.as_object_mut() {
        for (key, value) in strings {
            let text = value.as_str().unwrap_or_default();
            let encoded = base64::engine::general_purpose::STANDARD.encode(text);
            data.insert(key, Value::String(encoded));
        }
    }
}

/// The bytes of the keys and values of a map field, base64 values counted decoded (as
/// upstream counts the bytes it holds).
fn data_bytes(obj: &Value, field: &str, base64: bool) -> usize {
    obj.get(field)
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(k, v)| {
            let value = v.as_str().unwrap_or_default();
            let bytes = if base64 {
                let padding = value.bytes().rev().take_while(|b| *b == b'=').count();
                (value.len() / 4 * 3).saturating_sub(padding)
            } else {
                value.len()
            };
            k.len().saturating_add(bytes)
        })
        .fold(0, usize::saturating_add)
}

fn validate_immutable_data(new: &Value, old: &Value, causes: &mut Vec<Cause>) {
    if old.get("immutable") != Some(&Value::Bool(true)) {
        return;
    }
    if new.get("immutable") != Some(&Value::Bool(true)) {
        causes.push(Cause::forbidden(
            "immutable",
            "field is immutable when `immutable` is set",
        ));
    }
    for field in ["data", "binaryData"] {
        if new.get(field) != old.get(field) {
            causes.push(Cause::forbidden(
                field,
                "field is immutable when `immutable` is set",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_data_is_merged_into_data_and_wins() {
        let mut secret =
            json!({"data": {"a": "eA==", "b": "eQ=="}, "stringData": {"b": "new", "c": "z"}});
        Secrets.default(&mut secret);
        assert_eq!(
            secret,
            json!({"type": "Opaque", "data": {"a": "eA==", "b": "bmV3", "c": "eg=="}})
        );
    }

    #[test]
    fn data_over_a_mebibyte_is_refused() {
        let big = "x".repeat(MAX_DATA_BYTES);
        let mut causes = Vec::new();
        ConfigMaps.validate(&json!({"data": {"k": big}}), &mut causes);
        assert_eq!(causes.len(), 1);
        assert_eq!(causes[0].field, "[]");
        let mut causes = Vec::new();
        ConfigMaps.validate(&json!({"data": {"k": "small"}}), &mut causes);
        assert!(causes.is_empty());
    }
}
