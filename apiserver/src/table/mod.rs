//! Server-side printing: turns stored objects into `meta.k8s.io/v1` Table rows.
//!
//! `kubectl get` asks for `Accept: application/json;as=Table;v=v1;g=meta.k8s.io` and prints
//! whatever columns the server returns, so the columns and cell values here follow upstream
//! Kubernetes v1.35's built-in printers (`pkg/printers/internalversion`). Like upstream, the
//! server always produces the wide cells; kubectl hides priority-1 columns unless `-o wide`.
//! Resources without a printer (roles, limit ranges, CRDs, ...) get upstream's default
//! convertor: `Name` plus a `Created At` date.
//!
//! Objects arrive as untyped JSON that may be incomplete or malformed, so every accessor
//! falls back to the value upstream prints for an absent field instead of failing.

mod custom;

use jiff::{SignedDuration, Timestamp};
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;

pub use custom::{custom_table, CustomColumn, JsonPath};

/// One column of a Table (meta/v1 TableColumnDefinition).
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub name: &'static str,
    pub type_: &'static str,
    pub format: &'static str,
    pub description: &'static str,
    pub priority: i32,
}

const fn col(name: &'static str, type_: &'static str, description: &'static str) -> Column {
    Column {
        name,
        type_,
        format: "",
        description,
        priority: 0,
    }
}

const fn wide(name: &'static str, type_: &'static str, description: &'static str) -> Column {
    Column {
        name,
        type_,
        format: "",
        description,
        priority: 1,
    }
}

pub(crate) const NAME: Column = Column {
    name: "Name",
    type_: "string",
    format: "name",
    description:
        "Name of the object, unique within its namespace (or the cluster for cluster-scoped kinds).",
    priority: 0,
};
// The column tables are exempt from rustfmt so each column stays on one line.
#[rustfmt::skip]
const AGE: Column = col("Age", "string", "Time elapsed since the object was created.");
#[rustfmt::skip]
const CONTAINERS: Column = wide("Containers", "string", "Names of each container in the template.");
#[rustfmt::skip]
const IMAGES: Column = wide("Images", "string", "Images referenced by each container in the template.");
#[rustfmt::skip]
const SELECTOR: Column = wide("Selector", "string", "Label query over the pods this object manages.");

#[rustfmt::skip]
static DEFAULT_COLUMNS: &[Column] = &[
    NAME,
    col("Created At", "date", "Time the object was created, in RFC3339 form."),
];

#[rustfmt::skip]
static POD_COLUMNS: &[Column] = &[
    NAME,
    col("Ready", "string", "Ready containers out of all containers of this pod."),
    col("Status", "string", "Summary of the pod's phase and its containers' states."),
    col("Restarts", "string", "Container restarts in this pod, and how long ago the last one was."),
    AGE,
    wide("IP", "string", "First IP address allocated to the pod."),
    wide("Node", "string", "Node the pod is bound to."),
    wide("Nominated Node", "string", "Node the scheduler nominated while preempting for this pod."),
    wide("Readiness Gates", "string", "Readiness gates whose condition is True, out of all gates."),
];

#[rustfmt::skip]
static POD_TEMPLATE_COLUMNS: &[Column] = &[
    NAME,
    col("Containers", "string", "Names of each container in the template."),
    col("Images", "string", "Images referenced by each container in the template."),
    col("Pod Labels", "string", "Labels of the pod template."),
];

#[rustfmt::skip]
static DEPLOYMENT_COLUMNS: &[Column] = &[
    NAME,
    col("Ready", "string", "Ready replicas out of desired replicas."),
    col("Up-to-date", "string", "Replicas running the latest pod template."),
    col("Available", "string", "Replicas available to serve."),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

#[rustfmt::skip]
static REPLICA_SET_COLUMNS: &[Column] = &[
    NAME,
    col("Desired", "integer", "Number of replicas wanted."),
    col("Current", "integer", "Number of replicas observed."),
    col("Ready", "integer", "Number of ready replicas."),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

#[rustfmt::skip]
static STATEFUL_SET_COLUMNS: &[Column] = &[
    NAME,
    col("Ready", "string", "Ready replicas out of desired replicas."),
    AGE,
    CONTAINERS,
    IMAGES,
];

#[rustfmt::skip]
static DAEMON_SET_COLUMNS: &[Column] = &[
    NAME,
    col("Desired", "integer", "Nodes that should run the daemon pod."),
    col("Current", "integer", "Nodes running at least one daemon pod."),
    col("Ready", "integer", "Nodes whose daemon pod is ready."),
    col("Up-to-date", "integer", "Nodes running the updated daemon pod."),
    col("Available", "integer", "Nodes whose daemon pod is available."),
    col("Node Selector", "string", "Node selector of the pod template."),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

#[rustfmt::skip]
static JOB_COLUMNS: &[Column] = &[
    NAME,
    col("Status", "string", "Status of the job."),
    col("Completions", "string", "Succeeded pods out of required completions."),
    col("Duration", "string", "Time the job took, or has taken so far."),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

#[rustfmt::skip]
static CRON_JOB_COLUMNS: &[Column] = &[
    NAME,
    col("Schedule", "string", "Cron schedule of the job."),
    col("Timezone", "string", "Time zone the schedule is interpreted in."),
    col("Suspend", "boolean", "Whether new runs are suspended."),
    col("Active", "integer", "Number of jobs currently running."),
    col("Last Schedule", "string", "Time since a job was last scheduled."),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

#[rustfmt::skip]
static SERVICE_COLUMNS: &[Column] = &[
    NAME,
    col("Type", "string", "How the service is exposed."),
    col("Cluster-IP", "string", "Cluster-internal IP address of the service."),
    col("External-IP", "string", "External addresses of the service."),
    col("Port(s)", "string", "Ports exposed by the service."),
    AGE,
    wide("Selector", "string", "Labels of the pods traffic is routed to."),
];

#[rustfmt::skip]
static ENDPOINTS_COLUMNS: &[Column] = &[
    NAME,
    col("Endpoints", "string", "Addresses and ports of the endpoints."),
    AGE,
];

#[rustfmt::skip]
static ENDPOINT_SLICE_COLUMNS: &[Column] = &[
    NAME,
    col("AddressType", "string", "Type of the addresses in this slice."),
    col("Ports", "string", "Ports exposed by the endpoints."),
    col("Endpoints", "string", "Addresses of the endpoints."),
    AGE,
];

#[rustfmt::skip]
static CONFIG_MAP_COLUMNS: &[Column] = &[
    NAME,
    col("Data", "string", "Number of data and binaryData entries."),
    AGE,
];

#[rustfmt::skip]
static SECRET_COLUMNS: &[Column] = &[
    NAME,
    col("Type", "string", "Type of the secret."),
    col("Data", "string", "Number of data entries."),
    AGE,
];

#[rustfmt::skip]
static NAMESPACE_COLUMNS: &[Column] = &[
    NAME,
    col("Status", "string", "Phase of the namespace."),
    AGE,
];

#[rustfmt::skip]
static NODE_COLUMNS: &[Column] = &[
    NAME,
    col("Status", "string", "Readiness and schedulability of the node."),
    col("Roles", "string", "Roles of the node, from its node-role labels."),
    AGE,
    col("Version", "string", "Kubelet version of the node."),
    wide("Internal-IP", "string", "First internal IP address of the node."),
    wide("External-IP", "string", "First external IP address of the node."),
    wide("OS-Image", "string", "Operating system image of the node."),
    wide("Kernel-Version", "string", "Kernel version of the node."),
    wide("Container-Runtime", "string", "Container runtime version of the node."),
];

#[rustfmt::skip]
static EVENT_COLUMNS: &[Column] = &[
    col("Last Seen", "string", "Time since the event was last observed."),
    col("Type", "string", "Type of the event (Normal, Warning)."),
    col("Reason", "string", "Short reason for the event."),
    col("Object", "string", "Object the event is about."),
    wide("Subobject", "string", "Field path of the part of the object involved."),
    wide("Source", "string", "Component (and host) that reported the event."),
    col("Message", "string", "Human-readable description of the event."),
    wide("First Seen", "string", "Time since the event was first observed."),
    wide("Count", "string", "Number of times the event occurred."),
    Column { priority: 1, ..NAME },
];

#[rustfmt::skip]
static SERVICE_ACCOUNT_COLUMNS: &[Column] = &[
    NAME,
    col("Secrets", "string", "Number of secrets listed on the service account."),
    AGE,
];

#[rustfmt::skip]
static PERSISTENT_VOLUME_COLUMNS: &[Column] = &[
    NAME,
    col("Capacity", "string", "Storage capacity of the volume."),
    col("Access Modes", "string", "Ways the volume can be mounted."),
    col("Reclaim Policy", "string", "What happens to the volume when released."),
    col("Status", "string", "Phase of the volume."),
    col("Claim", "string", "Claim bound to the volume."),
    col("StorageClass", "string", "StorageClass of the volume."),
    col("VolumeAttributesClass", "string", "VolumeAttributesClass of the volume."),
    col("Reason", "string", "Reason for the volume's phase."),
    AGE,
    wide("VolumeMode", "string", "Whether the volume is a filesystem or a block device."),
];

#[rustfmt::skip]
static PERSISTENT_VOLUME_CLAIM_COLUMNS: &[Column] = &[
    NAME,
    col("Status", "string", "Phase of the claim."),
    col("Volume", "string", "Volume bound to the claim."),
    col("Capacity", "string", "Storage capacity of the bound volume."),
    col("Access Modes", "string", "Access modes of the bound volume."),
    col("StorageClass", "string", "StorageClass of the claim."),
    col("VolumeAttributesClass", "string", "VolumeAttributesClass of the claim."),
    AGE,
    wide("VolumeMode", "string", "Whether the claim wants a filesystem or a block device."),
];

#[rustfmt::skip]
static INGRESS_COLUMNS: &[Column] = &[
    NAME,
    col("Class", "string", "IngressClass handling this ingress."),
    col("Hosts", "string", "Hosts the rules match."),
    col("Address", "string", "Load-balancer addresses of the ingress."),
    col("Ports", "string", "Ports the ingress listens on."),
    AGE,
];

#[rustfmt::skip]
static INGRESS_CLASS_COLUMNS: &[Column] = &[
    NAME,
    col("Controller", "string", "Controller that implements this class."),
    col("Parameters", "string", "Resource holding extra parameters for the controller."),
    AGE,
];

#[rustfmt::skip]
static NETWORK_POLICY_COLUMNS: &[Column] = &[
    NAME,
    col("Pod-Selector", "string", "Pods the policy applies to."),
    AGE,
];

#[rustfmt::skip]
static LEASE_COLUMNS: &[Column] = &[
    NAME,
    col("Holder", "string", "Identity of the current holder of the lease."),
    AGE,
];

#[rustfmt::skip]
static ROLE_BINDING_COLUMNS: &[Column] = &[
    NAME,
    col("Role", "string", "Role the subjects are bound to."),
    AGE,
    wide("Users", "string", "Users bound to the role."),
    wide("Groups", "string", "Groups bound to the role."),
    wide("ServiceAccounts", "string", "Service accounts bound to the role."),
];

#[rustfmt::skip]
static STORAGE_CLASS_COLUMNS: &[Column] = &[
    NAME,
    col("Provisioner", "string", "Volume plugin that provisions volumes of this class."),
    col("ReclaimPolicy", "string", "Reclaim policy of provisioned volumes."),
    col("VolumeBindingMode", "string", "When volumes are bound and provisioned."),
    col("AllowVolumeExpansion", "string", "Whether volumes of this class can be expanded."),
    AGE,
];

#[rustfmt::skip]
static PRIORITY_CLASS_COLUMNS: &[Column] = &[
    NAME,
    col("Value", "integer", "Priority given to pods of this class."),
    col("Global-Default", "boolean", "Whether this is the default class for pods without one."),
    AGE,
    col("PreemptionPolicy", "string", "Whether pods of this class may preempt others."),
];

#[rustfmt::skip]
static POD_DISRUPTION_BUDGET_COLUMNS: &[Column] = &[
    NAME,
    col("Min Available", "string", "Pods that must stay available."),
    col("Max Unavailable", "string", "Pods that may be unavailable."),
    col("Allowed Disruptions", "integer", "Pods that may be disrupted right now."),
    AGE,
];

#[rustfmt::skip]
static HPA_COLUMNS: &[Column] = &[
    NAME,
    col("Reference", "string", "Object whose scale is controlled."),
    col("Targets", "string", "Current and target values of the metrics."),
    col("MinPods", "string", "Lower limit on replicas."),
    col("MaxPods", "string", "Upper limit on replicas."),
    col("Replicas", "string", "Current number of replicas."),
    AGE,
];

#[rustfmt::skip]
static REPLICATION_CONTROLLER_COLUMNS: &[Column] = &[
    NAME,
    col("Desired", "integer", "Number of replicas wanted."),
    col("Current", "integer", "Number of replicas observed."),
    col("Ready", "integer", "Number of ready replicas."),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

#[rustfmt::skip]
static RESOURCE_QUOTA_COLUMNS: &[Column] = &[
    NAME,
    col("Request", "string", "Used and hard limits of non-limit resources."),
    col("Limit", "string", "Used and hard limits of limits.* resources."),
    AGE,
];

#[rustfmt::skip]
static RUNTIME_CLASS_COLUMNS: &[Column] = &[
    NAME,
    col("Handler", "string", "CRI handler that runs pods of this class."),
    AGE,
];

#[rustfmt::skip]
static WEBHOOK_CONFIGURATION_COLUMNS: &[Column] = &[
    NAME,
    col("Webhooks", "integer", "Number of webhooks in this configuration."),
    AGE,
];

#[rustfmt::skip]
static CONTROLLER_REVISION_COLUMNS: &[Column] = &[
    NAME,
    col("Controller", "string", "Controller that owns the revision."),
    col("Revision", "string", "Revision number."),
    AGE,
];

/// The resources with a dedicated printer; everything else uses the default convertor.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Pod,
    PodTemplate,
    Deployment,
    ReplicaSet,
    StatefulSet,
    DaemonSet,
    Job,
    CronJob,
    Service,
    Endpoints,
    EndpointSlice,
    ConfigMap,
    Secret,
    Namespace,
    Node,
    CoreEvent,
    EventsV1Event,
    ServiceAccount,
    PersistentVolume,
    PersistentVolumeClaim,
    Ingress,
    IngressClass,
    NetworkPolicy,
    Lease,
    RoleBinding,
    StorageClass,
    PriorityClass,
    PodDisruptionBudget,
    HorizontalPodAutoscaler,
    ReplicationController,
    ResourceQuota,
    RuntimeClass,
    WebhookConfiguration,
    ControllerRevision,
}

fn kind(group: &str, plural: &str) -> Option<Kind> {
    use Kind::*;
    Some(match (group, plural) {
        ("", "pods") => Pod,
        ("", "podtemplates") => PodTemplate,
        ("apps", "deployments") => Deployment,
        ("apps", "replicasets") => ReplicaSet,
        ("apps", "statefulsets") => StatefulSet,
        ("apps", "daemonsets") => DaemonSet,
        ("apps", "controllerrevisions") => ControllerRevision,
        ("batch", "jobs") => Job,
        ("batch", "cronjobs") => CronJob,
        ("", "services") => Service,
        ("", "endpoints") => Endpoints,
        ("discovery.k8s.io", "endpointslices") => EndpointSlice,
        ("", "configmaps") => ConfigMap,
        ("", "secrets") => Secret,
        ("", "namespaces") => Namespace,
        ("", "nodes") => Node,
        ("", "events") => CoreEvent,
        // events.k8s.io shares core's event storage and printer, under other field names.
        ("events.k8s.io", "events") => EventsV1Event,
        ("", "serviceaccounts") => ServiceAccount,
        ("", "persistentvolumes") => PersistentVolume,
        ("", "persistentvolumeclaims") => PersistentVolumeClaim,
        ("", "replicationcontrollers") => ReplicationController,
        ("", "resourcequotas") => ResourceQuota,
        ("networking.k8s.io", "ingresses") => Ingress,
        ("networking.k8s.io", "ingressclasses") => IngressClass,
        ("networking.k8s.io", "networkpolicies") => NetworkPolicy,
        ("coordination.k8s.io", "leases") => Lease,
        ("rbac.authorization.k8s.io", "rolebindings" | "clusterrolebindings") => RoleBinding,
        ("storage.k8s.io", "storageclasses") => StorageClass,
        ("scheduling.k8s.io", "priorityclasses") => PriorityClass,
        ("policy", "poddisruptionbudgets") => PodDisruptionBudget,
        ("autoscaling", "horizontalpodautoscalers") => HorizontalPodAutoscaler,
        ("node.k8s.io", "runtimeclasses") => RuntimeClass,
        (
            "admissionregistration.k8s.io",
            "mutatingwebhookconfigurations" | "validatingwebhookconfigurations",
        ) => WebhookConfiguration,
        _ => return None,
    })
}

/// Columns for a resource, by its group and plural ("" , "pods"). Unknown resources get the
/// columns of upstream's default table convertor: `Name` and `Created At` (type `date`), which
/// is what `kubectl get` shows for roles, limit ranges and CRDs.
pub fn columns(group: &str, plural: &str) -> &'static [Column] {
    use Kind::*;
    let Some(k) = kind(group, plural) else {
        return DEFAULT_COLUMNS;
    };
    match k {
        Pod => POD_COLUMNS,
        PodTemplate => POD_TEMPLATE_COLUMNS,
        Deployment => DEPLOYMENT_COLUMNS,
        ReplicaSet => REPLICA_SET_COLUMNS,
        StatefulSet => STATEFUL_SET_COLUMNS,
        DaemonSet => DAEMON_SET_COLUMNS,
        Job => JOB_COLUMNS,
        CronJob => CRON_JOB_COLUMNS,
        Service => SERVICE_COLUMNS,
        Endpoints => ENDPOINTS_COLUMNS,
        EndpointSlice => ENDPOINT_SLICE_COLUMNS,
        ConfigMap => CONFIG_MAP_COLUMNS,
        Secret => SECRET_COLUMNS,
        Namespace => NAMESPACE_COLUMNS,
        Node => NODE_COLUMNS,
        CoreEvent | EventsV1Event => EVENT_COLUMNS,
        ServiceAccount => SERVICE_ACCOUNT_COLUMNS,
        PersistentVolume => PERSISTENT_VOLUME_COLUMNS,
        PersistentVolumeClaim => PERSISTENT_VOLUME_CLAIM_COLUMNS,
        Ingress => INGRESS_COLUMNS,
        IngressClass => INGRESS_CLASS_COLUMNS,
        NetworkPolicy => NETWORK_POLICY_COLUMNS,
        Lease => LEASE_COLUMNS,
        RoleBinding => ROLE_BINDING_COLUMNS,
        StorageClass => STORAGE_CLASS_COLUMNS,
        PriorityClass => PRIORITY_CLASS_COLUMNS,
        PodDisruptionBudget => POD_DISRUPTION_BUDGET_COLUMNS,
        HorizontalPodAutoscaler => HPA_COLUMNS,
        ReplicationController => REPLICATION_CONTROLLER_COLUMNS,
        ResourceQuota => RESOURCE_QUOTA_COLUMNS,
        RuntimeClass => RUNTIME_CLASS_COLUMNS,
        WebhookConfiguration => WEBHOOK_CONFIGURATION_COLUMNS,
        ControllerRevision => CONTROLLER_REVISION_COLUMNS,
    }
}

/// The cells of one row, in column order. `now` is the time used for AGE (so tests are deterministic).
pub fn cells(group: &str, plural: &str, obj: &Value, now: Timestamp) -> Vec<Value> {
    use Kind::*;
    let Some(k) = kind(group, plural) else {
        return default_cells(obj);
    };
    match k {
        Pod => pod_cells(obj, now),
        PodTemplate => pod_template_cells(obj),
        Deployment => deployment_cells(obj, now),
        ReplicaSet => replica_set_cells(obj, now),
        StatefulSet => stateful_set_cells(obj, now),
        DaemonSet => daemon_set_cells(obj, now),
        Job => job_cells(obj, now),
        CronJob => cron_job_cells(obj, now),
        Service => service_cells(obj, now),
        Endpoints => vec![name(obj), json!(format_endpoints(obj)), age(obj, now)],
        EndpointSlice => endpoint_slice_cells(obj, now),
        ConfigMap => {
            let n = map_len(obj, &["data"]) + map_len(obj, &["binaryData"]);
            vec![name(obj), json!(n), age(obj, now)]
        }
        Secret => secret_cells(obj, now),
        Namespace => vec![
            name(obj),
            json!(st(obj, &["status", "phase"])),
            age(obj, now),
        ],
        Node => node_cells(obj, now),
        CoreEvent => event_cells(obj, &CORE_EVENT_FIELDS, now),
        EventsV1Event => event_cells(obj, &EVENTS_V1_FIELDS, now),
        ServiceAccount => vec![
            name(obj),
            json!(arr(obj, &["secrets"]).len()),
            age(obj, now),
        ],
        PersistentVolume => persistent_volume_cells(obj, now),
        PersistentVolumeClaim => persistent_volume_claim_cells(obj, now),
        Ingress => ingress_cells(obj, now),
        IngressClass => ingress_class_cells(obj, now),
        NetworkPolicy => vec![
            name(obj),
            // podSelector is a struct, never nil, so an absent one is the empty selector.
            json!(format_label_selector(Some(
                at(obj, &["spec", "podSelector"]).unwrap_or(&json!({}))
            ))),
            age(obj, now),
        ],
        Lease => vec![
            name(obj),
            json!(st(obj, &["spec", "holderIdentity"])),
            age(obj, now),
        ],
        RoleBinding => role_binding_cells(obj, now),
        StorageClass => storage_class_cells(obj, now),
        PriorityClass => vec![
            name(obj),
            json!(int(obj, &["value"])),
            json!(flag(obj, &["globalDefault"])),
            age(obj, now),
            json!(st(obj, &["preemptionPolicy"])),
        ],
        PodDisruptionBudget => vec![
            name(obj),
            json!(int_or_string(at(obj, &["spec", "minAvailable"])).unwrap_or_else(|| "N/A".into())),
            json!(
                int_or_string(at(obj, &["spec", "maxUnavailable"])).unwrap_or_else(|| "N/A".into())
            ),
            json!(int(obj, &["status", "disruptionsAllowed"])),
            age(obj, now),
        ],
        HorizontalPodAutoscaler => hpa_cells(obj, now),
        ReplicationController => replication_controller_cells(obj, now),
        ResourceQuota => resource_quota_cells(obj, now),
        RuntimeClass => vec![name(obj), json!(st(obj, &["handler"])), age(obj, now)],
        WebhookConfiguration => vec![
            name(obj),
            json!(arr(obj, &["webhooks"]).len()),
            age(obj, now),
        ],
        ControllerRevision => controller_revision_cells(obj, now),
    }
}

/// A whole Table JSON: `{"kind":"Table","apiVersion":"meta.k8s.io/v1","metadata":{resourceVersion, continue?},"columnDefinitions":[{name,type,format,description,priority}],"rows":[{"cells":[...],"object":OBJECT_OR_ITS_METADATA}]}`
/// `include_object`: "None" | "Metadata" (default: object is a PartialObjectMetadata {kind:"PartialObjectMetadata", apiVersion:"meta.k8s.io/v1", metadata}) | "Object" (the full object), as upstream's `includeObject` query parameter.
///
/// For a single-object GET pass `{"resourceVersion": <the object's>}` as `list_meta`, as
/// upstream does. Unrecognised `include_object` values are treated as the default; rejecting
/// them with 400 (as upstream does) is the caller's job.
pub fn table(
    group: &str,
    plural: &str,
    objects: &[Value],
    list_meta: Value,
    include_object: &str,
    now: Timestamp,
) -> Value {
    let is_pod = kind(group, plural) == Some(Kind::Pod);
    build(
        columns(group, plural),
        objects,
        list_meta,
        include_object,
        |obj, row| {
            row.insert("cells".into(), Value::Array(cells(group, plural, obj, now)));
            if is_pod {
                if let Some(cond) = pod_row_condition(obj) {
                    row.insert("conditions".into(), json!([cond]));
                }
            }
        },
    )
}

/// A Table of `columns`, one row per object, whose cells (and conditions) `fill` writes.
fn build(
    columns: &[Column],
    objects: &[Value],
    list_meta: Value,
    include_object: &str,
    mut fill: impl FnMut(&Value, &mut Map<String, Value>),
) -> Value {
    let column_definitions: Vec<Value> = columns
        .iter()
        .map(|c| {
            json!({
                "name": c.name,
                "type": c.type_,
                "format": c.format,
                "description": c.description,
                "priority": c.priority,
            })
        })
        .collect();

    let mut metadata = Map::new();
    let rv = list_meta
        .get("resourceVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    metadata.insert("resourceVersion".into(), json!(rv));
    if let Some(c) = list_meta
        .get("continue")
        .and_then(Value::as_str)
        .filter(|c| !c.is_empty())
    {
        metadata.insert("continue".into(), json!(c));
    }
    if let Some(n) = list_meta
        .get("remainingItemCount")
        .filter(|n| n.is_number())
    {
        metadata.insert("remainingItemCount".into(), n.clone());
    }

    let rows: Vec<Value> = objects
        .iter()
        .map(|obj| {
            let object = match include_object {
                "None" => Value::Null,
                "Object" => obj.clone(),
                _ => json!({
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": obj.get("metadata").filter(|m| m.is_object()).cloned().unwrap_or_else(|| json!({})),
                }),
            };
            let mut row = Map::new();
            fill(obj, &mut row);
            row.insert("object".into(), object);
            Value::Object(row)
        })
        .collect();

    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": column_definitions,
        "rows": rows,
    })
}

/// Human duration as kubectl shows ages: 5s, 3m, 2m30s, 5h, 3h10m, 2d, 3d4h, 1y, etc (upstream's duration.HumanDuration).
pub fn human_duration(d: std::time::Duration) -> String {
    human_secs(i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Precision drops as durations grow, so a column of ages stays narrow.
fn human_secs(secs: i64) -> String {
    // A second of clock skew between components still reads as "now".
    if secs < -1 {
        return "<invalid>".into();
    }
    if secs < 0 {
        return "0s".into();
    }
    if secs < 120 {
        return format!("{secs}s");
    }
    let minutes = secs / 60;
    if minutes < 10 {
        let s = secs % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    }
    if minutes < 180 {
        return format!("{minutes}m");
    }
    let hours = secs / 3600;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    let days = hours / 24;
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{days}d")
        } else {
            format!("{days}d{h}h")
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{days}d");
    }
    let years = days / 365;
    if hours < 24 * 365 * 8 {
        let dy = days % 365;
        return if dy == 0 {
            format!("{years}y")
        } else {
            format!("{years}y{dy}d")
        };
    }
    format!("{years}y")
}

pub(crate) fn human_signed(d: SignedDuration) -> String {
    // as_secs truncates toward zero, like Go's int(d.Seconds()).
    human_secs(d.as_secs())
}

// ---------------------------------------------------------------------------------------
// JSON accessors: absent, null and wrongly-typed values all read as "not set".

fn at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    let mut cur = v;
    for key in path {
        cur = cur.get(*key)?;
    }
    (!cur.is_null()).then_some(cur)
}

fn st<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    at(v, path).and_then(Value::as_str).unwrap_or("")
}

fn as_int(v: &Value) -> Option<i64> {
    v.as_i64()
        .or_else(|| v.as_u64().map(|u| i64::try_from(u).unwrap_or(i64::MAX)))
        .or_else(|| {
            // Float-to-int `as` saturates, so an absurd value cannot panic.
            v.as_f64().map(|f| f as i64)
        })
}

fn int(v: &Value, path: &[&str]) -> i64 {
    at(v, path).and_then(as_int).unwrap_or(0)
}

fn arr<'a>(v: &'a Value, path: &[&str]) -> &'a [Value] {
    at(v, path)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn obj<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Map<String, Value>> {
    at(v, path).and_then(Value::as_object)
}

fn map_len(v: &Value, path: &[&str]) -> usize {
    obj(v, path).map_or(0, Map::len)
}

fn flag(v: &Value, path: &[&str]) -> bool {
    at(v, path).and_then(Value::as_bool).unwrap_or(false)
}

/// Whether a pointer/struct field is set (Go's `!= nil`).
fn has_obj(v: &Value, path: &[&str]) -> bool {
    at(v, path).is_some_and(Value::is_object)
}

/// Scalars as Go would print them; anything else is empty.
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => String::new(),
    }
}

/// A resource.Quantity; the zero quantity prints as "0".
fn quantity(v: Option<&Value>) -> String {
    match v.map(text) {
        Some(s) if !s.is_empty() => s,
        _ => "0".into(),
    }
}

fn int_or_string(v: Option<&Value>) -> Option<String> {
    v.map(text).filter(|s| !s.is_empty())
}

fn timestamp(v: &Value, path: &[&str]) -> Option<Timestamp> {
    at(v, path)
        .and_then(Value::as_str)
        .and_then(|s| s.parse::<Timestamp>().ok())
}

/// Time since `ts`, or "<unknown>" for the zero time, as translateTimestampSince.
fn since(ts: Option<Timestamp>, now: Timestamp) -> String {
    ts.map_or_else(
        || "<unknown>".into(),
        |t| human_signed(now.duration_since(t)),
    )
}

fn name(o: &Value) -> Value {
    json!(st(o, &["metadata", "name"]))
}

fn age(o: &Value, now: Timestamp) -> Value {
    json!(since(timestamp(o, &["metadata", "creationTimestamp"]), now))
}

fn deleting(o: &Value) -> bool {
    at(o, &["metadata", "deletionTimestamp"]).is_some()
}

fn bool_ptr(v: Option<&Value>) -> String {
    match v.and_then(Value::as_bool) {
        Some(true) => "True".into(),
        Some(false) => "False".into(),
        None => "<unset>".into(),
    }
}

/// `labels.FormatLabels`: sorted `k=v` pairs, or "<none>".
fn format_labels(m: Option<&Map<String, Value>>) -> String {
    let pairs: Vec<String> = m
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", text(v)))
        .collect(); // serde_json maps iterate in key order
    if pairs.is_empty() {
        "<none>".into()
    } else {
        pairs.join(",")
    }
}

/// A metav1.LabelSelector rendered as labels.Selector.String(); `None` and the empty selector
/// both render as "". Errors mirror LabelSelectorAsSelector's rejections.
fn selector_string(sel: Option<&Value>) -> Result<String, ()> {
    let Some(sel) = sel.filter(|s| s.is_object()) else {
        return Ok(String::new());
    };
    let mut reqs: Vec<(String, String)> = Vec::new();
    for (k, v) in obj(sel, &["matchLabels"]).into_iter().flatten() {
        reqs.push((k.clone(), format!("{k}={}", text(v))));
    }
    for expr in arr(sel, &["matchExpressions"]) {
        let key = st(expr, &["key"]);
        let mut values: Vec<String> = arr(expr, &["values"]).iter().map(text).collect();
        values.sort();
        let rendered = match st(expr, &["operator"]) {
            "In" | "NotIn" if values.is_empty() => return Err(()),
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" | "DoesNotExist" if !values.is_empty() => return Err(()),
            "Exists" => key.to_string(),
            "DoesNotExist" => format!("!{key}"),
            _ => return Err(()),
        };
        reqs.push((key.to_string(), rendered));
    }
    // Requirements print sorted by key.
    reqs.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(reqs
        .into_iter()
        .map(|(_, r)| r)
        .collect::<Vec<_>>()
        .join(","))
}

/// `metav1.FormatLabelSelector`.
fn format_label_selector(sel: Option<&Value>) -> String {
    match selector_string(sel) {
        Err(()) => "<error>".into(),
        Ok(s) if s.is_empty() => "<none>".into(),
        Ok(s) => s,
    }
}

/// Container names and images of a pod spec, comma-joined.
fn container_cells(pod_spec: Option<&Value>) -> (Value, Value) {
    let containers = pod_spec.map_or(&[][..], |s| arr(s, &["containers"]));
    let names: Vec<&str> = containers.iter().map(|c| st(c, &["name"])).collect();
    let images: Vec<&str> = containers.iter().map(|c| st(c, &["image"])).collect();
    (json!(names.join(",")), json!(images.join(",")))
}

fn default_cells(o: &Value) -> Vec<Value> {
    // The default convertor prints the raw timestamp; Go's zero time when unset.
    let created = timestamp(o, &["metadata", "creationTimestamp"]).map_or_else(
        || "0001-01-01T00:00:00Z".to_string(),
        |t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
    );
    vec![name(o), json!(created)]
}

// ---------------------------------------------------------------------------------------
// Pods

fn is_restartable_init(pod: &Value, container_name: &str) -> bool {
    arr(pod, &["spec", "initContainers"])
        .iter()
        .any(|c| st(c, &["name"]) == container_name && st(c, &["restartPolicy"]) == "Always")
}

fn pod_condition_true(pod: &Value, type_: &str) -> bool {
    arr(pod, &["status", "conditions"])
        .iter()
        .find(|c| st(c, &["type"]) == type_)
        .is_some_and(|c| st(c, &["status"]) == "True")
}

fn later(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

fn exit_reason(prefix: &str, terminated: &Value) -> String {
    let signal = int(terminated, &["signal"]);
    if signal != 0 {
        format!("{prefix}Signal:{signal}")
    } else {
        format!("{prefix}ExitCode:{}", int(terminated, &["exitCode"]))
    }
}

fn pod_cells(pod: &Value, now: Timestamp) -> Vec<Value> {
    let init_specs = arr(pod, &["spec", "initContainers"]);
    // Sidecars (restartable init containers) count as regular containers for READY.
    let total = arr(pod, &["spec", "containers"]).len()
        + init_specs
            .iter()
            .filter(|c| st(c, &["restartPolicy"]) == "Always")
            .count();
    let mut ready = 0usize;
    let mut restarts = 0i64;
    let mut sidecar_restarts = 0i64;
    let mut last_restart: Option<Timestamp> = None;
    let mut last_sidecar_restart: Option<Timestamp> = None;

    let phase = st(pod, &["status", "phase"]);
    let status_reason = st(pod, &["status", "reason"]);
    let mut reason = if status_reason.is_empty() {
        phase
    } else {
        status_reason
    }
    .to_string();
    if arr(pod, &["status", "conditions"])
        .iter()
        .any(|c| st(c, &["type"]) == "PodScheduled" && st(c, &["reason"]) == "SchedulingGated")
    {
        reason = "SchedulingGated".into();
    }

    let mut initializing = false;
    for (i, cs) in arr(pod, &["status", "initContainerStatuses"])
        .iter()
        .enumerate()
    {
        let rc = int(cs, &["restartCount"]);
        let finished = timestamp(cs, &["lastState", "terminated", "finishedAt"]);
        restarts += rc;
        last_restart = later(last_restart, finished);
        let sidecar = is_restartable_init(pod, st(cs, &["name"]));
        if sidecar {
            sidecar_restarts += rc;
            last_sidecar_restart = later(last_sidecar_restart, finished);
        }
        let terminated = at(cs, &["state", "terminated"]).filter(|t| t.is_object());
        let waiting_reason = st(cs, &["state", "waiting", "reason"]);
        match terminated {
            Some(t) if int(t, &["exitCode"]) == 0 => continue,
            _ if sidecar && flag(cs, &["started"]) => {
                if flag(cs, &["ready"]) {
                    ready += 1;
                }
                continue;
            }
            Some(t) => {
                let r = st(t, &["reason"]);
                reason = if r.is_empty() {
                    exit_reason("Init:", t)
                } else {
                    format!("Init:{r}")
                };
            }
            None if !waiting_reason.is_empty() && waiting_reason != "PodInitializing" => {
                reason = format!("Init:{waiting_reason}");
            }
            None => reason = format!("Init:{i}/{}", init_specs.len()),
        }
        initializing = true;
        break;
    }

    if !initializing || pod_condition_true(pod, "Initialized") {
        restarts = sidecar_restarts;
        last_restart = last_sidecar_restart;
        let mut has_running = false;
        // Walked backwards so the first container's state wins the STATUS column.
        for cs in arr(pod, &["status", "containerStatuses"]).iter().rev() {
            restarts += int(cs, &["restartCount"]);
            last_restart = later(
                last_restart,
                timestamp(cs, &["lastState", "terminated", "finishedAt"]),
            );
            let waiting_reason = st(cs, &["state", "waiting", "reason"]);
            let terminated = at(cs, &["state", "terminated"]).filter(|t| t.is_object());
            if !waiting_reason.is_empty() {
                reason = waiting_reason.to_string();
            } else if let Some(t) = terminated {
                let r = st(t, &["reason"]);
                reason = if r.is_empty() {
                    exit_reason("", t)
                } else {
                    r.to_string()
                };
            } else if flag(cs, &["ready"]) && has_obj(cs, &["state", "running"]) {
                has_running = true;
                ready += 1;
            }
        }
        // A pod whose finished containers say Completed is still running if others run.
        if reason == "Completed" && has_running {
            reason = if pod_condition_true(pod, "Ready") {
                "Running"
            } else {
                "NotReady"
            }
            .into();
        }
    }

    if deleting(pod) && status_reason == "NodeLost" {
        reason = "Unknown".into();
    } else if deleting(pod) && phase != "Succeeded" && phase != "Failed" {
        reason = "Terminating".into();
    }

    let restarts_cell = match last_restart {
        Some(t) if restarts != 0 => format!("{restarts} ({} ago)", since(Some(t), now)),
        _ => restarts.to_string(),
    };

    let mut pod_ip = arr(pod, &["status", "podIPs"])
        .first()
        .map_or("", |p| st(p, &["ip"]));
    if pod_ip.is_empty() {
        // Conversion fills podIPs from the legacy singular field.
        pod_ip = st(pod, &["status", "podIP"]);
    }
    let none_if_empty = |s: &str| {
        if s.is_empty() {
            "<none>".to_string()
        } else {
            s.to_string()
        }
    };
    let gates = arr(pod, &["spec", "readinessGates"]);
    let readiness_gates = if gates.is_empty() {
        "<none>".to_string()
    } else {
        let conditions = arr(pod, &["status", "conditions"]);
        let true_count = gates
            .iter()
            .filter(|g| {
                let t = st(g, &["conditionType"]);
                conditions
                    .iter()
                    .find(|c| st(c, &["type"]) == t)
                    .is_some_and(|c| st(c, &["status"]) == "True")
            })
            .count();
        format!("{true_count}/{}", gates.len())
    };

    vec![
        name(pod),
        json!(format!("{ready}/{total}")),
        json!(reason),
        json!(restarts_cell),
        age(pod, now),
        json!(none_if_empty(pod_ip)),
        json!(none_if_empty(st(pod, &["spec", "nodeName"]))),
        json!(none_if_empty(st(pod, &["status", "nominatedNodeName"]))),
        json!(readiness_gates),
    ]
}

/// Finished pods carry a Completed row condition, which clients use to dim or hide them.
fn pod_row_condition(pod: &Value) -> Option<Value> {
    let (reason, message) = match st(pod, &["status", "phase"]) {
        "Succeeded" => ("Succeeded", "The pod has completed successfully."),
        "Failed" => ("Failed", "The pod failed."),
        _ => return None,
    };
    Some(json!({"type": "Completed", "status": "True", "reason": reason, "message": message}))
}

fn pod_template_cells(o: &Value) -> Vec<Value> {
    let (names, images) = container_cells(at(o, &["template", "spec"]));
    vec![
        name(o),
        names,
        images,
        json!(format_labels(obj(o, &["template", "metadata", "labels"]))),
    ]
}

// ---------------------------------------------------------------------------------------
// Workloads

/// spec.replicas, which defaulting sets to 1 when omitted.
fn desired_replicas(o: &Value) -> i64 {
    at(o, &["spec", "replicas"]).and_then(as_int).unwrap_or(1)
}

fn deployment_cells(o: &Value, now: Timestamp) -> Vec<Value> {
    let (names, images) = container_cells(at(o, &["spec", "template", "spec"]));
    // Unlike the other workloads, an unset selector prints as empty, not "<none>".
    let selector =
        selector_string(at(o, &["spec", "selector"])).unwrap_or_else(|()| "<invalid>".into());
    vec![
        name(o),
        json!(format!(
            "{}/{}",
            int(o, &["status", "readyReplicas"]),
            desired_replicas(o)
        )),
        json!(int(o, &["status", "updatedReplicas"])),
        json!(int(o, &["status", "availableReplicas"])),
        age(o, now),
        names,
        images,
        json!(selector),
    ]
}

fn replica_set_cells(o: &Value, now: Timestamp) -> Vec<Value> {
    let (names, images) = container_cells(at(o, &["spec", "template", "spec"]));
    vec![
        name(o),
        json!(desired_replicas(o)),
        json!(int(o, &["status", "replicas"])),
        json!(int(o, &["status", "readyReplicas"])),
        age(o, now),
        names,
        images,
        json!(format_label_selector(at(o, &["spec", "selector"]))),
    ]
}

fn replication_controller_cells(o: &Value, now: Timestamp) -> Vec<Value> {
    let (names, images) = container_cells(at(o, &["spec", "template", "spec"]));
    vec![
        name(o),
        json!(desired_replicas(o)),
        json!(int(o, &["status", "replicas"])),
        json!(int(o, &["status", "readyReplicas"])),
        age(o, now),
        names,
        images,
        json!(format_labels(obj(o, &["spec", "selector"]))),
    ]
}

fn stateful_set_cells(o: &Value, now: Timestamp) -> Vec<Value> {
    let (names, images) = container_cells(at(o, &["spec", "template", "spec"]));
    vec![
        name(o),
        json!(format!(
            "{}/{}",
            int(o, &["status", "readyReplicas"]),
            desired_replicas(o)
        )),
        age(o, now),
        names,
        images,
    ]
}

fn daemon_set_cells(o: &Value, now: Timestamp) -> Vec<Value> {
    let (names, images) = container_cells(at(o, &["spec", "template", "spec"]));
    vec![
        name(o),
        json!(int(o, &["status", "desiredNumberScheduled"])),
        json!(int(o, &["status", "currentNumberScheduled"])),
        json!(int(o, &["status", "numberReady"])),
        json!(int(o, &["status", "updatedNumberScheduled"])),
        json!(int(o, &["status", "numberAvailable"])),
        json!(format_labels(obj(
            o,
            &["spec", "template", "spec", "nodeSelector"]
        ))),
        age(o, now),
        names,
        images,
        json!(format_label_selector(at(o, &["spec", "selector"]))),
    ]
}

fn job_condition_true(o: &Value, type_: &str) -> bool {
    arr(o, &["status", "conditions"])
        .iter()
        .find(|c| st(c, &["type"]) == type_)
        .is_some_and(|c| st(c, &["status"]) == "True")
}

fn job_cells(o: &Value, now: Timestamp) -> Vec<Value> {
    let succeeded = int(o, &["status", "succeeded"]);
    let completions = match at(o, &["spec", "completions"]).and_then(as_int) {
        Some(c) => format!("{succeeded}/{c}"),
        None => match int(o, &["spec", "parallelism"]) {
            p if p > 1 => format!("{succeeded}/1 of {p}"),
            _ => format!("{succeeded}/1"),
        },
    };
    let duration = match (
        timestamp(o, &["status", "startTime"]),
        timestamp(o, &["status", "completionTime"]),
    ) {
        (None, _) => String::new(),
        (Some(start), None) => human_signed(now.duration_since(start)),
        (Some(start), Some(end)) => human_signed(end.duration_since(start)),
    };
    let status = if job_condition_true(o, "Complete") {
        "Complete"
    } else if job_condition_true(o, "Failed") {
        "Failed"
    } else if deleting(o) {
        "Terminating"
    } else if job_condition_true(o, "Suspended") {
        "Suspended"
    } else if job_condition_true(o, "FailureTarget") {
        "FailureTarget"
    } else if job_condition_true(o, "SuccessCriteriaMet") {
        "SuccessCriteriaMet"
    } else {
        "Running"
    };
    let (names, images) = container_cells(at(o, &["spec", "template", "spec"]));
    vec![
        name(o),
        json!(status),
        json!(completions),
        json!(duration),
        age(o, now),
        names,
        images,
        json!(format_label_selector(at(o, &["spec", "selector"]))),
    ]
}

fn cron_job_cells(o: &Value, now: Timestamp) -> Vec<Value> {
    let last_schedule = match timestamp(o, &["status", "lastScheduleTime"]) {
        Some(t) => since(Some(t), now),
        None => "<none>".into(),
    };
    let time_zone = at(o, &["spec", "timeZone"])
        .and_then(Value::as_str)
        .unwrap_or("<none>");
    let job_spec = at(o, &["spec", "jobTemplate", "spec"]);
    let (names, images) = container_cells(job_spec.and_then(|s| at(s, &["template", "spec"])));
    vec![
        name(o),
        json!(st(o, &["spec", "schedule"])),
        json!(time_zone),
        json!(bool_ptr(at(o, &["spec", "suspend"]))),
        json!(arr(o, &["status", "active"]).len()),
        json!(last_schedule),
        age(o, now),
        names,
        images,
        json!(format_label_selector(
            job_spec.and_then(|s| at(s, &["selector"]))
        )),
    ]
}

fn controller_revision_cells(o: &Value, now: Timestamp) -> Vec<Value> {
    let controller = arr(o, &["metadata", "ownerReferences"])
        .iter()
        .find(|r| flag(r, &["controller"]))
        .map_or_else(
            || "<none>".to_string(),
            |r| {
                let api_version = st(r, &["apiVersion"]);
                let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
                let kind = st(r, &["kind"]);
                let ref_name = st(r, &["name"]);
                match (group, kind) {
                    ("", "") => ref_name.to_string(),
                    ("", k) => format!("{}/{ref_name}", k.to_lowercase()),
                    (g, k) => format!("{}.{}/{ref_name}", k.to_lowercase(), g.to_lowercase()),
                }
            },
        );
    vec![
        name(o),
        json!(controller),
        json!(int(o, &["revision"])),
        age(o, now),
    ]
}

// ---------------------------------------------------------------------------------------
// Networking

/// Load-balancer ingress points as a sorted, de-duplicated list. The server prints wide,
/// so nothing is truncated.
fn load_balancer_addresses(o: &Value) -> Vec<String> {
    let set: BTreeSet<&str> = arr(o, &["status", "loadBalancer", "ingress"])
        .iter()
        .filter_map(|i| {
            let ip = st(i, &["ip"]);
            let host = st(i, &["hostname"]);
            if !ip.is_empty() {
                Some(ip)
            } else if !host.is_empty() {
                Some(host)
            } else {
                None
            }
        })
        .collect();
    set.into_iter().map(str::to_string).collect()
}

fn service_cells(o: &Value, now: Timestamp) -> Vec<Value> {
    let svc_type = st(o, &["spec", "type"]);
    let mut cluster_ip = arr(o, &["spec", "clusterIPs"])
        .first()
        .map_or(String::new(), text);
    if cluster_ip.is_empty() {
        cluster_ip = st(o, &["spec", "clusterIP"]).to_string();
    }
    if cluster_ip.is_empty() {
        cluster_ip = "<none>".into();
    }
    let external_ips: Vec<String> = arr(o, &["spec", "externalIPs"]).iter().map(text).collect();
    let external = match svc_type {
        "ClusterIP" | "NodePort" if !external_ips.is_empty() => external_ips.join(","),
        "ClusterIP" | "NodePort" => "<none>".into(),
        "LoadBalancer" => {
            let mut all = load_balancer_addresses(o);
            all.extend(external_ips);
            if all.is_empty() {
                "<pending>".into()
            } else {
                all.join(",")
            }
        }
        "ExternalName" => st(o, &["spec", "externalName"]).to_string(),
        _ => "<unknown>".into(),
    };
    let ports: Vec<String> = arr(o, &["spec", "ports"])
        .iter()
        .map(|p| {
            let port = int(p, &["port"]);
            let node_port = int(p, &["nodePort"]);
            let protocol = st(p, &["protocol"]);
            // Defaulting always sets a protocol; stay readable if it did not run.
            let protocol = if protocol.is_empty() { "TCP" } else { protocol };
            if node_port > 0 {
                format!("{port}:{node_port}/{protocol}")
            } else {
                format!("{port}/{protocol}")
            }
        })
        .collect();
    let ports = if ports.is_empty() {
        "<none>".to_string()
    } else {
        ports.join(",")
    };
    vec![
        name(o),
        json!(svc_type),
        json!(cluster_ip),
        json!(external),
        json!(ports),
        age(o, now),
        json!(format_labels(obj(o, &["spec", "selector"]))),
    ]
}

fn join_host_port(host: &str, port: i64) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// At most three endpoints, then "+ N more...".
fn format_endpoints(o: &Value) -> String {
    const MAX: usize = 3;
    let subsets = arr(o, &["subsets"]);
    if subsets.is_empty() {
        return "<none>".into();
    }
    let mut list: Vec<String> = Vec::new();
    let mut more = false;
    let mut count = 0usize;
    for ss in subsets {
        let addresses = arr(ss, &["addresses"]);
        let ports = arr(ss, &["ports"]);
        if ports.is_empty() {
            // Headless services may have no ports.
            count += addresses.len();
            for a in addresses {
                if list.len() == MAX {
                    more = true;
                    break;
                }
                list.push(st(a, &["ip"]).to_string());
            }
            continue;
        }
        for p in ports {
            count += addresses.len();
            for a in addresses {
                if list.len() == MAX {
                    more = true;
                    break;
                }
                list.push(join_host_port(st(a, &["ip"]), int(p, &["port"])));
            }
        }
    }
    let ret = list.join(",");
    if more {
        format!("{ret} + {} more...", count.saturating_sub(MAX))
    } else {
        ret
    }
}

fn list_with_more(list: &[String], count: usize, max: usize) -> String {
    let ret = list.join(",");
    if count > max {
        format!("{ret} + {} more...", count - max)
    } else if ret.is_empty() {
        "<unset>".into()
    } else {
        ret
    }
}

fn endpoint_slice_cells(o: &Value, now: Timestamp) -> Vec<Value> {
    const MAX: usize = 3;
    let ports_all = arr(o, &["ports"]);
    let ports: Vec<String> = ports_all
        .iter()
        .take(MAX)
        .map(|p| match (at(p, &["port"]), at(p, &["name"])) {
            (Some(n), _) => text(n),
            (None, Some(n)) => text(n),
            (None, None) => "*".into(),
        })
        .collect();
    let addresses: Vec<&Value> = arr(o, &["endpoints"])
        .iter()
        .flat_map(|e| arr(e, &["addresses"]))
        .collect();
    let shown: Vec<String> = addresses.iter().take(MAX).map(|a| text(a)).collect();
    vec![
        name(o),
        json!(st(o, &["addressType"])),
        json!(list_with_more(&ports, ports_all.len(), MAX)),
        json!(list_with_more(&shown, addresses.len(), MAX)),
        age(o, now),
    ]
}

fn ingress_cells(o: &Value, now: Timestamp) -> Vec<Value> {
    const MAX: usize = 3;
    let class = at(o, &["spec", "ingressClassName"])
        .and_then(Value::as_str)
        .unwrap_or("<none>");
    let rules = arr(o, &["spec", "rules"]);
    let mut hosts: Vec<&str> = Vec::new();
    let mut more = false;
    for rule in rules {
        if hosts.len() == MAX {
            more = true;
        }
        let host = st(rule, &["host"]);
        if !more && !host.is_empty() {
            hosts.push(host);
        }
    }
    let hosts = if hosts.is_empty() {
        "*".to_string()
    } else if more {
        format!(
            "{} + {} more...",
            hosts.join(","),
            rules.len().saturating_sub(MAX)
        )
    } else {
        hosts.join(",")
    };
    let ports = if arr(o, &["spec", "tls"]).is_empty() {
        "80"
    } else {
        "80, 443"
    };
    vec![
        name(o),
        json!(class),
        json!(hosts),
        json!(load_balancer_addresses(o).join(",")),
        json!(ports),
        age(o, now),
    ]
}

fn ingress_class_cells(o: &Value, now: Timestamp) -> Vec<Value> {
    let parameters = match at(o, &["spec", "parameters"]).filter(|p| p.is_object()) {
        None => "<none>".to_string(),
        Some(p) => {
            let mut s = st(p, &["kind"]).to_string();
            if let Some(g) = at(p, &["apiGroup"]).and_then(Value::as_str) {
                s = format!("{s}.{g}");
            }
            format!("{s}/{}", st(p, &["name"]))
        }
    };
    vec![
        name(o),
        json!(st(o, &["spec", "controller"])),
        json!(parameters),
        age(o, now),
    ]
}

// ---------------------------------------------------------------------------------------
// Config, cluster and storage

fn secret_cells(o: &Value, now: Timestamp) -> Vec<Value> {
    // stringData is write-only and merged into data on write; count any stray keys once.
    let mut keys: BTreeSet<&str> = obj(o, &["data"])
        .into_iter()
        .flatten()
        .map(|(k, _)| k.as_str())
        .collect();
    keys.extend(
        obj(o, &["stringData"])
            .into_iter()
            .flatten()
            .map(|(k, _)| k.as_str()),
    );
    vec![
        name(o),
        json!(st(o, &["type"])),
        json!(keys.len()),
        age(o, now),
    ]
}

fn node_cells(o: &Value, now: Timestamp) -> Vec<Value> {
    let mut status: Vec<String> = Vec::new();
    // Only the Ready condition is summarised; the last entry of a type wins, as in a map.
    if let Some(c) = arr(o, &["status", "conditions"])
        .iter()
        .rev()
        .find(|c| st(c, &["type"]) == "Ready")
    {
        status.push(
            if st(c, &["status"]) == "True" {
                "Ready"
            } else {
                "NotReady"
            }
            .into(),
        );
    }
    if status.is_empty() {
        status.push("Unknown".into());
    }
    if flag(o, &["spec", "unschedulable"]) {
        status.push("SchedulingDisabled".into());
    }
    let mut roles: BTreeSet<String> = BTreeSet::new();
    for (k, v) in obj(o, &["metadata", "labels"]).into_iter().flatten() {
        if let Some(role) = k.strip_prefix("node-role.kubernetes.io/") {
            if !role.is_empty() {
                roles.insert(role.to_string());
            }
        } else if k == "kubernetes.io/role" {
            let v = text(v);
            if !v.is_empty() {
                roles.insert(v);
            }
        }
    }
    let roles = if roles.is_empty() {
        "<none>".to_string()
    } else {
        roles.into_iter().collect::<Vec<_>>().join(",")
    };
    let address = |t: &str| {
        arr(o, &["status", "addresses"])
            .iter()
            .find(|a| st(a, &["type"]) == t)
            .map_or_else(|| "<none>".to_string(), |a| st(a, &["address"]).to_string())
    };
    let info = |field: &str| {
        let v = st(o, &["status", "nodeInfo", field]);
        if v.is_empty() {
            "<unknown>".to_string()
        } else {
            v.to_string()
        }
    };
    vec![
        name(o),
        json!(status.join(",")),
        json!(roles),
        age(o, now),
        json!(st(o, &["status", "nodeInfo", "kubeletVersion"])),
        json!(address("InternalIP")),
        json!(address("ExternalIP")),
        json!(info("osImage")),
        json!(info("kernelVersion")),
        json!(info("containerRuntimeVersion")),
    ]
}

/// Where an event's fields live in core/v1 versus events.k8s.io/v1.
struct EventFields {
    involved: &'static str,
    message: &'static str,
    first: &'static str,
    last: &'static str,
    count: &'static str,
    source: &'static str,
    reporting_controller: &'static str,
}

const CORE_EVENT_FIELDS: EventFields = EventFields {
    involved: "involvedObject",
    message: "message",
    first: "firstTimestamp",
    last: "lastTimestamp",
    count: "count",
    source: "source",
    reporting_controller: "reportingComponent",
};

const EVENTS_V1_FIELDS: EventFields = EventFields {
    involved: "regarding",
    message: "note",
    first: "deprecatedFirstTimestamp",
    last: "deprecatedLastTimestamp",
    count: "deprecatedCount",
    source: "deprecatedSource",
    reporting_controller: "reportingController",
};

fn event_cells(o: &Value, f: &EventFields, now: Timestamp) -> Vec<Value> {
    // Newer events only carry eventTime/series; fall back through them like upstream.
    let first = match timestamp(o, &[f.first]) {
        Some(t) => since(Some(t), now),
        None => since(timestamp(o, &["eventTime"]), now),
    };
    let mut last = match timestamp(o, &[f.last]) {
        Some(t) => since(Some(t), now),
        None => first.clone(),
    };
    let mut count = int(o, &[f.count]);
    if has_obj(o, &["series"]) {
        last = since(timestamp(o, &["series", "lastObservedTime"]), now);
        count = int(o, &["series", "count"]);
    } else if count == 0 {
        count = 1;
    }
    let kind = st(o, &[f.involved, "kind"]).to_lowercase();
    let involved_name = st(o, &[f.involved, "name"]);
    let target = if involved_name.is_empty() {
        kind
    } else {
        format!("{kind}/{involved_name}")
    };
    let first_non_empty = |a: &str, b: &str| {
        if a.is_empty() {
            b.to_string()
        } else {
            a.to_string()
        }
    };
    let component = first_non_empty(
        st(o, &[f.source, "component"]),
        st(o, &[f.reporting_controller]),
    );
    let instance = first_non_empty(st(o, &[f.source, "host"]), st(o, &["reportingInstance"]));
    let source = if instance.is_empty() {
        component
    } else {
        format!("{component}, {instance}")
    };
    vec![
        json!(last),
        json!(st(o, &["type"])),
        json!(st(o, &["reason"])),
        json!(target),
        json!(st(o, &[f.involved, "fieldPath"])),
        json!(source),
        json!(st(o, &[f.message]).trim()),
        json!(first),
        json!(count),
        name(o),
    ]
}

fn access_modes(modes: &[Value]) -> String {
    let has = |m: &str| modes.iter().any(|v| v.as_str() == Some(m));
    [
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    ]
    .iter()
    .filter(|(m, _)| has(m))
    .map(|(_, short)| *short)
    .collect::<Vec<_>>()
    .join(",")
}

const BETA_STORAGE_CLASS_ANNOTATION: &str = "volume.beta.kubernetes.io/storage-class";

/// The legacy beta annotation takes precedence over spec.storageClassName.
fn storage_class_of(o: &Value) -> String {
    match obj(o, &["metadata", "annotations"]).and_then(|a| a.get(BETA_STORAGE_CLASS_ANNOTATION)) {
        Some(v) => text(v),
        None => st(o, &["spec", "storageClassName"]).to_string(),
    }
}

fn unset_if_absent(o: &Value, path: &[&str]) -> String {
    at(o, path).map_or_else(|| "<unset>".to_string(), text)
}

fn persistent_volume_cells(o: &Value, now: Timestamp) -> Vec<Value> {
    let claim = match at(o, &["spec", "claimRef"]).filter(|c| c.is_object()) {
        Some(c) => format!("{}/{}", st(c, &["namespace"]), st(c, &["name"])),
        None => String::new(),
    };
    let phase = if deleting(o) {
        "Terminating"
    } else {
        st(o, &["status", "phase"])
    };
    vec![
        name(o),
        json!(quantity(at(o, &["spec", "capacity", "storage"]))),
        json!(access_modes(arr(o, &["spec", "accessModes"]))),
        json!(st(o, &["spec", "persistentVolumeReclaimPolicy"])),
        json!(phase),
        json!(claim),
        json!(storage_class_of(o)),
        json!(unset_if_absent(o, &["spec", "volumeAttributesClassName"])),
        json!(st(o, &["status", "reason"])),
        age(o, now),
        json!(unset_if_absent(o, &["spec", "volumeMode"])),
    ]
}

fn persistent_volume_claim_cells(o: &Value, now: Timestamp) -> Vec<Value> {
    let phase = if deleting(o) {
        "Terminating"
    } else {
        st(o, &["status", "phase"])
    };
    let volume = st(o, &["spec", "volumeName"]);
    // Capacity and access modes are only meaningful once bound.
    let (capacity, modes) = if volume.is_empty() {
        (String::new(), String::new())
    } else {
        (
            quantity(at(o, &["status", "capacity", "storage"])),
            access_modes(arr(o, &["status", "accessModes"])),
        )
    };
    vec![
        name(o),
        json!(phase),
        json!(volume),
        json!(capacity),
        json!(modes),
        json!(storage_class_of(o)),
        json!(unset_if_absent(o, &["spec", "volumeAttributesClassName"])),
        age(o, now),
        json!(unset_if_absent(o, &["spec", "volumeMode"])),
    ]
}

fn role_binding_cells(o: &Value, now: Timestamp) -> Vec<Value> {
    let role = format!(
        "{}/{}",
        st(o, &["roleRef", "kind"]),
        st(o, &["roleRef", "name"])
    );
    let (mut users, mut groups, mut sas) = (Vec::new(), Vec::new(), Vec::new());
    for s in arr(o, &["subjects"]) {
        let n = st(s, &["name"]);
        match st(s, &["kind"]) {
            "User" => users.push(n.to_string()),
            "Group" => groups.push(n.to_string()),
            "ServiceAccount" => sas.push(format!("{}/{n}", st(s, &["namespace"]))),
            _ => {}
        }
    }
    vec![
        name(o),
        json!(role),
        age(o, now),
        json!(users.join(", ")),
        json!(groups.join(", ")),
        json!(sas.join(", ")),
    ]
}

fn storage_class_cells(o: &Value, now: Timestamp) -> Vec<Value> {
    let annotations = obj(o, &["metadata", "annotations"]);
    let is_default = [
        "storageclass.kubernetes.io/is-default-class",
        "storageclass.beta.kubernetes.io/is-default-class",
    ]
    .iter()
    .any(|k| annotations.and_then(|a| a.get(*k)).and_then(Value::as_str) == Some("true"));
    let mut display = st(o, &["metadata", "name"]).to_string();
    if is_default {
        display.push_str(" (default)");
    }
    let or = |path: &[&str], dflt: &'static str| {
        let v = st(o, path);
        if at(o, path).is_some() {
            v.to_string()
        } else {
            dflt.to_string()
        }
    };
    vec![
        json!(display),
        json!(st(o, &["provisioner"])),
        json!(or(&["reclaimPolicy"], "Delete")),
        json!(or(&["volumeBindingMode"], "Immediate")),
        json!(flag(o, &["allowVolumeExpansion"])),
        age(o, now),
    ]
}

// ---------------------------------------------------------------------------------------
// Autoscaling and quotas

fn percent(v: Option<&Value>) -> Option<String> {
    v.and_then(as_int).map(|n| format!("{n}%"))
}

/// One HPA metric as "current/target", per upstream's formatHPAMetrics.
fn hpa_metric(spec: &Value, status: Option<&Value>) -> String {
    let unknown = || "<unknown>".to_string();
    // Status entries line up with spec entries by index and must be of the same source type.
    let current = |source: &str| {
        status
            .and_then(|s| at(s, &[source]))
            .filter(|c| c.is_object())
    };
    let value_or_average = |source: &str| {
        let target = at(spec, &[source, "target"]);
        match target.and_then(|t| at(t, &["averageValue"])) {
            Some(avg) => {
                let cur = current(source)
                    .and_then(|c| at(c, &["current", "averageValue"]))
                    .map_or_else(unknown, |v| quantity(Some(v)));
                format!("{cur}/{} (avg)", quantity(Some(avg)))
            }
            None => {
                let cur = current(source)
                    .map_or_else(unknown, |c| quantity(at(c, &["current", "value"])));
                format!("{cur}/{}", quantity(target.and_then(|t| at(t, &["value"]))))
            }
        }
    };
    let resource = |source: &str| {
        let res_name = st(spec, &[source, "name"]);
        let target = at(spec, &[source, "target"]);
        match target.and_then(|t| at(t, &["averageValue"])) {
            Some(avg) => {
                let cur = current(source)
                    .map_or_else(unknown, |c| quantity(at(c, &["current", "averageValue"])));
                format!("{res_name}: {cur}/{}", quantity(Some(avg)))
            }
            None => {
                let cur = percent(
                    current(source).and_then(|c| at(c, &["current", "averageUtilization"])),
                )
                .unwrap_or_else(unknown);
                let tgt = percent(target.and_then(|t| at(t, &["averageUtilization"])))
                    .unwrap_or_else(|| "<auto>".into());
                format!("{res_name}: {cur}/{tgt}")
            }
        }
    };
    match st(spec, &["type"]) {
        "External" => value_or_average("external"),
        "Object" => value_or_average("object"),
        "Pods" => {
            let cur = current("pods")
                .map_or_else(unknown, |c| quantity(at(c, &["current", "averageValue"])));
            format!(
                "{cur}/{}",
                quantity(at(spec, &["pods", "target", "averageValue"]))
            )
        }
        "Resource" => resource("resource"),
        "ContainerResource" => resource("containerResource"),
        _ => "<unknown type>".into(),
    }
}

fn hpa_targets(o: &Value) -> String {
    const MAX: usize = 2;
    let specs = arr(o, &["spec", "metrics"]);
    if specs.is_empty() {
        // autoscaling/v1 carries a single CPU utilisation target instead of metrics.
        return match percent(at(o, &["spec", "targetCPUUtilizationPercentage"])) {
            Some(target) => {
                let cur = percent(at(o, &["status", "currentCPUUtilizationPercentage"]))
                    .unwrap_or_else(|| "<unknown>".into());
                format!("cpu: {cur}/{target}")
            }
            None => "<none>".into(),
        };
    }
    let statuses = arr(o, &["status", "currentMetrics"]);
    let list: Vec<String> = specs
        .iter()
        .enumerate()
        .take(MAX)
        .map(|(i, s)| hpa_metric(s, statuses.get(i)))
        .collect();
    let ret = list.join(", ");
    if specs.len() > MAX {
        format!("{ret} + {} more...", specs.len() - MAX)
    } else {
        ret
    }
}

fn hpa_cells(o: &Value, now: Timestamp) -> Vec<Value> {
    let reference = format!(
        "{}/{}",
        st(o, &["spec", "scaleTargetRef", "kind"]),
        st(o, &["spec", "scaleTargetRef", "name"])
    );
    let min_pods = at(o, &["spec", "minReplicas"])
        .and_then(as_int)
        .map_or_else(|| "<unset>".to_string(), |n| n.to_string());
    vec![
        name(o),
        json!(reference),
        json!(hpa_targets(o)),
        json!(min_pods),
        json!(int(o, &["spec", "maxReplicas"])),
        json!(int(o, &["status", "currentReplicas"])),
        age(o, now),
    ]
}

fn resource_quota_cells(o: &Value, now: Timestamp) -> Vec<Value> {
    let used = obj(o, &["status", "used"]);
    let mut request: Vec<String> = Vec::new();
    let mut limit: Vec<String> = Vec::new();
    // serde_json maps iterate sorted, matching upstream's sorted resource names.
    for (resource, hard) in obj(o, &["status", "hard"]).into_iter().flatten() {
        let entry = format!(
            "{resource}: {}/{}",
            quantity(used.and_then(|u| u.get(resource))),
            quantity(Some(hard))
        );
        let mut pieces = resource.split('.');
        if pieces.next() == Some("limits") && pieces.next().is_some() {
            limit.push(entry);
        } else {
            request.push(entry);
        }
    }
    vec![
        name(o),
        json!(request.join(", ")),
        json!(limit.join(", ")),
        age(o, now),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Every resource with a dedicated printer.
    #[rustfmt::skip]
    const PRINTED: &[(&str, &str)] = &[
        ("", "pods"), ("", "podtemplates"), ("", "services"), ("", "endpoints"), ("", "configmaps"),
        ("", "secrets"), ("", "namespaces"), ("", "nodes"), ("", "events"), ("", "serviceaccounts"),
        ("", "persistentvolumes"), ("", "persistentvolumeclaims"), ("", "replicationcontrollers"),
        ("", "resourcequotas"), ("events.k8s.io", "events"),
        ("apps", "deployments"), ("apps", "replicasets"), ("apps", "statefulsets"),
        ("apps", "daemonsets"), ("apps", "controllerrevisions"), ("batch", "jobs"), ("batch", "cronjobs"),
        ("discovery.k8s.io", "endpointslices"), ("networking.k8s.io", "ingresses"),
        ("networking.k8s.io", "ingressclasses"), ("networking.k8s.io", "networkpolicies"),
        ("coordination.k8s.io", "leases"), ("rbac.authorization.k8s.io", "rolebindings"),
        ("rbac.authorization.k8s.io", "clusterrolebindings"), ("storage.k8s.io", "storageclasses"),
        ("scheduling.k8s.io", "priorityclasses"), ("policy", "poddisruptionbudgets"),
        ("autoscaling", "horizontalpodautoscalers"), ("node.k8s.io", "runtimeclasses"),
        ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"),
        ("admissionregistration.k8s.io", "validatingwebhookconfigurations"),
    ];

    fn now() -> Timestamp {
        "2024-05-01T12:00:00Z".parse().unwrap()
    }

    fn meta(name: &str, created: &str) -> Value {
        json!({"name": name, "namespace": "default", "creationTimestamp": created, "resourceVersion": "7"})
    }

    fn col_names(group: &str, plural: &str, priority: i32) -> Vec<&'static str> {
        columns(group, plural)
            .iter()
            .filter(|c| c.priority == priority)
            .map(|c| c.name)
            .collect()
    }

    #[test]
    fn human_duration_examples() {
        let cases = [
            (0, "0s"),
            (5, "5s"),
            (119, "119s"),
            (120, "2m"),
            (150, "2m30s"),
            (9 * 60 + 59, "9m59s"),
            (3 * 60 * 60 - 1, "179m"),
            (3 * 3600, "3h"),
            (3 * 3600 + 600, "3h10m"),
            (5 * 3600, "5h"),
            (47 * 3600, "47h"),
            (2 * 86400, "2d"),
            (3 * 86400 + 4 * 3600, "3d4h"),
            (30 * 86400, "30d"),
            (2 * 365 * 86400, "2y"),
            (3 * 365 * 86400 + 10 * 86400, "3y10d"),
            (9 * 365 * 86400, "9y"),
        ];
        for (secs, want) in cases {
            assert_eq!(human_duration(Duration::from_secs(secs)), want, "{secs}s");
        }
        assert_eq!(human_duration(Duration::from_secs(365 * 86400)), "365d");
        assert_eq!(human_secs(-1), "0s");
        assert_eq!(human_secs(-5), "<invalid>");
        assert_eq!(
            human_duration(Duration::MAX),
            format!("{}y", i64::MAX / 86400 / 365)
        );
    }

    #[test]
    fn pod_columns_match_upstream() {
        assert_eq!(
            col_names("", "pods", 0),
            ["Name", "Ready", "Status", "Restarts", "Age"]
        );
        assert_eq!(
            col_names("", "pods", 1),
            ["IP", "Node", "Nominated Node", "Readiness Gates"]
        );
        assert_eq!(columns("", "pods")[3].type_, "string");
    }

    #[test]
    fn running_pod_row() {
        let pod = json!({
            "metadata": meta("web-0", "2024-05-01T11:55:00Z"),
            "spec": {"nodeName": "n1", "containers": [{"name": "a"}, {"name": "b"}]},
            "status": {
                "phase": "Running",
                "podIPs": [{"ip": "10.0.0.5"}],
                "conditions": [{"type": "Ready", "status": "True"}],
                "containerStatuses": [
                    {"name": "a", "ready": true, "restartCount": 2, "state": {"running": {}},
                     "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2024-05-01T11:57:00Z"}}},
                    {"name": "b", "ready": true, "restartCount": 0, "state": {"running": {}}}
                ]
            }
        });
        assert_eq!(
            cells("", "pods", &pod, now()),
            vec![
                json!("web-0"),
                json!("2/2"),
                json!("Running"),
                json!("2 (3m ago)"),
                json!("5m"),
                json!("10.0.0.5"),
                json!("n1"),
                json!("<none>"),
                json!("<none>")
            ]
        );
    }

    #[test]
    fn pending_pod_rows() {
        let unscheduled = json!({
            "metadata": meta("p", "2024-05-01T11:59:30Z"),
            "spec": {"containers": [{"name": "a"}]},
            "status": {"phase": "Pending"}
        });
        let c = cells("", "pods", &unscheduled, now());
        assert_eq!(
            c[1..5],
            [json!("0/1"), json!("Pending"), json!("0"), json!("30s")]
        );
        assert_eq!(c[5..7], [json!("<none>"), json!("<none>")]);

        let creating = json!({
            "metadata": meta("p", "2024-05-01T11:59:30Z"),
            "spec": {"containers": [{"name": "a"}]},
            "status": {"phase": "Pending", "containerStatuses": [
                {"name": "a", "ready": false, "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}}}
            ]}
        });
        assert_eq!(
            cells("", "pods", &creating, now())[2],
            json!("ContainerCreating")
        );

        let init = json!({
            "metadata": meta("p", "2024-05-01T11:59:30Z"),
            "spec": {"initContainers": [{"name": "i1"}, {"name": "i2"}], "containers": [{"name": "a"}]},
            "status": {"phase": "Pending", "initContainerStatuses": [
                {"name": "i1", "state": {"terminated": {"exitCode": 0}}},
                {"name": "i2", "state": {"running": {}}}
            ], "containerStatuses": [
                {"name": "a", "state": {"waiting": {"reason": "PodInitializing"}}}
            ]}
        });
        assert_eq!(cells("", "pods", &init, now())[2], json!("Init:1/2"));

        let init_crash = json!({
            "spec": {"initContainers": [{"name": "i1"}], "containers": [{"name": "a"}]},
            "status": {"phase": "Pending", "initContainerStatuses": [
                {"name": "i1", "restartCount": 4, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}
            ]}
        });
        let c = cells("", "pods", &init_crash, now());
        assert_eq!(c[2], json!("Init:CrashLoopBackOff"));
        assert_eq!(c[3], json!("4"));
        assert_eq!(c[4], json!("<unknown>"));
    }

    #[test]
    fn sidecar_counts_as_container() {
        let pod = json!({
            "spec": {"initContainers": [{"name": "proxy", "restartPolicy": "Always"}], "containers": [{"name": "a"}]},
            "status": {"phase": "Running",
                "conditions": [{"type": "Initialized", "status": "True"}],
                "initContainerStatuses": [{"name": "proxy", "started": true, "ready": true, "restartCount": 1, "state": {"running": {}}}],
                "containerStatuses": [{"name": "a", "ready": true, "state": {"running": {}}}]}
        });
        let c = cells("", "pods", &pod, now());
        assert_eq!(c[1], json!("2/2"));
        assert_eq!(c[2], json!("Running"));
        assert_eq!(c[3], json!("1"));
    }

    #[test]
    fn completed_pod_row_and_condition() {
        let pod = json!({
            "metadata": meta("job-x", "2024-04-30T12:00:00Z"),
            "spec": {"containers": [{"name": "a"}]},
            "status": {"phase": "Succeeded", "containerStatuses": [
                {"name": "a", "ready": false, "restartCount": 0,
                 "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}
            ]}
        });
        let c = cells("", "pods", &pod, now());
        assert_eq!(
            c[1..5],
            [json!("0/1"), json!("Completed"), json!("0"), json!("24h")]
        );
        let t = table("", "pods", &[pod], json!({}), "None", now());
        assert_eq!(t["rows"][0]["conditions"][0]["type"], "Completed");
        assert_eq!(t["rows"][0]["conditions"][0]["reason"], "Succeeded");
    }

    #[test]
    fn terminating_pod_row() {
        let mut m = meta("p", "2024-05-01T11:00:00Z");
        m["deletionTimestamp"] = json!("2024-05-01T11:59:00Z");
        let pod = json!({
            "metadata": m,
            "spec": {"containers": [{"name": "a"}]},
            "status": {"phase": "Running", "containerStatuses": [
                {"name": "a", "ready": true, "state": {"running": {}}}
            ]}
        });
        assert_eq!(cells("", "pods", &pod, now())[2], json!("Terminating"));

        // Finished pods keep their terminal status while being deleted.
        let mut done = pod.clone();
        done["status"] = json!({"phase": "Failed", "reason": "Evicted"});
        assert_eq!(cells("", "pods", &done, now())[2], json!("Evicted"));

        let mut lost = pod;
        lost["status"]["reason"] = json!("NodeLost");
        assert_eq!(cells("", "pods", &lost, now())[2], json!("Unknown"));
    }

    #[test]
    fn crash_loop_pod_row() {
        let pod = json!({
            "metadata": meta("crashy", "2024-05-01T10:00:00Z"),
            "spec": {"containers": [{"name": "a"}]},
            "status": {"phase": "Running", "containerStatuses": [
                {"name": "a", "ready": false, "restartCount": 5,
                 "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                 "lastState": {"terminated": {"exitCode": 137, "finishedAt": "2024-05-01T11:55:00Z"}}}
            ]}
        });
        let c = cells("", "pods", &pod, now());
        assert_eq!(
            c[1..5],
            [
                json!("0/1"),
                json!("CrashLoopBackOff"),
                json!("5 (5m ago)"),
                json!("120m")
            ]
        );

        let mut signalled = pod.clone();
        signalled["status"]["containerStatuses"][0]["state"] =
            json!({"terminated": {"exitCode": 137, "signal": 9}});
        assert_eq!(cells("", "pods", &signalled, now())[2], json!("Signal:9"));
        signalled["status"]["containerStatuses"][0]["state"] =
            json!({"terminated": {"exitCode": 2}});
        assert_eq!(cells("", "pods", &signalled, now())[2], json!("ExitCode:2"));
    }

    #[test]
    fn readiness_gates_cell() {
        let pod = json!({
            "spec": {"containers": [], "readinessGates": [{"conditionType": "a"}, {"conditionType": "b"}]},
            "status": {"conditions": [{"type": "a", "status": "True"}, {"type": "b", "status": "False"}]}
        });
        assert_eq!(cells("", "pods", &pod, now())[8], json!("1/2"));
    }

    #[test]
    fn deployment_row() {
        assert_eq!(
            col_names("apps", "deployments", 0),
            ["Name", "Ready", "Up-to-date", "Available", "Age"]
        );
        assert_eq!(
            col_names("apps", "deployments", 1),
            ["Containers", "Images", "Selector"]
        );
        let d = json!({
            "metadata": meta("web", "2024-04-29T12:00:00Z"),
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": "web"}, "matchExpressions": [
                    {"key": "tier", "operator": "In", "values": ["fe", "be"]},
                    {"key": "canary", "operator": "DoesNotExist"}
                ]},
                "template": {"spec": {"containers": [
                    {"name": "nginx", "image": "nginx:1.27"}, {"name": "log", "image": "busybox"}
                ]}}
            },
            "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}
        });
        assert_eq!(
            cells("apps", "deployments", &d, now()),
            vec![
                json!("web"),
                json!("2/3"),
                json!(3),
                json!(2),
                json!("2d"),
                json!("nginx,log"),
                json!("nginx:1.27,busybox"),
                json!("app=web,!canary,tier in (be,fe)")
            ]
        );
        // Omitted replicas default to 1; a bad selector is reported, not fatal.
        let bad =
            json!({"spec": {"selector": {"matchExpressions": [{"key": "k", "operator": "Near"}]}}});
        let c = cells("apps", "deployments", &bad, now());
        assert_eq!(c[1], json!("0/1"));
        assert_eq!(c[7], json!("<invalid>"));
    }

    #[test]
    fn service_row_with_ports() {
        assert_eq!(
            col_names("", "services", 0),
            [
                "Name",
                "Type",
                "Cluster-IP",
                "External-IP",
                "Port(s)",
                "Age"
            ]
        );
        let svc = json!({
            "metadata": meta("web", "2024-05-01T09:00:00Z"),
            "spec": {
                "type": "NodePort",
                "clusterIP": "10.96.0.10",
                "clusterIPs": ["10.96.0.10"],
                "selector": {"app": "web", "tier": "fe"},
                "ports": [
                    {"port": 80, "nodePort": 30080, "protocol": "TCP"},
                    {"port": 53, "protocol": "UDP"}
                ]
            }
        });
        assert_eq!(
            cells("", "services", &svc, now()),
            vec![
                json!("web"),
                json!("NodePort"),
                json!("10.96.0.10"),
                json!("<none>"),
                json!("80:30080/TCP,53/UDP"),
                json!("3h"),
                json!("app=web,tier=fe")
            ]
        );
        let lb = json!({"spec": {"type": "LoadBalancer", "ports": []},
            "status": {"loadBalancer": {"ingress": [{"ip": "5.6.7.8"}, {"hostname": "lb.example.com"}]}}});
        let c = cells("", "services", &lb, now());
        assert_eq!(
            c[2..5],
            [
                json!("<none>"),
                json!("5.6.7.8,lb.example.com"),
                json!("<none>")
            ]
        );
        let pending = json!({"spec": {"type": "LoadBalancer"}});
        assert_eq!(
            cells("", "services", &pending, now())[3],
            json!("<pending>")
        );
        let external = json!({"spec": {"type": "ExternalName", "externalName": "db.example.com"}});
        assert_eq!(
            cells("", "services", &external, now())[3],
            json!("db.example.com")
        );
    }

    #[test]
    fn configmap_data_count() {
        let cm = json!({
            "metadata": meta("cfg", "2024-05-01T11:59:50Z"),
            "data": {"a": "1", "b": "2"},
            "binaryData": {"c": "AAEC"}
        });
        assert_eq!(
            cells("", "configmaps", &cm, now()),
            vec![json!("cfg"), json!(3), json!("10s")]
        );
        let secret = json!({"metadata": meta("s", "2024-05-01T11:00:00Z"), "type": "Opaque", "data": {"k": "dg=="}});
        assert_eq!(
            cells("", "secrets", &secret, now()),
            vec![json!("s"), json!("Opaque"), json!(1), json!("60m")]
        );
    }

    #[test]
    fn event_row() {
        assert_eq!(
            col_names("", "events", 0),
            ["Last Seen", "Type", "Reason", "Object", "Message"]
        );
        assert_eq!(
            col_names("", "events", 1),
            ["Subobject", "Source", "First Seen", "Count", "Name"]
        );
        let ev = json!({
            "metadata": meta("web-0.17a", "2024-05-01T11:00:00Z"),
            "involvedObject": {"kind": "Pod", "name": "web-0", "fieldPath": "spec.containers{a}"},
            "reason": "BackOff",
            "message": "Back-off restarting failed container \n",
            "type": "Warning",
            "source": {"component": "kubelet", "host": "n1"},
            "firstTimestamp": "2024-05-01T11:00:00Z",
            "lastTimestamp": "2024-05-01T11:58:00Z",
            "count": 7
        });
        assert_eq!(
            cells("", "events", &ev, now()),
            vec![
                json!("2m"),
                json!("Warning"),
                json!("BackOff"),
                json!("pod/web-0"),
                json!("spec.containers{a}"),
                json!("kubelet, n1"),
                json!("Back-off restarting failed container"),
                json!("60m"),
                json!(7),
                json!("web-0.17a")
            ]
        );
        // events.k8s.io objects and series-only events print through the same printer.
        let v1 = json!({
            "metadata": meta("e", "2024-05-01T11:00:00Z"),
            "regarding": {"kind": "Node", "name": "n1"},
            "note": "ok", "type": "Normal", "reason": "Ready",
            "eventTime": "2024-05-01T11:30:00.000000Z",
            "reportingController": "kubelet",
            "series": {"count": 3, "lastObservedTime": "2024-05-01T11:59:00.000000Z"}
        });
        let c = cells("events.k8s.io", "events", &v1, now());
        assert_eq!(c[0], json!("60s"));
        assert_eq!(c[3], json!("node/n1"));
        assert_eq!(c[5], json!("kubelet"));
        assert_eq!(c[6], json!("ok"));
        assert_eq!(c[7], json!("30m"));
        assert_eq!(c[8], json!(3));
    }

    #[test]
    fn unknown_resource_default_columns() {
        for (g, p) in [
            ("example.com", "widgets"),
            ("apiextensions.k8s.io", "customresourcedefinitions"),
            ("rbac.authorization.k8s.io", "roles"),
            ("", "limitranges"),
        ] {
            let cols = columns(g, p);
            assert_eq!(cols.len(), 2);
            assert_eq!(
                (cols[0].name, cols[0].type_, cols[0].format),
                ("Name", "string", "name")
            );
            assert_eq!((cols[1].name, cols[1].type_), ("Created At", "date"));
        }
        let o = json!({"metadata": meta("w", "2024-05-01T11:00:00.123Z")});
        assert_eq!(
            cells("x", "y", &o, now()),
            vec![json!("w"), json!("2024-05-01T11:00:00Z")]
        );
        assert_eq!(
            cells("x", "y", &json!({}), now()),
            vec![json!(""), json!("0001-01-01T00:00:00Z")]
        );
    }

    #[test]
    fn first_column_is_name_except_events() {
        for &(g, p) in PRINTED.iter().filter(|(_, p)| *p != "events") {
            assert_eq!(columns(g, p)[0], NAME, "{g}/{p}");
            // Every printer fills exactly its columns, even from an empty object.
            assert_eq!(
                cells(g, p, &json!({}), now()).len(),
                columns(g, p).len(),
                "{g}/{p}"
            );
        }
        assert_eq!(columns("", "events")[0].name, "Last Seen");
    }

    #[test]
    fn other_rows() {
        let job = json!({
            "metadata": meta("j", "2024-05-01T11:00:00Z"),
            "spec": {"completions": 3, "template": {"spec": {"containers": [{"name": "c", "image": "i"}]}},
                     "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "u"}}},
            "status": {"succeeded": 3, "startTime": "2024-05-01T11:00:00Z", "completionTime": "2024-05-01T11:02:30Z",
                       "conditions": [{"type": "Complete", "status": "True"}]}
        });
        assert_eq!(
            cells("batch", "jobs", &job, now())[1..4],
            [json!("Complete"), json!("3/3"), json!("2m30s")]
        );
        let cron = json!({"spec": {"schedule": "*/5 * * * *", "suspend": false}, "status": {"active": [{}]}});
        assert_eq!(
            cells("batch", "cronjobs", &cron, now())[1..6],
            [
                json!("*/5 * * * *"),
                json!("<none>"),
                json!("False"),
                json!(1),
                json!("<none>")
            ]
        );
        let node = json!({
            "metadata": {"name": "n1", "labels": {"node-role.kubernetes.io/control-plane": "", "kubernetes.io/role": "db"}},
            "spec": {"unschedulable": true},
            "status": {"conditions": [{"type": "Ready", "status": "False"}], "nodeInfo": {"kubeletVersion": "v1.35.0"},
                       "addresses": [{"type": "InternalIP", "address": "192.168.1.2"}]}
        });
        assert_eq!(
            cells("", "nodes", &node, now()),
            vec![
                json!("n1"),
                json!("NotReady,SchedulingDisabled"),
                json!("control-plane,db"),
                json!("<unknown>"),
                json!("v1.35.0"),
                json!("192.168.1.2"),
                json!("<none>"),
                json!("<unknown>"),
                json!("<unknown>"),
                json!("<unknown>")
            ]
        );
        let pvc = json!({"metadata": {"name": "data"}, "spec": {"volumeName": "pv1", "storageClassName": "fast"},
            "status": {"phase": "Bound", "capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteMany", "ReadWriteOnce"]}});
        assert_eq!(
            cells("", "persistentvolumeclaims", &pvc, now())[1..7],
            [
                json!("Bound"),
                json!("pv1"),
                json!("10Gi"),
                json!("RWO,RWX"),
                json!("fast"),
                json!("<unset>")
            ]
        );
        let hpa = json!({"spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "maxReplicas": 5,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]},
            "status": {"currentReplicas": 2, "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 12}}}]}});
        assert_eq!(
            cells("autoscaling", "horizontalpodautoscalers", &hpa, now())[1..6],
            [
                json!("Deployment/web"),
                json!("cpu: 12%/80%"),
                json!("<unset>"),
                json!(5),
                json!(2)
            ]
        );
        let quota = json!({"status": {"hard": {"limits.cpu": "2", "pods": "10", "requests.cpu": "1"},
                                      "used": {"pods": "3", "requests.cpu": "500m"}}});
        assert_eq!(
            cells("", "resourcequotas", &quota, now())[1..3],
            [
                json!("pods: 3/10, requests.cpu: 500m/1"),
                json!("limits.cpu: 0/2")
            ]
        );
        let pdb = json!({"spec": {"minAvailable": "50%"}, "status": {"disruptionsAllowed": 1}});
        assert_eq!(
            cells("policy", "poddisruptionbudgets", &pdb, now())[1..4],
            [json!("50%"), json!("N/A"), json!(1)]
        );
        let eps = json!({"subsets": [{"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}, {"ip": "fd00::1"}, {"ip": "10.0.0.4"}],
                                      "ports": [{"port": 8080}]}]});
        assert_eq!(
            cells("", "endpoints", &eps, now())[1],
            json!("10.0.0.1:8080,10.0.0.2:8080,[fd00::1]:8080 + 1 more...")
        );
        let slice = json!({"addressType": "IPv4", "ports": [{"port": 80}, {"name": "http"}], "endpoints": []});
        assert_eq!(
            cells("discovery.k8s.io", "endpointslices", &slice, now())[1..4],
            [json!("IPv4"), json!("80,http"), json!("<unset>")]
        );
        let rb = json!({"roleRef": {"kind": "ClusterRole", "name": "view"}, "subjects": [
            {"kind": "User", "name": "alice"}, {"kind": "ServiceAccount", "name": "sa", "namespace": "ns"}]});
        let c = cells("rbac.authorization.k8s.io", "rolebindings", &rb, now());
        assert_eq!(c[1], json!("ClusterRole/view"));
        assert_eq!(c[3..6], [json!("alice"), json!(""), json!("ns/sa")]);
        let sc = json!({"metadata": {"name": "std", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
                        "provisioner": "rancher.io/local-path"});
        assert_eq!(
            cells("storage.k8s.io", "storageclasses", &sc, now())[0..5],
            [
                json!("std (default)"),
                json!("rancher.io/local-path"),
                json!("Delete"),
                json!("Immediate"),
                json!(false)
            ]
        );
        let ing = json!({"spec": {"ingressClassName": "nginx", "rules": [{"host": "a.com"}, {}], "tls": [{}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}}});
        assert_eq!(
            cells("networking.k8s.io", "ingresses", &ing, now())[1..5],
            [
                json!("nginx"),
                json!("a.com"),
                json!("1.2.3.4"),
                json!("80, 443")
            ]
        );
        let np = json!({"spec": {}});
        assert_eq!(
            cells("networking.k8s.io", "networkpolicies", &np, now())[1],
            json!("<none>")
        );
    }

    #[test]
    fn include_object_modes() {
        let pod = json!({"kind": "Pod", "apiVersion": "v1", "metadata": meta("p", "2024-05-01T11:00:00Z"), "spec": {}});
        let list_meta = json!({"resourceVersion": "42", "continue": "tok"});

        let t = table(
            "",
            "pods",
            std::slice::from_ref(&pod),
            list_meta.clone(),
            "Metadata",
            now(),
        );
        assert_eq!(t["kind"], "Table");
        assert_eq!(t["apiVersion"], "meta.k8s.io/v1");
        assert_eq!(
            t["metadata"],
            json!({"resourceVersion": "42", "continue": "tok"})
        );
        assert_eq!(t["columnDefinitions"][0]["name"], "Name");
        assert_eq!(t["columnDefinitions"][0]["format"], "name");
        assert_eq!(t["columnDefinitions"][5]["priority"], 1);
        let object = &t["rows"][0]["object"];
        assert_eq!(object["kind"], "PartialObjectMetadata");
        assert_eq!(object["apiVersion"], "meta.k8s.io/v1");
        assert_eq!(object["metadata"], pod["metadata"]);
        assert!(object.get("spec").is_none());
        assert_eq!(t["rows"][0]["cells"][0], "p");

        // An empty value means the default (Metadata).
        assert_eq!(
            table(
                "",
                "pods",
                std::slice::from_ref(&pod),
                list_meta.clone(),
                "",
                now()
            ),
            t
        );

        let t = table(
            "",
            "pods",
            std::slice::from_ref(&pod),
            list_meta.clone(),
            "Object",
            now(),
        );
        assert_eq!(t["rows"][0]["object"], pod);

        let t = table(
            "",
            "pods",
            std::slice::from_ref(&pod),
            json!({"resourceVersion": "1"}),
            "None",
            now(),
        );
        assert_eq!(t["rows"][0]["object"], Value::Null);
        assert!(t["rows"][0].get("conditions").is_none());
        assert_eq!(t["metadata"], json!({"resourceVersion": "1"}));

        let empty = table(
            "example.com",
            "widgets",
            &[],
            Value::Null,
            "Metadata",
            now(),
        );
        assert_eq!(empty["rows"], json!([]));
        assert_eq!(empty["metadata"], json!({"resourceVersion": ""}));
        assert_eq!(empty["columnDefinitions"][1]["name"], "Created At");
    }

    #[test]
    fn hostile_input_does_not_panic() {
        let weird = [
            Value::Null,
            json!(7),
            json!("pod"),
            json!([1, 2]),
            json!({"metadata": 5, "spec": "x", "status": [1]}),
            json!({"metadata": {"name": 5, "creationTimestamp": "yesterday", "deletionTimestamp": 3, "labels": [1],
                                "annotations": "a", "ownerReferences": [{"controller": true, "apiVersion": 3}]},
                   "spec": {"containers": "c", "initContainers": [null, 5, {"name": 1}], "replicas": "3",
                            "selector": {"matchLabels": 5, "matchExpressions": [null, {"operator": 1}]},
                            "ports": [null, {"port": "x", "nodePort": 1e300}], "type": 5, "rules": [null],
                            "metrics": [null, {"type": "Resource"}, {"type": "External", "external": 3}, {"type": "Pods"}],
                            "completions": -1e300, "parallelism": "many", "capacity": [], "accessModes": [1],
                            "claimRef": "c", "scaleTargetRef": null, "minAvailable": {}, "template": []},
                   "status": {"phase": 1, "containerStatuses": [null, {"state": 5, "lastState": {"terminated": 1}}],
                              "initContainerStatuses": [{"state": {"terminated": {"exitCode": "x"}}}],
                              "conditions": "c", "podIPs": [null], "hard": {"limits.": null}, "used": 3,
                              "currentMetrics": [1], "loadBalancer": {"ingress": [null, 1]}},
                   "subsets": [null, {"addresses": [null], "ports": [null]}], "endpoints": [{"addresses": [1, null]}],
                   "series": {"count": "x"}, "involvedObject": 1, "data": {"k": null}, "webhooks": {}}),
        ];
        for &(g, p) in PRINTED.iter().chain(&[("x", "y")]) {
            for w in &weird {
                let c = cells(g, p, w, now());
                assert_eq!(c.len(), columns(g, p).len(), "{g}/{p} {w}");
                let _ = table(g, p, std::slice::from_ref(w), w.clone(), "Metadata", now());
            }
        }
    }
}
