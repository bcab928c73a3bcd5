//! The scheduler's cache: every node with the pods placed on it and the sums the filters
//! and scores read (requested resources, used host ports, images), kept current from the
//! informers' changes rather than recomputed per pod.
//!
//! A pod counts against its node from the moment the scheduler chooses the node: it is
//! *assumed* there before the binding is written, so the next pod's cycle sees it without
//! waiting for the watch to show the binding (upstream's assume/forget/confirm). When the
//! watch shows the pod bound, the assumption is confirmed; when the binding fails, it is
//! forgotten and the resources are free again.

use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, Taint};

use super::labels::Labels;
use super::pod_info::{HostPort, PodInfo};
use super::resources::Resources;

/// A node and what is placed on it.
#[derive(Clone, Debug)]
pub struct NodeInfo {
    pub name: String,
    /// `None` while only pods bound to the node are known (the Node object is missing):
    /// such a node is not offered to pods.
    pub node: Option<Arc<Node>>,
    pub allocatable: Resources,
    /// The sum of the requests of its pods.
    pub requested: Resources,
    /// CPU millis and memory of its pods counting missing requests as the defaults.
    pub non_zero_cpu: i64,
    pub non_zero_memory: i64,
    pub pods: Vec<Arc<PodInfo>>,
    pub used_ports: Vec<HostPort>,
    /// How many of its pods have pod affinity or anti-affinity terms (any / required
    /// anti-affinity): the InterPodAffinity plugin looks at those pods only.
    pub pods_with_affinity: usize,
    pub pods_with_required_anti_affinity: usize,
    /// Images on the node (every name it reports) and their sizes.
    pub images: HashMap<String, i64>,
}

impl NodeInfo {
    fn empty(name: &str) -> NodeInfo {
        NodeInfo {
            name: name.to_string(),
            node: None,
            allocatable: Resources::default(),
            requested: Resources::default(),
            non_zero_cpu: 0,
            non_zero_memory: 0,
            pods: Vec::new(),
            used_ports: Vec::new(),
            pods_with_affinity: 0,
            pods_with_required_anti_affinity: 0,
            images: HashMap::new(),
        }
    }

    /// A node with no pods (for tests and for what-if checks).
    pub fn new(node: Arc<Node>) -> NodeInfo {
        let name = node.metadata.name.clone().unwrap_or_default();
        let mut info = NodeInfo::empty(&name);
        info.set_node(node);
        info
    }

    fn set_node(&mut self, node: Arc<Node>) {
        let status = node.status.as_ref();
        self.allocatable = Resources::from_list(status.and_then(|s| s.allocatable.as_ref()));
        self.images = status
            .and_then(|s| s.images.as_ref())
            .into_iter()
            .flatten()
            .flat_map(|image| {
                let size = image.size_bytes.unwrap_or(0);
                image.names.iter().flatten().map(move |n| (n.clone(), size))
            })
            .collect();
        self.node = Some(node);
    }

    pub fn labels(&self) -> Option<&Labels> {
        self.node.as_ref().and_then(|n| n.metadata.labels.as_ref())
    }

    /// The value of a label of the node.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels().and_then(|l| l.get(key)).map(String::as_str)
    }

    pub fn taints(&self) -> &[Taint] {
        self.node
            .as_ref()
            .and_then(|n| n.spec.as_ref())
            .and_then(|s| s.taints.as_deref())
            .unwrap_or_default()
    }

    pub fn unschedulable(&self) -> bool {
        self.node
            .as_ref()
            .and_then(|n| n.spec.as_ref())
            .and_then(|s| s.unschedulable)
            .unwrap_or(false)
    }

    /// Counts a pod on this node.
    pub fn add_pod(&mut self, pod: Arc<PodInfo>) {
        self.requested.add(&pod.requests);
        self.requested.pods = self.requested.pods.saturating_add(1);
        self.non_zero_cpu = self.non_zero_cpu.saturating_add(pod.non_zero_cpu);
        self.non_zero_memory = self.non_zero_memory.saturating_add(pod.non_zero_memory);
        self.used_ports.extend(pod.host_ports.iter().cloned());
        if pod.has_affinity() {
            self.pods_with_affinity += 1;
        }
        if !pod.required_anti_affinity.is_empty() {
            self.pods_with_required_anti_affinity += 1;
        }
        self.pods.push(pod);
    }

    /// Stops counting a pod (by key); the pod, if it was there.
    pub fn remove_pod(&mut self, key: &str) -> Option<Arc<PodInfo>> {
        let at = self.pods.iter().position(|p| p.key == key)?;
        let pod = self.pods.swap_remove(at);
        self.requested.subtract(&pod.requests);
        self.requested.pods = self.requested.pods.saturating_sub(1);
        self.non_zero_cpu = self.non_zero_cpu.saturating_sub(pod.non_zero_cpu);
        self.non_zero_memory = self.non_zero_memory.saturating_sub(pod.non_zero_memory);
        for port in &pod.host_ports {
            if let Some(i) = self.used_ports.iter().position(|p| p == port) {
                self.used_ports.swap_remove(i);
            }
        }
        if pod.has_affinity() {
            self.pods_with_affinity = self.pods_with_affinity.saturating_sub(1);
        }
        if !pod.required_anti_affinity.is_empty() {
            self.pods_with_required_anti_affinity =
                self.pods_with_required_anti_affinity.saturating_sub(1);
        }
        Some(pod)
    }
}

/// Where a pod is counted.
#[derive(Clone, Debug)]
struct Placed {
    node: String,
    /// Chosen by this scheduler and not yet seen bound.
    assumed: bool,
    uid: String,
}

/// Every node and every placed pod.
#[derive(Default)]
pub struct Cache {
    /// Nodes in a stable order (the order filtering walks them in).
    nodes: Vec<NodeInfo>,
    index: HashMap<String, usize>,
    pods: HashMap<String, Placed>,
    /// On how many nodes each image is (ImageLocality scales an image's size by it).
    image_nodes: HashMap<String, usize>,
    /// Nodes with a Node object.
    node_count: usize,
    /// Placed pods with pod (anti-)affinity terms / with required anti-affinity terms: when
    /// there are none, the InterPodAffinity plugin has nothing to look at.
    affinity_pods: usize,
    anti_affinity_pods: usize,
}

impl Cache {
    pub fn new() -> Cache {
        Cache::default()
    }

    /// The nodes pods can be placed on (those with a Node object), in a stable order.
    pub fn nodes(&self) -> impl Iterator<Item = &NodeInfo> + Clone {
        self.nodes.iter().filter(|n| n.node.is_some())
    }

    /// Every known node slot, including those without a Node object, by position.
    pub fn slots(&self) -> &[NodeInfo] {
        &self.nodes
    }

    /// How many nodes pods can be placed on.
    pub fn node_count(&self) -> usize {
        self.node_count
    }

    pub fn node(&self, name: &str) -> Option<&NodeInfo> {
        self.index
            .get(name)
            .and_then(|i| self.nodes.get(*i))
            .filter(|n| n.node.is_some())
    }

    /// On how many nodes an image is.
    pub fn image_node_count(&self, image: &str) -> usize {
        self.image_nodes.get(image).copied().unwrap_or(0)
    }

    /// Whether any placed pod has pod affinity or anti-affinity terms.
    pub fn has_affinity_pods(&self) -> bool {
        self.affinity_pods > 0
    }

    /// Whether any placed pod has required anti-affinity terms.
    pub fn has_anti_affinity_pods(&self) -> bool {
        self.anti_affinity_pods > 0
    }

    fn count_affinity(&mut self, pod: &PodInfo, add: bool) {
        let step = |n: usize| if add { n + 1 } else { n.saturating_sub(1) };
        if pod.has_affinity() {
            self.affinity_pods = step(self.affinity_pods);
        }
        if !pod.required_anti_affinity.is_empty() {
            self.anti_affinity_pods = step(self.anti_affinity_pods);
        }
    }

    /// Whether any node reports images (without any, image locality scores nothing).
    pub fn has_images(&self) -> bool {
        !self.image_nodes.is_empty()
    }

    /// The slot of a node, made when missing (`None` only if the index were inconsistent).
    fn slot(&mut self, name: &str) -> Option<&mut NodeInfo> {
        let at = match self.index.get(name) {
            Some(at) => *at,
            None => {
                self.nodes.push(NodeInfo::empty(name));
                let at = self.nodes.len().saturating_sub(1);
                self.index.insert(name.to_string(), at);
                at
            }
        };
        self.nodes.get_mut(at)
    }

    fn count_images(&mut self, images: &HashMap<String, i64>, add: bool) {
        for name in images.keys() {
            if add {
                *self.image_nodes.entry(name.clone()).or_insert(0) += 1;
            } else if let Some(count) = self.image_nodes.get_mut(name) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    self.image_nodes.remove(name);
                }
            }
        }
    }

    /// Adds or replaces a Node; returns the previous Node object, if any.
    pub fn set_node(&mut self, node: Arc<Node>) -> Option<Arc<Node>> {
        let name = node.metadata.name.clone().unwrap_or_default();
        let slot = self.slot(&name)?;
        let previous = slot.node.take();
        let old_images = std::mem::take(&mut slot.images);
        slot.set_node(node);
        let new_images = slot.images.clone();
        if previous.is_none() {
            self.node_count += 1;
        }
        self.count_images(&old_images, false);
        self.count_images(&new_images, true);
        previous
    }

    /// Removes a Node; its pods stay counted under its name until they are gone.
    pub fn remove_node(&mut self, name: &str) -> Option<Arc<Node>> {
        let at = *self.index.get(name)?;
        let slot = self.nodes.get_mut(at)?;
        let previous = slot.node.take();
        let images = std::mem::take(&mut slot.images);
        slot.allocatable = Resources::default();
        let empty = slot.pods.is_empty();
        if previous.is_some() {
            self.node_count = self.node_count.saturating_sub(1);
        }
        self.count_images(&images, false);
        if empty {
            self.drop_slot(at);
        }
        previous
    }

    fn drop_slot(&mut self, at: usize) {
        if at >= self.nodes.len() {
            return;
        }
        let removed = self.nodes.swap_remove(at);
        self.index.remove(&removed.name);
        if let Some(moved) = self.nodes.get(at) {
            self.index.insert(moved.name.clone(), at);
        }
    }

    /// Whether the scheduler assumed this pod (chose its node, binding not yet seen).
    pub fn is_assumed(&self, key: &str) -> bool {
        self.pods.get(key).is_some_and(|p| p.assumed)
    }

    /// The node a pod is counted on, and whether only assumed there.
    pub fn placement(&self, key: &str) -> Option<(&str, bool, &str)> {
        self.pods
            .get(key)
            .map(|p| (p.node.as_str(), p.assumed, p.uid.as_str()))
    }

    /// A placed pod and whether it is only assumed.
    pub fn pod(&self, key: &str) -> Option<(&Arc<PodInfo>, bool)> {
        let placed = self.pods.get(key)?;
        let node = self
            .index
            .get(&placed.node)
            .and_then(|i| self.nodes.get(*i))?;
        node.pods
            .iter()
            .find(|p| p.key == key)
            .map(|p| (p, placed.assumed))
    }

    /// Counts a pod on `node` before its binding is written.
    pub fn assume(&mut self, pod: Arc<PodInfo>, node: &str) {
        self.remove_pod(&pod.key);
        self.pods.insert(
            pod.key.clone(),
            Placed {
                node: node.to_string(),
                assumed: true,
                uid: pod.uid.clone(),
            },
        );
        self.count_affinity(&pod, true);
        if let Some(slot) = self.slot(node) {
            slot.add_pod(pod);
        }
    }

    /// Adds or replaces a pod bound to a node (confirming an assumption).
    pub fn set_bound_pod(&mut self, pod: Arc<PodInfo>) {
        let node = pod.node_name().to_string();
        self.remove_pod(&pod.key);
        self.pods.insert(
            pod.key.clone(),
            Placed {
                node: node.clone(),
                assumed: false,
                uid: pod.uid.clone(),
            },
        );
        self.count_affinity(&pod, true);
        if let Some(slot) = self.slot(&node) {
            slot.add_pod(pod);
        }
    }

    /// Stops counting a pod (deleted, finished, or its binding failed); the node it was on.
    pub fn remove_pod(&mut self, key: &str) -> Option<String> {
        let placed = self.pods.remove(key)?;
        let at = *self.index.get(&placed.node)?;
        let slot = self.nodes.get_mut(at)?;
        let removed = slot.remove_pod(key);
        if slot.node.is_none() && slot.pods.is_empty() {
            self.drop_slot(at);
        }
        if let Some(pod) = removed {
            self.count_affinity(&pod, false);
        }
        Some(placed.node)
    }

    /// Keys of every pod counted (assumed or bound), to check against the informer's cache.
    pub fn pod_keys(&self) -> impl Iterator<Item = &String> {
        self.pods.keys()
    }

    /// Names of every node slot, to check against the informer's cache.
    pub fn node_names(&self) -> impl Iterator<Item = &String> {
        self.index.keys()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::pod_info::tests::pod;

    pub fn node(name: &str) -> Arc<Node> {
        Arc::new(
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": name},
                "status": {"allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"},
                           "images": [{"names": ["registry.example/app:1"], "sizeBytes": 1000}]},
            }))
            .expect("node"),
        )
    }

    #[test]
    fn assumed_pods_count_at_once_and_are_confirmed_or_forgotten() {
        let mut cache = Cache::new();
        cache.set_node(node("n1"));
        cache.set_node(node("n2"));
        assert_eq!(cache.node_count(), 2);
        assert_eq!(cache.image_node_count("registry.example/app:1"), 2);
        let p = pod(
            "p",
            serde_json::json!({"containers": [{"name": "c", "resources": {"requests": {"cpu": "1"}},
                "ports": [{"containerPort": 80, "hostPort": 80}]}]}),
        );
        cache.assume(p.clone(), "n1");
        assert!(cache.is_assumed("default/p"));
        let n1 = cache.node("n1").expect("n1");
        assert_eq!(n1.requested.milli_cpu, 1000);
        assert_eq!(n1.requested.pods, 1);
        assert_eq!(n1.used_ports.len(), 1);
        // The binding failed: forgotten.
        assert_eq!(cache.remove_pod("default/p").as_deref(), Some("n1"));
        let n1 = cache.node("n1").expect("n1");
        assert_eq!(n1.requested, Resources::default());
        assert!(n1.used_ports.is_empty());
        // Assumed, then seen bound: confirmed, counted once.
        cache.assume(p.clone(), "n2");
        let bound = pod(
            "p",
            serde_json::json!({"nodeName": "n2", "containers": [{"name": "c", "resources": {"requests": {"cpu": "1"}}}]}),
        );
        cache.set_bound_pod(bound);
        assert!(!cache.is_assumed("default/p"));
        assert_eq!(cache.node("n2").expect("n2").requested.milli_cpu, 1000);
        assert_eq!(cache.node("n2").expect("n2").pods.len(), 1);
    }

    #[test]
    fn pods_on_an_unknown_node_wait_for_it() {
        let mut cache = Cache::new();
        let p = pod("p", serde_json::json!({"nodeName": "later"}));
        cache.set_bound_pod(p);
        assert_eq!(cache.node_count(), 0);
        assert!(cache.node("later").is_none());
        assert_eq!(cache.nodes().count(), 0);
        cache.set_node(node("later"));
        assert_eq!(cache.node("later").expect("node").pods.len(), 1);
        // The node goes, its pod stays counted under its name; then the pod goes too.
        cache.remove_node("later");
        assert_eq!(cache.nodes().count(), 0);
        assert_eq!(cache.slots().len(), 1);
        cache.remove_pod("default/p");
        assert!(cache.slots().is_empty());
        assert_eq!(cache.image_node_count("registry.example/app:1"), 0);
    }
}
