//! Taking in what the informers report, level-triggered: a change notification names an
//! object, and the informer's cache says what it is now (absent: deleted). Pods bound to a
//! node go to the cache (confirming an assumption), pods waiting for this scheduler to the
//! queue; deleted and finished pods leave both; nodes go to the cache. A change that may
//! help unschedulable pods (a node added or changed, a pod deleted or finished, a pod
//! bound) moves them, as far as the plugins that rejected them care.
//!
//! Pods' priorities come from `spec.priority`, or (when the API server did not resolve it)
//! from their PriorityClass or the global default class, as upstream's Priority admission
//! plugin would have set it.

use std::sync::Arc;
use std::time::Instant;

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::runtime::reflector::ObjectRef;

use super::driver::Driver;
use super::pod_info::{is_terminal, scheduler_name, PodInfo, DEFAULT_SCHEDULER_NAME};
use super::queue::{ClusterEvent, NodeChange};

fn key_of(pod: &Pod) -> Option<String> {
    Some(format!(
        "{}/{}",
        pod.metadata.namespace.as_deref()?,
        pod.metadata.name.as_deref()?
    ))
}

/// What changed between two versions of a node, as far as scheduling goes.
pub fn node_change(old: &Node, new: &Node) -> NodeChange {
    let spec = |n: &Node| n.spec.clone().unwrap_or_default();
    let status = |n: &Node| n.status.clone().unwrap_or_default();
    let (old_spec, new_spec) = (spec(old), spec(new));
    let (old_status, new_status) = (status(old), status(new));
    NodeChange {
        allocatable: old_status.allocatable != new_status.allocatable,
        labels: old.metadata.labels != new.metadata.labels,
        taints: old_spec.taints != new_spec.taints
            || old_spec.unschedulable != new_spec.unschedulable,
        images: old_status.images != new_status.images,
    }
}

impl Driver {
    /// The pod's priority (see the module docs).
    pub(super) fn priority_of(&self, pod: &Pod) -> i32 {
        let spec = pod.spec.as_ref();
        if let Some(priority) = spec.and_then(|s| s.priority) {
            return priority;
        }
        let class = spec.and_then(|s| s.priority_class_name.as_deref());
        match class.filter(|c| !c.is_empty()) {
            Some(name) => self
                .priority_classes
                .get(&ObjectRef::new(name))
                .map_or(0, |c| c.value),
            None => self
                .priority_classes
                .state()
                .iter()
                .filter(|c| c.global_default == Some(true))
                .map(|c| c.value)
                .min()
                .unwrap_or(0),
        }
    }

    /// Whether a pod waits for this scheduler: ours, unbound, not finished or deleted.
    pub(super) fn wants(&self, pod: &Pod) -> bool {
        let unbound = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .is_none_or(str::is_empty);
        unbound
            && scheduler_name(pod) == DEFAULT_SCHEDULER_NAME
            && pod.metadata.deletion_timestamp.is_none()
            && !is_terminal(pod)
    }

    /// A pod changed (or was deleted): bring the queue and the cache in line with the
    /// informer's copy.
    pub(super) fn on_pod(&mut self, changed: &Pod) {
        let Some(key) = key_of(changed) else {
            return;
        };
        match self.current(&key) {
            None => self.pod_gone(&key),
            Some(pod) => self.pod_seen(&key, pod),
        }
    }

    fn pod_gone(&mut self, key: &str) {
        if let Some((_, assumed, _)) = self.cache.placement(key) {
            self.cache.remove_pod(key);
            if !assumed {
                self.move_pods(ClusterEvent::AssignedPodDelete);
            }
        }
        self.queue.delete(key);
        self.nominator.remove(key);
    }

    fn pod_seen(&mut self, key: &str, pod: Arc<Pod>) {
        let uid = pod.metadata.uid.as_deref().unwrap_or("");
        // The same name with another uid: the old pod is gone.
        if self
            .cache
            .placement(key)
            .is_some_and(|(_, _, placed)| placed != uid)
        {
            self.pod_gone(key);
        }
        if self.queue.get(key).is_some_and(|q| q.info.uid != uid) {
            self.queue.delete(key);
            self.nominator.remove(key);
        }
        let node = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .unwrap_or("");
        if !node.is_empty() {
            self.queue.delete(key);
            self.nominator.remove(key);
            if is_terminal(&pod) {
                if self.cache.placement(key).is_some() {
                    self.cache.remove_pod(key);
                    self.move_pods(ClusterEvent::AssignedPodDelete);
                }
                return;
            }
            let known = self
                .cache
                .placement(key)
                .map(|(node, assumed, _)| (node.to_string(), assumed));
            let previous_labels = self
                .cache
                .node(known.as_ref().map_or("", |(n, _)| n.as_str()))
                .and_then(|n| n.pods.iter().find(|p| p.key == key))
                .map(|p| p.pod.metadata.labels.clone());
            let priority = self.priority_of(&pod);
            let labels = pod.metadata.labels.clone();
            self.cache
                .set_bound_pod(Arc::new(PodInfo::new(pod, priority)));
            match known {
                // Newly placed (bound by us and now seen, or by someone else).
                None | Some((_, true)) => self.move_pods(ClusterEvent::AssignedPodAdd),
                Some(_) if previous_labels.is_some_and(|l| l != labels) => {
                    self.move_pods(ClusterEvent::AssignedPodUpdate)
                }
                Some(_) => {}
            }
            return;
        }
        if self.cache.is_assumed(key) {
            // Its binding is being written; the pod will be seen bound (or requeued).
            return;
        }
        if self.cache.placement(key).is_some() {
            self.cache.remove_pod(key);
        }
        if !self.wants(&pod) {
            self.queue.delete(key);
            self.nominator.remove(key);
            return;
        }
        let priority = self.priority_of(&pod);
        let info = Arc::new(PodInfo::new(pod, priority));
        let old = self.queue.get(key).map(|q| q.info.clone());
        let nominated = info
            .pod
            .status
            .as_ref()
            .and_then(|s| s.nominated_node_name.as_deref())
            .is_some_and(|n| !n.is_empty());
        if nominated || self.nominator.node_of(key).is_some() {
            self.nominator.update(old.as_deref(), info.clone());
        }
        self.queue.add_or_update(info, Instant::now());
    }

    /// A node changed (or was deleted).
    pub(super) fn on_node(&mut self, changed: &Node) {
        let Some(name) = changed.metadata.name.as_deref() else {
            return;
        };
        match self.nodes.get(&ObjectRef::new(name)) {
            None => {
                if self.cache.remove_node(name).is_some() {
                    self.move_pods(ClusterEvent::NodeDelete);
                }
            }
            Some(node) => {
                let event = match self.cache.set_node(node.clone()) {
                    None => Some(ClusterEvent::NodeAdd),
                    Some(old) => {
                        let change = node_change(&old, &node);
                        change.any().then_some(ClusterEvent::NodeUpdate(change))
                    }
                };
                if let Some(event) = event {
                    self.move_pods(event);
                }
            }
        }
    }

    /// Compares the queue and the cache with the informers' caches and takes in every
    /// difference (at start, then now and then, for changes missed while a subscriber was
    /// resynced).
    pub(super) fn resync(&mut self) {
        for node in self.nodes.state() {
            let known = node
                .metadata
                .name
                .as_deref()
                .and_then(|n| self.cache.node(n))
                .and_then(|n| n.node.clone());
            if known.is_none_or(|k| k.metadata.resource_version != node.metadata.resource_version) {
                self.on_node(&node);
            }
        }
        let gone: Vec<String> = self
            .cache
            .node_names()
            .filter(|n| self.nodes.get(&ObjectRef::new(n)).is_none())
            .cloned()
            .collect();
        for name in gone {
            if self.cache.remove_node(&name).is_some() {
                self.move_pods(ClusterEvent::NodeDelete);
            }
        }
        for pod in self.pods.state() {
            let Some(key) = key_of(&pod) else {
                continue;
            };
            let bound = pod
                .spec
                .as_ref()
                .and_then(|s| s.node_name.as_deref())
                .is_some_and(|n| !n.is_empty());
            let version = &pod.metadata.resource_version;
            let known = if bound {
                self.cache.pod(&key).is_some_and(|(p, assumed)| {
                    !assumed && &p.pod.metadata.resource_version == version
                }) || (is_terminal(&pod) && self.cache.placement(&key).is_none())
            } else {
                self.queue
                    .get(&key)
                    .is_some_and(|q| &q.info.pod.metadata.resource_version == version)
                    || self.cache.is_assumed(&key)
                    || (!self.wants(&pod) && !self.queue.contains(&key))
            };
            if !known {
                self.on_pod(&pod);
            }
        }
        let stale: Vec<String> = self
            .cache
            .pod_keys()
            .chain(self.queue.keys())
            .filter(|k| self.current(k).is_none())
            .cloned()
            .collect();
        for key in stale {
            self.pod_gone(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_changes_that_matter() {
        let node =
            |json: serde_json::Value| -> Node { serde_json::from_value(json).expect("node") };
        let a = node(
            serde_json::json!({"metadata": {"name": "n", "labels": {"a": "1"}},
            "status": {"allocatable": {"cpu": "1"}, "conditions": [{"type": "Ready", "status": "True"}]}}),
        );
        let heartbeat = node(
            serde_json::json!({"metadata": {"name": "n", "labels": {"a": "1"}},
            "status": {"allocatable": {"cpu": "1"}, "conditions": [{"type": "Ready", "status": "False"}]}}),
        );
        assert!(!node_change(&a, &heartbeat).any());
        let relabelled = node(
            serde_json::json!({"metadata": {"name": "n", "labels": {"a": "2"}},
            "status": {"allocatable": {"cpu": "1"}}}),
        );
        assert!(node_change(&a, &relabelled).labels);
        let cordoned = node(
            serde_json::json!({"metadata": {"name": "n", "labels": {"a": "1"}},
            "spec": {"unschedulable": true}, "status": {"allocatable": {"cpu": "1"}}}),
        );
        let change = node_change(&a, &cordoned);
        assert!(change.taints && !change.labels && !change.allocatable);
    }
}
