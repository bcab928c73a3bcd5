//! Three `keelson server` processes form one cluster: kubectl against each sees the same
//! objects, and after SIGKILL of the leader's process kubectl against a survivor still works.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use keelson_tests::cluster::kubectl_bin;
use keelson_tests::{
    client, free_port, keelson_bin, keelson_ok, make_cluster_pki, wait_for_leader,
};

struct Server {
    child: Child,
    api: String,
    log: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn kubectl(kubeconfig: &Path, server: &str, args: &[&str]) -> std::process::Output {
    Command::new(kubectl_bin())
        .env("KUBECONFIG", kubeconfig)
        .args(["--server", server, "--request-timeout=10s"])
        .args(args)
        .output()
        .expect("kubectl")
}

fn kubectl_ok(kubeconfig: &Path, server: &str, args: &[&str]) -> String {
    let out = kubectl(kubeconfig, server, args);
    assert!(
        out.status.success(),
        "kubectl {args:?} against {server}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Three `keelson server` processes of one cluster, up; the temp dir, the servers, the
/// store's ports and the admin identity of the store.
async fn three_servers() -> (tempfile::TempDir, Vec<Server>, Vec<u16>, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().to_path_buf();
    let root = root.as_path();
    let admin = make_cluster_pki(root, &[1, 2, 3]);
    let api_ca = root.join("api-ca");
    keelson_ok(&[
        "store",
        "pki",
        "init-ca",
        "--dir",
        api_ca.to_str().unwrap_or(""),
        "--name",
        "keelson-ca",
    ]);
    let store_ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let peers: Vec<String> = store_ports
        .iter()
        .enumerate()
        .map(|(i, p)| format!("{}=127.0.0.1:{p}", i + 1))
        .collect();
    let peers = peers.join(",");
    let mut servers = Vec::new();
    // The servers listen on one port at three addresses, as an HA cluster's servers do
    // (the `kubernetes` Service's endpoints name one port).
    let api_port = free_port();
    for id in 1..=3u64 {
        let data = root.join(format!("m{id}"));
        let log = root.join(format!("server-{id}.log"));
        let api_ip = format!("127.0.0.{id}");
        let out = std::fs::File::create(&log).expect("log");
        let child = Command::new(keelson_bin())
            .args(["server", "--id", &id.to_string(), "--data-dir"])
            .arg(&data)
            .args([
                "--listen",
                &format!("127.0.0.1:{}", store_ports[(id - 1) as usize]),
                "--peers",
                &peers,
            ])
            .args(["--progress-interval-ms", "200", "--api-ca-dir"])
            .arg(&api_ca)
            .args([
                "--bind-address",
                &api_ip,
                "--secure-port",
                &api_port.to_string(),
            ])
            .stdout(out.try_clone().expect("log"))
            .stderr(out)
            .stdin(Stdio::null())
            .spawn()
            .expect("keelson server");
        servers.push(Server {
            child,
            api: format!("https://{api_ip}:{api_port}"),
            log,
        });
    }
    let deadline = Instant::now() + Duration::from_secs(90);
    for s in &servers {
        while !std::fs::read_to_string(&s.log)
            .unwrap_or_default()
            .contains("admin kubeconfig:")
        {
            assert!(
                Instant::now() < deadline,
                "a server did not come up:\n{}",
                std::fs::read_to_string(&s.log).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    (dir, servers, store_ports, admin)
}

#[tokio::test(flavor = "multi_thread")]
async fn three_servers_serve_the_same_objects_and_survive_the_leader() {
    let (dir, mut servers, store_ports, admin) = three_servers().await;
    let root = dir.path();
    // One kubeconfig (server 1's) works against every server: they share the API CA.
    let kubeconfig = root.join("m1/admin.kubeconfig");
    kubectl_ok(
        &kubeconfig,
        &servers[0].api,
        &["create", "configmap", "shared", "--from-literal=a=1"],
    );
    for s in &servers {
        assert_eq!(
            kubectl_ok(
                &kubeconfig,
                &s.api,
                &["get", "configmap", "shared", "-o", "jsonpath={.data.a}"]
            ),
            "1"
        );
        let ns = kubectl_ok(&kubeconfig, &s.api, &["get", "namespaces", "-o", "name"]);
        assert!(ns.contains("namespace/kube-system"), "{ns}");
    }
    // SIGKILL the leader's process; the survivors keep serving reads and writes.
    let endpoints: Vec<String> = store_ports
        .iter()
        .map(|p| format!("127.0.0.1:{p}"))
        .collect();
    let store = client(&endpoints, &admin);
    let leader = wait_for_leader(&store, Duration::from_secs(30)).await;
    let killed = (leader - 1) as usize;
    let _ = servers[killed].child.kill();
    let _ = servers[killed].child.wait();
    let survivors: Vec<&Server> = servers
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != killed)
        .map(|(_, s)| s)
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = kubectl(
            &kubeconfig,
            &survivors[0].api,
            &["create", "configmap", "after", "--from-literal=b=2"],
        );
        if out.status.success() {
            break;
        }
        let err = String::from_utf8_lossy(&out.stderr);
        // A write whose answer was lost in the failover may have landed.
        if err.contains("already exists") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no write succeeded after the leader died: {err}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    for s in &survivors {
        assert_eq!(
            kubectl_ok(
                &kubeconfig,
                &s.api,
                &["get", "configmap", "after", "-o", "jsonpath={.data.b}"]
            ),
            "2"
        );
        assert_eq!(
            kubectl_ok(
                &kubeconfig,
                &s.api,
                &["get", "configmap", "shared", "-o", "jsonpath={.data.a}"]
            ),
            "1"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_controller_lease_moves_to_a_survivor_when_its_holder_dies() {
    let (dir, mut servers, _, _) = three_servers().await;
    let kubeconfig = dir.path().join("m1/admin.kubeconfig");
    let holder = |api: &str| {
        let out = kubectl(
            &kubeconfig,
            api,
            &[
                "get",
                "lease",
                "-n",
                "kube-system",
                "kube-controller-manager",
                "-o",
                "jsonpath={.spec.holderIdentity}",
            ],
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let first = loop {
        let h = holder(&servers[0].api);
        if !h.is_empty() {
            break h;
        }
        assert!(
            Instant::now() < deadline,
            "no server took the controller lease"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    // Exactly one server leads: the one whose log says it took this identity.
    let leading: Vec<usize> = servers
        .iter()
        .enumerate()
        .filter(|(_, s)| {
            std::fs::read_to_string(&s.log)
                .unwrap_or_default()
                .contains(&first)
        })
        .map(|(i, _)| i)
        .collect();
    assert_eq!(leading.len(), 1, "{first}");
    let killed = leading[0];
    let _ = servers[killed].child.kill();
    let _ = servers[killed].child.wait();
    let survivor = servers
        .iter()
        .enumerate()
        .find(|(i, _)| *i != killed)
        .map(|(_, s)| s.api.clone())
        .unwrap_or_default();
    // Another takes it once the lease expires (15 s), and runs the controllers.
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let h = holder(&survivor);
        if !h.is_empty() && h != first {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the lease stayed with the dead server ({first})"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    kubectl_ok(
        &kubeconfig,
        &survivor,
        &[
            "create",
            "deployment",
            "after",
            "--image=nginx:1.27",
            "--replicas=2",
        ],
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let pods = kubectl(
            &kubeconfig,
            &survivor,
            &["get", "pods", "-l", "app=after", "-o", "name"],
        );
        if String::from_utf8_lossy(&pods.stdout).lines().count() == 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the new leader made no pods for the Deployment"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The addresses the `kubernetes` EndpointSlice lists, sorted.
fn kubernetes_endpoints(kubeconfig: &Path, server: &str) -> Vec<String> {
    let out = kubectl(
        kubeconfig,
        server,
        &[
            "get",
            "endpointslice",
            "kubernetes",
            "-o",
            "jsonpath={.endpoints[*].addresses[0]}",
        ],
    );
    let mut addresses: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect();
    addresses.sort();
    addresses
}

#[tokio::test(flavor = "multi_thread")]
async fn the_kubernetes_service_lists_the_servers_that_are_up() {
    let (dir, mut servers, _, _) = three_servers().await;
    let kubeconfig = dir.path().join("m1/admin.kubeconfig");
    let all = ["127.0.0.1", "127.0.0.2", "127.0.0.3"];
    let deadline = Instant::now() + Duration::from_secs(30);
    while kubernetes_endpoints(&kubeconfig, &servers[0].api) != all {
        assert!(
            Instant::now() < deadline,
            "the endpoints never listed all three servers: {:?}",
            kubernetes_endpoints(&kubeconfig, &servers[0].api)
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let endpoints = || {
        let out = kubectl(
            &kubeconfig,
            &servers[0].api,
            &[
                "get",
                "endpoints",
                "kubernetes",
                "-o",
                "jsonpath={.subsets[0].addresses[*].ip}",
            ],
        );
        let mut ips: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .map(str::to_string)
            .collect();
        ips.sort();
        ips
    };
    while endpoints() != all {
        assert!(
            Instant::now() < deadline,
            "the Endpoints never listed all three servers: {:?}",
            endpoints()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // A server killed drops out once its 15 s lease expires.
    let _ = servers[2].child.kill();
    let _ = servers[2].child.wait();
    let deadline = Instant::now() + Duration::from_secs(60);
    while kubernetes_endpoints(&kubeconfig, &servers[0].api) != all[..2] {
        assert!(
            Instant::now() < deadline,
            "the killed server stayed in the endpoints: {:?}",
            kubernetes_endpoints(&kubeconfig, &servers[0].api)
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
