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

#[cfg(test)]
mod tests {
    #[test]
    fn every_document_is_json_and_schemas_load() {
        for docs in super::all() {
            let _: serde_json::Value = serde_json::from_str(docs.resource_list).unwrap();
        }
        assert!(super::schemas().contains_key("io.k8s.api.apps.v1.Deployment"));
    }
}
