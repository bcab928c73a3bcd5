//! Ingresses and IngressClasses (networking/v1): an Ingress has no defaults in v1, so every
//! path must name its type; the rules, paths and backends are validated as upstream does.
//! An IngressClass's parameters default to the cluster scope.

use serde_json::{json, Value};

use super::rules::{int, list, text};
use super::{set_default_if_empty, Strategy};
use crate::status::Cause;
use crate::validation::{
    dns1035_label_errors, dns1123_subdomain_errors, parse_ip_sloppy, port_name_errors, push_invalid,
};

/// Sequences an `Exact` or `Prefix` path may not contain, and endings it may not have.
const BAD_SEQUENCES: &[&str] = &["//", "/./", "/../", "%2f", "%2F"];
const BAD_SUFFIXES: &[&str] = &["/..", "/."];

pub struct Ingresses;
impl Strategy for Ingresses {
    fn validate(&self, obj: &Value, causes: &mut Vec<Cause>) {
        validate_ingress_spec(obj.get("spec"), causes);
    }
}

pub struct IngressClasses;
impl Strategy for IngressClasses {
    fn default(&self, obj: &mut Value) {
        if obj
            .pointer("/spec/parameters")
            .is_some_and(Value::is_object)
        {
            set_default_if_empty(obj, &["spec", "parameters", "scope"], json!("Cluster"));
        }
    }
}

/// `ValidateIngressSpec`.
fn validate_ingress_spec(spec: Option<&Value>, causes: &mut Vec<Cause>) {
    let rules = spec.and_then(|s| s.get("rules")).filter(|r| !r.is_null());
    let backend = spec
        .and_then(|s| s.get("defaultBackend"))
        .filter(|b| !b.is_null());
    if list(spec, "rules").is_empty() && backend.is_none() {
        causes.push(Cause::invalid(
            "spec",
            rules.unwrap_or(&Value::Null),
            "either `defaultBackend` or `rules` must be specified",
        ));
    }
    if let Some(backend) = backend {
        validate_backend(backend, "spec.defaultBackend", causes);
    }
    for (i, rule) in list(spec, "rules").iter().enumerate() {
        let at = format!("spec.rules[{i}]");
        let host = text(Some(rule), "host");
        if !host.is_empty() {
            let field = format!("{at}.host");
            if parse_ip_sloppy(host).is_some() {
                causes.push(Cause::invalid(
                    field.as_str(),
                    host,
                    "must be a DNS name, not an IP address",
                ));
            }
            // A wildcard host is `*.` and a subdomain.
            match host.strip_prefix("*.") {
                Some(rest) if !rest.contains('*') => {
                    push_invalid(causes, &field, host, wildcard_errors(rest))
                }
                _ if host.contains('*') => {
                    push_invalid(causes, &field, host, wildcard_errors(host))
                }
                _ => push_invalid(causes, &field, host, dns1123_subdomain_errors(host)),
            }
        }
        let Some(http) = rule.get("http").filter(|h| !h.is_null()) else {
            continue;
        };
        let paths = list(Some(http), "paths");
        if paths.is_empty() {
            causes.push(Cause::required(format!("{at}.http.paths")));
        }
        for (j, path) in paths.iter().enumerate() {
            validate_path(path, &format!("{at}.http.paths[{j}]"), causes);
        }
    }
}

/// `IsWildcardDNS1123Subdomain` for the part after `*.` (or a misplaced `*`).
fn wildcard_errors(rest: &str) -> Vec<String> {
    let valid =
        !rest.contains('*') && rest.len() <= 251 && dns1123_subdomain_errors(rest).is_empty();
    if valid {
        return Vec::new();
    }
    let mut errors = Vec::new();
    if rest.len() > 251 {
        errors.push("must be no more than 253 characters".to_string());
    }
    errors.push(crate::validation::regex_error(
        "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character",
        "\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*",
        &["*.example.com"],
    ));
    errors
}

/// `validateHTTPIngressPath`.
fn validate_path(path: &Value, at: &str, causes: &mut Vec<Cause>) {
    let Some(kind) = path.get("pathType").filter(|t| !t.is_null()) else {
        causes.push(Cause::required_with(
            format!("{at}.pathType"),
            "pathType must be specified",
        ));
        return;
    };
    let value = text(Some(path), "path");
    let field = format!("{at}.path");
    match kind.as_str() {
        Some("Exact" | "Prefix") => {
            if !value.starts_with('/') {
                causes.push(Cause::invalid(
                    field.as_str(),
                    value,
                    "must be an absolute path",
                ));
            }
            if !value.is_empty() {
                for sequence in BAD_SEQUENCES {
                    if value.contains(sequence) {
                        causes.push(Cause::invalid(
                            field.as_str(),
                            value,
                            &format!("must not contain '{sequence}'"),
                        ));
                    }
                }
                for suffix in BAD_SUFFIXES {
                    if value.ends_with(suffix) {
                        causes.push(Cause::invalid(
                            field.as_str(),
                            value,
                            &format!("cannot end with '{suffix}'"),
                        ));
                    }
                }
            }
        }
        Some("ImplementationSpecific") => {
            if !value.is_empty() && !value.starts_with('/') {
                causes.push(Cause::invalid(field, value, "must be an absolute path"));
            }
        }
        _ => causes.push(Cause::not_supported(
            format!("{at}.pathType"),
            kind,
            &["Exact", "ImplementationSpecific", "Prefix"],
        )),
    }
    match path.get("backend").filter(|b| !b.is_null()) {
        Some(backend) => validate_backend(backend, &format!("{at}.backend"), causes),
        None => validate_backend(&Value::Null, &format!("{at}.backend"), causes),
    }
}

/// `validateIngressBackend`: a resource or a service (named, with a port name or number).
fn validate_backend(backend: &Value, at: &str, causes: &mut Vec<Cause>) {
    let resource = backend.get("resource").filter(|r| !r.is_null());
    let service = backend.get("service").filter(|s| !s.is_null());
    match (resource, service) {
        (Some(_), Some(_)) => causes.push(Cause::invalid(
            at,
            "",
            "cannot set both resource and service backends",
        )),
        (Some(resource), None) => {
            for field in ["kind", "name"] {
                if text(Some(resource), field).is_empty() {
                    causes.push(Cause::required_with(
                        format!("{at}.resource.{field}"),
                        &format!("{field} is required"),
                    ));
                }
            }
        }
        (None, Some(service)) => {
            let name = text(Some(service), "name");
            if name.is_empty() {
                causes.push(Cause::required(format!("{at}.service.name")));
            } else {
                push_invalid(
                    causes,
                    &format!("{at}.service.name"),
                    name,
                    dns1035_label_errors(name),
                );
            }
            let port = service.get("port");
            let port_name = text(port, "name");
            let number = int(port, "number").unwrap_or(0);
            match (port_name.is_empty(), number) {
                (false, n) if n != 0 => causes.push(Cause::invalid(
                    at,
                    "",
                    "cannot set both port name & port number",
                )),
                (false, _) => push_invalid(
                    causes,
                    &format!("{at}.service.port.name"),
                    port_name,
                    port_name_errors(port_name),
                ),
                (true, 0) => {
                    causes.push(Cause::required_with(at, "port name or number is required"))
                }
                (true, n) => {
                    super::rules::port_number(n, &format!("{at}.service.port.number"), causes)
                }
            }
        }
        (None, None) => causes.push(Cause::invalid(
            at,
            "",
            "resource or service backend is required",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(spec: Value) -> Vec<(String, String)> {
        let mut causes = Vec::new();
        Ingresses.validate(&json!({ "spec": spec }), &mut causes);
        causes.into_iter().map(|c| (c.field, c.message)).collect()
    }

    fn one(field: &str, message: &str) -> Vec<(String, String)> {
        vec![(field.to_string(), message.to_string())]
    }

    fn rule(path: Value) -> Value {
        json!({"rules": [{"host": "example.com", "http": {"paths": [path]}}]})
    }

    fn backend() -> Value {
        json!({"service": {"name": "web", "port": {"number": 80}}})
    }

    #[test]
    fn paths_and_rules() {
        let cases = [
            (rule(json!({"path": "/", "pathType": "Prefix", "backend": backend()})), vec![]),
            (
                rule(json!({"path": "/", "backend": backend()})),
                one("spec.rules[0].http.paths[0].pathType", "Required value: pathType must be specified"),
            ),
            (
                rule(json!({"path": "api", "pathType": "Exact", "backend": backend()})),
                one("spec.rules[0].http.paths[0].path", "Invalid value: \"api\": must be an absolute path"),
            ),
            (
                rule(json!({"path": "/a//b", "pathType": "Prefix", "backend": backend()})),
                one("spec.rules[0].http.paths[0].path", "Invalid value: \"/a//b\": must not contain '//'"),
            ),
            (
                rule(json!({"path": "/a/..", "pathType": "Prefix", "backend": backend()})),
                one("spec.rules[0].http.paths[0].path", "Invalid value: \"/a/..\": cannot end with '/..'"),
            ),
            (
                rule(json!({"path": "x", "pathType": "ImplementationSpecific", "backend": backend()})),
                one("spec.rules[0].http.paths[0].path", "Invalid value: \"x\": must be an absolute path"),
            ),
            (rule(json!({"pathType": "ImplementationSpecific", "backend": backend()})), vec![]),
            (
                rule(json!({"path": "/", "pathType": "Regex", "backend": backend()})),
                one("spec.rules[0].http.paths[0].pathType", "Unsupported value: \"Regex\": supported values: \"Exact\", \"ImplementationSpecific\", \"Prefix\""),
            ),
            (
                rule(json!({"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {}}}})),
                one("spec.rules[0].http.paths[0].backend", "Required value: port name or number is required"),
            ),
            (
                json!({}),
                one("spec", "Invalid value: null: either `defaultBackend` or `rules` must be specified"),
            ),
            (json!({"defaultBackend": backend()}), vec![]),
            (
                json!({"defaultBackend": {"resource": {"kind": "Bucket"}}}),
                one("spec.defaultBackend.resource.name", "Required value: name is required"),
            ),
            (
                json!({"rules": [{"host": "example.com", "http": {"paths": []}}]}),
                one("spec.rules[0].http.paths", "Required value"),
            ),
            (
                json!({"rules": [{"host": "10.0.0.1"}]}),
                one("spec.rules[0].host", "Invalid value: \"10.0.0.1\": must be a DNS name, not an IP address"),
            ),
            (json!({"rules": [{"host": "*.example.com"}]}), vec![]),
        ];
        for (spec, expected) in cases {
            assert_eq!(errors(spec.clone()), expected, "{spec}");
        }
    }

    #[test]
    fn ingress_class_scope() {
        let mut obj = json!({"spec": {"controller": "example.com/c", "parameters": {"kind": "K", "name": "n"}}});
        IngressClasses.default(&mut obj);
        assert_eq!(obj["spec"]["parameters"]["scope"], "Cluster");
    }
}
