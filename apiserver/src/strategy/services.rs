//! Services: defaults, upstream's validation (ports, selector, session affinity, types,
//! cluster IPs and families, external IPs, traffic policies), and the cluster IP reserved
//! in the store.

use serde_json::{json, Value};

use super::rules::{
    int, list, one_of, optional_one_of, port_number, port_number_or_name, text, PROTOCOLS,
};
use super::{
    immutable, set, set_default, set_default_if_empty, FieldLabel, NameRule, Reservation, Strategy,
};
use crate::status::Cause;
use crate::validation::{
    dns1123_label_errors, dns1123_subdomain_errors, label_key_errors, parse_cidr_sloppy,
    parse_ip_sloppy, push_invalid, validate_labels, INVALID_CIDR, INVALID_IP,
};

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

/// The Service types, sorted as upstream lists them.
const TYPES: &[&str] = &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"];
const TRAFFIC_POLICIES: &[&str] = &["Cluster", "Local"];
/// Upstream's default `--service-node-port-range`.
const NODE_PORTS: std::ops::RangeInclusive<i64> = 30000..=32767;
const SOURCE_RANGES_ANNOTATION: &str = "service.beta.kubernetes.io/load-balancer-source-ranges";

fn service_type(obj: &Value) -> &str {
    text(obj.get("spec"), "type")
}

/// `clusterIPs` is exactly `["None"]`.
fn is_headless(spec: Option<&Value>) -> bool {
    matches!(list(spec, "clusterIPs"), [only] if only.as_str() == Some("None"))
}

/// LoadBalancer, NodePort, or ClusterIP with external IPs (`apiservice.ExternallyAccessible`).
fn externally_accessible(spec: Option<&Value>) -> bool {
    match text(spec, "type") {
        "LoadBalancer" | "NodePort" => true,
        "ClusterIP" => !list(spec, "externalIPs").is_empty(),
        _ => false,
    }
}

/// The family of a cluster IP, for inferring `ipFamilies`.
fn family(ip: &str) -> Option<&'static str> {
    parse_ip_sloppy(ip).map(|ip| if ip.is_ipv4() { "IPv4" } else { "IPv6" })
}

impl Strategy for Services {
    fn name_rule(&self) -> NameRule {
        NameRule::Rfc1035Label
    }
    fn default(&self, obj: &mut Value) {
        set_default_if_empty(obj, &["spec", "type"], json!("ClusterIP"));
        set_default_if_empty(obj, &["spec", "sessionAffinity"], json!("None"));
        let spec = obj.get("spec");
        let kind = text(spec, "type").to_string();
        let affinity = text(spec, "sessionAffinity").to_string();
        let external = externally_accessible(spec);
        if let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) {
            match affinity.as_str() {
                "None" => {
                    spec.shift_remove("sessionAffinityConfig");
                }
                "ClientIP"
                    if spec
                        .get("sessionAffinityConfig")
                        .and_then(|c| c.pointer("/clientIP/timeoutSeconds"))
                        .is_none_or(Value::is_null) =>
                {
                    spec.insert(
                        "sessionAffinityConfig".into(),
                        json!({"clientIP": {"timeoutSeconds": 10800}}),
                    );
                }
                _ => {}
            }
        }
        if let Some(ports) = obj.pointer_mut("/spec/ports").and_then(Value::as_array_mut) {
            for p in ports {
                set_default_if_empty(p, &["protocol"], json!("TCP"));
                let unset = match p.get("targetPort") {
                    None | Some(Value::Null) => true,
                    Some(Value::String(s)) => s.is_empty(),
                    Some(v) => v.as_i64() == Some(0),
                };
                if let (true, Some(port)) = (unset, p.get("port").cloned()) {
                    set(p, &["targetPort"], port);
                }
            }
        }
        if external {
            set_default_if_empty(obj, &["spec", "externalTrafficPolicy"], json!("Cluster"));
        }
        if matches!(kind.as_str(), "ClusterIP" | "NodePort" | "LoadBalancer") {
            set_default(obj, &["spec", "internalTrafficPolicy"], json!("Cluster"));
        }
        if kind == "LoadBalancer" {
            set_default(obj, &["spec", "allocateLoadBalancerNodePorts"], json!(true));
            let ingress = obj
                .pointer_mut("/status/loadBalancer/ingress")
                .and_then(Value::as_array_mut);
            for entry in ingress.into_iter().flatten() {
                if entry.get("ip").is_some_and(|ip| !ip.is_null()) {
                    set_default(entry, &["ipMode"], json!("VIP"));
                }
            }
        }
    }
    fn prepare_for_create(&self, obj: &mut Value) {
        // Nothing of the cluster IP family applies to an ExternalName Service.
        if service_type(obj) != "ExternalName" {
            // A client that names only `clusterIP` (an old client) means the same list.
            let cluster_ip = text(obj.get("spec"), "clusterIP").to_string();
            if !cluster_ip.is_empty() && list(obj.get("spec"), "clusterIPs").is_empty() {
                set(obj, &["spec", "clusterIPs"], json!([cluster_ip]));
            }
            let mut families: Vec<&str> = Vec::new();
            for ip in list(obj.get("spec"), "clusterIPs") {
                if let Some(f) = family(ip.as_str().unwrap_or_default()) {
                    if !families.contains(&f) {
                        families.push(f);
                    }
                }
            }
            if families.is_empty() {
                families.push("IPv4");
            }
            set_default(obj, &["spec", "ipFamilies"], json!(families));
            set_default(obj, &["spec", "ipFamilyPolicy"], json!("SingleStack"));
        }
        set(obj, &["status"], json!({ "loadBalancer": {} }));
    }
    fn prepare_for_update(&self, new: &mut Value, old: &Value) {
        if service_type(new) == "ExternalName" {
            return;
        }
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
        validate_service(obj, causes);
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

/// `ValidateService`, in upstream's order.
fn validate_service(obj: &Value, causes: &mut Vec<Cause>) {
    let spec = obj.get("spec");
    let kind = text(spec, "type");
    let headless = is_headless(spec);
    let ports = list(spec, "ports");

    // A requested node port outside the range is refused by the allocator, which upstream
    // runs before validation.
    if matches!(kind, "NodePort" | "LoadBalancer") {
        let before = causes.len();
        for (i, p) in ports.iter().enumerate() {
            let node_port = int(Some(p), "nodePort").unwrap_or(0);
            if node_port != 0 && !NODE_PORTS.contains(&node_port) {
                causes.push(Cause::invalid(
                    format!("spec.ports[{i}].nodePort"),
                    node_port,
                    &format!(
                        "provided port is not in the valid range. The range of valid ports is {}-{}",
                        NODE_PORTS.start(),
                        NODE_PORTS.end()
                    ),
                ));
            }
        }
        if causes.len() > before {
            return;
        }
    }

    let annotations = obj.pointer("/metadata/annotations");
    let annotation = |key: &str| annotations.and_then(|a| a.get(key)).and_then(Value::as_str);
    if let (Some(mode), Some(hints)) = (
        annotation("service.kubernetes.io/topology-mode"),
        annotation("service.kubernetes.io/topology-aware-hints"),
    ) {
        if mode != hints {
            causes.push(Cause::invalid(
                "metadata.annotations[service.kubernetes.io/topology-mode]",
                mode,
                "must match annotations[service.kubernetes.io/topology-aware-hints] when both are specified",
            ));
        }
    }

    if ports.is_empty() && !headless && kind != "ExternalName" {
        causes.push(Cause::required("spec.ports"));
    }
    match kind {
        "LoadBalancer" | "NodePort" if headless => causes.push(Cause::invalid(
            "spec.clusterIPs[0]",
            "None",
            &format!("may not be set to 'None' for {kind} services"),
        )),
        "ExternalName" => {
            let detail = "may not be set for ExternalName services";
            if !list(spec, "clusterIPs").is_empty() {
                causes.push(Cause::forbidden("spec.clusterIPs", detail));
            }
            if !list(spec, "ipFamilies").is_empty() {
                causes.push(Cause::forbidden("spec.ipFamilies", detail));
            }
            if spec
                .and_then(|s| s.get("ipFamilyPolicy"))
                .is_some_and(|p| !p.is_null())
            {
                causes.push(Cause::forbidden("spec.ipFamilyPolicy", detail));
            }
            // The value (a CNAME) may end with one dot.
            let name = text(spec, "externalName");
            let cname = name.strip_suffix('.').unwrap_or(name);
            if cname.is_empty() {
                causes.push(Cause::required("spec.externalName"));
            } else {
                push_invalid(
                    causes,
                    "spec.externalName",
                    cname,
                    dns1123_subdomain_errors(cname),
                );
            }
        }
        _ => {}
    }

    let mut names = std::collections::HashSet::new();
    for (i, p) in ports.iter().enumerate() {
        let at = format!("spec.ports[{i}]");
        let name = text(Some(p), "name");
        if name.is_empty() {
            if ports.len() > 1 {
                causes.push(Cause::required(format!("{at}.name")));
            }
        } else {
            push_invalid(
                causes,
                &format!("{at}.name"),
                name,
                dns1123_label_errors(name),
            );
            if !names.insert(name) {
                causes.push(Cause::duplicate(format!("{at}.name"), name));
            }
        }
        port_number(
            int(Some(p), "port").unwrap_or(0),
            &format!("{at}.port"),
            causes,
        );
        one_of(
            text(Some(p), "protocol"),
            &format!("{at}.protocol"),
            PROTOCOLS,
            causes,
        );
        port_number_or_name(p.get("targetPort"), &format!("{at}.targetPort"), causes);
        if let Some(app) = p.get("appProtocol").and_then(Value::as_str) {
            push_invalid(
                causes,
                &format!("{at}.appProtocol"),
                app,
                label_key_errors(app),
            );
        }
    }

    validate_labels(
        spec.and_then(|s| s.get("selector")),
        "spec.selector",
        causes,
    );

    let affinity = text(spec, "sessionAffinity");
    one_of(
        affinity,
        "spec.sessionAffinity",
        &["ClientIP", "None"],
        causes,
    );
    let config = spec
        .and_then(|s| s.get("sessionAffinityConfig"))
        .filter(|c| !c.is_null());
    if affinity == "ClientIP" {
        validate_client_ip_config(config, causes);
    } else if affinity == "None" && config.is_some() {
        causes.push(Cause::forbidden(
            "spec.sessionAffinityConfig",
            "must not be set when session affinity is None",
        ));
    }

    if kind != "ExternalName" {
        validate_cluster_ips(spec, headless, causes);
    }

    for (i, ip) in list(spec, "externalIPs").iter().enumerate() {
        let ip = ip.as_str().unwrap_or_default();
        validate_endpoint_ip(ip, &format!("spec.externalIPs[{i}]"), causes);
    }

    one_of(kind, "spec.type", TYPES, causes);

    if kind == "ClusterIP" {
        for (i, p) in ports.iter().enumerate() {
            if int(Some(p), "nodePort").unwrap_or(0) != 0 {
                causes.push(Cause::forbidden(
                    format!("spec.ports[{i}].nodePort"),
                    "may not be used when `type` is 'ClusterIP'",
                ));
            }
        }
    }
    let mut node_ports = std::collections::HashSet::new();
    for (i, p) in ports.iter().enumerate() {
        let node_port = int(Some(p), "nodePort").unwrap_or(0);
        if node_port != 0 && !node_ports.insert((text(Some(p), "protocol"), node_port)) {
            causes.push(Cause::duplicate(
                format!("spec.ports[{i}].nodePort"),
                &node_port,
            ));
        }
    }
    let mut port_protocols = std::collections::HashSet::new();
    for (i, p) in ports.iter().enumerate() {
        let port = int(Some(p), "port").unwrap_or(0);
        let protocol = text(Some(p), "protocol");
        if !port_protocols.insert((port, protocol)) {
            // The key is an internal ServicePort with only Protocol and Port set.
            causes.push(Cause::duplicate(
                format!("spec.ports[{i}]"),
                &json!({"Name": "", "Protocol": protocol, "AppProtocol": null, "Port": port, "TargetPort": 0, "NodePort": 0}),
            ));
        }
    }

    validate_source_ranges(kind, spec, annotation(SOURCE_RANGES_ANNOTATION), causes);

    let allocate = spec
        .and_then(|s| s.get("allocateLoadBalancerNodePorts"))
        .filter(|v| !v.is_null());
    if allocate.is_some() && kind != "LoadBalancer" {
        causes.push(Cause::forbidden(
            "spec.allocateLoadBalancerNodePorts",
            "may only be used when `type` is 'LoadBalancer'",
        ));
    }
    if kind == "LoadBalancer" && allocate.is_none() {
        // Upstream's path has no `spec.`.
        causes.push(Cause::required("allocateLoadBalancerNodePorts"));
    }

    if let Some(class) = spec
        .and_then(|s| s.get("loadBalancerClass"))
        .and_then(Value::as_str)
    {
        if kind == "LoadBalancer" {
            push_invalid(
                causes,
                "spec.loadBalancerClass",
                class,
                label_key_errors(class),
            );
        } else {
            causes.push(Cause::forbidden(
                "spec.loadBalancerClass",
                "may only be used when `type` is 'LoadBalancer'",
            ));
        }
    }

    let external = text(spec, "externalTrafficPolicy");
    if !externally_accessible(spec) {
        if !external.is_empty() {
            causes.push(Cause::invalid(
                "spec.externalTrafficPolicy",
                external,
                "may only be set for externally-accessible services",
            ));
        }
    } else {
        one_of(
            external,
            "spec.externalTrafficPolicy",
            TRAFFIC_POLICIES,
            causes,
        );
    }
    // Upstream's allocator gives a LoadBalancer with the Local policy its health check port
    // before validation; Keelson allocates none, so only a port that is set is checked.
    let health = int(spec, "healthCheckNodePort").unwrap_or(0);
    if health != 0 {
        if kind == "LoadBalancer" && external == "Local" {
            port_number(health, "spec.healthCheckNodePort", causes);
        } else {
            causes.push(Cause::invalid(
                "spec.healthCheckNodePort",
                health,
                "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
            ));
        }
    }

    let internal = spec
        .and_then(|s| s.get("internalTrafficPolicy"))
        .filter(|v| !v.is_null());
    if internal.is_none() && matches!(kind, "ClusterIP" | "NodePort" | "LoadBalancer") {
        causes.push(Cause::required("spec.internalTrafficPolicy"));
    }
    optional_one_of(
        internal,
        "spec.internalTrafficPolicy",
        TRAFFIC_POLICIES,
        causes,
    );
    optional_one_of(
        spec.and_then(|s| s.get("trafficDistribution")),
        "spec.trafficDistribution",
        &["PreferClose", "PreferSameZone", "PreferSameNode"],
        causes,
    );
}

/// `validateClientIPAffinityConfig`.
fn validate_client_ip_config(config: Option<&Value>, causes: &mut Vec<Cause>) {
    let detail = "when session affinity type is ClientIP";
    let path = "spec.sessionAffinityConfig";
    let Some(config) = config else {
        causes.push(Cause::required_with(path, detail));
        return;
    };
    let Some(client_ip) = config.get("clientIP").filter(|c| !c.is_null()) else {
        causes.push(Cause::required_with(format!("{path}.clientIP"), detail));
        return;
    };
    let field = format!("{path}.clientIP.timeoutSeconds");
    match int(Some(client_ip), "timeoutSeconds") {
        None => causes.push(Cause::required_with(field, detail)),
        Some(t) if t <= 0 || t > 86400 => causes.push(Cause::invalid(
            field,
            t,
            "must be greater than 0 and less than 86400",
        )),
        Some(_) => {}
    }
}

/// `ValidateServiceClusterIPsRelatedFields`.
fn validate_cluster_ips(spec: Option<&Value>, headless: bool, causes: &mut Vec<Cause>) {
    let cluster_ip = text(spec, "clusterIP");
    let ips: Vec<&str> = list(spec, "clusterIPs")
        .iter()
        .map(|ip| ip.as_str().unwrap_or_default())
        .collect();
    let shown = spec
        .and_then(|s| s.get("clusterIPs"))
        .cloned()
        .unwrap_or(Value::Null);
    let field = "spec.clusterIPs";
    if !cluster_ip.is_empty() {
        match ips.first() {
            None => causes.push(Cause::required(field)),
            Some(first) if *first != cluster_ip => causes.push(Cause::invalid(
                field,
                &shown,
                "first value must match `clusterIP`",
            )),
            Some(_) => {}
        }
    } else if !ips.is_empty() {
        causes.push(Cause::invalid(
            field,
            &shown,
            "must be empty when `clusterIP` is not specified",
        ));
    }

    let families: Vec<&Value> = list(spec, "ipFamilies").iter().collect();
    let mut seen = std::collections::HashSet::new();
    for (i, family) in families.iter().enumerate() {
        let at = format!("spec.ipFamilies[{i}]");
        if !matches!(family.as_str(), Some("IPv4" | "IPv6")) {
            causes.push(Cause::not_supported(
                at.as_str(),
                *family,
                &["IPv4", "IPv6"],
            ));
        }
        if !seen.insert(family.to_string()) {
            causes.push(Cause::duplicate(at, *family));
        }
    }
    optional_one_of(
        spec.and_then(|s| s.get("ipFamilyPolicy")),
        "spec.ipFamilyPolicy",
        &["PreferDualStack", "RequireDualStack", "SingleStack"],
        causes,
    );

    let mut invalid = false;
    for (i, ip) in ips.iter().enumerate() {
        if i == 0 && *ip == "None" {
            if ips.len() > 1 {
                invalid = true;
                causes.push(Cause::invalid(
                    field,
                    &shown,
                    "'None' must be the first and only value",
                ));
            }
            continue;
        }
        if parse_ip_sloppy(ip).is_none() {
            invalid = true;
            causes.push(Cause::invalid(format!("{field}[{i}]"), *ip, INVALID_IP));
        }
    }
    if ips.len() > 2 {
        causes.push(Cause::invalid(
            field,
            &shown,
            "may only hold up to 2 values",
        ));
    }
    if invalid {
        return;
    }
    if ips.len() > 1 {
        let parsed: Vec<_> = ips.iter().filter_map(|ip| parse_ip_sloppy(ip)).collect();
        let dual = parsed.iter().any(|ip| ip.is_ipv4()) && parsed.iter().any(|ip| ip.is_ipv6());
        if !dual {
            causes.push(Cause::invalid(
                field,
                &shown,
                "may specify no more than one IP for each IP family",
            ));
        }
    }
    if !headless {
        for (i, (ip, family)) in ips.iter().zip(&families).enumerate() {
            let v6 = parse_ip_sloppy(ip).is_some_and(|ip| ip.is_ipv6());
            let expected = match family.as_str() {
                Some("IPv4") if v6 => "IPv4",
                Some("IPv6") if !v6 => "IPv6",
                _ => continue,
            };
            causes.push(Cause::invalid(
                format!("{field}[{i}]"),
                *ip,
                &format!("expected an {expected} value as indicated by `ipFamilies[{i}]`"),
            ));
        }
    }
}

/// An external IP: a valid address (legacy parsing), then `ValidateEndpointIP`.
fn validate_endpoint_ip(text: &str, field: &str, causes: &mut Vec<Cause>) {
    let Some(ip) = parse_ip_sloppy(text) else {
        causes.push(Cause::invalid(field, text, INVALID_IP));
        return;
    };
    if ip.is_unspecified() {
        causes.push(Cause::invalid(
            field,
            text,
            &format!("may not be unspecified ({text})"),
        ));
    }
    if ip.is_loopback() {
        causes.push(Cause::invalid(
            field,
            text,
            "may not be in the loopback range (127.0.0.0/8, ::1/128)",
        ));
    }
    let (link_local, link_local_multicast) = match ip {
        std::net::IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            (v4.is_link_local(), a == 224 && b == 0 && c == 0)
        }
        std::net::IpAddr::V6(v6) => {
            let first = v6.segments().first().copied().unwrap_or(0);
            (first & 0xffc0 == 0xfe80, first & 0xff0f == 0xff02)
        }
    };
    if link_local {
        causes.push(Cause::invalid(
            field,
            text,
            "may not be in the link-local range (169.254.0.0/16, fe80::/10)",
        ));
    }
    if link_local_multicast {
        causes.push(Cause::invalid(
            field,
            text,
            "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)",
        ));
    }
}

/// `spec.loadBalancerSourceRanges`, or without it the annotation of the same meaning.
fn validate_source_ranges(
    kind: &str,
    spec: Option<&Value>,
    annotation: Option<&str>,
    causes: &mut Vec<Cause>,
) {
    let only_lb = "may only be used when `type` is 'LoadBalancer'";
    let ranges = list(spec, "loadBalancerSourceRanges");
    if !ranges.is_empty() {
        // Upstream's path has a capital L.
        let field = "spec.LoadBalancerSourceRanges";
        if kind != "LoadBalancer" {
            causes.push(Cause::forbidden(field, only_lb));
        }
        for (i, range) in ranges.iter().enumerate() {
            let range = range.as_str().unwrap_or_default().trim();
            if parse_cidr_sloppy(range).is_none() {
                causes.push(Cause::invalid(format!("{field}[{i}]"), range, INVALID_CIDR));
            }
        }
    } else if let Some(value) = annotation {
        let field = format!("metadata.annotations[{SOURCE_RANGES_ANNOTATION}]");
        if kind != "LoadBalancer" {
            causes.push(Cause::forbidden(field.as_str(), only_lb));
        }
        let value = value.trim();
        if !value.is_empty() {
            for range in value.split(',').map(str::trim) {
                if parse_cidr_sloppy(range).is_none() {
                    causes.push(Cause::invalid(field.as_str(), range, INVALID_CIDR));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The causes for a Service with `spec`, defaulted and prepared as on create.
    fn errors(spec: Value) -> Vec<(String, String)> {
        errors_of(json!({"metadata": {"name": "s"}, "spec": spec}))
    }

    fn errors_of(mut obj: Value) -> Vec<(String, String)> {
        Services.default(&mut obj);
        Services.prepare_for_create(&mut obj);
        let mut causes = Vec::new();
        Services.validate(&obj, &mut causes);
        causes.into_iter().map(|c| (c.field, c.message)).collect()
    }

    fn one(field: &str, message: &str) -> Vec<(String, String)> {
        vec![(field.to_string(), message.to_string())]
    }

    fn port() -> Value {
        json!([{"port": 80}])
    }

    #[test]
    fn defaults() {
        let mut obj = json!({"spec": {"type": "LoadBalancer", "sessionAffinity": "ClientIP",
            "ports": [{"port": 80, "targetPort": 0, "protocol": ""}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}, {"hostname": "h"}]}}});
        Services.default(&mut obj);
        assert_eq!(
            obj,
            json!({"spec": {"type": "LoadBalancer", "sessionAffinity": "ClientIP",
                "ports": [{"port": 80, "targetPort": 80, "protocol": "TCP"}],
                "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 10800}},
                "externalTrafficPolicy": "Cluster", "internalTrafficPolicy": "Cluster",
                "allocateLoadBalancerNodePorts": true},
                "status": {"loadBalancer": {"ingress": [{"ip": "1.2.3.4", "ipMode": "VIP"}, {"hostname": "h"}]}}})
        );
        // None drops a config; ExternalName gets no traffic policies; a ClusterIP
        // Service with external IPs is externally accessible.
        let mut obj = json!({"spec": {"type": "ExternalName", "sessionAffinityConfig": {}}});
        Services.default(&mut obj);
        assert_eq!(
            obj,
            json!({"spec": {"type": "ExternalName", "sessionAffinity": "None"}})
        );
        let mut obj = json!({"spec": {"externalIPs": ["1.2.3.4"]}});
        Services.default(&mut obj);
        assert_eq!(obj["spec"]["externalTrafficPolicy"], "Cluster");
        let mut obj = json!({"spec": {"type": "NodePort"}});
        Services.default(&mut obj);
        assert_eq!(obj["spec"]["externalTrafficPolicy"], "Cluster");
        assert!(obj["spec"].get("allocateLoadBalancerNodePorts").is_none());
    }

    #[test]
    fn valid_services() {
        for spec in [
            json!({"ports": [{"port": 80, "targetPort": "http", "name": "web", "appProtocol": "kubernetes.io/h2c"}], "selector": {"app": "web"}}),
            json!({"clusterIP": "None"}),
            json!({"type": "ExternalName", "externalName": "example.com."}),
            json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}]}),
            json!({"type": "LoadBalancer", "ports": port(), "loadBalancerSourceRanges": [" 10.0.0.0/8 "], "externalTrafficPolicy": "Local"}),
            json!({"ports": port(), "sessionAffinity": "ClientIP", "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 60}}}),
            json!({"ports": port(), "clusterIP": "10.96.0.10"}),
            json!({"ports": port(), "clusterIP": "fd00::10"}),
            json!({"ports": port(), "externalIPs": ["192.0.2.1"]}),
        ] {
            assert_eq!(errors(spec.clone()), vec![], "{spec}");
        }
    }

    #[test]
    fn ports() {
        let cases = [
            (json!({}), one("spec.ports", "Required value")),
            (
                json!({"ports": [{"port": 80}, {"port": 81, "name": "b"}]}),
                one("spec.ports[0].name", "Required value"),
            ),
            (
                json!({"ports": [{"port": 80, "name": "Web"}]}),
                one("spec.ports[0].name", "Invalid value: \"Web\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"),
            ),
            (
                json!({"ports": [{"port": 80, "name": "a"}, {"port": 81, "name": "a"}]}),
                one("spec.ports[1].name", "Duplicate value: \"a\""),
            ),
            (
                json!({"ports": [{"port": 0, "targetPort": 80}]}),
                one("spec.ports[0].port", "Invalid value: 0: must be between 1 and 65535, inclusive"),
            ),
            (
                json!({"ports": [{"port": 53, "protocol": "ICMP"}]}),
                one("spec.ports[0].protocol", "Unsupported value: \"ICMP\": supported values: \"SCTP\", \"TCP\", \"UDP\""),
            ),
            (
                json!({"ports": [{"port": 80, "targetPort": 70000}]}),
                one("spec.ports[0].targetPort", "Invalid value: 70000: must be between 1 and 65535, inclusive"),
            ),
            (
                json!({"ports": [{"port": 80, "targetPort": "no--way"}]}),
                one("spec.ports[0].targetPort", "Invalid value: \"no--way\": must not contain consecutive hyphens"),
            ),
            (
                json!({"ports": [{"port": 80, "appProtocol": "a b"}]}),
                one("spec.ports[0].appProtocol", "Invalid value: \"a b\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"),
            ),
            (
                json!({"ports": [{"port": 80, "name": "a"}, {"port": 80, "name": "b"}]}),
                one("spec.ports[1]", "Duplicate value: {\"Name\":\"\",\"Protocol\":\"TCP\",\"AppProtocol\":null,\"Port\":80,\"TargetPort\":0,\"NodePort\":0}"),
            ),
            (
                json!({"ports": [{"port": 80, "nodePort": 30080}]}),
                one("spec.ports[0].nodePort", "Forbidden: may not be used when `type` is 'ClusterIP'"),
            ),
            (
                json!({"type": "NodePort", "ports": [{"port": 80, "name": "a", "nodePort": 30080}, {"port": 81, "name": "b", "nodePort": 30080}]}),
                one("spec.ports[1].nodePort", "Duplicate value: 30080"),
            ),
            (
                json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 80}]}),
                one("spec.ports[0].nodePort", "Invalid value: 80: provided port is not in the valid range. The range of valid ports is 30000-32767"),
            ),
        ];
        for (spec, expected) in cases {
            assert_eq!(errors(spec.clone()), expected, "{spec}");
        }
    }

    #[test]
    fn types_selector_and_affinity() {
        let cases = [
            (
                json!({"ports": port(), "type": "Foo"}),
                one("spec.type", "Unsupported value: \"Foo\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\""),
            ),
            (
                json!({"ports": port(), "selector": {"app": "-x"}}),
                one("spec.selector", "Invalid value: \"-x\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"),
            ),
            (
                json!({"ports": port(), "sessionAffinity": "Sticky"}),
                one("spec.sessionAffinity", "Unsupported value: \"Sticky\": supported values: \"ClientIP\", \"None\""),
            ),
            (
                json!({"ports": port(), "sessionAffinity": "ClientIP", "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 0}}}),
                one("spec.sessionAffinityConfig.clientIP.timeoutSeconds", "Invalid value: 0: must be greater than 0 and less than 86400"),
            ),
            (
                json!({"type": "ExternalName"}),
                one("spec.externalName", "Required value"),
            ),
            (
                json!({"type": "ExternalName", "externalName": "bad_name"}),
                one("spec.externalName", "Invalid value: \"bad_name\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"),
            ),
            (
                json!({"type": "ExternalName", "externalName": "a.com", "clusterIPs": ["10.0.0.1"]}),
                one("spec.clusterIPs", "Forbidden: may not be set for ExternalName services"),
            ),
            (
                json!({"type": "ExternalName", "externalName": "a.com", "ipFamilyPolicy": "SingleStack"}),
                one("spec.ipFamilyPolicy", "Forbidden: may not be set for ExternalName services"),
            ),
            (
                json!({"type": "LoadBalancer", "clusterIP": "None"}),
                one("spec.clusterIPs[0]", "Invalid value: \"None\": may not be set to 'None' for LoadBalancer services"),
            ),
        ];
        for (spec, expected) in cases {
            assert_eq!(errors(spec.clone()), expected, "{spec}");
        }
    }

    #[test]
    fn cluster_ips_and_families() {
        let cases = [
            (
                json!({"ports": port(), "clusterIP": "10.0.0.1", "clusterIPs": ["10.0.0.2"]}),
                one("spec.clusterIPs", "Invalid value: [\"10.0.0.2\"]: first value must match `clusterIP`"),
            ),
            (
                json!({"ports": port(), "clusterIPs": ["10.0.0.2"]}),
                one("spec.clusterIPs", "Invalid value: [\"10.0.0.2\"]: must be empty when `clusterIP` is not specified"),
            ),
            (
                json!({"ports": port(), "clusterIP": "10.0.0.300"}),
                one("spec.clusterIPs[0]", "Invalid value: \"10.0.0.300\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"),
            ),
            (
                json!({"ports": port(), "clusterIP": "10.0.0.1", "clusterIPs": ["10.0.0.1", "10.0.0.2"]}),
                one("spec.clusterIPs", "Invalid value: [\"10.0.0.1\",\"10.0.0.2\"]: may specify no more than one IP for each IP family"),
            ),
            (
                json!({"ports": port(), "clusterIP": "10.0.0.1", "ipFamilies": ["IPv6"]}),
                one("spec.clusterIPs[0]", "Invalid value: \"10.0.0.1\": expected an IPv6 value as indicated by `ipFamilies[0]`"),
            ),
            (
                json!({"ports": port(), "ipFamilies": ["IPv4", "IPv4"]}),
                one("spec.ipFamilies[1]", "Duplicate value: \"IPv4\""),
            ),
            (
                json!({"ports": port(), "ipFamilies": ["IPv5"]}),
                one("spec.ipFamilies[0]", "Unsupported value: \"IPv5\": supported values: \"IPv4\", \"IPv6\""),
            ),
            (
                json!({"ports": port(), "ipFamilyPolicy": "Both"}),
                one("spec.ipFamilyPolicy", "Unsupported value: \"Both\": supported values: \"PreferDualStack\", \"RequireDualStack\", \"SingleStack\""),
            ),
            (
                json!({"ports": port(), "clusterIP": "None", "clusterIPs": ["None", "10.0.0.1"]}),
                one("spec.clusterIPs", "Invalid value: [\"None\",\"10.0.0.1\"]: 'None' must be the first and only value"),
            ),
        ];
        for (spec, expected) in cases {
            assert_eq!(errors(spec.clone()), expected, "{spec}");
        }
    }

    #[test]
    fn external_ips_ranges_and_policies() {
        let cases = [
            (
                json!({"ports": port(), "externalIPs": ["127.0.0.1"]}),
                one("spec.externalIPs[0]", "Invalid value: \"127.0.0.1\": may not be in the loopback range (127.0.0.0/8, ::1/128)"),
            ),
            (
                json!({"ports": port(), "externalIPs": ["0.0.0.0"]}),
                one("spec.externalIPs[0]", "Invalid value: \"0.0.0.0\": may not be unspecified (0.0.0.0)"),
            ),
            (
                json!({"ports": port(), "externalIPs": ["fe80::1"]}),
                one("spec.externalIPs[0]", "Invalid value: \"fe80::1\": may not be in the link-local range (169.254.0.0/16, fe80::/10)"),
            ),
            (
                json!({"ports": port(), "externalIPs": ["224.0.0.5"]}),
                one("spec.externalIPs[0]", "Invalid value: \"224.0.0.5\": may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"),
            ),
            (
                json!({"ports": port(), "externalIPs": ["x"]}),
                one("spec.externalIPs[0]", "Invalid value: \"x\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"),
            ),
            (
                json!({"ports": port(), "loadBalancerSourceRanges": ["10.0.0.0/8"]}),
                one("spec.LoadBalancerSourceRanges", "Forbidden: may only be used when `type` is 'LoadBalancer'"),
            ),
            (
                json!({"type": "LoadBalancer", "ports": port(), "loadBalancerSourceRanges": ["10.0.0.0"]}),
                one("spec.LoadBalancerSourceRanges[0]", "Invalid value: \"10.0.0.0\": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"),
            ),
            (
                json!({"ports": port(), "allocateLoadBalancerNodePorts": false}),
                one("spec.allocateLoadBalancerNodePorts", "Forbidden: may only be used when `type` is 'LoadBalancer'"),
            ),
            (
                json!({"ports": port(), "externalTrafficPolicy": "Local"}),
                one("spec.externalTrafficPolicy", "Invalid value: \"Local\": may only be set for externally-accessible services"),
            ),
            (
                json!({"type": "NodePort", "ports": port(), "externalTrafficPolicy": "Nearest"}),
                one("spec.externalTrafficPolicy", "Unsupported value: \"Nearest\": supported values: \"Cluster\", \"Local\""),
            ),
            (
                json!({"type": "NodePort", "ports": port(), "healthCheckNodePort": 30000}),
                one("spec.healthCheckNodePort", "Invalid value: 30000: may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"),
            ),
            (
                json!({"ports": port(), "internalTrafficPolicy": "Nearest"}),
                one("spec.internalTrafficPolicy", "Unsupported value: \"Nearest\": supported values: \"Cluster\", \"Local\""),
            ),
            (
                json!({"ports": port(), "loadBalancerClass": "example.com/lb"}),
                one("spec.loadBalancerClass", "Forbidden: may only be used when `type` is 'LoadBalancer'"),
            ),
            (
                json!({"ports": port(), "trafficDistribution": "Anywhere"}),
                one("spec.trafficDistribution", "Unsupported value: \"Anywhere\": supported values: \"PreferClose\", \"PreferSameZone\", \"PreferSameNode\""),
            ),
        ];
        for (spec, expected) in cases {
            assert_eq!(errors(spec.clone()), expected, "{spec}");
        }
        // The annotation stands in for the field.
        let got = errors_of(json!({"metadata": {"name": "s", "annotations": {
            "service.beta.kubernetes.io/load-balancer-source-ranges": "10.0.0.0/8, x"}}, "spec": {"type": "LoadBalancer", "ports": port()}}));
        assert_eq!(
            got,
            one(
                "metadata.annotations[service.beta.kubernetes.io/load-balancer-source-ranges]",
                "Invalid value: \"x\": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"
            )
        );
        let got = errors_of(json!({"metadata": {"name": "s", "annotations": {
            "service.kubernetes.io/topology-mode": "Auto", "service.kubernetes.io/topology-aware-hints": "Disabled"}},
            "spec": {"ports": port()}}));
        assert_eq!(
            got,
            one(
                "metadata.annotations[service.kubernetes.io/topology-mode]",
                "Invalid value: \"Auto\": must match annotations[service.kubernetes.io/topology-aware-hints] when both are specified"
            )
        );
    }

    #[test]
    fn create_fills_the_cluster_ip_list_and_families() {
        let mut obj = json!({"spec": {"clusterIP": "fd00::1", "ports": port()}});
        Services.prepare_for_create(&mut obj);
        assert_eq!(obj["spec"]["clusterIPs"], json!(["fd00::1"]));
        assert_eq!(obj["spec"]["ipFamilies"], json!(["IPv6"]));
        let mut obj = json!({"spec": {"type": "ExternalName", "externalName": "a.com"}});
        Services.prepare_for_create(&mut obj);
        assert!(obj["spec"].get("ipFamilies").is_none());
        assert!(obj["spec"].get("ipFamilyPolicy").is_none());
    }
}
