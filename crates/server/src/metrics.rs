//! Prometheus metrics: requests by route, method and status, a latency
//! histogram per route, documents in the index and commits.

use prometheus_client::encoding::{text::encode, EncodeLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

/// The server's metrics registry.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    documents: Gauge,
    commits: Counter,
    stopped: Family<StopLabels, Counter>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StopLabels {
    route: String,
    /// `timeout` (answered 503) or `client_gone`.
    reason: String,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A registry with every metric registered.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("postsearch");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            // 50 µs .. ~3.3 s
            Histogram::new(exponential_buckets(0.00005, 2.0, 17))
        });
        let documents = Gauge::default();
        let commits = Counter::default();
        registry.register(
            "http_requests",
            "HTTP requests by route, method and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route",
            latency.clone(),
        );
        registry.register(
            "index_documents",
            "Documents in the index",
            documents.clone(),
        );
        registry.register(
            "index_commits",
            "Commits made by this server",
            commits.clone(),
        );
        let stopped = Family::<StopLabels, Counter>::default();
        registry.register(
            "requests_stopped",
            "Requests whose work was stopped before it finished, by route and reason (timeout: answered 503; client_gone: the client closed the connection)",
            stopped.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            documents,
            commits,
            stopped,
        }
    }

    /// Records a request whose work was stopped (`reason`: `timeout` or
    /// `client_gone`).
    pub fn stopped(&self, route: &str, reason: &str) {
        self.stopped
            .get_or_create(&StopLabels {
                route: route.to_string(),
                reason: reason.to_string(),
            })
            .inc();
    }

    /// Records one answered request.
    pub fn observe(&self, route: &str, method: &str, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabels {
                route: route.to_string(),
                method: method.to_string(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels {
                route: route.to_string(),
            })
            .observe(seconds);
    }

    /// Counts a commit.
    pub fn commit(&self) {
        self.commits.inc();
    }

    /// The metrics in Prometheus text format, with `documents` set first.
    pub fn render(&self, documents: u64) -> String {
        self.documents.set(documents as i64);
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}
