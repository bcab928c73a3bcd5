//! Services: defaults, ports, and the cluster IP reserved in the store.

use serde_json::{json, Value};

use super::{immutable, set, set_default, FieldLabel, NameRule, Reservation, Strategy};
use crate::status::Cause;

pub struct Services;
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
    fn default(&self, obj: &mut Value) {
        set_default(obj, &["spec", "type"], json!("ClusterIP"));
        set_default(obj, &["spec", "sessionAffinity"], json!("None"));
        set_default(obj, &["spec", "internalTrafficPolicy"], json!("Cluster"));
        if let Some(ports) = obj.pointer_mut("/spec/ports").and_then(Value::as_array_mut) {
            for p in ports {
                set_default(p, &["protocol"], json!("TCP"));
                if let Some(port) = p.get("port").cloned() {
                    set_default(p, &["targetPort"], port);
                }
            }
        }
    }
    fn prepare_for_create(&self, obj: &mut Value) {
        set_default(obj, &["spec", "ipFamilies"], json!(["IPv4"]));
        set_default(obj, &["spec", "ipFamilyPolicy"], json!("SingleStack"));
        set(obj, &["status"], json!({ "loadBalancer": {} }));
    }
    fn prepare_for_update(&self, new: &mut Value, old: &Value) {
        // An update that leaves the cluster IP (or the families) out keeps them.
        for field in ["clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"] {
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
        let ports = ports.map(Vec::as_slice).unwrap_or_default();
        let mut names = std::collections::HashSet::new();
        let mut port_protocols = std::collections::HashSet::new();
        for (i, p) in ports.iter().enumerate() {
            let name = p.get("name").and_then(Value::as_str).unwrap_or("");
            if name.is_empty() && ports.len() > 1 {
                causes.push(Cause::required(format!("spec.ports[{i}].name")));
            } else if !name.is_empty() && !names.insert(name) {
                causes.push(Cause::duplicate(
                    format!("spec.ports[{i}].name"),
                    &json!(name),
                ));
            }
            let port = p.get("port").and_then(Value::as_i64).unwrap_or(0);
            if !(1..=65535).contains(&port) {
                causes.push(Cause::invalid(
                    format!("spec.ports[{i}].port"),
                    port,
                    "must be between 1 and 65535, inclusive",
                ));
            }
            let protocol = p.get("protocol").and_then(Value::as_str).unwrap_or("");
            if !port_protocols.insert((port, protocol)) {
                causes.push(Cause::duplicate(
                    format!("spec.ports[{i}]"),
                    &json!({"Name": "", "Protocol": protocol, "AppProtocol": null, "Port": port, "TargetPort": 0, "NodePort": 0}),
                ));
            }
        }
    }
    fn field_labels(&self) -> &'static [FieldLabel] {
        const LABELS: &[FieldLabel] = &[
            FieldLabel::field("spec.clusterIP"),
            FieldLabel::field("spec.type"),
        ];
        LABELS
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
