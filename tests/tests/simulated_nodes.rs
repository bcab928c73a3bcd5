//! Simulated nodes (`keelson up --simulated-nodes N`, `keelson node`): they register Ready,
//! renew their Leases, and run the pods bound to them as a kubelet reports them — with a
//! pod IP from the node's pod CIDR, exits as the `sim.keelson.dev/*` annotations say, the
//! restart policy and its crash-loop back-off, and graceful deletion. Everything is read
//! with the real kubectl.

use std::time::Duration;

use serde_json::Value;

use keelson_tests::cluster::KeelsonUp;
use keelson_tests::simulated::{
    condition, container, get_json, in_cidr, is_true, pod, NodeAgent, Recording,
};

/// Generous: the machine running the tests may be slow and busy.
const EVENTUALLY: Duration = Duration::from_secs(90);

fn two_nodes() -> KeelsonUp {
    KeelsonUp::start(&["--simulated-nodes", "2"])
}

/// Waits until the node `name` is Ready; returns it.
fn ready_node(up: &KeelsonUp, name: &str) -> Value {
    let mut node = Value::Null;
    up.eventually(EVENTUALLY, &format!("node {name} to be Ready"), || {
        let out = up.kubectl(&["get", "node", name, "-o", "json"]);
        if !out.status.success() {
            return false;
        }
        node = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        is_true(&node, "Ready")
    });
    node
}

/// Creates a pod bound to `node` with one busybox container `app`.
fn create_pod(up: &KeelsonUp, name: &str, node: &str, annotations: Value, spec: Value) {
    let mut pod = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "annotations": annotations},
        "spec": {
            "nodeName": node,
            "containers": [{"name": "app", "image": "busybox:1.36"}],
        },
    });
    if let (Some(target), Some(extra)) = (pod["spec"].as_object_mut(), spec.as_object()) {
        target.extend(extra.clone());
    }
    up.ok_stdin(&["create", "-f", "-"], &pod.to_string());
}

/// Waits until the pod `name` satisfies `check`; returns it.
fn pod_when(up: &KeelsonUp, name: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    let mut last = None;
    let deadline = std::time::Instant::now() + EVENTUALLY;
    while std::time::Instant::now() < deadline {
        last = pod(up, name);
        if last.as_ref().is_some_and(&check) {
            return last.unwrap_or_default();
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    panic!("timed out waiting for pod {name} {what}; it is now:\n{last:#?}");
}

fn phase(pod: &Value) -> &str {
    pod["status"]["phase"].as_str().unwrap_or("")
}

#[test]
fn simulated_nodes_register_ready() {
    let up = two_nodes();
    for name in ["keelson-node-1", "keelson-node-2"] {
        let node = ready_node(&up, name);
        let ready = condition(&node, "Ready").expect("a Ready condition");
        assert_eq!(ready["reason"], "KubeletReady");
        assert_eq!(ready["message"], "kubelet is posting ready status");
        for pressure in ["MemoryPressure", "DiskPressure", "PIDPressure"] {
            let c = condition(&node, pressure).expect("a pressure condition");
            assert_eq!(c["status"], "False", "{pressure}");
        }
        assert_eq!(node["metadata"]["labels"]["kubernetes.io/hostname"], name);
        assert_eq!(node["metadata"]["labels"]["kubernetes.io/os"], "linux");
        assert_eq!(node["status"]["capacity"]["pods"], "110");
        assert_eq!(node["status"]["allocatable"], node["status"]["capacity"]);
        let cidr = node["spec"]["podCIDR"].as_str().expect("a pod CIDR");
        assert!(
            in_cidr(cidr.split('/').next().unwrap_or(""), "10.244.0.0/16"),
            "{cidr}"
        );
        let info = &node["status"]["nodeInfo"];
        assert!(info["kubeletVersion"]
            .as_str()
            .is_some_and(|v| v.starts_with("v1.35.") && v.ends_with("-keelson")));
        assert!(info["containerRuntimeVersion"]
            .as_str()
            .is_some_and(|v| v.starts_with("fake://")));
        let addresses = node["status"]["addresses"].as_array().expect("addresses");
        assert!(addresses.iter().any(|a| a["type"] == "InternalIP"));
    }
    let cidrs: Vec<Value> = ["keelson-node-1", "keelson-node-2"]
        .iter()
        .map(|n| get_json(&up, &["node", n])["spec"]["podCIDR"].clone())
        .collect();
    assert_ne!(cidrs[0], cidrs[1], "each node has its own pod CIDR");
    // What a user sees first.
    let table = up.ok(&["get", "nodes"]);
    assert_eq!(
        table.lines().filter(|l| l.contains(" Ready ")).count(),
        2,
        "{table}"
    );
}

#[test]
fn node_leases_are_renewed() {
    let up = two_nodes();
    let node = ready_node(&up, "keelson-node-1");
    let lease_of = || get_json(&up, &["lease", "-n", "kube-node-lease", "keelson-node-1"]);
    let mut lease = Value::Null;
    up.eventually(EVENTUALLY, "the node's Lease", || {
        let out = up.kubectl(&[
            "get",
            "lease",
            "-n",
            "kube-node-lease",
            "keelson-node-1",
            "-o",
            "json",
        ]);
        out.status.success() && {
            lease = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
            true
        }
    });
    assert_eq!(lease["spec"]["holderIdentity"], "keelson-node-1");
    assert_eq!(lease["spec"]["leaseDurationSeconds"], 40);
    let owner = &lease["metadata"]["ownerReferences"][0];
    assert_eq!(owner["kind"], "Node");
    assert_eq!(owner["name"], "keelson-node-1");
    assert_eq!(owner["uid"], node["metadata"]["uid"]);
    let first = lease["spec"]["renewTime"].clone();
    assert!(first.is_string());
    up.eventually(EVENTUALLY, "the Lease to be renewed", || {
        lease_of()["spec"]["renewTime"] != first
    });
}

#[test]
fn a_pod_bound_to_a_node_runs_with_an_ip_from_its_pod_cidr() {
    let up = two_nodes();
    let node = ready_node(&up, "keelson-node-2");
    create_pod(
        &up,
        "web",
        "keelson-node-2",
        serde_json::json!({}),
        serde_json::json!({
            "initContainers": [{"name": "setup", "image": "busybox:1.36"}],
        }),
    );
    let web = pod_when(&up, "web", "to be Running and Ready", |p| {
        phase(p) == "Running" && is_true(p, "Ready")
    });
    let cidr = node["spec"]["podCIDR"].as_str().expect("a pod CIDR");
    let ip = web["status"]["podIP"].as_str().expect("a pod IP");
    assert!(in_cidr(ip, cidr), "{ip} is not in {cidr}");
    assert_eq!(web["status"]["podIPs"][0]["ip"], ip);
    let internal = node["status"]["addresses"]
        .as_array()
        .and_then(|a| a.iter().find(|a| a["type"] == "InternalIP"))
        .map(|a| a["address"].clone())
        .expect("an InternalIP");
    assert_eq!(web["status"]["hostIP"], internal);
    assert_eq!(web["status"]["hostIPs"][0]["ip"], internal);
    assert!(web["status"]["startTime"].is_string());
    assert_eq!(web["status"]["qosClass"], "BestEffort");
    for type_ in [
        "PodReadyToStartContainers",
        "Initialized",
        "ContainersReady",
        "Ready",
        "PodScheduled",
    ] {
        let c = condition(&web, type_).unwrap_or_else(|| panic!("no {type_} condition"));
        assert_eq!(c["status"], "True", "{type_}: {c}");
        assert!(c["lastTransitionTime"].is_string(), "{type_}");
    }
    let app = container(&web, "app").expect("the app container's status");
    assert_eq!(app["ready"], true);
    assert_eq!(app["started"], true);
    assert_eq!(app["restartCount"], 0);
    assert!(app["state"]["running"]["startedAt"].is_string());
    assert!(app["containerID"]
        .as_str()
        .is_some_and(|id| id.starts_with("fake://")));
    assert!(app["imageID"]
        .as_str()
        .is_some_and(|id| id.starts_with("fake://sha256:")));
    let setup = container(&web, "setup").expect("the init container's status");
    assert_eq!(setup["state"]["terminated"]["exitCode"], 0);
    assert_eq!(setup["state"]["terminated"]["reason"], "Completed");
    // A second pod gets another address.
    create_pod(
        &up,
        "web-2",
        "keelson-node-2",
        serde_json::json!({}),
        serde_json::json!({}),
    );
    let other = pod_when(&up, "web-2", "to be Running", |p| phase(p) == "Running");
    let other_ip = other["status"]["podIP"].as_str().expect("a pod IP");
    assert!(in_cidr(other_ip, cidr));
    assert_ne!(other_ip, ip, "pod IPs are unique on a node");
}

#[test]
fn a_pod_that_exits_0_and_never_restarts_succeeds() {
    let up = two_nodes();
    ready_node(&up, "keelson-node-1");
    create_pod(
        &up,
        "job",
        "keelson-node-1",
        serde_json::json!({"sim.keelson.dev/exit-after": "1s"}),
        serde_json::json!({"restartPolicy": "Never"}),
    );
    let done = pod_when(&up, "job", "to succeed", |p| phase(p) == "Succeeded");
    let app = container(&done, "app").expect("the container's status");
    assert_eq!(app["state"]["terminated"]["exitCode"], 0);
    assert_eq!(app["state"]["terminated"]["reason"], "Completed");
    assert_eq!(app["ready"], false);
    assert_eq!(
        condition(&done, "Ready").expect("Ready")["reason"],
        "PodCompleted"
    );
    assert!(up.ok(&["get", "pod", "job"]).contains("Completed"));
}

#[test]
fn a_pod_that_exits_1_and_never_restarts_fails() {
    let up = two_nodes();
    ready_node(&up, "keelson-node-1");
    create_pod(
        &up,
        "job",
        "keelson-node-1",
        serde_json::json!({
            "sim.keelson.dev/exit-after": "1s",
            "sim.keelson.dev/exit-code": "1",
        }),
        serde_json::json!({"restartPolicy": "Never"}),
    );
    let failed = pod_when(&up, "job", "to fail", |p| phase(p) == "Failed");
    let app = container(&failed, "app").expect("the container's status");
    assert_eq!(app["state"]["terminated"]["exitCode"], 1);
    assert_eq!(app["state"]["terminated"]["reason"], "Error");
    assert_eq!(app["restartCount"], 0);
    assert_eq!(
        condition(&failed, "Ready").expect("Ready")["reason"],
        "PodFailed"
    );
}

#[test]
fn a_crashing_pod_that_always_restarts_shows_restarts_and_crash_loop_back_off() {
    let up = two_nodes();
    ready_node(&up, "keelson-node-1");
    create_pod(
        &up,
        "crash",
        "keelson-node-1",
        serde_json::json!({
            "sim.keelson.dev/exit-after": "1s",
            "sim.keelson.dev/exit-code": "3",
        }),
        serde_json::json!({}),
    );
    let looping = pod_when(&up, "crash", "to be in CrashLoopBackOff", |p| {
        container(p, "app").is_some_and(|c| {
            c["restartCount"].as_i64().unwrap_or(0) >= 1
                && c["state"]["waiting"]["reason"] == "CrashLoopBackOff"
        })
    });
    assert_eq!(
        phase(&looping),
        "Running",
        "restartPolicy Always keeps it Running"
    );
    let app = container(&looping, "app").expect("the container's status");
    assert_eq!(app["lastState"]["terminated"]["exitCode"], 3);
    assert_eq!(app["ready"], false);
    let message = app["state"]["waiting"]["message"].as_str().unwrap_or("");
    assert!(
        message.starts_with("back-off ")
            && message.contains("restarting failed container=app pod=crash_default("),
        "{message}"
    );
    assert!(up.ok(&["get", "pod", "crash"]).contains("CrashLoopBackOff"));
    // It keeps being restarted.
    pod_when(&up, "crash", "to be restarted again", |p| {
        container(p, "app").is_some_and(|c| c["restartCount"].as_i64().unwrap_or(0) >= 2)
    });
}

#[test]
fn deleting_a_running_pod_removes_it_after_its_grace_period() {
    let up = two_nodes();
    ready_node(&up, "keelson-node-1");
    create_pod(
        &up,
        "web",
        "keelson-node-1",
        serde_json::json!({}),
        serde_json::json!({"terminationGracePeriodSeconds": 3}),
    );
    pod_when(&up, "web", "to be Running", |p| phase(p) == "Running");
    let recording = Recording::start(&up, &["pod", "web"]);
    up.ok(&["delete", "pod", "web", "--wait=false"]);
    up.eventually(EVENTUALLY, "the pod to be removed", || {
        pod(&up, "web").is_none()
    });
    // Let the watch deliver the removal.
    std::thread::sleep(Duration::from_secs(1));
    let events = recording.stop();
    let objects: Vec<&Value> = events.iter().map(|e| &e["object"]).collect();
    // Marked first, with the pod's grace period, while its container still ran.
    let marked = objects
        .iter()
        .find(|o| o["metadata"]["deletionTimestamp"].is_string())
        .expect("the pod marked for deletion");
    assert_eq!(marked["metadata"]["deletionGracePeriodSeconds"], 3);
    // Stopped before it went: its container terminated with code 0.
    let last = objects
        .iter()
        .rev()
        .find(|o| container(o, "app").is_some_and(|c| c["state"]["terminated"].is_object()))
        .unwrap_or_else(|| panic!("no stopped container before the removal: {events:#?}"));
    let app = container(last, "app").expect("the container's status");
    assert_eq!(app["state"]["terminated"]["exitCode"], 0);
    assert_eq!(phase(last), "Succeeded");
    assert!(
        events.iter().any(|e| e["type"] == "DELETED"),
        "the removal was not seen: {events:#?}"
    );
}

#[test]
fn keelson_node_out_of_process_registers_a_node() {
    let up = KeelsonUp::start(&[]);
    let log = up.data_dir.with_extension("node.log");
    let mut agent = NodeAgent::start(
        &up.kubeconfig,
        &[
            "--simulated-nodes",
            "1",
            "--node-name-prefix",
            "outside",
            "--simulated-node-labels",
            "tier=db",
            "--simulated-node-capacity",
            "cpu=4",
        ],
        log,
    );
    let mut node = Value::Null;
    up.eventually(EVENTUALLY, "node outside-1 to be Ready", || {
        assert!(
            agent.is_running(),
            "keelson node exited:\n{}",
            agent.log_text()
        );
        let out = up.kubectl(&["get", "node", "outside-1", "-o", "json"]);
        out.status.success() && {
            node = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
            is_true(&node, "Ready")
        }
    });
    assert_eq!(node["metadata"]["labels"]["tier"], "db");
    assert_eq!(node["status"]["capacity"]["cpu"], "4");
    assert_eq!(node["status"]["capacity"]["pods"], "110");
    up.eventually(EVENTUALLY, "its Lease", || {
        up.kubectl(&["get", "lease", "-n", "kube-node-lease", "outside-1"])
            .status
            .success()
    });
}

#[test]
fn bad_simulated_node_flags_are_refused() {
    for (flag, value, says) in [
        ("--simulated-node-capacity", "cpu=lots", "cpu"),
        ("--simulated-node-labels", "Bad Key=1", "label key"),
        ("--cluster-cidr", "10.0.0.0/30", "/24"),
        ("--node-name-prefix", "Not_A_Name", "--node-name-prefix"),
    ] {
        let stderr = keelson_tests::keelson_fails(&[
            "up",
            "--data-dir",
            "/nonexistent/keelson",
            "--simulated-nodes",
            "1",
            flag,
            value,
        ]);
        assert!(stderr.contains(says), "{flag} {value}: {stderr}");
    }
    let stderr = keelson_tests::keelson_fails(&["node", "--kubeconfig", "/nonexistent"]);
    assert!(stderr.contains("--simulated-nodes"), "{stderr}");
}
