//! Server-side apply (`application/apply-patch+yaml`): the applied configuration is merged
//! into the object, and each field manager's applied fields are recorded in
//! `metadata.managedFields` (operation `Apply`, `FieldsV1`). Fields a manager applied before
//! and no longer applies are removed, unless another applying manager still applies them,
//! so that applying a Service whose port changed from 8080 to 9090 leaves one port.
//!
//! Field sets follow the schema's list types, as upstream's: `map` lists (and lists merged
//! by a patch merge key) own elements by key (`k:{"port":80}`), `set` lists by value
//! (`v:"x"`), and other lists are atomic (owned whole). Conflicts between managers are not
//! detected yet: the last applier wins.

use serde_json::{json, Map, Value};

use super::strategic::{self, SchemaNode, StrategicPatchError};

type Object = Map<String, Value>;

/// Fields of an applied configuration that no manager owns: identity, type and status.
const UNOWNED_TOP: &[&str] = &["apiVersion", "kind", "status"];
/// The metadata fields managers own; the rest is the server's.
const OWNED_METADATA: &[&str] = &["labels", "annotations", "finalizers", "ownerReferences"];

/// Applies `applied` for `manager` to `original` (an object of the definition `schema`
/// describes), returning the new object with its `managedFields`.
pub fn apply(
    original: &Value,
    applied: &Value,
    schema: Option<SchemaNode<'_>>,
    manager: &str,
    now: &str,
) -> Result<Value, StrategicPatchError> {
    let mut applied = applied.clone();
    if let Some(meta) = applied.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.shift_remove("managedFields");
    }
    let api_version = applied
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let entries: Vec<Value> = original
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let is_mine = |e: &Value| {
        e.get("manager").and_then(Value::as_str) == Some(manager)
            && e.get("operation").and_then(Value::as_str) == Some("Apply")
    };
    let fields_of_entry = |e: &Value| {
        e.get("fieldsV1")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    };
    let old = entries
        .iter()
        .find(|e| is_mine(e))
        .map(fields_of_entry)
        .unwrap_or_default();
    let others: Vec<Object> = entries
        .iter()
        .filter(|e| !is_mine(e))
        .filter(|e| e.get("operation").and_then(Value::as_str) == Some("Apply"))
        .map(fields_of_entry)
        .collect();
    let new = fields_of(&applied, schema);
    let mut base = original.clone();
    let other_refs: Vec<&Object> = others.iter().collect();
    prune(&mut base, &old, &new, &other_refs, 0);
    let mut merged = strategic::apply(&base, &applied, schema)?;
    let mut managed: Vec<Value> = entries.into_iter().filter(|e| !is_mine(e)).collect();
    managed.push(json!({
        "manager": manager,
        "operation": "Apply",
        "apiVersion": api_version,
        "time": now,
        "fieldsType": "FieldsV1",
        "fieldsV1": new,
    }));
    crate::strategy::set(
        &mut merged,
        &["metadata", "managedFields"],
        Value::Array(managed),
    );
    Ok(merged)
}

/// The `FieldsV1` set of an applied configuration.
pub fn fields_of(applied: &Value, schema: Option<SchemaNode<'_>>) -> Object {
    let mut out = Object::new();
    let Some(map) = applied.as_object() else {
        return out;
    };
    for (key, value) in map {
        if UNOWNED_TOP.contains(&key.as_str()) {
            continue;
        }
        let child = schema.and_then(|s| s.property(key));
        if key == "metadata" {
            let meta: Object = value
                .as_object()
                .into_iter()
                .flatten()
                .filter(|(k, _)| OWNED_METADATA.contains(&k.as_str()))
                .map(|(k, v)| {
                    let schema = child.and_then(|c| c.property(k));
                    (
                        format!("f:{k}"),
                        Value::Object(fields_of_value(v, schema, 0)),
                    )
                })
                .collect();
            if !meta.is_empty() {
                out.insert("f:metadata".into(), Value::Object(meta));
            }
            continue;
        }
        out.insert(
            format!("f:{key}"),
            Value::Object(fields_of_value(value, child, 0)),
        );
    }
    out
}

/// Bound on nesting, as the decoders already bound it.
const MAX_DEPTH: usize = 100;

fn fields_of_value(value: &Value, schema: Option<SchemaNode<'_>>, depth: usize) -> Object {
    let mut out = Object::new();
    if depth > MAX_DEPTH {
        return out;
    }
    match value {
        Value::Object(map) => {
            let is_map = schema.is_some_and(|s| s.is_map());
            if is_map && !map.is_empty() {
                out.insert(".".into(), json!({}));
            }
            for (k, v) in map {
                let child = schema.and_then(|s| s.property(k));
                out.insert(
                    format!("f:{k}"),
                    Value::Object(fields_of_value(v, child, depth + 1)),
                );
            }
        }
        Value::Array(items) => {
            let items_schema = schema.and_then(|s| s.items());
            match list_kind(schema) {
                ListKind::Map(keys) => {
                    for item in items {
                        let mut element = fields_of_value(item, items_schema, depth + 1);
                        element.shift_insert(0, ".".into(), json!({}));
                        out.insert(element_key(item, &keys), Value::Object(element));
                    }
                }
                ListKind::Set => {
                    for item in items {
                        out.insert(format!("v:{item}"), json!({}));
                    }
                }
                ListKind::Atomic => {}
            }
        }
        _ => {}
    }
    out
}

enum ListKind<'a> {
    Map(Vec<&'a str>),
    Set,
    Atomic,
}

fn list_kind<'a>(schema: Option<SchemaNode<'a>>) -> ListKind<'a> {
    let Some(schema) = schema else {
        return ListKind::Atomic;
    };
    match schema.list_type() {
        Some("map") => ListKind::Map(schema.list_map_keys()),
        Some("set") => ListKind::Set,
        Some(_) => ListKind::Atomic,
        None => match schema.merge_key() {
            Some(key) => ListKind::Map(vec![key]),
            None => ListKind::Atomic,
        },
    }
}

/// `k:{...}` of a list element: the values of the key fields it has.
fn element_key(item: &Value, keys: &[&str]) -> String {
    let key: Object = keys
        .iter()
        .filter_map(|k| item.get(*k).map(|v| ((*k).to_string(), v.clone())))
        .collect();
    format!("k:{}", Value::Object(key))
}

/// Removes from `live` what `old` owned that neither `new` nor any of `others` owns.
fn prune(live: &mut Value, old: &Object, new: &Object, others: &[&Object], depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    let empty = Object::new();
    for (key, old_sub) in old {
        if key == "." {
            continue;
        }
        let new_sub = new.get(key).and_then(Value::as_object);
        let other_subs: Vec<&Object> = others
            .iter()
            .filter_map(|o| o.get(key).and_then(Value::as_object))
            .collect();
        if new_sub.is_none() && other_subs.is_empty() {
            remove_element(live, key);
            continue;
        }
        let old_sub = old_sub.as_object().unwrap_or(&empty);
        if let Some(element) = element_mut(live, key) {
            prune(
                element,
                old_sub,
                new_sub.unwrap_or(&empty),
                &other_subs,
                depth + 1,
            );
        }
    }
}

/// Whether a list element is the one a `k:` key or `v:` value names.
fn matches(element: &Value, path_key: &str) -> bool {
    if let Some(key) = path_key.strip_prefix("k:") {
        let Ok(Value::Object(key)) = serde_json::from_str::<Value>(key) else {
            return false;
        };
        return key.iter().all(|(k, v)| element.get(k) == Some(v));
    }
    if let Some(value) = path_key.strip_prefix("v:") {
        return serde_json::from_str::<Value>(value).is_ok_and(|v| v == *element);
    }
    false
}

fn element_mut<'a>(live: &'a mut Value, path_key: &str) -> Option<&'a mut Value> {
    if let Some(field) = path_key.strip_prefix("f:") {
        return live.as_object_mut()?.get_mut(field);
    }
    live.as_array_mut()?
        .iter_mut()
        .find(|element| matches(element, path_key))
}

fn remove_element(live: &mut Value, path_key: &str) {
    if let Some(field) = path_key.strip_prefix("f:") {
        if let Some(map) = live.as_object_mut() {
            map.shift_remove(field);
        }
    } else if let Some(list) = live.as_array_mut() {
        list.retain(|element| !matches(element, path_key));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patch::strategic::SchemaIndex;

    fn service(ports: Value) -> Value {
        json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {"selector": {"app": "web"}, "ports": ports},
        })
    }

    fn apply_service(live: &Value, applied: &Value, manager: &str) -> Value {
        let index = SchemaIndex::new(crate::documents::schemas());
        apply(
            live,
            applied,
            index.definition("io.k8s.api.core.v1.Service"),
            manager,
            "2026-01-01T00:00:00Z",
        )
        .unwrap()
    }

    #[test]
    fn a_port_no_longer_applied_is_removed() {
        let first = service(json!([{"name": "http", "port": 8080}]));
        let created = apply_service(&json!({}), &first, "helm");
        assert_eq!(
            created["spec"]["ports"],
            json!([{"name": "http", "port": 8080}])
        );
        let fields = &created["metadata"]["managedFields"][0]["fieldsV1"];
        assert!(
            fields["f:spec"]["f:ports"]
                .get("k:{\"port\":8080}")
                .is_some(),
            "{fields}"
        );
        let second = service(json!([{"name": "http", "port": 9090}]));
        let updated = apply_service(&created, &second, "helm");
        assert_eq!(
            updated["spec"]["ports"],
            json!([{"name": "http", "port": 9090}])
        );
        assert_eq!(
            updated["metadata"]["managedFields"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn labels_no_longer_applied_are_removed_unless_another_manager_applies_them() {
        let mut a = service(json!([{"port": 80}]));
        a["metadata"]["labels"] = json!({"app": "web", "tier": "front"});
        let live = apply_service(&json!({}), &a, "one");
        let mut b = service(json!([{"port": 80}]));
        b["metadata"]["labels"] = json!({"tier": "front"});
        let live = apply_service(&live, &b, "two");
        let mut a2 = service(json!([{"port": 80}]));
        a2["metadata"]["labels"] = json!({"app": "web"});
        let live = apply_service(&live, &a2, "one");
        assert_eq!(
            live["metadata"]["labels"],
            json!({"app": "web", "tier": "front"})
        );
        let mut a3 = service(json!([{"port": 80}]));
        a3["metadata"]
            .as_object_mut()
            .unwrap()
            .shift_remove("labels");
        let live = apply_service(&live, &a3, "two");
        assert_eq!(live["metadata"]["labels"], json!({"app": "web"}));
    }

    #[test]
    fn fields_set_by_others_are_kept() {
        let live = service(json!([{"port": 80}, {"port": 81}]));
        let applied = service(json!([{"port": 80}]));
        let out = apply_service(&live, &applied, "first");
        // Port 81 was never applied by this manager: it stays.
        assert_eq!(out["spec"]["ports"].as_array().unwrap().len(), 2);
    }
}
