//! What the server knows about each resource it serves, in one place: a [`Descriptor`]
//! holds the resource's identity (group, version, kind, plural, scope, verbs, names,
//! subresources), where its objects are stored, how a body is decoded (a k8s-openapi type,
//! or the schema of a CustomResourceDefinition), how stored objects convert to the served
//! version, how rows are printed, and its behaviour as the hooks of one [`Strategy`].
//!
//! Built-in descriptors are made once from codegen's route table ([`builtin`]); the
//! descriptors of custom resources are made from their CRDs while the server runs
//! ([`Resources`], fed by `crate::custom`). Handlers and the registry ask the descriptor,
//! never a resource's name, what to do.

mod builtin;
mod index;

use keelson_apis::catalogue::{KindType, Subresource, UpstreamResource};

use crate::conversion::Conversion;
use crate::strategy::Strategy;

pub use builtin::{builtin, find_builtin};
pub use index::Resources;

/// How a body of the resource is decoded into its canonical JSON.
pub enum Decoding {
    /// Through the k8s-openapi type of the kind: type errors are reported, unknown fields
    /// dropped.
    Typed(&'static KindType),
    /// As any JSON object; the strategy's schema prunes and validates it (custom resources).
    Schema,
}

/// How rows of a Table are printed.
pub enum Printer {
    /// The built-in printer of the resource (`crate::table::printer_of`), or the default
    /// columns.
    Builtin(&'static dyn crate::table::Printer),
    /// A CRD's `additionalPrinterColumns`.
    Columns(&'static [crate::table::CustomColumn]),
}

/// One served resource at one version.
pub struct Descriptor {
    pub facts: &'static UpstreamResource,
    pub decoding: Decoding,
    /// The prefix of the resource's keys in the store, such as `/registry/pods/`.
    pub storage_prefix: &'static str,
    pub strategy: &'static dyn Strategy,
    pub conversion: Conversion,
    pub printer: Printer,
    /// The OpenAPI definition name of the kind (`io.k8s.api.apps.v1.Deployment`).
    pub definition: std::borrow::Cow<'static, str>,
    /// The OpenAPI schema of a custom kind (the built-ins' are in codegen's documents).
    pub schema: Option<&'static serde_json::Value>,
}

impl Descriptor {
    pub fn group(&self) -> &'static str {
        self.facts.group
    }
    pub fn version(&self) -> &'static str {
        self.facts.version
    }
    pub fn plural(&self) -> &'static str {
        self.facts.plural
    }
    pub fn kind(&self) -> &'static str {
        self.facts.kind
    }
    pub fn namespaced(&self) -> bool {
        self.facts.namespaced
    }
    /// `v1` or `apps/v1`.
    pub fn api_version(&self) -> String {
        keelson_apis::catalogue::group_version(self.facts.group, self.facts.version)
    }
    pub fn kind_definition(&self) -> String {
        self.definition.to_string()
    }
    pub fn has_verb(&self, verb: &str) -> bool {
        self.facts.verbs.contains(&verb)
    }
    pub fn subresource(&self, name: &str) -> Option<&'static Subresource> {
        self.facts.subresources.iter().find(|s| s.name == name)
    }
    /// Whether objects of this resource are custom (decoded by schema, not by a type).
    pub fn is_custom(&self) -> bool {
        matches!(self.decoding, Decoding::Schema)
    }
}
