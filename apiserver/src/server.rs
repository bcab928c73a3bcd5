//! The HTTPS listener (rustls; HTTP/1.1 and h2) and the in-process tower service.
//!
//! No client can hold the listener: the TLS handshake and every request's headers have a
//! deadline (which also closes HTTP/1.1 connections left idle), h2 connections whose peer
//! stops answering pings are closed, and connections beyond a limit wait in the backlog
//! instead of exhausting file descriptors. A connection the server closes first is drained
//! for a moment (a lingering close), so a client still sending an oversized request reads
//! the 431 or 413 the server wrote instead of a reset. On shutdown the listener stops
//! accepting, watches end cleanly and in-flight requests finish.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use http::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use crate::auth::User;
use crate::{handler, ApiServerState};

/// Deadlines and limits of the listener.
#[derive(Clone, Debug)]
pub struct ConnectionLimits {
    /// The TLS handshake must finish within this.
    pub handshake_timeout: Duration,
    /// A request's headers must arrive within this; an HTTP/1.1 connection idle for as long
    /// is closed.
    pub header_timeout: Duration,
    /// An h2 connection is pinged this often and closed when a ping goes unanswered as long.
    pub h2_keepalive: Duration,
    /// Connections served at once; more wait in the listen backlog.
    pub max_connections: usize,
    /// The largest request head (request line and headers); larger ones get 431.
    pub max_header_bytes: usize,
    /// How long a connection the server closes is drained of what the client still sends.
    pub linger: Duration,
    /// How long shutdown waits for in-flight requests.
    pub shutdown_grace: Duration,
    /// How long a client may take to send a request body (504 after).
    pub body_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> ConnectionLimits {
        ConnectionLimits {
            handshake_timeout: Duration::from_secs(10),
            header_timeout: Duration::from_secs(30),
            h2_keepalive: Duration::from_secs(30),
            max_connections: max_connections_for_open_files(),
            max_header_bytes: 1 << 20,
            linger: Duration::from_millis(500),
            shutdown_grace: Duration::from_secs(30),
            body_timeout: Duration::from_secs(60),
        }
    }
}

/// Connections the open-file limit allows, keeping room for the store and other files.
fn max_connections_for_open_files() -> usize {
    const RESERVED: u64 = 256;
    let soft = rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(1024, |(soft, _)| soft);
    usize::try_from(soft.saturating_sub(RESERVED).clamp(64, 65_536)).unwrap_or(64)
}

/// Raises the soft open-file limit to the hard limit, as a server that holds many
/// connections should; returns the new soft limit.
pub fn raise_open_file_limit() -> std::io::Result<u64> {
    rlimit::increase_nofile_limit(u64::MAX)
}

/// Accepts TLS connections until `shutdown` is cancelled, then waits (up to the grace
/// period) for in-flight requests. The client certificate, when there is one, identifies
/// the user of every request on the connection.
pub async fn serve_tls(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    state: Arc<ApiServerState>,
    limits: ConnectionLimits,
    shutdown: CancellationToken,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(limits.max_header_bytes);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(limits.h2_keepalive)
        .keep_alive_timeout(limits.h2_keepalive)
        .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX));
    let builder = Arc::new(builder);
    loop {
        let slot = tokio::select! {
            _ = shutdown.cancelled() => break,
            slot = slots.clone().acquire_owned() => slot,
        };
        let Ok(slot) = slot else { break };
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (tcp, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let state = state.clone();
        let builder = builder.clone();
        let watcher = graceful.watcher();
        let limits = limits.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let tls =
                match tokio::time::timeout(limits.handshake_timeout, acceptor.accept(tcp)).await {
                    Ok(Ok(tls)) => tls,
                    Ok(Err(e)) => {
                        tracing::debug!(%peer, "TLS handshake failed: {e}");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(%peer, "TLS handshake timed out");
                        return;
                    }
                };
            let user = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|certs| certs.first())
                .and_then(|cert| User::from_certificate(cert.as_ref()));
            let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                let state = state.clone();
                let user = user.clone();
                async move { Ok::<_, Infallible>(handler::handle(state, user, req).await) }
            });
            let io = TokioIo::new(Lingering::new(tls, limits.linger));
            let connection = watcher.watch(builder.serve_connection(io, service));
            if let Err(e) = connection.await {
                tracing::debug!(%peer, "connection ended: {e}");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(limits.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            "requests still in flight after {:?}; closing their connections",
            limits.shutdown_grace
        );
    }
}

/// A TLS stream that, when dropped, reads and discards what its client still sends for a
/// moment before the socket closes, so that the client reads the server's last answer.
struct Lingering {
    tls: Option<TlsStream<TcpStream>>,
    linger: Duration,
}

impl Lingering {
    fn new(tls: TlsStream<TcpStream>, linger: Duration) -> Lingering {
        Lingering {
            tls: Some(tls),
            linger,
        }
    }

    fn stream(&mut self) -> std::io::Result<Pin<&mut TlsStream<TcpStream>>> {
        self.tls
            .as_mut()
            .map(Pin::new)
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotConnected))
    }
}

impl AsyncRead for Lingering {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.stream() {
            Ok(s) => s.poll_read(cx, buf),
            Err(e) => Poll::Ready(Err(e)),
        }
    }
}

impl AsyncWrite for Lingering {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.stream() {
            Ok(s) => s.poll_write(cx, buf),
            Err(e) => Poll::Ready(Err(e)),
        }
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        match self.stream() {
            Ok(s) => s.poll_write_vectored(cx, bufs),
            Err(e) => Poll::Ready(Err(e)),
        }
    }
    fn is_write_vectored(&self) -> bool {
        self.tls.as_ref().is_some_and(|s| s.is_write_vectored())
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.stream() {
            Ok(s) => s.poll_flush(cx),
            Err(e) => Poll::Ready(Err(e)),
        }
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.stream() {
            Ok(s) => s.poll_shutdown(cx),
            Err(e) => Poll::Ready(Err(e)),
        }
    }
}

impl Drop for Lingering {
    fn drop(&mut self) {
        let Some(tls) = self.tls.take() else { return };
        let linger = self.linger;
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        runtime.spawn(async move {
            let (mut tcp, _) = tls.into_inner();
            let _ = tcp.shutdown().await;
            let mut sink = vec![0u8; 64 * 1024];
            let drain = async {
                let mut left: usize = 64 << 20;
                while left > 0 {
                    match tcp.read(&mut sink).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => left = left.saturating_sub(n),
                    }
                }
            };
            let _ = tokio::time::timeout(linger, drain).await;
        });
    }
}

/// The API server as a tower `Service`, for clients in the same process
/// (`kube::Client::new(service, "default")`). Requests act as a `system:masters` user.
#[derive(Clone)]
pub struct InProcessService {
    pub(crate) state: Arc<ApiServerState>,
}

impl<B> tower::Service<Request<B>> for InProcessService
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let state = self.state.clone();
        Box::pin(async move { Ok(handler::handle(state, Some(User::loopback()), req).await) })
    }
}
