//! Each loop's metrics in upstream's workqueue names, labelled by the loop's name:
//! `workqueue_adds_total` (reconciles started), `workqueue_retries_total` (reconciles that
//! failed and are tried again), `workqueue_depth` (reconciles in progress) and
//! `workqueue_work_duration_seconds` (how long reconciles take). [`LoopMetrics::render`]
//! gives them in Prometheus text, which the API server's `/metrics` appends.

use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Name {
    name: String,
}

pub struct LoopMetrics {
    registry: Mutex<Registry>,
    adds: Family<Name, Counter>,
    retries: Family<Name, Counter>,
    depth: Family<Name, Gauge>,
    work: Family<Name, Histogram>,
}

impl Default for LoopMetrics {
    fn default() -> LoopMetrics {
        let mut registry = Registry::default();
        let adds = Family::<Name, Counter>::default();
        let retries = Family::<Name, Counter>::default();
        let depth = Family::<Name, Gauge>::default();
        let work = Family::<Name, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(1e-5, 10.0, 8))
        });
        registry.register(
            "workqueue_adds",
            "Reconciles started, by loop",
            adds.clone(),
        );
        registry.register(
            "workqueue_retries",
            "Failed reconciles tried again, by loop",
            retries.clone(),
        );
        registry.register(
            "workqueue_depth",
            "Reconciles in progress, by loop",
            depth.clone(),
        );
        registry.register(
            "workqueue_work_duration_seconds",
            "How long reconciles take, by loop",
            work.clone(),
        );
        LoopMetrics {
            registry: Mutex::new(registry),
            adds,
            retries,
            depth,
            work,
        }
    }
}

impl LoopMetrics {
    fn label(name: &str) -> Name {
        Name {
            name: name.to_string(),
        }
    }

    /// A reconcile of `name` starts.
    pub fn started(&self, name: &str) {
        self.adds.get_or_create(&Self::label(name)).inc();
        self.depth.get_or_create(&Self::label(name)).inc();
    }

    /// A reconcile of `name` ended after `took`; `failed` when it is to be tried again.
    pub fn finished(&self, name: &str, took: Duration, failed: bool) {
        self.depth.get_or_create(&Self::label(name)).dec();
        self.work
            .get_or_create(&Self::label(name))
            .observe(took.as_secs_f64());
        if failed {
            self.retries.get_or_create(&Self::label(name)).inc();
        }
    }

    /// The metrics in Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Ok(registry) = self.registry.lock() {
            let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
        }
        out
    }
}
