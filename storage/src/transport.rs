//! The wire between members and clients: HTTP/2 over mutual TLS, bincode bodies.
//! Every call is a `POST` whose response body is a bincode `Result<T, StoreError>`; a body
//! the server cannot decode is answered `400` with a plain-text reason.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::header::CONTENT_TYPE as CONTENT_TYPE_HEADER;
use http::uri::Authority;
use http::{Request, Response, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http2::{self, SendRequest};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use rustls::pki_types::ServerName;
use serde::{de::DeserializeOwned, Serialize};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_rustls::TlsConnector;

use crate::coalesce::CoalescingIo;
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

/// Calls are spread over this many HTTP/2 connections per member: one connection is served
/// by one task on each side, so a single one caps a busy client at one core.
const CONNECTIONS: usize = 4;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const KEEPALIVE: Duration = Duration::from_secs(5);

/// One connection: where calls are sent, and why it ended once it has.
#[derive(Clone)]
struct Connection {
    sender: SendRequest<Full<Bytes>>,
    ended: watch::Receiver<Option<String>>,
}

impl Connection {
    /// Why the connection ended (a refused certificate, say), waiting briefly for its task
    /// to report it; `None` if it has not ended.
    async fn end_reason(&mut self) -> Option<String> {
        let ended =
            tokio::time::timeout(Duration::from_secs(1), self.ended.wait_for(Option::is_some));
        match ended.await {
            Ok(Ok(reason)) => reason.clone(),
            _ => None,
        }
    }
}

/// An error and its causes in one line, with a hint when TLS refused the peer.
fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    let lower = text.to_lowercase();
    if lower.contains("certificate") || lower.contains("alert") || lower.contains("tls") {
        format!("TLS handshake failed ({text}); is the identity dir's ca.crt this cluster's CA, and was its certificate issued by it?")
    } else {
        text
    }
}

/// A client of members' ports: HTTP/2 over mutual TLS on connections it keeps per member,
/// with writes coalesced like the server's.
#[derive(Clone)]
pub struct HttpClient {
    inner: Arc<Inner>,
}

struct Inner {
    tls: TlsConnector,
    members: Mutex<HashMap<String, Arc<MemberConnections>>>,
    next: AtomicUsize,
}

/// Where a member is, and the connections to it.
struct MemberConnections {
    authority: Authority,
    server_name: ServerName<'static>,
    slots: Vec<Slot>,
}

#[derive(Default)]
struct Slot {
    connection: Mutex<Option<Connection>>,
    /// Held while connecting, so that concurrent calls wait for one new connection.
    connecting: tokio::sync::Mutex<()>,
}

impl HttpClient {
    pub fn new(identity: &TlsIdentity) -> anyhow::Result<HttpClient> {
        Ok(HttpClient {
            inner: Arc::new(Inner {
                tls: TlsConnector::from(Arc::new(identity.client_config()?)),
                members: Mutex::default(),
                next: AtomicUsize::default(),
            }),
        })
    }

    fn member(&self, endpoint: &str) -> Result<Arc<MemberConnections>, TransportError> {
        let mut members = self.inner.members.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(m) = members.get(endpoint) {
            return Ok(m.clone());
        }
        let unreachable = |reason: String| TransportError::Unreachable {
            endpoint: endpoint.to_string(),
            reason,
        };
        let url = endpoint_url(endpoint);
        let authority: Authority = url
            .trim_start_matches("https://")
            .parse()
            .map_err(|e| unreachable(format!("not a host:port address: {e}")))?;
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        let server_name = ServerName::try_from(host.to_string())
            .map_err(|e| unreachable(format!("not a host name or address: {e}")))?;
        let m = Arc::new(MemberConnections {
            authority,
            server_name,
            slots: (0..CONNECTIONS).map(|_| Slot::default()).collect(),
        });
        members.insert(endpoint.to_string(), m.clone());
        Ok(m)
    }

    /// A live connection to the member, made if the slot has none.
    async fn connection(
        &self,
        endpoint: &str,
        member: &MemberConnections,
        slot: &Slot,
    ) -> Result<Connection, TransportError> {
        let live = |slot: &Slot| {
            slot.connection
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .as_ref()
                .filter(|c| !c.sender.is_closed())
                .cloned()
        };
        if let Some(sender) = live(slot) {
            return Ok(sender);
        }
        let _connecting = slot.connecting.lock().await;
        if let Some(sender) = live(slot) {
            return Ok(sender);
        }
        let connection =
            self.connect(member)
                .await
                .map_err(|reason| TransportError::Unreachable {
                    endpoint: endpoint.to_string(),
                    reason,
                })?;
        *slot.connection.lock().unwrap_or_else(|p| p.into_inner()) = Some(connection.clone());
        Ok(connection)
    }

    async fn connect(&self, member: &MemberConnections) -> Result<Connection, String> {
        let address = member.authority.as_str();
        let tcp = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(address))
            .await
            .map_err(|_| format!("no connection within {CONNECT_TIMEOUT:?}"))?
            .map_err(|e| e.to_string())?;
        let _ = tcp.set_nodelay(true);
        let handshake = self
            .inner
            .tls
            .connect(member.server_name.clone(), CoalescingIo::new(tcp));
        let mut tls = tokio::time::timeout(CONNECT_TIMEOUT, handshake)
            .await
            .map_err(|_| format!("no TLS handshake within {CONNECT_TIMEOUT:?}"))?
            .map_err(|e| describe(&e))?;
        tls.get_mut().0.enable();
        let (sender, connection) = http2::Builder::new(TokioExecutor::new())
            .timer(TokioTimer::new())
            .keep_alive_interval(KEEPALIVE)
            .keep_alive_while_idle(true)
            .handshake(TokioIo::new(tls))
            .await
            .map_err(|e| format!("HTTP/2 handshake failed: {}", describe(&e)))?;
        let (end, ended) = watch::channel(None);
        tokio::spawn(async move {
            let reason = match connection.await {
                Ok(()) => "closed by the member".to_string(),
                Err(e) => describe(&e),
            };
            tracing::debug!("connection to a store member ended: {reason}");
            end.send_replace(Some(reason));
        });
        Ok(Connection { sender, ended })
    }

    async fn send<Req: Serialize + ?Sized>(
        &self,
        endpoint: &str,
        path: &str,
        req: &Req,
    ) -> Result<Response<Incoming>, TransportError> {
        let failed = |reason: String| TransportError::Failed {
            endpoint: endpoint.to_string(),
            reason,
        };
        let member = self.member(endpoint)?;
        let index = self.inner.next.fetch_add(1, Ordering::Relaxed) % member.slots.len();
        let slot = member
            .slots
            .get(index)
            .ok_or_else(|| failed("no connection slot".into()))?;
        let uri = Uri::builder()
            .scheme("https")
            .authority(member.authority.clone())
            .path_and_query(path)
            .build()
            .map_err(|e| failed(format!("bad request path {path:?}: {e}")))?;
        let request = Request::post(uri)
            .header(CONTENT_TYPE_HEADER, CONTENT_TYPE)
            .body(Full::new(Bytes::from(encode(req))))
            .map_err(|e| failed(e.to_string()))?;
        let mut connection = self.connection(endpoint, &member, slot).await?;
        let resp = match connection.sender.try_send_request(request).await {
            Ok(resp) => resp,
            // A closed connection is replaced on the next call (`live` skips it).
            Err(mut e) => {
                let reason = match connection.end_reason().await {
                    Some(ended) => format!("the connection ended: {ended}"),
                    None => describe(e.error()),
                };
                return Err(if e.take_message().is_some() {
                    // Returned unsent: the connection had closed.
                    TransportError::Unreachable {
                        endpoint: endpoint.to_string(),
                        reason,
                    }
                } else {
                    failed(reason)
                });
            }
        };
        if !resp.status().is_success() {
            let status = resp.status();
            let body = resp.into_body().collect().await.map(|b| b.to_bytes());
            let text = body
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            return Err(failed(format!("{status}: {text}")));
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
        let failed = |reason: String| TransportError::Failed {
            endpoint: endpoint.to_string(),
            reason,
        };
        let exchange = async {
            let resp = self.send(endpoint, path, req).await?;
            resp.into_body()
                .collect()
                .await
                .map(|b| b.to_bytes())
                .map_err(|e| failed(describe(&e)))
        };
        let bytes = match timeout {
            Some(t) => tokio::time::timeout(t, exchange)
                .await
                .map_err(|_| failed(format!("no answer within {t:?}")))??,
            None => exchange.await?,
        };
        decode(&bytes).map_err(|e| failed(format!("undecodable answer: {e}")))
    }

    /// A request answered by a stream of length-prefixed frames.
    pub async fn stream<Req: Serialize + ?Sized>(
        &self,
        endpoint: &str,
        path: &str,
        req: &Req,
    ) -> Result<Response<Incoming>, TransportError> {
        self.send(endpoint, path, req).await
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
    let header: [u8; 4] = buf.get(..4)?.try_into().ok()?;
    let end = usize::try_from(u32::from_be_bytes(header))
        .ok()?
        .checked_add(4)?;
    let payload = buf.get(4..end)?.to_vec();
    buf.drain(..end);
    Some(payload)
}
