//! Embedded resources (x-kubernetes-embedded-resource): their `apiVersion` and `kind`,
//! checked in upstream's separate pass, with `field.Path` paths.

use std::sync::OnceLock;

use regex::Regex;
use serde_json::{Map, Value};

use super::formats::matches;
use super::go_value::{go_shown, Raw};
use super::{f_child, p_index, p_key, Node, MAX_SCHEMA_DEPTH};
use crate::status::Cause;

pub(super) fn validate_embedded(
    n: Option<&Node>,
    v: &Value,
    path: &str,
    out: &mut Vec<Cause>,
    depth: usize,
) {
    let Some(n) = n else { return };
    if depth > MAX_SCHEMA_DEPTH {
        return;
    }
    match v {
        Value::Object(map) => {
            if n.embedded {
                check_embedded(map, path, out);
            }
            for (k, val) in map {
                if let Some(p) = n.prop(k) {
                    validate_embedded(Some(p), val, &f_child(path, k), out, depth + 1);
                } else if let Some(a) = &n.additional {
                    validate_embedded(a.schema(), val, &p_key(path, k), out, depth + 1);
                }
            }
        }
        Value::Array(list) => {
            for (i, x) in list.iter().enumerate() {
                validate_embedded(n.items.as_deref(), x, &p_index(path, i), out, depth + 1);
            }
        }
        _ => {}
    }
}

fn check_embedded(map: &Map<String, Value>, path: &str, out: &mut Vec<Cause>) {
    let api_version = f_child(path, "apiVersion");
    let kind = f_child(path, "kind");
    match map.get("apiVersion") {
        None => out.push(Cause::required(api_version)),
        Some(Value::String(s)) if s.is_empty() => {
            out.push(Cause::invalid(api_version, s, "must not be empty"))
        }
        Some(Value::String(s)) if s != "/" && s.matches('/').count() > 1 => {
            out.push(Cause::invalid(
                api_version,
                s,
                &format!("unexpected GroupVersion string: {s}"),
            ));
        }
        Some(Value::String(_)) => {}
        Some(other) => out.push(Cause::invalid(
            api_version,
            Raw(go_shown(other)),
            "must be a string",
        )),
    }
    match map.get("kind") {
        None => out.push(Cause::required(kind)),
        Some(Value::String(s)) if s.is_empty() => {
            out.push(Cause::invalid(kind, s, "must not be empty"))
        }
        Some(Value::String(s)) => {
            let errs = dns1035_label(&s.to_lowercase());
            if !errs.is_empty() {
                let detail = format!(
                    "may have mixed case, but should otherwise match: {}",
                    errs.join(",")
                );
                out.push(Cause::invalid(kind, s, &detail));
            }
        }
        Some(other) => out.push(Cause::invalid(
            kind,
            Raw(go_shown(other)),
            "must be a string",
        )),
    }
}

fn dns1035_label(s: &str) -> Vec<String> {
    const FMT: &str = "[a-z]([-a-z0-9]*[a-z0-9])?";
    static RX: OnceLock<Option<Regex>> = OnceLock::new();
    let mut errs = Vec::new();
    if s.len() > 63 {
        errs.push("must be no more than 63 characters".to_string());
    }
    if !matches(&RX, "^[a-z]([-a-z0-9]*[a-z0-9])?$", s) {
        errs.push(format!(
            "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '{FMT}')"
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::custom::schema::test_support::spec_errors;

    #[test]
    fn embedded_resource_needs_api_version_and_kind() {
        let props = json!({"template": {"type": "object", "x-kubernetes-embedded-resource": true, "x-kubernetes-preserve-unknown-fields": true}});
        assert_eq!(
            spec_errors(props.clone(), json!({"template": {}})),
            [
                "spec.template.apiVersion: Required value",
                "spec.template.kind: Required value"
            ]
        );
        assert!(spec_errors(
            props.clone(),
            json!({"template": {"apiVersion": "v1", "kind": "Pod"}})
        )
        .is_empty());
        let e = spec_errors(
            props,
            json!({"template": {"apiVersion": "a/b/c", "kind": "Bad_Kind"}}),
        );
        assert_eq!(
            e[0],
            r#"spec.template.apiVersion: Invalid value: "a/b/c": unexpected GroupVersion string: a/b/c"#
        );
        assert!(e[1].starts_with(r#"spec.template.kind: Invalid value: "Bad_Kind": may have mixed case, but should otherwise match: a DNS-1035 label"#));
    }
}
