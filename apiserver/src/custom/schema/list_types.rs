//! List types (x-kubernetes-list-type `set` and `map`): duplicate members and keys,
//! checked in upstream's separate pass, with `field.Path` paths.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::go_value::{go_json, go_shown, num_of, Num, Raw};
use super::{f_child, p_index, p_key, Additional, Node, MAX_SCHEMA_DEPTH};
use crate::status::Cause;

pub(super) fn validate_lists(n: &Node, v: &Value, path: &str, out: &mut Vec<Cause>, depth: usize) {
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::custom::schema::test_support::{spec_errors, spec_schema};

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
}
