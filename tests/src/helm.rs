//! The real helm 4 (installed next to kubectl by `tests/tools/install-kubectl.sh`) against
//! `keelson up`, with its own HOME and XDG dirs so no user configuration leaks in, and the
//! local charts of `tests/fixtures/`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::cluster::{kubectl_bin, KeelsonUp};

/// The real helm, next to kubectl.
pub fn helm_bin() -> PathBuf {
    let helm = kubectl_bin().with_file_name("helm");
    assert!(
        helm.exists(),
        "helm is missing at {}: tests/tools/install-kubectl.sh installs it",
        helm.display()
    );
    helm
}

/// `tests/fixtures/NAME`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

/// helm pointed at one `keelson up`.
pub struct Helm<'a> {
    up: &'a KeelsonUp,
    home: tempfile::TempDir,
}

impl<'a> Helm<'a> {
    pub fn new(up: &'a KeelsonUp) -> Helm<'a> {
        Helm {
            up,
            home: tempfile::tempdir().expect("a temp dir for helm's HOME"),
        }
    }

    /// A helm command against the server, with HOME and the XDG dirs in a temp dir.
    pub fn command(&self, args: &[&str]) -> Command {
        let home = self.home.path();
        let mut cmd = Command::new(helm_bin());
        cmd.env("KUBECONFIG", &self.up.kubeconfig)
            .env("HOME", home)
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env("XDG_CACHE_HOME", home.join("cache"))
            .env("XDG_DATA_HOME", home.join("data"))
            .args(args);
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("running helm")
    }

    /// Runs helm, prints its output, insists it succeeds; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr);
        println!("helm {}:\n{stdout}{stderr}", args.join(" "));
        assert!(
            out.status.success(),
            "helm {args:?} failed ({}):\n{stdout}{stderr}",
            out.status
        );
        stdout
    }
}
