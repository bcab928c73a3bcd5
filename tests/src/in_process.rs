//! A store member and an API server in the test's own process, with kube-rs clients: one
//! through the server's tower service, one over HTTPS with the server's kubeconfig.

use std::time::Duration;

use keelson_apiserver::{ApiServer, ApiServerConfig};
use keelson_storage::{pki, Member, MemberConfig};

/// A running in-process server; dropping it stops nothing the test still needs.
pub struct InProcess {
    pub member: Member,
    pub server: ApiServer,
    _dir: tempfile::TempDir,
}

impl InProcess {
    /// Starts with the default watch cache size.
    pub async fn start() -> InProcess {
        InProcess::with_watch_cache_size(keelson_apiserver::watch_cache::DEFAULT_HISTORY).await
    }

    /// Starts with a watch cache that keeps `history` changes per resource.
    pub async fn with_watch_cache_size(history: usize) -> InProcess {
        InProcess::with_config(|api| api.watch_cache_history = history).await
    }

    /// Starts with the API server configured by `configure` (limits, watch cache size).
    pub async fn with_config(configure: impl FnOnce(&mut ApiServerConfig)) -> InProcess {
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().to_path_buf();
        pki::init_ca(&data.join("ca"), "test-ca").expect("CA");
        pki::issue(
            &data.join("ca"),
            &data.join("pki"),
            "member-1",
            &pki::default_sans(),
        )
        .expect("identity");
        let identity = pki::TlsIdentity::load(&data.join("pki")).expect("identity");
        let mut config = MemberConfig::single(
            data.join("store"),
            "127.0.0.1:0".parse().expect("address"),
            identity,
        );
        config.progress_interval = Duration::from_millis(100);
        let member = Member::start(config).await.expect("store member");
        let mut api = ApiServerConfig::new(data, "127.0.0.1:0".parse().expect("address"));
        configure(&mut api);
        let server = ApiServer::start(member.clone(), api)
            .await
            .expect("API server");
        InProcess {
            member,
            server,
            _dir: dir,
        }
    }

    /// The data dir of the API server (its PKI and kubeconfig).
    pub fn data_dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    /// A client through the server's tower service (no socket).
    pub fn client(&self) -> kube::Client {
        kube::Client::new(self.server.service(), "default")
    }

    /// A client over HTTPS with the admin kubeconfig the server wrote.
    pub async fn https_client(&self) -> kube::Client {
        https_client(self.server.kubeconfig()).await
    }
}

/// A kube-rs client from a kubeconfig file.
pub async fn https_client(kubeconfig: &std::path::Path) -> kube::Client {
    let kubeconfig = kube::config::Kubeconfig::read_from(kubeconfig).expect("kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(
        kubeconfig,
        &kube::config::KubeConfigOptions::default(),
    )
    .await
    .expect("client config");
    kube::Client::try_from(config).expect("client")
}
