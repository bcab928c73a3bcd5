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

/// The hash a client caches a document under (`?hash=`): SHA-512 of its JSON, in hex.
pub fn hash(doc: &Value) -> String {
    let bytes = serde_json::to_vec(doc).unwrap_or_default();
    let digest = ring::digest::digest(&ring::digest::SHA512, &bytes);
    digest.as_ref().iter().map(|b| format!("{b:02X}")).collect()
}

/// The OpenAPI v2 (swagger) document of every group version, written by codegen.
pub fn openapi_v2() -> &'static [u8] {
    crate::generated::documents::OPENAPI_V2.as_bytes()
}

/// [`openapi_v2`] in gnostic's protobuf form, which kubectl asks for.
pub fn openapi_v2_protobuf() -> &'static [u8] {
    static PROTO: LazyLock<Vec<u8>> = LazyLock::new(|| {
        let doc: Value = serde_json::from_slice(openapi_v2()).unwrap_or(Value::Null);
        crate::openapi_v2_proto::encode(&doc)
    });
    &PROTO
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
