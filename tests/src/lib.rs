//! End-to-end test support: run the real `keelson` binary as separate processes, make the
//! cluster's certificates with the same commands the README documents, check recorded
//! histories for linearizability, and drive real clients against `keelson up`: kubectl
//! ([`cluster`]), helm ([`helm`]) and the official Python client ([`python`]); read pods
//! and nodes of simulated nodes and run `keelson node` ([`simulated`]).
//!
//! The binary is the one cargo built next to the test executable (`tests/run.sh` builds it
//! first); set `KEELSON_BIN` to use another. A missing binary fails the test with a message
//! saying how to build it.

pub mod cluster;
pub mod helm;
pub mod https;
pub mod in_process;
pub mod linearizability;
pub mod python;
pub mod simulated;
pub mod workloads;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use keelson_storage::{pki::TlsIdentity, StoreClient};

/// The `keelson` binary under test.
pub fn keelson_bin() -> PathBuf {
    if let Ok(path) = std::env::var("KEELSON_BIN") {
        return PathBuf::from(path);
    }
    // target/<profile>/deps/<test-exe> -> target/<profile>/keelson
    let exe = std::env::current_exe().expect("the test executable's path");
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .map(|dir| dir.join("keelson"))
        .expect("a target dir");
    assert!(
        bin.exists(),
        "the keelson binary is not built at {}: run `cargo build --workspace --all-targets` first \
         (tests/run.sh does), or set KEELSON_BIN",
        bin.display()
    );
    bin
}

/// Runs `keelson ARGS` to completion.
pub fn keelson(args: &[&str]) -> Output {
    Command::new(keelson_bin())
        .args(args)
        .output()
        .expect("running keelson")
}

/// Runs `keelson ARGS` and insists it succeeds; returns its stdout.
pub fn keelson_ok(args: &[&str]) -> String {
    let out = keelson(args);
    assert!(
        out.status.success(),
        "keelson {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `keelson ARGS`, insists it fails without panicking; returns its stderr.
pub fn keelson_fails(args: &[&str]) -> String {
    let out = keelson(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "keelson {args:?} succeeded");
    assert!(
        !stderr.contains("panicked"),
        "keelson {args:?} panicked: {stderr}"
    );
    stderr
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("a free port")
        .local_addr()
        .expect("its address")
        .port()
}

/// The README's sequence for a cluster's certificates: one CA, an identity per member, and
/// an admin identity for the CLI. Returns the admin identity dir.
pub fn make_cluster_pki(root: &Path, members: &[u64]) -> PathBuf {
    let ca = root.join("ca");
    keelson_ok(&["store", "pki", "init-ca", "--dir", ca.to_str().unwrap()]);
    let issue = |out: &Path, name: &str, extra: &[&str]| {
        let mut args = vec!["store", "pki", "issue", "--ca-dir", ca.to_str().unwrap()];
        args.extend(["--out", out.to_str().unwrap(), "--name", name]);
        args.extend(extra);
        keelson_ok(&args);
    };
    for id in members {
        issue(
            &root.join(format!("m{id}")).join("pki"),
            &format!("member-{id}"),
            &["--san", "127.0.0.1"],
        );
    }
    let admin = root.join("admin");
    issue(&admin, "admin", &[]);
    admin
}

/// One `keelson store serve` process.
pub struct MemberProcess {
    pub id: u64,
    pub data_dir: PathBuf,
    pub address: String,
    args: Vec<String>,
    child: Option<Child>,
    pub log: PathBuf,
}

impl MemberProcess {
    /// A member of a cluster whose identity dir is `<data_dir>/pki`.
    pub fn new(
        id: u64,
        data_dir: PathBuf,
        address: String,
        peers: &str,
        extra: &[&str],
    ) -> MemberProcess {
        let mut args: Vec<String> = vec![
            "store".into(),
            "serve".into(),
            "--id".into(),
            id.to_string(),
            "--data-dir".into(),
            data_dir.to_string_lossy().into_owned(),
            "--listen".into(),
            address.clone(),
            "--progress-interval-ms".into(),
            "200".into(),
        ];
        if !peers.is_empty() {
            args.extend(["--peers".to_string(), peers.to_string()]);
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        let log = data_dir.with_extension("log");
        MemberProcess {
            id,
            data_dir,
            address,
            args,
            child: None,
            log,
        }
    }

    pub fn start(&mut self) {
        assert!(
            self.child.is_none(),
            "member {} is already running",
            self.id
        );
        std::fs::create_dir_all(&self.data_dir).expect("data dir");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log file");
        let child = Command::new(keelson_bin())
            .args(&self.args)
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .expect("starting keelson store serve");
        self.child = Some(child);
    }

    /// SIGKILL: no chance to flush or say goodbye.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL");
            child.wait().expect("reaping");
        }
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for MemberProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn client(endpoints: &[String], identity_dir: &Path) -> StoreClient {
    let identity = TlsIdentity::load(identity_dir).expect("identity");
    StoreClient::new(endpoints.to_vec(), &identity).expect("client")
}

/// Starts a single-member store in `data_dir` on a free port and waits until it leads. On
/// its first start it makes its own CA and identity in `<data_dir>/pki`.
pub async fn start_single_member(data_dir: &Path) -> (MemberProcess, StoreClient) {
    let address = format!("127.0.0.1:{}", free_port());
    let mut member = MemberProcess::new(1, data_dir.to_path_buf(), address.clone(), "", &[]);
    member.start();
    let identity = data_dir.join("pki");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !identity.join("tls.key").exists() {
        assert!(
            Instant::now() < deadline,
            "the member made no identity: {}",
            member.log_text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let store = client(&[address], &identity);
    wait_for_leader(&store, Duration::from_secs(20)).await;
    (member, store)
}

/// Waits until the members at `endpoints` agree on a leader; returns its id.
pub async fn wait_for_leader(client: &StoreClient, within: Duration) -> u64 {
    let deadline = Instant::now() + within;
    loop {
        if let Ok(status) = client.status().await {
            if let Some(leader) = status.leader {
                return leader;
            }
        }
        assert!(Instant::now() < deadline, "no leader within {within:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
