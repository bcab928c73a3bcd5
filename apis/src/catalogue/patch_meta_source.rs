//! Checks `patch_meta.rs` against its source, `apis/data/patch-meta-v1.35.json`: the merge
//! extensions of upstream v1.35's swagger.json, extracted by `apis/data/patch-meta.sh`.
//! (k8s-openapi's schemars schemas do not carry these extensions, so it cannot be the check.)

use serde_json::{json, Value};

use super::patch_meta::FIELDS;

/// The source's entries as `(definition, property, extensions)`.
fn source() -> Vec<(String, String, Value)> {
    let text = include_str!("../../data/patch-meta-v1.35.json");
    let entries: Vec<Value> = serde_json::from_str(text).expect("patch-meta-v1.35.json is JSON");
    entries
        .into_iter()
        .map(|e| {
            let field = |k: &str| e[k].as_str().unwrap_or_default().to_string();
            (
                field("definition"),
                field("property"),
                e["extensions"].clone(),
            )
        })
        .collect()
}

/// A committed entry in the source's notation: only the extensions it sets.
fn committed() -> Vec<(String, String, Value)> {
    FIELDS
        .iter()
        .map(|f| {
            let mut ext = serde_json::Map::new();
            let mut set = |key: &str, value: Option<Value>| {
                if let Some(v) = value {
                    ext.insert(key.to_string(), v);
                }
            };
            set(
                "x-kubernetes-patch-strategy",
                f.patch_strategy.map(|v| json!(v)),
            );
            set(
                "x-kubernetes-patch-merge-key",
                f.patch_merge_key.map(|v| json!(v)),
            );
            set("x-kubernetes-list-type", f.list_type.map(|v| json!(v)));
            set(
                "x-kubernetes-list-map-keys",
                (!f.list_map_keys.is_empty()).then(|| json!(f.list_map_keys)),
            );
            set("x-kubernetes-map-type", f.map_type.map(|v| json!(v)));
            (
                f.definition.to_string(),
                f.property.to_string(),
                Value::Object(ext),
            )
        })
        .collect()
}

#[test]
fn patch_meta_equals_upstream_swagger_extensions() {
    let source = source();
    let committed = committed();
    let extra: Vec<_> = committed.iter().filter(|e| !source.contains(e)).collect();
    let missing: Vec<_> = source.iter().filter(|e| !committed.contains(e)).collect();
    assert!(
        extra.is_empty() && missing.is_empty(),
        "patch_meta.rs differs from patch-meta-v1.35.json:\nnot upstream's: {extra:#?}\nmissing: {missing:#?}"
    );
}
