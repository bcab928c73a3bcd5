//! The scheduler against an in-process server, started as `keelson up` starts it
//! (`Scheduler::start` over a shared `Context`). Each test creates its Node objects itself
//! (capacity, labels, taints; no kubelet) and pods, then checks where the pods were bound
//! (`spec.nodeName`), their `PodScheduled` condition and the events written for them.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::api::scheduling::v1::PriorityClass;
use keelson_reconcilers::leader::LeaderElection;
use keelson_reconcilers::scheduler::{Scheduler, SchedulerConfig, LEASE_NAME};
use keelson_reconcilers::Context;
use keelson_tests::in_process::InProcess;
use keelson_tests::workloads::create_from_json as create;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::Api;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(30);

struct Cluster {
    _server: InProcess,
    client: kube::Client,
    scheduler: Option<Scheduler>,
}

impl Cluster {
    async fn start() -> Cluster {
        Cluster::with_config(SchedulerConfig::default()).await
    }

    async fn with_config(config: SchedulerConfig) -> Cluster {
        let server = InProcess::start().await;
        let client = server.client();
        let ctx = Arc::new(Context::new(client.clone()));
        let scheduler = Scheduler::start(ctx, config);
        Cluster {
            _server: server,
            client,
            scheduler: Some(scheduler),
        }
    }

    fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.client.clone(), "default")
    }

    /// A node with `cpu` and `memory` allocatable (and capacity), room for 110 pods, the
    /// hostname label, `labels` and `taints`.
    async fn node(
        &self,
        name: &str,
        cpu: &str,
        labels: serde_json::Value,
        taints: serde_json::Value,
    ) {
        let mut all = json!({"kubernetes.io/hostname": name});
        for (k, v) in labels.as_object().into_iter().flatten() {
            all[k] = v.clone();
        }
        let resources = json!({"cpu": cpu, "memory": "8Gi", "pods": "110"});
        let node: Node = serde_json::from_value(json!({
            "metadata": {"name": name, "labels": all},
            "spec": {"taints": taints},
            "status": {
                "capacity": resources, "allocatable": resources,
                "conditions": [{"type": "Ready", "status": "True"}],
            },
        }))
        .expect("node");
        Api::<Node>::all(self.client.clone())
            .create(&PostParams::default(), &node)
            .await
            .expect("create node");
    }

    async fn pod(&self, name: &str, spec: serde_json::Value) {
        self.pod_with(name, json!({}), spec).await
    }

    async fn pod_with(&self, name: &str, metadata: serde_json::Value, spec: serde_json::Value) {
        let mut meta = json!({"name": name});
        for (k, v) in metadata.as_object().into_iter().flatten() {
            meta[k] = v.clone();
        }
        let mut spec = spec;
        if spec.get("containers").is_none() {
            spec["containers"] = json!([{"name": "app", "image": "registry.example/app:1"}]);
        }
        let pod: Pod =
            serde_json::from_value(json!({"metadata": meta, "spec": spec})).expect("pod");
        self.pods()
            .create(&PostParams::default(), &pod)
            .await
            .expect("create pod");
    }

    /// The node the pod is bound to, once it is.
    async fn bound(&self, name: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let pod = self.pods().get(name).await.expect("pod");
            if let Some(node) = pod.spec.and_then(|s| s.node_name).filter(|n| !n.is_empty()) {
                return node;
            }
            assert!(
                Instant::now() < deadline,
                "{name} was not bound: {:?}",
                pod.status
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The pod's node, if bound, after giving the scheduler a moment.
    async fn node_of(&self, name: &str) -> Option<String> {
        self.pods()
            .get(name)
            .await
            .expect("pod")
            .spec
            .and_then(|s| s.node_name)
            .filter(|n| !n.is_empty())
    }

    /// The first event with `reason` about the pod, once there is one.
    async fn event(&self, pod: &str, reason: &str) -> Event {
        let api: Api<Event> = Api::namespaced(self.client.clone(), "default");
        let deadline = Instant::now() + WAIT;
        loop {
            let events = api.list(&ListParams::default()).await.expect("events");
            if let Some(e) = events.items.into_iter().find(|e| {
                e.reason.as_deref() == Some(reason)
                    && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(pod)
            }) {
                return e;
            }
            assert!(Instant::now() < deadline, "no {reason} event for {pod}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The pod's `PodScheduled` condition, once it is `status`.
    async fn scheduled_condition(&self, pod: &str, status: &str) -> (String, String) {
        let deadline = Instant::now() + WAIT;
        loop {
            let p = self.pods().get(pod).await.expect("pod");
            let condition = p
                .status
                .and_then(|s| s.conditions)
                .into_iter()
                .flatten()
                .find(|c| c.type_ == "PodScheduled" && c.status == status);
            if let Some(c) = condition {
                return (c.reason.unwrap_or_default(), c.message.unwrap_or_default());
            }
            assert!(
                Instant::now() < deadline,
                "{pod} has no PodScheduled={status}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn delete_now(&self, pod: &str) {
        let params = DeleteParams {
            grace_period_seconds: Some(0),
            ..DeleteParams::default()
        };
        self.pods().delete(pod, &params).await.expect("delete");
    }

    async fn stop(mut self) {
        if let Some(s) = self.scheduler.take() {
            s.shutdown().await;
        }
    }
}

fn cpu(request: &str) -> serde_json::Value {
    json!({"containers": [{"name": "app", "image": "registry.example/app:1",
        "resources": {"requests": {"cpu": request}}}]})
}

#[tokio::test]
async fn node_selector_and_required_affinity() {
    let c = Cluster::start().await;
    c.node("a", "4", json!({"zone": "a"}), json!([])).await;
    c.node("b", "4", json!({"zone": "b"}), json!([])).await;
    c.node("c", "4", json!({"zone": "c", "disk": "ssd"}), json!([]))
        .await;
    c.pod("selected", json!({"nodeSelector": {"zone": "b"}}))
        .await;
    c.pod(
        "required",
        json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [
            {"key": "zone", "operator": "NotIn", "values": ["a"]},
            {"key": "disk", "operator": "Exists"},
        ]}]}}}}),
    )
    .await;
    c.pod("nowhere", json!({"nodeSelector": {"zone": "x"}}))
        .await;
    assert_eq!(c.bound("selected").await, "b");
    assert_eq!(c.bound("required").await, "c");

    let (reason, message) = c.scheduled_condition("nowhere", "False").await;
    assert_eq!(reason, "Unschedulable");
    let expected = "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. \
                    preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.";
    assert_eq!(message, expected);
    let event = c.event("nowhere", "FailedScheduling").await;
    assert_eq!(event.note.as_deref(), Some(expected));
    assert_eq!(event.type_.as_deref(), Some("Warning"));
    assert_eq!(
        event.reporting_controller.as_deref(),
        Some("default-scheduler")
    );

    // A node relabelled into zone x: the parked pod is tried again at once.
    let patch = json!({"metadata": {"labels": {"zone": "x"}}});
    Api::<Node>::all(c.client.clone())
        .patch("a", &PatchParams::default(), &Patch::Merge(patch))
        .await
        .expect("relabel");
    assert_eq!(c.bound("nowhere").await, "a");
    let (_, _) = c.scheduled_condition("nowhere", "True").await;
    c.stop().await;
}

#[tokio::test]
async fn preferred_affinity_wins_over_spreading() {
    let c = Cluster::start().await;
    c.node("a", "4", json!({"zone": "a"}), json!([])).await;
    c.node("b", "4", json!({"zone": "b"}), json!([])).await;
    for i in 0..4 {
        c.pod(
            &format!("p{i}"),
            json!({"affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 100, "preference": {"matchExpressions": [
                    {"key": "zone", "operator": "In", "values": ["b"]}]}}]}}}),
        )
        .await;
    }
    for i in 0..4 {
        assert_eq!(c.bound(&format!("p{i}")).await, "b");
    }
    c.stop().await;
}

#[tokio::test]
async fn taints_and_tolerations() {
    let c = Cluster::start().await;
    let control_plane =
        json!([{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]);
    c.node("cp", "4", json!({"role": "cp"}), control_plane)
        .await;
    c.node("worker", "4", json!({"role": "worker"}), json!([]))
        .await;
    for i in 0..3 {
        c.pod(&format!("plain{i}"), json!({})).await;
    }
    c.pod("pinned", json!({"nodeSelector": {"role": "cp"}}))
        .await;
    c.pod(
        "tolerant",
        json!({"nodeSelector": {"role": "cp"}, "tolerations": [
            {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"}]}),
    )
    .await;
    for i in 0..3 {
        assert_eq!(c.bound(&format!("plain{i}")).await, "worker");
    }
    assert_eq!(c.bound("tolerant").await, "cp");
    let event = c.event("pinned", "FailedScheduling").await;
    assert_eq!(
        event.note.as_deref(),
        Some(
            "0/2 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, \
             1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }. \
             preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling."
        )
    );
    assert_eq!(c.node_of("pinned").await, None);
    c.stop().await;
}

#[tokio::test]
async fn resources_fit_and_assumed_pods_count_at_once() {
    let c = Cluster::start().await;
    c.node("n1", "1", json!({}), json!([])).await;
    c.node("n2", "1", json!({}), json!([])).await;
    // Created together, faster than bindings come back through the watch: without counting
    // assumed pods at once the scheduler would overcommit.
    for i in 0..10 {
        c.pod(&format!("small{i}"), cpu("200m")).await;
    }
    let mut per_node: BTreeMap<String, usize> = BTreeMap::new();
    for i in 0..10 {
        *per_node
            .entry(c.bound(&format!("small{i}")).await)
            .or_default() += 1;
    }
    assert_eq!(
        per_node.values().copied().collect::<Vec<_>>(),
        [5, 5],
        "{per_node:?}"
    );
    c.pod("one-more", cpu("200m")).await;
    let event = c.event("one-more", "FailedScheduling").await;
    assert_eq!(
        event.note.as_deref(),
        Some(
            "0/2 nodes are available: 2 Insufficient cpu. preemption: 0/2 nodes are available: \
             2 No preemption victims found for incoming pod."
        )
    );
    // A pod deleted frees its CPU: the parked pod goes there.
    let freed = c.bound("small0").await;
    c.delete_now("small0").await;
    assert_eq!(c.bound("one-more").await, freed);
    c.stop().await;
}

#[tokio::test]
async fn topology_spread_over_zones() {
    let c = Cluster::start().await;
    c.node(
        "a1",
        "8",
        json!({"topology.kubernetes.io/zone": "a"}),
        json!([]),
    )
    .await;
    c.node(
        "a2",
        "8",
        json!({"topology.kubernetes.io/zone": "a"}),
        json!([]),
    )
    .await;
    c.node(
        "b1",
        "8",
        json!({"topology.kubernetes.io/zone": "b"}),
        json!([]),
    )
    .await;
    c.node(
        "c1",
        "8",
        json!({"topology.kubernetes.io/zone": "c"}),
        json!([]),
    )
    .await;
    let spread = json!({"topologySpreadConstraints": [{
        "maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule",
        "labelSelector": {"matchLabels": {"app": "web"}}}]});
    let mut zones: BTreeMap<String, usize> = BTreeMap::new();
    // One at a time, so each sees the ones before it bound.
    for i in 0..6 {
        let name = format!("web{i}");
        c.pod_with(&name, json!({"labels": {"app": "web"}}), spread.clone())
            .await;
        let node = c.bound(&name).await;
        let zone = node.trim_end_matches(char::is_numeric).to_string();
        *zones.entry(zone).or_default() += 1;
    }
    assert_eq!(
        zones.values().copied().collect::<Vec<_>>(),
        [2, 2, 2],
        "{zones:?}"
    );
    // A constraint that cannot hold with a node missing the key: only labelled nodes count.
    c.node("bare", "8", json!({}), json!([])).await;
    let pinned = json!({"nodeSelector": {"kubernetes.io/hostname": "bare"},
        "topologySpreadConstraints": spread["topologySpreadConstraints"].clone()});
    c.pod_with("stray", json!({"labels": {"app": "web"}}), pinned)
        .await;
    let event = c.event("stray", "FailedScheduling").await;
    assert_eq!(
        event.note.as_deref(),
        Some(
            "0/5 nodes are available: 1 node(s) didn't match pod topology spread constraints (missing required label), \
             4 node(s) didn't match Pod's node affinity/selector. \
             preemption: 0/5 nodes are available: 5 Preemption is not helpful for scheduling."
        )
    );
    c.stop().await;
}

#[tokio::test]
async fn upstream_failed_scheduling_message_and_scheduled_event() {
    let c = Cluster::start().await;
    let control_plane =
        json!([{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]);
    c.node("cp", "4", json!({}), control_plane).await;
    c.node("node-1", "1", json!({}), json!([])).await;
    c.node("node-2", "1", json!({}), json!([])).await;
    c.pod("big", cpu("2")).await;
    let event = c.event("big", "FailedScheduling").await;
    assert_eq!(
        event.note.as_deref(),
        Some(
            "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, \
             2 Insufficient cpu. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
        )
    );
    assert_eq!(event.action.as_deref(), Some("Scheduling"));
    c.pod("p", cpu("100m")).await;
    let node = c.bound("p").await;
    let event = c.event("p", "Scheduled").await;
    assert_eq!(
        event.note.as_deref(),
        Some(format!("Successfully assigned default/p to {node}").as_str())
    );
    assert_eq!(event.type_.as_deref(), Some("Normal"));
    c.stop().await;
}

#[tokio::test]
async fn pods_for_another_scheduler_are_left_alone() {
    let c = Cluster::start().await;
    c.node("n", "4", json!({}), json!([])).await;
    c.pod("theirs", json!({"schedulerName": "my-scheduler"}))
        .await;
    c.pod("ours", json!({})).await;
    assert_eq!(c.bound("ours").await, "n");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(c.node_of("theirs").await, None);
    let pod = c.pods().get("theirs").await.expect("pod");
    let conditions = pod.status.and_then(|s| s.conditions).unwrap_or_default();
    assert!(
        !conditions.iter().any(|c| c.type_ == "PodScheduled"),
        "{conditions:?}"
    );
    c.stop().await;
}

#[tokio::test]
async fn a_higher_priority_class_preempts() {
    let c = Cluster::start().await;
    let classes: Api<PriorityClass> = Api::all(c.client.clone());
    for (name, value) in [("low", 10), ("high", 1000)] {
        let class: PriorityClass =
            serde_json::from_value(json!({"metadata": {"name": name}, "value": value}))
                .expect("class");
        classes
            .create(&PostParams::default(), &class)
            .await
            .expect("class");
    }
    c.node("n", "1", json!({}), json!([])).await;
    let mut low = cpu("700m");
    low["priorityClassName"] = json!("low");
    c.pod("victim", low).await;
    assert_eq!(c.bound("victim").await, "n");
    let mut high = cpu("700m");
    high["priorityClassName"] = json!("high");
    c.pod("preemptor", high).await;

    // The preemptor is nominated for the node; the victim is evicted (marked first).
    let deadline = Instant::now() + WAIT;
    loop {
        let p = c.pods().get("preemptor").await.expect("pod");
        if p.status.and_then(|s| s.nominated_node_name).as_deref() == Some("n") {
            break;
        }
        assert!(Instant::now() < deadline, "the preemptor was not nominated");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let victim = c.pods().get("victim").await.expect("victim");
    assert!(
        victim.metadata.deletion_timestamp.is_some(),
        "the victim is being deleted"
    );
    let marked = victim
        .status
        .and_then(|s| s.conditions)
        .unwrap_or_default()
        .into_iter()
        .any(|c| {
            c.type_ == "DisruptionTarget" && c.reason.as_deref() == Some("PreemptionByScheduler")
        });
    assert!(marked, "the victim carries DisruptionTarget");
    let preempted = c.event("victim", "Preempted").await;
    assert!(
        preempted
            .note
            .as_deref()
            .is_some_and(|n| n.starts_with("Preempted by pod ") && n.ends_with(" on node n")),
        "{:?}",
        preempted.note
    );
    // A lower-priority pod created meanwhile does not take the room being freed.
    let mut other = cpu("700m");
    other["priorityClassName"] = json!("low");
    c.pod("latecomer", other).await;
    // The kubelet would finish the victim's deletion; there is none here.
    c.delete_now("victim").await;
    assert_eq!(c.bound("preemptor").await, "n");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(c.node_of("latecomer").await, None);
    c.stop().await;
}

#[tokio::test]
async fn the_scheduler_holds_its_lease() {
    let mut election = LeaderElection::new(LEASE_NAME);
    election.lease_duration = Duration::from_secs(2);
    election.renew_deadline = Duration::from_millis(1500);
    election.retry_period = Duration::from_millis(200);
    let identity = election.identity.clone();
    let c = Cluster::with_config(SchedulerConfig {
        leader_election: Some(election),
        ..SchedulerConfig::default()
    })
    .await;
    c.node("n", "1", json!({}), json!([])).await;
    c.pod("p", json!({})).await;
    assert_eq!(c.bound("p").await, "n");
    let lease = Api::<Lease>::namespaced(c.client.clone(), "kube-system")
        .get("kube-scheduler")
        .await
        .expect("the kube-scheduler lease");
    assert_eq!(lease.spec.and_then(|s| s.holder_identity), Some(identity));
    c.stop().await;
}

#[tokio::test]
async fn volumes_decide_where_pods_with_claims_go() {
    use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
    use k8s_openapi::api::storage::v1::StorageClass;
    let c = Cluster::start().await;
    for (name, zone) in [("a", "z1"), ("b", "z1"), ("c", "z2")] {
        c.node(
            name,
            "4",
            json!({"topology.kubernetes.io/zone": zone}),
            json!([]),
        )
        .await;
    }
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(c.client.clone(), "default");
    let claim_volume = |claim: &str| json!({"volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": claim}}]});
    // A claim bound to a volume only node b reaches.
    create(
        &Api::<PersistentVolume>::all(c.client.clone()),
        json!({
            "metadata": {"name": "on-b"},
            "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                "hostPath": {"path": "/data"}, "storageClassName": "manual",
                "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                    {"key": "kubernetes.io/hostname", "operator": "In", "values": ["b"]}]}]}}},
        }),
    )
    .await;
    create(&claims, json!({
        "metadata": {"name": "bound"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}},
            "storageClassName": "manual", "volumeName": "on-b"},
    }))
    .await;
    c.pod("uses-bound", claim_volume("bound")).await;
    assert_eq!(c.bound("uses-bound").await, "b");

    // A claim to be provisioned on first use, where the class allows: zone z2.
    create(
        &Api::<StorageClass>::all(c.client.clone()),
        json!({
            "metadata": {"name": "late"}, "provisioner": "example.com/local",
            "volumeBindingMode": "WaitForFirstConsumer",
            "allowedTopologies": [{"matchLabelExpressions": [
                {"key": "topology.kubernetes.io/zone", "values": ["z2"]}]}],
        }),
    )
    .await;
    create(&claims, json!({
        "metadata": {"name": "later"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}},
            "storageClassName": "late"},
    }))
    .await;
    c.pod("uses-later", claim_volume("later")).await;
    assert_eq!(c.bound("uses-later").await, "c");
    let later = claims.get("later").await.expect("claim");
    assert_eq!(
        later
            .metadata
            .annotations
            .unwrap_or_default()
            .get("volume.kubernetes.io/selected-node")
            .map(String::as_str),
        Some("c")
    );

    // An unbound claim of an Immediate class waits for its volume.
    create(
        &Api::<StorageClass>::all(c.client.clone()),
        json!({
            "metadata": {"name": "now"}, "provisioner": "example.com/remote",
        }),
    )
    .await;
    create(&claims, json!({
        "metadata": {"name": "pending"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}},
            "storageClassName": "now"},
    }))
    .await;
    c.pod("uses-pending", claim_volume("pending")).await;
    let (reason, message) = c.scheduled_condition("uses-pending", "False").await;
    assert_eq!(reason, "Unschedulable");
    assert!(
        message.contains("pod has unbound immediate PersistentVolumeClaims"),
        "{message}"
    );
    c.stop().await;
}
