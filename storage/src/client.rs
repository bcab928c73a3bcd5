//! A client of a store cluster over its mutual-TLS port, as `keelson store ...`, the tests
//! and the benchmark use it. It tries the endpoints in turn while a member cannot be reached
//! (a request that never arrived cannot have taken effect), and never retries one that may
//! have been processed.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, StreamExt};
use serde::{de::DeserializeOwned, Serialize};

use crate::codec::decode;
use crate::pki::TlsIdentity;
use crate::server::paths;
use crate::transport::{take_frame, HttpClient, TransportError};
use crate::types::*;

const CALL_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone)]
pub struct StoreClient {
    http: HttpClient,
    endpoints: Arc<Vec<String>>,
    preferred: Arc<AtomicUsize>,
}

impl StoreClient {
    /// A client of the members at `endpoints` (`host:port` or `https://host:port`), with the
    /// identity (CA and client certificate) in `identity`.
    pub fn new(endpoints: Vec<String>, identity: &TlsIdentity) -> anyhow::Result<StoreClient> {
        if endpoints.is_empty() {
            anyhow::bail!("no store endpoint given");
        }
        Ok(StoreClient {
            http: HttpClient::new(identity)?,
            endpoints: Arc::new(endpoints),
            preferred: Arc::new(AtomicUsize::new(0)),
        })
    }

    /// Tries the endpoints in turn, from the last one that answered, while they cannot be
    /// reached; any other outcome is final.
    async fn on_first_reachable<T, F, Fut>(&self, attempt: F) -> Result<T>
    where
        F: Fn(String) -> Fut,
        Fut: std::future::Future<Output = Result<T, TransportError>>,
    {
        let n = self.endpoints.len();
        let start = self.preferred.load(Ordering::Relaxed);
        let mut last = None;
        for i in 0..n {
            let index = (start + i) % n;
            let Some(endpoint) = self.endpoints.get(index) else {
                continue;
            };
            match attempt(endpoint.clone()).await {
                Ok(answer) => {
                    self.preferred.store(index, Ordering::Relaxed);
                    return Ok(answer);
                }
                Err(e @ TransportError::Unreachable { .. }) => last = Some(e),
                Err(e) => return Err(e.into()),
            }
        }
        Err(last
            .map(Into::into)
            .unwrap_or_else(|| StoreError::Unavailable("no endpoint".into())))
    }

    async fn call<Req: Serialize + ?Sized, Resp: DeserializeOwned>(
        &self,
        path: &str,
        req: &Req,
    ) -> Result<Resp> {
        self.on_first_reachable(|endpoint| async move {
            self.http
                .call::<Req, Result<Resp>>(&endpoint, path, req, Some(CALL_TIMEOUT))
                .await
        })
        .await?
    }

    pub async fn txn(&self, req: TxnRequest) -> Result<TxnResponse> {
        self.call(paths::TXN, &req).await
    }

    /// Writes one key; returns the revision of the write.
    pub async fn put(
        &self,
        key: impl Into<Vec<u8>>,
        value: impl Into<Vec<u8>>,
    ) -> Result<Revision> {
        Ok(self
            .txn(TxnRequest {
                success: vec![Op::put(key, value)],
                ..Default::default()
            })
            .await?
            .revision)
    }

    /// Deletes one key; returns its value before, if it existed.
    pub async fn delete(&self, key: impl Into<Vec<u8>>) -> Result<Option<KeyValue>> {
        let resp = self
            .txn(TxnRequest {
                success: vec![Op::delete(key)],
                ..Default::default()
            })
            .await?;
        Ok(match resp.responses.into_iter().next() {
            Some(OpResponse::Delete { prev }) => prev,
            _ => None,
        })
    }

    pub async fn range(&self, req: RangeRequest) -> Result<RangeResponse> {
        self.call(paths::RANGE, &req).await
    }

    /// Reads one key (linearizable).
    pub async fn get(&self, key: impl Into<Vec<u8>>) -> Result<Option<KeyValue>> {
        let key = key.into();
        let resp = self.range(RangeRequest::key(key.clone())).await?;
        Ok(resp.kvs.into_iter().find(|kv| kv.key == key))
    }

    pub async fn compact(&self, revision: Revision) -> Result<Revision> {
        self.call(paths::COMPACT, &revision).await
    }

    pub async fn lease_grant(&self, ttl_seconds: u64) -> Result<Lease> {
        self.call(paths::LEASE_GRANT, &ttl_seconds).await
    }

    pub async fn lease_revoke(&self, id: LeaseId) -> Result<Revision> {
        self.call(paths::LEASE_REVOKE, &id).await
    }

    pub async fn lease_keepalive(&self, id: LeaseId) -> Result<Lease> {
        self.call(paths::LEASE_KEEPALIVE, &id).await
    }

    /// The status of the first member that answers.
    pub async fn status(&self) -> Result<MemberStatus> {
        self.call(paths::STATUS, &()).await
    }

    /// Watches a prefix. The stream ends when the member closes it; a `Compacted` message or
    /// an error item is its last.
    pub async fn watch(
        &self,
        req: WatchRequest,
    ) -> Result<impl Stream<Item = Result<WatchMessage>> + Send + Unpin> {
        let req = &req;
        let resp = self
            .on_first_reachable(|endpoint| async move {
                self.http.stream(&endpoint, paths::WATCH, req).await
            })
            .await?;
        Ok(frames(resp))
    }
}

fn frames(
    resp: http::Response<hyper::body::Incoming>,
) -> impl Stream<Item = Result<WatchMessage>> + Send + Unpin {
    let body = http_body_util::BodyExt::into_data_stream(resp.into_body());
    Box::pin(futures::stream::unfold(
        (body, Vec::new(), false),
        |(mut body, mut buf, done)| async move {
            if done {
                return None;
            }
            loop {
                if let Some(payload) = take_frame(&mut buf) {
                    let item = decode::<Result<WatchMessage>>(&payload).unwrap_or_else(|e| {
                        Err(StoreError::Internal(format!(
                            "undecodable watch frame: {e}"
                        )))
                    });
                    let last = item.is_err();
                    return Some((item, (body, buf, last)));
                }
                match body.next().await {
                    Some(Ok(chunk)) => buf.extend_from_slice(&chunk),
                    Some(Err(e)) => {
                        return Some((
                            Err(StoreError::Unavailable(format!("watch stream broke: {e}"))),
                            (body, buf, true),
                        ))
                    }
                    None => return None,
                }
            }
        },
    ))
}
