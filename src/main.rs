//! The `keelson` command: wiring of the crates behind a CLI (clap); no logic of its own
//! beyond parsing, printing and the benchmark driver.

mod bench;
mod bench_api;
mod bench_failover;
mod bench_scheduler;
mod bench_workloads;

// Many small allocations per request; mimalloc handles them with less contention than glibc.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use futures::StreamExt;
use keelson_storage::{
    pki, EventKind, Member, MemberConfig, RangeRequest, StoreClient, WatchMessage, WatchRequest,
};

#[derive(Parser)]
#[command(
    name = "keelson",
    version,
    about = "A Kubernetes-compatible platform in one binary"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run Keelson on this machine: a single-member store, the API server, the controllers
    /// the scheduler and, with --simulated-nodes, simulated nodes.
    Up(UpArgs),
    /// Run one member of an HA cluster: a store member and an API server. Three of them
    /// serve the same objects; any of them answers kubectl.
    Server(ServerArgs),
    /// Run node agents against a cluster (any Kubernetes API server, through a kubeconfig):
    /// so far simulated nodes, whose pods run with the fake runtime.
    Node(NodeArgs),
    /// The replicated key-value store: run a member, or talk to a running one.
    Store(StoreArgs),
    /// Benchmarks that print figures.
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Args)]
struct StoreArgs {
    #[command(flatten)]
    client: ClientArgs,
    #[command(subcommand)]
    command: StoreCommand,
}

#[derive(Args, Clone)]
struct ClientArgs {
    /// Members to talk to, comma-separated `host:port` (tried in turn while one is down).
    #[arg(
        long,
        global = true,
        value_delimiter = ',',
        default_value = "127.0.0.1:7380",
        env = "KEELSON_STORE_ENDPOINTS"
    )]
    endpoints: Vec<String>,
    /// Identity dir with ca.crt, tls.crt, tls.key: a member's `<data-dir>/pki`, or one made by
    /// `store pki issue` (default for clients: `.keelson/pki`; for `serve`: `<data-dir>/pki`)
    #[arg(long, global = true, env = "KEELSON_STORE_PKI_DIR")]
    pki_dir: Option<PathBuf>,
}

#[derive(Subcommand)]
enum StoreCommand {
    /// Run a store member.
    Serve(ServeArgs),
    /// Make the certificates of a cluster.
    #[command(subcommand)]
    Pki(PkiCommand),
    /// Write a key.
    Put { key: String, value: String },
    /// Read a key's value.
    Get {
        key: String,
        /// Read as of this revision.
        #[arg(long, default_value_t = 0)]
        rev: u64,
    },
    /// Delete a key.
    Del { key: String },
    /// List the keys under a prefix (like `etcdctl get PREFIX --prefix --keys-only`).
    Keys {
        prefix: String,
        #[arg(long, default_value_t = 0)]
        rev: u64,
    },
    /// Print changes under a prefix as they happen, from a revision if given.
    Watch {
        prefix: String,
        #[arg(long, default_value_t = 0)]
        rev: u64,
    },
    /// Drop history up to a revision.
    Compact { revision: u64 },
    /// Members, leader, term, commit index and revision.
    Status,
}

#[derive(Args)]
struct ServeArgs {
    /// Where the member keeps its data.
    #[arg(long, default_value = ".keelson")]
    data_dir: PathBuf,
    /// This member's id (unique in the cluster).
    #[arg(long, default_value_t = 1)]
    id: u64,
    /// Address of the member's mutual-TLS port.
    #[arg(long, default_value = "127.0.0.1:7380")]
    listen: SocketAddr,
    /// All members of an HA cluster, this one included: `1=host:port,2=host:port,3=host:port`.
    #[arg(long, value_delimiter = ',')]
    peers: Vec<String>,
    /// Take a Raft snapshot every this many log entries.
    #[arg(long, default_value_t = 20_000)]
    snapshot_threshold: u64,
    /// Log entries kept behind a snapshot.
    #[arg(long, default_value_t = 5_000)]
    logs_to_keep: u64,
    /// Progress notifications to quiet watches, in milliseconds.
    #[arg(long, default_value_t = 5_000)]
    progress_interval_ms: u64,
    /// How often the leader compacts history (keeping one interval of it), in seconds; 0: never.
    #[arg(long, default_value_t = 300)]
    compaction_interval_seconds: u64,
    /// How often the Raft leader sends heartbeats, in milliseconds; also how long it waits
    /// for a follower to answer one append.
    #[arg(long, default_value_t = keelson_storage::DEFAULT_HEARTBEAT_INTERVAL.as_millis() as u64)]
    heartbeat_interval_ms: u64,
    /// The shortest Raft election timeout, in milliseconds (each member draws its own between
    /// this and --election-timeout-max-ms). Longer: fewer needless elections on a slow
    /// machine or network; shorter: a quicker failover.
    #[arg(long, default_value_t = keelson_storage::DEFAULT_ELECTION_TIMEOUT_MIN.as_millis() as u64)]
    election_timeout_min_ms: u64,
    /// The longest Raft election timeout, in milliseconds; also how long a follower refuses
    /// to vote after hearing from its leader.
    #[arg(long, default_value_t = keelson_storage::DEFAULT_ELECTION_TIMEOUT_MAX.as_millis() as u64)]
    election_timeout_max_ms: u64,
}

#[derive(Args)]
struct UpArgs {
    /// Where Keelson keeps its data, certificates and the admin kubeconfig.
    #[arg(long, default_value = ".keelson")]
    data_dir: PathBuf,
    #[command(flatten)]
    api: ApiArgs,
    /// Address of the store's mutual-TLS port.
    #[arg(long, default_value = "127.0.0.1:7380")]
    store_listen: SocketAddr,
    #[command(flatten)]
    nodes: SimulatedNodeArgs,
}

/// `keelson node`: node agents out of process.
#[derive(Args)]
struct NodeArgs {
    /// The cluster to join (default: $KUBECONFIG, then ~/.kube/config).
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    #[command(flatten)]
    nodes: SimulatedNodeArgs,
}

/// The simulated nodes' flags, shared by `up` and `node`.
#[derive(Args)]
struct SimulatedNodeArgs {
    /// How many simulated nodes to run in this process; their pods run with the fake
    /// runtime, whose containers exit as the pods' `sim.keelson.dev/*` annotations say.
    #[arg(long, default_value_t = 0)]
    simulated_nodes: u32,
    /// The nodes are named `<prefix>-1` to `<prefix>-N` (default: `keelson-node` in `up`,
    /// the host's name in `node`).
    #[arg(long)]
    node_name_prefix: Option<String>,
    /// Each node's capacity (and allocatable), `name=quantity,...`; entries replace the
    /// defaults of their name.
    #[arg(long, default_value = keelson_node::config::DEFAULT_CAPACITY, value_parser = keelson_node::config::parse_capacity)]
    simulated_node_capacity: BTreeMap<String, String>,
    /// Labels of each node beyond the standard ones, `key=value,...`.
    #[arg(long, default_value = "", value_parser = keelson_node::config::parse_labels)]
    simulated_node_labels: BTreeMap<String, String>,
}

impl SimulatedNodeArgs {
    /// The nodes' configuration, named `<default_prefix>-N` unless --node-name-prefix says.
    fn config(&self, default_prefix: &str) -> anyhow::Result<keelson_node::SimulatedNodesConfig> {
        let prefix = self.node_name_prefix.as_deref().unwrap_or(default_prefix);
        let mut config = keelson_node::SimulatedNodesConfig::new(self.simulated_nodes, prefix);
        config.capacity = self.simulated_node_capacity.clone();
        config.labels = self.simulated_node_labels.clone();
        config.check().map_err(anyhow::Error::msg)?;
        Ok(config)
    }
}

/// The API server's flags, shared by `up` and `server`.
#[derive(Args)]
struct ApiArgs {
    /// Address the API server listens on.
    #[arg(long, default_value = "0.0.0.0")]
    bind_address: std::net::IpAddr,
    /// Port of the API server's HTTPS listener (0 picks a free one).
    #[arg(long, default_value_t = 6443)]
    secure_port: u16,
    /// The address clients reach the API server at (in the kubeconfig and certificate).
    #[arg(long)]
    advertise_address: Option<std::net::IpAddr>,
    /// Bearer tokens: CSV lines `token,user,uid[,"group1,group2"]`.
    #[arg(long)]
    token_auth_file: Option<PathBuf>,
    /// `AlwaysAllow` lets every authenticated user do anything; the default lets only
    /// `system:masters` act (until RBAC is built).
    #[arg(long, default_value = "Default", value_parser = ["Default", "AlwaysAllow"])]
    authorization_mode: String,
    /// How long Events live, such as `1h` or `90s`.
    #[arg(long, default_value = "1h", value_parser = parse_duration)]
    event_ttl: Duration,
    /// Changes each resource's watch cache keeps for watches that resume from an older
    /// resourceVersion (older ones are read from the store while it still has them).
    #[arg(long, default_value_t = keelson_apiserver::watch_cache::DEFAULT_HISTORY)]
    default_watch_cache_size: usize,
    #[command(flatten)]
    manager: ManagerArgs,
    /// Do not run the scheduler (as k3s's flag of the same name): pods stay pending unless
    /// another scheduler binds them.
    #[arg(long)]
    disable_scheduler: bool,
}

/// The controller manager's flags, by upstream's names (the leader election flags apply to
/// the scheduler's `kube-scheduler` Lease too).
#[derive(Args)]
struct ManagerArgs {
    /// Controllers to run: `*` for the default set, `name` to add one, `-name` to leave one
    /// out (upstream's names, such as `deployment-controller`, or their older aliases).
    #[arg(long, value_delimiter = ',', default_value = "*")]
    controllers: Vec<String>,
    /// Run the controllers only while holding the `kube-controller-manager` Lease in
    /// `kube-system`, and the scheduler only while holding `kube-scheduler`, so that one
    /// server of an HA cluster runs each.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    leader_elect: bool,
    /// How long a lease holder that stops renewing keeps the lease.
    #[arg(long, default_value = "15s", value_parser = parse_duration)]
    leader_elect_lease_duration: Duration,
    /// How long a leader tries to renew before it stops leading.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    leader_elect_renew_deadline: Duration,
    /// How often candidates try to take the lease and the leader renews it.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    leader_elect_retry_period: Duration,
    /// How long a node may go unheard (no Lease renewal) before it is marked unreachable,
    /// tainted, and its pods evicted.
    #[arg(long, default_value = "50s", value_parser = parse_duration)]
    node_monitor_grace_period: Duration,
    /// Where nodes' pod CIDRs come from: the node-ipam controller gives each node a free
    /// /24 of it.
    #[arg(long, default_value = keelson_reconcilers::controllers::node_ipam::DEFAULT_CLUSTER_CIDR, value_parser = keelson_reconcilers::controllers::node_ipam::parse_cluster_cidr)]
    cluster_cidr: keelson_node::ipam::Cidr,
}

impl ManagerArgs {
    /// The Lease `name` with the flags' durations, when electing.
    fn election(&self, name: &str) -> Option<keelson_reconcilers::leader::LeaderElection> {
        self.leader_elect.then(|| {
            let mut election = keelson_reconcilers::leader::LeaderElection::new(name);
            election.lease_duration = self.leader_elect_lease_duration;
            election.renew_deadline = self.leader_elect_renew_deadline;
            election.retry_period = self.leader_elect_retry_period;
            election
        })
    }

    fn config(&self) -> keelson_reconcilers::manager::ManagerConfig {
        keelson_reconcilers::manager::ManagerConfig {
            controllers: self.controllers.clone(),
            leader_election: self.election("kube-controller-manager"),
            root_ca: None,
            node_monitor_grace_period: Some(self.node_monitor_grace_period),
            cluster_cidr: Some(self.cluster_cidr),
        }
    }

    fn scheduler_config(&self) -> keelson_reconcilers::scheduler::SchedulerConfig {
        keelson_reconcilers::scheduler::SchedulerConfig {
            leader_election: self.election(keelson_reconcilers::scheduler::LEASE_NAME),
            ..Default::default()
        }
    }
}

#[derive(Args)]
struct ServerArgs {
    #[command(flatten)]
    store: ServeArgs,
    #[command(flatten)]
    api: ApiArgs,
    /// The API CA shared by every server of the cluster (ca.crt, ca.key; the service-account
    /// key sa.key is made there on first use): every server's certificate comes from it, so
    /// one kubeconfig works against any server.
    #[arg(long)]
    api_ca_dir: PathBuf,
}

/// A duration as upstream's flags write them: `1h`, `30m`, `90s`, `1h30m`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let mut total = 0u64;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let n: u64 = number
            .parse()
            .map_err(|_| format!("invalid duration {text:?}"))?;
        number.clear();
        total += n * match c {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => {
                return Err(format!(
                    "invalid unit {c:?} in duration {text:?} (use h, m, s)"
                ))
            }
        };
    }
    if !number.is_empty() {
        return Err(format!("duration {text:?} needs a unit (h, m or s)"));
    }
    Ok(Duration::from_secs(total))
}

#[derive(Subcommand)]
enum PkiCommand {
    /// Create a cluster CA (ca.crt, ca.key) in a new dir.
    InitCa {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long, default_value = "keelson-store-ca")]
        name: String,
    },
    /// Issue an identity (a member's or a client's) signed by the CA.
    Issue {
        #[arg(long)]
        ca_dir: PathBuf,
        /// Dir to write ca.crt, tls.crt and tls.key into.
        #[arg(long)]
        out: PathBuf,
        /// The certificate's common name.
        #[arg(long)]
        name: String,
        /// Extra host names or IP addresses the certificate is valid for (loopback and the
        /// host name are always included).
        #[arg(long)]
        san: Vec<String>,
    },
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Fsynced puts against a Keelson store member and a real etcd, side by side.
    Store(bench::StoreBenchArgs),
    /// kube-rs clients against `keelson up`: creates, lists, and watchers following updates.
    Api(bench_api::ApiBenchArgs),
    /// Three store members; the leader is SIGKILLed under writes, again and again: the time
    /// until the new leader acknowledges a write.
    Failover(bench_failover::FailoverBenchArgs),
    /// Upstream's scheduler_perf SchedulingBasic against `keelson up`: 5,000 nodes, 1,000
    /// pods placed, then 10,000 pods measured (pods/s, creation-to-binding p50/p99).
    Scheduler(bench_scheduler::SchedulerBenchArgs),
    /// Deployments totalling 10,000 replicas on 5,000 simulated nodes (a `keelson node`
    /// beside `keelson up`): time until all Running, pod startup p50/p99, RSS.
    Workloads(bench_workloads::WorkloadsBenchArgs),
}

fn main() {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,openraft=warn".into()),
        )
        .init();
    // A server holds a descriptor per connection; the soft limit is often far below the hard.
    if let Err(e) = keelson_apiserver::server::raise_open_file_limit() {
        tracing::warn!("cannot raise the open-file limit: {e}");
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = runtime.block_on(run(cli)) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Up(args) => up(args).await,
        Command::Server(args) => server(args).await,
        Command::Node(args) => node(args).await,
        Command::Store(store) => run_store(store.command, &store.client).await,
        Command::Bench(BenchCommand::Store(args)) => bench::store(args).await,
        Command::Bench(BenchCommand::Api(args)) => bench_api::api(args).await,
        Command::Bench(BenchCommand::Failover(args)) => bench_failover::failover(args).await,
        Command::Bench(BenchCommand::Scheduler(args)) => bench_scheduler::scheduler(args).await,
        Command::Bench(BenchCommand::Workloads(args)) => bench_workloads::workloads(args).await,
    }
}

fn client(args: &ClientArgs) -> anyhow::Result<StoreClient> {
    let identity =
        pki::TlsIdentity::load(args.pki_dir.as_deref().unwrap_or(Path::new(".keelson/pki")))?;
    StoreClient::new(args.endpoints.clone(), &identity)
}

async fn run_store(command: StoreCommand, c: &ClientArgs) -> anyhow::Result<()> {
    match command {
        StoreCommand::Serve(args) => serve(args, c.pki_dir.clone()).await,
        StoreCommand::Pki(PkiCommand::InitCa { dir, name }) => {
            pki::init_ca(&dir, &name)?;
            println!("created the CA in {}", dir.display());
            Ok(())
        }
        StoreCommand::Pki(PkiCommand::Issue {
            ca_dir,
            out,
            name,
            san,
        }) => {
            let mut sans = pki::default_sans();
            sans.extend(san);
            pki::issue(&ca_dir, &out, &name, &sans)?;
            println!("issued {name} into {}", out.display());
            Ok(())
        }
        StoreCommand::Put { key, value } => {
            let revision = client(c)?.put(key, value).await?;
            println!("OK (revision {revision})");
            Ok(())
        }
        StoreCommand::Get { key, rev } => {
            let resp = client(c)?
                .range(RangeRequest {
                    revision: rev,
                    ..RangeRequest::key(key.clone())
                })
                .await?;
            match resp.kvs.into_iter().find(|kv| kv.key == key.as_bytes()) {
                Some(kv) => {
                    println!("{}", String::from_utf8_lossy(&kv.value));
                    Ok(())
                }
                None => bail!("key {key:?} not found (revision {})", resp.revision),
            }
        }
        StoreCommand::Del { key } => match client(c)?.delete(key.clone()).await? {
            Some(_) => {
                println!("deleted {key}");
                Ok(())
            }
            None => bail!("key {key:?} not found"),
        },
        StoreCommand::Keys { prefix, rev } => {
            let client = client(c)?;
            let mut req = RangeRequest {
                revision: rev,
                keys_only: true,
                limit: 1000,
                ..RangeRequest::prefix(prefix)
            };
            loop {
                let page = client.range(req.clone()).await?;
                for kv in &page.kvs {
                    println!("{}", String::from_utf8_lossy(&kv.key));
                }
                match (page.more, page.kvs.last()) {
                    (true, Some(last)) => {
                        req.start_after = last.key.clone();
                        req.revision = page.revision;
                    }
                    _ => return Ok(()),
                }
            }
        }
        StoreCommand::Watch { prefix, rev } => {
            let mut stream = client(c)?
                .watch(WatchRequest {
                    prefix: prefix.into_bytes(),
                    start_revision: rev,
                })
                .await?;
            while let Some(msg) = stream.next().await {
                match msg? {
                    WatchMessage::Events { revision, events } => {
                        for e in events {
                            let key = String::from_utf8_lossy(&e.kv.key);
                            match e.kind {
                                EventKind::Put => println!(
                                    "PUT {key} {} (revision {revision})",
                                    String::from_utf8_lossy(&e.kv.value)
                                ),
                                EventKind::Delete => println!("DELETE {key} (revision {revision})"),
                            }
                        }
                    }
                    WatchMessage::Progress { .. } => {}
                    WatchMessage::Compacted { compact_revision } => {
                        bail!("the watch fell behind history compacted up to revision {compact_revision}")
                    }
                }
            }
            Ok(())
        }
        StoreCommand::Compact { revision } => {
            client(c)?.compact(revision).await?;
            println!("compacted up to revision {revision}");
            Ok(())
        }
        StoreCommand::Status => {
            let s = client(c)?.status().await?;
            println!("member:        {} at {}", s.id, s.address);
            let members: Vec<String> = s
                .members
                .iter()
                .map(|(id, addr)| format!("{id}={addr}"))
                .collect();
            println!("members:       {}", members.join(","));
            println!(
                "leader:        {}",
                s.leader.map_or("none".to_string(), |l| l.to_string())
            );
            println!("term:          {}", s.term);
            println!("last log:      {}", s.last_log_index);
            println!("commit index:  {}", s.commit_index);
            println!("applied index: {}", s.applied_index);
            println!("revision:      {}", s.revision);
            println!("compacted at:  {}", s.compact_revision);
            Ok(())
        }
    }
}

fn parse_peers(peers: &[String]) -> anyhow::Result<BTreeMap<u64, String>> {
    let mut out = BTreeMap::new();
    for peer in peers {
        let (id, addr) = peer
            .split_once('=')
            .with_context(|| format!("--peers entry {peer:?} is not ID=HOST:PORT"))?;
        let id: u64 = id
            .parse()
            .with_context(|| format!("--peers entry {peer:?}: {id:?} is not a member id"))?;
        if out.insert(id, addr.to_string()).is_some() {
            bail!("--peers names member {id} twice");
        }
    }
    Ok(out)
}

/// A single-member store makes its own CA on first start; HA members need theirs issued.
fn ensure_identity(
    pki_dir: &Path,
    data_dir: &Path,
    single: bool,
    listen: SocketAddr,
) -> anyhow::Result<()> {
    if pki_dir.join(pki::TLS_CERT).exists() {
        return Ok(());
    }
    if !single {
        bail!(
            "{} holds no identity: every member of an HA cluster needs one from the cluster CA \
             (see `keelson store pki init-ca` and `keelson store pki issue`)",
            pki_dir.display()
        );
    }
    let ca_dir = data_dir.join("ca");
    if !ca_dir.join(pki::CA_KEY).exists() {
        pki::init_ca(&ca_dir, "keelson-store-ca")?;
    }
    let mut sans = pki::default_sans();
    if !listen.ip().is_unspecified() {
        sans.push(listen.ip().to_string());
    }
    pki::issue(&ca_dir, pki_dir, "member-1", &sans)?;
    Ok(())
}

/// Refuses flags that name what does not exist before anything starts.
fn check_api_args(args: &ApiArgs) -> anyhow::Result<()> {
    keelson_reconcilers::manager::select(&args.manager.controllers)
        .map_err(|e| anyhow::anyhow!("--controllers: {e}"))?;
    Ok(())
}

/// Runs the single-member store and the API server in one process.
async fn up(args: UpArgs) -> anyhow::Result<()> {
    check_api_args(&args.api)?;
    let nodes = args.nodes.config("keelson-node")?;
    let store_args = ServeArgs {
        data_dir: args.data_dir.clone(),
        id: 1,
        listen: args.store_listen,
        peers: Vec::new(),
        snapshot_threshold: 20_000,
        logs_to_keep: 5_000,
        progress_interval_ms: 5_000,
        compaction_interval_seconds: 300,
        heartbeat_interval_ms: keelson_storage::DEFAULT_HEARTBEAT_INTERVAL.as_millis() as u64,
        election_timeout_min_ms: keelson_storage::DEFAULT_ELECTION_TIMEOUT_MIN.as_millis() as u64,
        election_timeout_max_ms: keelson_storage::DEFAULT_ELECTION_TIMEOUT_MAX.as_millis() as u64,
    };
    let member = start_member(&store_args, None).await?;
    serve_api(
        member,
        &args.data_dir,
        &args.api,
        None,
        Some(nodes),
        "keelson is up",
    )
    .await
}

/// Runs simulated nodes against the cluster of a kubeconfig until SIGTERM or SIGINT.
async fn node(args: NodeArgs) -> anyhow::Result<()> {
    if args.nodes.simulated_nodes == 0 {
        bail!("`keelson node` runs simulated nodes only so far: give --simulated-nodes N");
    }
    let nodes = args
        .nodes
        .config(&keelson_node::config::host_name_prefix())?;
    let config = match &args.kubeconfig {
        Some(path) => {
            let kubeconfig = kube::config::Kubeconfig::read_from(path)
                .with_context(|| format!("cannot read the kubeconfig {}", path.display()))?;
            kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?
        }
        None => kube::Config::infer()
            .await
            .context("no kubeconfig: give --kubeconfig")?,
    };
    let cluster = config.cluster_url.to_string();
    let client = keelson_node::client::bounded(config)?;
    let first = nodes.node_name(1);
    let last = nodes.node_name(nodes.count);
    let running = keelson_node::SimulatedNodes::start(client, nodes);
    println!("keelson node: simulated nodes {first} to {last} joining {cluster}");
    let signal = termination().await?;
    println!("{signal}: shutting down");
    running.shutdown().await;
    println!("stopped");
    Ok(())
}

/// Runs one member of an HA cluster: a store member and an API server.
async fn server(args: ServerArgs) -> anyhow::Result<()> {
    check_api_args(&args.api)?;
    if args.store.peers.is_empty() {
        bail!(
            "`keelson server` runs a member of an HA cluster: give --peers (or use `keelson up`)"
        );
    }
    let pki_dir = args.store.data_dir.join("pki");
    let member = start_member(&args.store, Some(pki_dir)).await?;
    let banner = format!("keelson server {} is up", member.id());
    serve_api(
        member,
        &args.store.data_dir,
        &args.api,
        Some(args.api_ca_dir),
        None,
        &banner,
    )
    .await
}

/// Starts the API server, the controllers, the scheduler and the simulated nodes over a
/// running store member, says where the kubeconfig is, and serves until Ctrl-C.
async fn serve_api(
    member: Member,
    data_dir: &Path,
    args: &ApiArgs,
    ca_dir: Option<PathBuf>,
    nodes: Option<keelson_node::SimulatedNodesConfig>,
    banner: &str,
) -> anyhow::Result<()> {
    let mut config = keelson_apiserver::ApiServerConfig::new(
        data_dir.to_path_buf(),
        SocketAddr::new(args.bind_address, args.secure_port),
    );
    config.advertise_address = args.advertise_address;
    config.token_auth_file = args.token_auth_file.clone();
    config.event_ttl = args.event_ttl;
    config.ca_dir = ca_dir;
    config.watch_cache_history = args.default_watch_cache_size;
    if args.authorization_mode == "AlwaysAllow" {
        config.authorization_mode = keelson_apiserver::auth::AuthorizationMode::AlwaysAllow;
    }
    let server = keelson_apiserver::ApiServer::start(member.clone(), config).await?;
    let mut manager_config = args.manager.config();
    manager_config.root_ca = Some(server.ca_certificate().to_string());
    // One context for the controllers and the scheduler: one watch per type for the process.
    let ctx =
        std::sync::Arc::new(manager_config.context(kube::Client::new(server.service(), "default")));
    let manager = keelson_reconcilers::manager::Manager::start_shared(ctx.clone(), manager_config)?;
    server.set_component_health("controller-manager", Ok(()));
    let loop_metrics = manager.metrics();
    server.add_metrics(Box::new(move || loop_metrics.render()));
    let scheduler = (!args.disable_scheduler).then(|| {
        keelson_reconcilers::scheduler::Scheduler::start(ctx, args.manager.scheduler_config())
    });
    if scheduler.is_some() {
        server.set_component_health("scheduler", Ok(()));
    }
    let simulated = nodes
        .as_ref()
        .filter(|config| config.count > 0)
        .map(|config| (config.node_name(1), config.node_name(config.count)));
    let nodes = nodes.map(|config| {
        keelson_node::SimulatedNodes::start(kube::Client::new(server.service(), "default"), config)
    });
    let kubeconfig = std::fs::canonicalize(server.kubeconfig())
        .unwrap_or_else(|_| server.kubeconfig().to_path_buf());
    println!(
        "{banner}: API server on https://{} (store member on {})",
        server.advertised(),
        member.address()
    );
    println!("admin kubeconfig: {}", kubeconfig.display());
    println!(
        "try: export KUBECONFIG={} && kubectl get namespaces",
        kubeconfig.display()
    );
    if let Some((first, last)) = simulated {
        println!("simulated nodes: {first} to {last} (their pods run with the fake runtime)");
    }
    let signal = termination().await?;
    println!("{signal}: shutting down");
    if let Some(nodes) = nodes {
        nodes.shutdown().await;
    }
    if let Some(scheduler) = scheduler {
        scheduler.shutdown().await;
    }
    manager.shutdown().await;
    server.shutdown().await;
    member.shutdown().await;
    println!("stopped");
    Ok(())
}

/// Waits for SIGTERM (what a service manager sends) or SIGINT (Ctrl-C); says which.
async fn termination() -> anyhow::Result<&'static str> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    Ok(tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    })
}

/// Starts a store member from its flags; its identity is in `pki_dir`, by default
/// `<data-dir>/pki` (made with a new CA on the first start of a single-member store).
async fn start_member(args: &ServeArgs, pki_dir: Option<PathBuf>) -> anyhow::Result<Member> {
    let peers = parse_peers(&args.peers)?;
    let pki_dir = pki_dir.unwrap_or_else(|| args.data_dir.join("pki"));
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("cannot create {}", args.data_dir.display()))?;
    ensure_identity(&pki_dir, &args.data_dir, peers.is_empty(), args.listen)?;
    let identity = pki::TlsIdentity::load(&pki_dir)?;
    let config = MemberConfig {
        id: args.id,
        data_dir: args.data_dir.clone(),
        listen: args.listen,
        peers,
        identity,
        snapshot_threshold: args.snapshot_threshold,
        logs_to_keep: args.logs_to_keep,
        progress_interval: Duration::from_millis(args.progress_interval_ms.max(10)),
        compaction_interval: (args.compaction_interval_seconds > 0)
            .then(|| Duration::from_secs(args.compaction_interval_seconds)),
        heartbeat_interval: Duration::from_millis(args.heartbeat_interval_ms),
        election_timeout_min: Duration::from_millis(args.election_timeout_min_ms),
        election_timeout_max: Duration::from_millis(args.election_timeout_max_ms),
    };
    Member::start(config).await
}

/// Runs a member; its identity is in `pki_dir`, by default `<data-dir>/pki` (made with a new
/// CA on the first start of a single-member store).
async fn serve(args: ServeArgs, pki_dir: Option<PathBuf>) -> anyhow::Result<()> {
    let pki_dir = pki_dir.unwrap_or_else(|| args.data_dir.join("pki"));
    let member = start_member(&args, Some(pki_dir.clone())).await?;
    println!(
        "keelson store member {} serving on {} (data dir {}, identity {})",
        member.id(),
        member.address(),
        args.data_dir.display(),
        pki_dir.display()
    );
    println!(
        "try: keelson store --endpoints {} --pki-dir {} status",
        member.address(),
        pki_dir.display()
    );
    let signal = termination().await?;
    println!("{signal}: shutting down");
    member.shutdown().await;
    Ok(())
}
