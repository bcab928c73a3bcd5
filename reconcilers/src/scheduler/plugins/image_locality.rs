//! ImageLocality: prefers nodes that already have the pod's images, by their size scaled by
//! how many nodes have them (an image everywhere is no reason to pick one node). Nodes
//! that report no images (`status.images`) all score 0, so it is skipped then.

use crate::scheduler::cache::NodeInfo;
use crate::scheduler::framework::{
    state, Cluster, Plugin, PreScore, State, Status, MAX_NODE_SCORE,
};
use crate::scheduler::pod_info::PodInfo;

pub const NAME: &str = "ImageLocality";

const MB: i64 = 1024 * 1024;
/// Below this, images make no difference (`minThreshold`).
const MIN_THRESHOLD: i64 = 23 * MB;
/// Above this per container, no more credit (`maxContainerThreshold`).
const MAX_CONTAINER_THRESHOLD: i64 = 1000 * MB;

pub struct ImageLocality;

/// The pod's images as nodes report them (`name` gets `:latest` without a tag), with how
/// many nodes have each, and the number of nodes.
struct Images {
    names: Vec<(String, usize)>,
    total_nodes: usize,
}

/// Upstream's `normalizedImageName`.
fn normalized(image: &str) -> String {
    let colon = image.rfind(':').map_or(-1, |i| i as isize);
    let slash = image.rfind('/').map_or(-1, |i| i as isize);
    if colon <= slash {
        format!("{image}:latest")
    } else {
        image.to_string()
    }
}

/// Upstream's `calculatePriority`: the summed image score between the thresholds, as 0..=100.
fn priority(sum: i64, containers: usize) -> i64 {
    let max = MAX_CONTAINER_THRESHOLD.saturating_mul(containers.max(1) as i64);
    let sum = sum.clamp(MIN_THRESHOLD, max);
    MAX_NODE_SCORE.saturating_mul(sum - MIN_THRESHOLD) / (max - MIN_THRESHOLD).max(1)
}

impl Plugin for ImageLocality {
    fn name(&self) -> &'static str {
        NAME
    }

    fn pre_score(
        &self,
        pod: &PodInfo,
        _: &[&NodeInfo],
        cluster: &Cluster,
    ) -> Result<PreScore, Status> {
        if !cluster.cache.has_images() {
            return Ok(PreScore::Skip);
        }
        let Some(spec) = pod.pod.spec.as_ref() else {
            return Ok(PreScore::Skip);
        };
        let names = spec
            .init_containers
            .iter()
            .flatten()
            .chain(&spec.containers)
            .filter_map(|c| c.image.as_deref())
            .map(|image| {
                let name = normalized(image);
                let count = cluster.cache.image_node_count(&name);
                (name, count)
            })
            .collect();
        Ok(PreScore::Run(Some(Box::new(Images {
            names,
            total_nodes: cluster.cache.node_count(),
        }))))
    }

    fn score(&self, s: Option<&State>, _: &PodInfo, node: &NodeInfo) -> i64 {
        let Some(images) = state::<Images>(s) else {
            return 0;
        };
        let mut sum = 0i64;
        for (name, count) in &images.names {
            if let Some(size) = node.images.get(name) {
                // Upstream's `scaledImageScore`: size × (nodes with it / all nodes).
                let spread = *count as f64 / images.total_nodes.max(1) as f64;
                sum = sum.saturating_add((*size as f64 * spread) as i64);
            }
        }
        priority(sum, images.names.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::cache::Cache;
    use crate::scheduler::framework::NoObjects;
    use crate::scheduler::pod_info::tests::pod;
    use k8s_openapi::api::core::v1::Node;
    use std::sync::Arc;

    fn node(name: &str, images: serde_json::Value) -> Arc<Node> {
        Arc::new(
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": name},
                "status": {"images": images},
            }))
            .expect("node"),
        )
    }

    #[test]
    fn names_get_the_latest_tag() {
        assert_eq!(normalized("nginx"), "nginx:latest");
        assert_eq!(normalized("nginx:1.25"), "nginx:1.25");
        assert_eq!(
            normalized("localhost:5000/app"),
            "localhost:5000/app:latest"
        );
        assert_eq!(normalized("localhost:5000/app:v1"), "localhost:5000/app:v1");
    }

    #[test]
    fn nodes_with_big_images_score_higher() {
        let mut cache = Cache::new();
        cache.set_node(node(
            "has",
            serde_json::json!([{"names": ["big:1"], "sizeBytes": 600 * MB}]),
        ));
        cache.set_node(node(
            "lacks",
            serde_json::json!([{"names": ["other:1"], "sizeBytes": 10 * MB}]),
        ));
        let cluster = Cluster {
            cache: &cache,
            objects: &NoObjects,
        };
        let p = pod(
            "p",
            serde_json::json!({"containers": [{"name": "c", "image": "big:1"}]}),
        );
        let has = cache.node("has").expect("node");
        let lacks = cache.node("lacks").expect("node");
        let Ok(PreScore::Run(s)) = ImageLocality.pre_score(&p, &[has, lacks], &cluster) else {
            panic!("scored");
        };
        // 600 MB on one of two nodes: 300 MB of credit, (300 - 23) / (1000 - 23) of 100.
        assert_eq!(ImageLocality.score(s.as_ref(), &p, has), 28);
        assert_eq!(ImageLocality.score(s.as_ref(), &p, lacks), 0);
    }
}
