//! The structural schema of a custom resource version (`openAPIV3Schema`): validation,
//! defaulting and pruning of its objects, as upstream's apiextensions-apiserver does them.
//!
//! Validation follows kube-openapi's validator (its error messages, their order, its
//! quirks) and apiextensions' conversion of those errors to field errors; list-type and
//! embedded-resource checks follow their own upstream passes and come after it.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use regex::{Regex, RegexBuilder};
use serde_json::{Map, Value};

use crate::status::{go_quote, Cause, Shown};

/// Deeper schemas are refused: every walk below recurses along the schema.
const MAX_SCHEMA_DEPTH: usize = 100;
/// Walks that follow the object where the schema no longer does (pruning under no
/// schema, rendering values) stop here rather than exhaust the stack.
const MAX_VALUE_DEPTH: usize = 512;
/// What a CRD's `pattern` may compile to; a hostile pattern is an error, not a stall.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

const META_FIELDS: [&str; 3] = ["apiVersion", "kind", "metadata"];

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
// Parsing

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

fn p_key(path: &str, key: &str) -> String {
    format!("{path}[{key}]")
}

fn p_index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

const SCHEMA_TYPES: [&str; 6] = ["array", "boolean", "integer", "number", "object", "string"];

/// Formats upstream validates for strings (names without dashes, as go-openapi
/// normalises them); any other string format is stripped and passes.
const STRING_FORMATS: [&str; 26] = [
    "bsonobjectid",
    "uri",
    "email",
    "hostname",
    "ipv4",
    "ipv6",
    "cidr",
    "mac",
    "uuid",
    "uuid3",
    "uuid4",
    "uuid5",
    "isbn",
    "isbn10",
    "isbn13",
    "creditcard",
    "ssn",
    "hexcolor",
    "rgbcolor",
    "byte",
    "password",
    "date",
    "duration",
    "datetime",
    "k8sshortname",
    "k8slongname",
];

fn normalized_format(f: &str) -> String {
    f.replace('-', "")
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
            prune_value(&mut d, Some(&n), false, "", &mut Vec::new(), 0);
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

impl Structural {
    /// Parses an `openAPIV3Schema` (JSONSchemaProps as JSON). The errors say what is
    /// not structural or not supported, with paths relative to the schema
    /// (`properties[spec].type: Required value: ...`), sorted as upstream sorts them.
    pub fn parse(schema: &Value) -> Result<Structural, Vec<String>> {
        let mut p = Parser { errors: Vec::new() };
        let root = p.node(schema, "", Level::Root, 0, true);
        if p.errors.is_empty() {
            Ok(Structural { root })
        } else {
            p.errors.sort();
            p.errors.dedup();
            Err(p.errors)
        }
    }

    /// Drops fields the schema does not know (pruning), then fields that are null
    /// where the schema is neither nullable nor defaulted (upstream does both when it
    /// decodes a custom object). Returns the pruned paths in upstream's form
    /// (`spec.foo`, `spec.list[0].bar`), sorted, for fieldValidation=Strict/Warn.
    pub fn prune(&self, obj: &mut Value) -> Vec<String> {
        let mut out = Vec::new();
        prune_value(obj, Some(&self.root), true, "", &mut out, 0);
        prune_nulls(obj, Some(&self.root), 0);
        out.sort();
        out
    }

    /// Applies `default`s where the parent object exists: to absent fields, and to
    /// nulls where the schema is not nullable; recursively, into array items and
    /// additionalProperties values, and into defaulted values themselves.
    pub fn apply_defaults(&self, obj: &mut Value) {
        apply_defaults(obj, &self.root, 0);
    }

    /// Validates an object against the schema: kube-openapi's checks, then embedded
    /// resources' apiVersion and kind, then list-type set/map uniqueness.
    pub fn validate(&self, obj: &Value) -> Vec<Cause> {
        let res = validate_node(&self.root, obj, "");
        let mut seen = HashSet::new();
        let mut causes: Vec<Cause> = res
            .errs
            .into_iter()
            .filter(|e| seen.insert(e.msg.clone()))
            .map(Fault::into_cause)
            .collect();
        validate_embedded(Some(&self.root), obj, "", &mut causes, 0);
        validate_lists(&self.root, obj, "", &mut causes, 0);
        causes
    }
}

// ---------------------------------------------------------------------------------------
// Pruning and defaulting

fn key_path(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

fn prune_value(
    v: &mut Value,
    n: Option<&Node>,
    root: bool,
    path: &str,
    out: &mut Vec<String>,
    depth: usize,
) {
    if depth > MAX_VALUE_DEPTH {
        return;
    }
    if let Some(node) = n.filter(|n| n.preserve_unknown) {
        skip_prune(v, node, root, path, out, depth);
        return;
    }
    match v {
        Value::Object(map) => {
            let Some(node) = n else {
                out.extend(map.keys().map(|k| key_path(path, k)));
                map.clear();
                return;
            };
            let embedded = node.embedded || root;
            let mut drop = HashSet::new();
            for (k, val) in map.iter_mut() {
                if embedded && META_FIELDS.contains(&k.as_str()) {
                    continue;
                }
                if let Some(p) = node.prop(k) {
                    prune_value(val, Some(p), false, &key_path(path, k), out, depth + 1);
                } else if let Some(a) = &node.additional {
                    prune_value(val, a.schema(), false, &key_path(path, k), out, depth + 1);
                } else {
                    if !META_FIELDS.contains(&k.as_str()) || !path.is_empty() {
                        out.push(key_path(path, k));
                    }
                    drop.insert(k.clone());
                }
            }
            if !drop.is_empty() {
                map.retain(|k, _| !drop.contains(k));
            }
        }
        Value::Array(list) => {
            let items = n.and_then(|n| n.items.as_deref());
            for (i, x) in list.iter_mut().enumerate() {
                prune_value(x, items, false, &p_index(path, i), out, depth + 1);
            }
        }
        _ => {}
    }
}

/// Under x-kubernetes-preserve-unknown-fields unknown fields stay, known ones are
/// pruned by their own schemas.
fn skip_prune(
    v: &mut Value,
    n: &Node,
    root: bool,
    path: &str,
    out: &mut Vec<String>,
    depth: usize,
) {
    if depth > MAX_VALUE_DEPTH {
        return;
    }
    match v {
        Value::Object(map) => {
            let embedded = n.embedded || root;
            for (k, val) in map.iter_mut() {
                if embedded && META_FIELDS.contains(&k.as_str()) {
                    continue;
                }
                if let Some(p) = n.prop(k) {
                    prune_value(val, Some(p), false, &key_path(path, k), out, depth + 1);
                } else if let Some(a) = &n.additional {
                    prune_value(val, a.schema(), false, &key_path(path, k), out, depth + 1);
                }
            }
        }
        Value::Array(list) => {
            if let Some(items) = n.items.as_deref() {
                for (i, x) in list.iter_mut().enumerate() {
                    skip_prune(x, items, false, &p_index(path, i), out, depth + 1);
                }
            }
        }
        _ => {}
    }
}

fn prune_nulls(v: &mut Value, n: Option<&Node>, depth: usize) {
    if depth > MAX_VALUE_DEPTH {
        return;
    }
    match v {
        Value::Object(map) => {
            let mut drop = HashSet::new();
            for (k, val) in map.iter_mut() {
                let schema = n.and_then(|n| match n.prop(k) {
                    Some(p) => Some(p),
                    None => n.additional.as_deref().and_then(Additional::schema),
                });
                if val.is_null() && schema.is_some_and(|s| !s.nullable && s.default.is_none()) {
                    drop.insert(k.clone());
                } else {
                    prune_nulls(val, schema, depth + 1);
                }
            }
            if !drop.is_empty() {
                map.retain(|k, _| !drop.contains(k));
            }
        }
        Value::Array(list) => {
            let items = n.and_then(|n| n.items.as_deref());
            for x in list.iter_mut() {
                prune_nulls(x, items, depth + 1);
            }
        }
        _ => {}
    }
}

fn apply_defaults(v: &mut Value, n: &Node, depth: usize) {
    if depth > MAX_SCHEMA_DEPTH {
        return;
    }
    match v {
        Value::Object(map) => {
            for (k, p) in &n.properties {
                let Some(d) = &p.default else { continue };
                match map.get_mut(k) {
                    None => {
                        map.insert(k.clone(), d.clone());
                    }
                    Some(cur) if cur.is_null() && !p.nullable => *cur = d.clone(),
                    Some(_) => {}
                }
            }
            for (k, val) in map.iter_mut() {
                if let Some(p) = n.prop(k) {
                    apply_defaults(val, p, depth + 1);
                } else if let Some(s) = n.additional.as_deref().and_then(Additional::schema) {
                    if val.is_null() && !s.nullable {
                        *val = s.default.clone().unwrap_or(Value::Null);
                    }
                    apply_defaults(val, s, depth + 1);
                }
            }
        }
        Value::Array(list) => {
            if let Some(items) = n.items.as_deref() {
                for x in list.iter_mut() {
                    if x.is_null() && !items.nullable {
                        *x = items.default.clone().unwrap_or(Value::Null);
                    }
                    apply_defaults(x, items, depth + 1);
                }
            }
        }
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------
// Validation (kube-openapi)

/// How apiextensions turns each kube-openapi error into a field error.
#[derive(Debug)]
enum Kind {
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
struct Fault {
    kind: Kind,
    /// kube-openapi's error name (the data path, `.`-joined, `[i]` for items).
    name: String,
    /// The bad value as upstream prints it.
    value: String,
    /// kube-openapi's message; also what upstream deduplicates errors by.
    msg: String,
}

/// A value already rendered as upstream renders it.
struct Raw(String);

impl Shown for Raw {
    fn shown(&self) -> String {
        self.0.clone()
    }
}

impl Fault {
    fn new(kind: Kind, name: &str, value: String, msg: String) -> Fault {
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

/// kube-openapi's `Result`: errors and the match count it uses to pick the
/// alternative of an anyOf/oneOf whose errors it reports.
#[derive(Default)]
struct Res {
    errs: Vec<Fault>,
    count: u64,
}

impl Res {
    fn merge(&mut self, other: Res) {
        self.errs.extend(other.errs);
        self.count += other.count;
    }
}

#[derive(Clone, Copy)]
enum Num {
    I(i64),
    F(f64),
}

fn num_of(n: &serde_json::Number) -> Num {
    match n.as_i64() {
        Some(i) => Num::I(i),
        None => Num::F(n.as_f64().unwrap_or(f64::NAN)),
    }
}

impl Num {
    fn as_f64(self) -> f64 {
        match self {
            Num::I(i) => i as f64,
            Num::F(f) => f,
        }
    }
    /// Go's `%v`.
    fn shown(self) -> String {
        match self {
            Num::I(i) => i.to_string(),
            Num::F(f) => go_float_v(f),
        }
    }
}

/// `"<path> in body"`, kube-openapi's subject (` in body` at the root, as Go prints it).
fn subj(path: &str) -> String {
    format!("{path} in body")
}

fn invalid_type(path: &str, ty: &str, got: &str) -> Fault {
    Fault::new(
        Kind::TypeInvalid,
        path,
        go_quote(got),
        format!("{} must be of type {ty}: {}", subj(path), go_quote(got)),
    )
}

/// Go's swag.IsFloat64AJSONInteger: integral (to a relative 1e-9) and within ±2^53.
fn is_json_integer(f: f64) -> bool {
    const MAX: f64 = 9_007_199_254_740_992.0;
    if !f.is_finite() || !(-MAX..=MAX).contains(&f) {
        return false;
    }
    let t = f.trunc();
    if f == t {
        return true;
    }
    let diff = (f - t).abs();
    let sum = f.abs() + t.abs();
    sum > 0.0 && diff / sum < 1e-9
}

fn infer_type(v: &Value) -> (&'static str, &'static str) {
    match v {
        Value::Bool(_) => ("boolean", ""),
        Value::String(_) => ("string", ""),
        Value::Number(n) => match num_of(n) {
            Num::I(_) => ("integer", "int64"),
            Num::F(_) => ("number", "float64"),
        },
        Value::Array(_) => ("array", ""),
        Value::Object(_) => ("object", ""),
        Value::Null => ("", ""),
    }
}

fn check_type(n: &Node, v: &Value, path: &str) -> Option<Fault> {
    let has = |t: &str| n.types.contains(&t);
    if v.is_null() {
        if !n.types.is_empty() && !n.nullable {
            return Some(invalid_type(path, &n.types.join(","), "null"));
        }
        return None;
    }
    let (sch_type, format) = infer_type(v);
    let is_float_int = match v {
        Value::Number(num) => {
            matches!(num_of(num), Num::F(f) if is_json_integer(f)) && has("integer")
        }
        _ => false,
    };
    let is_int_float = sch_type == "integer" && has("number");
    let string_or_slice = v.is_string() || v.is_array();
    let format_fits = has(sch_type) || format == n.format || is_float_int || is_int_float;
    // A scalar that is not a string must fit the format, when there is one.
    if !(string_or_slice || n.format.is_empty() || format_fits) {
        return Some(invalid_type(path, &n.format, format));
    }
    // A formatted string or list passes the type check unless the type is numeric.
    if string_or_slice && !(has("number") || has("integer") || n.format.is_empty()) {
        return None;
    }
    if !(has(sch_type) || is_float_int || is_int_float) {
        return Some(invalid_type(path, &n.types.join(","), sch_type));
    }
    None
}

fn enum_matches(data: &Value, e: &Value) -> bool {
    match (data, e) {
        (Value::Null, _) => false,
        (Value::Number(d), Value::Number(e)) => match (num_of(d), num_of(e)) {
            (Num::I(a), Num::I(b)) => a == b,
            (Num::F(a), Num::F(b)) => a == b,
            (Num::I(a), Num::F(b)) => a as f64 == b,
            // Go converts the datum to the enum value's type: a float truncates.
            (Num::F(a), Num::I(b)) => a as i64 == b,
        },
        // Go's int-to-string conversion makes a rune.
        (Value::Number(d), Value::String(s)) => match num_of(d) {
            Num::I(i) => {
                let c = u32::try_from(i)
                    .ok()
                    .and_then(char::from_u32)
                    .unwrap_or('\u{FFFD}');
                s.chars().eq(std::iter::once(c))
            }
            Num::F(_) => false,
        },
        (a, b) => a == b,
    }
}

fn check_enum(n: &Node, v: &Value, path: &str) -> Option<Fault> {
    let values = n.enumv.as_ref().filter(|e| !e.is_empty())?;
    if values.iter().any(|e| enum_matches(v, e)) {
        return None;
    }
    let supported = values
        .iter()
        .map(|e| match e {
            Value::String(s) => s.clone(),
            other => go_json(other),
        })
        .collect();
    let listed: Vec<String> = values.iter().map(go_shown).collect();
    let msg = format!("{} should be one of [{}]", subj(path), listed.join(" "));
    Some(Fault::new(
        Kind::NotSupported(supported),
        path,
        go_shown(v),
        msg,
    ))
}

fn check_string(n: &Node, s: &str, path: &str) -> Option<Fault> {
    let len = i64::try_from(s.chars().count()).unwrap_or(i64::MAX);
    if let Some(max) = n.max_length.filter(|max| len > *max) {
        let msg = format!("{} should be at most {max} chars long", subj(path));
        return Some(Fault::new(Kind::TooLong(max), path, go_quote(s), msg));
    }
    if let Some(min) = n.min_length.filter(|min| len < *min) {
        let msg = format!("{} should be at least {min} chars long", subj(path));
        return Some(Fault::new(Kind::Invalid, path, go_quote(s), msg));
    }
    if let Some((p, re)) = &n.pattern {
        if !re.is_match(s) {
            let msg = format!("{} should match '{p}'", subj(path));
            return Some(Fault::new(Kind::Invalid, path, go_quote(s), msg));
        }
    }
    None
}

/// kube-openapi's IsValueValidAgainstRange: can `rep` be read as the node's
/// numeric type and format.
fn in_range(rep: &str, ty: &str, format: &str) -> bool {
    match (ty, format) {
        ("integer", "int32") => rep.parse::<i32>().is_ok(),
        ("integer", _) => rep.parse::<i64>().is_ok(),
        ("number", "float") => rep.parse::<f32>().is_ok_and(f32::is_finite),
        _ => true,
    }
}

/// Go's strconv.FormatFloat(f, 'f', -1, 64), as swag.FormatFloat64 prints it.
fn rep_of(n: Num) -> String {
    match n {
        Num::I(i) => i.to_string(),
        Num::F(f) => format!("{f}"),
    }
}

fn range_error(prefix: &str, ty: &str, format: &str, path: &str) -> Fault {
    let msg = if format.is_empty() {
        format!("{prefix} value must be of type {ty} (default format) in {path}")
    } else {
        format!("{prefix} value must be of type {ty} with format {format} in {path}")
    };
    Fault::new(Kind::Plain, path, String::new(), msg)
}

fn multiple_of_float(path: &str, data: f64, factor: f64) -> Option<Fault> {
    if factor <= 0.0 {
        let msg = format!(
            "factor MultipleOf declared for {path} must be positive: {}",
            go_float_v(factor)
        );
        return Some(Fault::new(Kind::Invalid, path, go_float_v(factor), msg));
    }
    let mult = if factor < 1.0 {
        1.0 / factor * data
    } else {
        data / factor
    };
    if is_json_integer(mult) {
        return None;
    }
    let msg = format!(
        "{} should be a multiple of {}",
        subj(path),
        go_float_v(factor)
    );
    Some(Fault::new(Kind::Invalid, path, go_float_v(data), msg))
}

fn multiple_of_int(path: &str, data: i64, factor: i64) -> Option<Fault> {
    if factor <= 0 {
        let msg = format!("factor MultipleOf declared for {path} must be positive: {factor}");
        return Some(Fault::new(Kind::Invalid, path, factor.to_string(), msg));
    }
    if data.checked_rem(factor) == Some(0) {
        return None;
    }
    let msg = format!("{} should be a multiple of {factor}", subj(path));
    Some(Fault::new(Kind::Invalid, path, data.to_string(), msg))
}

/// `exceeds`: compares as kube-openapi does, natively for integers (against the bound
/// converted to an integer) and as floats otherwise.
fn bound_error(
    path: &str,
    data: Num,
    bound: f64,
    exclusive: bool,
    is_max: bool,
    native: bool,
) -> Option<Fault> {
    let (violated, shown_bound, shown_data) = match (data, native) {
        (Num::I(i), true) => {
            let b = bound as i64;
            let v = if is_max {
                i > b || (exclusive && i == b)
            } else {
                i < b || (exclusive && i == b)
            };
            (v, b.to_string(), i.to_string())
        }
        _ => {
            let d = data.as_f64();
            let v = if is_max {
                d > bound || (exclusive && d == bound)
            } else {
                d < bound || (exclusive && d == bound)
            };
            (v, go_float_v(bound), go_float_v(d))
        }
    };
    if !violated {
        return None;
    }
    let relation = match (is_max, exclusive) {
        (true, false) => "less than or equal to",
        (true, true) => "less than",
        (false, false) => "greater than or equal to",
        (false, true) => "greater than",
    };
    let msg = format!("{} should be {relation} {shown_bound}", subj(path));
    Some(Fault::new(Kind::Invalid, path, shown_data, msg))
}

fn check_number(n: &Node, data: Num, path: &str) -> Vec<Fault> {
    let (ty, format) = match n.types.as_slice() {
        ["integer"] => (
            "integer",
            if n.format == "int32" || n.format == "int64" {
                n.format.as_str()
            } else {
                ""
            },
        ),
        ["number"] => (
            "number",
            if n.format == "float" || n.format == "double" {
                n.format.as_str()
            } else {
                ""
            },
        ),
        _ => ("", ""),
    };
    let mut errs = Vec::new();
    if !in_range(&rep_of(data), ty, format) {
        errs.push(range_error("Checked", ty, format, path));
    }
    if let Some(m) = n.multiple_of {
        if in_range(&rep_of(Num::F(m)), ty, format) {
            errs.extend(match data {
                Num::I(i) => multiple_of_int(path, i, m as i64),
                Num::F(f) => multiple_of_float(path, f, m),
            });
        } else {
            errs.push(range_error("MultipleOf", ty, format, path));
            errs.extend(multiple_of_float(path, data.as_f64(), m));
        }
    }
    for (bound, exclusive, is_max, prefix) in [
        (n.minimum, n.exclusive_minimum, false, "Minimum boundary"),
        (n.maximum, n.exclusive_maximum, true, "Maximum boundary"),
    ] {
        let Some(b) = bound else { continue };
        let native = in_range(&rep_of(Num::F(b)), ty, format);
        if !native {
            errs.push(range_error(prefix, ty, format, path));
        }
        errs.extend(bound_error(path, data, b, exclusive, is_max, native));
    }
    errs
}

fn check_format(n: &Node, s: &str, path: &str) -> Option<Result<(), Fault>> {
    let name = normalized_format(&n.format);
    let ok = format_valid(&name, s)?;
    if ok {
        Some(Ok(()))
    } else {
        let msg = format!(
            "{} must be of type {}: {}",
            subj(path),
            n.format,
            go_quote(s)
        );
        Some(Err(Fault::new(Kind::TypeInvalid, path, go_quote(s), msg)))
    }
}

fn validate_array(n: &Node, list: &[Value], path: &str, r: &mut Res) {
    if let Some(items) = n.items.as_deref() {
        for (i, x) in list.iter().enumerate() {
            r.merge(validate_node(items, x, &p_index(path, i)));
        }
    }
    let size = i64::try_from(list.len()).unwrap_or(i64::MAX);
    if let Some(min) = n.min_items.filter(|m| size < *m) {
        let msg = format!("{} should have at least {min} items", subj(path));
        r.errs
            .push(Fault::new(Kind::Invalid, path, size.to_string(), msg));
    }
    if let Some(max) = n.max_items.filter(|m| size > *m) {
        let msg = format!("{} should have at most {max} items", subj(path));
        r.errs.push(Fault::new(
            Kind::TooMany(size, max),
            path,
            size.to_string(),
            msg,
        ));
    }
    if n.unique_items {
        let dup = list
            .iter()
            .enumerate()
            .any(|(i, a)| list.iter().take(i).any(|b| a == b));
        if dup {
            let msg = format!("{} shouldn't contain duplicates", subj(path));
            r.errs
                .push(Fault::new(Kind::Invalid, path, go_quote(""), msg));
        }
    }
    r.count += 1;
}

fn validate_object(n: &Node, map: &Map<String, Value>, path: &str, r: &mut Res) {
    let size = i64::try_from(map.len()).unwrap_or(i64::MAX);
    if let Some(min) = n.min_properties.filter(|m| size < *m) {
        let msg = format!("{} should have at least {min} properties", subj(path));
        r.errs
            .push(Fault::new(Kind::Invalid, path, size.to_string(), msg));
    }
    if let Some(max) = n.max_properties.filter(|m| size > *m) {
        let msg = format!("{} should have at most {max} properties", subj(path));
        r.errs.push(Fault::new(
            Kind::TooMany(size, max),
            path,
            size.to_string(),
            msg,
        ));
    }
    match n.additional.as_deref() {
        Some(Additional::Allows(false)) => {
            for k in map.keys().filter(|k| n.prop(k).is_none()) {
                let msg = format!("{path}.{k} in body is a forbidden property");
                r.errs
                    .push(Fault::new(Kind::Invalid, path, go_quote(k), msg));
            }
        }
        Some(Additional::Schema(s)) => {
            for (k, v) in map.iter().filter(|(k, _)| n.prop(k).is_none()) {
                r.merge(validate_node(s, v, &format!("{path}.{k}")));
            }
        }
        _ => {}
    }
    for (name, p) in &n.properties {
        if let Some(v) = map.get(name) {
            r.merge(validate_node(p, v, &key_path(path, name)));
        }
    }
    for k in &n.required {
        if !map.contains_key(k) {
            let name = format!("{path}.{k}");
            let msg = format!("{} is required", subj(&name));
            r.errs
                .push(Fault::new(Kind::Required, &name, String::new(), msg));
        }
    }
}

fn api_error(msg: String) -> Fault {
    Fault::new(Kind::Plain, "", String::new(), msg)
}

/// kube-openapi's schemaPropsValidator: allOf, anyOf, oneOf, not.
fn validate_props(n: &Node, v: &Value, path: &str) -> Res {
    let mut main = Res::default();
    if !n.any_of.is_empty() {
        let mut best: Option<Res> = None;
        let mut succeeded = false;
        for s in &n.any_of {
            let r = validate_node(s, v, path);
            if r.errs.is_empty() {
                succeeded = true;
                best = Some(r);
                break;
            }
            if best.as_ref().is_none_or(|b| r.count > b.count) {
                best = Some(r);
            }
        }
        if !succeeded {
            main.errs.push(api_error(format!(
                "{} must validate at least one schema (anyOf)",
                go_quote(path)
            )));
        }
        if let Some(b) = best {
            main.merge(b);
        }
    }
    if !n.one_of.is_empty() {
        let mut best: Option<Res> = None;
        let mut first_success: Option<Res> = None;
        let mut validated = 0usize;
        for s in &n.one_of {
            let r = validate_node(s, v, path);
            if r.errs.is_empty() {
                validated += 1;
                best = None;
                if first_success.is_none() {
                    first_success = Some(r);
                }
                continue;
            }
            if validated == 0 && best.as_ref().is_none_or(|b| r.count > b.count) {
                best = Some(r);
            }
        }
        if validated != 1 {
            let more = if validated == 0 {
                "Found none valid".to_string()
            } else {
                format!("Found {validated} valid alternatives")
            };
            main.errs.push(api_error(format!(
                "{} must validate one and only one schema (oneOf). {more}",
                go_quote(path)
            )));
            if let Some(b) = best {
                main.merge(b);
            }
        } else if let Some(s) = first_success {
            main.merge(s);
        }
    }
    if !n.all_of.is_empty() {
        let mut validated = 0usize;
        for s in &n.all_of {
            let r = validate_node(s, v, path);
            if r.errs.is_empty() {
                validated += 1;
            }
            main.merge(r);
        }
        if validated != n.all_of.len() {
            let more = if validated == 0 {
                ". None validated"
            } else {
                ""
            };
            main.errs.push(api_error(format!(
                "{} must validate all the schemas (allOf){more}",
                go_quote(path)
            )));
        }
    }
    if let Some(not) = n.not.as_deref() {
        if validate_node(not, v, path).errs.is_empty() {
            main.errs.push(api_error(format!(
                "{} must not validate the schema (not)",
                go_quote(path)
            )));
        }
    }
    main.count += 1;
    main
}

/// kube-openapi's SchemaValidator: its validators in its order (type, allOf/anyOf/
/// oneOf/not, string, format, number, array, enum, object), counting matches as it does.
fn validate_node(n: &Node, v: &Value, path: &str) -> Res {
    let mut r = Res::default();
    if v.is_null() {
        match check_type(n, v, path) {
            None => r.count += 1,
            Some(e) => r.errs.push(e),
        }
        r.errs.extend(check_enum(n, v, path));
        return r;
    }
    if !n.types.is_empty() || !n.format.is_empty() {
        match check_type(n, v, path) {
            None => r.count += 1,
            Some(e) => r.errs.push(e),
        }
        r.count += 1;
    }
    r.merge(validate_props(n, v, path));
    r.count += 1;
    match v {
        Value::String(s) => {
            r.errs.extend(check_string(n, s, path));
            r.count += 1;
            if let Some(outcome) = check_format(n, s, path) {
                if let Err(e) = outcome {
                    r.errs.push(e);
                }
                r.count += 1;
            }
        }
        Value::Number(num) => {
            r.errs.extend(check_number(n, num_of(num), path));
            r.count += 2;
        }
        Value::Array(list) => {
            validate_array(n, list, path, &mut r);
            r.count += 1;
        }
        _ => {}
    }
    r.errs.extend(check_enum(n, v, path));
    r.count += 1;
    if let Value::Object(map) = v {
        validate_object(n, map, path, &mut r);
        r.count += 1;
    }
    r.count += 1;
    r
}

// ---------------------------------------------------------------------------------------
// Embedded resources and list types (upstream's separate passes, with field.Path paths)

fn f_child(path: &str, name: &str) -> String {
    key_path(path, name)
}

fn validate_embedded(n: Option<&Node>, v: &Value, path: &str, out: &mut Vec<Cause>, depth: usize) {
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

fn validate_lists(n: &Node, v: &Value, path: &str, out: &mut Vec<Cause>, depth: usize) {
    if depth > MAX_SCHEMA_DEPTH {
        return;
    }
    match v {
        Value::Object(map) => {
            if let Some(s) = n.additional.as_deref().and_then(Additional::schema) {
                for (k, val) in map {
                    validate_lists(s, val, &p_key(path, k), out, depth + 1);
                }
            }
            for (k, val) in map {
                if let Some(p) = n.prop(k) {
                    validate_lists(p, val, &f_child(path, k), out, depth + 1);
                }
            }
        }
        Value::Array(list) => {
            match n.list_type.as_deref() {
                Some("set") => {
                    for i in non_unique(list.iter().map(unique_key)) {
                        if let Some(x) = list.get(i) {
                            out.push(Cause::duplicate(p_index(path, i), &Raw(go_shown(x))));
                        }
                    }
                }
                Some("map") => validate_list_map(n, list, path, out),
                _ => {}
            }
            if let Some(items) = n.items.as_deref() {
                for (i, x) in list.iter().enumerate() {
                    validate_lists(items, x, &p_index(path, i), out, depth + 1);
                }
            }
        }
        _ => {}
    }
}

/// What upstream compares set members and map keys by: scalars by Go type and value,
/// objects and lists by their JSON.
fn unique_key(v: &Value) -> String {
    match v {
        Value::Null => "n".into(),
        Value::Bool(b) => format!("b{b}"),
        Value::Number(n) => match num_of(n) {
            Num::I(i) => format!("i{i}"),
            Num::F(f) => format!("f{}", f.to_bits()),
        },
        Value::String(s) => format!("s{s}"),
        other => format!("c{}", go_json(other)),
    }
}

/// Indices of second occurrences (a third is not reported again), as upstream.
fn non_unique(keys: impl Iterator<Item = String>) -> Vec<usize> {
    let mut seen: HashMap<String, u32> = HashMap::new();
    let mut out = Vec::new();
    for (i, k) in keys.enumerate() {
        let times = seen.entry(k).or_insert(0);
        *times += 1;
        if *times == 2 {
            out.push(i);
        }
    }
    out
}

fn validate_list_map(n: &Node, list: &[Value], path: &str, out: &mut Vec<Cause>) {
    for (i, x) in list.iter().enumerate() {
        if !x.is_null() && !x.is_object() {
            out.push(Cause::invalid(
                p_index(path, i),
                Raw(go_shown(x)),
                "must be an object for an array of list-type map",
            ));
            return;
        }
    }
    if list.len() <= 1 {
        return;
    }
    if let [key_field] = n.list_map_keys.as_slice() {
        let keys: Vec<Option<&Value>> = list.iter().map(|x| x.get(key_field)).collect();
        let ids = keys.iter().map(|k| match k {
            None => "u".to_string(),
            Some(v) => unique_key(v),
        });
        for i in non_unique(ids) {
            let mut shown = Map::new();
            if let Some(Some(k)) = keys.get(i) {
                shown.insert(key_field.clone(), (*k).clone());
            }
            out.push(Cause::duplicate(
                p_index(path, i),
                &Raw(go_json(&Value::Object(shown))),
            ));
        }
        return;
    }
    let keys: Vec<Value> = list
        .iter()
        .map(|x| {
            let mut key = Map::new();
            for f in &n.list_map_keys {
                if let Some(v) = x.get(f) {
                    key.insert(f.clone(), v.clone());
                }
            }
            Value::Object(key)
        })
        .collect();
    for i in non_unique(keys.iter().map(unique_key)) {
        if let Some(k) = keys.get(i) {
            out.push(Cause::duplicate(p_index(path, i), &Raw(go_json(k))));
        }
    }
}

// ---------------------------------------------------------------------------------------
// Values as Go prints them

/// A bad value as upstream's field errors print it: strings quoted, numbers and
/// booleans as `%v`, anything else as JSON.
fn go_shown(v: &Value) -> String {
    match v {
        Value::String(s) => go_quote(s),
        Value::Number(n) => num_of(n).shown(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".into(),
        other => go_json(other),
    }
}

/// Go's `%v` of a float64: shortest digits, exponent form below 1e-4 and from 1e6.
fn go_float_v(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    if f == 0.0 {
        return if f.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if f < 0.0 { "-" } else { "" };
    if !(-4..6).contains(&exp) {
        let (first, rest) = digits.split_at(1.min(digits.len()));
        let dot = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{first}{dot}e{esign}{:02}", exp.unsigned_abs());
    }
    // Plain decimal: Rust's shortest round-trip Display matches Go here.
    format!("{sign}{}", f.abs())
}

/// Go's encoding/json of a float64.
fn go_json_float(f: f64) -> String {
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let sci = format!("{f:e}");
        let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        return if exp < 0 {
            format!("{mantissa}e-{}", exp.unsigned_abs())
        } else {
            format!("{mantissa}e+{exp:02}")
        };
    }
    format!("{f}")
}

/// Go's encoding/json: sorted keys, HTML-safe escapes.
fn go_json(v: &Value) -> String {
    let mut out = String::new();
    write_go_json(v, &mut out, 0);
    out
}

fn write_go_json(v: &Value, out: &mut String, depth: usize) {
    if depth > MAX_VALUE_DEPTH {
        out.push_str("null");
        return;
    }
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => match num_of(n) {
            Num::I(i) => out.push_str(&i.to_string()),
            Num::F(f) => out.push_str(&go_json_float(f)),
        },
        Value::String(s) => write_go_json_string(s, out),
        Value::Array(list) => {
            out.push('[');
            for (i, x) in list.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_go_json(x, out, depth + 1);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_go_json_string(k, out);
                out.push(':');
                if let Some(x) = map.get(k) {
                    write_go_json(x, out, depth + 1);
                }
            }
            out.push('}');
        }
    }
}

fn write_go_json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

// ---------------------------------------------------------------------------------------
// String formats (kube-openapi strfmt's validators)

fn matches(cell: &'static OnceLock<Option<Regex>>, pattern: &str, s: &str) -> bool {
    cell.get_or_init(|| Regex::new(pattern).ok())
        .as_ref()
        .is_some_and(|re| re.is_match(s))
}

macro_rules! rx_match {
    ($pattern:expr, $s:expr) => {{
        static RX: OnceLock<Option<Regex>> = OnceLock::new();
        matches(&RX, $pattern, $s)
    }};
}

/// `None` for a format upstream does not validate (it passes).
fn format_valid(name: &str, s: &str) -> Option<bool> {
    Some(match name {
        "bsonobjectid" => s.len() == 24 && s.bytes().all(|b| b.is_ascii_hexdigit()),
        "uri" => is_request_uri(s),
        "email" => is_email(s),
        "hostname" => is_hostname(s),
        "ipv4" => {
            (parse_ipv4_sloppy(s).is_some() || s.parse::<std::net::Ipv6Addr>().is_ok())
                && s.contains('.')
        }
        "ipv6" => s.parse::<std::net::Ipv6Addr>().is_ok() && s.contains(':'),
        "cidr" => is_cidr(s),
        "mac" => is_mac(s),
        "uuid" => rx_match!(
            r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$",
            s
        ),
        "uuid3" => rx_match!(
            r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?3[0-9a-f]{3}-?[0-9a-f]{4}-?[0-9a-f]{12}$",
            s
        ),
        "uuid4" => rx_match!(
            r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?4[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$",
            s
        ),
        "uuid5" => rx_match!(
            r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?5[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$",
            s
        ),
        "isbn" => is_isbn10(s) || is_isbn13(s),
        "isbn10" => is_isbn10(s),
        "isbn13" => is_isbn13(s),
        "creditcard" => is_credit_card(s),
        "ssn" => s.len() == 11 && rx_match!(r"^\d{3}[- ]?\d{2}[- ]?\d{4}$", s),
        "hexcolor" => rx_match!(r"^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$", s),
        "rgbcolor" => rx_match!(
            r"^rgb\(\s*(0|[1-9]\d?|1\d\d?|2[0-4]\d|25[0-5])\s*,\s*(0|[1-9]\d?|1\d\d?|2[0-4]\d|25[0-5])\s*,\s*(0|[1-9]\d?|1\d\d?|2[0-4]\d|25[0-5])\s*\)$",
            s
        ),
        "byte" => rx_match!(
            r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{4})$",
            s
        ),
        "password" => true,
        "date" => is_date(s),
        "datetime" => is_date_time(s),
        "duration" => is_duration(s),
        "k8sshortname" => s.len() <= 63 && rx_match!("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", s),
        "k8slongname" => {
            s.len() <= 253
                && rx_match!(
                    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
                    s
                )
        }
        _ => return None,
    })
}

/// Go's url.ParseRequestURI, roughly: an absolute URI or an absolute path, no controls.
fn is_request_uri(s: &str) -> bool {
    if s.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return false;
    }
    s.starts_with('/') || rx_match!(r"^[A-Za-z][A-Za-z0-9+.\-]*:", s)
}

/// Go's net/mail.ParseAddress, roughly: `local@domain` (dot-atoms, or a quoted local
/// part), optionally as `Name <local@domain>`.
fn is_email(s: &str) -> bool {
    let addr = match (s.rfind('<'), s.strip_suffix('>')) {
        (Some(open), Some(inner)) => inner.get(open + 1..).unwrap_or(""),
        _ => s,
    };
    let Some((local, domain)) = addr.rsplit_once('@') else {
        return false;
    };
    let atext =
        |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c) || !c.is_ascii();
    let dot_atom =
        |p: &str| !p.is_empty() && p.split('.').all(|a| !a.is_empty() && a.chars().all(atext));
    let quoted = local.len() >= 2 && local.starts_with('"') && local.ends_with('"');
    (quoted || dot_atom(local)) && dot_atom(domain)
}

fn is_hostname(s: &str) -> bool {
    s.len() <= 255
        && s.split('.').all(|p| p.len() <= 63)
        && rx_match!(
            r"^([a-zA-Z0-9\p{S}\p{L}]((-?[a-zA-Z0-9\p{S}\p{L}]{0,62})?)|([a-zA-Z0-9\p{S}\p{L}](([a-zA-Z0-9\-\p{S}\p{L}]{0,61}[a-zA-Z0-9\p{S}\p{L}])?)(\.)){1,}([a-zA-Z\p{L}]){2,63})$",
            s
        )
}

/// IPv4 as Go's sloppy parser reads it (leading zeros allowed).
fn parse_ipv4_sloppy(s: &str) -> Option<[u8; 4]> {
    let mut out = [0u8; 4];
    let mut parts = s.split('.');
    for slot in out.iter_mut() {
        let p = parts.next()?;
        if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *slot = p.parse().ok()?;
    }
    parts.next().is_none().then_some(out)
}

fn is_cidr(s: &str) -> bool {
    let Some((ip, bits)) = s.split_once('/') else {
        return false;
    };
    if bits.is_empty() || !bits.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let Ok(bits) = bits.parse::<u32>() else {
        return false;
    };
    if parse_ipv4_sloppy(ip).is_some() {
        bits <= 32
    } else {
        ip.parse::<std::net::Ipv6Addr>().is_ok() && bits <= 128
    }
}

/// Go's net.ParseMAC: 6, 8 or 20 octets as `aa:bb`, `aa-bb` or `aabb.ccdd`.
fn is_mac(s: &str) -> bool {
    let hex = |p: &str, n: usize| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit());
    for sep in [':', '-'] {
        let parts: Vec<&str> = s.split(sep).collect();
        if parts.len() > 1 {
            return [6, 8, 20].contains(&parts.len()) && parts.iter().all(|p| hex(p, 2));
        }
    }
    let parts: Vec<&str> = s.split('.').collect();
    [3, 4, 10].contains(&parts.len()) && parts.iter().all(|p| hex(p, 4))
}

fn isbn_digits(s: &str) -> Vec<char> {
    s.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect()
}

fn is_isbn10(s: &str) -> bool {
    let d = isbn_digits(s);
    if d.len() != 10 {
        return false;
    }
    let mut sum = 0u32;
    for (i, c) in d.iter().enumerate() {
        let v = match (i, c) {
            (9, 'X') => 10,
            (_, c) => match c.to_digit(10) {
                Some(v) => v,
                None => return false,
            },
        };
        sum += (i as u32 + 1) * v;
    }
    sum % 11 == 0
}

fn is_isbn13(s: &str) -> bool {
    let d = isbn_digits(s);
    if d.len() != 13 {
        return false;
    }
    let mut sum = 0u32;
    for (i, c) in d.iter().enumerate() {
        let Some(v) = c.to_digit(10) else {
            return false;
        };
        sum += if i % 2 == 0 { v } else { 3 * v };
    }
    sum % 10 == 0
}

fn is_credit_card(s: &str) -> bool {
    let digits: String = s.chars().filter(char::is_ascii_digit).collect();
    if !rx_match!(
        r"^(?:4[0-9]{12}(?:[0-9]{3})?|5[1-5][0-9]{14}|(222[1-9]|22[3-9][0-9]|2[3-6][0-9]{2}|27[01][0-9]|2720)[0-9]{12}|6(?:011|5[0-9][0-9])[0-9]{12}|3[47][0-9]{13}|3(?:0[0-5]|[68][0-9])[0-9]{11}|(?:2131|1800|35\d{3})\d{11}|6[27][0-9]{14})$",
        &digits
    ) {
        return false;
    }
    // Luhn.
    let mut sum = 0u32;
    for (i, c) in digits.chars().rev().enumerate() {
        let mut v = c.to_digit(10).unwrap_or(0);
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum % 10 == 0
}

/// Go's time.Parse("2006-01-02"): exact widths and a day that exists.
fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return false;
    }
    let num = |r: std::ops::Range<usize>| {
        s.get(r)
            .filter(|p| p.bytes().all(|c| c.is_ascii_digit()))
            .and_then(|p| p.parse::<u32>().ok())
    };
    let (Some(y), Some(m), Some(d)) = (num(0..4), num(5..7), num(8..10)) else {
        return false;
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&d)
}

/// kube-openapi's IsDateTime: a date, `t`, then a time with a zone (`z` or ±hh:mm).
fn is_date_time(s: &str) -> bool {
    if s.len() < 4 {
        return false;
    }
    let lower = s.to_lowercase();
    let mut parts = lower.split('t');
    let (Some(date), Some(time)) = (parts.next(), parts.next()) else {
        return false;
    };
    if !is_date(date) {
        return false;
    }
    static RX: OnceLock<Option<Regex>> = OnceLock::new();
    let re = RX
        .get_or_init(|| {
            Regex::new(r"^([0-9]{2}):([0-9]{2}):([0-9]{2})(.[0-9]+)?(z|([+-][0-9]{2}:[0-9]{2}))$")
                .ok()
        })
        .as_ref();
    let Some(caps) = re.and_then(|re| re.captures(time)) else {
        return false;
    };
    let part = |i: usize| caps.get(i).map_or("", |m| m.as_str());
    part(1) <= "23" && part(2) <= "59" && part(3) <= "59"
}

/// kube-openapi's ParseDuration: Go's time.ParseDuration, or any `<n> <unit>` with a
/// unit it knows (`3 days`, `1 week`).
fn is_duration(s: &str) -> bool {
    if s == "0"
        || s == "+0"
        || s == "-0"
        || rx_match!(
            r"^[-+]?(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+$",
            s
        )
    {
        return true;
    }
    const UNITS: [&[&str]; 8] = [
        &["ns", "nano"],
        &["us", "µs", "micro"],
        &["ms", "milli"],
        &["s", "sec"],
        &["m", "min"],
        &["h", "hr", "hour"],
        &["d", "day"],
        &["w", "wk", "week"],
    ];
    static RX: OnceLock<Option<Regex>> = OnceLock::new();
    let Some(re) = RX
        .get_or_init(|| Regex::new(r"((\d+)\s*([A-Za-zµ]+))").ok())
        .as_ref()
    else {
        return false;
    };
    let mut ok = false;
    for caps in re.captures_iter(s) {
        if caps
            .get(2)
            .is_none_or(|n| n.as_str().parse::<i64>().is_err())
        {
            return false;
        }
        let unit = caps
            .get(3)
            .map_or(String::new(), |u| u.as_str().trim().to_lowercase());
        for variants in UNITS {
            let last = variants.len().saturating_sub(1);
            if variants
                .iter()
                .enumerate()
                .any(|(i, v)| (i == last && unit.starts_with(v)) || unit.eq_ignore_ascii_case(v))
            {
                ok = true;
            }
        }
    }
    ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema(s: Value) -> Structural {
        match Structural::parse(&s) {
            Ok(s) => s,
            Err(e) => panic!("schema refused: {e:?}"),
        }
    }

    /// A root with one `spec` object of the given properties.
    fn spec_schema(props: Value) -> Structural {
        schema(
            json!({"type": "object", "properties": {"spec": {"type": "object", "properties": props}}}),
        )
    }

    /// `field: message` lines, as kubectl shows causes.
    fn errors(s: &Structural, obj: Value) -> Vec<String> {
        s.validate(&obj)
            .into_iter()
            .map(|c| format!("{}: {}", c.field, c.message))
            .collect()
    }

    fn spec_errors(props: Value, spec: Value) -> Vec<String> {
        errors(&spec_schema(props), json!({"spec": spec}))
    }

    #[test]
    fn maximum_message() {
        let e = spec_errors(
            json!({"replicas": {"type": "integer", "maximum": 10}}),
            json!({"replicas": 11}),
        );
        assert_eq!(e, ["spec.replicas: Invalid value: 11: spec.replicas in body should be less than or equal to 10"]);
    }

    #[test]
    fn minimum_message() {
        let e = spec_errors(
            json!({"replicas": {"type": "integer", "minimum": 1}}),
            json!({"replicas": 0}),
        );
        assert_eq!(e, ["spec.replicas: Invalid value: 0: spec.replicas in body should be greater than or equal to 1"]);
    }

    #[test]
    fn exclusive_bounds() {
        let props = json!({"n": {"type": "number", "minimum": 1, "exclusiveMinimum": true, "maximum": 2.5, "exclusiveMaximum": true}});
        assert_eq!(
            spec_errors(props.clone(), json!({"n": 1})),
            ["spec.n: Invalid value: 1: spec.n in body should be greater than 1"]
        );
        assert_eq!(
            spec_errors(props.clone(), json!({"n": 2.5})),
            ["spec.n: Invalid value: 2.5: spec.n in body should be less than 2.5"]
        );
        assert!(spec_errors(props.clone(), json!({"n": 1.5})).is_empty());
        // As upstream: an integer is compared with the bound converted to an integer.
        assert_eq!(
            spec_errors(props, json!({"n": 2})),
            ["spec.n: Invalid value: 2: spec.n in body should be less than 2"]
        );
    }

    #[test]
    fn float_bounds_print_as_go_does() {
        let e = spec_errors(
            json!({"n": {"type": "number", "maximum": 1000000}}),
            json!({"n": 2000000.5}),
        );
        assert_eq!(e, ["spec.n: Invalid value: 2.0000005e+06: spec.n in body should be less than or equal to 1e+06"]);
    }

    #[test]
    fn type_mismatch_message() {
        let e = spec_errors(
            json!({"replicas": {"type": "integer"}}),
            json!({"replicas": "string"}),
        );
        assert_eq!(
            e,
            [
                r#"spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string""#
            ]
        );
        let s = spec_schema(json!({"replicas": {"type": "integer"}}));
        assert_eq!(
            s.validate(&json!({"spec": {"replicas": "x"}}))[0].reason,
            "FieldValueTypeInvalid"
        );
    }

    #[test]
    fn each_type_is_checked() {
        let props = json!({
            "o": {"type": "object"}, "a": {"type": "array", "items": {"type": "string"}},
            "s": {"type": "string"}, "b": {"type": "boolean"}, "n": {"type": "number"},
        });
        let e = spec_errors(
            props,
            json!({"o": [], "a": {}, "s": 1, "b": "true", "n": true}),
        );
        assert_eq!(
            e,
            [
                r#"spec.a: Invalid value: "object": spec.a in body must be of type array: "object""#,
                r#"spec.b: Invalid value: "string": spec.b in body must be of type boolean: "string""#,
                r#"spec.n: Invalid value: "boolean": spec.n in body must be of type number: "boolean""#,
                r#"spec.o: Invalid value: "array": spec.o in body must be of type object: "array""#,
                r#"spec.s: Invalid value: "integer": spec.s in body must be of type string: "integer""#,
            ]
        );
    }

    #[test]
    fn integral_floats_are_integers_and_integers_are_numbers() {
        let props = json!({"i": {"type": "integer"}, "n": {"type": "number"}});
        assert!(spec_errors(props.clone(), json!({"i": 3.0, "n": 3})).is_empty());
        let e = spec_errors(props, json!({"i": 3.5}));
        assert_eq!(
            e,
            [
                r#"spec.i: Invalid value: "number": spec.i in body must be of type integer: "number""#,
                r#"<nil>: Invalid value: "": Checked value must be of type integer (default format) in spec.i"#,
            ]
        );
    }

    #[test]
    fn required_message() {
        let s = schema(json!({"type": "object", "properties": {"spec": {
            "type": "object", "required": ["deploymentName"],
            "properties": {"deploymentName": {"type": "string"}}}}}));
        assert_eq!(
            errors(&s, json!({"spec": {}})),
            ["spec.deploymentName: Required value"]
        );
        assert_eq!(
            s.validate(&json!({"spec": {}}))[0].reason,
            "FieldValueRequired"
        );
    }

    #[test]
    fn required_at_the_root() {
        let s = schema(
            json!({"type": "object", "required": ["spec"], "properties": {"spec": {"type": "object"}}}),
        );
        assert_eq!(errors(&s, json!({})), ["spec: Required value"]);
    }

    #[test]
    fn enum_message() {
        let e = spec_errors(
            json!({"color": {"type": "string", "enum": ["red", "blue"]}}),
            json!({"color": "pink"}),
        );
        assert_eq!(
            e,
            [r#"spec.color: Unsupported value: "pink": supported values: "red", "blue""#]
        );
    }

    #[test]
    fn enum_of_numbers_lists_them_as_json() {
        let props = json!({"n": {"type": "number", "enum": [1, 2.5]}});
        assert_eq!(
            spec_errors(props.clone(), json!({"n": 3})),
            [r#"spec.n: Unsupported value: 3: supported values: "1", "2.5""#]
        );
        assert!(spec_errors(props.clone(), json!({"n": 1.0})).is_empty());
        assert!(spec_errors(props, json!({"n": 2.5})).is_empty());
    }

    #[test]
    fn enum_rejects_null_even_when_nullable() {
        let e = spec_errors(
            json!({"c": {"type": "string", "nullable": true, "enum": ["a"]}}),
            json!({"c": null}),
        );
        assert_eq!(
            e,
            [r#"spec.c: Unsupported value: null: supported values: "a""#]
        );
    }

    #[test]
    fn min_length_message() {
        let e = spec_errors(
            json!({"name": {"type": "string", "minLength": 2}}),
            json!({"name": "x"}),
        );
        assert_eq!(
            e,
            [r#"spec.name: Invalid value: "x": spec.name in body should be at least 2 chars long"#]
        );
    }

    #[test]
    fn max_length_counts_characters() {
        let props = json!({"name": {"type": "string", "maxLength": 3}});
        assert!(spec_errors(props.clone(), json!({"name": "äöü"})).is_empty());
        let s = spec_schema(props);
        let c = s.validate(&json!({"spec": {"name": "abcd"}}));
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].reason, "FieldValueTooLong");
        assert_eq!(c[0].message, "Too long: may not be more than 3 bytes");
    }

    #[test]
    fn pattern_message() {
        let e = spec_errors(
            json!({"name": {"type": "string", "pattern": "^[a-z]+$"}}),
            json!({"name": "Abc"}),
        );
        assert_eq!(
            e,
            [r#"spec.name: Invalid value: "Abc": spec.name in body should match '^[a-z]+$'"#]
        );
    }

    #[test]
    fn pattern_is_unanchored_like_go() {
        assert!(spec_errors(
            json!({"name": {"type": "string", "pattern": "[0-9]"}}),
            json!({"name": "ab1c"})
        )
        .is_empty());
    }

    #[test]
    fn only_the_first_string_error_is_reported() {
        let e = spec_errors(
            json!({"name": {"type": "string", "maxLength": 2, "pattern": "^[0-9]+$"}}),
            json!({"name": "abcd"}),
        );
        assert_eq!(e, ["spec.name: Too long: may not be more than 2 bytes"]);
    }

    #[test]
    fn multiple_of_integers_and_floats() {
        assert_eq!(
            spec_errors(
                json!({"n": {"type": "integer", "multipleOf": 5}}),
                json!({"n": 12})
            ),
            ["spec.n: Invalid value: 12: spec.n in body should be a multiple of 5"]
        );
        assert!(spec_errors(
            json!({"n": {"type": "number", "multipleOf": 0.5}}),
            json!({"n": 2.5})
        )
        .is_empty());
        assert_eq!(
            spec_errors(
                json!({"n": {"type": "number", "multipleOf": 0.5}}),
                json!({"n": 2.25})
            ),
            ["spec.n: Invalid value: 2.25: spec.n in body should be a multiple of 0.5"]
        );
    }

    #[test]
    fn int32_range() {
        let e = spec_errors(
            json!({"n": {"type": "integer", "format": "int32"}}),
            json!({"n": 3_000_000_000i64}),
        );
        assert_eq!(
            e,
            [
                r#"<nil>: Invalid value: "": Checked value must be of type integer with format int32 in spec.n"#
            ]
        );
        assert!(spec_errors(
            json!({"n": {"type": "integer", "format": "int64"}}),
            json!({"n": 3_000_000_000i64})
        )
        .is_empty());
    }

    #[test]
    fn formats_byte_date_datetime_uuid_email() {
        let props = json!({
            "b": {"type": "string", "format": "byte"}, "d": {"type": "string", "format": "date"},
            "t": {"type": "string", "format": "date-time"}, "u": {"type": "string", "format": "uuid"},
            "e": {"type": "string", "format": "email"},
        });
        let good = json!({"b": "aGVsbG8=", "d": "2024-02-29", "t": "2024-01-02T03:04:05Z",
            "u": "123e4567-e89b-12d3-a456-426614174000", "e": "a.b@example.com"});
        assert!(spec_errors(props.clone(), good).is_empty());
        let bad = json!({"b": "not base64!", "d": "2023-02-29", "t": "2024-01-02 03:04", "u": "xyz", "e": "nope"});
        assert_eq!(
            spec_errors(props, bad),
            [
                r#"spec.b: Invalid value: "not base64!": spec.b in body must be of type byte: "not base64!""#,
                r#"spec.d: Invalid value: "2023-02-29": spec.d in body must be of type date: "2023-02-29""#,
                r#"spec.e: Invalid value: "nope": spec.e in body must be of type email: "nope""#,
                r#"spec.t: Invalid value: "2024-01-02 03:04": spec.t in body must be of type date-time: "2024-01-02 03:04""#,
                r#"spec.u: Invalid value: "xyz": spec.u in body must be of type uuid: "xyz""#,
            ]
        );
    }

    #[test]
    fn other_formats() {
        let cases = [
            ("ipv4", "10.0.0.1", "10.0.0"),
            ("ipv6", "::1", "1.2.3.4"),
            ("cidr", "10.0.0.0/8", "10.0.0.0/33"),
            ("mac", "00:00:5e:00:53:01", "00:00:5e"),
            ("hostname", "example.com", "-bad-.com"),
            ("hexcolor", "#fff", "#ffff"),
            ("k8s-short-name", "my-name", "My-Name"),
            ("k8s-long-name", "a.b-c", "a..b"),
            ("duration", "3 days", "soon"),
            ("uri", "https://x/y", "x y"),
            ("isbn10", "0321751043", "0321751044"),
            ("ssn", "123-45-6789", "123456789"),
        ];
        for (format, good, bad) in cases {
            let props = json!({"f": {"type": "string", "format": format}});
            assert!(
                spec_errors(props.clone(), json!({"f": good})).is_empty(),
                "{format} {good}"
            );
            assert_eq!(
                spec_errors(props, json!({"f": bad})).len(),
                1,
                "{format} {bad}"
            );
        }
    }

    #[test]
    fn unknown_formats_pass() {
        assert!(spec_errors(
            json!({"f": {"type": "string", "format": "colour"}}),
            json!({"f": "x"})
        )
        .is_empty());
    }

    #[test]
    fn items_min_max_and_unique() {
        let props = json!({"l": {"type": "array", "minItems": 2, "maxItems": 3, "uniqueItems": true, "items": {"type": "integer"}}});
        assert_eq!(
            spec_errors(props.clone(), json!({"l": [1]})),
            ["spec.l: Invalid value: 1: spec.l in body should have at least 2 items"]
        );
        assert_eq!(
            spec_errors(props.clone(), json!({"l": [1, 2, 3, 4]})),
            ["spec.l: Too many: 4: must have at most 3 items"]
        );
        assert_eq!(
            spec_errors(props, json!({"l": [1, 1]})),
            [r#"spec.l: Invalid value: "": spec.l in body shouldn't contain duplicates"#]
        );
    }

    #[test]
    fn item_paths_use_brackets() {
        let props = json!({"items": {"type": "array", "items": {"type": "object", "required": ["name"],
            "properties": {"name": {"type": "string", "minLength": 2}}}}});
        assert_eq!(
            spec_errors(props, json!({"items": [{"name": "ok"}, {"name": "x"}, {}]})),
            [
                r#"spec.items[1].name: Invalid value: "x": spec.items[1].name in body should be at least 2 chars long"#,
                "spec.items[2].name: Required value",
            ]
        );
    }

    #[test]
    fn min_and_max_properties() {
        let props = json!({"m": {"type": "object", "minProperties": 1, "maxProperties": 2, "additionalProperties": {"type": "string"}}});
        assert_eq!(
            spec_errors(props.clone(), json!({"m": {}})),
            ["spec.m: Invalid value: 0: spec.m in body should have at least 1 properties"]
        );
        assert_eq!(
            spec_errors(props, json!({"m": {"a": "1", "b": "2", "c": "3"}})),
            ["spec.m: Too many: 3: must have at most 2 items"]
        );
    }

    #[test]
    fn additional_properties_schema_validates_values() {
        let props = json!({"labels": {"type": "object", "additionalProperties": {"type": "string", "maxLength": 3}}});
        assert_eq!(
            spec_errors(props, json!({"labels": {"ok": "abc", "bad": 5}})),
            [
                r#"spec.labels.bad: Invalid value: "integer": spec.labels.bad in body must be of type string: "integer""#
            ]
        );
    }

    #[test]
    fn additional_properties_false_forbids_unknown_keys() {
        let props = json!({"m": {"type": "object", "additionalProperties": false}});
        assert_eq!(
            spec_errors(props, json!({"m": {"x": 1}})),
            [r#"spec.m: Invalid value: "x": spec.m.x in body is a forbidden property"#]
        );
    }

    #[test]
    fn nullable_accepts_null() {
        let props = json!({"a": {"type": "string", "nullable": true}, "b": {"type": "string"}});
        assert_eq!(
            spec_errors(props, json!({"a": null, "b": null})),
            [r#"spec.b: Invalid value: "null": spec.b in body must be of type string: "null""#]
        );
    }

    #[test]
    fn int_or_string() {
        let props = json!({"port": {"x-kubernetes-int-or-string": true}});
        assert!(spec_errors(props.clone(), json!({"port": 80})).is_empty());
        assert!(spec_errors(props.clone(), json!({"port": "http"})).is_empty());
        assert_eq!(
            spec_errors(props, json!({"port": true})),
            [
                r#"spec.port: Invalid value: "boolean": spec.port in body must be of type integer,string: "boolean""#
            ]
        );
    }

    #[test]
    fn int_or_string_any_of_pattern_is_structural() {
        let s = Structural::parse(&json!({"type": "object", "properties": {"p": {
            "x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}]}}}));
        assert!(s.is_ok());
    }

    #[test]
    fn any_of_reports_the_best_alternative() {
        let props = json!({"n": {"type": "integer", "anyOf": [{"minimum": 10}, {"maximum": 0}]}});
        assert!(spec_errors(props.clone(), json!({"n": 11})).is_empty());
        assert_eq!(
            spec_errors(props, json!({"n": 5})),
            [
                r#"<nil>: Invalid value: "": "spec.n" must validate at least one schema (anyOf)"#,
                "spec.n: Invalid value: 5: spec.n in body should be greater than or equal to 10",
            ]
        );
    }

    #[test]
    fn one_of_requires_exactly_one() {
        let props = json!({"n": {"type": "integer", "oneOf": [{"minimum": 0}, {"maximum": 10}]}});
        assert!(spec_errors(props.clone(), json!({"n": 20})).is_empty());
        assert_eq!(
            spec_errors(props, json!({"n": 5})),
            [
                r#"<nil>: Invalid value: "": "spec.n" must validate one and only one schema (oneOf). Found 2 valid alternatives"#
            ]
        );
    }

    #[test]
    fn all_of_reports_every_failure() {
        let props =
            json!({"s": {"type": "string", "allOf": [{"minLength": 2}, {"pattern": "^a"}]}});
        assert_eq!(
            spec_errors(props, json!({"s": "b"})),
            [
                r#"spec.s: Invalid value: "b": spec.s in body should be at least 2 chars long"#,
                r#"spec.s: Invalid value: "b": spec.s in body should match '^a'"#,
                r#"<nil>: Invalid value: "": "spec.s" must validate all the schemas (allOf). None validated"#,
            ]
        );
    }

    #[test]
    fn not_forbids_a_match() {
        let props = json!({"s": {"type": "string", "not": {"enum": ["x"]}}});
        assert!(spec_errors(props.clone(), json!({"s": "y"})).is_empty());
        assert_eq!(
            spec_errors(props, json!({"s": "x"})),
            [r#"<nil>: Invalid value: "": "spec.s" must not validate the schema (not)"#]
        );
    }

    #[test]
    fn list_type_set_duplicates() {
        let props = json!({"tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}}});
        let s = spec_schema(props);
        let c = s.validate(&json!({"spec": {"tags": ["a", "b", "a", "a"]}}));
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].reason, "FieldValueDuplicate");
        assert_eq!(
            format!("{}: {}", c[0].field, c[0].message),
            r#"spec.tags[2]: Duplicate value: "a""#
        );
    }

    #[test]
    fn list_type_map_duplicates_by_key() {
        let props = json!({"ports": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
            "items": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}, "port": {"type": "integer"}}}}});
        assert_eq!(
            spec_errors(
                props,
                json!({"ports": [{"name": "a", "port": 1}, {"name": "a", "port": 2}]})
            ),
            [r#"spec.ports[1]: Duplicate value: {"name":"a"}"#]
        );
    }

    #[test]
    fn list_type_map_with_two_keys() {
        let props = json!({"ports": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["port", "protocol"],
            "items": {"type": "object", "properties": {"port": {"type": "integer"}, "protocol": {"type": "string"}}}}});
        let spec = json!({"ports": [{"protocol": "TCP", "port": 80}, {"port": 80, "protocol": "UDP"}, {"port": 80, "protocol": "TCP"}]});
        assert_eq!(
            spec_errors(props, spec),
            [r#"spec.ports[2]: Duplicate value: {"port":80,"protocol":"TCP"}"#]
        );
    }

    #[test]
    fn list_type_map_items_must_be_objects() {
        let props = json!({"l": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["k"],
            "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}});
        let e = spec_errors(props, json!({"l": [{"k": "a"}, "x"]}));
        assert!(e.contains(&r#"spec.l[1]: Invalid value: "x": must be an object for an array of list-type map"#.to_string()), "{e:?}");
    }

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

    #[test]
    fn map_type_needs_nothing_at_runtime() {
        let props = json!({"m": {"type": "object", "x-kubernetes-map-type": "atomic", "additionalProperties": {"type": "string"}}});
        assert!(spec_errors(props, json!({"m": {"a": "b"}})).is_empty());
    }

    #[test]
    fn errors_with_the_same_message_are_reported_once() {
        let props = json!({"s": {"type": "string", "allOf": [{"minLength": 2}, {"minLength": 2}]}});
        let e = spec_errors(props, json!({"s": "b"}));
        assert_eq!(e.len(), 2, "{e:?}");
    }

    // ---- defaulting

    #[test]
    fn defaults_missing_fields() {
        let s = spec_schema(
            json!({"replicas": {"type": "integer", "default": 1}, "name": {"type": "string"}}),
        );
        let mut obj = json!({"spec": {"name": "x"}});
        s.apply_defaults(&mut obj);
        assert_eq!(obj, json!({"spec": {"name": "x", "replicas": 1}}));
    }

    #[test]
    fn defaults_only_where_the_parent_exists() {
        let s = spec_schema(json!({"replicas": {"type": "integer", "default": 1}}));
        let mut obj = json!({"metadata": {"name": "x"}});
        s.apply_defaults(&mut obj);
        assert_eq!(obj, json!({"metadata": {"name": "x"}}));
    }

    #[test]
    fn defaults_nested_inside_defaults() {
        let s = spec_schema(json!({"strategy": {"type": "object", "default": {},
            "properties": {"type": {"type": "string", "default": "Rolling"}}}}));
        let mut obj = json!({"spec": {}});
        s.apply_defaults(&mut obj);
        assert_eq!(obj, json!({"spec": {"strategy": {"type": "Rolling"}}}));
    }

    #[test]
    fn defaults_null_only_when_not_nullable() {
        let s = spec_schema(json!({
            "a": {"type": "string", "default": "x"},
            "b": {"type": "string", "nullable": true, "default": "y"},
        }));
        let mut obj = json!({"spec": {"a": null, "b": null}});
        s.apply_defaults(&mut obj);
        assert_eq!(obj, json!({"spec": {"a": "x", "b": null}}));
    }

    #[test]
    fn defaults_in_array_items() {
        let s = spec_schema(
            json!({"ports": {"type": "array", "items": {"type": "object", "default": {"port": 1},
            "properties": {"port": {"type": "integer"}, "protocol": {"type": "string", "default": "TCP"}}}}}),
        );
        let mut obj = json!({"spec": {"ports": [{"port": 80}, null]}});
        s.apply_defaults(&mut obj);
        assert_eq!(
            obj,
            json!({"spec": {"ports": [{"port": 80, "protocol": "TCP"}, {"port": 1, "protocol": "TCP"}]}})
        );
    }

    #[test]
    fn defaults_in_additional_properties_values() {
        let s = spec_schema(
            json!({"m": {"type": "object", "additionalProperties": {"type": "object",
            "properties": {"on": {"type": "boolean", "default": true}}}}}),
        );
        let mut obj = json!({"spec": {"m": {"a": {}, "b": {"on": false}}}});
        s.apply_defaults(&mut obj);
        assert_eq!(
            obj,
            json!({"spec": {"m": {"a": {"on": true}, "b": {"on": false}}}})
        );
    }

    #[test]
    fn defaults_are_pruned_by_their_schema() {
        let s = spec_schema(
            json!({"o": {"type": "object", "default": {"known": 1, "unknown": 2},
            "properties": {"known": {"type": "integer"}}}}),
        );
        let mut obj = json!({"spec": {}});
        s.apply_defaults(&mut obj);
        assert_eq!(obj, json!({"spec": {"o": {"known": 1}}}));
    }

    // ---- pruning

    #[test]
    fn prunes_unknown_fields_and_reports_their_paths() {
        let s = spec_schema(
            json!({"a": {"type": "string"}, "l": {"type": "array", "items": {"type": "object", "properties": {"x": {"type": "integer"}}}}}),
        );
        let mut obj = json!({"apiVersion": "v1", "kind": "K", "metadata": {"name": "n", "zzz": 1}, "extra": 1,
            "spec": {"a": "b", "b": {"c": 1}, "l": [{"x": 1, "y": 2}]}});
        let pruned = s.prune(&mut obj);
        assert_eq!(pruned, ["extra", "spec.b", "spec.l[0].y"]);
        assert_eq!(
            obj,
            json!({"apiVersion": "v1", "kind": "K", "metadata": {"name": "n", "zzz": 1},
            "spec": {"a": "b", "l": [{"x": 1}]}})
        );
    }

    #[test]
    fn prune_keeps_field_order() {
        let s = spec_schema(json!({"a": {"type": "string"}, "c": {"type": "string"}}));
        let mut obj = json!({"spec": {"c": "1", "b": "2", "a": "3"}});
        s.prune(&mut obj);
        let keys: Vec<&String> = obj["spec"]
            .as_object()
            .map(|m| m.keys().collect())
            .unwrap_or_default();
        assert_eq!(keys, ["c", "a"]);
    }

    #[test]
    fn preserve_unknown_fields_keeps_unknown_but_prunes_known() {
        let s = spec_schema(
            json!({"free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true,
            "properties": {"typed": {"type": "object", "properties": {"k": {"type": "string"}}}}}}),
        );
        let mut obj =
            json!({"spec": {"free": {"anything": {"deep": 1}, "typed": {"k": "v", "drop": 1}}}});
        assert_eq!(s.prune(&mut obj), ["spec.free.typed.drop"]);
        assert_eq!(
            obj,
            json!({"spec": {"free": {"anything": {"deep": 1}, "typed": {"k": "v"}}}})
        );
    }

    #[test]
    fn embedded_resource_keeps_its_type_meta_and_metadata() {
        let s = spec_schema(
            json!({"template": {"type": "object", "x-kubernetes-embedded-resource": true,
            "properties": {"spec": {"type": "object", "properties": {"x": {"type": "string"}}}}}}),
        );
        let mut obj = json!({"spec": {"template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"labels": {"a": "b"}},
            "spec": {"x": "y", "z": 1}, "status": {}}}});
        assert_eq!(
            s.prune(&mut obj),
            ["spec.template.spec.z", "spec.template.status"]
        );
        assert_eq!(
            obj,
            json!({"spec": {"template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"labels": {"a": "b"}},
            "spec": {"x": "y"}}}})
        );
    }

    #[test]
    fn additional_properties_values_are_pruned_by_their_schema() {
        let s = spec_schema(
            json!({"m": {"type": "object", "additionalProperties": {"type": "object", "properties": {"k": {"type": "string"}}}}}),
        );
        let mut obj = json!({"spec": {"m": {"one": {"k": "v", "x": 1}}}});
        assert_eq!(s.prune(&mut obj), ["spec.m.one.x"]);
        assert_eq!(obj, json!({"spec": {"m": {"one": {"k": "v"}}}}));
    }

    #[test]
    fn prune_drops_non_nullable_nulls_without_defaults() {
        let s = spec_schema(
            json!({"a": {"type": "string"}, "b": {"type": "string", "nullable": true}, "c": {"type": "string", "default": "d"}}),
        );
        let mut obj = json!({"spec": {"a": null, "b": null, "c": null}});
        assert!(s.prune(&mut obj).is_empty());
        assert_eq!(obj, json!({"spec": {"b": null, "c": null}}));
    }

    // ---- parsing

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

    #[test]
    fn huge_numbers_do_not_panic() {
        let props = json!({"n": {"type": "integer", "minimum": -1e300, "maximum": 1e300, "multipleOf": 1e-300}});
        let e = spec_errors(props, json!({"n": 1e308}));
        assert!(!e.is_empty());
        let s = spec_schema(json!({"n": {"type": "integer", "multipleOf": 0}}));
        assert!(!s.validate(&json!({"spec": {"n": i64::MIN}})).is_empty());
    }

    #[test]
    fn go_value_rendering() {
        assert_eq!(go_float_v(1e6), "1e+06");
        assert_eq!(go_float_v(123456.0), "123456");
        assert_eq!(go_float_v(0.0001), "0.0001");
        assert_eq!(go_float_v(0.00001), "1e-05");
        assert_eq!(go_float_v(-2.5), "-2.5");
        assert_eq!(
            go_json(&json!({"b": [1.0, 1e21, 1e-7], "a": "<&>"})),
            r#"{"a":"\u003c\u0026\u003e","b":[1,1e+21,1e-7]}"#
        );
    }
}
