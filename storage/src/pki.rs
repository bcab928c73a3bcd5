//! Certificates of a store cluster. One CA signs every member's certificate and every
//! client's; members accept a connection only with a certificate from that CA (mutual TLS).
//!
//! A CA dir holds `ca.crt` and `ca.key`. An identity dir (a member's or a client's) holds
//! `ca.crt` (the CA to trust), `tls.crt` and `tls.key`. The command sequence that builds the
//! dirs for a three-member cluster is in the README (`keelson store pki ...`).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use time::{Duration, OffsetDateTime};

pub const CA_CERT: &str = "ca.crt";
pub const CA_KEY: &str = "ca.key";
pub const TLS_CERT: &str = "tls.crt";
pub const TLS_KEY: &str = "tls.key";

fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()?;
    Ok(())
}

fn write_public(path: &Path, contents: &str) -> anyhow::Result<()> {
    fs::write(path, contents).with_context(|| format!("cannot write {}", path.display()))
}

fn read(path: &Path) -> anyhow::Result<String> {
    fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

/// Creates a new cluster CA in `dir`; refuses to replace an existing one.
pub fn init_ca(dir: &Path, name: &str) -> anyhow::Result<()> {
    if dir.join(CA_KEY).exists() {
        bail!(
            "{} already holds a CA; refusing to replace it",
            dir.display()
        );
    }
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::hours(1);
    params.not_after = now + Duration::days(3650);
    let cert = params.self_signed(&key)?;
    write_private(&dir.join(CA_KEY), &key.serialize_pem())?;
    write_public(&dir.join(CA_CERT), &cert.pem())?;
    Ok(())
}

/// Issues an identity signed by the CA in `ca_dir` into `out_dir`: `ca.crt`, `tls.crt`,
/// `tls.key`. The certificate serves and authenticates (server and client auth), for the
/// given names and IP addresses.
pub fn issue(
    ca_dir: &Path,
    out_dir: &Path,
    common_name: &str,
    sans: &[String],
) -> anyhow::Result<()> {
    issue_with_organization(ca_dir, out_dir, common_name, None, sans)
}

/// [`issue`] with an organization (`O=`) in the subject; Kubernetes reads it as a group.
pub fn issue_with_organization(
    ca_dir: &Path,
    out_dir: &Path,
    common_name: &str,
    organization: Option<&str>,
    sans: &[String],
) -> anyhow::Result<()> {
    if out_dir.join(TLS_KEY).exists() {
        bail!(
            "{} already holds an identity; refusing to replace it",
            out_dir.display()
        );
    }
    let ca_pem = read(&ca_dir.join(CA_CERT))?;
    let ca_key = KeyPair::from_pem(&read(&ca_dir.join(CA_KEY))?)
        .with_context(|| format!("{} is not a private key", ca_dir.join(CA_KEY).display()))?;
    let ca = CertificateParams::from_ca_cert_pem(&ca_pem)
        .with_context(|| format!("{} is not a CA certificate", ca_dir.join(CA_CERT).display()))?
        .self_signed(&ca_key)?;

    let key = KeyPair::generate()?;
    let mut params =
        CertificateParams::new(sans.to_vec()).context("invalid subject alternative name")?;
    params.distinguished_name = DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    if let Some(org) = organization {
        params
            .distinguished_name
            .push(DnType::OrganizationName, org);
    }
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::hours(1);
    params.not_after = now + Duration::days(1825);
    let cert = params.signed_by(&key, &ca, &ca_key)?;

    fs::create_dir_all(out_dir).with_context(|| format!("cannot create {}", out_dir.display()))?;
    write_public(&out_dir.join(CA_CERT), &ca_pem)?;
    write_public(&out_dir.join(TLS_CERT), &cert.pem())?;
    write_private(&out_dir.join(TLS_KEY), &key.serialize_pem())?;
    Ok(())
}

/// The names a member's certificate covers by default: loopback and this host's name.
pub fn default_sans() -> Vec<String> {
    let mut sans = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    if let Ok(host) = fs::read_to_string("/etc/hostname") {
        let host = host.trim();
        if !host.is_empty() && host != "localhost" {
            sans.push(host.to_string());
        }
    }
    sans
}

/// A loaded identity: the CA to trust and the certificate to present.
#[derive(Clone)]
pub struct TlsIdentity {
    pub dir: PathBuf,
    roots: Arc<RootCertStore>,
    certs: Vec<CertificateDer<'static>>,
    key: Arc<PrivateKeyDer<'static>>,
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl TlsIdentity {
    /// Loads `ca.crt`, `tls.crt` and `tls.key` from an identity dir.
    pub fn load(dir: &Path) -> anyhow::Result<TlsIdentity> {
        let pem_items = |file: &str| -> anyhow::Result<Vec<u8>> {
            let path = dir.join(file);
            fs::read(&path).with_context(|| {
                format!(
                    "cannot read {} (an identity dir holds {CA_CERT}, {TLS_CERT} and {TLS_KEY})",
                    path.display()
                )
            })
        };
        let mut roots = RootCertStore::empty();
        let ca = pem_items(CA_CERT)?;
        for cert in rustls_pemfile::certs(&mut ca.as_slice()) {
            let cert =
                cert.with_context(|| format!("{} is not PEM", dir.join(CA_CERT).display()))?;
            roots.add(cert).with_context(|| {
                format!(
                    "{} is not a usable CA certificate",
                    dir.join(CA_CERT).display()
                )
            })?;
        }
        if roots.is_empty() {
            bail!("{} holds no certificate", dir.join(CA_CERT).display());
        }
        let certs = rustls_pemfile::certs(&mut pem_items(TLS_CERT)?.as_slice())
            .collect::<Result<Vec<_>, _>>()
            .with_context(|| format!("{} is not PEM", dir.join(TLS_CERT).display()))?;
        if certs.is_empty() {
            bail!("{} holds no certificate", dir.join(TLS_CERT).display());
        }
        let key = rustls_pemfile::private_key(&mut pem_items(TLS_KEY)?.as_slice())
            .with_context(|| format!("{} is not PEM", dir.join(TLS_KEY).display()))?
            .with_context(|| format!("{} holds no private key", dir.join(TLS_KEY).display()))?;
        Ok(TlsIdentity {
            dir: dir.to_path_buf(),
            roots: Arc::new(roots),
            certs,
            key: Arc::new(key),
        })
    }

    /// TLS for a member's port: HTTP/2 or HTTP/1.1, and a client certificate from the CA required.
    pub fn server_config(&self) -> anyhow::Result<ServerConfig> {
        let verifier =
            WebPkiClientVerifier::builder_with_provider(self.roots.clone(), provider()).build()?;
        let mut config = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_client_cert_verifier(verifier)
            .with_single_cert(self.certs.clone(), self.key.clone_key())
            .context("the certificate and key in the identity dir do not match")?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(config)
    }

    /// TLS for an HTTPS front end: clients may present a certificate from the CA (it then
    /// identifies them) or none (they authenticate otherwise).
    pub fn server_config_client_cert_optional(&self) -> anyhow::Result<ServerConfig> {
        let verifier = WebPkiClientVerifier::builder_with_provider(self.roots.clone(), provider())
            .allow_unauthenticated()
            .build()?;
        let mut config = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_client_cert_verifier(verifier)
            .with_single_cert(self.certs.clone(), self.key.clone_key())
            .context("the certificate and key in the identity dir do not match")?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(config)
    }

    /// TLS for connecting to members: trust only the CA, present our certificate, speak HTTP/2.
    pub fn client_config(&self) -> anyhow::Result<ClientConfig> {
        let mut config = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_root_certificates(self.roots.clone())
            .with_client_auth_cert(self.certs.clone(), self.key.clone_key())
            .context("the certificate and key in the identity dir do not match")?;
        config.alpn_protocols = vec![b"h2".to_vec()];
        Ok(config)
    }
}
