//! Helpers shared by the schema modules' unit tests.

use serde_json::{json, Value};

use super::Structural;

pub(super) fn schema(s: Value) -> Structural {
    match Structural::parse(&s) {
        Ok(s) => s,
        Err(e) => panic!("schema refused: {e:?}"),
    }
}

/// A root with one `spec` object of the given properties.
pub(super) fn spec_schema(props: Value) -> Structural {
    schema(
        json!({"type": "object", "properties": {"spec": {"type": "object", "properties": props}}}),
    )
}

/// `field: message` lines, as kubectl shows causes.
pub(super) fn errors(s: &Structural, obj: Value) -> Vec<String> {
    s.validate(&obj)
        .into_iter()
        .map(|c| format!("{}: {}", c.field, c.message))
        .collect()
}

pub(super) fn spec_errors(props: Value, spec: Value) -> Vec<String> {
    errors(&spec_schema(props), json!({"spec": spec}))
}
