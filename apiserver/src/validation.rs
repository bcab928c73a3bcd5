//! Validation every object gets (name format, labels, annotations), and the format rules
//! of upstream's `k8s.io/apimachinery/pkg/util/validation` that the per-resource
//! strategies share: DNS names, label keys and values, config keys, IANA port names,
//! environment variable names, percents, HTTP header names, IP addresses and CIDRs.
//!
//! Each `*_errors` function returns upstream's messages for a value, none when it is
//! valid; a caller reports each as an `Invalid value` at its own field path.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde_json::{Map, Value};

use crate::status::Cause;
use crate::strategy::NameRule;

const DNS1123_LABEL_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character";
const DNS1123_SUBDOMAIN_FMT: &str =
    "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const DNS1123_SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
const DNS1035_LABEL_FMT: &str = "[a-z]([-a-z0-9]*[a-z0-9])?";
const DNS1035_LABEL_MSG: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character";
const LABEL_KEY_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const LABEL_CHARS_MSG: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const CONFIG_KEY_FMT: &str = "[-._a-zA-Z0-9]+";
const CONFIG_KEY_MSG: &str =
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.'";
const PERCENT_FMT: &str = "[0-9]+%";
const PERCENT_MSG: &str =
    "a valid percent string must be a numeric string followed by an ending '%'";
const HTTP_HEADER_FMT: &str = "[-A-Za-z0-9]+";
const HTTP_HEADER_MSG: &str = "a valid HTTP header must consist of alphanumeric characters or '-'";

pub const DNS1123_LABEL_MAX: usize = 63;
pub const DNS1123_SUBDOMAIN_MAX: usize = 253;
const LABEL_MAX: usize = 63;
const PORT_NAME_MAX: usize = 15;
const TOTAL_ANNOTATION_BYTES: usize = 256 * 1024;

/// Upstream's message for a value that is not an IP address (legacy fields).
pub const INVALID_IP: &str = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)";
/// Upstream's message for a value that is not a CIDR (legacy fields).
pub const INVALID_CIDR: &str = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)";

/// `RegexError`: the message, examples (note upstream's double space before "or") and
/// the regex.
pub fn regex_error(msg: &str, re: &str, examples: &[&str]) -> String {
    if examples.is_empty() {
        return format!("{msg} (regex used for validation is '{re}')");
    }
    let shown: Vec<String> = examples.iter().map(|e| format!("'{e}', ")).collect();
    format!(
        "{msg} (e.g. {}regex used for validation is '{re}')",
        shown.join(" or ")
    )
}

/// `MaxLenError` of `util/validation` (characters) or of `api/validate/content` (bytes).
fn max_len_error(max: usize, unit: &str) -> String {
    format!("must be no more than {max} {unit}")
}

fn is_lower_alnum(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, without a length limit.
fn matches_dns1123_label(s: &str) -> bool {
    s.starts_with(is_lower_alnum)
        && s.ends_with(is_lower_alnum)
        && s.chars().all(|c| is_lower_alnum(c) || c == '-')
}

/// The subdomain regex: labels joined by dots.
fn matches_dns1123_subdomain(s: &str) -> bool {
    s.split('.').all(matches_dns1123_label)
}

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`.
fn matches_label_name(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.ends_with(|c: char| c.is_ascii_alphanumeric())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// `IsDNS1123Label`.
pub fn dns1123_label_errors(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > DNS1123_LABEL_MAX {
        errs.push(max_len_error(DNS1123_LABEL_MAX, "characters"));
    }
    if !matches_dns1123_label(s) {
        if matches_dns1123_subdomain(s) {
            errs.push("must not contain dots".into());
        } else {
            errs.push(regex_error(
                DNS1123_LABEL_MSG,
                DNS1123_LABEL_FMT,
                &["my-name", "123-abc"],
            ));
        }
    }
    errs
}

/// `IsDNS1123Subdomain`; `unit` is "characters" (`util/validation`) or "bytes"
/// (`api/validate/content`, used for label key prefixes).
fn subdomain_errors(s: &str, unit: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > DNS1123_SUBDOMAIN_MAX {
        errs.push(max_len_error(DNS1123_SUBDOMAIN_MAX, unit));
    }
    if !matches_dns1123_subdomain(s) {
        errs.push(regex_error(
            DNS1123_SUBDOMAIN_MSG,
            DNS1123_SUBDOMAIN_FMT,
            &["example.com"],
        ));
    }
    errs
}

/// `IsDNS1123Subdomain`.
pub fn dns1123_subdomain_errors(s: &str) -> Vec<String> {
    subdomain_errors(s, "characters")
}

/// `IsDNS1035Label`.
pub fn dns1035_label_errors(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > DNS1123_LABEL_MAX {
        errs.push(max_len_error(DNS1123_LABEL_MAX, "characters"));
    }
    if !matches_dns1123_label(s) || !s.starts_with(|c: char| c.is_ascii_lowercase()) {
        errs.push(regex_error(
            DNS1035_LABEL_MSG,
            DNS1035_LABEL_FMT,
            &["my-name", "abc-123"],
        ));
    }
    errs
}

/// `IsQualifiedName` (`content.IsLabelKey`): a label key, an annotation key, an
/// `appProtocol`.
pub fn label_key_errors(key: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let name = match key.split_once('/') {
        None => key,
        Some((_, rest)) if rest.contains('/') => {
            errs.push(format!(
                "a valid label key {} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                regex_error(LABEL_CHARS_MSG, LABEL_KEY_FMT, &["MyName", "my.name", "123-abc"])
            ));
            return errs;
        }
        Some((prefix, name)) => {
            if prefix.is_empty() {
                errs.push("prefix part must be non-empty".into());
            } else {
                for msg in subdomain_errors(prefix, "bytes") {
                    errs.push(format!("prefix part {msg}"));
                }
            }
            name
        }
    };
    if name.is_empty() {
        errs.push("name part must be non-empty".into());
    } else if name.len() > LABEL_MAX {
        errs.push(format!("name part {}", max_len_error(LABEL_MAX, "bytes")));
    }
    if !matches_label_name(name) {
        errs.push(format!(
            "name part {}",
            regex_error(
                LABEL_CHARS_MSG,
                LABEL_KEY_FMT,
                &["MyName", "my.name", "123-abc"]
            )
        ));
    }
    errs
}

/// `IsValidLabelValue`.
pub fn label_value_errors(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > LABEL_MAX {
        errs.push(max_len_error(LABEL_MAX, "bytes"));
    }
    if !value.is_empty() && !matches_label_name(value) {
        errs.push(regex_error(
            "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
            &format!("({LABEL_KEY_FMT})?"),
            &["MyValue", "my_value", "12345"],
        ));
    }
    errs
}

/// `IsConfigMapKey`: a key of a ConfigMap's or Secret's data, or one a pod refers to.
pub fn config_key_errors(key: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if key.len() > DNS1123_SUBDOMAIN_MAX {
        errs.push(max_len_error(DNS1123_SUBDOMAIN_MAX, "characters"));
    }
    let valid_chars = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
    if !valid_chars {
        errs.push(regex_error(
            CONFIG_KEY_MSG,
            CONFIG_KEY_FMT,
            &["key.name", "KEY_NAME", "key-name"],
        ));
    }
    if key == "." {
        errs.push("must not be '.'".into());
    } else if key == ".." {
        errs.push("must not be '..'".into());
    } else if key.starts_with("..") {
        errs.push("must not start with '..'".into());
    }
    errs
}

/// `IsValidPortName`: an IANA_SVC_NAME, as container ports and probes name ports.
pub fn port_name_errors(name: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if name.len() > PORT_NAME_MAX {
        errs.push(max_len_error(PORT_NAME_MAX, "characters"));
    }
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        errs.push("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".into());
    }
    if !name.chars().any(|c| c.is_ascii_lowercase()) {
        errs.push("must contain at least one letter (a-z)".into());
    }
    if name.contains("--") {
        errs.push("must not contain consecutive hyphens".into());
    }
    if name.starts_with('-') || name.ends_with('-') {
        errs.push("must not begin or end with a hyphen".into());
    }
    errs
}

/// `IsRelaxedEnvVarName` (RelaxedEnvironmentVariableValidation is GA): printable ASCII
/// other than `=`.
pub fn env_var_name_errors(name: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if name.is_empty() {
        errs.push("environment variable name must be non-empty".into());
    }
    if name.chars().any(|c| !(' '..='~').contains(&c) || c == '=') {
        errs.push(
            "a valid environment variable name must consist only of printable ASCII characters other than '='"
                .into(),
        );
    }
    errs
}

/// `IsValidPercent`: `[0-9]+%`.
pub fn percent_errors(value: &str) -> Vec<String> {
    match value.strip_suffix('%') {
        Some(digits) if !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()) => {
            Vec::new()
        }
        _ => vec![regex_error(PERCENT_MSG, PERCENT_FMT, &["1%", "93%"])],
    }
}

/// `IsHTTPHeaderName`.
pub fn http_header_name_errors(name: &str) -> Vec<String> {
    if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        Vec::new()
    } else {
        vec![regex_error(
            HTTP_HEADER_MSG,
            HTTP_HEADER_FMT,
            &["X-Header-Name"],
        )]
    }
}

/// An IPv4 address as Go's old `net.ParseIP` read it: four decimal octets, leading zeros
/// allowed.
fn parse_ipv4_sloppy(s: &str) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut parts = s.split('.');
    for octet in &mut octets {
        let part = parts.next()?;
        if part.is_empty() || part.len() > 3 || !part.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        *octet = part.parse().ok()?;
    }
    parts.next().is_none().then(|| Ipv4Addr::from(octets))
}

/// `netutils.ParseIPSloppy`, as legacy IP fields (Service cluster and external IPs) are
/// parsed while StrictIPCIDRValidation is off (alpha in 1.35).
pub fn parse_ip_sloppy(s: &str) -> Option<IpAddr> {
    if let Some(v4) = parse_ipv4_sloppy(s) {
        return Some(IpAddr::V4(v4));
    }
    if !s.contains(':') {
        return None;
    }
    s.parse::<Ipv6Addr>()
        .ok()
        .map(|v6| match v6.to_ipv4_mapped() {
            // Go treats an IPv4-mapped address as IPv4.
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        })
}

/// `netutils.ParseCIDRSloppy`: an address and a prefix length (host bits may be set).
pub fn parse_cidr_sloppy(s: &str) -> Option<(IpAddr, u32)> {
    let (ip, bits) = s.split_once('/')?;
    if bits.is_empty() || bits.len() > 3 || !bits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let bits: u32 = bits.parse().ok()?;
    let addr = if ip.contains(':') {
        IpAddr::V6(ip.parse::<Ipv6Addr>().ok()?)
    } else {
        IpAddr::V4(parse_ipv4_sloppy(ip)?)
    };
    let max = if addr.is_ipv4() { 32 } else { 128 };
    (bits <= max).then_some((addr, bits))
}

/// Reports each message as an `Invalid value` of `value` at `field`.
pub fn push_invalid(causes: &mut Vec<Cause>, field: &str, value: &str, messages: Vec<String>) {
    for msg in messages {
        causes.push(Cause::invalid(field, value, &msg));
    }
}

/// The error messages upstream gives for a bad object name, none when it is fine.
pub fn name_problems(name: &str, rule: NameRule) -> Vec<String> {
    match rule {
        NameRule::Subdomain => dns1123_subdomain_errors(name),
        NameRule::Label => dns1123_label_errors(name),
        NameRule::Rfc1035Label => dns1035_label_errors(name),
        NameRule::PathSegment => path_segment_errors(name),
    }
}

/// `path.IsValidPathSegmentName`: anything a URL path segment can hold (RBAC names such
/// as `system:discovery`).
pub fn path_segment_errors(name: &str) -> Vec<String> {
    match name {
        "." | ".." => vec![format!("may not be '{name}'")],
        _ => ["/", "%"]
            .iter()
            .filter(|bad| name.contains(**bad))
            .map(|bad| format!("may not contain '{bad}'"))
            .collect(),
    }
}

/// `ValidateLabels`: key and value errors, both at the map's own path.
pub fn validate_labels(labels: Option<&Value>, field: &str, causes: &mut Vec<Cause>) {
    for (key, value) in labels.and_then(Value::as_object).into_iter().flatten() {
        push_invalid(causes, field, key, label_key_errors(key));
        let value = value.as_str().unwrap_or_default();
        push_invalid(causes, field, value, label_value_errors(value));
    }
}

/// `ValidateAnnotations`: keys are qualified names in any case, and all of them together
/// at most 256 KiB.
pub fn validate_annotations(annotations: Option<&Value>, field: &str, causes: &mut Vec<Cause>) {
    let empty = Map::new();
    let annotations = annotations.and_then(Value::as_object).unwrap_or(&empty);
    let mut total: usize = 0;
    for (key, value) in annotations {
        push_invalid(causes, field, key, label_key_errors(&key.to_lowercase()));
        total = total
            .saturating_add(key.len())
            .saturating_add(value.as_str().map_or(0, str::len));
    }
    if total > TOTAL_ANNOTATION_BYTES {
        causes.push(Cause::too_long(field, TOTAL_ANNOTATION_BYTES));
    }
}

/// Checks `metadata`: name (unless generated), labels and annotations.
pub fn validate_metadata(obj: &Value, rule: NameRule, causes: &mut Vec<Cause>) {
    let meta = obj.get("metadata");
    let name = meta
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("");
    if name.is_empty() {
        causes.push(Cause::required_with(
            "metadata.name",
            "name or generateName is required",
        ));
    } else {
        push_invalid(causes, "metadata.name", name, name_problems(name, rule));
    }
    validate_labels(
        meta.and_then(|m| m.get("labels")),
        "metadata.labels",
        causes,
    );
    validate_annotations(
        meta.and_then(|m| m.get("annotations")),
        "metadata.annotations",
        causes,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names() {
        assert!(name_problems("web-1.example", NameRule::Subdomain).is_empty());
        assert!(!name_problems("Web", NameRule::Subdomain).is_empty());
        assert_eq!(
            name_problems("a.b", NameRule::Label),
            vec!["must not contain dots"]
        );
        assert_eq!(
            name_problems("1abc", NameRule::Rfc1035Label),
            vec!["a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"]
        );
        assert!(name_problems("abc-1", NameRule::Rfc1035Label).is_empty());
        assert_eq!(
            name_problems(&"a".repeat(254), NameRule::Subdomain),
            vec!["must be no more than 253 characters"]
        );
        assert!(name_problems("system:discovery", NameRule::PathSegment).is_empty());
        assert_eq!(
            name_problems("a/b%", NameRule::PathSegment),
            vec!["may not contain '/'", "may not contain '%'"]
        );
        assert_eq!(
            name_problems("..", NameRule::PathSegment),
            vec!["may not be '..'"]
        );
        assert_eq!(
            dns1123_label_errors("A_b"),
            vec!["a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"]
        );
    }

    #[test]
    fn label_keys_and_values() {
        assert!(label_key_errors("example.com/tier").is_empty());
        assert_eq!(
            label_key_errors("/a"),
            vec!["prefix part must be non-empty"]
        );
        assert_eq!(
            label_key_errors("a/b/c"),
            vec!["a valid label key must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]
        );
        assert_eq!(
            label_key_errors(&"a".repeat(64)),
            vec!["name part must be no more than 63 bytes"]
        );
        assert_eq!(
            label_key_errors("Bad.com/x"),
            vec!["prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"]
        );
        assert_eq!(
            label_key_errors("a/"),
            vec!["name part must be non-empty", "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"]
        );
        assert!(label_value_errors("").is_empty());
        assert_eq!(
            label_value_errors("-x"),
            vec!["a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"]
        );
    }

    #[test]
    fn config_keys() {
        assert!(config_key_errors("app.properties").is_empty());
        assert!(config_key_errors(".hidden").is_empty());
        assert_eq!(config_key_errors("."), vec!["must not be '.'"]);
        assert_eq!(config_key_errors(".."), vec!["must not be '..'"]);
        assert_eq!(config_key_errors("..a"), vec!["must not start with '..'"]);
        assert_eq!(
            config_key_errors("a b"),
            vec!["a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"]
        );
        assert_eq!(
            config_key_errors(&"k".repeat(254)),
            vec!["must be no more than 253 characters"]
        );
    }

    #[test]
    fn port_names() {
        assert!(port_name_errors("http").is_empty());
        assert!(port_name_errors("h2c-8080").is_empty());
        assert_eq!(
            port_name_errors("-Web--"),
            vec![
                "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
                "must not contain consecutive hyphens",
                "must not begin or end with a hyphen",
            ]
        );
        assert_eq!(
            port_name_errors("8080"),
            vec!["must contain at least one letter (a-z)"]
        );
        assert_eq!(
            port_name_errors("abcdefghijklmnop"),
            vec!["must be no more than 15 characters"]
        );
    }

    #[test]
    fn env_names_percents_headers() {
        assert!(env_var_name_errors("my.env-NAME 1").is_empty());
        assert_eq!(
            env_var_name_errors("a=b"),
            vec!["a valid environment variable name must consist only of printable ASCII characters other than '='"]
        );
        assert_eq!(env_var_name_errors("é").len(), 1);
        assert!(percent_errors("25%").is_empty());
        assert_eq!(
            percent_errors("25"),
            vec!["a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')"]
        );
        assert_eq!(percent_errors("%").len(), 1);
        assert!(http_header_name_errors("X-Custom").is_empty());
        assert_eq!(http_header_name_errors("X Custom").len(), 1);
    }

    #[test]
    fn sloppy_ips_and_cidrs() {
        assert_eq!(
            parse_ip_sloppy("010.0.0.1"),
            Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)))
        );
        assert_eq!(
            parse_ip_sloppy("::ffff:1.2.3.4"),
            Some(IpAddr::V4(Ipv4Addr::new(1, 2, 3, 4)))
        );
        assert!(parse_ip_sloppy("2001:db8::1").is_some_and(|ip| ip.is_ipv6()));
        for bad in [
            "",
            "1.2.3",
            "1.2.3.256",
            "1.2.3.4.5",
            "abc",
            "1.2.3.4/32",
            "fe80::1%eth0",
        ] {
            assert_eq!(parse_ip_sloppy(bad), None, "{bad}");
        }
        assert!(parse_cidr_sloppy("10.0.0.1/8").is_some());
        assert!(parse_cidr_sloppy("2001:db8::/64").is_some());
        for bad in ["10.0.0.0", "10.0.0.0/33", "10.0.0.0/", "x/8", "::/129"] {
            assert_eq!(parse_cidr_sloppy(bad), None, "{bad}");
        }
    }

    #[test]
    fn labels_and_annotations() {
        let mut causes = Vec::new();
        let obj = json!({"metadata": {"name": "x", "labels": {"app": "web", "example.com/tier": "", "bad key": "v", "k": "bad value"}}});
        validate_metadata(&obj, NameRule::Subdomain, &mut causes);
        assert_eq!(causes.len(), 2, "{causes:?}");
        assert_eq!(causes[0].field, "metadata.labels");
        assert!(causes[0]
            .message
            .starts_with("Invalid value: \"bad key\": name part must consist"));
        assert!(causes[1]
            .message
            .starts_with("Invalid value: \"bad value\": a valid label must be"));
        let mut causes = Vec::new();
        validate_metadata(&json!({"metadata": {}}), NameRule::Subdomain, &mut causes);
        assert_eq!(causes[0].field, "metadata.name");
        assert_eq!(
            causes[0].message,
            "Required value: name or generateName is required"
        );
        // Annotation keys are checked in lower case.
        let mut causes = Vec::new();
        let obj =
            json!({"metadata": {"name": "x", "annotations": {"Example.COM/Key": "v", "a b": ""}}});
        validate_metadata(&obj, NameRule::Subdomain, &mut causes);
        assert_eq!(causes.len(), 1, "{causes:?}");
        assert_eq!(causes[0].field, "metadata.annotations");
        let big = "x".repeat(TOTAL_ANNOTATION_BYTES);
        let mut causes = Vec::new();
        validate_metadata(
            &json!({"metadata": {"name": "x", "annotations": {"k": big}}}),
            NameRule::Subdomain,
            &mut causes,
        );
        assert_eq!(
            causes,
            vec![Cause::too_long(
                "metadata.annotations",
                TOTAL_ANNOTATION_BYTES
            )]
        );
    }
}
