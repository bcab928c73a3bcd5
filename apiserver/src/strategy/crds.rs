//! CustomResourceDefinitions: upstream's defaults (singular and list kind names, conversion
//! `None`), the cleanup finalizer that holds a deleted CRD until its objects are gone, and
//! validation of what makes a CRD servable: its name, group, names, scope, one storage
//! version, a structural schema whose CEL rules compile, and a conversion Keelson can do.

use serde_json::{json, Value};

use super::{set, set_default, Strategy};
use crate::status::Cause;

pub struct CustomResourceDefinitions;

/// Groups whose CRDs need an `api-approved.kubernetes.io` annotation, as upstream's.
fn protected_group(group: &str) -> bool {
    ["k8s.io", "kubernetes.io"]
        .iter()
        .any(|g| group == *g || group.ends_with(&format!(".{g}")))
}

fn text<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

fn dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

impl Strategy for CustomResourceDefinitions {
    fn default(&self, obj: &mut Value) {
        let kind = text(obj, "/spec/names/kind").to_string();
        if !kind.is_empty() {
            if text(obj, "/spec/names/singular").is_empty() {
                set(
                    obj,
                    &["spec", "names", "singular"],
                    json!(kind.to_lowercase()),
                );
            }
            if text(obj, "/spec/names/listKind").is_empty() {
                set(
                    obj,
                    &["spec", "names", "listKind"],
                    json!(format!("{kind}List")),
                );
            }
        }
        set_default(obj, &["spec", "conversion", "strategy"], json!("None"));
    }

    fn prepare_for_create(&self, obj: &mut Value) {
        let finalizer = json!(crate::custom::controller::CLEANUP_FINALIZER);
        let finalizers = obj
            .pointer_mut("/metadata/finalizers")
            .and_then(Value::as_array_mut);
        match finalizers {
            Some(list) if list.contains(&finalizer) => {}
            Some(list) => list.push(finalizer),
            None => set(obj, &["metadata", "finalizers"], json!([finalizer])),
        }
    }

    fn validate(&self, obj: &Value, causes: &mut Vec<Cause>) {
        let group = text(obj, "/spec/group");
        let plural = text(obj, "/spec/names/plural");
        let name = text(obj, "/metadata/name");
        if name != format!("{plural}.{group}") {
            causes.push(Cause::invalid(
                "metadata.name",
                name,
                "must be spec.names.plural+\".\"+spec.group",
            ));
        }
        if group.is_empty() {
            causes.push(Cause::required("spec.group"));
        } else if !group.contains('.') {
            causes.push(Cause::invalid(
                "spec.group",
                group,
                "should be a domain with at least one dot",
            ));
        }
        if protected_group(group)
            && obj
                .pointer("/metadata/annotations/api-approved.kubernetes.io")
                .is_none()
        {
            causes.push(Cause::required_with(
                "metadata.annotations[api-approved.kubernetes.io]",
                "protected groups must have approval annotation \"api-approved.kubernetes.io\", see https://github.com/kubernetes/enhancements/pull/1111",
            ));
        }
        for field in ["plural", "singular"] {
            let value = text(obj, &format!("/spec/names/{field}"));
            if value.is_empty() {
                causes.push(Cause::required(format!("spec.names.{field}")));
            } else if !dns_label(value) {
                causes.push(Cause::invalid(
                    format!("spec.names.{field}"),
                    value,
                    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character",
                ));
            }
        }
        if text(obj, "/spec/names/kind").is_empty() {
            causes.push(Cause::required("spec.names.kind"));
        }
        match text(obj, "/spec/scope") {
            "Namespaced" | "Cluster" => {}
            "" => causes.push(Cause::required("spec.scope")),
            other => causes.push(Cause::not_supported(
                "spec.scope",
                other,
                &["Cluster", "Namespaced"],
            )),
        }
        match text(obj, "/spec/conversion/strategy") {
            "" | "None" => {}
            other => causes.push(Cause::not_supported(
                "spec.conversion.strategy",
                other,
                &["None"],
            )),
        }
        validate_versions(obj, causes);
    }
}

fn validate_versions(obj: &Value, causes: &mut Vec<Cause>) {
    let versions = obj
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    if versions.is_empty() {
        causes.push(Cause::invalid(
            "spec.versions",
            json!(versions),
            "must have exactly one version marked as storage version",
        ));
        return;
    }
    let storage = versions
        .iter()
        .filter(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
        .count();
    if storage != 1 {
        causes.push(Cause::invalid(
            "spec.versions",
            json!(versions),
            "must have exactly one version marked as storage version",
        ));
    }
    if !versions
        .iter()
        .any(|v| v.get("served").and_then(Value::as_bool) == Some(true))
    {
        causes.push(Cause::invalid(
            "spec.versions",
            json!(versions),
            "must have at least one served version",
        ));
    }
    let kind = text(obj, "/spec/names/kind");
    let mut seen = Vec::new();
    for (i, version) in versions.iter().enumerate() {
        let name = text(version, "/name");
        let field = format!("spec.versions[{i}]");
        if !dns_label(name) {
            causes.push(Cause::invalid(
                format!("{field}.name"),
                name,
                "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character",
            ));
        }
        if seen.contains(&name) {
            causes.push(Cause::duplicate(format!("{field}.name"), name));
        }
        seen.push(name);
        if version.pointer("/schema/openAPIV3Schema").is_none() {
            causes.push(Cause::required(format!("{field}.schema.openAPIV3Schema")));
            continue;
        }
        if let Err(e) = crate::custom::strategy::CustomStrategy::new(version, kind) {
            causes.push(Cause::invalid(
                format!("{field}.schema.openAPIV3Schema"),
                "",
                &e,
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crd(group: &str, storage: &[bool]) -> Value {
        let versions: Vec<Value> = storage
            .iter()
            .enumerate()
            .map(|(i, s)| {
                json!({"name": format!("v{}", i + 1), "served": true, "storage": s,
                       "schema": {"openAPIV3Schema": {"type": "object"}}})
            })
            .collect();
        json!({
            "metadata": {"name": format!("foos.{group}")},
            "spec": {"group": group, "scope": "Namespaced",
                     "names": {"plural": "foos", "kind": "Foo"}, "versions": versions}
        })
    }

    fn causes(obj: &mut Value) -> Vec<String> {
        CustomResourceDefinitions.default(obj);
        let mut out = Vec::new();
        CustomResourceDefinitions.validate(obj, &mut out);
        out.into_iter()
            .map(|c| format!("{}: {}", c.field, c.message))
            .collect()
    }

    #[test]
    fn a_well_formed_crd_is_defaulted_and_valid() {
        let mut obj = crd("example.com", &[true]);
        assert_eq!(causes(&mut obj), Vec::<String>::new());
        assert_eq!(obj["spec"]["names"]["singular"], "foo");
        assert_eq!(obj["spec"]["names"]["listKind"], "FooList");
        assert_eq!(obj["spec"]["conversion"]["strategy"], "None");
    }

    #[test]
    fn exactly_one_storage_version_is_required() {
        let found = causes(&mut crd("example.com", &[true, true]));
        assert!(found
            .iter()
            .any(|c| c.contains("must have exactly one version marked as storage version")));
    }

    #[test]
    fn a_webhook_conversion_is_refused() {
        let mut obj = crd("example.com", &[true]);
        obj["spec"]["conversion"] = json!({"strategy": "Webhook"});
        assert!(causes(&mut obj).contains(
            &"spec.conversion.strategy: Unsupported value: \"Webhook\": supported values: \"None\""
                .to_string()
        ));
    }

    #[test]
    fn protected_groups_need_the_approval_annotation() {
        let mut obj = crd("samplecontroller.k8s.io", &[true]);
        assert!(causes(&mut obj)
            .iter()
            .any(|c| c.starts_with("metadata.annotations[api-approved.kubernetes.io]")));
        obj["metadata"]["annotations"] =
            json!({"api-approved.kubernetes.io": "unapproved, experimental-only"});
        assert_eq!(causes(&mut obj), Vec::<String>::new());
    }

    #[test]
    fn the_name_must_be_plural_dot_group() {
        let mut obj = crd("example.com", &[true]);
        obj["metadata"]["name"] = json!("bars.example.com");
        assert!(causes(&mut obj)
            .iter()
            .any(|c| c.starts_with("metadata.name: Invalid value: \"bars.example.com\"")));
    }
}
