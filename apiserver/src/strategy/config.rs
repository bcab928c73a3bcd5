//! ConfigMaps and Secrets: key names, the size limit, a Secret's type-specific keys;
//! `immutable: true` freezes their data; a Secret's `stringData` is merged into `data` on
//! every write and never stored.

use base64::Engine;
use serde_json::{json, Map, Value};

use super::{immutable, set_default, FieldLabel, Strategy};
use crate::status::Cause;
use crate::validation::{config_key_errors, push_invalid};

/// Upstream's limit on the data of one ConfigMap or Secret.
pub const MAX_DATA_BYTES: usize = 1024 * 1024;

pub struct ConfigMaps;
impl Strategy for ConfigMaps {
    fn validate(&self, obj: &Value, causes: &mut Vec<Cause>) {
        let binary = obj.get("binaryData").and_then(Value::as_object);
        for key in keys(obj, "data") {
            let field = format!("data[{key}]");
            push_invalid(causes, &field, key, config_key_errors(key));
            if binary.is_some_and(|b| b.contains_key(key)) {
                causes.push(Cause::invalid(
                    field,
                    key,
                    "duplicate of key present in binaryData",
                ));
            }
        }
        for key in keys(obj, "binaryData") {
            push_invalid(
                causes,
                &format!("binaryData[{key}]"),
                key,
                config_key_errors(key),
            );
        }
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
        for key in keys(obj, "data") {
            push_invalid(causes, &format!("data[{key}]"), key, config_key_errors(key));
        }
        if data_bytes(obj, "data", true) > MAX_DATA_BYTES {
            causes.push(Cause::too_long("data", MAX_DATA_BYTES));
        }
        validate_secret_type(obj, causes);
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

/// The keys of a map field.
fn keys<'a>(obj: &'a Value, field: &str) -> impl Iterator<Item = &'a String> {
    obj.get(field)
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(Map::keys)
}

/// The bytes of the values of a map field, base64 values counted decoded (as upstream
/// counts the bytes it holds; keys do not count).
fn data_bytes(obj: &Value, field: &str, base64: bool) -> usize {
    obj.get(field)
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(_, v)| {
            let value = v.as_str().unwrap_or_default();
            if base64 {
                let padding = value.bytes().rev().take_while(|b| *b == b'=').count();
                (value.len() / 4 * 3).saturating_sub(padding)
            } else {
                value.len()
            }
        })
        .fold(0, usize::saturating_add)
}

/// The decoded bytes of `data[key]` of a Secret, when present.
fn secret_value(obj: &Value, key: &str) -> Option<Vec<u8>> {
    let text = obj.get("data")?.get(key)?.as_str()?;
    Some(
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .unwrap_or_default(),
    )
}

/// Go's `json.Unmarshal` into a map: the error text for content that is not a JSON object
/// (close to Go's wording for the common cases).
fn json_object_error(bytes: &[u8]) -> Option<String> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(_) | Value::Null) => None,
        Ok(other) => {
            let kind = match other {
                Value::Array(_) => "array",
                Value::String(_) => "string",
                Value::Number(_) => "number",
                _ => "bool",
            };
            Some(format!(
                "json: cannot unmarshal {kind} into Go value of type map[string]interface {{}}"
            ))
        }
        Err(e) if e.is_eof() => Some("unexpected end of JSON input".into()),
        Err(e) => {
            let column = e.column().saturating_sub(1);
            let line = bytes
                .split(|b| *b == b'\n')
                .nth(e.line().saturating_sub(1))
                .unwrap_or_default();
            match line.get(column).copied().filter(u8::is_ascii_graphic) {
                Some(c) => Some(format!(
                    "invalid character '{}' looking for beginning of value",
                    char::from(c)
                )),
                None => Some(e.to_string()),
            }
        }
    }
}

/// The keys each Secret type requires (`ValidateSecret`).
fn validate_secret_type(obj: &Value, causes: &mut Vec<Cause>) {
    let required = |key: &str| Cause::required(format!("data[{key}]"));
    match obj.get("type").and_then(Value::as_str).unwrap_or("") {
        "kubernetes.io/service-account-token" => {
            let name = obj
                .pointer("/metadata/annotations/kubernetes.io~1service-account.name")
                .and_then(Value::as_str)
                .unwrap_or("");
            if name.is_empty() {
                causes.push(Cause::required(
                    "metadata.annotations[kubernetes.io/service-account.name]",
                ));
            }
        }
        kind @ ("kubernetes.io/dockercfg" | "kubernetes.io/dockerconfigjson") => {
            let key = if kind == "kubernetes.io/dockercfg" {
                ".dockercfg"
            } else {
                ".dockerconfigjson"
            };
            match secret_value(obj, key) {
                None => causes.push(required(key)),
                Some(bytes) => {
                    if let Some(error) = json_object_error(&bytes) {
                        causes.push(Cause::invalid(
                            format!("data[{key}]"),
                            "<secret contents redacted>",
                            &error,
                        ));
                    }
                }
            }
        }
        // Either key may be empty, but not both absent.
        "kubernetes.io/basic-auth"
            if secret_value(obj, "username").is_none()
                && secret_value(obj, "password").is_none() =>
        {
            causes.push(required("username"));
            causes.push(required("password"));
        }
        "kubernetes.io/ssh-auth"
            if secret_value(obj, "ssh-privatekey").is_none_or(|v| v.is_empty()) =>
        {
            causes.push(required("ssh-privatekey"));
        }
        "kubernetes.io/tls" => {
            for key in ["tls.crt", "tls.key"] {
                if secret_value(obj, key).is_none() {
                    causes.push(required(key));
                }
            }
        }
        // Opaque, "" and any other type: no required keys.
        _ => {}
    }
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

    fn errors(strategy: &dyn Strategy, obj: Value) -> Vec<(String, String)> {
        let mut causes = Vec::new();
        strategy.validate(&obj, &mut causes);
        causes.into_iter().map(|c| (c.field, c.message)).collect()
    }

    fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
        expected
            .iter()
            .map(|(f, m)| (f.to_string(), m.to_string()))
            .collect()
    }

    #[test]
    fn config_map_keys() {
        let key_msg = "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')";
        let cases: Vec<(Value, Vec<(&str, String)>)> = vec![
            (json!({"data": {"ok.key": "v", "KEY_2": "v"}}), vec![]),
            (
                json!({"data": {"a b": "v"}}),
                vec![("data[a b]", format!("Invalid value: \"a b\": {key_msg}"))],
            ),
            (
                json!({"binaryData": {"..x": "eA=="}}),
                vec![(
                    "binaryData[..x]",
                    "Invalid value: \"..x\": must not start with '..'".to_string(),
                )],
            ),
            (
                json!({"data": {"k": "v"}, "binaryData": {"k": "eA=="}}),
                vec![(
                    "data[k]",
                    "Invalid value: \"k\": duplicate of key present in binaryData".to_string(),
                )],
            ),
        ];
        for (obj, expected) in cases {
            let expected: Vec<(String, String)> = expected
                .into_iter()
                .map(|(f, m)| (f.to_string(), m))
                .collect();
            assert_eq!(errors(&ConfigMaps, obj.clone()), expected, "{obj}");
        }
    }

    #[test]
    fn secret_keys_and_types() {
        let encoded = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let cases = [
            (json!({"type": "Opaque", "data": {"x": ""}}), vec![]),
            (
                json!({"type": "Opaque", "data": {"..": ""}}),
                vec![("data[..]", "Invalid value: \"..\": must not be '..'")],
            ),
            (
                json!({"type": "kubernetes.io/tls", "data": {"tls.crt": ""}}),
                vec![("data[tls.key]", "Required value")],
            ),
            (
                json!({"type": "kubernetes.io/tls", "data": {"tls.crt": "", "tls.key": ""}}),
                vec![],
            ),
            (
                json!({"type": "kubernetes.io/basic-auth", "data": {}}),
                vec![
                    ("data[username]", "Required value"),
                    ("data[password]", "Required value"),
                ],
            ),
            (
                json!({"type": "kubernetes.io/basic-auth", "data": {"password": ""}}),
                vec![],
            ),
            (
                json!({"type": "kubernetes.io/ssh-auth", "data": {"ssh-privatekey": ""}}),
                vec![("data[ssh-privatekey]", "Required value")],
            ),
            (
                json!({"type": "kubernetes.io/service-account-token"}),
                vec![(
                    "metadata.annotations[kubernetes.io/service-account.name]",
                    "Required value",
                )],
            ),
            (
                json!({"type": "kubernetes.io/service-account-token", "metadata": {"annotations": {"kubernetes.io/service-account.name": "default"}}}),
                vec![],
            ),
            (
                json!({"type": "kubernetes.io/dockerconfigjson"}),
                vec![("data[.dockerconfigjson]", "Required value")],
            ),
            (
                json!({"type": "kubernetes.io/dockerconfigjson", "data": {".dockerconfigjson": encoded("{\"auths\":{}}")}}),
                vec![],
            ),
            (
                json!({"type": "kubernetes.io/dockercfg", "data": {".dockercfg": encoded("x")}}),
                vec![(
                    "data[.dockercfg]",
                    "Invalid value: \"<secret contents redacted>\": invalid character 'x' looking for beginning of value",
                )],
            ),
            (
                json!({"type": "kubernetes.io/dockercfg", "data": {".dockercfg": encoded("[]")}}),
                vec![(
                    "data[.dockercfg]",
                    "Invalid value: \"<secret contents redacted>\": json: cannot unmarshal array into Go value of type map[string]interface {}",
                )],
            ),
            (json!({"type": "example.com/custom"}), vec![]),
        ];
        for (obj, expected) in cases {
            assert_eq!(errors(&Secrets, obj.clone()), pairs(&expected), "{obj}");
        }
    }

    #[test]
    fn data_over_a_mebibyte_is_refused() {
        let big = "x".repeat(MAX_DATA_BYTES + 1);
        let mut causes = Vec::new();
        ConfigMaps.validate(&json!({"data": {"k": big}}), &mut causes);
        assert_eq!(causes.len(), 1);
        assert_eq!(causes[0].field, "[]");
        // Only the values count, as upstream counts them.
        let mut causes = Vec::new();
        let exactly = "x".repeat(MAX_DATA_BYTES);
        ConfigMaps.validate(&json!({"data": {"k": exactly}}), &mut causes);
        assert!(causes.is_empty(), "{causes:?}");
    }
}
