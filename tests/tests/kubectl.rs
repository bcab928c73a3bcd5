//! The real kubectl v1.35 against `keelson up`, through the generated kubeconfig only (TLS
//! verified; no --insecure-skip-tls-verify, no --validate=false).

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use keelson_tests::cluster::KeelsonUp;
use serde_json::Value;

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// `keelson up` without the loops that would act on the test's Deployment.
const WITHOUT_WORKLOAD_CONTROLLERS: &str =
    "--controllers=*,-deployment-controller,-replicaset-controller";

#[test]
fn version_discovery_and_cluster_info() {
    let k = KeelsonUp::start(&[]);
    let version = k.ok(&["version"]);
    assert!(version.contains("Server Version: v1.35."), "{version}");

    let versions = k.ok(&["api-versions"]);
    for gv in [
        "v1",
        "apps/v1",
        "autoscaling/v2",
        "batch/v1",
        "rbac.authorization.k8s.io/v1",
        "apiextensions.k8s.io/v1",
    ] {
        assert!(
            versions.lines().any(|l| l == gv),
            "api-versions lacks {gv}:\n{versions}"
        );
    }

    // Every resource of the catalogue, with its short names, as kubectl lists it.
    let listed = k.ok(&["api-resources", "--no-headers"]);
    let rows: Vec<Vec<&str>> = listed
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    let mut expected = 0;
    for r in keelson_apis::catalogue::builtin() {
        // kubectl shows each resource once, at its group's preferred version.
        let preferred = keelson_apis::catalogue::group_versions()
            .into_iter()
            .find(|(g, _)| *g == r.group())
            .and_then(|(_, versions)| versions.first().copied());
        if preferred != Some(r.version()) {
            continue;
        }
        expected += 1;
        let row = rows
            .iter()
            .find(|row| row.first() == Some(&r.plural()) && row.contains(&r.api_version().as_str()))
            .unwrap_or_else(|| {
                panic!(
                    "api-resources lacks {} {}:\n{listed}",
                    r.plural(),
                    r.api_version()
                )
            });
        if !r.facts.short_names.is_empty() {
            assert_eq!(
                row.get(1).copied(),
                Some(r.facts.short_names.join(",").as_str()),
                "short names of {}",
                r.plural()
            );
        }
    }
    // This project's own custom resources are served as built-ins.
    for crd in keelson_apis::crds::all() {
        expected += 1;
        let plural = crd.spec.names.plural.as_str();
        let row = rows.iter().find(|row| row.first() == Some(&plural));
        assert!(row.is_some(), "api-resources lacks {plural}:\n{listed}");
    }
    assert_eq!(
        rows.len(),
        expected,
        "api-resources lists other resources:\n{listed}"
    );

    // OpenAPI: the v3 root lists every group version with a hash; v2 is served as JSON.
    let root = json(&k.ok(&["get", "--raw", "/openapi/v3"]));
    let apps = root["paths"]["apis/apps/v1"]["serverRelativeURL"]
        .as_str()
        .unwrap_or("");
    assert!(apps.starts_with("/openapi/v3/apis/apps/v1?hash="), "{root}");
    let v2 = json(&k.ok(&["get", "--raw", "/openapi/v2"]));
    assert!(v2["definitions"]["io.k8s.api.apps.v1.Deployment"].is_object());

    let info = k.ok(&["cluster-info"]);
    assert!(
        info.contains("is running at") && info.contains(&k.server),
        "{info}"
    );
    // The bootstrap namespaces and the kubernetes Service exist from the start.
    let namespaces = k.ok(&["get", "namespaces", "-o", "name"]);
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        assert!(
            namespaces.contains(&format!("namespace/{ns}")),
            "{namespaces}"
        );
    }
    let svc = json(&k.ok(&["get", "service", "kubernetes", "-o", "json"]));
    assert_eq!(svc["spec"]["clusterIP"], "10.96.0.1");
}

#[test]
fn configmaps_secrets_services_deployments_namespaces_round_trip() {
    let k = KeelsonUp::start(&[]);
    // Generators send protobuf bodies; manifests send JSON.
    k.ok(&["create", "namespace", "shop"]);
    k.ok(&[
        "-n",
        "shop",
        "create",
        "configmap",
        "settings",
        "--from-literal=color=blue",
    ]);
    k.ok(&[
        "-n",
        "shop",
        "create",
        "secret",
        "generic",
        "creds",
        "--from-literal=password=s3cret",
    ]);
    k.ok(&[
        "-n",
        "shop",
        "create",
        "deployment",
        "web",
        "--image=nginx:1.25",
        "--replicas=2",
    ]);
    k.ok(&[
        "-n",
        "shop",
        "create",
        "service",
        "clusterip",
        "web",
        "--tcp=80:8080",
    ]);

    let cm = json(&k.ok(&["-n", "shop", "get", "configmap", "settings", "-o", "json"]));
    assert_eq!(cm["data"]["color"], "blue");
    let secret = json(&k.ok(&["-n", "shop", "get", "secret", "creds", "-o", "json"]));
    assert_eq!(secret["data"]["password"], "czNjcmV0");
    assert_eq!(secret["type"], "Opaque");
    let deploy = json(&k.ok(&["-n", "shop", "get", "deployment", "web", "-o", "json"]));
    assert_eq!(deploy["spec"]["replicas"], 2);
    assert_eq!(deploy["metadata"]["generation"], 1);
    let svc = json(&k.ok(&["-n", "shop", "get", "service", "web", "-o", "json"]));
    let ip = svc["spec"]["clusterIP"].as_str().unwrap_or("");
    assert!(ip.starts_with("10."), "a cluster IP was allocated: {svc}");
    assert_eq!(svc["spec"]["ports"][0]["targetPort"], 8080);

    let described = k.ok(&["-n", "shop", "describe", "configmap", "settings"]);
    assert!(
        described.contains("color") && described.contains("blue"),
        "{described}"
    );
    let described = k.ok(&["-n", "shop", "describe", "deployment", "web"]);
    assert!(described.contains("nginx:1.25"), "{described}");

    // label, annotate, and every patch type.
    k.ok(&["-n", "shop", "label", "configmap", "settings", "tier=front"]);
    k.ok(&[
        "-n",
        "shop",
        "annotate",
        "configmap",
        "settings",
        "owner=team-a",
    ]);
    k.ok(&[
        "-n",
        "shop",
        "patch",
        "configmap",
        "settings",
        "--type=json",
        "-p",
        r#"[{"op":"add","path":"/data/size","value":"L"}]"#,
    ]);
    k.ok(&[
        "-n",
        "shop",
        "patch",
        "configmap",
        "settings",
        "--type=merge",
        "-p",
        r#"{"data":{"shape":"round"}}"#,
    ]);
    k.ok(&[
        "-n",
        "shop",
        "patch",
        "configmap",
        "settings",
        "-p",
        r#"{"data":{"color":"red"}}"#,
    ]);
    let cm = json(&k.ok(&["-n", "shop", "get", "configmap", "settings", "-o", "json"]));
    assert_eq!(cm["metadata"]["labels"]["tier"], "front");
    assert_eq!(cm["metadata"]["annotations"]["owner"], "team-a");
    assert_eq!(
        cm["data"],
        serde_json::json!({"color": "red", "size": "L", "shape": "round"})
    );
    k.ok(&["-n", "shop", "label", "configmap", "settings", "tier-"]);
    let labels = k.ok(&[
        "-n",
        "shop",
        "get",
        "configmap",
        "settings",
        "-o",
        "jsonpath={.metadata.labels}",
    ]);
    assert!(!labels.contains("tier"), "{labels}");

    // A strategic patch merges containers by name.
    k.ok(&[
        "-n",
        "shop",
        "patch",
        "deployment",
        "web",
        "-p",
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:1.27"}]}}}}"#,
    ]);
    let deploy = json(&k.ok(&["-n", "shop", "get", "deployment", "web", "-o", "json"]));
    assert_eq!(
        deploy["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.27"
    );
    assert_eq!(
        deploy["metadata"]["generation"], 2,
        "a spec change bumps the generation"
    );
    k.ok(&["-n", "shop", "label", "deployment", "web", "x=y"]);
    let deploy = json(&k.ok(&["-n", "shop", "get", "deployment", "web", "-o", "json"]));
    assert_eq!(
        deploy["metadata"]["generation"], 2,
        "a label change does not"
    );

    // replace with a changed manifest.
    let mut cm = json(&k.ok(&["-n", "shop", "get", "configmap", "settings", "-o", "json"]));
    cm["data"]["color"] = "green".into();
    k.ok_stdin(&["-n", "shop", "replace", "-f", "-"], &cm.to_string());
    assert_eq!(
        k.ok(&[
            "-n",
            "shop",
            "get",
            "cm",
            "settings",
            "-o",
            "jsonpath={.data.color}"
        ]),
        "green"
    );
    let mut svc = json(&k.ok(&["-n", "shop", "get", "svc", "web", "-o", "json"]));
    svc["spec"]["ports"][0]["port"] = 81.into();
    k.ok_stdin(&["-n", "shop", "replace", "-f", "-"], &svc.to_string());
    assert_eq!(
        k.ok(&[
            "-n",
            "shop",
            "get",
            "svc",
            "web",
            "-o",
            "jsonpath={.spec.ports[0].port}"
        ]),
        "81"
    );

    // Every verb on every kind: get, describe, label, annotate, each patch type, replace.
    for (kind, name, ns) in [
        ("configmap", "settings", Some("shop")),
        ("secret", "creds", Some("shop")),
        ("service", "web", Some("shop")),
        ("deployment", "web", Some("shop")),
        ("namespace", "shop", None),
    ] {
        let with_ns = |args: &[&str]| -> Vec<String> {
            let mut full: Vec<String> = ns
                .map(|n| vec!["-n".to_string(), n.to_string()])
                .unwrap_or_default();
            full.extend(args.iter().map(|a| a.to_string()));
            full
        };
        let run = |args: &[&str]| {
            let full = with_ns(args);
            let refs: Vec<&str> = full.iter().map(String::as_str).collect();
            k.ok(&refs)
        };
        assert!(run(&["get", kind, name, "-o", "name"]).contains(name));
        assert!(run(&["describe", kind, name]).contains(name));
        run(&["label", kind, name, "verb=label"]);
        run(&["annotate", kind, name, "verb=annotate"]);
        run(&[
            "patch",
            kind,
            name,
            "--type=json",
            "-p",
            r#"[{"op":"add","path":"/metadata/labels/json","value":"yes"}]"#,
        ]);
        run(&[
            "patch",
            kind,
            name,
            "--type=merge",
            "-p",
            r#"{"metadata":{"labels":{"merge":"yes"}}}"#,
        ]);
        run(&[
            "patch",
            kind,
            name,
            "-p",
            r#"{"metadata":{"labels":{"strategic":"yes"}}}"#,
        ]);
        let mut obj = json(&run(&["get", kind, name, "-o", "json"]));
        for label in ["verb", "json", "merge", "strategic"] {
            assert!(
                obj["metadata"]["labels"][label].is_string(),
                "{kind} lacks label {label}: {obj}"
            );
        }
        assert_eq!(obj["metadata"]["annotations"]["verb"], "annotate");
        obj["metadata"]["labels"]["replaced"] = "yes".into();
        let full = with_ns(&["replace", "-f", "-"]);
        let refs: Vec<&str> = full.iter().map(String::as_str).collect();
        k.ok_stdin(&refs, &obj.to_string());
        assert_eq!(
            run(&[
                "get",
                kind,
                name,
                "-o",
                "jsonpath={.metadata.labels.replaced}"
            ]),
            "yes"
        );
    }

    // delete each kind, then the namespace (its controller empties and finalizes it).
    for what in [
        ["configmap", "settings"],
        ["secret", "creds"],
        ["service", "web"],
        ["deployment", "web"],
    ] {
        let out = k.ok(&["-n", "shop", "delete", what[0], what[1]]);
        assert!(out.contains("deleted"), "{out}");
        let err = k.fails(&["-n", "shop", "get", what[0], what[1]]);
        assert!(err.contains("NotFound"), "{err}");
    }
    k.ok(&[
        "-n",
        "shop",
        "create",
        "configmap",
        "leftover",
        "--from-literal=a=b",
    ]);
    let out = k.ok(&["delete", "namespace", "shop", "--timeout=60s"]);
    assert!(out.contains("namespace \"shop\" deleted"), "{out}");
    let err = k.fails(&["get", "namespace", "shop"]);
    assert!(err.contains("NotFound"), "{err}");
}

const DEPLOYMENT: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
spec:
  replicas: 2
  selector:
    matchLabels: {app: shop}
  template:
    metadata:
      labels: {app: shop}
    spec:
      containers:
      - name: app
        image: registry.example/app:1
        env:
        - {name: MODE, value: "one"}
        - {name: KEEP, value: "kept"}
      - name: sidecar
        image: registry.example/sidecar:1
"#;

#[test]
fn apply_twice_merges_one_containers_env() {
    let k = KeelsonUp::start(&[]);
    let out = k.ok_stdin(&["apply", "-f", "-"], DEPLOYMENT);
    assert!(out.contains("deployment.apps/shop created"), "{out}");
    // Applying the same manifest again changes nothing.
    let out = k.ok_stdin(&["apply", "-f", "-"], DEPLOYMENT);
    assert!(out.contains("unchanged"), "{out}");
    // Someone else adds a container; the next apply must keep it.
    k.ok(&["patch", "deployment", "shop", "--type=json", "-p",
        r#"[{"op":"add","path":"/spec/template/spec/containers/-","value":{"name":"injected","image":"registry.example/proxy:1"}}]"#]);
    let out = k.ok_stdin(
        &["apply", "-f", "-"],
        &DEPLOYMENT.replace("value: \"one\"", "value: \"two\""),
    );
    assert!(out.contains("deployment.apps/shop configured"), "{out}");
    let deploy = json(&k.ok(&["get", "deployment", "shop", "-o", "json"]));
    let containers = deploy["spec"]["template"]["spec"]["containers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let names: Vec<&str> = containers
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(names, ["app", "sidecar", "injected"]);
    assert_eq!(
        containers[0]["env"],
        serde_json::json!([{"name": "MODE", "value": "two"}, {"name": "KEEP", "value": "kept"}])
    );
    assert!(
        deploy["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
            .is_string()
    );
}

#[test]
fn output_formats() {
    // Without the workload controllers: the test reads the Deployment as written, no pods.
    let k = KeelsonUp::start(&[WITHOUT_WORKLOAD_CONTROLLERS]);
    k.ok_stdin(&["apply", "-f", "-"], DEPLOYMENT);
    let yaml = k.ok(&["get", "deployment", "shop", "-o", "yaml"]);
    assert!(
        yaml.contains("kind: Deployment") && yaml.contains("replicas: 2"),
        "{yaml}"
    );
    let listed = json(&k.ok(&["get", "deployments", "-o", "json"]));
    assert_eq!(listed["items"][0]["metadata"]["name"], "shop");
    let table = k.ok(&["get", "deployments"]);
    let header: Vec<&str> = table
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(header, ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]);
    assert!(table.contains("0/2"), "{table}");
    let wide = k.ok(&["get", "deployments", "-o", "wide"]);
    assert!(
        wide.contains("CONTAINERS") && wide.contains("app,sidecar") && wide.contains("app=shop"),
        "{wide}"
    );
    assert_eq!(
        k.ok(&["get", "deployments", "-o", "name"]).trim(),
        "deployment.apps/shop"
    );
    assert_eq!(
        k.ok(&[
            "get",
            "deployment",
            "shop",
            "-o",
            "jsonpath={.spec.template.spec.containers[1].name}"
        ]),
        "sidecar"
    );
    let custom = k.ok(&[
        "get",
        "deployments",
        "-o",
        "custom-columns=N:.metadata.name,R:.spec.replicas",
    ]);
    assert_eq!(
        custom.split_whitespace().collect::<Vec<_>>(),
        ["N", "R", "shop", "2"]
    );
    let pods = k.kubectl(&["get", "pods", "-A"]);
    assert!(
        pods.status.success()
            && String::from_utf8_lossy(&pods.stderr).contains("No resources found")
    );
    let ns = k.ok(&["get", "namespaces"]);
    assert!(
        ns.lines()
            .next()
            .unwrap_or("")
            .split_whitespace()
            .eq(["NAME", "STATUS", "AGE"]),
        "{ns}"
    );
}

#[test]
fn get_watch_prints_added_modified_deleted() {
    let k = KeelsonUp::start(&[]);
    let mut watch = k
        .kubectl_command(&[
            "get",
            "configmaps",
            "-w",
            "--output-watch-events",
            "-l",
            "watched=yes",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("kubectl get -w");
    let (tx, rx) = mpsc::channel();
    let stdout = watch.stdout.take().expect("stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let next = |what: &str| -> String {
        loop {
            let line = rx
                .recv_timeout(Duration::from_secs(30))
                .unwrap_or_else(|_| panic!("no {what} line from kubectl get -w"));
            if !line.starts_with("EVENT") {
                return line;
            }
        }
    };
    // kubectl prints nothing for an empty list; give it a moment to start watching.
    std::thread::sleep(Duration::from_secs(1));
    k.ok(&["create", "configmap", "w1", "--from-literal=a=1"]);
    k.ok(&["label", "configmap", "w1", "watched=yes"]);
    let added = next("ADDED");
    assert!(
        added.starts_with("ADDED") && added.contains("w1"),
        "{added}"
    );
    k.ok(&[
        "patch",
        "configmap",
        "w1",
        "--type=merge",
        "-p",
        r#"{"data":{"b":"2"}}"#,
    ]);
    let modified = next("MODIFIED");
    assert!(
        modified.starts_with("MODIFIED") && modified.contains("w1") && modified.contains(" 2 "),
        "{modified}"
    );
    k.ok(&["delete", "configmap", "w1"]);
    let deleted = next("DELETED");
    assert!(
        deleted.starts_with("DELETED") && deleted.contains("w1"),
        "{deleted}"
    );
    let _ = watch.kill();
    let _ = watch.wait();
}

#[test]
fn scale_and_rollout_status() {
    // The test plays the deployment controller's part by writing the status itself.
    let k = KeelsonUp::start(&[WITHOUT_WORKLOAD_CONTROLLERS]);
    k.ok_stdin(&["apply", "-f", "-"], DEPLOYMENT);
    let out = k.ok(&["scale", "deployment", "shop", "--replicas=3"]);
    assert!(out.contains("scaled"), "{out}");
    assert_eq!(
        k.ok(&[
            "get",
            "deployment",
            "shop",
            "-o",
            "jsonpath={.spec.replicas}"
        ]),
        "3"
    );
    let out = k.ok(&[
        "scale",
        "deployment",
        "shop",
        "--current-replicas=3",
        "--replicas=4",
    ]);
    assert!(out.contains("scaled"), "{out}");
    let fails = k.fails(&[
        "scale",
        "deployment",
        "shop",
        "--current-replicas=1",
        "--replicas=5",
    ]);
    assert!(
        fails.contains("Expected replicas to be 1, was 4") || fails.contains("precondition"),
        "{fails}"
    );

    // rollout status waits (watch-list) until the status says the rollout is done.
    let mut rollout = k
        .kubectl_command(&["rollout", "status", "deployment/shop", "--timeout=60s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl rollout status");
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        rollout.try_wait().expect("rollout status").is_none(),
        "rollout status returned before the rollout finished"
    );
    let generation = k.ok(&[
        "get",
        "deployment",
        "shop",
        "-o",
        "jsonpath={.metadata.generation}",
    ]);
    let status = format!(
        r#"{{"status":{{"observedGeneration":{generation},"replicas":4,"updatedReplicas":4,"readyReplicas":4,"availableReplicas":4,"conditions":[{{"type":"Progressing","status":"True","reason":"NewReplicaSetAvailable"}},{{"type":"Available","status":"True","reason":"MinimumReplicasAvailable"}}]}}}}"#
    );
    k.ok(&[
        "patch",
        "deployment",
        "shop",
        "--subresource=status",
        "--type=merge",
        "-p",
        &status,
    ]);
    let out = rollout.wait_with_output().expect("rollout status output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("successfully rolled out"), "{stdout}");
    // The status subresource changed only the status.
    assert_eq!(
        k.ok(&[
            "get",
            "deployment",
            "shop",
            "-o",
            "jsonpath={.spec.replicas}/{.status.readyReplicas}"
        ]),
        "4/4"
    );
}

#[test]
fn explain_reads_the_openapi_schemas() {
    let k = KeelsonUp::start(&[]);
    let out = k.ok(&["explain", "deployment.spec"]);
    assert!(
        out.contains("GROUP:      apps") && out.contains("KIND:       Deployment"),
        "{out}"
    );
    assert!(
        out.contains("replicas") && out.contains("template") && out.contains("FIELDS:"),
        "{out}"
    );
    let out = k.ok(&["explain", "pods.spec.containers.env"]);
    assert!(out.contains("valueFrom"), "{out}");
}

#[test]
fn service_account_tokens_authenticate() {
    let dir = tempfile::tempdir().expect("temp dir");
    let tokens = dir.path().join("tokens.csv");
    std::fs::write(&tokens, "static-token-1,dev,1001,\"devs\"\n").expect("token file");
    let k = KeelsonUp::start(&[
        "--authorization-mode",
        "AlwaysAllow",
        "--token-auth-file",
        tokens.to_str().unwrap_or(""),
    ]);
    // The serviceaccount controller makes `default` in each namespace.
    k.eventually(
        Duration::from_secs(30),
        "the default service account",
        || {
            k.kubectl(&["get", "serviceaccount", "default"])
                .status
                .success()
        },
    );
    let token = k.ok(&["create", "token", "default"]);
    let token = token.trim();
    assert_eq!(token.split('.').count(), 3, "a JWT: {token}");
    let with_token = |t: &str| k.kubectl(&["--token", t, "get", "configmaps", "-o", "name"]);
    assert!(
        with_token(token).status.success(),
        "{}",
        String::from_utf8_lossy(&with_token(token).stderr)
    );
    assert!(with_token("static-token-1").status.success());
    let bad = with_token(&format!("{token}x"));
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("Unauthorized"));
    // A deleted account's tokens stop working.
    k.ok(&["delete", "serviceaccount", "default"]);
    let after = with_token(token);
    assert!(
        !after.status.success(),
        "a token of a deleted account still works"
    );
}

#[test]
fn authorization_without_always_allow_is_masters_only() {
    let dir = tempfile::tempdir().expect("temp dir");
    let tokens = dir.path().join("tokens.csv");
    std::fs::write(
        &tokens,
        "dev-token,dev,1001\nadmin-token,root,1,\"system:masters\"\n",
    )
    .expect("token file");
    let k = KeelsonUp::start(&["--token-auth-file", tokens.to_str().unwrap_or("")]);
    let out = k.kubectl(&["--token", "dev-token", "get", "configmaps"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Forbidden"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    k.ok(&["--token", "admin-token", "get", "configmaps"]);
}

#[test]
fn proxy_forwards_requests() {
    let k = KeelsonUp::start(&[]);
    let mut proxy = k
        .kubectl_command(&["proxy", "--port=0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("kubectl proxy");
    let stdout = proxy.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("proxy banner");
    let address = line.trim().rsplit(' ').next().unwrap_or("").to_string();
    assert!(line.contains("Starting to serve on"), "{line}");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let body = runtime.block_on(async {
        reqwest::get(format!("http://{address}/api/v1/namespaces/kube-system"))
            .await
            .expect("request through the proxy")
            .text()
            .await
            .expect("a body")
    });
    let body = json(&body);
    assert_eq!(body["metadata"]["name"], "kube-system");
    let _ = proxy.kill();
    let _ = proxy.wait();
}

#[test]
fn errors_are_upstreams_and_store_nothing() {
    let k = KeelsonUp::start(&[]);
    // Invalid YAML.
    let out = k.kubectl_stdin(
        &["create", "-f", "-"],
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bad\n",
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("yaml"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // An unknown field under Strict (kubectl's default).
    let out = k.kubectl_stdin(
        &["apply", "-f", "-"],
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: strict}\ndata: {a: b}\nbogus: 1\n",
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("strict decoding error") && err.contains("unknown field \"bogus\""),
        "{err}"
    );
    assert!(k
        .fails(&["get", "configmap", "strict"])
        .contains("NotFound"));
    // An immutable field changed.
    k.ok_stdin(&["create", "-f", "-"], "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: frozen}\nimmutable: true\ndata: {a: b}\n");
    let err = k.fails(&[
        "patch",
        "configmap",
        "frozen",
        "--type=merge",
        "-p",
        r#"{"data":{"a":"c"}}"#,
    ]);
    assert!(
        err.contains("is invalid") && err.contains("field is immutable"),
        "{err}"
    );
    assert_eq!(
        k.ok(&["get", "configmap", "frozen", "-o", "jsonpath={.data.a}"]),
        "b"
    );
    let err = k.fails(&["patch", "deployment", "nope", "-p", "{}"]);
    assert!(err.contains("NotFound"), "{err}");
    // A stale resourceVersion.
    k.ok(&["create", "configmap", "raced", "--from-literal=a=1"]);
    let stale = json(&k.ok(&["get", "configmap", "raced", "-o", "json"]));
    k.ok(&[
        "patch",
        "configmap",
        "raced",
        "--type=merge",
        "-p",
        r#"{"data":{"a":"2"}}"#,
    ]);
    let mut replaced = stale.clone();
    replaced["data"]["a"] = "3".into();
    let out = k.kubectl_stdin(&["replace", "-f", "-"], &replaced.to_string());
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Conflict") || err.contains("the object has been modified"),
        "{err}"
    );
    assert_eq!(
        k.ok(&["get", "configmap", "raced", "-o", "jsonpath={.data.a}"]),
        "2"
    );
    // Already exists.
    let err = k.fails(&["create", "configmap", "raced"]);
    assert!(err.contains("configmaps \"raced\" already exists"), "{err}");
    // Writes into a missing namespace.
    let err = k.fails(&["-n", "missing", "create", "configmap", "x"]);
    assert!(err.contains("namespaces \"missing\" not found"), "{err}");
}

#[test]
fn restart_keeps_objects_and_certificates() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let first = KeelsonUp::start_in(&data, &[]);
    first.ok(&["create", "configmap", "kept", "--from-literal=a=1"]);
    let ca = std::fs::read(data.join("apiserver-pki/ca/ca.crt")).expect("CA");
    drop(first);
    let second = KeelsonUp::start_in(&data, &[]);
    assert_eq!(
        second.ok(&["get", "configmap", "kept", "-o", "jsonpath={.data.a}"]),
        "1"
    );
    assert_eq!(
        std::fs::read(data.join("apiserver-pki/ca/ca.crt")).expect("CA"),
        ca
    );
}

#[test]
fn events_are_served_in_both_versions_and_expire() {
    let k = KeelsonUp::start(&["--event-ttl", "2s"]);
    k.ok_stdin(
        &["create", "-f", "-"],
        r#"
apiVersion: events.k8s.io/v1
kind: Event
metadata: {name: pulled.1, namespace: default}
eventTime: "2026-01-01T00:00:00.000000Z"
reportingController: kubelet
reportingInstance: node-1
action: Pull
reason: Pulled
note: Successfully pulled the image
type: Normal
regarding: {kind: Pod, name: web-1, namespace: default, uid: u-1}
"#,
    );
    // The core view of the same object.
    let core = json(&k.ok(&["get", "events.v1.", "pulled.1", "-o", "json"]));
    assert_eq!(core["apiVersion"], "v1");
    assert_eq!(core["message"], "Successfully pulled the image");
    assert_eq!(core["involvedObject"]["name"], "web-1");
    let new = json(&k.ok(&["get", "events.v1.events.k8s.io", "pulled.1", "-o", "json"]));
    assert_eq!(new["note"], "Successfully pulled the image");
    // describe finds events by the involved object.
    let listed = k.ok(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.name=web-1",
        "-o",
        "name",
    ]);
    assert!(listed.contains("pulled.1"), "{listed}");
    // --event-ttl: gone within the TTL plus one lease window.
    k.eventually(Duration::from_secs(30), "the event to expire", || {
        String::from_utf8_lossy(&k.kubectl(&["get", "events", "-o", "name"]).stdout)
            .trim()
            .is_empty()
    });
}

#[test]
fn horizontal_pod_autoscalers_are_served_in_v1_and_v2() {
    let k = KeelsonUp::start(&[]);
    k.ok_stdin(
        &["create", "-f", "-"],
        r#"
apiVersion: autoscaling/v1
kind: HorizontalPodAutoscaler
metadata: {name: web}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 1
  maxReplicas: 4
  targetCPUUtilizationPercentage: 70
"#,
    );
    let v2 = json(&k.ok(&[
        "get",
        "horizontalpodautoscalers.v2.autoscaling",
        "web",
        "-o",
        "json",
    ]));
    assert_eq!(
        v2["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"],
        70
    );
    let v1 = json(&k.ok(&[
        "get",
        "horizontalpodautoscalers.v1.autoscaling",
        "web",
        "-o",
        "json",
    ]));
    assert_eq!(v1["spec"]["targetCPUUtilizationPercentage"], 70);
}

#[test]
fn list_manifests_validate_against_openapi_v2() {
    let k = KeelsonUp::start(&[]);
    // kubectl validates a List item by item against the protobuf OpenAPI v2 document.
    let out = k.ok_stdin(&["apply", "-f", "-"], r#"
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: listed}
  data: {a: "1"}
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: listed}
  spec:
    selector: {matchLabels: {app: listed}}
    template:
      metadata: {labels: {app: listed}}
      spec:
        containers:
        - {name: c, image: nginx:1.25, ports: [{containerPort: 80}], resources: {limits: {cpu: 1, memory: 64Mi}}}
"#);
    assert!(
        out.contains("configmap/listed created") && out.contains("deployment.apps/listed created"),
        "{out}"
    );
    let out = k.kubectl_stdin(&["apply", "-f", "-"], "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: bad}\n  bogus: 1\n");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown field \"bogus\""), "{err}");
    assert!(k.fails(&["get", "configmap", "bad"]).contains("NotFound"));
}

#[test]
fn reviews_answer_and_store_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let tokens = dir.path().join("tokens.csv");
    std::fs::write(&tokens, "dev-token,dev,1001,\"devs\"\n").expect("token file");
    let k = KeelsonUp::start(&["--token-auth-file", tokens.to_str().unwrap_or("")]);
    let whoami = k.ok(&["auth", "whoami"]);
    assert!(
        whoami.contains("keelson-admin") && whoami.contains("system:masters"),
        "{whoami}"
    );
    let dev = k.ok(&["--token", "dev-token", "auth", "whoami"]);
    assert!(dev.contains("dev") && dev.contains("devs"), "{dev}");
    assert_eq!(k.ok(&["auth", "can-i", "create", "pods"]).trim(), "yes");
    let denied = k.kubectl(&["--token", "dev-token", "auth", "can-i", "create", "pods"]);
    assert!(!denied.status.success());
    assert!(String::from_utf8_lossy(&denied.stdout)
        .trim()
        .starts_with("no"));
    let review = json(&k.ok_stdin(&["create", "-o", "json", "-f", "-"], r#"{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{"token":"dev-token"}}"#));
    assert_eq!(review["status"]["authenticated"], true);
    assert_eq!(review["status"]["user"]["username"], "dev");
    let bad = json(&k.ok_stdin(
        &["create", "-o", "json", "-f", "-"],
        r#"{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{"token":"nope"}}"#,
    ));
    assert_eq!(bad["status"]["authenticated"], false);
    let sar = json(&k.ok_stdin(&["create", "-o", "json", "-f", "-"], r#"{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"user":"dev","resourceAttributes":{"verb":"get","resource":"pods"}}}"#));
    assert_eq!(sar["status"]["allowed"], false);
}
