//! What a quota counts, as upstream's quota evaluators count it: which pods are charged
//! (not finished, not past their deletion grace period; matching the quota's scopes), what
//! a pod uses of `requests.*`, `limits.*` and the bare compute names, what a claim uses of
//! storage, and how an amount is written back as a quantity.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Container, PersistentVolumeClaim, Pod, PodSpec, ResourceQuotaSpec,
    ScopedResourceSelectorRequirement,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::scheduler::resources::amount;

/// Whether a pod is charged to quotas at all: upstream leaves out finished pods and pods
/// whose deletion grace period has passed.
pub fn charged(pod: &Pod, now: jiff::Timestamp) -> bool {
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    if matches!(phase, Some("Succeeded" | "Failed")) {
        return false;
    }
    match (
        &pod.metadata.deletion_timestamp,
        pod.metadata.deletion_grace_period_seconds,
    ) {
        (Some(at), Some(grace)) => {
            at.0.checked_add(jiff::SignedDuration::from_secs(grace))
                .map_or(true, |end| now < end)
        }
        _ => true,
    }
}

fn is_best_effort(spec: &PodSpec) -> bool {
    spec.containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .all(|c| {
            c.resources.as_ref().is_none_or(|r| {
                r.requests.as_ref().is_none_or(|l| l.is_empty())
                    && r.limits.as_ref().is_none_or(|l| l.is_empty())
            })
        })
}

fn matches_requirement(pod: &Pod, spec: &PodSpec, req: &ScopedResourceSelectorRequirement) -> bool {
    let values = req.values.as_deref().unwrap_or_default();
    match req.scope_name.as_str() {
        "PriorityClass" => {
            let class = spec.priority_class_name.as_deref();
            match req.operator.as_str() {
                "In" => class.is_some_and(|c| values.iter().any(|v| v == c)),
                "NotIn" => class.is_none_or(|c| !values.iter().any(|v| v == c)),
                "Exists" => class.is_some(),
                "DoesNotExist" => class.is_none(),
                _ => false,
            }
        }
        scope => matches_scope(pod, spec, scope),
    }
}

fn matches_scope(_pod: &Pod, spec: &PodSpec, scope: &str) -> bool {
    match scope {
        "Terminating" => spec.active_deadline_seconds.is_some(),
        "NotTerminating" => spec.active_deadline_seconds.is_none(),
        "BestEffort" => is_best_effort(spec),
        "NotBestEffort" => !is_best_effort(spec),
        "PriorityClass" => spec.priority_class_name.is_some(),
        // CrossNamespacePodAffinity and scopes of other objects: not matched.
        _ => false,
    }
}

/// Whether a pod falls under the quota's `scopes` and `scopeSelector` (all must match).
pub fn in_scope(quota: &ResourceQuotaSpec, pod: &Pod) -> bool {
    let Some(spec) = pod.spec.as_ref() else {
        return false;
    };
    quota
        .scopes
        .iter()
        .flatten()
        .all(|scope| matches_scope(pod, spec, scope))
        && quota
            .scope_selector
            .as_ref()
            .and_then(|s| s.match_expressions.as_ref())
            .into_iter()
            .flatten()
            .all(|req| matches_requirement(pod, spec, req))
}

/// A list of container amounts (`requests` or `limits`) as upstream's `PodRequests` /
/// `PodLimits` add them: containers and sidecars add up, each other init container counts
/// alone, and the pod uses the larger; the overhead is added on top.
fn pod_amounts(spec: &PodSpec, limits: bool) -> BTreeMap<String, i64> {
    let of = |c: &Container| -> BTreeMap<String, i64> {
        let list = c.resources.as_ref().and_then(|r| {
            if limits {
                r.limits.as_ref()
            } else {
                r.requests.as_ref()
            }
        });
        list.into_iter()
            .flatten()
            .map(|(name, q)| (name.clone(), amount(name, q)))
            .collect()
    };
    let add = |into: &mut BTreeMap<String, i64>, from: &BTreeMap<String, i64>| {
        for (name, value) in from {
            let mine = into.entry(name.clone()).or_insert(0);
            *mine = mine.saturating_add(*value);
        }
    };
    let mut total = BTreeMap::new();
    for container in &spec.containers {
        add(&mut total, &of(container));
    }
    let mut sidecars = BTreeMap::new();
    let mut peak: BTreeMap<String, i64> = BTreeMap::new();
    for container in spec.init_containers.iter().flatten() {
        let own = of(container);
        let running = if container.restart_policy.as_deref() == Some("Always") {
            add(&mut total, &own);
            add(&mut sidecars, &own);
            sidecars.clone()
        } else {
            let mut running = own;
            add(&mut running, &sidecars);
            running
        };
        for (name, value) in running {
            let mine = peak.entry(name).or_insert(0);
            *mine = (*mine).max(value);
        }
    }
    for (name, value) in peak {
        let mine = total.entry(name).or_insert(0);
        *mine = (*mine).max(value);
    }
    if let Some(overhead) = spec.overhead.as_ref() {
        let overhead = overhead
            .iter()
            .map(|(name, q)| (name.clone(), amount(name, q)))
            .collect();
        add(&mut total, &overhead);
    }
    total
}

/// What one pod uses of the quota resource `name` (`None`: the name is not a pod's).
pub fn pod_usage(pod: &Pod, name: &str) -> Option<i64> {
    let spec = pod.spec.as_ref()?;
    let of = |limits: bool, resource: &str| {
        pod_amounts(spec, limits)
            .get(resource)
            .copied()
            .unwrap_or(0)
    };
    match name {
        "pods" | "count/pods" => Some(1),
        "cpu" | "memory" | "ephemeral-storage" => Some(of(false, name)),
        _ => {
            if let Some(resource) = name
                .strip_prefix("requests.")
                .filter(|r| is_pod_resource(r))
            {
                Some(of(false, resource))
            } else if let Some(resource) =
                name.strip_prefix("limits.").filter(|r| is_pod_resource(r))
            {
                Some(of(true, resource))
            } else if is_extended(name) {
                // An extended resource is quota'd by its bare name too.
                Some(of(false, name))
            } else {
                None
            }
        }
    }
}

/// An extended resource's name (`example.com/gpu`): qualified, and neither an object count
/// nor a storage class's resource.
fn is_extended(name: &str) -> bool {
    name.contains('/')
        && !name.starts_with("count/")
        && !name.contains(".storageclass.storage.k8s.io/")
}

/// Whether containers request or limit `resource`.
fn is_pod_resource(resource: &str) -> bool {
    matches!(resource, "cpu" | "memory" | "ephemeral-storage")
        || resource.starts_with("hugepages-")
        || is_extended(resource)
}

/// What one claim uses of `name` (`None`: not a claim's resource).
pub fn claim_usage(claim: &PersistentVolumeClaim, name: &str) -> Option<i64> {
    let requested = || {
        claim
            .spec
            .as_ref()
            .and_then(|s| s.resources.as_ref())
            .and_then(|r| r.requests.as_ref())
            .and_then(|r| r.get("storage"))
            .map_or(0, |q| amount("storage", q))
    };
    let class = claim
        .spec
        .as_ref()
        .and_then(|s| s.storage_class_name.as_deref())
        .unwrap_or_default();
    match name {
        "persistentvolumeclaims" | "count/persistentvolumeclaims" => Some(1),
        "requests.storage" => Some(requested()),
        _ => {
            let (prefix, resource) = name.split_once(".storageclass.storage.k8s.io/")?;
            if prefix != class {
                return Some(0);
            }
            match resource {
                "persistentvolumeclaims" => Some(1),
                "requests.storage" => Some(requested()),
                _ => None,
            }
        }
    }
}

/// An amount of resource `name` as a quantity: CPU in cores or millicores (`1`, `1500m`),
/// memory and storage with the largest binary suffix that divides it (`256Mi`), counts as
/// plain numbers.
pub fn quantity(name: &str, value: i64) -> Quantity {
    let resource = name
        .strip_prefix("requests.")
        .or_else(|| name.strip_prefix("limits."))
        .unwrap_or(name);
    if resource == "cpu" {
        return Quantity(if value % 1000 == 0 {
            (value / 1000).to_string()
        } else {
            format!("{value}m")
        });
    }
    let sized = matches!(resource, "memory" | "ephemeral-storage" | "storage")
        || resource.starts_with("hugepages-")
        || name.ends_with("requests.storage");
    if sized && value != 0 {
        for (suffix, size) in [
            ("Ei", 1i64 << 60),
            ("Pi", 1 << 50),
            ("Ti", 1 << 40),
            ("Gi", 1 << 30),
            ("Mi", 1 << 20),
            ("Ki", 1 << 10),
        ] {
            if value % size == 0 {
                return Quantity(format!("{}{suffix}", value / size));
            }
        }
    }
    Quantity(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(spec: serde_json::Value) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": spec})).unwrap()
    }

    #[test]
    fn a_pod_uses_its_containers_requests_and_limits() {
        let p = pod(json!({
            "containers": [
                {"name": "a", "image": "x", "resources": {"requests": {"cpu": "250m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "256Mi"}}},
                {"name": "b", "image": "x", "resources": {"requests": {"cpu": "250m", "memory": "128Mi"}}},
            ],
            "initContainers": [{"name": "i", "image": "x", "resources": {"requests": {"cpu": "2"}}}],
        }));
        assert_eq!(pod_usage(&p, "pods"), Some(1));
        assert_eq!(pod_usage(&p, "requests.cpu"), Some(2000));
        assert_eq!(pod_usage(&p, "cpu"), Some(2000));
        assert_eq!(pod_usage(&p, "requests.memory"), Some(256 << 20));
        assert_eq!(pod_usage(&p, "limits.cpu"), Some(1000));
        assert_eq!(pod_usage(&p, "limits.memory"), Some(256 << 20));
        assert_eq!(pod_usage(&p, "services"), None);
        assert_eq!(pod_usage(&p, "requests.storage"), None);
        assert_eq!(
            pod_usage(&p, "gold.storageclass.storage.k8s.io/requests.storage"),
            None
        );
    }

    #[test]
    fn amounts_are_written_as_upstream_writes_them() {
        assert_eq!(quantity("requests.cpu", 1500).0, "1500m");
        assert_eq!(quantity("limits.cpu", 2000).0, "2");
        assert_eq!(quantity("requests.memory", 256 << 20).0, "256Mi");
        assert_eq!(quantity("memory", 1536 << 20).0, "1536Mi");
        assert_eq!(quantity("memory", 0).0, "0");
        assert_eq!(quantity("pods", 3).0, "3");
        assert_eq!(quantity("requests.storage", 1 << 30).0, "1Gi");
    }

    #[test]
    fn scopes_select_pods() {
        let best_effort = pod(json!({"containers": [{"name": "a", "image": "x"}]}));
        let deadline = pod(
            json!({"activeDeadlineSeconds": 10, "priorityClassName": "high",
            "containers": [{"name": "a", "image": "x", "resources": {"requests": {"cpu": "1"}}}]}),
        );
        let scoped = |spec: serde_json::Value| -> ResourceQuotaSpec {
            serde_json::from_value(spec).unwrap()
        };
        let be = scoped(json!({"scopes": ["BestEffort"]}));
        assert!(in_scope(&be, &best_effort) && !in_scope(&be, &deadline));
        let term = scoped(json!({"scopes": ["Terminating", "NotBestEffort"]}));
        assert!(!in_scope(&term, &best_effort) && in_scope(&term, &deadline));
        let high = scoped(
            json!({"scopeSelector": {"matchExpressions": [{"scopeName": "PriorityClass", "operator": "In", "values": ["high"]}]}}),
        );
        assert!(in_scope(&high, &deadline) && !in_scope(&high, &best_effort));
    }

    #[test]
    fn finished_and_expired_pods_are_not_charged() {
        let now = jiff::Timestamp::from_second(1_700_000_100).unwrap();
        let mut p = pod(json!({"containers": [{"name": "a", "image": "x"}]}));
        assert!(charged(&p, now));
        p.status = Some(serde_json::from_value(json!({"phase": "Succeeded"})).unwrap());
        assert!(!charged(&p, now));
        p.status = None;
        p.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            jiff::Timestamp::from_second(1_700_000_000).unwrap(),
        ));
        p.metadata.deletion_grace_period_seconds = Some(30);
        assert!(!charged(&p, now));
        p.metadata.deletion_grace_period_seconds = Some(300);
        assert!(charged(&p, now));
    }
}
