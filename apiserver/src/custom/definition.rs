//! From a CustomResourceDefinition to the [`Descriptor`]s of its served versions.
//!
//! Descriptors are `'static`, as the built-ins' are, so that a request holds its resource
//! without reference counting. Those of custom resources are therefore leaked, once per
//! distinct definition: they are interned by the CRD's spec and accepted names, so a CRD
//! re-read or re-established unchanged reuses its descriptors, and memory grows only with
//! the distinct definitions a server has seen.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use keelson_apis::catalogue::{group_version, Subresource, UpstreamResource};
use serde_json::Value;

use super::strategy::CustomStrategy;
use crate::conversion::Conversion;
use crate::resource::{Decoding, Descriptor, Printer};
use crate::table::{CustomColumn, JsonPath};

const VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];
const SUBRESOURCE_VERBS: &[&str] = &["get", "patch", "update"];

/// The descriptors of a CRD's served versions, made under the names it was accepted with.
pub fn descriptors(crd: &Value) -> Result<Vec<&'static Descriptor>, String> {
    static INTERNED: LazyLock<Mutex<HashMap<String, Vec<&'static Descriptor>>>> =
        LazyLock::new(Default::default);
    let terminating = crd.pointer("/metadata/deletionTimestamp").is_some();
    let key = format!(
        "{}{}{terminating}",
        crd.get("spec").unwrap_or(&Value::Null),
        crd.pointer("/status/acceptedNames").unwrap_or(&Value::Null)
    );
    let mut interned = match INTERNED.lock() {
        Ok(interned) => interned,
        Err(poisoned) => poisoned.into_inner(),
    };
    if let Some(found) = interned.get(&key) {
        return Ok(found.clone());
    }
    let made = make(crd, terminating)?;
    interned.insert(key, made.clone());
    Ok(made)
}

fn leak(s: &str) -> &'static str {
    Box::leak(s.to_string().into_boxed_str())
}

fn leak_all(values: Option<&Value>) -> &'static [&'static str] {
    let list: Vec<&'static str> = values
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(leak).collect())
        .unwrap_or_default();
    Box::leak(list.into_boxed_slice())
}

fn text<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

fn make(crd: &Value, terminating: bool) -> Result<Vec<&'static Descriptor>, String> {
    let spec = crd.get("spec").ok_or("the CRD has no spec")?;
    // Served under the accepted names; a CRD not yet accepted is served under its spec's.
    let names = crd
        .pointer("/status/acceptedNames")
        .filter(|n| {
            n.get("plural")
                .and_then(Value::as_str)
                .is_some_and(|p| !p.is_empty())
        })
        .or_else(|| spec.get("names"))
        .ok_or("the CRD has no names")?;
    let group = leak(text(spec, "/group"));
    let plural = leak(text(names, "/plural"));
    let kind = leak(text(names, "/kind"));
    let singular = match text(names, "/singular") {
        "" => leak(&kind.to_lowercase()),
        s => leak(s),
    };
    let namespaced = text(spec, "/scope") != "Cluster";
    let short_names = leak_all(names.get("shortNames"));
    let categories = leak_all(names.get("categories"));
    let versions = spec
        .get("versions")
        .and_then(Value::as_array)
        .ok_or("the CRD has no versions")?;
    let storage = versions
        .iter()
        .find(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
        .map(|v| text(v, "/name"))
        .ok_or("the CRD has no storage version")?;
    let storage_prefix = leak(&format!("/registry/{group}/{plural}/"));
    let mut made = Vec::new();
    for version in versions {
        if version.get("served").and_then(Value::as_bool) != Some(true) {
            continue;
        }
        let name = leak(text(version, "/name"));
        let mut subresources = Vec::new();
        if version.pointer("/subresources/status").is_some() {
            subresources.push(Subresource {
                name: "status",
                group,
                version: name,
                kind,
                verbs: SUBRESOURCE_VERBS,
            });
        }
        let scale = version.pointer("/subresources/scale");
        if scale.is_some() {
            subresources.push(Subresource {
                name: "scale",
                group: "autoscaling",
                version: "v1",
                kind: "Scale",
                verbs: SUBRESOURCE_VERBS,
            });
        }
        let facts: &'static UpstreamResource = Box::leak(Box::new(UpstreamResource {
            group,
            version: name,
            kind,
            plural,
            singular,
            namespaced,
            verbs: VERBS,
            short_names,
            categories,
            subresources: Box::leak(subresources.into_boxed_slice()),
        }));
        let strategy = CustomStrategy::new(version, kind)?.terminating(terminating);
        let conversion = if name == storage {
            Conversion::None
        } else {
            Conversion::ApiVersion {
                served: leak(&group_version(group, name)),
                stored: leak(&group_version(group, storage)),
            }
        };
        let columns = printer_columns(version);
        made.push(&*Box::leak(Box::new(Descriptor {
            facts,
            decoding: Decoding::Schema,
            storage_prefix,
            strategy: Box::leak(Box::new(strategy)),
            conversion,
            printer: Printer::Columns(Box::leak(columns.into_boxed_slice())),
            definition: definition_name(group, name, kind).into(),
            schema: version
                .pointer("/schema/openAPIV3Schema")
                .map(|s| &*Box::leak(Box::new(s.clone()))),
        })));
    }
    Ok(made)
}

/// The OpenAPI definition name of a custom kind: the group reversed, then version and
/// kind (`k8s.io.samplecontroller.v1alpha1.Foo`), as upstream names it.
pub fn definition_name(group: &str, version: &str, kind: &str) -> String {
    let reversed: Vec<&str> = group.split('.').rev().collect();
    format!("{}.{version}.{kind}", reversed.join("."))
}

/// The version's `additionalPrinterColumns`, or upstream's `Age` column when it has none.
fn printer_columns(version: &Value) -> Vec<CustomColumn> {
    let listed = version
        .get("additionalPrinterColumns")
        .and_then(Value::as_array)
        .filter(|c| !c.is_empty());
    let Some(listed) = listed else {
        return vec![CustomColumn {
            column: crate::table::Column {
                name: "Age",
                type_: "date",
                format: "",
                description: "",
                priority: 0,
            },
            path: JsonPath::parse(".metadata.creationTimestamp").unwrap_or_default(),
        }];
    };
    listed
        .iter()
        .filter_map(|c| {
            Some(CustomColumn {
                column: crate::table::Column {
                    name: leak(c.get("name")?.as_str()?),
                    type_: leak(text(c, "/type")),
                    format: leak(text(c, "/format")),
                    description: leak(text(c, "/description")),
                    priority: c
                        .get("priority")
                        .and_then(Value::as_i64)
                        .and_then(|p| i32::try_from(p).ok())
                        .unwrap_or(0),
                },
                path: JsonPath::parse(text(c, "/jsonPath"))?,
            })
        })
        .collect()
}
