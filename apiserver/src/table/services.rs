//! Printers of how traffic reaches pods: services, endpoints, endpoint slices, ingresses,
//! ingress classes and network policies.

use std::collections::BTreeSet;

use jiff::Timestamp;
use serde_json::{json, Value};

use super::cells::*;
use super::{col, wide, Column, Printer, AGE, NAME};

// The column tables are exempt from rustfmt so each column stays on one line.

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

/// `v1/services`.
pub struct Services;

impl Printer for Services {
    fn columns(&self) -> &'static [Column] {
        SERVICE_COLUMNS
    }

    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        service_cells(obj, now)
    }
}

/// `v1/endpoints`.
pub struct Endpoints;

impl Printer for Endpoints {
    fn columns(&self) -> &'static [Column] {
        ENDPOINTS_COLUMNS
    }

    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        vec![name(obj), json!(format_endpoints(obj)), age(obj, now)]
    }
}

/// `discovery.k8s.io/v1/endpointslices`.
pub struct EndpointSlices;

impl Printer for EndpointSlices {
    fn columns(&self) -> &'static [Column] {
        ENDPOINT_SLICE_COLUMNS
    }

    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        endpoint_slice_cells(obj, now)
    }
}

/// `networking.k8s.io/v1/ingresses`.
pub struct Ingresses;

impl Printer for Ingresses {
    fn columns(&self) -> &'static [Column] {
        INGRESS_COLUMNS
    }

    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        ingress_cells(obj, now)
    }
}

/// `networking.k8s.io/v1/ingressclasses`.
pub struct IngressClasses;

impl Printer for IngressClasses {
    fn columns(&self) -> &'static [Column] {
        INGRESS_CLASS_COLUMNS
    }

    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        ingress_class_cells(obj, now)
    }
}

/// `networking.k8s.io/v1/networkpolicies`.
pub struct NetworkPolicies;

impl Printer for NetworkPolicies {
    fn columns(&self) -> &'static [Column] {
        NETWORK_POLICY_COLUMNS
    }

    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        vec![
            name(obj),
            // podSelector is a struct, never nil, so an absent one is the empty selector.
            json!(format_label_selector(Some(
                at(obj, &["spec", "podSelector"]).unwrap_or(&json!({}))
            ))),
            age(obj, now),
        ]
    }
}

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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::table::testing::*;

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
    fn endpoints_ingress_and_policy_rows() {
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
}
