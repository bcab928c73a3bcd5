//! The wire between members and clients: HTTP/2 over mutual TLS, bincode bodies.
//! Every call is a `POST` whose response body is a bincode `Result<T, StoreError>`; a body
//! the server cannot decode is answered `400` with a plain-text reason.

use std::error::Error as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::{de::DeserializeOwned, Serialize};

use crate::codec::{decode, encode};
use crate::pki::TlsIdentity;
use crate::types::StoreError;

pub const CONTENT_TYPE: &str = "application/x-keelson-bincode";

/// Why a call did not produce an answer.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The request never reached the member (so it certainly had no effect).
    #[error("cannot reach the store member at {endpoint}: {reason}")]
    Unreachable { endpoint: String, reason: String },
    /// The request may or may not have been processed.
    #[error("call to {endpoint} failed: {reason}")]
    Failed { endpoint: String, reason: String },
}

impl From<TransportError> for StoreError {
    fn from(e: TransportError) -> StoreError {
        match e {
            TransportError::Unreachable { .. } => StoreError::Unreachable(e.to_string()),
            TransportError::Failed { .. } => StoreError::Unavailable(e.to_string()),
        }
    }
}

/// Normalises `host:port` or `https://host:port` to a base URL.
pub fn endpoint_url(endpoint: &str) -> String {
    let trimmed = endpoint.trim().trim_end_matches('/');
    if trimmed.starts_with("https://") {
        trimmed.to_string()
    } else {
        format!("https://{}", trimmed.trim_start_matches("http://"))
    }
}

/// Every cause in an error chain, so a TLS failure says what rustls said.
fn describe(e: &reqwest::Error) -> String {
    let mut text = String::new();
    let mut source: Option<&dyn std::error::Error> = e.source();
    while let Some(s) = source {
        text = s.to_string();
        source = s.source();
    }
    let lower = text.to_lowercase();
    if lower.contains("certificate")
        || lower.contains("handshake")
        || lower.contains("tls")
        || lower.contains("alert")
    {
        format!("TLS handshake failed ({text}); is the identity dir's ca.crt this cluster's CA, and was its certificate issued by it?")
    } else if text.is_empty() {
        e.to_string()
    } else {
        text
    }
}

/// Calls are spread over this many HTTP/2 connections per member: one connection is served
/// by one task on each side, so a single one caps a busy client at one core.
const CONNECTIONS: usize = 4;

#[derive(Clone)]
pub struct HttpClient {
    pool: Arc<Vec<reqwest::Client>>,
    next: Arc<AtomicUsize>,
}

impl HttpClient {
    pub fn new(identity: &TlsIdentity) -> anyhow::Result<HttpClient> {
        let tls = identity.client_config()?;
        let pool = (0..CONNECTIONS)
            .map(|_| {
                reqwest::Client::builder()
                    .use_preconfigured_tls(tls.clone())
                    .http2_prior_knowledge()
                    .connect_timeout(Duration::from_secs(3))
                    .http2_keep_alive_interval(Duration::from_secs(5))
                    .http2_keep_alive_while_idle(true)
                    .tcp_nodelay(true)
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(HttpClient {
            pool: Arc::new(pool),
            next: Arc::default(),
        })
    }

    fn http(&self) -> &reqwest::Client {
        &self.pool[self.next.fetch_add(1, Ordering::Relaxed) % self.pool.len()]
    }

    async fn send<Req: Serialize + ?Sized>(
        &self,
        endpoint: &str,
        path: &str,
        req: &Req,
        timeout: Option<Duration>,
    ) -> Result<reqwest::Response, TransportError> {
        let url = format!("{}{}", endpoint_url(endpoint), path);
        let mut builder = self
            .http()
            .post(&url)
            .header("content-type", CONTENT_TYPE)
            .body(encode(req));
        if let Some(t) = timeout {
            builder = builder.timeout(t);
        }
        let resp = builder.send().await.map_err(|e| {
            let reason = describe(&e);
            if e.is_connect() {
                TransportError::Unreachable {
                    endpoint: endpoint.to_string(),
                    reason,
                }
            } else {
                TransportError::Failed {
                    endpoint: endpoint.to_string(),
                    reason,
                }
            }
        })?;
        if !resp.status().is_success() {
            let status = resp.status();
            let text = resp.text().await.unwrap_or_default();
            return Err(TransportError::Failed {
                endpoint: endpoint.to_string(),
                reason: format!("{status}: {text}"),
            });
        }
        Ok(resp)
    }

    /// One request, one answer.
    pub async fn call<Req: Serialize + ?Sized, Resp: DeserializeOwned>(
        &self,
        endpoint: &str,
        path: &str,
        req: &Req,
        timeout: Option<Duration>,
    ) -> Result<Resp, TransportError> {
        let resp = self.send(endpoint, path, req, timeout).await?;
        let failed = |reason: String| TransportError::Failed {
            endpoint: endpoint.to_string(),
            reason,
        };
        let bytes = resp.bytes().await.map_err(|e| failed(describe(&e)))?;
        decode(&bytes).map_err(|e| failed(format!("undecodable answer: {e}")))
    }

    /// A request answered by a stream of length-prefixed frames.
    pub async fn stream<Req: Serialize + ?Sized>(
        &self,
        endpoint: &str,
        path: &str,
        req: &Req,
    ) -> Result<reqwest::Response, TransportError> {
        self.send(endpoint, path, req, None).await
    }
}

/// Frames of a streamed answer: a 4-byte big-endian length, then that many bytes.
pub fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 4);
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// Splits complete frames off the front of `buf`.
pub fn take_frame(buf: &mut Vec<u8>) -> Option<Vec<u8>> {
    if buf.len() < 4 {
        return None;
    }
    let len = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
    if buf.len() < 4 + len {
        return None;
    }
    let payload = buf[4..4 + len].to_vec();
    buf.drain(..4 + len);
    Some(payload)
}
