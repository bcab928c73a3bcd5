//! The discovery and OpenAPI documents that change with the served custom resources: the
//! group list and aggregated discovery merged with the built-in ones, each custom group
//! version's OpenAPI v3 document with its hash, and OpenAPI v2. Built once per set of
//! custom resources (descriptors are interned, so their addresses name a set), each
//! document when first asked for, and shared by every request after.

use std::sync::{Arc, LazyLock, Mutex, OnceLock};

use serde_json::Value;

use super::openapi::OpenApiV2;
use crate::resource::Descriptor;

/// The documents of one set of custom resources.
pub struct CustomDocuments {
    custom: Vec<&'static Descriptor>,
    api_group_list: OnceLock<Value>,
    aggregated: OnceLock<Vec<u8>>,
    /// `(apis/<group>/<version>, document, hash)` of each custom group version.
    v3: OnceLock<Vec<(String, Vec<u8>, String)>>,
    v2: OnceLock<OpenApiV2>,
}

/// The documents of `custom`, made once per set.
pub fn of(custom: &[&'static Descriptor]) -> Arc<CustomDocuments> {
    type Cached = Option<(Vec<usize>, Arc<CustomDocuments>)>;
    static CACHE: LazyLock<Mutex<Cached>> = LazyLock::new(|| Mutex::new(None));
    let key: Vec<usize> = custom
        .iter()
        .map(|d| std::ptr::from_ref::<Descriptor>(d) as usize)
        .collect();
    let mut cache = match CACHE.lock() {
        Ok(cache) => cache,
        Err(poisoned) => poisoned.into_inner(),
    };
    if let Some((cached_key, docs)) = cache.as_ref() {
        if *cached_key == key {
            return docs.clone();
        }
    }
    let docs = Arc::new(CustomDocuments {
        custom: custom.to_vec(),
        api_group_list: OnceLock::new(),
        aggregated: OnceLock::new(),
        v3: OnceLock::new(),
        v2: OnceLock::new(),
    });
    *cache = Some((key, docs.clone()));
    docs
}

impl CustomDocuments {
    /// The `APIGroupList`: the built-in groups, then the custom ones.
    pub fn api_group_list(&self) -> &Value {
        self.api_group_list.get_or_init(|| {
            let mut list: Value =
                serde_json::from_str(crate::documents::API_GROUP_LIST).unwrap_or(Value::Null);
            if let Some(groups) = list.get_mut("groups").and_then(Value::as_array_mut) {
                for group in super::discovery::api_groups(&self.custom) {
                    let name = group.get("name").cloned();
                    if !groups.iter().any(|g| g.get("name") == name.as_ref()) {
                        groups.push(group);
                    }
                }
            }
            list
        })
    }

    /// Aggregated discovery of `/apis` (`APIGroupDiscoveryList`), as JSON.
    pub fn aggregated(&self) -> &[u8] {
        self.aggregated.get_or_init(|| {
            let mut list: Value =
                serde_json::from_str(crate::documents::AGGREGATED_APIS).unwrap_or(Value::Null);
            if let Some(items) = list.get_mut("items").and_then(Value::as_array_mut) {
                items.extend(super::discovery::aggregated(&self.custom));
            }
            serde_json::to_vec(&list).unwrap_or_default()
        })
    }

    /// Each custom group version's OpenAPI v3 document and its hash.
    pub fn v3(&self) -> &[(String, Vec<u8>, String)] {
        self.v3.get_or_init(|| {
            let mut group_versions: Vec<(&str, &str)> = self
                .custom
                .iter()
                .map(|d| (d.group(), d.version()))
                .collect();
            group_versions.sort_unstable();
            group_versions.dedup();
            group_versions
                .into_iter()
                .filter_map(|(g, v)| {
                    let doc = super::openapi::document(&self.custom, g, v)?;
                    let hash = crate::documents::hash(&doc);
                    let bytes = serde_json::to_vec(&doc).ok()?;
                    Some((format!("apis/{g}/{v}"), bytes, hash))
                })
                .collect()
        })
    }

    /// OpenAPI v2 with the custom resources' paths and definitions.
    pub fn v2(&self) -> &OpenApiV2 {
        self.v2
            .get_or_init(|| super::openapi::v2_with(&self.custom))
    }
}
