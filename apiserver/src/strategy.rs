//! Per-resource behaviour the generic registry asks for: defaults, validation, immutable
//! fields, extra field selectors, and store reservations (a Service's cluster IP).
//! Everything not overridden is the generic behaviour of [`Strategy`]'s defaults.

use serde_json::{json, Map, Value};

use crate::status::Cause;

/// Which name format a kind requires.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum NameRule {
    /// RFC 1123 subdomain: lower-case alphanumerics, `-` and `.`, at most 253 characters.
    Subdomain,
    /// RFC 1123 label: lower-case alphanumerics and `-`, at most 63 characters.
    Label,
    /// RFC 1035 label: a label that starts with a letter (Services).
    Rfc1035Label,
}

/// A store key that must not exist yet and is written with the object, such as the
/// `IPAddress` that holds a Service's cluster IP.
pub struct Reservation {
    pub key: String,
    pub value: Value,
}

/// What is special about one resource. The defaults are the generic behaviour.
pub trait Strategy: Send + Sync {
    fn name_rule(&self) -> NameRule {
        NameRule::Subdomain
    }
    /// Sets defaults on a new object (after the generic metadata has been set).
    fn prepare_for_create(&self, _obj: &mut Value) {}
    /// Carries over what an update may not change (after the generic status split).
    fn prepare_for_update(&self, _new: &mut Value, _old: &Value) {}
    fn validate(&self, _obj: &Value, _causes: &mut Vec<Cause>) {}
    fn validate_update(&self, _new: &Value, _old: &Value, _causes: &mut Vec<Cause>) {}
    /// Field selector labels beyond `metadata.name` and `metadata.namespace`.
    fn field_labels(&self) -> &'static [&'static str] {
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
    /// Whether deleting the object only marks it (it waits for a controller or the node).
    fn graceful_delete(&self, _obj: &Value) -> bool {
        false
    }
    /// Finalizers outside `metadata.finalizers` that hold a deleted object (a namespace's
    /// `spec.finalizers`).
    fn pending_finalizers(&self, _obj: &Value) -> bool {
        false
    }
}

/// The strategy of a resource.
pub fn of(group: &str, plural: &str) -> &'static dyn Strategy {
    match (group, plural) {
        ("", "namespaces") => &Namespaces,
        ("", "pods") => &Pods,
        ("", "services") => &Services,
        ("", "configmaps") => &ImmutableData { kind: "ConfigMap" },
        ("", "secrets") => &Secrets,
        ("", "events") => &CoreEvents,
        ("", "nodes") => &Nodes,
        ("apps", "deployments") => &Workloads {
            defaults: deployment_defaults,
        },
        ("apps", "replicasets") | ("apps", "statefulsets") | ("apps", "daemonsets") => &Workloads {
            defaults: no_defaults,
        },
        ("batch", "jobs") => &Jobs,
        _ => &Generic,
    }
}

struct Generic;
impl Strategy for Generic {}

fn no_defaults(_: &mut Value) {}

fn set_default(obj: &mut Value, path: &[&str], value: Value) {
    let mut node = obj;
    for (i, key) in path.iter().enumerate() {
        let Some(map) = node.as_object_mut() else {
            return;
        };
        if i == path.len() - 1 {
            map.entry(key.to_string()).or_insert(value);
            return;
        }
        node = map
            .entry(key.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
    }
}

fn immutable(new: &Value, old: &Value, pointer: &str, field: &str, causes: &mut Vec<Cause>) {
    let a = new.pointer(pointer).unwrap_or(&Value::Null);
    let b = old.pointer(pointer).unwrap_or(&Value::Null);
    if a != b {
        causes.push(Cause::immutable(field, a));
    }
}

struct Namespaces;
impl Strategy for Namespaces {
    fn name_rule(&self) -> NameRule {
        NameRule::Label
    }
    fn prepare_for_create(&self, obj: &mut Value) {
        obj["status"] = json!({ "phase": "Active" });
        set_default(obj, &["spec", "finalizers"], json!(["kubernetes"]));
        // Upstream labels every namespace with its own name.
        let name = obj
            .pointer("/metadata/name")
            .cloned()
            .unwrap_or(Value::Null);
        set_default(obj, &["metadata", "labels"], json!({}));
        if let Some(labels) = obj
            .pointer_mut("/metadata/labels")
            .and_then(Value::as_object_mut)
        {
            labels.insert("kubernetes.io/metadata.name".into(), name);
        }
    }
    fn prepare_for_update(&self, new: &mut Value, old: &Value) {
        // spec.finalizers change only through the finalize subresource.
        if let Some(finalizers) = old.pointer("/spec/finalizers") {
            new["spec"] = json!({ "finalizers": finalizers });
        }
    }
    fn field_labels(&self) -> &'static [&'static str] {
        &["status.phase"]
    }
    fn pending_finalizers(&self, obj: &Value) -> bool {
        obj.pointer("/spec/finalizers")
            .and_then(Value::as_array)
            .is_some_and(|f| !f.is_empty())
    }
}

struct Pods;
impl Strategy for Pods {
    fn prepare_for_create(&self, obj: &mut Value) {
        obj["status"] = json!({ "phase": "Pending", "qosClass": "BestEffort" });
        for (path, value) in [
            (&["spec", "restartPolicy"][..], json!("Always")),
            (&["spec", "dnsPolicy"][..], json!("ClusterFirst")),
            (&["spec", "schedulerName"][..], json!("default-scheduler")),
            (&["spec", "terminationGracePeriodSeconds"][..], json!(30)),
            (&["spec", "securityContext"][..], json!({})),
            (&["spec", "enableServiceLinks"][..], json!(true)),
            (&["spec", "serviceAccountName"][..], json!("default")),
        ] {
            set_default(obj, path, value);
        }
        for list in ["initContainers", "containers"] {
            let Some(containers) = obj
                .pointer_mut(&format!("/spec/{list}"))
                .and_then(Value::as_array_mut)
            else {
                continue;
            };
            for c in containers {
                let image = c.get("image").and_then(Value::as_str).unwrap_or("");
                let latest = !image.contains(':') || image.ends_with(":latest");
                let policy = if latest { "Always" } else { "IfNotPresent" };
                set_default(c, &["imagePullPolicy"], json!(policy));
                set_default(
                    c,
                    &["terminationMessagePath"],
                    json!("/dev/termination-log"),
                );
                set_default(c, &["terminationMessagePolicy"], json!("File"));
                set_default(c, &["resources"], json!({}));
            }
        }
    }
    fn validate(&self, obj: &Value, causes: &mut Vec<Cause>) {
        validate_pod_spec(obj.get("spec"), "spec", causes);
    }
    fn validate_update(&self, new: &Value, old: &Value, causes: &mut Vec<Cause>) {
        // Only images (and a few scheduling fields) of a pod may change.
        let strip = |v: &Value| {
            let mut spec = v.get("spec").cloned().unwrap_or(Value::Null);
            for list in ["containers", "initContainers"] {
                if let Some(cs) = spec.get_mut(list).and_then(Value::as_array_mut) {
                    for c in cs {
                        if let Some(c) = c.as_object_mut() {
                            c.remove("image");
                        }
                    }
                }
            }
            if let Some(s) = spec.as_object_mut() {
                for field in [
                    "activeDeadlineSeconds",
                    "tolerations",
                    "terminationGracePeriodSeconds",
                ] {
                    s.remove(field);
                }
            }
            spec
        };
        if strip(new) != strip(old) {
            causes.push(Cause::forbidden(
                "spec",
                "pod updates may not change fields other than `spec.containers[*].image`, `spec.initContainers[*].image`, `spec.activeDeadlineSeconds`, `spec.tolerations` (only additions to existing tolerations) or `spec.terminationGracePeriodSeconds`",
            ));
        }
    }
    fn field_labels(&self) -> &'static [&'static str] {
        &[
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        ]
    }
    fn graceful_delete(&self, obj: &Value) -> bool {
        // A pod on a node stops there first; an unscheduled one has nothing to stop.
        obj.pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .is_some_and(|n| !n.is_empty())
    }
}

fn validate_pod_spec(spec: Option<&Value>, at: &str, causes: &mut Vec<Cause>) {
    let containers = spec
        .and_then(|s| s.get("containers"))
        .and_then(Value::as_array);
    match containers {
        None => causes.push(Cause::required(format!("{at}.containers"))),
        Some(cs) if cs.is_empty() => causes.push(Cause::required(format!("{at}.containers"))),
        Some(cs) => {
            let mut seen = std::collections::HashSet::new();
            for (i, c) in cs.iter().enumerate() {
                match c.get("name").and_then(Value::as_str) {
                    None | Some("") => {
                        causes.push(Cause::required(format!("{at}.containers[{i}].name")))
                    }
                    Some(n) => {
                        if !seen.insert(n) {
                            causes.push(Cause {
                                reason: "FieldValueDuplicate",
                                field: format!("{at}.containers[{i}].name"),
                                message: format!("Duplicate value: \"{n}\""),
                            });
                        }
                    }
                }
                if c.get("image")
                    .and_then(Value::as_str)
                    .is_none_or(str::is_empty)
                {
                    causes.push(Cause::required(format!("{at}.containers[{i}].image")));
                }
            }
        }
    }
}

struct Services;
/// The service cluster IP range, upstream's default `--service-cluster-ip-range`.
pub const SERVICE_CIDR: (u32, u32) = (0x0A60_0000, 12); // 10.96.0.0/12

/// The cluster IP of the `kubernetes` Service: the first address of the range.
pub fn first_service_ip() -> String {
    ip_string(SERVICE_CIDR.0 + 1)
}

fn ip_string(ip: u32) -> String {
    std::net::Ipv4Addr::from(ip).to_string()
}

impl Strategy for Services {
    fn name_rule(&self) -> NameRule {
        NameRule::Rfc1035Label
    }
    fn prepare_for_create(&self, obj: &mut Value) {
        set_default(obj, &["spec", "type"], json!("ClusterIP"));
        set_default(obj, &["spec", "sessionAffinity"], json!("None"));
        set_default(obj, &["spec", "internalTrafficPolicy"], json!("Cluster"));
        set_default(obj, &["spec", "ipFamilies"], json!(["IPv4"]));
        set_default(obj, &["spec", "ipFamilyPolicy"], json!("SingleStack"));
        obj["status"] = json!({ "loadBalancer": {} });
        if let Some(ports) = obj.pointer_mut("/spec/ports").and_then(Value::as_array_mut) {
            for p in ports {
                set_default(p, &["protocol"], json!("TCP"));
                if let Some(port) = p.get("port").cloned() {
                    set_default(p, &["targetPort"], port);
                }
            }
        }
    }
    fn prepare_for_update(&self, new: &mut Value, old: &Value) {
        // An update that leaves the cluster IP out keeps it.
        for field in ["clusterIP", "clusterIPs"] {
            if new.pointer(&format!("/spec/{field}")).is_none() {
                if let (Some(v), Some(spec)) = (
                    old.pointer(&format!("/spec/{field}")),
                    new.get_mut("spec").and_then(Value::as_object_mut),
                ) {
                    spec.insert(field.into(), v.clone());
                }
            }
        }
    }
    fn validate(&self, obj: &Value, causes: &mut Vec<Cause>) {
        let kind = obj
            .pointer("/spec/type")
            .and_then(Value::as_str)
            .unwrap_or("ClusterIP");
        let headless = obj.pointer("/spec/clusterIP").and_then(Value::as_str) == Some("None");
        let ports = obj.pointer("/spec/ports").and_then(Value::as_array);
        if kind != "ExternalName" && !headless && ports.is_none_or(|p| p.is_empty()) {
            causes.push(Cause::required("spec.ports"));
        }
        for (i, p) in ports.into_iter().flatten().enumerate() {
            let port = p.get("port").and_then(Value::as_i64).unwrap_or(0);
            if !(1..=65535).contains(&port) {
                causes.push(Cause::invalid(
                    format!("spec.ports[{i}].port"),
                    port,
                    "must be between 1 and 65535, inclusive",
                ));
            }
        }
    }
    fn validate_update(&self, new: &Value, old: &Value, causes: &mut Vec<Cause>) {
        immutable(new, old, "/spec/clusterIP", "spec.clusterIP", causes);
    }
    fn reservations(&self, obj: &mut Value, attempt: u32) -> Vec<Reservation> {
        let kind = obj
            .pointer("/spec/type")
            .and_then(Value::as_str)
            .unwrap_or("ClusterIP");
        let requested = obj
            .pointer("/spec/clusterIP")
            .and_then(Value::as_str)
            .map(str::to_string);
        let ip = match requested.as_deref() {
            Some("None") => return Vec::new(),
            _ if kind == "ExternalName" => return Vec::new(),
            Some(ip) if !ip.is_empty() => ip.to_string(),
            _ => {
                // A random address past the first, which the `kubernetes` Service holds;
                // a collision makes the registry retry with the next attempt.
                let (base, bits) = SERVICE_CIDR;
                let size = 1u32 << (32 - bits);
                let offset = 2 + (uuid::Uuid::new_v4().as_u128() as u32 ^ attempt) % (size - 3);
                ip_string(base + offset)
            }
        };
        if let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) {
            spec.insert("clusterIP".into(), json!(ip));
            spec.insert("clusterIPs".into(), json!([ip]));
        }
        let namespace = obj
            .pointer("/metadata/namespace")
            .cloned()
            .unwrap_or(Value::Null);
        let name = obj
            .pointer("/metadata/name")
            .cloned()
            .unwrap_or(Value::Null);
        vec![Reservation {
            key: format!("/registry/ipaddresses/{ip}"),
            value: json!({
                "apiVersion": "networking.k8s.io/v1",
                "kind": "IPAddress",
                "metadata": { "name": ip, "labels": { "ipaddress.kubernetes.io/managed-by": "ipallocator.k8s.io" } },
                "spec": { "parentRef": { "group": "", "resource": "services", "namespace": namespace, "name": name } },
            }),
        }]
    }
    fn released_keys(&self, obj: &Value) -> Vec<String> {
        obj.pointer("/spec/clusterIP")
            .and_then(Value::as_str)
            .filter(|ip| !ip.is_empty() && *ip != "None")
            .map(|ip| vec![format!("/registry/ipaddresses/{ip}")])
            .unwrap_or_default()
    }
}

/// ConfigMaps and Secrets: `immutable: true` freezes `data` and `binaryData`.
struct ImmutableData {
    kind: &'static str,
}
impl Strategy for ImmutableData {
    fn validate_update(&self, new: &Value, old: &Value, causes: &mut Vec<Cause>) {
        validate_immutable_data(self.kind, new, old, causes);
    }
}

fn validate_immutable_data(_kind: &str, new: &Value, old: &Value, causes: &mut Vec<Cause>) {
    if old.get("immutable") != Some(&Value::Bool(true)) {
        return;
    }
    if new.get("immutable") != Some(&Value::Bool(true)) {
        causes.push(Cause::forbidden(
            "immutable",
            "field is immutable when `immutable` is set",
        ));
    }
    for field in ["data", "binaryData", "stringData"] {
        if new.get(field) != old.get(field) {
            causes.push(Cause::forbidden(
                field,
                "field is immutable when `immutable` is set",
            ));
        }
    }
}

struct Secrets;
impl Strategy for Secrets {
    fn prepare_for_create(&self, obj: &mut Value) {
        set_default(obj, &["type"], json!("Opaque"));
    }
    fn validate_update(&self, new: &Value, old: &Value, causes: &mut Vec<Cause>) {
        validate_immutable_data("Secret", new, old, causes);
        immutable(new, old, "/type", "type", causes);
    }
    fn field_labels(&self) -> &'static [&'static str] {
        &["type"]
    }
}

struct CoreEvents;
impl Strategy for CoreEvents {
    fn field_labels(&self) -> &'static [&'static str] {
        &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ]
    }
}

struct Nodes;
impl Strategy for Nodes {
    fn field_labels(&self) -> &'static [&'static str] {
        &["spec.unschedulable"]
    }
}

/// Deployments, ReplicaSets, StatefulSets, DaemonSets: a required selector that matches
/// the template's labels and may not change.
struct Workloads {
    defaults: fn(&mut Value),
}
impl Strategy for Workloads {
    fn prepare_for_create(&self, obj: &mut Value) {
        (self.defaults)(obj);
    }
    fn validate(&self, obj: &Value, causes: &mut Vec<Cause>) {
        validate_selector_matches_template(obj, causes);
        validate_pod_spec(
            obj.pointer("/spec/template/spec"),
            "spec.template.spec",
            causes,
        );
    }
    fn validate_update(&self, new: &Value, old: &Value, causes: &mut Vec<Cause>) {
        immutable(new, old, "/spec/selector", "spec.selector", causes);
    }
}

fn deployment_defaults(obj: &mut Value) {
    set_default(obj, &["spec", "replicas"], json!(1));
    set_default(obj, &["spec", "revisionHistoryLimit"], json!(10));
    set_default(obj, &["spec", "progressDeadlineSeconds"], json!(600));
    set_default(
        obj,
        &["spec", "strategy"],
        json!({ "type": "RollingUpdate", "rollingUpdate": { "maxUnavailable": "25%", "maxSurge": "25%" } }),
    );
}

fn validate_selector_matches_template(obj: &Value, causes: &mut Vec<Cause>) {
    let Some(selector) = obj.pointer("/spec/selector") else {
        causes.push(Cause::required("spec.selector"));
        return;
    };
    let parsed = match crate::selectors::LabelSelector::from_json(selector) {
        Ok(s) => s,
        Err(e) => {
            causes.push(Cause::invalid("spec.selector", selector, &e.to_string()));
            return;
        }
    };
    if parsed.is_empty() {
        causes.push(Cause::invalid(
            "spec.selector",
            selector,
            "empty selector is invalid for deployment",
        ));
        return;
    }
    let empty = Map::new();
    let labels = obj
        .pointer("/spec/template/metadata/labels")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    if !parsed.matches(labels) {
        causes.push(Cause::invalid(
            "spec.template.metadata.labels",
            Value::Object(labels.clone()),
            "`selector` does not match template `labels`",
        ));
    }
}

struct Jobs;
impl Strategy for Jobs {
    fn prepare_for_create(&self, obj: &mut Value) {
        set_default(obj, &["spec", "parallelism"], json!(1));
        set_default(obj, &["spec", "completions"], json!(1));
        set_default(obj, &["spec", "backoffLimit"], json!(6));
        set_default(obj, &["spec", "completionMode"], json!("NonIndexed"));
        set_default(obj, &["spec", "suspend"], json!(false));
    }
    fn validate(&self, obj: &Value, causes: &mut Vec<Cause>) {
        validate_pod_spec(
            obj.pointer("/spec/template/spec"),
            "spec.template.spec",
            causes,
        );
    }
    fn validate_update(&self, new: &Value, old: &Value, causes: &mut Vec<Cause>) {
        immutable(new, old, "/spec/selector", "spec.selector", causes);
        immutable(new, old, "/spec/template", "spec.template", causes);
    }
}
