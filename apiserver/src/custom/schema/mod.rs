//! The structural schema of a custom resource version (`openAPIV3Schema`): validation,
//! defaulting and pruning of its objects, as upstream's apiextensions-apiserver does them.
//!
//! Validation follows kube-openapi's validator (its error messages, their order, its
//! quirks) and apiextensions' conversion of those errors to field errors; list-type and
//! embedded-resource checks follow their own upstream passes and come after it.
//!
//! Layout: this file holds [`Structural`], the compiled `Node` tree every pass walks,
//! and the path spellings they share. `parse` builds the tree (or refuses the schema),
//! `prune` and `defaults` rewrite objects, `validate` runs kube-openapi's keyword
//! checks (with `numbers` for the numeric keywords, `formats` for `format`, `fault` for
//! errors and their conversion to causes), `embedded` and `list_types` are upstream's
//! later passes, and `go_value` prints values as Go does.

mod defaults;
mod embedded;
mod fault;
mod formats;
mod go_value;
mod list_types;
mod numbers;
mod parse;
mod prune;
#[cfg(test)]
mod test_support;
mod validate;

use regex::Regex;
use serde_json::Value;

use crate::status::Cause;

/// Deeper schemas are refused: every walk below recurses along the schema.
const MAX_SCHEMA_DEPTH: usize = 100;
/// Walks that follow the object where the schema no longer does (pruning under no
/// schema, rendering values) stop here rather than exhaust the stack.
const MAX_VALUE_DEPTH: usize = 512;

/// A compiled structural schema (parsed once per CRD version, used for every object).
#[derive(Debug)]
pub struct Structural {
    root: Node,
}

#[derive(Debug)]
enum Additional {
    Allows(bool),
    Schema(Box<Node>),
}

impl Additional {
    /// Upstream's `AdditionalProperties.Structural`: nil for the boolean forms.
    fn schema(&self) -> Option<&Node> {
        match self {
            Additional::Schema(n) => Some(n),
            Additional::Allows(_) => None,
        }
    }
}

#[derive(Debug, Default)]
struct Node {
    /// `["integer", "string"]` for int-or-string, as kube-openapi sees it.
    types: Vec<&'static str>,
    nullable: bool,
    /// The format as written, or empty when upstream strips it as unsupported.
    format: String,
    default: Option<Value>,
    enumv: Option<Vec<Value>>,
    maximum: Option<f64>,
    exclusive_maximum: bool,
    minimum: Option<f64>,
    exclusive_minimum: bool,
    multiple_of: Option<f64>,
    max_length: Option<i64>,
    min_length: Option<i64>,
    pattern: Option<(String, Regex)>,
    max_items: Option<i64>,
    min_items: Option<i64>,
    unique_items: bool,
    max_properties: Option<i64>,
    min_properties: Option<i64>,
    required: Vec<String>,
    /// Sorted by name, for binary search.
    properties: Vec<(String, Node)>,
    additional: Option<Box<Additional>>,
    items: Option<Box<Node>>,
    all_of: Vec<Node>,
    any_of: Vec<Node>,
    one_of: Vec<Node>,
    not: Option<Box<Node>>,
    preserve_unknown: bool,
    embedded: bool,
    list_type: Option<String>,
    list_map_keys: Vec<String>,
}

impl Node {
    fn prop(&self, name: &str) -> Option<&Node> {
        self.properties
            .binary_search_by(|(k, _)| k.as_str().cmp(name))
            .ok()
            .and_then(|i| self.properties.get(i))
            .map(|(_, n)| n)
    }
}

// ---------------------------------------------------------------------------------------
// Paths, as upstream spells them

fn p_key(path: &str, key: &str) -> String {
    format!("{path}[{key}]")
}

fn p_index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

fn key_path(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// A `field.Path` child (the embedded-resource and list-type passes' spelling).
fn f_child(path: &str, name: &str) -> String {
    key_path(path, name)
}

impl Structural {
    /// Parses an `openAPIV3Schema` (JSONSchemaProps as JSON). The errors say what is
    /// not structural or not supported, with paths relative to the schema
    /// (`properties[spec].type: Required value: ...`), sorted as upstream sorts them.
    pub fn parse(schema: &Value) -> Result<Structural, Vec<String>> {
        parse::parse(schema).map(|root| Structural { root })
    }

    /// Drops fields the schema does not know (pruning), then fields that are null
    /// where the schema is neither nullable nor defaulted (upstream does both when it
    /// decodes a custom object). Returns the pruned paths in upstream's form
    /// (`spec.foo`, `spec.list[0].bar`), sorted, for fieldValidation=Strict/Warn.
    pub fn prune(&self, obj: &mut Value) -> Vec<String> {
        prune::prune(&self.root, obj)
    }

    /// Applies `default`s where the parent object exists: to absent fields, and to
    /// nulls where the schema is not nullable; recursively, into array items and
    /// additionalProperties values, and into defaulted values themselves.
    pub fn apply_defaults(&self, obj: &mut Value) {
        defaults::apply_defaults(obj, &self.root, 0);
    }

    /// Validates an object against the schema: kube-openapi's checks, then embedded
    /// resources' apiVersion and kind, then list-type set/map uniqueness.
    pub fn validate(&self, obj: &Value) -> Vec<Cause> {
        let mut causes = validate::validate(&self.root, obj);
        embedded::validate_embedded(Some(&self.root), obj, "", &mut causes, 0);
        list_types::validate_lists(&self.root, obj, "", &mut causes, 0);
        causes
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::custom::schema::test_support::schema;

    #[test]
    fn deep_schema_and_object_within_the_limit() {
        let depth = MAX_SCHEMA_DEPTH - 2;
        let mut sch = json!({"type": "string", "minLength": 2});
        let mut obj = json!("x");
        for _ in 0..depth {
            sch = json!({"type": "object", "default": {}, "properties": {"a": sch}});
            obj = json!({"a": obj});
        }
        let s = schema(sch);
        assert_eq!(s.validate(&obj).len(), 1);
        let mut empty = json!({});
        s.apply_defaults(&mut empty);
        assert!(s.prune(&mut obj).is_empty());
    }
}
