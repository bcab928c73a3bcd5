//! Property tests over everything that reads client input: body decoding (JSON, YAML,
//! protobuf), the patch paths, request paths and selectors. Any input must give a value or
//! an error, never a panic.

use keelson_apiserver::{codec, params, patch, protobuf, request, selectors};
use proptest::prelude::*;
use serde_json::{json, Value};

/// Arbitrary JSON values, a few levels deep, with keys that hit patch directives.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        "[a-z$/]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("name".to_string()),
                    Just("$patch".to_string()),
                    Just("$setElementOrder/containers".to_string()),
                    Just("$retainKeys".to_string()),
                    Just("$deleteFromPrimitiveList/finalizers".to_string()),
                    Just("containers".to_string()),
                    Just("spec".to_string()),
                    Just("op".to_string()),
                    Just("path".to_string()),
                    "[a-z]{1,6}",
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn deployment() -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": { "name": "web", "labels": { "a": "b" }, "finalizers": ["x"] },
        "spec": { "replicas": 1, "template": { "spec": { "containers": [
            { "name": "a", "image": "i", "env": [{ "name": "A", "value": "1" }], "ports": [{ "containerPort": 80 }] },
        ] } } },
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn body_decoding_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..512), kind in 0usize..5) {
        let content_type = ["application/json", "application/yaml", protobuf::CONTENT_TYPE, "text/plain", ""][kind];
        let _ = codec::decode_body(content_type, &bytes);
        let mut framed = b"k8s\0".to_vec();
        framed.extend(&bytes);
        let _ = protobuf::decode(&framed);
    }

    #[test]
    fn yaml_like_text_never_panics(text in "[ -~\\n\\t]{0,300}") {
        let _ = codec::decode_body("application/yaml", text.as_bytes());
        let _ = patch::parse(patch::PatchType::Apply, text.as_bytes());
    }

    #[test]
    fn patches_never_panic(p in json_value(), kind in 0usize..4) {
        let patch_type = [patch::PatchType::Json, patch::PatchType::Merge, patch::PatchType::Strategic, patch::PatchType::Apply][kind];
        let body = serde_json::to_vec(&p).unwrap_or_default();
        if let Ok(parsed) = patch::parse(patch_type, &body) {
            let _ = patch::apply(patch_type, &deployment(), &parsed, "io.k8s.api.apps.v1.Deployment", "fuzz");
        }
    }

    #[test]
    fn strategic_patches_of_arbitrary_objects_never_panic(original in json_value(), p in json_value()) {
        let _ = patch::apply(patch::PatchType::Strategic, &original, &p, "io.k8s.api.core.v1.Pod", "fuzz");
    }

    #[test]
    fn paths_and_selectors_never_panic(path in "(/[a-z0-9.{}-]{0,10}){0,8}", query in "[ -~]{0,60}") {
        let q = params::Query::parse(Some(&query));
        let _ = request::parse(&http::Method::GET, &path, &q);
        let _ = selectors::LabelSelector::parse(&query);
        let _ = selectors::FieldSelector::parse(&query);
        let _ = codec::negotiate(Some(&query), true);
    }
}
