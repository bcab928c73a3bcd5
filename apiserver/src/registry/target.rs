//! The resource a request addresses ([`Target`]) and the generated route table's rows
//! ([`Route`]): where its objects are stored, and their conversion to and from storage.

use keelson_storage::KeyValue;
use serde_json::Value;

use crate::resource::Descriptor;
use crate::status::{ApiError, ApiResult};
use crate::strategy::Strategy;

/// One row of the generated route table: a served resource and its storage prefix.
pub struct Route {
    pub catalogue_index: usize,
    pub group: &'static str,
    pub version: &'static str,
    pub plural: &'static str,
    pub storage_prefix: &'static str,
}

/// The resource a request addresses.
#[derive(Clone, Copy)]
pub struct Target<'a> {
    pub resource: &'static Descriptor,
    pub namespace: Option<&'a str>,
}

impl<'a> Target<'a> {
    /// A built-in resource by group, version and plural (custom resources are found through
    /// [`Registry::target`](super::Registry::target)).
    pub fn builtin(
        group: &str,
        version: &str,
        plural: &str,
        namespace: Option<&'a str>,
    ) -> Option<Target<'a>> {
        crate::resource::find_builtin(group, version, plural).map(|resource| Target {
            resource,
            namespace,
        })
    }

    /// A stored object as this resource's version serves it.
    pub fn from_storage(&self, obj: Value) -> Value {
        let conversion = self.conversion();
        if conversion == crate::conversion::Conversion::None {
            return obj;
        }
        let mut converted = conversion.from_storage(obj);
        crate::field_order::canonicalize(&mut converted);
        converted
    }

    fn conversion(&self) -> crate::conversion::Conversion {
        self.resource.conversion
    }

    /// Whether this resource's version is converted from another stored version.
    pub fn converts(&self) -> bool {
        self.conversion() != crate::conversion::Conversion::None
    }

    /// Reads a stored value as this resource's version.
    pub fn decode(&self, kv: &KeyValue) -> ApiResult<Value> {
        crate::stored::decode(kv).map(|obj| self.from_storage(obj))
    }

    /// The bytes to store for an object of this resource's version.
    pub(super) fn encode(&self, obj: &Value) -> Vec<u8> {
        let stored = self.conversion().to_storage(obj.clone());
        crate::stored::encode(&stored)
    }

    /// The same resource in another namespace.
    pub fn in_namespace<'b>(&self, namespace: Option<&'b str>) -> Target<'b> {
        Target {
            resource: self.resource,
            namespace,
        }
    }

    pub fn strategy(&self) -> &'static dyn Strategy {
        self.resource.strategy
    }
    pub(super) fn kind(&self) -> &'static str {
        self.resource.kind()
    }
    pub(super) fn not_found(&self, name: &str) -> ApiError {
        ApiError::not_found(self.resource.group(), self.resource.plural(), name)
    }
    /// The key prefix of a list: the whole resource, or one namespace of it.
    pub fn prefix(&self) -> String {
        match self.namespace {
            Some(ns) if self.resource.namespaced() => {
                format!("{}{ns}/", self.resource.storage_prefix)
            }
            _ => self.resource.storage_prefix.to_string(),
        }
    }
    pub fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix())
    }
    pub(super) fn has_status(&self) -> bool {
        self.resource.subresource("status").is_some()
    }
}
