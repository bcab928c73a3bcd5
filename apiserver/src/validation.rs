//! Validation every object gets: name format, labels, annotations, and the namespace match.

use serde_json::Value;

use crate::status::Cause;
use crate::strategy::NameRule;

fn is_alnum_lower(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars().all(|c| is_alnum_lower(c) || c == '-')
        && s.starts_with(is_alnum_lower)
        && s.ends_with(is_alnum_lower)
}

fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_dns_label)
}

/// The error message upstream gives for a bad name, or `None` when it is fine.
pub fn name_problem(name: &str, rule: NameRule) -> Option<String> {
    match rule {
        NameRule::Subdomain if !is_dns_subdomain(name) => Some(
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')".into(),
        ),
        NameRule::Label if !is_dns_label(name) => Some(
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')".into(),
        ),
        NameRule::Rfc1035Label
            if !is_dns_label(name) || !name.starts_with(|c: char| c.is_ascii_lowercase()) =>
        {
            Some("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')".into())
        }
        NameRule::PathSegment => match name {
            "." | ".." => Some(format!("may not be '{name}'")),
            _ if name.contains('/') => Some("may not contain '/'".into()),
            _ if name.contains('%') => Some("may not contain '%'".into()),
            _ => None,
        },
        _ => None,
    }
}

fn is_label_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.ends_with(|c: char| c.is_ascii_alphanumeric())
}

fn is_qualified_name(key: &str) -> bool {
    match key.split_once('/') {
        Some((prefix, name)) => is_dns_subdomain(prefix) && is_label_name(name),
        None => is_label_name(key),
    }
}

const TOTAL_ANNOTATION_BYTES: usize = 256 * 1024;

/// Checks `metadata`: name (unless generated), labels and annotations.
pub fn validate_metadata(obj: &Value, rule: NameRule, causes: &mut Vec<Cause>) {
    let meta = obj.get("metadata");
    let name = meta
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("");
    if name.is_empty() {
        causes.push(Cause {
            reason: "FieldValueRequired",
            field: "metadata.name".into(),
            message: "Required value: name or generateName is required".into(),
        });
    } else if let Some(problem) = name_problem(name, rule) {
        causes.push(Cause::invalid("metadata.name", name, &problem));
    }
    if let Some(labels) = meta
        .and_then(|m| m.get("labels"))
        .and_then(Value::as_object)
    {
        for (k, v) in labels {
            if !is_qualified_name(k) {
                causes.push(Cause::invalid(
                    "metadata.labels",
                    k,
                    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                ));
            }
            let value = v.as_str().unwrap_or("");
            if !value.is_empty() && !is_label_name(value) {
                causes.push(Cause::invalid(
                    "metadata.labels",
                    value,
                    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
                ));
            }
        }
    }
    if let Some(annotations) = meta
        .and_then(|m| m.get("annotations"))
        .and_then(Value::as_object)
    {
        let mut total = 0;
        for (k, v) in annotations {
            total += k.len() + v.as_str().map_or(0, str::len);
            if !is_qualified_name(k) {
                causes.push(Cause::invalid("metadata.annotations", k, "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"));
            }
        }
        if total > TOTAL_ANNOTATION_BYTES {
            causes.push(Cause {
                reason: "FieldValueTooLong",
                field: "metadata.annotations".into(),
                message: format!("Too long: may not be more than {TOTAL_ANNOTATION_BYTES} bytes"),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names() {
        assert_eq!(name_problem("web-1.example", NameRule::Subdomain), None);
        assert!(name_problem("Web", NameRule::Subdomain).is_some());
        assert!(name_problem("a.b", NameRule::Label).is_some());
        assert!(name_problem("1abc", NameRule::Rfc1035Label).is_some());
        assert_eq!(name_problem("abc-1", NameRule::Rfc1035Label), None);
        assert!(name_problem(&"a".repeat(254), NameRule::Subdomain).is_some());
        assert_eq!(
            name_problem("system:discovery", NameRule::PathSegment),
            None
        );
        assert!(name_problem("a/b", NameRule::PathSegment).is_some());
        assert!(name_problem("..", NameRule::PathSegment).is_some());
    }

    #[test]
    fn labels_and_annotations() {
        let mut causes = Vec::new();
        let obj = json!({"metadata": {"name": "x", "labels": {"app": "web", "example.com/tier": "", "bad key": "v", "k": "bad value"}}});
        validate_metadata(&obj, NameRule::Subdomain, &mut causes);
        assert_eq!(causes.len(), 2, "{causes:?}");
        let mut causes = Vec::new();
        validate_metadata(&json!({"metadata": {}}), NameRule::Subdomain, &mut causes);
        assert_eq!(causes[0].field, "metadata.name");
    }
}
