//! A member's port: mutual TLS (a client certificate from the cluster CA is required), then
//! HTTP/2 (or HTTP/1.1) routes for Raft's RPCs, requests forwarded by other members, and the
//! client API. A body that does not decode is answered `400` and changes nothing.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{post, MethodRouter};
use axum::Router;
use futures::StreamExt;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use serde::{de::DeserializeOwned, Serialize};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::coalesce::CoalescingIo;
use crate::codec::{decode, encode};
use crate::member::{Member, LEADER_KEEPALIVE_PATH, LEADER_RANGE_PATH, PROPOSE_PATH};
use crate::network::{APPEND_PATH, SNAPSHOT_PATH, VOTE_PATH};
use crate::transport::{frame, CONTENT_TYPE};
use crate::types::*;

/// Client API paths.
pub mod paths {
    pub const TXN: &str = "/v1/txn";
    pub const RANGE: &str = "/v1/range";
    pub const WATCH: &str = "/v1/watch";
    pub const COMPACT: &str = "/v1/compact";
    pub const LEASE_GRANT: &str = "/v1/lease/grant";
    pub const LEASE_REVOKE: &str = "/v1/lease/revoke";
    pub const LEASE_KEEPALIVE: &str = "/v1/lease/keepalive";
    pub const STATUS: &str = "/v1/status";
}

const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) async fn serve(listener: TcpListener, tls: Arc<rustls::ServerConfig>, member: Member) {
    let acceptor = TlsAcceptor::from(tls);
    let app = router(member);
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(conn) => conn,
            Err(e) => {
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let app = app.clone();
        tokio::spawn(async move {
            let tcp = CoalescingIo::new(tcp);
            let mut tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await
            {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => {
                    tracing::info!("refused a TLS connection from {peer}: {e}");
                    return;
                }
                Err(_) => return,
            };
            tls.get_mut().0.enable();
            let service = TowerToHyperService::new(app);
            if let Err(e) = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(tls), service)
                .await
            {
                tracing::debug!("connection from {peer} ended: {e}");
            }
        });
    }
}

fn router(member: Member) -> Router {
    Router::new()
        .route(
            APPEND_PATH,
            rpc_route(|m, req| async move { m.raft().append_entries(req).await }),
        )
        .route(
            VOTE_PATH,
            rpc_route(|m, req| async move { m.raft().vote(req).await }),
        )
        .route(
            SNAPSHOT_PATH,
            rpc_route(|m, req| async move { m.raft().install_snapshot(req).await }),
        )
        .route(
            PROPOSE_PATH,
            rpc_route(|m, cmd| async move { m.leader_propose(cmd).await }),
        )
        .route(
            LEADER_RANGE_PATH,
            rpc_route(|m, req| async move { m.leader_range(req).await }),
        )
        .route(
            LEADER_KEEPALIVE_PATH,
            rpc_route(|m, id| async move { m.leader_keepalive(id) }),
        )
        .route(
            paths::TXN,
            rpc_route(|m, req| async move { m.txn(req).await }),
        )
        .route(
            paths::RANGE,
            rpc_route(|m, req| async move { m.range(req).await }),
        )
        .route(
            paths::COMPACT,
            rpc_route(|m, rev| async move { m.compact(rev).await }),
        )
        .route(
            paths::LEASE_GRANT,
            rpc_route(|m, ttl| async move { m.lease_grant(ttl).await }),
        )
        .route(
            paths::LEASE_REVOKE,
            rpc_route(|m, id| async move { m.lease_revoke(id).await }),
        )
        .route(
            paths::LEASE_KEEPALIVE,
            rpc_route(|m, id| async move { m.lease_keepalive(id).await }),
        )
        .route(
            paths::STATUS,
            rpc_route(|m, ()| async move { Ok::<_, StoreError>(m.status()) }),
        )
        .route(paths::WATCH, post(watch))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(member)
}

/// A POST route whose bincode body is decoded, handed with the member to `handler`, and
/// whose answer is encoded back.
fn rpc_route<Req, Resp, F, Fut>(handler: F) -> MethodRouter<Member>
where
    Req: DeserializeOwned + Send + 'static,
    Resp: Serialize + Send + 'static,
    F: Fn(Member, Req) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Resp> + Send + 'static,
{
    post(move |State(member): State<Member>, body: Bytes| {
        let handler = handler.clone();
        async move { rpc(body, move |req| handler(member, req)).await }
    })
}

/// Decodes the request, runs it, encodes its answer.
async fn rpc<Req, Resp, F, Fut>(body: Bytes, handler: F) -> Response
where
    Req: DeserializeOwned,
    Resp: Serialize,
    F: FnOnce(Req) -> Fut,
    Fut: Future<Output = Resp>,
{
    match decode::<Req>(&body) {
        Ok(req) => {
            let answer = handler(req).await;
            ([("content-type", CONTENT_TYPE)], encode(&answer)).into_response()
        }
        Err(e) => (
            StatusCode::BAD_REQUEST,
            format!("malformed request body: {e}"),
        )
            .into_response(),
    }
}

/// A watch answers with a stream of frames, each a bincode `Result<WatchMessage, StoreError>`.
async fn watch(State(member): State<Member>, body: Bytes) -> Response {
    let req: WatchRequest = match decode(&body) {
        Ok(req) => req,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                format!("malformed request body: {e}"),
            )
                .into_response()
        }
    };
    let first: Vec<Result<Bytes, Infallible>>;
    let stream = match member.watch(req) {
        Ok(stream) => stream,
        Err(e) => {
            first = vec![Ok(Bytes::from(frame(&encode(&Err::<WatchMessage, _>(e)))))];
            return (
                [("content-type", CONTENT_TYPE)],
                Body::from_stream(futures::stream::iter(first)),
            )
                .into_response();
        }
    };
    let frames = stream
        .map(|msg| Ok::<_, Infallible>(Bytes::from(frame(&encode(&Ok::<_, StoreError>(msg))))));
    ([("content-type", CONTENT_TYPE)], Body::from_stream(frames)).into_response()
}
