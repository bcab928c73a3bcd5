//! The generated discovery and OpenAPI documents, and the schema map strategic merge patch
//! reads merge keys from.

use std::sync::LazyLock;

use serde_json::{Map, Value};

use crate::generated::documents::GROUP_VERSIONS;
pub use crate::generated::documents::{AGGREGATED_API, AGGREGATED_APIS, API_GROUP_LIST};

/// The documents of one group version, written by codegen.
pub struct GroupVersionDocuments {
    /// `api/v1` or `apis/apps/v1`.
    pub path: &'static str,
    pub resource_list: &'static str,
    pub openapi_v3: &'static str,
    pub openapi_v3_hash: &'static str,
}

pub fn group_version(path: &str) -> Option<&'static GroupVersionDocuments> {
    GROUP_VERSIONS.iter().find(|d| d.path == path)
}

pub fn all() -> &'static [GroupVersionDocuments] {
    GROUP_VERSIONS
}

/// Every schema of every group version's OpenAPI document, by definition name.
pub fn schemas() -> &'static Map<String, Value> {
    static SCHEMAS: LazyLock<Map<String, Value>> = LazyLock::new(|| {
        let mut all = Map::new();
        for docs in GROUP_VERSIONS {
            let Ok(Value::Object(mut doc)) = serde_json::from_str::<Value>(docs.openapi_v3) else {
                continue;
            };
            if let Some(Value::Object(schemas)) = doc
                .get_mut("components")
                .and_then(|c| c.get_mut("schemas"))
                .map(Value::take)
            {
                all.extend(schemas);
            }
        }
        all
    });
    &SCHEMAS
}

/// The OpenAPI v2 (swagger) document of every group version, derived from the v3
/// documents: the same schemas under `definitions`, and each operation with its
/// `x-kubernetes-*` extensions and parameters.
pub fn openapi_v2() -> &'static [u8] {
    static V2: LazyLock<Vec<u8>> = LazyLock::new(|| {
        let mut paths = Map::new();
        for docs in GROUP_VERSIONS {
            let Ok(doc) = serde_json::from_str::<Value>(docs.openapi_v3) else {
                continue;
            };
            let Some(v3_paths) = doc.get("paths").and_then(Value::as_object) else {
                continue;
            };
            for (path, item) in v3_paths {
                let Some(item) = item.as_object() else {
                    continue;
                };
                let mut v2_item = Map::new();
                for (method, op) in item {
                    if method == "parameters" {
                        v2_item.insert(method.clone(), v2_parameters(op));
                        continue;
                    }
                    let mut v2_op = Map::new();
                    for (key, value) in op.as_object().into_iter().flatten() {
                        match key.as_str() {
                            "parameters" => {
                                v2_op.insert(key.clone(), v2_parameters(value));
                            }
                            "requestBody" | "responses" => {}
                            _ => {
                                v2_op.insert(key.clone(), value.clone());
                            }
                        }
                    }
                    let schema = op
                        .pointer("/responses/200/content/application~1json/schema")
                        .cloned();
                    let mut ok = serde_json::json!({ "description": "OK" });
                    if let Some(schema) = schema {
                        ok["schema"] = schema;
                    }
                    v2_op.insert("responses".into(), serde_json::json!({ "200": ok }));
                    v2_item.insert(method.clone(), Value::Object(v2_op));
                }
                paths.insert(path.clone(), Value::Object(v2_item));
            }
        }
        let doc = serde_json::json!({
            "swagger": "2.0",
            "info": { "title": "Kubernetes", "version": keelson_apis::KUBERNETES_VERSION },
            "paths": paths,
            "definitions": schemas(),
        });
        serde_json::to_string(&doc)
            .unwrap_or_default()
            .replace("#/components/schemas/", "#/definitions/")
            .into_bytes()
    });
    &V2
}

/// [`openapi_v2`] in gnostic's protobuf form, which kubectl asks for.
pub fn openapi_v2_protobuf() -> &'static [u8] {
    static PROTO: LazyLock<Vec<u8>> = LazyLock::new(|| {
        let doc: Value = serde_json::from_slice(openapi_v2()).unwrap_or(Value::Null);
        crate::openapi_v2_proto::encode(&doc)
    });
    &PROTO
}

/// v3 parameters (`schema: {type}`) in v2's form (`type` inline).
fn v2_parameters(params: &Value) -> Value {
    let converted: Vec<Value> = params
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            let mut p = p.clone();
            if let Some(obj) = p.as_object_mut() {
                if let Some(Value::Object(schema)) = obj.remove("schema") {
                    obj.extend(schema);
                }
            }
            p
        })
        .collect();
    Value::Array(converted)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_document_is_json_and_schemas_load() {
        for docs in super::all() {
            let _: serde_json::Value = serde_json::from_str(docs.resource_list).unwrap();
        }
        assert!(super::schemas().contains_key("io.k8s.api.apps.v1.Deployment"));
    }

    #[test]
    fn v2_has_definitions_and_patch_extensions() {
        let v2: serde_json::Value = serde_json::from_slice(super::openapi_v2()).unwrap();
        assert_eq!(v2["swagger"], "2.0");
        assert!(v2["definitions"]["io.k8s.api.core.v1.Pod"].is_object());
        let patch =
            &v2["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
        assert_eq!(
            patch["x-kubernetes-group-version-kind"]["kind"],
            "Deployment"
        );
        assert!(patch["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "fieldValidation" && p["type"] == "string"));
        let text = String::from_utf8_lossy(super::openapi_v2());
        assert!(!text.contains("#/components/schemas/"));
    }
}
