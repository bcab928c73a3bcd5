//! Workloads as a user drives them: the real kubectl against `keelson up --simulated-nodes 3`,
//! where the controllers, the scheduler and the simulated nodes run every kind of workload.

use std::time::{Duration, Instant};

use keelson_tests::cluster::KeelsonUp;
use keelson_tests::simulated::{get_json, NodeAgent};
use serde_json::Value;

fn up() -> KeelsonUp {
    KeelsonUp::start(&["--simulated-nodes", "3"])
}

fn items(list: &Value) -> Vec<Value> {
    list["items"].as_array().cloned().unwrap_or_default()
}

fn image(pod: &Value) -> String {
    pod["spec"]["containers"][0]["image"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// The pods of `selector` not being deleted (a deleted pod lingers for its grace period, as
/// its containers take that long to stop on simulated nodes unless told otherwise).
fn live_pods(k: &KeelsonUp, selector: &str) -> Vec<Value> {
    items(&get_json(k, &["pods", "-l", selector]))
        .into_iter()
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
        .collect()
}

fn ready(pod: &Value) -> bool {
    pod["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True")
}

#[test]
fn a_deployment_rolls_out_within_its_limits_and_back() {
    let k = up();
    k.ok(&[
        "create",
        "deployment",
        "web",
        "--image=nginx:1.27",
        "--replicas=4",
    ]);
    let out = k.ok(&["rollout", "status", "deployment/web", "--timeout=120s"]);
    assert!(out.contains("successfully rolled out"), "{out}");
    let pods = items(&get_json(&k, &["pods", "-l", "app=web"]));
    assert_eq!(pods.len(), 4);
    assert!(pods.iter().all(|p| p["spec"]["nodeName"]
        .as_str()
        .is_some_and(|n| n.starts_with("keelson-node-"))));
    assert!(pods.iter().all(ready));

    // A new image: the sets never ask for more than 4 + 1 (25% surge) pods, and never
    // fewer than 4 - 1 pods are ready.
    k.ok(&["set", "image", "deployment/web", "nginx=nginx:1.28"]);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let asked: i64 = items(&get_json(&k, &["replicasets", "-l", "app=web"]))
            .iter()
            .filter_map(|rs| rs["spec"]["replicas"].as_i64())
            .sum();
        assert!(asked <= 5, "more than maxSurge: {asked}");
        let pods = live_pods(&k, "app=web");
        assert!(
            pods.iter().filter(|p| ready(p)).count() >= 3,
            "fewer than replicas - maxUnavailable ready"
        );
        if pods.len() == 4 && pods.iter().all(|p| image(p) == "nginx:1.28" && ready(p)) {
            break;
        }
        assert!(Instant::now() < deadline, "the rollout did not finish");
        std::thread::sleep(Duration::from_millis(200));
    }
    let out = k.ok(&["rollout", "status", "deployment/web", "--timeout=60s"]);
    assert!(out.contains("successfully rolled out"), "{out}");
    let history = k.ok(&["rollout", "history", "deployment/web"]);
    assert!(history.contains('1') && history.contains('2'), "{history}");

    // Undo returns to the first image as revision 3.
    k.ok(&["rollout", "undo", "deployment/web"]);
    k.ok(&["rollout", "status", "deployment/web", "--timeout=120s"]);
    let d = get_json(&k, &["deployment", "web"]);
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.27"
    );
    assert_eq!(
        d["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "3"
    );

    // Paused, a template change does not roll out; resumed, it does.
    k.ok(&["rollout", "pause", "deployment/web"]);
    k.ok(&["set", "image", "deployment/web", "nginx=nginx:1.29"]);
    std::thread::sleep(Duration::from_secs(2));
    assert!(items(&get_json(&k, &["pods", "-l", "app=web"]))
        .iter()
        .all(|p| image(p) != "nginx:1.29"));
    k.ok(&["rollout", "resume", "deployment/web"]);
    k.ok(&["rollout", "status", "deployment/web", "--timeout=120s"]);

    // Scaled, and described with upstream's events.
    k.ok(&["scale", "deployment/web", "--replicas=6"]);
    k.ok(&["rollout", "status", "deployment/web", "--timeout=120s"]);
    assert_eq!(live_pods(&k, "app=web").len(), 6);
    let described = k.ok(&["describe", "deployment", "web"]);
    assert!(described.contains("ScalingReplicaSet"), "{described}");
}

#[test]
fn deletions_cascade_as_asked() {
    let k = up();
    for name in ["bg", "fg", "orphans"] {
        k.ok(&[
            "create",
            "deployment",
            name,
            "--image=nginx:1.27",
            "--replicas=2",
        ]);
    }
    for name in ["bg", "fg", "orphans"] {
        k.ok(&[
            "rollout",
            "status",
            &format!("deployment/{name}"),
            "--timeout=120s",
        ]);
    }
    k.ok(&["delete", "deployment", "bg", "--cascade=background"]);
    k.ok(&["delete", "deployment", "fg", "--cascade=foreground"]);
    k.ok(&["delete", "deployment", "orphans", "--cascade=orphan"]);
    k.eventually(
        Duration::from_secs(60),
        "bg's and fg's sets and pods gone",
        || {
            let sets = items(&get_json(&k, &["replicasets"]));
            let pods = items(&get_json(&k, &["pods"]));
            let of = |app: &str, list: &[Value]| {
                list.iter()
                    .filter(|o| o["metadata"]["labels"]["app"] == app)
                    .count()
            };
            of("bg", &sets) + of("fg", &sets) + of("bg", &pods) + of("fg", &pods) == 0
        },
    );
    // The orphaned set stays, without an owner, with its pods.
    let sets = items(&get_json(&k, &["replicasets", "-l", "app=orphans"]));
    assert_eq!(sets.len(), 1);
    assert!(sets[0]["metadata"]["ownerReferences"]
        .as_array()
        .is_none_or(|o| o.is_empty()));
    assert_eq!(
        items(&get_json(&k, &["pods", "-l", "app=orphans"])).len(),
        2
    );
}

const STATEFUL_SET: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: db}
spec: {clusterIP: None, selector: {app: db}, ports: [{port: 5432}]}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  replicas: 3
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}, annotations: {sim.keelson.dev/stop-after: 100ms}}
    spec: {containers: [{name: db, image: postgres:17}]}
"#;

#[test]
fn a_stateful_set_starts_in_order_and_scales_down_from_the_top() {
    let k = up();
    k.ok_stdin(&["apply", "-f", "-"], STATEFUL_SET);
    k.ok(&["rollout", "status", "statefulset/db", "--timeout=120s"]);
    let started = |name: &str| {
        get_json(&k, &["pod", name])["status"]["startTime"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    assert!(started("db-0") <= started("db-1") && started("db-1") <= started("db-2"));
    k.ok(&["scale", "statefulset/db", "--replicas=1"]);
    k.eventually(Duration::from_secs(60), "db-1 and db-2 gone", || {
        items(&get_json(&k, &["pods", "-l", "app=db"])).len() == 1
    });
    assert_eq!(
        items(&get_json(&k, &["pods", "-l", "app=db"]))[0]["metadata"]["name"],
        "db-0"
    );
}

const DAEMON_SET: &str = r#"
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec: {containers: [{name: agent, image: agent:1}]}
"#;

#[test]
fn a_daemon_set_runs_on_every_node_even_a_tainted_one_it_tolerates() {
    let k = up();
    k.ok(&[
        "taint",
        "node",
        "keelson-node-3",
        "node.kubernetes.io/unschedulable:NoSchedule",
    ]);
    k.ok_stdin(&["apply", "-f", "-"], DAEMON_SET);
    k.ok(&["rollout", "status", "daemonset/agent", "--timeout=120s"]);
    let mut nodes: Vec<String> = items(&get_json(&k, &["pods", "-l", "app=agent"]))
        .iter()
        .filter_map(|p| p["spec"]["nodeName"].as_str().map(str::to_string))
        .collect();
    nodes.sort();
    assert_eq!(
        nodes,
        ["keelson-node-1", "keelson-node-2", "keelson-node-3"]
    );

    // A surge update: each node gets its new pod beside the old one, which goes only once
    // the new one is ready (2 s after it starts, by its probe), so no node is ever without
    // a ready pod.
    k.ok(&[
        "patch",
        "daemonset",
        "agent",
        "--type=merge",
        "-p",
        r#"{"spec":{"updateStrategy":{"rollingUpdate":{"maxSurge":1,"maxUnavailable":0}},
            "template":{"spec":{"containers":[{"name":"agent","image":"agent:2",
            "readinessProbe":{"exec":{"command":["true"]},"initialDelaySeconds":2}}]}}}}"#,
    ]);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let pods = live_pods(&k, "app=agent");
        assert!(pods.len() <= 4, "more than one surge pod: {}", pods.len());
        for node in ["keelson-node-1", "keelson-node-2", "keelson-node-3"] {
            assert!(
                pods.iter()
                    .any(|p| p["spec"]["nodeName"] == node && ready(p)),
                "{node} had no ready pod"
            );
        }
        if pods.len() == 3 && pods.iter().all(|p| image(p) == "agent:2" && ready(p)) {
            break;
        }
        assert!(Instant::now() < deadline, "the surge update did not finish");
        std::thread::sleep(Duration::from_millis(200));
    }
}

const JOBS: &str = r#"
apiVersion: batch/v1
kind: Job
metadata: {name: done}
spec:
  completions: 3
  parallelism: 2
  template:
    metadata: {annotations: {sim.keelson.dev/exit-after: 1s, sim.keelson.dev/exit-code: "0"}}
    spec: {restartPolicy: Never, containers: [{name: c, image: busybox:1.36}]}
---
apiVersion: batch/v1
kind: Job
metadata: {name: indexed}
spec:
  completions: 3
  parallelism: 3
  completionMode: Indexed
  template:
    metadata: {annotations: {sim.keelson.dev/exit-after: 1s}}
    spec: {restartPolicy: Never, containers: [{name: c, image: busybox:1.36}]}
---
apiVersion: batch/v1
kind: Job
metadata: {name: doomed}
spec:
  backoffLimit: 1
  template:
    metadata: {annotations: {sim.keelson.dev/exit-after: 1s, sim.keelson.dev/exit-code: "1"}}
    spec: {restartPolicy: Never, containers: [{name: c, image: busybox:1.36}]}
---
apiVersion: batch/v1
kind: Job
metadata: {name: policed}
spec:
  backoffLimit: 6
  podFailurePolicy:
    rules:
    - {action: FailJob, onExitCodes: {containerName: c, operator: In, values: [42]}}
  template:
    metadata: {annotations: {sim.keelson.dev/exit-after: 1s, sim.keelson.dev/exit-code: "42"}}
    spec: {restartPolicy: Never, containers: [{name: c, image: busybox:1.36}]}
"#;

#[test]
fn jobs_complete_or_fail_past_their_backoff_limit() {
    let k = up();
    k.ok_stdin(&["apply", "-f", "-"], JOBS);
    k.ok(&[
        "wait",
        "--for=condition=Complete",
        "job/done",
        "job/indexed",
        "--timeout=120s",
    ]);
    k.ok(&[
        "wait",
        "--for=condition=Failed",
        "job/doomed",
        "--timeout=120s",
    ]);
    let indexed = get_json(&k, &["job", "indexed"]);
    assert_eq!(indexed["status"]["completedIndexes"], "0-2");
    let doomed = get_json(&k, &["job", "doomed"]);
    let failed = doomed["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == "Failed")
        .cloned()
        .unwrap_or_default();
    assert_eq!(failed["reason"], "BackoffLimitExceeded");
}

#[test]
fn a_budget_refuses_an_eviction_that_would_break_it() {
    let k = up();
    k.ok(&[
        "create",
        "deployment",
        "guarded",
        "--image=nginx:1.27",
        "--replicas=2",
    ]);
    k.ok(&["rollout", "status", "deployment/guarded", "--timeout=120s"]);
    k.ok(&[
        "create",
        "poddisruptionbudget",
        "guard",
        "--selector=app=guarded",
        "--min-available=2",
    ]);
    k.eventually(Duration::from_secs(30), "the budget's status", || {
        let pdb = get_json(&k, &["pdb", "guard"]);
        pdb["status"]["currentHealthy"] == 2 && pdb["status"]["disruptionsAllowed"] == 0
    });
    let pods = items(&get_json(&k, &["pods", "-l", "app=guarded"]));
    let node = pods[0]["spec"]["nodeName"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    // Draining the node would evict a pod the budget protects: kubectl reports it.
    let out = k.kubectl(&["drain", &node, "--ignore-daemonsets", "--timeout=5s"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("disruption budget"), "{stderr}");
}

#[test]
fn a_cron_job_creates_a_job_on_schedule() {
    let k = up();
    k.ok(&[
        "create",
        "cronjob",
        "tick",
        "--image=busybox:1.36",
        "--schedule=* * * * *",
    ]);
    // The next minute starts within 60 s; the Job then runs on a node and completes.
    k.eventually(Duration::from_secs(90), "a Job of the CronJob", || {
        items(&get_json(&k, &["jobs"]))
            .iter()
            .any(|j| j["metadata"]["ownerReferences"][0]["name"] == "tick")
    });
    let cron = get_json(&k, &["cronjob", "tick"]);
    assert!(cron["status"]["lastScheduleTime"].is_string(), "{cron}");
    let described = k.ok(&["describe", "cronjob", "tick"]);
    assert!(described.contains("SuccessfulCreate"), "{described}");
}

#[test]
fn describe_shows_the_scheduler_and_controller_events() {
    let k = up();
    k.ok(&[
        "create",
        "deployment",
        "seen",
        "--image=nginx:1.27",
        "--replicas=1",
    ]);
    k.ok(&["rollout", "status", "deployment/seen", "--timeout=120s"]);
    let described = k.ok(&["describe", "pods", "-l", "app=seen"]);
    assert!(described.contains("Scheduled"), "{described}");
    assert!(
        described.contains("Successfully assigned default/seen-"),
        "{described}"
    );
    let described = k.ok(&["describe", "replicasets", "-l", "app=seen"]);
    assert!(described.contains("SuccessfulCreate"), "{described}");
    assert!(described.contains("Created pod: seen-"), "{described}");

    // A pod no node can hold is described with upstream's FailedScheduling message.
    k.ok_stdin(
        &["apply", "-f", "-"],
        r#"
apiVersion: v1
kind: Pod
metadata: {name: huge}
spec: {containers: [{name: c, image: nginx:1.27, resources: {requests: {cpu: "1000"}}}]}
"#,
    );
    k.eventually(Duration::from_secs(30), "FailedScheduling", || {
        let described = k.ok(&["describe", "pod", "huge"]);
        described.contains("FailedScheduling")
            && described.contains("0/3 nodes are available: 3 Insufficient cpu.")
    });
}

#[test]
fn pods_of_a_killed_node_agent_are_evicted_and_rescheduled() {
    // The grace period outlasts the nodes' 10 s Lease renewals, so live nodes stay Ready.
    let k = KeelsonUp::start(&[
        "--simulated-nodes",
        "1",
        "--node-monitor-grace-period",
        "15s",
    ]);
    let log = k.data_dir.with_extension("agent.log");
    let agent = NodeAgent::start(&k.kubeconfig, &["--simulated-nodes", "1"], log);
    k.eventually(Duration::from_secs(30), "the agent's node Ready", || {
        items(&get_json(&k, &["nodes"])).len() == 2
    });
    // Pods go to the agent's node while keelson-node-1 is cordoned.
    k.ok(&["cordon", "keelson-node-1"]);
    k.ok_stdin(
        &["apply", "-f", "-"],
        r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: moved}
spec:
  replicas: 2
  selector: {matchLabels: {app: moved}}
  template:
    metadata: {labels: {app: moved}}
    spec:
      containers: [{name: c, image: nginx:1.27}]
      tolerations:
      - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 2}
      - {key: node.kubernetes.io/not-ready, operator: Exists, effect: NoExecute, tolerationSeconds: 2}
"#,
    );
    k.ok(&["rollout", "status", "deployment/moved", "--timeout=120s"]);
    let agent_node = items(&get_json(&k, &["pods", "-l", "app=moved"]))[0]["spec"]["nodeName"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_ne!(agent_node, "keelson-node-1");
    k.ok(&["uncordon", "keelson-node-1"]);

    drop(agent); // SIGKILL
    k.eventually(
        Duration::from_secs(60),
        "the agent's node Unknown and tainted",
        || {
            let node = get_json(&k, &["node", &agent_node]);
            let ready = node["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|c| c["type"] == "Ready")
                .cloned()
                .unwrap_or_default();
            let tainted = node["spec"]["taints"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|t| {
                    t["key"] == "node.kubernetes.io/unreachable" && t["effect"] == "NoExecute"
                });
            ready["status"] == "Unknown" && tainted
        },
    );
    k.eventually(
        Duration::from_secs(90),
        "the pods running on keelson-node-1",
        || {
            let pods = live_pods(&k, "app=moved");
            pods.len() == 2
                && pods
                    .iter()
                    .all(|p| p["spec"]["nodeName"] == "keelson-node-1" && ready(p))
        },
    );
}
