//! What simulated nodes are made of: how many, their names, capacity and labels, and the
//! kubelet's timings (upstream's defaults). Their pod CIDRs come from the node-ipam
//! controller, as a kubelet's do.
//! The `--simulated-node-*` flags are parsed here.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::quantity;

/// Capacity of a simulated node unless `--simulated-node-capacity` says otherwise.
pub const DEFAULT_CAPACITY: &str = "cpu=32,memory=256Gi,pods=110,ephemeral-storage=1Ti";

/// How to run a process's simulated nodes.
#[derive(Clone, Debug)]
pub struct SimulatedNodesConfig {
    /// How many nodes: `<name_prefix>-1` to `<name_prefix>-<count>`.
    pub count: u32,
    pub name_prefix: String,
    /// `status.capacity` (and `allocatable`) of every node.
    pub capacity: BTreeMap<String, String>,
    /// Labels on every node, beyond (and overriding) the standard ones.
    pub labels: BTreeMap<String, String>,
    /// The node Lease's `leaseDurationSeconds`; it is renewed every quarter of it.
    pub lease_duration: Duration,
    /// How often the node's status is computed (`nodeStatusUpdateFrequency`).
    pub status_update_frequency: Duration,
    /// How often an unchanged node status is written anyway, as a heartbeat
    /// (`nodeStatusReportFrequency`).
    pub status_report_frequency: Duration,
    /// How often each pod is synced even when nothing about it changed (`syncFrequency`).
    pub sync_frequency: Duration,
}

impl SimulatedNodesConfig {
    /// `count` nodes named `<name_prefix>-N` with the default capacity, no extra labels and
    /// upstream's timings.
    pub fn new(count: u32, name_prefix: &str) -> SimulatedNodesConfig {
        SimulatedNodesConfig {
            count,
            name_prefix: name_prefix.to_string(),
            capacity: parse_capacity(DEFAULT_CAPACITY).unwrap_or_default(),
            labels: BTreeMap::new(),
            lease_duration: Duration::from_secs(40),
            status_update_frequency: Duration::from_secs(10),
            status_report_frequency: Duration::from_secs(300),
            sync_frequency: Duration::from_secs(60),
        }
    }

    /// The name of the `index`-th node (from 1).
    pub fn node_name(&self, index: u32) -> String {
        format!("{}-{index}", self.name_prefix)
    }

    /// Refuses what the API server would refuse later, before anything starts.
    pub fn check(&self) -> Result<(), String> {
        let longest = self.node_name(self.count.max(1));
        if !is_dns_subdomain(&longest) {
            return Err(format!(
                "--node-name-prefix: {longest:?} is not a valid node name (lower case letters, \
                 digits, '-' and '.', at most 253 characters)"
            ));
        }
        Ok(())
    }
}

/// `--simulated-node-capacity`: `name=quantity,...`, each entry replacing the default of
/// the same name (`cpu=8` keeps the default memory, pods and ephemeral storage).
pub fn parse_capacity(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut capacity = BTreeMap::new();
    for (name, value) in
        pairs(DEFAULT_CAPACITY).chain(pairs(text).map(|(n, v)| (n.trim(), v.trim())))
    {
        if !is_label_key(name) {
            return Err(format!("{name:?} is not a resource name"));
        }
        match quantity::parse(value) {
            Ok(q) if q >= 0 => {}
            Ok(_) => return Err(format!("{name}={value}: a capacity cannot be negative")),
            Err(e) => return Err(format!("{name}: {e}")),
        }
        capacity.insert(name.to_string(), value.to_string());
    }
    Ok(capacity)
}

/// `--simulated-node-labels`: `key=value,...`, with upstream's rules for keys and values.
pub fn parse_labels(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut labels = BTreeMap::new();
    for (key, value) in pairs(text) {
        let (key, value) = (key.trim(), value.trim());
        if !is_label_key(key) {
            return Err(format!(
                "{key:?} is not a label key (an optional DNS prefix and '/', then at most 63 \
                 letters, digits, '-', '_' or '.', beginning and ending with a letter or digit)"
            ));
        }
        if !value.is_empty() && !is_qualified_name(value) {
            return Err(format!(
                "{key}={value:?}: a label value is at most 63 letters, digits, '-', '_' or '.', \
                 beginning and ending with a letter or digit"
            ));
        }
        labels.insert(key.to_string(), value.to_string());
    }
    Ok(labels)
}

/// `a=b,c=d` as pairs; an entry without `=` is a key with an empty value.
fn pairs(text: &str) -> impl Iterator<Item = (&str, &str)> {
    text.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| item.split_once('=').unwrap_or((item, "")))
}

/// A label key: `[prefix/]name`, the prefix a DNS subdomain.
fn is_label_key(key: &str) -> bool {
    match key.split_once('/') {
        Some((prefix, name)) => is_dns_subdomain(prefix) && is_qualified_name(name),
        None => is_qualified_name(key),
    }
}

/// Upstream's qualified name part: at most 63 characters of `[A-Za-z0-9_.-]`, beginning and
/// ending with an alphanumeric character.
fn is_qualified_name(name: &str) -> bool {
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    !name.is_empty()
        && name.len() <= 63
        && alnum(name.chars().next())
        && alnum(name.chars().last())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// A DNS subdomain (RFC 1123): lower case labels of `[a-z0-9-]` joined by dots.
pub fn is_dns_subdomain(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        })
}

/// A default node name prefix from the host's name, as a kubelet names its node after the
/// host: lower case, other characters turned into `-`.
pub fn host_name_prefix() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .unwrap_or_default();
    let cleaned: String = host
        .trim()
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let cleaned = cleaned.trim_matches(|c| c == '-' || c == '.').to_string();
    if cleaned.is_empty() || !is_dns_subdomain(&cleaned) {
        "keelson-sim".to_string()
    } else {
        cleaned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacity_entries_replace_the_defaults_of_their_name() {
        let capacity = parse_capacity("cpu=8, memory=16Gi").unwrap();
        assert_eq!(capacity["cpu"], "8");
        assert_eq!(capacity["memory"], "16Gi");
        assert_eq!(capacity["pods"], "110");
        assert_eq!(capacity["ephemeral-storage"], "1Ti");
        let extended = parse_capacity("example.com/gpu=4").unwrap();
        assert_eq!(extended["example.com/gpu"], "4");
        assert_eq!(parse_capacity("").unwrap()["cpu"], "32");
        assert!(parse_capacity("cpu=lots").unwrap_err().contains("cpu"));
        assert!(parse_capacity("cpu=-1").is_err());
        assert!(parse_capacity("=1").is_err());
    }

    #[test]
    fn labels_follow_upstreams_rules() {
        let labels = parse_labels("topology.kubernetes.io/zone=a,tier=db,empty=").unwrap();
        assert_eq!(labels["topology.kubernetes.io/zone"], "a");
        assert_eq!(labels["tier"], "db");
        assert_eq!(labels["empty"], "");
        assert!(parse_labels("Bad_Prefix/x=1").is_err());
        assert!(parse_labels("-x=1").is_err());
        assert!(parse_labels("x=not ok").is_err());
        assert!(parse_labels(&format!("x={}", "a".repeat(64))).is_err());
        assert!(parse_labels("").unwrap().is_empty());
    }

    #[test]
    fn configurations_that_cannot_work_are_refused() {
        let mut config = SimulatedNodesConfig::new(3, "keelson-node");
        assert_eq!(config.check(), Ok(()));
        assert_eq!(config.node_name(2), "keelson-node-2");
        config.name_prefix = "Bad_Name".into();
        assert!(config.check().unwrap_err().contains("--node-name-prefix"));
        config.name_prefix = "ok".into();
        assert_eq!(config.check(), Ok(()));
    }
}
