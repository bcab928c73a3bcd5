//! Building a [`Node`] tree from an `openAPIV3Schema`, or refusing the schema: what
//! upstream's structural-schema checks refuse, with their paths and messages.

use regex::RegexBuilder;
use serde_json::{Map, Value};

use super::formats::{normalized_format, STRING_FORMATS};
use super::prune::prune_default;
use super::{p_index, p_key, Additional, Node, MAX_SCHEMA_DEPTH};
use crate::status::{go_quote, Shown};

/// What a CRD's `pattern` may compile to; a hostile pattern is an error, not a stall.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

const SCHEMA_TYPES: [&str; 6] = ["array", "boolean", "integer", "number", "object", "string"];

#[derive(Clone, Copy, PartialEq)]
enum Level {
    Root,
    Item,
    Field,
    /// Inside allOf/anyOf/oneOf/not: value validations only; `allow_type` for the
    /// int-or-string `anyOf: [{type: integer}, {type: string}]` exception.
    Nested {
        allow_type: bool,
    },
}

struct Parser {
    errors: Vec<String>,
}

fn p_child(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

fn is_int_or_string_any_of(v: Option<&Value>) -> bool {
    let Some(Value::Array(list)) = v else {
        return false;
    };
    let only_type = |x: Option<&Value>, t: &str| match x {
        Some(Value::Object(m)) => m.len() == 1 && m.get("type").and_then(Value::as_str) == Some(t),
        _ => false,
    };
    list.len() == 2 && only_type(list.first(), "integer") && only_type(list.get(1), "string")
}

/// The schema's tree, or every reason it is refused (sorted and deduplicated, as
/// upstream reports them).
pub(super) fn parse(schema: &Value) -> Result<Node, Vec<String>> {
    let mut p = Parser { errors: Vec::new() };
    let root = p.node(schema, "", Level::Root, 0, true);
    if p.errors.is_empty() {
        Ok(root)
    } else {
        p.errors.sort();
        p.errors.dedup();
        Err(p.errors)
    }
}

impl Parser {
    fn err(&mut self, path: &str, body: String) {
        self.errors.push(format!("{path}: {body}"));
    }

    fn bool_of(&mut self, m: &Map<String, Value>, key: &str, path: &str) -> bool {
        match m.get(key) {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                self.err(
                    &p_child(path, key),
                    format!("Invalid value: {}: must be a boolean", other.shown()),
                );
                false
            }
        }
    }

    fn f64_of(&mut self, m: &Map<String, Value>, key: &str, path: &str) -> Option<f64> {
        match m.get(key)? {
            Value::Null => None,
            Value::Number(n) => n.as_f64(),
            other => {
                self.err(
                    &p_child(path, key),
                    format!("Invalid value: {}: must be a number", other.shown()),
                );
                None
            }
        }
    }

    fn i64_of(&mut self, m: &Map<String, Value>, key: &str, path: &str) -> Option<i64> {
        match m.get(key)? {
            Value::Null => None,
            Value::Number(n) if n.as_i64().is_some() => n.as_i64(),
            other => {
                self.err(
                    &p_child(path, key),
                    format!("Invalid value: {}: must be an integer", other.shown()),
                );
                None
            }
        }
    }

    fn str_of(&mut self, m: &Map<String, Value>, key: &str, path: &str) -> Option<String> {
        match m.get(key)? {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            other => {
                self.err(
                    &p_child(path, key),
                    format!("Invalid value: {}: must be a string", other.shown()),
                );
                None
            }
        }
    }

    fn strings_of(&mut self, m: &Map<String, Value>, key: &str, path: &str) -> Vec<String> {
        match m.get(key) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) if a.iter().all(Value::is_string) => a
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
            Some(other) => {
                self.err(
                    &p_child(path, key),
                    format!(
                        "Invalid value: {}: must be a list of strings",
                        other.shown()
                    ),
                );
                Vec::new()
            }
        }
    }

    fn nested_list(
        &mut self,
        m: &Map<String, Value>,
        key: &str,
        path: &str,
        depth: usize,
        allow_type: bool,
        first_ok: bool,
    ) -> Vec<Node> {
        match m.get(key) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(list)) => list
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    let level = Level::Nested { allow_type };
                    self.node(
                        s,
                        &p_index(&p_child(path, key), i),
                        level,
                        depth + 1,
                        first_ok && i == 0,
                    )
                })
                .collect(),
            Some(other) => {
                self.err(
                    &p_child(path, key),
                    format!(
                        "Invalid value: {}: must be a list of schemas",
                        other.shown()
                    ),
                );
                Vec::new()
            }
        }
    }

    /// `int_or_string_ok`: whether this node's `anyOf` may be upstream's int-or-string
    /// pattern (structural nodes and the first `allOf` of one).
    fn node(
        &mut self,
        v: &Value,
        path: &str,
        level: Level,
        depth: usize,
        int_or_string_ok: bool,
    ) -> Node {
        let mut n = Node::default();
        if depth > MAX_SCHEMA_DEPTH {
            self.err(
                path,
                format!("Forbidden: must not be nested more than {MAX_SCHEMA_DEPTH} levels deep"),
            );
            return n;
        }
        let Value::Object(m) = v else {
            self.err(
                path,
                format!("Invalid value: {}: must be a schema object", v.shown()),
            );
            return n;
        };
        let nested = matches!(level, Level::Nested { .. });

        if m.contains_key("$ref") {
            self.err(
                &p_child(path, "$ref"),
                "Forbidden: $ref is not supported".into(),
            );
        }
        if m.contains_key("additionalItems") {
            self.err(
                &p_child(path, "additionalItems"),
                "Forbidden: additionalItems is not supported".into(),
            );
        }
        if m.contains_key("patternProperties") {
            self.err(
                &p_child(path, "patternProperties"),
                "Forbidden: patternProperties is not supported".into(),
            );
        }

        let mut declared_type = String::new();
        match self.str_of(m, "type", path) {
            None => {}
            Some(t) if t.is_empty() => {}
            Some(t) if t == "null" => self.err(
                &p_child(path, "type"),
                "Forbidden: type cannot be set to null, use nullable as an alternative".into(),
            ),
            Some(t) => match SCHEMA_TYPES.iter().find(|s| **s == t) {
                Some(s) => {
                    n.types.push(s);
                    declared_type = t;
                }
                None => {
                    let quoted: Vec<String> = SCHEMA_TYPES.iter().map(|s| go_quote(s)).collect();
                    self.err(
                        &p_child(path, "type"),
                        format!(
                            "Unsupported value: {}: supported values: {}",
                            go_quote(&t),
                            quoted.join(", ")
                        ),
                    );
                }
            },
        }
        let int_or_string = self.bool_of(m, "x-kubernetes-int-or-string", path);
        if int_or_string {
            n.types = vec!["integer", "string"];
        }
        n.preserve_unknown = self.bool_of(m, "x-kubernetes-preserve-unknown-fields", path);
        n.embedded = self.bool_of(m, "x-kubernetes-embedded-resource", path);
        n.nullable = self.bool_of(m, "nullable", path);
        n.default = m.get("default").filter(|d| !d.is_null()).cloned();

        if let Some(f) = self.str_of(m, "format", path) {
            let kept = match n.types.as_slice() {
                [] | ["string"] => STRING_FORMATS.contains(&normalized_format(&f).as_str()),
                ["integer"] => f == "int32" || f == "int64",
                ["number"] => f == "float" || f == "double",
                // Strings' formats for int-or-string (its type is two types, not one).
                [_, _] => STRING_FORMATS.contains(&normalized_format(&f).as_str()),
                _ => false,
            };
            if kept {
                n.format = f;
            }
        }
        match m.get("enum") {
            None | Some(Value::Null) => {}
            Some(Value::Array(a)) => n.enumv = Some(a.clone()),
            Some(other) => self.err(
                &p_child(path, "enum"),
                format!("Invalid value: {}: must be a list", other.shown()),
            ),
        }
        n.maximum = self.f64_of(m, "maximum", path);
        n.exclusive_maximum = self.bool_of(m, "exclusiveMaximum", path);
        n.minimum = self.f64_of(m, "minimum", path);
        n.exclusive_minimum = self.bool_of(m, "exclusiveMinimum", path);
        n.multiple_of = self.f64_of(m, "multipleOf", path);
        n.max_length = self.i64_of(m, "maxLength", path);
        n.min_length = self.i64_of(m, "minLength", path);
        n.max_items = self.i64_of(m, "maxItems", path);
        n.min_items = self.i64_of(m, "minItems", path);
        n.unique_items = self.bool_of(m, "uniqueItems", path);
        n.max_properties = self.i64_of(m, "maxProperties", path);
        n.min_properties = self.i64_of(m, "minProperties", path);
        n.required = self.strings_of(m, "required", path);
        if let Some(p) = self.str_of(m, "pattern", path) {
            match RegexBuilder::new(&p)
                .size_limit(REGEX_SIZE_LIMIT)
                .dfa_size_limit(REGEX_SIZE_LIMIT)
                .build()
            {
                Ok(re) => n.pattern = Some((p, re)),
                Err(e) => {
                    let why = e.to_string().replace('\n', " ");
                    self.err(
                        &p_child(path, "pattern"),
                        format!("Invalid value: {}: must be a valid regular expression, but isn't: {why}", go_quote(&p)),
                    );
                }
            }
        }

        let child_level = |l: Level| {
            if nested {
                Level::Nested { allow_type: false }
            } else {
                l
            }
        };
        match m.get("items") {
            None | Some(Value::Null) => {}
            Some(Value::Array(_)) => self.err(
                &p_child(path, "items"),
                "Forbidden: items must be a schema object and not an array".into(),
            ),
            Some(items) => {
                let item = self.node(
                    items,
                    &p_child(path, "items"),
                    child_level(Level::Item),
                    depth + 1,
                    !nested,
                );
                n.items = Some(Box::new(item));
            }
        }
        match m.get("properties") {
            None | Some(Value::Null) => {}
            Some(Value::Object(props)) => {
                let props_path = p_child(path, "properties");
                for (k, s) in props {
                    let child = self.node(
                        s,
                        &p_key(&props_path, k),
                        child_level(Level::Field),
                        depth + 1,
                        !nested,
                    );
                    n.properties.push((k.clone(), child));
                }
                n.properties.sort_by(|a, b| a.0.cmp(&b.0));
            }
            Some(other) => self.err(
                &p_child(path, "properties"),
                format!("Invalid value: {}: must be an object", other.shown()),
            ),
        }
        match m.get("additionalProperties") {
            None | Some(Value::Null) => {}
            Some(Value::Bool(b)) => n.additional = Some(Box::new(Additional::Allows(*b))),
            Some(s) => {
                let child = self.node(
                    s,
                    &p_child(path, "additionalProperties"),
                    child_level(Level::Field),
                    depth + 1,
                    !nested,
                );
                n.additional = Some(Box::new(Additional::Schema(Box::new(child))));
            }
        }

        let any_of_pattern = int_or_string_ok && is_int_or_string_any_of(m.get("anyOf"));
        n.all_of = self.nested_list(m, "allOf", path, depth, false, !nested);
        n.any_of = self.nested_list(m, "anyOf", path, depth, any_of_pattern, false);
        n.one_of = self.nested_list(m, "oneOf", path, depth, false, false);
        match m.get("not") {
            None | Some(Value::Null) => {}
            Some(s) => {
                let not = self.node(
                    s,
                    &p_child(path, "not"),
                    Level::Nested { allow_type: false },
                    depth + 1,
                    false,
                );
                n.not = Some(Box::new(not));
            }
        }
        n.list_type = self.str_of(m, "x-kubernetes-list-type", path);
        n.list_map_keys = self.strings_of(m, "x-kubernetes-list-map-keys", path);
        let map_type = self.str_of(m, "x-kubernetes-map-type", path);

        self.check_structural(
            &n,
            m,
            path,
            level,
            int_or_string,
            &declared_type,
            map_type.as_deref(),
        );

        // Upstream prunes defaults when it loads the CRD, so a default never brings in
        // fields the schema would drop.
        if let Some(mut d) = n.default.take() {
            prune_default(&mut d, &n);
            n.default = Some(d);
        }
        n
    }

    #[allow(clippy::too_many_arguments)]
    fn check_structural(
        &mut self,
        n: &Node,
        m: &Map<String, Value>,
        path: &str,
        level: Level,
        int_or_string: bool,
        declared_type: &str,
        map_type: Option<&str>,
    ) {
        let has = |k: &str| m.get(k).is_some_and(|v| !v.is_null());
        if let Level::Nested { allow_type } = level {
            if !allow_type && !declared_type.is_empty() {
                self.err(
                    &p_child(path, "type"),
                    "Forbidden: must be empty to be structural".into(),
                );
            }
            let forbidden: [(&str, bool, &str); 9] = [
                (
                    "additionalProperties",
                    has("additionalProperties"),
                    "must be undefined to be structural",
                ),
                (
                    "default",
                    n.default.is_some(),
                    "must be undefined to be structural",
                ),
                ("nullable", n.nullable, "must be false to be structural"),
                (
                    "x-kubernetes-preserve-unknown-fields",
                    n.preserve_unknown,
                    "must be false to be structural",
                ),
                (
                    "x-kubernetes-embedded-resource",
                    n.embedded,
                    "must be false to be structural",
                ),
                (
                    "x-kubernetes-int-or-string",
                    int_or_string,
                    "must be false to be structural",
                ),
                (
                    "x-kubernetes-list-map-keys",
                    !n.list_map_keys.is_empty(),
                    "must be empty to be structural",
                ),
                (
                    "x-kubernetes-list-type",
                    n.list_type.is_some(),
                    "must be undefined to be structural",
                ),
                (
                    "x-kubernetes-map-type",
                    map_type.is_some(),
                    "must be undefined to be structural",
                ),
            ];
            for (key, set, detail) in forbidden {
                if set {
                    self.err(&p_child(path, key), format!("Forbidden: {detail}"));
                }
            }
            if n.prop("metadata").is_some() {
                self.err(
                    &p_key(&p_child(path, "properties"), "metadata"),
                    "Forbidden: must not be specified in a nested context".into(),
                );
            }
            return;
        }
        if declared_type == "array" && n.items.is_none() {
            self.err(
                &p_child(path, "items"),
                "Required value: must be specified".into(),
            );
        }
        if n.additional.is_some() {
            if level == Level::Root {
                self.err(
                    &p_child(path, "additionalProperties"),
                    "Forbidden: must not be used at the root".into(),
                );
            }
            let set_schema_or_false =
                !matches!(n.additional.as_deref(), Some(Additional::Allows(true)));
            if !n.properties.is_empty() && set_schema_or_false {
                self.err(
                    &p_child(path, "additionalProperties"),
                    "Forbidden: additionalProperties and properties are mutual exclusive".into(),
                );
            }
            if n.embedded {
                self.err(
                    &p_child(path, "additionalProperties"),
                    "Forbidden: must not be used if x-kubernetes-embedded-resource is set".into(),
                );
            }
        }
        if int_or_string && n.preserve_unknown {
            self.err(
                &p_child(path, "x-kubernetes-preserve-unknown-fields"),
                "Invalid value: true: must be false if x-kubernetes-int-or-string is true".into(),
            );
        }
        if int_or_string && n.embedded {
            self.err(
                &p_child(path, "x-kubernetes-embedded-resource"),
                "Invalid value: true: must be false if x-kubernetes-int-or-string is true".into(),
            );
        }
        if n.embedded && declared_type != "object" {
            if declared_type.is_empty() {
                self.err(
                    &p_child(path, "type"),
                    "Required value: must be object if x-kubernetes-embedded-resource is true"
                        .into(),
                );
            } else {
                self.err(
                    &p_child(path, "type"),
                    format!("Invalid value: {}: must be object if x-kubernetes-embedded-resource is true", go_quote(declared_type)),
                );
            }
        } else if n.types.is_empty() && !n.preserve_unknown {
            let detail = match level {
                Level::Root => "must not be empty at the root",
                Level::Item => "must not be empty for specified array items",
                _ => "must not be empty for specified object fields",
            };
            self.err(&p_child(path, "type"), format!("Required value: {detail}"));
        }
        if level == Level::Root && !declared_type.is_empty() && declared_type != "object" {
            self.err(
                &p_child(path, "type"),
                format!(
                    "Invalid value: {}: must be object at the root",
                    go_quote(declared_type)
                ),
            );
        }
        if n.embedded && !n.preserve_unknown && n.properties.is_empty() {
            self.err(
                &p_child(path, "properties"),
                "Required value: must not be empty if x-kubernetes-embedded-resource is true without x-kubernetes-preserve-unknown-fields".into(),
            );
        }
        if let Some(lt) = &n.list_type {
            if !["atomic", "set", "map"].contains(&lt.as_str()) {
                self.err(
                    &p_child(path, "x-kubernetes-list-type"),
                    format!(
                        "Unsupported value: {}: supported values: \"atomic\", \"set\", \"map\"",
                        go_quote(lt)
                    ),
                );
            } else if declared_type != "array" {
                self.err(
                    &p_child(path, "type"),
                    "Required value: must be array if x-kubernetes-list-type is specified".into(),
                );
            }
            if lt == "map" && n.list_map_keys.is_empty() {
                self.err(
                    &p_child(path, "x-kubernetes-list-map-keys"),
                    "Required value: must not be empty if x-kubernetes-list-type is map".into(),
                );
            }
        }
        if !n.list_map_keys.is_empty() && n.list_type.as_deref() != Some("map") {
            self.err(
                &p_child(path, "x-kubernetes-list-type"),
                "Required value: must be map if x-kubernetes-list-map-keys is non-empty".into(),
            );
        }
        if let Some(mt) = map_type {
            if mt != "atomic" && mt != "granular" {
                self.err(
                    &p_child(path, "x-kubernetes-map-type"),
                    format!(
                        "Unsupported value: {}: supported values: \"atomic\", \"granular\"",
                        go_quote(mt)
                    ),
                );
            } else if declared_type != "object" {
                self.err(
                    &p_child(path, "type"),
                    "Required value: must be object if x-kubernetes-map-type is specified".into(),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::custom::schema::{Structural, MAX_SCHEMA_DEPTH};

    #[test]
    fn int_or_string_any_of_pattern_is_structural() {
        let s = Structural::parse(&json!({"type": "object", "properties": {"p": {
            "x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}]}}}));
        assert!(s.is_ok());
    }

    #[test]
    fn refuses_nodes_without_type() {
        let e = Structural::parse(
            &json!({"type": "object", "properties": {"spec": {"properties": {}}}}),
        );
        assert_eq!(e.err(), Some(vec!["properties[spec].type: Required value: must not be empty for specified object fields".to_string()]));
    }

    #[test]
    fn refuses_refs_unknown_types_and_bad_patterns() {
        let e = Structural::parse(&json!({"type": "object", "properties": {
            "a": {"$ref": "#/x", "type": "string"}, "b": {"type": "thing"}, "c": {"type": "string", "pattern": "("}}}))
        .err()
        .unwrap_or_default();
        assert_eq!(e.len(), 4, "{e:?}");
        assert!(e.contains(&"properties[a].$ref: Forbidden: $ref is not supported".to_string()));
        assert!(e
            .iter()
            .any(|m| m.starts_with("properties[b].type: Unsupported value: \"thing\"")));
        assert!(e.iter().any(|m| m.starts_with(
            "properties[c].pattern: Invalid value: \"(\": must be a valid regular expression"
        )));
    }

    #[test]
    fn refuses_arrays_without_items_and_root_additional_properties() {
        let e = Structural::parse(
            &json!({"type": "object", "additionalProperties": {"type": "string"},
            "properties": {"l": {"type": "array"}}}),
        )
        .err()
        .unwrap_or_default();
        assert!(
            e.contains(
                &"additionalProperties: Forbidden: must not be used at the root".to_string()
            ),
            "{e:?}"
        );
        assert!(
            e.contains(&"properties[l].items: Required value: must be specified".to_string()),
            "{e:?}"
        );
    }

    #[test]
    fn refuses_types_inside_value_validations() {
        let e = Structural::parse(
            &json!({"type": "object", "properties": {"a": {"type": "string", "allOf": [{"type": "string"}]}}}),
        );
        assert_eq!(
            e.err(),
            Some(vec![
                "properties[a].allOf[0].type: Forbidden: must be empty to be structural"
                    .to_string()
            ])
        );
    }

    #[test]
    fn refuses_hostile_depth_without_panicking() {
        let mut s = json!({"type": "string"});
        for _ in 0..(MAX_SCHEMA_DEPTH + 5) {
            s = json!({"type": "object", "properties": {"a": s}});
        }
        assert!(Structural::parse(&s).is_err());
    }
}
