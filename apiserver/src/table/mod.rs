//! Server-side printing: turns stored objects into `meta.k8s.io/v1` Table rows.
//!
//! `kubectl get` asks for `Accept: application/json;as=Table;v=v1;g=meta.k8s.io` and prints
//! whatever columns the server returns, so the columns and cell values here follow upstream
//! Kubernetes v1.35's built-in printers (`pkg/printers/internalversion`). Like upstream, the
//! server always produces the wide cells; kubectl hides priority-1 columns unless `-o wide`.
//!
//! Each built-in resource with a dedicated printer has a [`Printer`] in the module of its
//! family (`pods`, `workloads`, `services`, ...); [`printer_of`] binds a resource to its
//! printer once, when the built-in descriptors are made, and a request only ever calls the
//! descriptor's printer. Resources without a printer (roles, limit ranges, ...) get
//! [`DefaultPrinter`], upstream's default convertor: `Name` plus a `Created At` date.
//!
//! Objects arrive as untyped JSON that may be incomplete or malformed, so every accessor
//! (in `cells`) falls back to the value upstream prints for an absent field instead of failing.

mod autoscaling;
mod batch;
mod cells;
mod cluster;
mod config;
mod custom;
mod events;
mod nodes;
mod pods;
mod policy;
mod rbac;
mod services;
mod storage;
mod workloads;

use jiff::Timestamp;
use serde_json::{json, Map, Value};

use cells::{name, timestamp};

pub use cells::human_duration;
pub(crate) use cells::human_signed;
pub use custom::{custom_table, CustomColumn, JsonPath};

/// The Table printer of one resource: its columns, and the cells (and row condition) of
/// one object.
pub trait Printer: Send + Sync {
    /// The column definitions, in cell order.
    fn columns(&self) -> &'static [Column];

    /// The cells of one row, in column order. `now` is the time ages are measured to (so
    /// tests are deterministic).
    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value>;

    /// The row's condition, if any (upstream's row `conditions`, which hold at most one).
    fn row_condition(&self, _obj: &Value) -> Option<Value> {
        None
    }
}

/// The printer of a built-in resource, by its group and plural (`""`, `"pods"`); resources
/// without a dedicated printer get [`DefaultPrinter`]. Called once per resource, when the
/// built-in descriptors are made.
pub fn printer_of(group: &str, plural: &str) -> &'static dyn Printer {
    match (group, plural) {
        ("", "pods") => &pods::Pods,
        ("", "podtemplates") => &pods::PodTemplates,
        ("apps", "deployments") => &workloads::Deployments,
        ("apps", "replicasets") => &workloads::ReplicaSets,
        ("apps", "statefulsets") => &workloads::StatefulSets,
        ("apps", "daemonsets") => &workloads::DaemonSets,
        ("apps", "controllerrevisions") => &workloads::ControllerRevisions,
        ("", "replicationcontrollers") => &workloads::ReplicationControllers,
        ("batch", "jobs") => &batch::Jobs,
        ("batch", "cronjobs") => &batch::CronJobs,
        ("", "services") => &services::Services,
        ("", "endpoints") => &services::Endpoints,
        ("discovery.k8s.io", "endpointslices") => &services::EndpointSlices,
        ("networking.k8s.io", "ingresses") => &services::Ingresses,
        ("networking.k8s.io", "ingressclasses") => &services::IngressClasses,
        ("networking.k8s.io", "networkpolicies") => &services::NetworkPolicies,
        ("", "configmaps") => &config::ConfigMaps,
        ("", "secrets") => &config::Secrets,
        ("", "nodes") => &nodes::Nodes,
        ("coordination.k8s.io", "leases") => &nodes::Leases,
        ("node.k8s.io", "runtimeclasses") => &nodes::RuntimeClasses,
        ("", "events") => &events::CoreEvents,
        // events.k8s.io shares core's event storage and printer, under other field names.
        ("events.k8s.io", "events") => &events::EventsV1Events,
        ("", "persistentvolumes") => &storage::PersistentVolumes,
        ("", "persistentvolumeclaims") => &storage::PersistentVolumeClaims,
        ("storage.k8s.io", "storageclasses") => &storage::StorageClasses,
        ("", "serviceaccounts") => &rbac::ServiceAccounts,
        ("rbac.authorization.k8s.io", "rolebindings" | "clusterrolebindings") => {
            &rbac::RoleBindings
        }
        ("policy", "poddisruptionbudgets") => &policy::PodDisruptionBudgets,
        ("", "resourcequotas") => &policy::ResourceQuotas,
        ("autoscaling", "horizontalpodautoscalers") => &autoscaling::HorizontalPodAutoscalers,
        ("", "namespaces") => &cluster::Namespaces,
        ("scheduling.k8s.io", "priorityclasses") => &cluster::PriorityClasses,
        (
            "admissionregistration.k8s.io",
            "mutatingwebhookconfigurations" | "validatingwebhookconfigurations",
        ) => &cluster::WebhookConfigurations,
        _ => &DefaultPrinter,
    }
}

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

/// Upstream's default table convertor, for resources without a printer: `Name` and
/// `Created At` (type `date`), which is what `kubectl get` shows for roles, limit ranges and
/// resources without printer columns.
pub struct DefaultPrinter;

impl Printer for DefaultPrinter {
    fn columns(&self) -> &'static [Column] {
        DEFAULT_COLUMNS
    }

    fn cells(&self, o: &Value, _now: Timestamp) -> Vec<Value> {
        // The default convertor prints the raw timestamp; Go's zero time when unset.
        let created = timestamp(o, &["metadata", "creationTimestamp"]).map_or_else(
            || "0001-01-01T00:00:00Z".to_string(),
            |t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        );
        vec![name(o), json!(created)]
    }
}

/// A whole Table JSON: `{"kind":"Table","apiVersion":"meta.k8s.io/v1","metadata":{resourceVersion, continue?},"columnDefinitions":[{name,type,format,description,priority}],"rows":[{"cells":[...],"object":OBJECT_OR_ITS_METADATA}]}`
/// `include_object`: "None" | "Metadata" (default: object is a PartialObjectMetadata {kind:"PartialObjectMetadata", apiVersion:"meta.k8s.io/v1", metadata}) | "Object" (the full object), as upstream's `includeObject` query parameter.
///
/// For a single-object GET pass `{"resourceVersion": <the object's>}` as `list_meta`, as
/// upstream does. Unrecognised `include_object` values are treated as the default; rejecting
/// them with 400 (as upstream does) is the caller's job.
pub fn table(
    printer: &dyn Printer,
    objects: &[Value],
    list_meta: Value,
    include_object: &str,
    now: Timestamp,
) -> Value {
    build(
        printer.columns(),
        objects,
        list_meta,
        include_object,
        |obj, row| {
            row.insert("cells".into(), Value::Array(printer.cells(obj, now)));
            if let Some(cond) = printer.row_condition(obj) {
                row.insert("conditions".into(), json!([cond]));
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

/// What the tests of every printer share: the printer of a resource by name, and fixtures.
#[cfg(test)]
pub(crate) mod testing {
    use super::{printer_of, Column};
    use jiff::Timestamp;
    use serde_json::{json, Value};

    pub fn now() -> Timestamp {
        "2024-05-01T12:00:00Z".parse().unwrap()
    }

    pub fn meta(name: &str, created: &str) -> Value {
        json!({"name": name, "namespace": "default", "creationTimestamp": created, "resourceVersion": "7"})
    }

    pub fn columns(group: &str, plural: &str) -> &'static [Column] {
        printer_of(group, plural).columns()
    }

    pub fn cells(group: &str, plural: &str, obj: &Value, now: Timestamp) -> Vec<Value> {
        printer_of(group, plural).cells(obj, now)
    }

    pub fn col_names(group: &str, plural: &str, priority: i32) -> Vec<&'static str> {
        columns(group, plural)
            .iter()
            .filter(|c| c.priority == priority)
            .map(|c| c.name)
            .collect()
    }

    pub fn table(
        group: &str,
        plural: &str,
        objects: &[Value],
        list_meta: Value,
        include_object: &str,
        now: Timestamp,
    ) -> Value {
        super::table(
            printer_of(group, plural),
            objects,
            list_meta,
            include_object,
            now,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{cells, columns, meta, now, table};
    use super::*;

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
