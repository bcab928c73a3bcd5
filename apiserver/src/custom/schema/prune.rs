//! Pruning: dropping the fields a schema does not know (keeping them under
//! x-kubernetes-preserve-unknown-fields) and the nulls it does not allow.

use std::collections::HashSet;

use serde_json::Value;

use super::{key_path, p_index, Additional, Node, MAX_VALUE_DEPTH};

/// Kept at the root and in embedded resources, whatever their schema says.
const META_FIELDS: [&str; 3] = ["apiVersion", "kind", "metadata"];

/// Prunes an object (see [`super::Structural::prune`]); returns the pruned paths, sorted.
pub(super) fn prune(root: &Node, obj: &mut Value) -> Vec<String> {
    let mut out = Vec::new();
    prune_value(obj, Some(root), true, "", &mut out, 0);
    prune_nulls(obj, Some(root), 0);
    out.sort();
    out
}

/// Prunes a `default` by the schema it belongs to (nothing is reported).
pub(super) fn prune_default(default: &mut Value, n: &Node) {
    prune_value(default, Some(n), false, "", &mut Vec::new(), 0);
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::custom::schema::test_support::spec_schema;

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
}
