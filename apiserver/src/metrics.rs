//! `/metrics` in Prometheus text format: request counts and latencies by verb and code.

use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    verb: String,
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VerbLabels {
    verb: String,
}

/// Metrics of something running with the server, in Prometheus text.
pub type MetricsSource = Box<dyn Fn() -> String + Send + Sync>;

pub struct Metrics {
    registry: Mutex<Registry>,
    /// Metrics of the loops running with the server, appended to its own.
    sources: Mutex<Vec<MetricsSource>>,
    requests: Family<RequestLabels, Counter>,
    durations: Family<VerbLabels, Histogram>,
}

impl Default for Metrics {
    fn default() -> Metrics {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let durations = Family::<VerbLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 16))
        });
        registry.register(
            "apiserver_request",
            "Requests by verb and HTTP code",
            requests.clone(),
        );
        registry.register(
            "apiserver_request_duration_seconds",
            "Request latency by verb",
            durations.clone(),
        );
        Metrics {
            registry: Mutex::new(registry),
            sources: Mutex::new(Vec::new()),
            requests,
            durations,
        }
    }
}

impl Metrics {
    pub fn observe(&self, method: &str, code: u16, elapsed: Duration) {
        self.requests
            .get_or_create(&RequestLabels {
                verb: method.to_string(),
                code: code.to_string(),
            })
            .inc();
        self.durations
            .get_or_create(&VerbLabels {
                verb: method.to_string(),
            })
            .observe(elapsed.as_secs_f64());
    }

    /// Adds the metrics of something running with the server.
    pub fn add_source(&self, source: MetricsSource) {
        if let Ok(mut sources) = self.sources.lock() {
            sources.push(source);
        }
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Ok(registry) = self.registry.lock() {
            let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
        }
        if let Ok(sources) = self.sources.lock() {
            for source in sources.iter() {
                // Each source ends with its own `# EOF`; one is enough at the end.
                let text = out.trim_end().trim_end_matches("# EOF").to_string();
                out = text + &source();
            }
        }
        out
    }
}
