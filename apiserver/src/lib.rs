//! Keelson's API server: the HTTPS front end that real Kubernetes clients talk to.
//!
//! A request's way ([`handler`]): TLS ([`server`]) -> authentication and authorization
//! ([`auth`], service-account [`tokens`]) -> discovery and OpenAPI documents ([`documents`],
//! written by codegen into `generated/`; v2 also as protobuf, [`openapi_v2_proto`]) or a
//! resource path ([`request`]) -> decoding ([`codec`], Kubernetes [`protobuf`]) -> the
//! generic [`registry`], which serves every resource of the catalogue with its per-resource
//! [`strategy`] over `keelson-storage`, converting versions that share storage
//! ([`conversion`]) -> the answer as JSON, YAML or a [`table`]. Lists filter with
//! [`selectors`]; PATCH goes through [`patch`]; watches through [`watch`], fed by the
//! per-resource [`watch_cache`]; reviews are answered, not stored ([`reviews`]). Errors are
//! `Status` objects ([`status`]). Evictions consult disruption budgets ([`eviction`]).
//!
//! [`ApiServer::start`] bootstraps the PKI ([`pki`]) and the namespaces, then serves;
//! [`ApiServer::service`] is the same server as a tower `Service` for in-process clients
//! (`kube::Client::new(service, "default")`).

// Input from clients and the disk must never panic the server.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::unreachable,
        clippy::todo,
        clippy::unimplemented
    )
)]

pub mod auth;
mod bootstrap;
pub mod codec;
pub mod conversion;
pub mod custom;
pub mod documents;
pub mod eviction;
pub mod field_order;
mod generated;
pub mod handler;
pub mod metrics;
pub mod openapi_v2_proto;
pub mod params;
pub mod patch;
pub mod pki;
pub mod protobuf;
pub mod registry;
pub mod request;
pub mod resource;
pub mod reviews;
pub mod selectors;
pub mod server;
pub mod status;
pub mod stored;
pub mod strategy;
pub mod table;
pub mod token_request;
pub mod tokens;
pub mod validation;
pub mod watch;
pub mod watch_cache;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use keelson_storage::{pki as store_pki, Member};
use serde_json::{json, Value};

use crate::auth::{AuthorizationMode, TokenFile};
use crate::registry::Registry;

/// How to run the API server.
#[derive(Clone, Debug)]
pub struct ApiServerConfig {
    /// Holds `apiserver-pki/` and `admin.kubeconfig`.
    pub data_dir: PathBuf,
    /// Address and port of the HTTPS listener (port 0 picks a free port).
    pub bind: SocketAddr,
    /// The address clients and the `kubernetes` Service reach this server at.
    pub advertise_address: Option<IpAddr>,
    pub token_auth_file: Option<PathBuf>,
    pub authorization_mode: AuthorizationMode,
    /// How long Events live.
    pub event_ttl: Duration,
    /// A CA (and service-account key) shared by the servers of an HA cluster; by default
    /// each data dir has its own.
    pub ca_dir: Option<PathBuf>,
    /// Changes each resource's watch cache keeps for watches that resume.
    pub watch_cache_history: usize,
    /// Deadlines and limits of the HTTPS listener.
    pub limits: server::ConnectionLimits,
}

impl ApiServerConfig {
    pub fn new(data_dir: PathBuf, bind: SocketAddr) -> ApiServerConfig {
        ApiServerConfig {
            data_dir,
            bind,
            advertise_address: None,
            token_auth_file: None,
            authorization_mode: AuthorizationMode::default(),
            event_ttl: Duration::from_secs(3600),
            ca_dir: None,
            watch_cache_history: watch_cache::DEFAULT_HISTORY,
            limits: server::ConnectionLimits::default(),
        }
    }
}

/// What every request handler shares.
pub struct ApiServerState {
    pub registry: Registry,
    pub tokens: TokenFile,
    pub token_issuer: tokens::TokenIssuer,
    pub authorization_mode: AuthorizationMode,
    /// `host:port` clients reach this server at (discovery's `serverAddressByClientCIDRs`).
    pub advertise: String,
    pub metrics: metrics::Metrics,
    /// How long a client may take to send a request body.
    pub body_timeout: Duration,
}

/// A running API server.
pub struct ApiServer {
    state: Arc<ApiServerState>,
    address: SocketAddr,
    kubeconfig: PathBuf,
    /// The cluster CA's certificate (PEM).
    ca_pem: String,
    task: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// The loop keeping this server in the `kubernetes` Service's endpoints.
    endpoints: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// `/version`: a `v1.35.x` gitVersion kubectl can parse, with Keelson as build metadata.
pub fn version_info() -> Value {
    let version = keelson_apis::KUBERNETES_VERSION;
    let minor = version.split('.').nth(1).unwrap_or("0");
    json!({
        "major": "1",
        "minor": minor,
        "emulationMajor": "1",
        "emulationMinor": minor,
        "gitVersion": format!("{version}+keelson"),
        "gitCommit": env!("CARGO_PKG_VERSION"),
        "gitTreeState": "clean",
        "buildDate": "1970-01-01T00:00:00Z",
        "goVersion": "rust",
        "compiler": "rustc",
        "platform": format!("{}/{}", std::env::consts::OS, go_arch()),
    })
}

fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

impl ApiServer {
    /// Makes the PKI if missing, writes the admin kubeconfig, creates the bootstrap
    /// objects, and starts serving HTTPS.
    pub async fn start(store: Member, config: ApiServerConfig) -> anyhow::Result<ApiServer> {
        let mut pki = pki::ApiServerPki::in_data_dir(&config.data_dir);
        if let Some(shared) = &config.ca_dir {
            pki.use_shared_ca(shared);
        }
        let mut sans = Vec::new();
        if let Some(ip) = config.advertise_address {
            sans.push(ip.to_string());
        }
        if !config.bind.ip().is_unspecified() {
            sans.push(config.bind.ip().to_string());
        }
        pki.ensure(&sans)?;
        let identity = store_pki::TlsIdentity::load(&pki.serving_dir)?;
        let tls = identity.server_config_client_cert_optional()?;
        let listener = tokio::net::TcpListener::bind(config.bind)
            .await
            .with_context(|| format!("cannot listen on {}", config.bind))?;
        let address = listener.local_addr()?;
        let advertise_ip = config
            .advertise_address
            .unwrap_or(if address.ip().is_unspecified() {
                IpAddr::from([127, 0, 0, 1])
            } else {
                address.ip()
            });
        let advertise = SocketAddr::new(advertise_ip, address.port());
        let kubeconfig = config.data_dir.join("admin.kubeconfig");
        pki.write_admin_kubeconfig(&kubeconfig, &format!("https://{advertise}"))?;
        let tokens = match &config.token_auth_file {
            Some(path) => TokenFile::load(path)?,
            None => TokenFile::default(),
        };
        let token_issuer = tokens::TokenIssuer::load_or_create(&pki.service_account_key)?;
        let state = Arc::new(ApiServerState {
            registry: Registry::new(store.clone(), config.event_ttl, config.watch_cache_history),
            tokens,
            token_issuer,
            authorization_mode: config.authorization_mode,
            advertise: advertise.to_string(),
            metrics: metrics::Metrics::default(),
            body_timeout: config.limits.body_timeout,
        });
        bootstrap::create_objects(&state.registry, advertise).await?;
        let mut reconciler = bootstrap::kubernetes_endpoints::EndpointReconciler::new(advertise);
        if let Err(e) = reconciler.reconcile(&store, &state.registry).await {
            tracing::warn!("cannot list this server in the kubernetes Service's endpoints: {e:#}");
        }
        let endpoints = tokio::spawn(bootstrap::kubernetes_endpoints::run(
            reconciler,
            store,
            state.clone(),
            state.registry.shutdown_token(),
        ));
        // Custom resources are served from the first request on.
        if let Err(e) = custom::controller::reconcile(&state.registry).await {
            tracing::warn!("cannot serve the custom resources: {}", e.message);
        }
        tokio::spawn(custom::controller::run(
            state.clone(),
            state.registry.shutdown_token(),
        ));
        let priming = state.clone();
        tokio::spawn(async move { priming.registry.prime_caches().await });
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
        let task = tokio::spawn(server::serve_tls(
            listener,
            acceptor,
            state.clone(),
            config.limits.clone(),
            state.registry.shutdown_token(),
        ));
        let ca_pem = std::fs::read_to_string(pki.ca_dir.join(store_pki::CA_CERT))
            .context("cannot read the cluster CA certificate")?;
        Ok(ApiServer {
            state,
            address,
            kubeconfig,
            ca_pem,
            task: std::sync::Mutex::new(Some(task)),
            endpoints: std::sync::Mutex::new(Some(endpoints)),
        })
    }

    /// The address the listener is bound to.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// `host:port` clients reach the server at (what the kubeconfig names).
    pub fn advertised(&self) -> &str {
        &self.state.advertise
    }

    /// Records the health of a component running with this server (what ComponentStatuses
    /// report for `controller-manager` and `scheduler`).
    pub fn set_component_health(&self, name: &str, health: Result<(), String>) {
        self.state.registry.set_component_health(name, health);
    }

    /// Serves the metrics of something running with the server on `/metrics` too.
    pub fn add_metrics(&self, source: metrics::MetricsSource) {
        self.state.metrics.add_source(source);
    }

    /// The cluster CA's certificate (PEM), which clients verify this server with.
    pub fn ca_certificate(&self) -> &str {
        &self.ca_pem
    }

    /// The admin kubeconfig this server wrote.
    pub fn kubeconfig(&self) -> &std::path::Path {
        &self.kubeconfig
    }

    /// The server as a tower service for in-process clients.
    pub fn service(&self) -> server::InProcessService {
        server::InProcessService {
            state: self.state.clone(),
        }
    }

    /// Stops accepting connections, ends every watch, and waits for the requests in
    /// flight (up to the listener's grace period).
    pub async fn shutdown(&self) {
        self.state.registry.shutdown_token().cancel();
        let endpoints = self.endpoints.lock().ok().and_then(|mut t| t.take());
        if let Some(endpoints) = endpoints {
            // Leaving the kubernetes Service's endpoints needs the store, still up here.
            let _ = tokio::time::timeout(Duration::from_secs(3), endpoints).await;
        }
        let task = self.task.lock().ok().and_then(|mut t| t.take());
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}
