//! Raw HTTPS requests to an API server with its admin (or no) client certificate, for tests
//! that need exact requests (paths, query strings, headers, bodies) and exact answers, and
//! raw TLS connections for tests of the listener itself.

use std::path::Path;
use std::sync::Arc;

use serde_json::Value;
use tokio::net::TcpStream;

/// A reqwest client pair for one server: as the admin, and anonymous.
pub struct Https {
    pub client: reqwest::Client,
    pub anonymous: reqwest::Client,
    /// `https://127.0.0.1:PORT`
    pub base: String,
    pki: std::path::PathBuf,
}

impl Https {
    /// Clients for the server at `base` whose data dir is `data_dir`.
    pub fn new(data_dir: &Path, base: &str) -> Https {
        let pki = data_dir.join("apiserver-pki");
        let ca = reqwest::Certificate::from_pem(&std::fs::read(pki.join("ca/ca.crt")).expect("CA"))
            .expect("CA PEM");
        let mut identity = std::fs::read(pki.join("admin/tls.crt")).expect("admin cert");
        identity.extend(std::fs::read(pki.join("admin/tls.key")).expect("admin key"));
        let client = reqwest::Client::builder()
            .add_root_certificate(ca.clone())
            .identity(reqwest::Identity::from_pem(&identity).expect("identity"))
            .build()
            .expect("client");
        let anonymous = reqwest::Client::builder()
            .add_root_certificate(ca)
            .build()
            .expect("client");
        Https {
            client,
            anonymous,
            base: base.to_string(),
            pki,
        }
    }

    /// A request as the admin; the answer's code and body (JSON, or the text as a string).
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> (u16, Value) {
        let request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .header("Content-Type", content_type)
            .body(body);
        let response = request.send().await.expect("a response");
        answer(response).await
    }

    /// A request as the admin with extra headers; the whole response.
    pub async fn send_with(
        &self,
        method: reqwest::Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> reqwest::Response {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .body(body);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        request.send().await.expect("a response")
    }

    /// Waits (at most 30 s) until a GET of `path` succeeds, such as an object a controller
    /// makes soon after the start.
    pub async fn wait_for(&self, path: &str) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while self.send(reqwest::Method::GET, path, "", vec![]).await.0 != 200 {
            assert!(
                std::time::Instant::now() < deadline,
                "{path} did not appear"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    /// A raw TLS connection (HTTP/1.1 only) to the server as the admin, trusting its CA.
    pub async fn raw_tls(&self) -> tokio_rustls::client::TlsStream<TcpStream> {
        let mut roots = rustls::RootCertStore::empty();
        let pem = std::fs::read(self.pki.join("ca/ca.crt")).expect("CA");
        for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
            roots.add(cert.expect("a CA certificate")).expect("a root");
        }
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_client_auth_cert(
            rustls_pemfile::certs(
                &mut std::fs::read(self.pki.join("admin/tls.crt"))
                    .expect("admin cert")
                    .as_slice(),
            )
            .collect::<Result<Vec<_>, _>>()
            .expect("admin cert PEM"),
            rustls_pemfile::private_key(
                &mut std::fs::read(self.pki.join("admin/tls.key"))
                    .expect("admin key")
                    .as_slice(),
            )
            .expect("admin key PEM")
            .expect("a key"),
        )
        .expect("the admin identity");
        let address = self.base.trim_start_matches("https://");
        let tcp = TcpStream::connect(address).await.expect("connect");
        let name = rustls::pki_types::ServerName::try_from("127.0.0.1").expect("a name");
        tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .expect("a TLS handshake")
    }
}

/// The code and body of a response (JSON, or the text as a JSON string).
pub async fn answer(response: reqwest::Response) -> (u16, Value) {
    let code = response.status().as_u16();
    let text = response.text().await.expect("a body");
    (
        code,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Checks a Status answer's code and reason.
pub fn assert_status(answer: &(u16, Value), code: u16, reason: &str) {
    let (got, body) = answer;
    assert_eq!(*got, code, "{body}");
    assert_eq!(body["kind"], "Status", "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["reason"], reason, "{body}");
}
