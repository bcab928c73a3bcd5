//! Defaulting: applying a schema's `default`s to an object.

use serde_json::Value;

use super::{Additional, Node, MAX_SCHEMA_DEPTH};

pub(super) fn apply_defaults(v: &mut Value, n: &Node, depth: usize) {
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::custom::schema::test_support::spec_schema;

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
}
