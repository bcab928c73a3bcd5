//! Per-resource behaviour the generic registry asks for, as hooks of one [`Strategy`]:
//! defaults (applied on every write: create, update, every patch type and apply alike),
//! what a create resets, validation, immutable fields, field selectors, and store
//! reservations (a Service's cluster IP). A resource overrides only what differs from the
//! generic behaviour of the trait's defaults; each resource's strategy is in its own file.

mod certificates;
mod components;
mod config;
mod containers;
mod crds;
mod cron;
mod events;
mod ingresses;
mod jobs;
mod namespaces;
mod network_policies;
mod nodes;
mod pod_subresources;
mod pods;
mod reviews;
mod rules;
mod services;
mod volumes;
mod workloads;

use keelson_apis::quantity;
use serde_json::{json, Map, Value};

use crate::status::Cause;

pub use services::first_service_ip;

/// Which name format a kind requires.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum NameRule {
    /// RFC 1123 subdomain: lower-case alphanumerics, `-` and `.`, at most 253 characters.
    Subdomain,
    /// RFC 1123 label: lower-case alphanumerics and `-`, at most 63 characters.
    Label,
    /// RFC 1035 label: a label that starts with a letter (Services).
    Rfc1035Label,
    /// Anything that can be one segment of a URL path: not `.` or `..`, no `/` or `%`
    /// (RBAC objects, whose names such as `system:discovery` have colons).
    PathSegment,
}

/// A store key that must not exist yet and is written with the object, such as the
/// `IPAddress` that holds a Service's cluster IP.
pub struct Reservation {
    pub key: String,
    pub value: Value,
}

/// A field selector label a resource supports beyond `metadata.name` and
/// `metadata.namespace`: the fields it reads (the first one set wins), and its value when
/// none is set (`"false"` for an unset boolean, as upstream formats it).
pub struct FieldLabel {
    pub name: &'static str,
    pub paths: &'static [&'static str],
    pub unset: &'static str,
}

impl FieldLabel {
    /// A label read from the field of the same name, empty when unset.
    pub const fn field(name: &'static str) -> FieldLabel {
        FieldLabel {
            name,
            paths: &[],
            unset: "",
        }
    }
    /// A boolean field, `"false"` when unset.
    pub const fn boolean(name: &'static str) -> FieldLabel {
        FieldLabel {
            name,
            paths: &[],
            unset: "false",
        }
    }
    /// A number field, `"0"` when unset.
    pub const fn number(name: &'static str, path: &'static [&'static str]) -> FieldLabel {
        FieldLabel {
            name,
            paths: path,
            unset: "0",
        }
    }
    /// The label's value in an object.
    pub fn value(&self, obj: &Value) -> String {
        let own = [self.name];
        let paths = if self.paths.is_empty() {
            &own[..]
        } else {
            self.paths
        };
        paths
            .iter()
            .find_map(|p| crate::selectors::field_value(obj, p).filter(|v| !v.is_empty()))
            .unwrap_or_else(|| self.unset.to_string())
    }
}

/// What is special about one resource. The defaults are the generic behaviour.
pub trait Strategy: Send + Sync {
    fn name_rule(&self) -> NameRule {
        NameRule::Subdomain
    }
    /// Upstream's defaults and input conversions (a Secret's `stringData`), applied to every
    /// object a client writes, however it was written.
    fn default(&self, _obj: &mut Value) {}
    /// What a new object starts with (after the generic metadata has been set), such as
    /// its initial status.
    fn prepare_for_create(&self, _obj: &mut Value) {}
    /// Whether a create keeps the status the client sent (a Node registers with its
    /// capacity); otherwise the status is dropped, as most upstream strategies reset it.
    fn keeps_status_on_create(&self) -> bool {
        false
    }
    /// Carries over what an update may not change (after the generic status split).
    fn prepare_for_update(&self, _new: &mut Value, _old: &Value) {}
    fn validate(&self, _obj: &Value, _causes: &mut Vec<Cause>) {}
    fn validate_update(&self, _new: &Value, _old: &Value, _causes: &mut Vec<Cause>) {}
    /// Rules that see the object and, on an update, the old one at once (a custom
    /// resource's CEL rules, whose transition rules compare the two).
    fn validate_rules(&self, _obj: &Value, _old: Option<&Value>, _causes: &mut Vec<Cause>) {}
    /// Field selector labels beyond `metadata.name` and `metadata.namespace`.
    fn field_labels(&self) -> &'static [FieldLabel] {
        &[]
    }
    /// Keys to create together with a new object (refused if they exist).
    fn reservations(&self, _obj: &mut Value, _attempt: u32) -> Vec<Reservation> {
        Vec::new()
    }
    /// Keys to delete together with an object.
    fn released_keys(&self, _obj: &Value) -> Vec<String> {
        Vec::new()
    }
    /// Whether objects live only as long as `--event-ttl` (Events: written with a lease).
    fn expires(&self) -> bool {
        false
    }
    /// What an object marked for deletion (it waits for finalizers or its grace period)
    /// shows, such as a namespace's `Terminating` phase.
    fn prepare_for_delete(&self, _marked: &mut Value) {}
    /// Whether deleting the object only marks it (it waits for a controller or the node).
    fn graceful_delete(&self, _obj: &Value) -> bool {
        false
    }
    /// The grace period of a graceful deletion that names none (0 deletes at once).
    fn default_grace_period(&self, _obj: &Value) -> i64 {
        30
    }
    /// Finalizers outside `metadata.finalizers` that hold a deleted object (a namespace's
    /// `spec.finalizers`).
    fn pending_finalizers(&self, _obj: &Value) -> bool {
        false
    }
    /// The objects of a resource that is computed on each read rather than stored (it is
    /// then read-only), or `None` for a stored resource.
    fn computed(&self, _registry: &crate::registry::Registry) -> Option<Vec<Value>> {
        None
    }
    /// Upstream's deprecation warning for every request to this resource.
    fn deprecation(&self) -> Option<&'static str> {
        None
    }
    /// Drops the fields of a decoded body the resource's schema does not know (custom
    /// resources; typed decoding already drops them for built-ins).
    fn prune(&self, _obj: &mut Value) {}
    /// How a write to one of the resource's own subresources (beyond `status` and
    /// `scale`, which every resource has alike) changes the object; `decode` types a body
    /// as the resource's kind. `None` when the resource has no such subresource.
    fn write_subresource(
        &self,
        _name: &str,
        _current: &Value,
        _body: &Value,
        _decode: &mut dyn FnMut(&Value) -> crate::status::ApiResult<Value>,
    ) -> Option<crate::status::ApiResult<Value>> {
        None
    }
    /// What a POST to the resource, or to one of its subresources, does.
    fn on_create(&self, subresource: Option<&str>) -> CreateAction {
        match subresource {
            None => CreateAction::Store,
            Some(_) => CreateAction::NotAllowed,
        }
    }
    /// Where the `scale` subresource reads and writes its fields.
    fn scale(&self) -> ScalePaths {
        ScalePaths::REPLICAS
    }
}

/// What a POST does, beyond storing a new object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CreateAction {
    /// Creates the object.
    Store,
    /// Answers a question in the body's `status`, storing nothing.
    Review(crate::reviews::Review),
    /// Issues a service-account token (`serviceaccounts/token`).
    TokenRequest,
    /// Binds the pod of the path to a node (`pods/binding`).
    Bind,
    /// Binds the pod the body names (the legacy `bindings` collection).
    BindNamedPod,
    /// Evicts the pod of the path, as its disruption budgets allow (`pods/eviction`).
    Evict,
    /// The subresource cannot be created.
    NotAllowed,
    /// Nothing can be created now, for the reason given (405, as upstream).
    Refused(&'static str),
}

/// The fields behind a resource's `scale` subresource, as JSON pointers.
#[derive(Clone, Copy, Debug)]
pub struct ScalePaths {
    pub spec_replicas: &'static str,
    pub status_replicas: &'static str,
    /// Where the selector is, if the resource has one.
    pub selector: Option<&'static str>,
    /// Whether the selector is a `LabelSelector` object (built-ins) rather than a string
    /// already in label-selector form (a CRD's `labelSelectorPath`).
    pub selector_is_object: bool,
}

impl ScalePaths {
    /// `spec.replicas`, `status.replicas` and the `spec.selector` LabelSelector of the
    /// built-in workloads.
    pub const REPLICAS: ScalePaths = ScalePaths {
        spec_replicas: "/spec/replicas",
        status_replicas: "/status/replicas",
        selector: Some("/spec/selector"),
        selector_is_object: true,
    };
}

/// The strategy of a resource.
pub fn of(group: &str, plural: &str) -> &'static dyn Strategy {
    match (group, plural) {
        ("", "namespaces") => &namespaces::Namespaces,
        ("certificates.k8s.io", "certificatesigningrequests") => {
            &certificates::CertificateSigningRequests
        }
        ("", "componentstatuses") => &components::ComponentStatuses,
        ("rbac.authorization.k8s.io", _) => &RBAC,
        ("", "endpoints") => &ENDPOINTS,
        ("", "pods") => &pods::Pods,
        ("", "podtemplates") => &pods::PodTemplates,
        ("", "replicationcontrollers") => &workloads::REPLICATION_CONTROLLERS,
        ("", "services") => &services::Services,
        ("", "configmaps") => &config::ConfigMaps,
        ("", "secrets") => &config::Secrets,
        ("", "events") => &events::CoreEvents,
        ("events.k8s.io", "events") => &events::EventsV1,
        ("", "nodes") => &nodes::Nodes,
        ("apps", "deployments") => &workloads::DEPLOYMENTS,
        ("apps", "replicasets") => &workloads::REPLICA_SETS,
        ("apps", "statefulsets") => &workloads::STATEFUL_SETS,
        ("apps", "daemonsets") => &workloads::DAEMON_SETS,
        ("batch", "jobs") => &workloads::JOBS,
        ("batch", "cronjobs") => &workloads::CRON_JOBS,
        ("networking.k8s.io", "networkpolicies") => &network_policies::NetworkPolicies,
        ("networking.k8s.io", "ingresses") => &ingresses::Ingresses,
        ("networking.k8s.io", "ingressclasses") => &ingresses::IngressClasses,
        ("apiextensions.k8s.io", "customresourcedefinitions") => &crds::CustomResourceDefinitions,
        ("", "serviceaccounts") => &SERVICE_ACCOUNTS,
        ("", "bindings") => &BINDINGS,
        ("authentication.k8s.io", "tokenreviews") => &reviews::TOKEN,
        ("authentication.k8s.io", "selfsubjectreviews") => &reviews::SELF_SUBJECT,
        ("authorization.k8s.io", "subjectaccessreviews") => &reviews::SUBJECT_ACCESS,
        ("authorization.k8s.io", "localsubjectaccessreviews") => &reviews::SUBJECT_ACCESS,
        ("authorization.k8s.io", "selfsubjectaccessreviews") => &reviews::SELF_SUBJECT_ACCESS,
        ("authorization.k8s.io", "selfsubjectrulesreviews") => &reviews::SELF_SUBJECT_RULES,
        _ => &Generic,
    }
}

struct Generic;
impl Strategy for Generic {}

/// Roles, ClusterRoles and their bindings: names are path segments.
struct Rbac;
static RBAC: Rbac = Rbac;
impl Strategy for Rbac {
    fn name_rule(&self) -> NameRule {
        NameRule::PathSegment
    }
}

/// ServiceAccounts: generic, and a POST to `token` issues one of its tokens.
struct ServiceAccounts;
static SERVICE_ACCOUNTS: ServiceAccounts = ServiceAccounts;
impl Strategy for ServiceAccounts {
    fn on_create(&self, subresource: Option<&str>) -> CreateAction {
        match subresource {
            None => CreateAction::Store,
            Some("token") => CreateAction::TokenRequest,
            Some(_) => CreateAction::NotAllowed,
        }
    }
}

/// The legacy `bindings` collection: a POST binds the pod the body names.
struct Bindings;
static BINDINGS: Bindings = Bindings;
impl Strategy for Bindings {
    fn on_create(&self, subresource: Option<&str>) -> CreateAction {
        match subresource {
            None => CreateAction::BindNamedPod,
            Some(_) => CreateAction::NotAllowed,
        }
    }
}

/// Endpoints: generic, but deprecated in favour of EndpointSlices.
struct Endpoints;
static ENDPOINTS: Endpoints = Endpoints;
impl Strategy for Endpoints {
    fn deprecation(&self) -> Option<&'static str> {
        Some("v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice")
    }
}

/// The current object with only the list at `path` taken from `decoded` (empty when it has
/// none), once `check` accepts the new list for the current object.
pub(crate) fn take_part(
    current: &Value,
    decoded: &Value,
    path: &[&str],
    check: fn(&Value, &Value) -> crate::status::ApiResult<()>,
) -> crate::status::ApiResult<Value> {
    let pointer: String = path.iter().map(|p| format!("/{p}")).collect();
    let wanted = decoded
        .pointer(&pointer)
        .cloned()
        .unwrap_or_else(|| json!([]));
    check(current, &wanted)?;
    let mut new = current.clone();
    set(&mut new, path, wanted);
    Ok(new)
}

/// Sets `path` in `obj` to `value` unless it is set (creating the objects on the way).
pub(crate) fn set_default(obj: &mut Value, path: &[&str], value: Value) {
    let mut node = obj;
    for (i, key) in path.iter().enumerate() {
        let Some(map) = node.as_object_mut() else {
            return;
        };
        if i + 1 == path.len() {
            map.entry(key.to_string()).or_insert(value);
            return;
        }
        node = map
            .entry(key.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
    }
}

/// Sets `path` in `obj` to `value` unless it is set to something other than `""` (Go's
/// defaulters treat an empty string as unset).
pub(crate) fn set_default_if_empty(obj: &mut Value, path: &[&str], value: Value) {
    let pointer: String = path.iter().map(|p| format!("/{p}")).collect();
    let empty = obj
        .pointer(&pointer)
        .is_none_or(|v| v.is_null() || v.as_str() == Some(""));
    if empty {
        set(obj, path, value);
    }
}

/// Sets `path` to `value`, replacing what is there (creating the objects on the way).
pub(crate) fn set(obj: &mut Value, path: &[&str], value: Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut node = obj;
    for key in parents {
        let Some(map) = node.as_object_mut() else {
            return;
        };
        node = map
            .entry(key.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    if let Some(map) = node.as_object_mut() {
        map.insert(last.to_string(), value);
    }
}

pub(crate) fn immutable(
    new: &Value,
    old: &Value,
    pointer: &str,
    field: &str,
    causes: &mut Vec<Cause>,
) {
    let a = new.pointer(pointer).unwrap_or(&Value::Null);
    let b = old.pointer(pointer).unwrap_or(&Value::Null);
    if a != b {
        causes.push(Cause::immutable(field, a));
    }
}
