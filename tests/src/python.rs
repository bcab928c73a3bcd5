//! The official Kubernetes Python client against `keelson up`: the scenario scripts of
//! `tests/python/` run by the venv python of `tests/tools/install-python-client.sh`, with
//! `KUBECONFIG` naming the admin kubeconfig the server wrote.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use crate::cluster::{install_tool, KeelsonUp};

/// The venv python that imports the `kubernetes` package, installed on first use.
pub fn python_bin() -> PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON
        .get_or_init(|| {
            install_tool(
                "install-python-client.sh",
                "the kubernetes Python client (pip must reach PyPI)",
            )
        })
        .clone()
}

/// `tests/python/SCRIPT`.
pub fn script_path(script: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("python")
        .join(script)
}

/// Runs `tests/python/SCRIPT` against `up` and returns what it did.
pub fn run_script(up: &KeelsonUp, script: &str) -> Output {
    let path = script_path(script);
    assert!(path.exists(), "no script at {}", path.display());
    Command::new(python_bin())
        .arg(&path)
        .env("KUBECONFIG", &up.kubeconfig)
        .env("HOME", up.data_dir.parent().unwrap_or(&up.data_dir))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONUNBUFFERED", "1")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", path.display()))
}

/// Runs `tests/python/SCRIPT` against a new `keelson up`, prints its output, and insists it
/// succeeds.
pub fn script_passes(script: &str) {
    let up = KeelsonUp::start(&[]);
    let out = run_script(&up, script);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{script}:\n{stdout}{stderr}");
    assert!(
        out.status.success(),
        "{script} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(
        stdout.lines().last() == Some("OK"),
        "{script} did not finish with OK:\n{stdout}"
    );
}
