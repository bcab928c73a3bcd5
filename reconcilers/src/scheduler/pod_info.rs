//! What the scheduler reads of a pod, worked out once per version of the pod instead of once
//! per node it is checked against: its requests, host ports, priority, node requirements and
//! pod (anti-)affinity terms (upstream's `framework.PodInfo`).

use std::collections::BTreeSet;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Pod, PodAffinityTerm};

use super::labels::{Labels, RequiredNodeAffinity, Selector};
use super::resources::{pod_requests, Resources};

/// The scheduler this one is: it takes pods whose `spec.schedulerName` names it.
pub const DEFAULT_SCHEDULER_NAME: &str = "default-scheduler";

/// A port on the node's network a container asks for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HostPort {
    /// `0.0.0.0` when the container gave no host IP.
    pub ip: String,
    /// `TCP` when unset.
    pub protocol: String,
    pub port: i32,
}

impl HostPort {
    /// Whether two ports collide: same protocol and port, and the same IP or either on all
    /// addresses (upstream's `HostPortInfo.CheckConflict`).
    pub fn conflicts(&self, other: &HostPort) -> bool {
        self.port == other.port
            && self.protocol == other.protocol
            && (self.ip == other.ip || self.ip == "0.0.0.0" || other.ip == "0.0.0.0")
    }
}

/// One pod (anti-)affinity term, compiled.
#[derive(Clone, Debug)]
pub struct AffinityTerm {
    /// Namespaces named by the term (its pod's own namespace when it names none and has
    /// no namespace selector).
    pub namespaces: BTreeSet<String>,
    /// Namespaces selected by their labels (nothing when the term has no selector).
    pub namespace_selector: Selector,
    pub selector: Selector,
    pub topology_key: String,
}

impl AffinityTerm {
    fn new(owner_namespace: &str, term: &PodAffinityTerm) -> Result<AffinityTerm, String> {
        let namespaces = match (&term.namespaces, &term.namespace_selector) {
            (None, None) => BTreeSet::from([owner_namespace.to_string()]),
            (Some(n), None) if n.is_empty() => BTreeSet::from([owner_namespace.to_string()]),
            (names, _) => names.iter().flatten().cloned().collect(),
        };
        Ok(AffinityTerm {
            namespaces,
            namespace_selector: Selector::from_label_selector(term.namespace_selector.as_ref())?,
            selector: Selector::from_label_selector(term.label_selector.as_ref())?,
            topology_key: term.topology_key.clone(),
        })
    }

    /// Whether `pod` (in a namespace with labels `namespace_labels`) is one the term selects.
    pub fn matches(&self, pod: &PodInfo, namespace_labels: Option<&Labels>) -> bool {
        (self.namespaces.contains(&pod.namespace)
            || self.namespace_selector.matches(namespace_labels))
            && self.selector.matches(pod.labels())
    }
}

/// A preferred term and its weight.
#[derive(Clone, Debug)]
pub struct WeightedTerm {
    pub weight: i64,
    pub term: AffinityTerm,
}

/// A pod as the scheduler sees it.
#[derive(Debug)]
pub struct PodInfo {
    pub pod: Arc<Pod>,
    /// `namespace/name`: the key of the queue and the cache.
    pub key: String,
    pub namespace: String,
    pub name: String,
    pub uid: String,
    /// `spec.priority`, or its PriorityClass's value (0 without either).
    pub priority: i32,
    /// What it requests (the fit check).
    pub requests: Resources,
    /// CPU millis and memory bytes it counts as when nodes are scored (containers without a
    /// request count as the defaults).
    pub non_zero_cpu: i64,
    pub non_zero_memory: i64,
    pub host_ports: Vec<HostPort>,
    pub node_affinity: RequiredNodeAffinity,
    pub required_affinity: Vec<AffinityTerm>,
    pub required_anti_affinity: Vec<AffinityTerm>,
    pub preferred_affinity: Vec<WeightedTerm>,
    pub preferred_anti_affinity: Vec<WeightedTerm>,
    /// A pod (anti-)affinity term that does not parse: the pod cannot be scheduled.
    pub affinity_error: Option<String>,
    /// Whether it is being deleted.
    pub terminating: bool,
}

impl PodInfo {
    pub fn new(pod: Arc<Pod>, priority: i32) -> PodInfo {
        let namespace = pod.metadata.namespace.clone().unwrap_or_default();
        let name = pod.metadata.name.clone().unwrap_or_default();
        let spec = pod.spec.as_ref();
        let (requests, non_zero) = match spec {
            Some(spec) => (pod_requests(spec, false), pod_requests(spec, true)),
            None => (Resources::default(), Resources::default()),
        };
        let mut host_ports = Vec::new();
        if let Some(spec) = spec {
            let sidecars = spec
                .init_containers
                .iter()
                .flatten()
                .filter(|c| c.restart_policy.as_deref() == Some("Always"));
            for container in spec.containers.iter().chain(sidecars) {
                for port in container.ports.iter().flatten() {
                    let Some(host_port) = port.host_port.filter(|p| *p > 0) else {
                        continue;
                    };
                    host_ports.push(HostPort {
                        ip: port
                            .host_ip
                            .clone()
                            .filter(|ip| !ip.is_empty())
                            .unwrap_or_else(|| "0.0.0.0".into()),
                        protocol: port
                            .protocol
                            .clone()
                            .filter(|p| !p.is_empty())
                            .unwrap_or_else(|| "TCP".into()),
                        port: host_port,
                    });
                }
            }
        }
        let affinity = spec.and_then(|s| s.affinity.as_ref());
        let node_affinity = RequiredNodeAffinity::new(
            spec.and_then(|s| s.node_selector.as_ref()),
            affinity
                .and_then(|a| a.node_affinity.as_ref())
                .and_then(|n| {
                    n.required_during_scheduling_ignored_during_execution
                        .as_ref()
                }),
        );
        let mut affinity_error = None;
        let mut compile = |terms: Option<&Vec<PodAffinityTerm>>| -> Vec<AffinityTerm> {
            terms
                .into_iter()
                .flatten()
                .filter_map(|t| match AffinityTerm::new(&namespace, t) {
                    Ok(term) => Some(term),
                    Err(e) => {
                        affinity_error = Some(e);
                        None
                    }
                })
                .collect()
        };
        let pod_affinity = affinity.and_then(|a| a.pod_affinity.as_ref());
        let pod_anti_affinity = affinity.and_then(|a| a.pod_anti_affinity.as_ref());
        let required_affinity = compile(pod_affinity.and_then(|a| {
            a.required_during_scheduling_ignored_during_execution
                .as_ref()
        }));
        let required_anti_affinity = compile(pod_anti_affinity.and_then(|a| {
            a.required_during_scheduling_ignored_during_execution
                .as_ref()
        }));
        let mut weighted =
            |terms: Option<&Vec<k8s_openapi::api::core::v1::WeightedPodAffinityTerm>>| {
                terms
                    .into_iter()
                    .flatten()
                    .filter(|t| t.weight != 0)
                    .filter_map(
                        |t| match AffinityTerm::new(&namespace, &t.pod_affinity_term) {
                            Ok(term) => Some(WeightedTerm {
                                weight: i64::from(t.weight),
                                term,
                            }),
                            Err(e) => {
                                affinity_error = Some(e);
                                None
                            }
                        },
                    )
                    .collect::<Vec<_>>()
            };
        let preferred_affinity = weighted(pod_affinity.and_then(|a| {
            a.preferred_during_scheduling_ignored_during_execution
                .as_ref()
        }));
        let preferred_anti_affinity = weighted(pod_anti_affinity.and_then(|a| {
            a.preferred_during_scheduling_ignored_during_execution
                .as_ref()
        }));
        PodInfo {
            key: format!("{namespace}/{name}"),
            uid: pod.metadata.uid.clone().unwrap_or_default(),
            terminating: pod.metadata.deletion_timestamp.is_some(),
            namespace,
            name,
            priority,
            requests,
            non_zero_cpu: non_zero.milli_cpu,
            non_zero_memory: non_zero.memory,
            host_ports,
            node_affinity,
            required_affinity,
            required_anti_affinity,
            preferred_affinity,
            preferred_anti_affinity,
            affinity_error,
            pod,
        }
    }

    pub fn labels(&self) -> Option<&Labels> {
        self.pod.metadata.labels.as_ref()
    }

    /// `spec.nodeName`, empty when unscheduled.
    pub fn node_name(&self) -> &str {
        self.pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .unwrap_or("")
    }

    pub fn scheduler_name(&self) -> &str {
        scheduler_name(&self.pod)
    }

    /// Whether it has any pod affinity or anti-affinity (what the InterPodAffinity plugin
    /// looks at on existing pods).
    pub fn has_affinity(&self) -> bool {
        !self.required_affinity.is_empty()
            || !self.required_anti_affinity.is_empty()
            || !self.preferred_affinity.is_empty()
            || !self.preferred_anti_affinity.is_empty()
    }
}

/// The scheduler a pod asks for (the API server defaults it to `default-scheduler`).
pub fn scheduler_name(pod: &Pod) -> &str {
    pod.spec
        .as_ref()
        .and_then(|s| s.scheduler_name.as_deref())
        .filter(|n| !n.is_empty())
        .unwrap_or(DEFAULT_SCHEDULER_NAME)
}

/// Whether the pod has finished (`Succeeded` or `Failed`): it holds no resources.
pub fn is_terminal(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    )
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A pod from JSON in namespace `default` (test helper shared by the plugins' tests).
    pub fn pod(name: &str, spec: serde_json::Value) -> Arc<PodInfo> {
        pod_with(name, serde_json::json!({}), spec, 0)
    }

    /// A pod with metadata (labels, namespace) and a priority.
    pub fn pod_with(
        name: &str,
        metadata: serde_json::Value,
        spec: serde_json::Value,
        priority: i32,
    ) -> Arc<PodInfo> {
        let mut meta = serde_json::json!({"name": name, "namespace": "default", "uid": name});
        if let (Some(m), Some(extra)) = (meta.as_object_mut(), metadata.as_object()) {
            for (k, v) in extra {
                m.insert(k.clone(), v.clone());
            }
        }
        let mut spec = spec;
        if spec.get("containers").is_none() {
            spec["containers"] = serde_json::json!([{"name": "c"}]);
        }
        let pod: Pod = serde_json::from_value(serde_json::json!({"metadata": meta, "spec": spec}))
            .expect("pod");
        Arc::new(PodInfo::new(Arc::new(pod), priority))
    }

    #[test]
    fn host_ports_and_terms_are_read_once() {
        let p = pod(
            "p",
            serde_json::json!({
                "containers": [{"name": "c", "ports": [
                    {"containerPort": 80, "hostPort": 8080},
                    {"containerPort": 53, "hostPort": 53, "protocol": "UDP", "hostIP": "10.0.0.1"},
                    {"containerPort": 9090},
                ]}],
                "affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                    {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "kubernetes.io/hostname"},
                ]}},
            }),
        );
        assert_eq!(p.key, "default/p");
        assert_eq!(p.host_ports.len(), 2);
        assert_eq!(p.host_ports[0].ip, "0.0.0.0");
        assert_eq!(p.host_ports[0].protocol, "TCP");
        assert_eq!(p.host_ports[1].protocol, "UDP");
        assert_eq!(p.required_anti_affinity.len(), 1);
        assert!(p.required_anti_affinity[0].namespaces.contains("default"));
        assert!(p.has_affinity());
        assert_eq!(p.non_zero_cpu, 100);
    }

    #[test]
    fn host_port_conflicts() {
        let port = |ip: &str, protocol: &str, port: i32| HostPort {
            ip: ip.into(),
            protocol: protocol.into(),
            port,
        };
        assert!(port("0.0.0.0", "TCP", 80).conflicts(&port("10.0.0.1", "TCP", 80)));
        assert!(port("10.0.0.1", "TCP", 80).conflicts(&port("0.0.0.0", "TCP", 80)));
        assert!(!port("10.0.0.1", "TCP", 80).conflicts(&port("10.0.0.2", "TCP", 80)));
        assert!(!port("0.0.0.0", "TCP", 80).conflicts(&port("0.0.0.0", "UDP", 80)));
        assert!(!port("0.0.0.0", "TCP", 80).conflicts(&port("0.0.0.0", "TCP", 81)));
    }
}
