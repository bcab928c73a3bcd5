//! TaintToleration: a node's `NoSchedule` and `NoExecute` taints keep off pods that do not
//! tolerate them (filter); its `PreferNoSchedule` taints make it less attractive to pods
//! that do not tolerate them (score: fewer untolerated such taints is better).

use k8s_openapi::api::core::v1::{Taint, Toleration};

use crate::scheduler::cache::NodeInfo;
use crate::scheduler::framework::{default_normalize, Cluster, Plugin, PreScore, State, Status};
use crate::scheduler::pod_info::PodInfo;
use crate::scheduler::queue::ClusterEvent;

pub const NAME: &str = "TaintToleration";

pub struct TaintToleration;

/// Whether a toleration tolerates a taint (upstream's `Toleration.ToleratesTaint`): same
/// effect (or any), same key (or any), and an equal value or the `Exists` operator.
pub fn tolerates(toleration: &Toleration, taint: &Taint) -> bool {
    if let Some(effect) = toleration.effect.as_deref().filter(|e| !e.is_empty()) {
        if effect != taint.effect {
            return false;
        }
    }
    if let Some(key) = toleration.key.as_deref().filter(|k| !k.is_empty()) {
        if key != taint.key {
            return false;
        }
    }
    match toleration.operator.as_deref().unwrap_or("") {
        "" | "Equal" => {
            toleration.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or("")
        }
        "Exists" => true,
        _ => false,
    }
}

fn tolerations(pod: &PodInfo) -> &[Toleration] {
    pod.pod
        .spec
        .as_ref()
        .and_then(|s| s.tolerations.as_deref())
        .unwrap_or_default()
}

/// Whether any of the pod's tolerations tolerates the taint.
pub fn tolerated(pod: &PodInfo, taint: &Taint) -> bool {
    tolerations(pod).iter().any(|t| tolerates(t, taint))
}

/// The first `NoSchedule` or `NoExecute` taint of the node the pod does not tolerate.
pub fn untolerated_taint<'a>(pod: &PodInfo, node: &'a NodeInfo) -> Option<&'a Taint> {
    node.taints()
        .iter()
        .filter(|t| t.effect == "NoSchedule" || t.effect == "NoExecute")
        .find(|t| !tolerated(pod, t))
}

/// The pod's tolerations that can tolerate `PreferNoSchedule` taints.
struct PreferState(Vec<Toleration>);

impl Plugin for TaintToleration {
    fn name(&self) -> &'static str {
        NAME
    }

    fn filter(&self, _: Option<&State>, pod: &PodInfo, node: &NodeInfo) -> Result<(), Status> {
        match untolerated_taint(pod, node) {
            None => Ok(()),
            Some(taint) => Err(Status::unresolvable(
                NAME,
                format!(
                    "node(s) had untolerated taint {{{}: {}}}",
                    taint.key,
                    taint.value.as_deref().unwrap_or("")
                ),
            )),
        }
    }

    fn pre_score(
        &self,
        pod: &PodInfo,
        nodes: &[&NodeInfo],
        _: &Cluster,
    ) -> Result<PreScore, Status> {
        // Without any PreferNoSchedule taint every node scores the same.
        let any = nodes
            .iter()
            .any(|n| n.taints().iter().any(|t| t.effect == "PreferNoSchedule"));
        if !any {
            return Ok(PreScore::Skip);
        }
        let prefer = tolerations(pod)
            .iter()
            .filter(|t| {
                matches!(
                    t.effect.as_deref(),
                    None | Some("") | Some("PreferNoSchedule")
                )
            })
            .cloned()
            .collect();
        Ok(PreScore::Run(Some(Box::new(PreferState(prefer)))))
    }

    fn score(&self, state: Option<&State>, _: &PodInfo, node: &NodeInfo) -> i64 {
        let empty = PreferState(Vec::new());
        let prefer = crate::scheduler::framework::state::<PreferState>(state).unwrap_or(&empty);
        node.taints()
            .iter()
            .filter(|t| t.effect == "PreferNoSchedule")
            .filter(|t| !prefer.0.iter().any(|tol| tolerates(tol, t)))
            .count() as i64
    }

    fn normalize(&self, _: Option<&State>, _: &[&NodeInfo], scores: &mut [i64]) {
        default_normalize(scores, true);
    }

    fn cares(&self, event: ClusterEvent) -> bool {
        match event {
            ClusterEvent::NodeAdd => true,
            ClusterEvent::NodeUpdate(change) => change.taints,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::cache::Cache;
    use crate::scheduler::framework::tests::node;
    use crate::scheduler::framework::NoObjects;
    use crate::scheduler::pod_info::tests::pod;

    fn taint(key: &str, value: Option<&str>, effect: &str) -> Taint {
        Taint {
            key: key.into(),
            value: value.map(Into::into),
            effect: effect.into(),
            ..Taint::default()
        }
    }

    fn toleration(json: serde_json::Value) -> Toleration {
        serde_json::from_value(json).expect("toleration")
    }

    #[test]
    fn toleration_matching() {
        let t = taint("dedicated", Some("gpu"), "NoSchedule");
        assert!(tolerates(
            &toleration(serde_json::json!({"key": "dedicated", "value": "gpu"})),
            &t
        ));
        assert!(tolerates(
            &toleration(serde_json::json!({"key": "dedicated", "operator": "Exists"})),
            &t
        ));
        assert!(tolerates(
            &toleration(serde_json::json!({"operator": "Exists"})),
            &t
        ));
        assert!(!tolerates(
            &toleration(serde_json::json!({"key": "dedicated", "value": "cpu"})),
            &t
        ));
        assert!(!tolerates(
            &toleration(
                serde_json::json!({"key": "dedicated", "operator": "Exists", "effect": "NoExecute"})
            ),
            &t
        ));
        assert!(!tolerates(
            &toleration(serde_json::json!({"key": "other", "operator": "Exists"})),
            &t
        ));
    }

    #[test]
    fn untolerated_taints_keep_pods_off() {
        let n = node(
            "n",
            "1",
            "1Gi",
            serde_json::json!({"spec": {"taints": [
                {"key": "soft", "effect": "PreferNoSchedule"},
                {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"},
            ]}}),
        );
        let err = TaintToleration
            .filter(None, &pod("p", serde_json::json!({})), &n)
            .expect_err("tainted");
        assert_eq!(
            err.reasons,
            ["node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"]
        );
        let ok = pod(
            "q",
            serde_json::json!({"tolerations": [{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"}]}),
        );
        assert!(TaintToleration.filter(None, &ok, &n).is_ok());
        let valued = node(
            "v",
            "1",
            "1Gi",
            serde_json::json!({"spec": {"taints": [{"key": "dedicated", "value": "gpu", "effect": "NoExecute"}]}}),
        );
        let err = TaintToleration
            .filter(None, &ok, &valued)
            .expect_err("tainted");
        assert_eq!(
            err.reasons,
            ["node(s) had untolerated taint {dedicated: gpu}"]
        );
    }

    #[test]
    fn prefer_no_schedule_taints_lower_the_score() {
        let clean = node("clean", "1", "1Gi", serde_json::json!({}));
        let one = node(
            "one",
            "1",
            "1Gi",
            serde_json::json!({"spec": {"taints": [{"key": "a", "effect": "PreferNoSchedule"}]}}),
        );
        let two = node(
            "two",
            "1",
            "1Gi",
            serde_json::json!({"spec": {"taints": [
                {"key": "a", "effect": "PreferNoSchedule"}, {"key": "b", "effect": "PreferNoSchedule"}]}}),
        );
        let nodes = [&clean, &one, &two];
        let cache = Cache::new();
        let cluster = Cluster {
            cache: &cache,
            objects: &NoObjects,
        };
        let score = |p: &PodInfo| {
            let PreScore::Run(state) = TaintToleration
                .pre_score(p, &nodes, &cluster)
                .expect("prescore")
            else {
                panic!("skipped");
            };
            let mut scores: Vec<i64> = nodes
                .iter()
                .map(|n| TaintToleration.score(state.as_ref(), p, n))
                .collect();
            TaintToleration.normalize(state.as_ref(), &nodes, &mut scores);
            scores
        };
        assert_eq!(score(&pod("p", serde_json::json!({}))), [100, 50, 0]);
        let tolerant = pod(
            "t",
            serde_json::json!({"tolerations": [{"key": "a", "operator": "Exists"}]}),
        );
        assert_eq!(score(&tolerant), [100, 100, 0]);
    }
}
