//! kube-openapi's validation errors and apiextensions' conversion of them to field
//! errors (causes).

use std::collections::HashSet;

use super::go_value::Raw;
use crate::status::Cause;

/// How apiextensions turns each kube-openapi error into a field error.
#[derive(Debug)]
pub(super) enum Kind {
    Required,
    NotSupported(Vec<String>),
    TooLong(i64),
    TooMany(i64, i64),
    TypeInvalid,
    Invalid,
    /// Not a kube-openapi `Validation` error: upstream reports it at a nil path.
    Plain,
}

#[derive(Debug)]
pub(super) struct Fault {
    kind: Kind,
    /// kube-openapi's error name (the data path, `.`-joined, `[i]` for items).
    name: String,
    /// The bad value as upstream prints it.
    value: String,
    /// kube-openapi's message; also what upstream deduplicates errors by.
    msg: String,
}

impl Fault {
    pub(super) fn new(kind: Kind, name: &str, value: String, msg: String) -> Fault {
        Fault {
            kind,
            name: name.to_string(),
            value,
            msg,
        }
    }

    fn into_cause(self) -> Cause {
        let field = match self.name.as_str() {
            "" | "." => "<nil>".to_string(),
            n => n.strip_prefix('.').unwrap_or(n).to_string(),
        };
        match self.kind {
            Kind::Required => Cause::required(field),
            Kind::NotSupported(values) => {
                let refs: Vec<&str> = values.iter().map(String::as_str).collect();
                Cause::not_supported(field, Raw(self.value), &refs)
            }
            Kind::TooLong(max) => match usize::try_from(max) {
                Ok(max) => Cause::too_long(field, max),
                Err(_) => Cause {
                    reason: "FieldValueTooLong",
                    field,
                    message: "Too long: value is too long".into(),
                },
            },
            Kind::TooMany(actual, max) => match (usize::try_from(actual), usize::try_from(max)) {
                (Ok(a), Ok(m)) => Cause::too_many(field, a, m),
                _ => Cause {
                    reason: "FieldValueTooMany",
                    field,
                    message: "Too many: has too many items".into(),
                },
            },
            Kind::TypeInvalid => Cause {
                reason: "FieldValueTypeInvalid",
                field,
                message: format!("Invalid value: {}: {}", self.value, self.msg),
            },
            Kind::Invalid => Cause::invalid(field, Raw(self.value), &self.msg),
            Kind::Plain => Cause::invalid("<nil>", "", &self.msg),
        }
    }
}

/// One cause per distinct message (upstream deduplicates by message), in order.
pub(super) fn into_causes(faults: Vec<Fault>) -> Vec<Cause> {
    let mut seen = HashSet::new();
    faults
        .into_iter()
        .filter(|e| seen.insert(e.msg.clone()))
        .map(Fault::into_cause)
        .collect()
}

/// `"<path> in body"`, kube-openapi's subject (` in body` at the root, as Go prints it).
pub(super) fn subj(path: &str) -> String {
    format!("{path} in body")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::custom::schema::test_support::spec_errors;

    #[test]
    fn errors_with_the_same_message_are_reported_once() {
        let props = json!({"s": {"type": "string", "allOf": [{"minLength": 2}, {"minLength": 2}]}});
        let e = spec_errors(props, json!({"s": "b"}));
        assert_eq!(e.len(), 2, "{e:?}");
    }
}
