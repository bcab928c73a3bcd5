//! The API server's certificates, made on first start and reused after: a CA, the serving
//! certificate, the admin's client certificate (`O=system:masters`), and the admin
//! kubeconfig with all of it embedded; and the service-account signing key's path.

use std::path::{Path, PathBuf};

use anyhow::Context;
use base64::Engine;
use keelson_storage::pki;

/// Where the API server's certificates live below the data dir.
pub struct ApiServerPki {
    pub ca_dir: PathBuf,
    pub serving_dir: PathBuf,
    pub admin_dir: PathBuf,
    /// The key that signs service-account tokens.
    pub service_account_key: PathBuf,
}

impl ApiServerPki {
    pub fn in_data_dir(data_dir: &Path) -> ApiServerPki {
        let base = data_dir.join("apiserver-pki");
        ApiServerPki {
            ca_dir: base.join("ca"),
            serving_dir: base.join("serving"),
            admin_dir: base.join("admin"),
            service_account_key: base.join("sa.key"),
        }
    }

    /// Uses a CA (and service-account key) shared by the servers of an HA cluster.
    pub fn use_shared_ca(&mut self, dir: &Path) {
        self.ca_dir = dir.to_path_buf();
        self.service_account_key = dir.join("sa.key");
    }

    /// Makes whatever is missing; what exists is kept.
    pub fn ensure(&self, extra_sans: &[String]) -> anyhow::Result<()> {
        if !self.ca_dir.join(pki::CA_KEY).exists() {
            pki::init_ca(&self.ca_dir, "keelson-ca")?;
        }
        if !self.serving_dir.join(pki::TLS_CERT).exists() {
            let mut sans = pki::default_sans();
            for name in [
                "kubernetes",
                "kubernetes.default",
                "kubernetes.default.svc",
                "kubernetes.default.svc.cluster.local",
            ] {
                sans.push(name.to_string());
            }
            sans.push(crate::strategy::first_service_ip());
            for extra in extra_sans {
                if !sans.contains(extra) {
                    sans.push(extra.clone());
                }
            }
            pki::issue(&self.ca_dir, &self.serving_dir, "keelson-apiserver", &sans)?;
        }
        if !self.admin_dir.join(pki::TLS_CERT).exists() {
            pki::issue_with_organization(
                &self.ca_dir,
                &self.admin_dir,
                "keelson-admin",
                Some("system:masters"),
                &[],
            )?;
        }
        Ok(())
    }

    /// Writes a kubeconfig for the admin that reaches the server at `server` (an https URL).
    pub fn write_admin_kubeconfig(&self, path: &Path, server: &str) -> anyhow::Result<()> {
        let b64 = |p: PathBuf| -> anyhow::Result<String> {
            let bytes =
                std::fs::read(&p).with_context(|| format!("cannot read {}", p.display()))?;
            Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
        };
        let kubeconfig = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: keelson\n  cluster:\n    server: {server}\n    certificate-authority-data: {}\nusers:\n- name: keelson-admin\n  user:\n    client-certificate-data: {}\n    client-key-data: {}\ncontexts:\n- name: keelson\n  context:\n    cluster: keelson\n    user: keelson-admin\n    namespace: default\ncurrent-context: keelson\n",
            b64(self.ca_dir.join(pki::CA_CERT))?,
            b64(self.admin_dir.join(pki::TLS_CERT))?,
            b64(self.admin_dir.join(pki::TLS_KEY))?,
        );
        // The file carries the admin's private key.
        let tmp = path.with_extension("tmp");
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options
            .open(&tmp)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        std::io::Write::write_all(&mut file, kubeconfig.as_bytes())?;
        std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
        Ok(())
    }
}
