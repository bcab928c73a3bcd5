//! The client `keelson node` talks to its cluster with. One process holds thousands of
//! simulated kubelets; a kube client opens one HTTP/1.1 connection per request in flight,
//! so their bursts would each cost a TLS handshake and a connection's buffers on both
//! sides. Bounding the requests in flight bounds the connections (watches count only until
//! their response starts).

use tower::limit::ConcurrencyLimitLayer;

/// Requests in flight at once over all the process's nodes.
pub const MAX_IN_FLIGHT: usize = 256;

/// A client for `config` that sends at most [`MAX_IN_FLIGHT`] requests at a time; the
/// others wait their turn.
pub fn bounded(config: kube::Config) -> Result<kube::Client, kube::Error> {
    Ok(kube::client::ClientBuilder::try_from(config)?
        .with_layer(&ConcurrencyLimitLayer::new(MAX_IN_FLIGHT))
        .build())
}
