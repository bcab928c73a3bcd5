//! What the schema says about field ownership, and the two walks ownership is computed
//! with, after upstream's structured-merge-diff: the field set of a value (`ToFieldSet`)
//! and the comparison of two values (`Compare`: added, modified, removed).
//!
//! Lists follow `x-kubernetes-list-type` (`atomic`, `set` by value, `map` by
//! `x-kubernetes-list-map-keys`, a missing key taking its schema default), else a patch
//! strategy `merge` (by the merge key, or by value), else they are atomic. Objects are
//! granular unless `x-kubernetes-map-type: atomic` or one of the structs upstream's Go types
//! mark atomic. Without a schema, objects are maps and lists are atomic.

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::managed_fields::{Element, FieldSet, Path};
use super::strategic::{SchemaIndex, SchemaNode};

/// Bound on nesting, as the decoders already bound it.
const MAX_DEPTH: usize = 100;

/// Built-in structs upstream marks `+structType=atomic`; the published OpenAPI documents do
/// not carry the marker, so they are known by name.
const ATOMIC_STRUCTS: &[&str] = &[
    "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector",
    "io.k8s.api.core.v1.NodeSelector",
    "io.k8s.api.core.v1.NodeSelectorTerm",
    "io.k8s.api.core.v1.TopologySelectorTerm",
    "io.k8s.api.core.v1.ObjectReference",
    "io.k8s.api.core.v1.LocalObjectReference",
    "io.k8s.api.core.v1.TypedLocalObjectReference",
    "io.k8s.api.core.v1.ConfigMapKeySelector",
    "io.k8s.api.core.v1.SecretKeySelector",
    "io.k8s.api.core.v1.ObjectFieldSelector",
    "io.k8s.api.core.v1.ResourceFieldSelector",
];

/// Defaults of list-map keys upstream's Go types declare (`+default="TCP"`) and the published
/// OpenAPI documents leave out: (definition, key field, default).
const KEY_DEFAULTS: &[(&str, &str, &str)] = &[
    ("io.k8s.api.core.v1.ContainerPort", "protocol", "TCP"),
    ("io.k8s.api.core.v1.ServicePort", "protocol", "TCP"),
];

/// A schema position, or none (an untyped value).
#[derive(Clone, Copy, Default)]
pub struct Typed<'a> {
    node: Option<SchemaNode<'a>>,
    /// The root of a custom resource, whose `metadata` is the built-in ObjectMeta whatever
    /// the CRD's schema says of it.
    custom_root: bool,
}

/// How a list is owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListKind<'a> {
    Atomic,
    Set,
    Map(Vec<&'a str>),
}

impl<'a> Typed<'a> {
    pub fn new(node: Option<SchemaNode<'a>>) -> Typed<'a> {
        Typed {
            node,
            custom_root: false,
        }
    }

    /// The schema of a custom resource: its CRD's `openAPIV3Schema`.
    pub fn custom(schema: &'a Value) -> Typed<'a> {
        Typed {
            node: schema
                .as_object()
                .map(|raw| SchemaIndex::new(raw).node(raw)),
            custom_root: true,
        }
    }

    pub fn field(self, key: &str) -> Typed<'a> {
        if self.custom_root && key == "metadata" {
            return Typed::new(
                SchemaIndex::new(crate::documents::schemas())
                    .definition("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"),
            );
        }
        Typed::new(self.node.and_then(|s| s.property(key)))
    }

    pub fn items(self) -> Typed<'a> {
        Typed::new(self.node.and_then(|s| s.items()))
    }

    /// Whether `key` is a declared field (of a struct) rather than an entry of a map.
    pub fn declares(self, key: &str) -> bool {
        self.node
            .and_then(|s| s.lookup("properties"))
            .and_then(Value::as_object)
            .is_some_and(|p| p.contains_key(key))
    }

    /// Whether this is a map with arbitrary keys (untyped values are).
    pub fn is_map(self) -> bool {
        self.node.is_none_or(|s| s.is_map())
    }

    /// Whether an object here is owned whole.
    pub fn atomic_object(self) -> bool {
        let Some(s) = self.node else {
            return false;
        };
        if s.lookup("x-kubernetes-map-type").and_then(Value::as_str) == Some("atomic") {
            return true;
        }
        self.definition_name()
            .is_some_and(|name| ATOMIC_STRUCTS.contains(&name))
    }

    /// The default of a key field of the items this schema describes.
    fn key_default(self, key: &str) -> Option<Value> {
        if let Some(default) = self.field(key).node.and_then(|s| s.lookup("default")) {
            return Some(default.clone());
        }
        let name = self.definition_name()?;
        KEY_DEFAULTS
            .iter()
            .find(|(definition, field, _)| *definition == name && *field == key)
            .map(|(_, _, default)| Value::String((*default).to_string()))
    }

    /// The definition this position refers to (`io.k8s.api.core.v1.ServicePort`).
    fn definition_name(self) -> Option<&'a str> {
        self.node?
            .lookup("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.rsplit('/').next())
    }

    pub fn list(self) -> ListKind<'a> {
        let Some(s) = self.node else {
            return ListKind::Atomic;
        };
        match s.list_type() {
            Some("map") => {
                let keys = s.list_map_keys();
                if keys.is_empty() {
                    ListKind::Atomic
                } else {
                    ListKind::Map(keys)
                }
            }
            Some("set") => ListKind::Set,
            Some(_) => ListKind::Atomic,
            None if s
                .patch_strategy()
                .is_some_and(|p| p.split(',').any(|x| x == "merge")) =>
            {
                match s.merge_key() {
                    Some(key) => ListKind::Map(vec![key]),
                    None => ListKind::Set,
                }
            }
            None => ListKind::Atomic,
        }
    }
}

/// The path element of a list item: `k:{...}` by its key fields (sorted by name, a missing
/// one taking its default), `v:<value>` in a set; none when the item has no key.
pub fn element(item: &Value, kind: &ListKind<'_>, items: Typed<'_>) -> Option<Element> {
    match kind {
        ListKind::Atomic => None,
        ListKind::Set => Some(format!("v:{item}")),
        ListKind::Map(keys) => {
            let object = item.as_object()?;
            let mut names: Vec<&str> = keys.clone();
            names.sort_unstable();
            let mut key = Map::new();
            for name in names {
                let value = object
                    .get(name)
                    .cloned()
                    .or_else(|| items.key_default(name));
                if let Some(value) = value {
                    key.insert(name.to_string(), value);
                }
            }
            (!key.is_empty()).then(|| format!("k:{}", Value::Object(key)))
        }
    }
}

/// The items of a granular list with their path elements, or none when the list must be
/// treated as atomic (an item without a key, or two items with one key).
pub fn keyed<'v>(
    items: &'v [Value],
    kind: &ListKind<'_>,
    schema: Typed<'_>,
) -> Option<Vec<(Element, &'v Value)>> {
    if *kind == ListKind::Atomic {
        return None;
    }
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let pe = element(item, kind, schema)?;
        if !seen.insert(pe.clone()) {
            return None;
        }
        out.push((pe, item));
    }
    Some(out)
}

/// The fields a value sets (upstream's `ToFieldSet`): scalars, atomic values, empty or null
/// fields, every entry of a map and every item of a granular list are members.
pub fn field_set(value: &Value, schema: Typed<'_>) -> FieldSet {
    let mut set = FieldSet::new();
    let mut path = Vec::new();
    walk_set(value, schema, &mut path, &mut set, 0);
    set
}

fn walk_set(value: &Value, schema: Typed<'_>, path: &mut Path, set: &mut FieldSet, depth: usize) {
    if depth > MAX_DEPTH {
        set.insert(path.clone());
        return;
    }
    match value {
        Value::Object(map) if !schema.atomic_object() => {
            for (key, child) in map {
                path.push(format!("f:{key}"));
                walk_set(child, schema.field(key), path, set, depth + 1);
                let empty = child.is_null() || child.as_object().is_some_and(Map::is_empty);
                if empty || !schema.declares(key) {
                    set.insert(path.clone());
                }
                path.pop();
            }
        }
        Value::Array(items) => {
            let kind = schema.list();
            let item_schema = schema.items();
            match keyed(items, &kind, item_schema) {
                None => set.insert(path.clone()),
                Some(elements) => {
                    for (pe, item) in elements {
                        path.push(pe);
                        if kind != ListKind::Set {
                            walk_set(item, item_schema, path, set, depth + 1);
                        }
                        set.insert(path.clone());
                        path.pop();
                    }
                }
            }
        }
        _ => set.insert(path.clone()),
    }
}

/// What changed between two values.
#[derive(Debug, Default, PartialEq)]
pub struct Comparison {
    pub added: FieldSet,
    pub modified: FieldSet,
    pub removed: FieldSet,
}

impl Comparison {
    /// Added or modified: what an updater now owns, and what an applier may conflict on.
    pub fn changed(&self) -> FieldSet {
        self.added.union(&self.modified)
    }

    pub fn filter(self, keep: impl Fn(&[Element]) -> bool) -> Comparison {
        Comparison {
            added: self.added.filter(&keep),
            modified: self.modified.filter(&keep),
            removed: self.removed.filter(&keep),
        }
    }
}

/// Compares `old` with `new` (upstream's `Compare`). Besides leaves, a map, a granular list,
/// a list item or a map entry that appears or goes is itself added or removed, so that its
/// owner owns its existence (the `"."` of `FieldsV1`).
pub fn compare(old: &Value, new: &Value, schema: Typed<'_>) -> Comparison {
    let mut out = Comparison::default();
    let mut path = Vec::new();
    walk_compare(Some(old), Some(new), schema, false, &mut path, &mut out, 0);
    out
}

#[derive(PartialEq)]
enum Shape {
    Object,
    List,
    Leaf,
}

fn shape(value: &Value, schema: Typed<'_>) -> Shape {
    match value {
        Value::Object(_) if !schema.atomic_object() => Shape::Object,
        Value::Array(items) if keyed(items, &schema.list(), schema.items()).is_some() => {
            Shape::List
        }
        _ => Shape::Leaf,
    }
}

#[allow(clippy::too_many_arguments)]
fn walk_compare(
    old: Option<&Value>,
    new: Option<&Value>,
    schema: Typed<'_>,
    member: bool,
    path: &mut Path,
    out: &mut Comparison,
    depth: usize,
) {
    let old_shape = old.map(|v| shape(v, schema));
    let new_shape = new.map(|v| shape(v, schema));
    if depth > MAX_DEPTH {
        if old != new {
            out.modified.insert(path.clone());
        }
        return;
    }
    // Two present values of different shapes: the value changed, and the composite side's
    // children come or go.
    if let (Some(a), Some(b)) = (&old_shape, &new_shape) {
        if a != b {
            out.modified.insert(path.clone());
            if *a != Shape::Leaf {
                walk_compare(old, None, schema, member, path, out, depth);
            }
            if *b != Shape::Leaf {
                walk_compare(None, new, schema, member, path, out, depth);
            }
            return;
        }
    }
    let the_shape = old_shape.or(new_shape);
    match the_shape {
        None => {}
        Some(Shape::Leaf) => match (old, new) {
            (None, Some(_)) => out.added.insert(path.clone()),
            (Some(_), None) => out.removed.insert(path.clone()),
            (Some(a), Some(b)) if a != b => out.modified.insert(path.clone()),
            _ => {}
        },
        Some(Shape::Object) => {
            let empty = Map::new();
            let old_map = old.and_then(Value::as_object).unwrap_or(&empty);
            let new_map = new.and_then(Value::as_object).unwrap_or(&empty);
            let keys: Vec<&String> = old_map
                .keys()
                .chain(new_map.keys().filter(|k| !old_map.contains_key(*k)))
                .collect();
            for key in keys {
                path.push(format!("f:{key}"));
                walk_compare(
                    old_map.get(key),
                    new_map.get(key),
                    schema.field(key),
                    !schema.declares(key),
                    path,
                    out,
                    depth + 1,
                );
                path.pop();
            }
            // An empty object that comes or goes has no leaves to stand for it.
            let present_empty = match (old, new) {
                (None, Some(v)) | (Some(v), None) => v.as_object().is_some_and(Map::is_empty),
                _ => false,
            };
            mark(
                old,
                new,
                member || schema.is_map() || present_empty,
                path,
                out,
            );
        }
        Some(Shape::List) => {
            let kind = schema.list();
            let item_schema = schema.items();
            let no_items: Vec<Value> = Vec::new();
            let old_items = old.and_then(Value::as_array).unwrap_or(&no_items);
            let new_items = new.and_then(Value::as_array).unwrap_or(&no_items);
            let old_keyed = keyed(old_items, &kind, item_schema).unwrap_or_default();
            let new_keyed = keyed(new_items, &kind, item_schema).unwrap_or_default();
            fn find<'v>(list: &[(Element, &'v Value)], pe: &str) -> Option<&'v Value> {
                list.iter().find(|(k, _)| k == pe).map(|(_, v)| *v)
            }
            let mut seen = HashSet::new();
            for (pe, _) in old_keyed.iter().chain(new_keyed.iter()) {
                if !seen.insert(pe.clone()) {
                    continue;
                }
                let a = find(&old_keyed, pe);
                let b = find(&new_keyed, pe);
                path.push(pe.clone());
                if kind == ListKind::Set {
                    match (a, b) {
                        (None, Some(_)) => out.added.insert(path.clone()),
                        (Some(_), None) => out.removed.insert(path.clone()),
                        _ => {}
                    }
                } else {
                    walk_compare(a, b, item_schema, true, path, out, depth + 1);
                }
                path.pop();
            }
            mark(old, new, true, path, out);
        }
    }
}

/// A composite node that appears or goes is added or removed itself when it is a member.
fn mark(old: Option<&Value>, new: Option<&Value>, member: bool, path: &Path, out: &mut Comparison) {
    if !member {
        return;
    }
    match (old, new) {
        (None, Some(_)) => out.added.insert(path.clone()),
        (Some(_), None) => out.removed.insert(path.clone()),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patch::strategic::SchemaIndex;
    use serde_json::json;

    fn deployment() -> Typed<'static> {
        let index = SchemaIndex::new(crate::documents::schemas());
        Typed::new(index.definition("io.k8s.api.apps.v1.Deployment"))
    }

    fn p(elements: &[&str]) -> Path {
        elements.iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn an_applied_deployment_owns_leaves_keyed_items_and_an_atomic_selector() {
        let applied = json!({
            "metadata": {"labels": {"app": "web"}},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"spec": {"containers": [{
                    "name": "web", "image": "nginx", "args": ["-v"],
                    "ports": [{"containerPort": 80}],
                }]}},
            },
        });
        let set = field_set(&applied, deployment());
        let fields = set.to_fields_v1();
        let c = "k:{\"name\":\"web\"}";
        assert_eq!(fields["f:metadata"], json!({"f:labels": {"f:app": {}}}));
        assert_eq!(fields["f:spec"]["f:selector"], json!({}));
        assert_eq!(fields["f:spec"]["f:replicas"], json!({}));
        let container = &fields["f:spec"]["f:template"]["f:spec"]["f:containers"][c];
        assert_eq!(container["."], json!({}));
        // args is atomic; ports is a map list keyed by port and protocol (defaulted).
        assert_eq!(container["f:args"], json!({}));
        assert!(
            container["f:ports"]
                .get("k:{\"containerPort\":80,\"protocol\":\"TCP\"}")
                .is_some(),
            "{container}"
        );
    }

    #[test]
    fn a_set_list_owns_its_values() {
        let index = SchemaIndex::new(crate::documents::schemas());
        let meta = Typed::new(index.definition("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"));
        let set = field_set(&json!({"finalizers": ["a", "b"]}), meta);
        assert!(set.contains(&p(&["f:finalizers", "v:\"a\""])));
        assert!(set.contains(&p(&["f:finalizers", "v:\"b\""])));
    }

    #[test]
    fn a_custom_schema_gives_list_types() {
        let schema = json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "hosts": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"},
            "routes": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["path"],
                       "items": {"type": "object", "properties": {"path": {"type": "string"}, "to": {"type": "string"}}}},
            "tags": {"type": "array", "items": {"type": "string"}},
            "config": {"type": "object", "x-kubernetes-map-type": "atomic", "additionalProperties": {"type": "string"}},
        }}}});
        let set = field_set(
            &json!({"spec": {"hosts": ["a"], "routes": [{"path": "/", "to": "x"}], "tags": ["t"], "config": {"k": "v"}}}),
            Typed::custom(&schema),
        );
        assert!(set.contains(&p(&["f:spec", "f:hosts", "v:\"a\""])));
        assert!(set.contains(&p(&["f:spec", "f:routes", "k:{\"path\":\"/\"}", "f:to"])));
        assert!(set.contains(&p(&["f:spec", "f:tags"])));
        assert!(set.contains(&p(&["f:spec", "f:config"])));
        assert!(!set.has_under(&p(&["f:spec", "f:config", "f:k"])));
    }

    #[test]
    fn untyped_objects_are_maps_whose_entries_are_members() {
        let set = field_set(&json!({"a": {"b": 1}}), Typed::default());
        assert!(set.contains(&p(&["f:a"])));
        assert!(set.contains(&p(&["f:a", "f:b"])));
    }

    #[test]
    fn comparison_finds_added_modified_and_removed_fields() {
        let old = json!({"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"replicas": 1, "paused": true}});
        let new = json!({"metadata": {"labels": {"a": "1", "c": "3"}}, "spec": {"replicas": 2, "minReadySeconds": 5}});
        let c = compare(&old, &new, deployment());
        assert_eq!(
            c.added,
            [
                p(&["f:metadata", "f:labels", "f:c"]),
                p(&["f:spec", "f:minReadySeconds"])
            ]
            .into_iter()
            .collect()
        );
        assert_eq!(
            c.modified,
            [p(&["f:spec", "f:replicas"])].into_iter().collect()
        );
        assert_eq!(
            c.removed,
            [
                p(&["f:metadata", "f:labels", "f:b"]),
                p(&["f:spec", "f:paused"])
            ]
            .into_iter()
            .collect()
        );
    }

    #[test]
    fn comparison_marks_new_maps_and_list_items_as_members() {
        let old = json!({"spec": {}});
        let new = json!({"metadata": {"labels": {"app": "web"}}, "spec": {"template": {"spec": {"containers": [{"name": "web", "image": "x"}]}}}});
        let c = compare(&old, &new, deployment());
        assert!(c.added.contains(&p(&["f:metadata", "f:labels"])));
        assert!(!c.added.contains(&p(&["f:metadata"])));
        let item = p(&[
            "f:spec",
            "f:template",
            "f:spec",
            "f:containers",
            "k:{\"name\":\"web\"}",
        ]);
        assert!(c.added.contains(&item));
        assert!(!c.added.contains(&p(&["f:spec", "f:template"])));
    }

    #[test]
    fn an_atomic_list_changes_as_a_whole() {
        let old =
            json!({"spec": {"template": {"spec": {"containers": [{"name": "w", "args": ["a"]}]}}}});
        let new =
            json!({"spec": {"template": {"spec": {"containers": [{"name": "w", "args": ["b"]}]}}}});
        let c = compare(&old, &new, deployment());
        let args = p(&[
            "f:spec",
            "f:template",
            "f:spec",
            "f:containers",
            "k:{\"name\":\"w\"}",
            "f:args",
        ]);
        assert_eq!(c.modified, [args].into_iter().collect());
        assert!(c.added.is_empty() && c.removed.is_empty());
    }
}
