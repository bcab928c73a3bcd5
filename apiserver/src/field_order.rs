//! JSON in upstream's field order. Go writes a struct's fields in declaration order (`kind`,
//! `apiVersion`, `metadata`, then the rest as the type declares them) and a map's keys
//! sorted; clients that report positions in errors, and people reading `-o json`, see the
//! difference. Objects are put in this order before they are stored, so reads splice
//! stored bytes that are already right, and before a write's answer is encoded.
//!
//! The order of each definition comes from the catalogue
//! ([`keelson_apis::catalogue::field_order`]); which definition a nested field holds comes
//! from the OpenAPI schemas.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde_json::{Map, Value};

/// What a field holds, as far as order goes.
#[derive(Debug)]
enum Child {
    /// An object of a definition.
    Object(&'static str),
    /// A list of some child.
    List(Box<Child>),
    /// A map (sorted keys) of some child.
    Map(Box<Child>),
    /// Anything else.
    Leaf,
}

struct Shapes {
    /// The children of each definition's fields.
    fields: HashMap<&'static str, HashMap<&'static str, Child>>,
    /// `(apiVersion, kind)` to definition name.
    kinds: HashMap<(String, String), &'static str>,
}

fn ref_target(schema: &'static Map<String, Value>) -> Option<&'static str> {
    let reference = schema.get("$ref").and_then(Value::as_str).or_else(|| {
        schema
            .get("allOf")?
            .as_array()?
            .first()?
            .get("$ref")?
            .as_str()
    })?;
    reference.rsplit('/').next()
}

fn child(schema: &'static Value, schemas: &'static Map<String, Value>) -> Child {
    let Some(schema) = schema.as_object() else {
        return Child::Leaf;
    };
    if let Some(target) = ref_target(schema) {
        return match schemas.get_key_value(target) {
            Some((name, def)) if def.get("properties").is_some() => Child::Object(name.as_str()),
            _ => Child::Leaf,
        };
    }
    if let Some(items) = schema.get("items") {
        return Child::List(Box::new(child(items, schemas)));
    }
    if let Some(values) = schema.get("additionalProperties") {
        return Child::Map(Box::new(child(values, schemas)));
    }
    Child::Leaf
}

static SHAPES: LazyLock<Shapes> = LazyLock::new(|| {
    let schemas = crate::documents::schemas();
    let mut fields = HashMap::new();
    let mut kinds = HashMap::new();
    for (name, def) in schemas {
        let Some(properties) = def.get("properties").and_then(Value::as_object) else {
            continue;
        };
        let children = properties
            .iter()
            .map(|(field, schema)| (field.as_str(), child(schema, schemas)))
            .collect();
        fields.insert(name.as_str(), children);
        for gvk in def
            .get("x-kubernetes-group-version-kind")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let part = |k: &str| gvk.get(k).and_then(Value::as_str).unwrap_or("");
            let api_version =
                keelson_apis::catalogue::group_version(part("group"), part("version"));
            kinds.insert((api_version, part("kind").to_string()), name.as_str());
        }
    }
    Shapes { fields, kinds }
});

/// The fields every top-level object starts with.
const TYPE_AND_OBJECT_META: &[&str] = &["kind", "apiVersion", "metadata"];

/// Puts an object (or a `...List` of them, or a Status) in upstream's field order, by its
/// own `apiVersion` and `kind`.
pub fn canonicalize(value: &mut Value) {
    let Some(map) = value.as_object() else { return };
    let api_version = map.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let kind = map.get("kind").and_then(Value::as_str).unwrap_or("");
    let definition = SHAPES
        .kinds
        .get(&(api_version.to_string(), kind.to_string()))
        .copied();
    match definition {
        Some(definition) => order_as(value, definition),
        None => {
            if let Some(items) = value.get_mut("items").and_then(Value::as_array_mut) {
                items.iter_mut().for_each(canonicalize);
            }
            if let Some(map) = value.as_object_mut() {
                reorder(map, TYPE_AND_OBJECT_META);
            }
        }
    }
}

/// Puts an object of a known definition (such as `io.k8s.api.apps.v1.Deployment`) in order.
pub fn order_as(value: &mut Value, definition: &str) {
    let Some(map) = value.as_object_mut() else {
        return;
    };
    if let Some(order) = keelson_apis::catalogue::field_order(definition) {
        reorder(map, order);
    }
    let Some(children) = SHAPES.fields.get(definition) else {
        return;
    };
    for (field, value) in map.iter_mut() {
        if let Some(child) = children.get(field.as_str()) {
            order_child(value, child);
        }
    }
}

fn order_child(value: &mut Value, child: &Child) {
    match child {
        Child::Leaf => {}
        Child::Object(definition) => order_as(value, definition),
        Child::List(inner) => {
            if let Some(items) = value.as_array_mut() {
                for item in items {
                    order_child(item, inner);
                }
            }
        }
        Child::Map(inner) => {
            if let Some(map) = value.as_object_mut() {
                map.sort_keys();
                for item in map.values_mut() {
                    order_child(item, inner);
                }
            }
        }
    }
}

/// Moves the fields named in `order` to the front, in that order; others keep theirs.
fn reorder(map: &mut Map<String, Value>, order: &[&str]) {
    let in_order = order
        .iter()
        .filter(|f| map.contains_key(**f))
        .zip(map.keys())
        .all(|(want, have)| *want == have);
    if in_order {
        return;
    }
    let mut rest = std::mem::take(map);
    for field in order {
        if let Some((k, v)) = rest.shift_remove_entry(*field) {
            map.insert(k, v);
        }
    }
    map.append(&mut rest);
}

/// Sets `metadata.resourceVersion` where upstream writes it (after `uid`), whether or not
/// the object had one.
pub fn set_resource_version(meta: &mut Map<String, Value>, revision: u64) {
    let value = Value::String(revision.to_string());
    if let Some(existing) = meta.get_mut("resourceVersion") {
        *existing = value;
        return;
    }
    let position = meta
        .keys()
        .take_while(|k| OBJECT_META_BEFORE_RESOURCE_VERSION.contains(&k.as_str()))
        .count();
    meta.shift_insert(position, "resourceVersion".into(), value);
}

/// The ObjectMeta fields upstream writes before `resourceVersion`.
pub const OBJECT_META_BEFORE_RESOURCE_VERSION: &[&str] =
    &["name", "generateName", "namespace", "selfLink", "uid"];

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn keys(v: &Value) -> Vec<&str> {
        v.as_object().unwrap().keys().map(String::as_str).collect()
    }

    #[test]
    fn objects_follow_the_go_declaration_order() {
        let mut pod = json!({
            "status": {"phase": "Pending"},
            "spec": {"containers": [{"image": "nginx", "name": "web", "ports": [{"protocol": "TCP", "containerPort": 80}]}], "restartPolicy": "Always", "volumes": []},
            "metadata": {"labels": {"b": "2", "a": "1"}, "uid": "u", "name": "p", "namespace": "default"},
            "apiVersion": "v1",
            "kind": "Pod",
        });
        canonicalize(&mut pod);
        assert_eq!(
            keys(&pod),
            ["kind", "apiVersion", "metadata", "spec", "status"]
        );
        assert_eq!(
            keys(&pod["metadata"]),
            ["name", "namespace", "uid", "labels"]
        );
        assert_eq!(keys(&pod["metadata"]["labels"]), ["a", "b"]);
        assert_eq!(
            keys(&pod["spec"]),
            ["volumes", "containers", "restartPolicy"]
        );
        assert_eq!(
            keys(&pod["spec"]["containers"][0]),
            ["name", "image", "ports"]
        );
        assert_eq!(
            keys(&pod["spec"]["containers"][0]["ports"][0]),
            ["containerPort", "protocol"]
        );
    }

    #[test]
    fn resource_versions_go_after_the_uid() {
        let mut meta = json!({"name": "a", "uid": "u", "creationTimestamp": "t"});
        set_resource_version(meta.as_object_mut().unwrap(), 7);
        assert_eq!(
            keys(&meta),
            ["name", "uid", "resourceVersion", "creationTimestamp"]
        );
        set_resource_version(meta.as_object_mut().unwrap(), 8);
        assert_eq!(meta["resourceVersion"], "8");
    }

    #[test]
    fn unknown_kinds_still_start_with_type_and_metadata() {
        let mut list = json!({"items": [{"data": {}, "metadata": {}, "kind": "ConfigMap", "apiVersion": "v1"}], "metadata": {}, "apiVersion": "v1", "kind": "ConfigMapList"});
        canonicalize(&mut list);
        assert_eq!(keys(&list), ["kind", "apiVersion", "metadata", "items"]);
        assert_eq!(
            keys(&list["items"][0]),
            ["kind", "apiVersion", "metadata", "data"]
        );
    }
}
