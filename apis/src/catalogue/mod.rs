//! The catalogue proper: upstream's facts about each served resource (`upstream`) joined
//! with the Rust type of its kind ([`kinds`]) and its place in the store.

mod field_order;
pub mod kinds;
mod patch_meta;
#[cfg(test)]
mod patch_meta_source;
#[cfg(test)]
mod proto_source;
mod protobuf_fields;
mod upstream;

use std::sync::LazyLock;

pub use kinds::{kind_type, KindType, KINDS};

/// What upstream's discovery says about one resource.
#[derive(Debug)]
pub struct UpstreamResource {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
    pub singular: &'static str,
    pub namespaced: bool,
    pub verbs: &'static [&'static str],
    pub short_names: &'static [&'static str],
    pub categories: &'static [&'static str],
    pub subresources: &'static [Subresource],
}

/// A subresource such as `status` or `scale`, with the kind its body has.
#[derive(Debug)]
pub struct Subresource {
    pub name: &'static str,
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub verbs: &'static [&'static str],
}

/// How strategic merge patch and server-side apply treat one property of a schema.
#[derive(Debug)]
pub struct FieldMergeMeta {
    pub definition: &'static str,
    pub property: &'static str,
    pub patch_strategy: Option<&'static str>,
    pub patch_merge_key: Option<&'static str>,
    pub list_type: Option<&'static str>,
    pub list_map_keys: &'static [&'static str],
    pub map_type: Option<&'static str>,
}

/// A protobuf message of upstream's wire format, with its fields by number.
#[derive(Debug)]
pub struct ProtoMessage {
    pub name: &'static str,
    pub fields: &'static [ProtoField],
}

/// One field of a [`ProtoMessage`], by its JSON name (`""` for a Go struct embedded inline,
/// whose fields belong to the parent object).
#[derive(Debug)]
pub struct ProtoField {
    pub number: u32,
    pub json_name: &'static str,
    pub kind: ProtoKind,
    pub repeated: bool,
    /// Go writes non-pointer fields even when zero; for `omitempty` ones a zero value on the
    /// wire means "unset" and is dropped, as upstream's JSON would not have it.
    pub omit_empty: bool,
}

/// The type of a protobuf field.
#[derive(Debug)]
pub enum ProtoKind {
    String,
    Bytes,
    Bool,
    Int32,
    Int64,
    Uint32,
    Uint64,
    Double,
    Float,
    Message(&'static str),
    Map(&'static ProtoKind, &'static ProtoKind),
}

/// The protobuf message of a fully qualified name such as `k8s.io.api.core.v1.ConfigMap`.
pub fn proto_message(name: &str) -> Option<&'static ProtoMessage> {
    protobuf_fields::message(name)
}

/// The JSON field names of an OpenAPI definition (`io.k8s.api.core.v1.PodSpec`) in the order
/// upstream writes them.
pub fn field_order(definition: &str) -> Option<&'static [&'static str]> {
    let table = field_order::FIELD_ORDER;
    let index = table
        .binary_search_by(|(name, _)| (*name).cmp(definition))
        .ok()?;
    table.get(index).map(|(_, fields)| *fields)
}

/// One served resource: the facts, its kind's type, and where its objects are stored.
pub struct ApiResource {
    pub facts: &'static UpstreamResource,
    pub kind: &'static KindType,
}

impl ApiResource {
    pub fn group(&self) -> &'static str {
        self.facts.group
    }
    pub fn version(&self) -> &'static str {
        self.facts.version
    }
    pub fn plural(&self) -> &'static str {
        self.facts.plural
    }
    pub fn namespaced(&self) -> bool {
        self.facts.namespaced
    }
    /// `v1` or `apps/v1`.
    pub fn api_version(&self) -> String {
        group_version(self.facts.group, self.facts.version)
    }
    /// The OpenAPI definition name of the kind, such as `io.k8s.api.apps.v1.Deployment`.
    pub fn kind_definition(&self) -> String {
        (self.kind.definition)().into_owned()
    }
    pub fn has_verb(&self, verb: &str) -> bool {
        self.facts.verbs.contains(&verb)
    }
    pub fn subresource(&self, name: &str) -> Option<&'static Subresource> {
        self.facts.subresources.iter().find(|s| s.name == name)
    }
    /// The prefix of this resource's keys in the store, upstream's etcd layout:
    /// `/registry/<resource>/` for built-ins, with upstream's historical exceptions.
    pub fn storage_prefix(&self) -> String {
        storage_prefix(self.facts.group, self.facts.plural)
    }
}

/// `v1` for the core group, else `group/version`.
pub fn group_version(group: &str, version: &str) -> String {
    if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    }
}

/// Upstream's etcd key prefix of a built-in resource. Versions of one resource share it
/// (`autoscaling/v1` and `v2` HorizontalPodAutoscalers, core and `events.k8s.io` Events).
pub fn storage_prefix(group: &str, plural: &str) -> String {
    let resource = match (group, plural) {
        ("", "services") => "services/specs",
        ("", "endpoints") => "services/endpoints",
        ("", "nodes") => "minions",
        ("", "replicationcontrollers") => "controllers",
        ("networking.k8s.io", "ingresses") => "ingress",
        ("networking.k8s.io", "ingressclasses") => "ingressclasses",
        ("apiextensions.k8s.io", "customresourcedefinitions") => {
            "apiextensions.k8s.io/customresourcedefinitions"
        }
        ("apiregistration.k8s.io", "apiservices") => "apiregistration.k8s.io/apiservices",
        ("flowcontrol.apiserver.k8s.io", p) => return format!("/registry/{p}/"),
        (_, p) => p,
    };
    format!("/registry/{resource}/")
}

/// Every served built-in resource, in upstream's discovery order.
pub fn builtin() -> &'static [ApiResource] {
    static RESOURCES: LazyLock<Vec<ApiResource>> = LazyLock::new(|| {
        upstream::RESOURCES
            .iter()
            .filter_map(|facts| {
                kind_type(facts.group, facts.version, facts.kind)
                    .map(|kind| ApiResource { facts, kind })
            })
            .collect()
    });
    &RESOURCES
}

/// Resources upstream serves that have no Rust type here (the catalogue's own test keeps it
/// empty).
pub fn untyped_upstream_resources() -> impl Iterator<Item = &'static UpstreamResource> {
    upstream::RESOURCES
        .iter()
        .filter(|facts| kind_type(facts.group, facts.version, facts.kind).is_none())
}

/// The merge metadata of every built-in schema property that has any.
pub fn merge_meta() -> &'static [FieldMergeMeta] {
    patch_meta::FIELDS
}

/// The served group versions in discovery order: the core `v1` first, then each group with
/// its versions, preferred (newest GA) first.
pub fn group_versions() -> Vec<(&'static str, Vec<&'static str>)> {
    let mut groups: Vec<(&'static str, Vec<&'static str>)> = Vec::new();
    for r in builtin() {
        match groups.iter_mut().find(|(g, _)| *g == r.group()) {
            Some((_, versions)) => {
                if !versions.contains(&r.version()) {
                    versions.push(r.version());
                }
            }
            None => groups.push((r.group(), vec![r.version()])),
        }
    }
    for (_, versions) in &mut groups {
        // v2 before v1: the newest GA version is the preferred one.
        versions.sort_by(|a, b| b.cmp(a));
    }
    groups
}

/// Finds a served resource by group, version and plural.
pub fn find(group: &str, version: &str, plural: &str) -> Option<&'static ApiResource> {
    builtin()
        .iter()
        .find(|r| r.group() == group && r.version() == version && r.plural() == plural)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_upstream_resource_has_a_type() {
        let missing: Vec<String> = untyped_upstream_resources()
            .map(|r| format!("{}/{} {}", r.group, r.version, r.kind))
            .collect();
        assert!(missing.is_empty(), "no Rust type for {missing:?}");
    }

    #[test]
    fn every_subresource_kind_has_a_type() {
        for r in builtin() {
            for s in r.facts.subresources {
                // log, exec, attach, portforward and proxy stream raw bytes; they have no body kind.
                if s.kind.is_empty() || s.group.is_empty() && s.kind == r.kind.kind {
                    continue;
                }
                if ["log", "exec", "attach", "portforward", "proxy"].contains(&s.name) {
                    continue;
                }
                assert!(
                    kind_type(s.group, s.version, s.kind).is_some(),
                    "{}/{}: no type for {}/{} {}",
                    r.plural(),
                    s.name,
                    s.group,
                    s.version,
                    s.kind
                );
            }
        }
    }

    // upstream.rs is hand-kept; its names and scope must be those of k8s-openapi's v1.35
    // types, which are generated from upstream's OpenAPI document.
    #[test]
    fn upstream_plural_and_scope_agree_with_k8s_openapi() {
        let mut wrong = Vec::new();
        for r in upstream::RESOURCES {
            let Some(kind) = kind_type(r.group, r.version, r.kind) else {
                continue; // every_upstream_resource_has_a_type reports it
            };
            if (r.plural, r.namespaced) != (kind.url_path_segment, kind.namespaced) {
                wrong.push(format!(
                    "{}/{} {}: plural {} namespaced {}, k8s-openapi {} {}",
                    r.group,
                    r.version,
                    r.kind,
                    r.plural,
                    r.namespaced,
                    kind.url_path_segment,
                    kind.namespaced
                ));
            }
        }
        assert!(
            wrong.is_empty(),
            "upstream.rs disagrees with k8s-openapi: {wrong:#?}"
        );
    }

    #[test]
    fn storage_prefixes_follow_upstream_layout() {
        let pods = find("", "v1", "pods").map(|r| r.storage_prefix());
        assert_eq!(pods.as_deref(), Some("/registry/pods/"));
        let svc = find("", "v1", "services").map(|r| r.storage_prefix());
        assert_eq!(svc.as_deref(), Some("/registry/services/specs/"));
        let deploy = find("apps", "v1", "deployments").map(|r| r.storage_prefix());
        assert_eq!(deploy.as_deref(), Some("/registry/deployments/"));
        let hpa1 =
            find("autoscaling", "v1", "horizontalpodautoscalers").map(|r| r.storage_prefix());
        let hpa2 =
            find("autoscaling", "v2", "horizontalpodautoscalers").map(|r| r.storage_prefix());
        assert_eq!(hpa1, hpa2);
    }

    #[test]
    fn core_group_comes_first_and_preferred_versions_lead() {
        let gvs = group_versions();
        assert_eq!(
            gvs.first().map(|(g, v)| (*g, v.clone())),
            Some(("", vec!["v1"]))
        );
        let autoscaling = gvs.iter().find(|(g, _)| *g == "autoscaling");
        assert_eq!(autoscaling.map(|(_, v)| v.clone()), Some(vec!["v2", "v1"]));
    }
}
