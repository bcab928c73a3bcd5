//! The Rust types behind every built-in kind Keelson serves: k8s-openapi's v1.35 types, each
//! giving its group, version and kind (`k8s_openapi::Resource`), its schema (schemars) and a
//! typed decode that checks a body's field types and drops fields the type does not have.

use k8s_openapi::api;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions;
use k8s_openapi::kube_aggregator::pkg::apis::apiregistration;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::de::DeserializeOwned;

/// One built-in kind and what the server needs of its Rust type.
pub struct KindType {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    /// `k8s_openapi::Resource::URL_PATH_SEGMENT`: the plural, or the subresource's name.
    pub url_path_segment: &'static str,
    /// Whether `k8s_openapi::Resource::Scope` is the namespace scope.
    pub namespaced: bool,
    /// The OpenAPI definition name, such as `io.k8s.api.apps.v1.Deployment`.
    pub definition: fn() -> std::borrow::Cow<'static, str>,
    /// Adds the kind's schema (and everything it references) to a generator.
    pub schema: fn(&mut SchemaGenerator) -> Schema,
    /// Decodes a JSON object into the typed struct and encodes it again: type errors are
    /// reported, unknown fields and nulls are dropped, as upstream's typed decoding does.
    pub normalize: fn(&serde_json::Value) -> Result<serde_json::Value, String>,
    /// The Rust type's path, such as `k8s_openapi::api::apps::v1::Deployment` (what
    /// generated code names it by).
    pub rust_type: fn() -> &'static str,
}

/// The scope of a k8s-openapi type as a value.
trait ScopeValue {
    const NAMESPACED: bool;
}
impl ScopeValue for k8s_openapi::NamespaceResourceScope {
    const NAMESPACED: bool = true;
}
impl ScopeValue for k8s_openapi::ClusterResourceScope {
    const NAMESPACED: bool = false;
}
impl ScopeValue for k8s_openapi::SubResourceScope {
    const NAMESPACED: bool = false;
}

fn schema_of<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    generator.subschema_for::<T>()
}

fn normalize_as<T: DeserializeOwned + serde::Serialize>(
    value: &serde_json::Value,
) -> Result<serde_json::Value, String> {
    let typed = T::deserialize(value).map_err(|e| e.to_string())?;
    serde_json::to_value(typed).map_err(|e| e.to_string())
}

macro_rules! kinds {
    ($($t:ty),* $(,)?) => {
        /// Every built-in kind, resources and subresource bodies alike.
        pub static KINDS: &[KindType] = &[$(
            KindType {
                group: <$t as k8s_openapi::Resource>::GROUP,
                version: <$t as k8s_openapi::Resource>::VERSION,
                kind: <$t as k8s_openapi::Resource>::KIND,
                url_path_segment: <$t as k8s_openapi::Resource>::URL_PATH_SEGMENT,
                namespaced: <<$t as k8s_openapi::Resource>::Scope as ScopeValue>::NAMESPACED,
                definition: <$t as JsonSchema>::schema_name,
                schema: schema_of::<$t>,
                normalize: normalize_as::<$t>,
                rust_type: std::any::type_name::<$t>,
            },
        )*];
    };
}

kinds![
    api::core::v1::Binding,
    api::core::v1::ComponentStatus,
    api::core::v1::ConfigMap,
    api::core::v1::Endpoints,
    api::core::v1::Event,
    api::core::v1::LimitRange,
    api::core::v1::Namespace,
    api::core::v1::Node,
    api::core::v1::PersistentVolume,
    api::core::v1::PersistentVolumeClaim,
    api::core::v1::Pod,
    api::core::v1::PodTemplate,
    api::core::v1::ReplicationController,
    api::core::v1::ResourceQuota,
    api::core::v1::Secret,
    api::core::v1::Service,
    api::core::v1::ServiceAccount,
    api::admissionregistration::v1::MutatingWebhookConfiguration,
    api::admissionregistration::v1::ValidatingAdmissionPolicy,
    api::admissionregistration::v1::ValidatingAdmissionPolicyBinding,
    api::admissionregistration::v1::ValidatingWebhookConfiguration,
    apiextensions::v1::CustomResourceDefinition,
    apiregistration::v1::APIService,
    api::apps::v1::ControllerRevision,
    api::apps::v1::DaemonSet,
    api::apps::v1::Deployment,
    api::apps::v1::ReplicaSet,
    api::apps::v1::StatefulSet,
    api::authentication::v1::SelfSubjectReview,
    api::authentication::v1::TokenRequest,
    api::authentication::v1::TokenReview,
    api::authorization::v1::LocalSubjectAccessReview,
    api::authorization::v1::SelfSubjectAccessReview,
    api::authorization::v1::SelfSubjectRulesReview,
    api::authorization::v1::SubjectAccessReview,
    api::autoscaling::v1::HorizontalPodAutoscaler,
    api::autoscaling::v1::Scale,
    api::autoscaling::v2::HorizontalPodAutoscaler,
    api::batch::v1::CronJob,
    api::batch::v1::Job,
    api::certificates::v1::CertificateSigningRequest,
    api::coordination::v1::Lease,
    api::discovery::v1::EndpointSlice,
    api::events::v1::Event,
    api::flowcontrol::v1::FlowSchema,
    api::flowcontrol::v1::PriorityLevelConfiguration,
    api::networking::v1::IPAddress,
    api::networking::v1::Ingress,
    api::networking::v1::IngressClass,
    api::networking::v1::NetworkPolicy,
    api::networking::v1::ServiceCIDR,
    api::node::v1::RuntimeClass,
    api::policy::v1::Eviction,
    api::policy::v1::PodDisruptionBudget,
    api::rbac::v1::ClusterRole,
    api::rbac::v1::ClusterRoleBinding,
    api::rbac::v1::Role,
    api::rbac::v1::RoleBinding,
    api::resource::v1::DeviceClass,
    api::resource::v1::ResourceClaim,
    api::resource::v1::ResourceClaimTemplate,
    api::resource::v1::ResourceSlice,
    api::scheduling::v1::PriorityClass,
    api::storage::v1::CSIDriver,
    api::storage::v1::CSINode,
    api::storage::v1::CSIStorageCapacity,
    api::storage::v1::StorageClass,
    api::storage::v1::VolumeAttachment,
    api::storage::v1::VolumeAttributesClass,
];

/// The kind type of a group, version and kind.
pub fn kind_type(group: &str, version: &str, kind: &str) -> Option<&'static KindType> {
    KINDS
        .iter()
        .find(|k| k.group == group && k.version == version && k.kind == kind)
}
