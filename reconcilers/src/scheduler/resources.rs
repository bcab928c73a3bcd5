//! Resource amounts as the scheduler counts them: CPU in millicores, memory and storage in
//! bytes, everything else in whole units, all `i64` as upstream's `framework.Resource`. A
//! pod's request follows upstream's `PodRequests`: containers add up, init containers run one
//! at a time (the largest counts, plus the sidecars started before it), pod-level requests
//! replace the containers' for CPU and memory, and the overhead is added on top.
//!
//! Quantities are read with the API's own parser (`keelson_apis::quantity`); arithmetic
//! saturates, so no request or allocatable amount, however absurd, can wrap around.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, PodSpec};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as ApiQuantity;
use keelson_apis::quantity::Quantity;

/// The CPU a container without a CPU request counts as when nodes are scored (upstream's
/// `DefaultMilliCPURequest`), so that best-effort pods still spread.
pub const DEFAULT_MILLI_CPU_REQUEST: i64 = 100;
/// The memory such a container counts as (`DefaultMemoryRequest`, 200 MiB).
pub const DEFAULT_MEMORY_REQUEST: i64 = 200 * 1024 * 1024;

/// Amounts of the resources the scheduler checks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resources {
    pub milli_cpu: i64,
    pub memory: i64,
    pub ephemeral_storage: i64,
    /// How many pods (only meaningful in a node's allocatable).
    pub pods: i64,
    /// Extended resources (`example.com/gpu`), hugepages and attachable volumes, by name.
    pub scalar: BTreeMap<String, i64>,
}

/// Whether a resource name is counted by name (upstream's `IsScalarResourceName`): an
/// extended resource (a qualified name outside `kubernetes.io/`), hugepages, attachable
/// volumes, or a native resource under `kubernetes.io/`.
fn is_scalar(name: &str) -> bool {
    name.starts_with("hugepages-")
        || name.starts_with("attachable-volumes-")
        || (name.contains('/') && !name.starts_with("requests."))
}

/// A quantity as an amount: millis for CPU, whole units otherwise. A value the API server
/// should have refused (unparseable, negative) counts as nothing; one beyond `i64` as the
/// largest amount, which no node offers and every request fits under.
pub fn amount(name: &str, quantity: &ApiQuantity) -> i64 {
    let Ok(q) = Quantity::parse(&quantity.0) else {
        return 0;
    };
    let value = if name == "cpu" {
        q.milli_value()
    } else {
        q.value()
    };
    match value {
        Some(v) => v.max(0),
        None if q.is_negative() => 0,
        None => i64::MAX,
    }
}

impl Resources {
    /// The amounts of a resource list (a node's allocatable, a container's requests).
    pub fn from_list(list: Option<&BTreeMap<String, ApiQuantity>>) -> Resources {
        let mut out = Resources::default();
        for (name, quantity) in list.into_iter().flatten() {
            out.set(name, amount(name, quantity));
        }
        out
    }

    fn set(&mut self, name: &str, value: i64) {
        match name {
            "cpu" => self.milli_cpu = value,
            "memory" => self.memory = value,
            "ephemeral-storage" => self.ephemeral_storage = value,
            "pods" => self.pods = value,
            _ if is_scalar(name) => {
                self.scalar.insert(name.to_string(), value);
            }
            _ => {}
        }
    }

    /// Whether nothing is requested (a best-effort pod).
    pub fn is_zero(&self) -> bool {
        self.milli_cpu == 0
            && self.memory == 0
            && self.ephemeral_storage == 0
            && self.scalar.values().all(|v| *v == 0)
    }

    pub fn add(&mut self, other: &Resources) {
        self.milli_cpu = self.milli_cpu.saturating_add(other.milli_cpu);
        self.memory = self.memory.saturating_add(other.memory);
        self.ephemeral_storage = self
            .ephemeral_storage
            .saturating_add(other.ephemeral_storage);
        self.pods = self.pods.saturating_add(other.pods);
        for (name, value) in &other.scalar {
            let mine = self.scalar.entry(name.clone()).or_insert(0);
            *mine = mine.saturating_add(*value);
        }
    }

    pub fn subtract(&mut self, other: &Resources) {
        self.milli_cpu = self.milli_cpu.saturating_sub(other.milli_cpu);
        self.memory = self.memory.saturating_sub(other.memory);
        self.ephemeral_storage = self
            .ephemeral_storage
            .saturating_sub(other.ephemeral_storage);
        self.pods = self.pods.saturating_sub(other.pods);
        for (name, value) in &other.scalar {
            let mine = self.scalar.entry(name.clone()).or_insert(0);
            *mine = mine.saturating_sub(*value);
        }
    }

    /// Each amount becomes the larger of the two.
    pub fn set_max(&mut self, other: &Resources) {
        self.milli_cpu = self.milli_cpu.max(other.milli_cpu);
        self.memory = self.memory.max(other.memory);
        self.ephemeral_storage = self.ephemeral_storage.max(other.ephemeral_storage);
        self.pods = self.pods.max(other.pods);
        for (name, value) in &other.scalar {
            let mine = self.scalar.entry(name.clone()).or_insert(0);
            *mine = (*mine).max(*value);
        }
    }

    /// The amount of a scalar resource (0 when absent).
    pub fn scalar(&self, name: &str) -> i64 {
        self.scalar.get(name).copied().unwrap_or(0)
    }
}

/// A container's requests; with `defaults`, a missing CPU or memory request counts as the
/// default (upstream's `NonMissingContainerRequests`; an explicit zero stays zero).
fn container_requests(container: &Container, defaults: bool) -> Resources {
    let list = container
        .resources
        .as_ref()
        .and_then(|r| r.requests.as_ref());
    let mut out = Resources::from_list(list);
    if defaults {
        let has = |name: &str| list.is_some_and(|l| l.contains_key(name));
        if !has("cpu") {
            out.milli_cpu = DEFAULT_MILLI_CPU_REQUEST;
        }
        if !has("memory") {
            out.memory = DEFAULT_MEMORY_REQUEST;
        }
    }
    out
}

/// What a pod requests (upstream's `PodRequests`), with missing container CPU and memory
/// requests counted as the defaults when `defaults` is set (what node scoring uses).
pub fn pod_requests(spec: &PodSpec, defaults: bool) -> Resources {
    let mut total = Resources::default();
    for container in &spec.containers {
        total.add(&container_requests(container, defaults));
    }
    // An init container runs beside the sidecars (restartable init containers) started
    // before it; sidecars keep running beside the app containers.
    let mut sidecars = Resources::default();
    let mut init_peak = Resources::default();
    for container in spec.init_containers.iter().flatten() {
        let requests = container_requests(container, defaults);
        if container.restart_policy.as_deref() == Some("Always") {
            total.add(&requests);
            sidecars.add(&requests);
            init_peak.set_max(&sidecars);
        } else {
            let mut running = requests;
            running.add(&sidecars);
            init_peak.set_max(&running);
        }
    }
    total.set_max(&init_peak);
    // Pod-level requests, where given, are the pod's CPU and memory.
    if let Some(pod_level) = spec.resources.as_ref().and_then(|r| r.requests.as_ref()) {
        for name in ["cpu", "memory"] {
            if let Some(q) = pod_level.get(name) {
                total.set(name, amount(name, q));
            }
        }
    }
    total.add(&Resources::from_list(spec.overhead.as_ref()));
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: serde_json::Value) -> PodSpec {
        serde_json::from_value(json).expect("pod spec")
    }

    #[test]
    fn containers_add_up_and_init_containers_take_the_max() {
        // Upstream's example: init 2 CPU/1G and 2 CPU/3G, containers 2 CPU/1G and 1 CPU/1G:
        // 3 CPU, 3G.
        let s = spec(serde_json::json!({
            "initContainers": [
                {"name": "i1", "resources": {"requests": {"cpu": "2", "memory": "1G"}}},
                {"name": "i2", "resources": {"requests": {"cpu": "2", "memory": "3G"}}},
            ],
            "containers": [
                {"name": "c1", "resources": {"requests": {"cpu": "2", "memory": "1G"}}},
                {"name": "c2", "resources": {"requests": {"cpu": "1", "memory": "1G"}}},
            ],
        }));
        let r = pod_requests(&s, false);
        assert_eq!(r.milli_cpu, 3000);
        assert_eq!(r.memory, 3_000_000_000);
    }

    #[test]
    fn sidecars_overhead_and_pod_level_requests() {
        let s = spec(serde_json::json!({
            "initContainers": [
                {"name": "sidecar", "restartPolicy": "Always",
                 "resources": {"requests": {"cpu": "500m", "memory": "100Mi"}}},
                {"name": "init", "resources": {"requests": {"cpu": "1", "memory": "50Mi"}}},
            ],
            "containers": [
                {"name": "app", "resources": {"requests": {"cpu": "250m", "example.com/gpu": "1"}}},
            ],
            "overhead": {"cpu": "10m", "memory": "1Mi"},
        }));
        let r = pod_requests(&s, false);
        // max(app + sidecar = 750m, init + sidecar = 1500m) + 10m.
        assert_eq!(r.milli_cpu, 1510);
        // max(100Mi, 150Mi) + 1Mi.
        assert_eq!(r.memory, 151 * 1024 * 1024);
        assert_eq!(r.scalar("example.com/gpu"), 1);

        let s = spec(serde_json::json!({
            "resources": {"requests": {"cpu": "2", "memory": "1Gi"}},
            "containers": [{"name": "app", "resources": {"requests": {"cpu": "1"}}}],
        }));
        let r = pod_requests(&s, false);
        assert_eq!((r.milli_cpu, r.memory), (2000, 1024 * 1024 * 1024));
    }

    #[test]
    fn missing_requests_count_as_defaults_for_scoring() {
        let s = spec(serde_json::json!({
            "containers": [
                {"name": "a"},
                {"name": "b", "resources": {"requests": {"cpu": "0"}}},
            ],
        }));
        assert!(pod_requests(&s, false).is_zero());
        let r = pod_requests(&s, true);
        assert_eq!(r.milli_cpu, DEFAULT_MILLI_CPU_REQUEST);
        assert_eq!(r.memory, 2 * DEFAULT_MEMORY_REQUEST);
    }

    #[test]
    fn amounts_never_overflow() {
        let huge = ApiQuantity("1e30".into());
        assert_eq!(amount("cpu", &huge), i64::MAX);
        assert_eq!(amount("memory", &ApiQuantity("bad".into())), 0);
        assert_eq!(amount("memory", &ApiQuantity("-1".into())), 0);
        let mut r = Resources {
            milli_cpu: i64::MAX,
            ..Resources::default()
        };
        r.add(&Resources {
            milli_cpu: 1,
            ..Resources::default()
        });
        assert_eq!(r.milli_cpu, i64::MAX);
    }
}
