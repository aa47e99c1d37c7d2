//! The latency benchmark behind `postsearch bench`.
//!
//! Two targets: the library's [`Engine`] called in-process from C OS threads
//! (no HTTP), or a running server over HTTP/1.1 from C tasks of a tokio
//! client (hyper, keep-alive connections). Each request's latency goes into
//! an HDR histogram (microseconds, 1 µs to 60 s, 3 significant figures) per
//! worker and query kind; the histograms are merged at the end.
//!
//! **Load.** By default a closed loop: each of the C workers sends its next
//! request as soon as the previous one is answered. With a rate R it is an
//! open loop: request `i` (handed out by a shared counter) is due at
//! `t0 + i/R`, and its latency is measured from that scheduled time, not from
//! when a worker got round to sending it, so a stall is charged to every
//! request it delays (no coordinated omission). C then bounds the requests
//! in flight; when C is too small for R the latencies show it.
//!
//! A warm-up (1 s by default) runs first and is discarded; the run stops
//! after a duration or a number of requests.
//!
//! **Query file.** One query a line; blank lines and lines starting with `#`
//! are skipped:
//!
//! ```text
//! # kind keyword: plain words
//! n+1 queries
//! # kind phrase: the query holds a quote
//! "connection pool" exhaustion
//! # kind faceted: PARAMS after `?`, in the HTTP query-string form, with a facet
//! n+1 queries?facet=stack:django&sort=views
//! # kind prefix: prefix=true
//! kube?prefix=true
//! # kind similar: the posts similar to post ID
//! similar:alphanode-000042
//! # kind suggest: completions of PREFIX
//! suggest:kube
//! # any kind, said: @KIND QUERY (title, misspelt, question, rare, ...)
//! @misspelt deploymnet
//! ```
//!
//! A search line is `QUERY` optionally followed by `?PARAMS`, the
//! parameters of `/api/search` other than `q` (`facet`, `sort`, `limit`,
//! `prefix`, `match`, ...; checked as the server checks them). Its kind is
//! `faceted` when it has a facet, else `prefix` with `prefix=true`, else
//! `phrase` when the query holds a `"`, else `keyword`. Over HTTP the lines
//! become `/api/search?q=QUERY&PARAMS`, `/api/posts/ID/similar` and
//! `/api/suggest?q=PREFIX`.
//!
//! **Built-in mix.** Without a file, [`builtin_queries`] draws ~300 queries
//! from the index's own content, deterministically for a seed: it samples
//! live documents and makes, in equal shares, keyword (1–3 title words),
//! title (its words shuffled), phrase (2 consecutive title words in
//! quotes), misspelt (a title word with a letter dropped), question ("how
//! do i" and 2–5 body words), rare (the body's longest word), faceted (a
//! title word and one of the post's stacks), prefix (a title word cut to
//! 3–5 letters), similar (the post) and suggest (a 3–5 letter prefix)
//! queries.

mod http;
mod queries;
mod render;

pub use queries::{
    builtin_lines, builtin_queries, load_queries, parse_line, parse_queries, BenchQuery, Kind, Op,
    MIX_SIZE, SIDE_LIMIT,
};

use anyhow::{bail, Result};
use hdrhistogram::Histogram;
use http::HttpTarget;
use indexmap::IndexMap;
use postsearch_engine::Engine;

use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Highest latency recorded, in microseconds (longer ones are clamped).
pub const MAX_LATENCY_US: u64 = 60_000_000;

/// What the requests go to.
#[derive(Clone)]
pub enum Target {
    /// The library, in this process.
    Index(Box<Engine>),
    /// A server, e.g. `http://127.0.0.1:7700`.
    Http(String),
}

/// When the measured run stops.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stop {
    /// After this long (no request is started, or scheduled, later).
    Duration(Duration),
    /// After this many requests.
    Requests(u64),
}

/// Everything a run needs.
#[derive(Clone)]
pub struct BenchOptions {
    pub target: Target,
    pub queries: Vec<BenchQuery>,
    /// Workers (threads in-process, tasks and connections over HTTP).
    pub concurrency: usize,
    pub stop: Stop,
    /// Run this long first and discard it.
    pub warmup: Duration,
    /// Open loop at this many requests per second in total.
    pub rate: Option<f64>,
    /// An HTTP request taking longer is an error (`timeout`).
    pub timeout: Duration,
    /// A progress line on stderr once a second.
    pub progress: bool,
}

/// When request `i` of an open loop at `rate` requests/s is due, after the
/// start.
pub fn scheduled_offset(i: u64, rate: f64) -> Duration {
    Duration::from_secs_f64(i as f64 / rate)
}

/// Hands out requests: their number and when each is due.
struct Plan {
    start: Instant,
    stop: Stop,
    rate: Option<f64>,
    next: AtomicU64,
}

impl Plan {
    fn new(stop: Stop, rate: Option<f64>) -> Plan {
        Plan {
            start: Instant::now(),
            stop,
            rate,
            next: AtomicU64::new(0),
        }
    }

    /// The next request, or `None` when the run is over. Closed loop: due
    /// now. Open loop: due at `start + i/rate`.
    fn take(&self) -> Option<(u64, Instant)> {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        let due = match self.rate {
            Some(r) => self.start + scheduled_offset(i, r),
            None => Instant::now(),
        };
        match self.stop {
            Stop::Requests(n) if i >= n => None,
            Stop::Duration(d) if due >= self.start + d => None,
            _ => Some((i, due)),
        }
    }
}

/// Counters the progress line reads.
#[derive(Default)]
struct Live {
    done: AtomicU64,
    errors: AtomicU64,
    finished: AtomicBool,
}

/// One worker's measurements.
struct Recorder {
    hists: Vec<Histogram<u64>>,
    requests: [u64; Kind::ALL.len()],
    errors: [u64; Kind::ALL.len()],
    errors_by_kind: BTreeMap<String, u64>,
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("valid histogram bounds")
}

impl Recorder {
    fn new() -> Recorder {
        Recorder {
            hists: Kind::ALL.iter().map(|_| histogram()).collect(),
            requests: [0; Kind::ALL.len()],
            errors: [0; Kind::ALL.len()],
            errors_by_kind: BTreeMap::new(),
        }
    }

    fn record(&mut self, live: &Live, kind: Kind, latency: Duration, error: Option<String>) {
        let k = kind.index();
        self.requests[k] += 1;
        match error {
            None => {
                let us = (latency.as_micros() as u64).clamp(1, MAX_LATENCY_US);
                self.hists[k].saturating_record(us);
            }
            Some(e) => {
                self.errors[k] += 1;
                *self.errors_by_kind.entry(e).or_default() += 1;
                live.errors.fetch_add(1, Ordering::Relaxed);
            }
        }
        live.done.fetch_add(1, Ordering::Relaxed);
    }

    fn merge(&mut self, other: Recorder) {
        for k in 0..Kind::ALL.len() {
            self.hists[k]
                .add(&other.hists[k])
                .expect("histograms with the same bounds");
            self.requests[k] += other.requests[k];
            self.errors[k] += other.errors[k];
        }
        for (e, n) in other.errors_by_kind {
            *self.errors_by_kind.entry(e).or_default() += n;
        }
    }
}

/// Latency and throughput of one kind (or of all).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KindStats {
    /// Requests answered (successes and errors).
    pub requests: u64,
    pub errors: u64,
    /// Requests per second over the run.
    pub qps: f64,
    /// Percentiles of the successful requests' latency.
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

impl KindStats {
    fn of(h: &Histogram<u64>, requests: u64, errors: u64, secs: f64) -> KindStats {
        let ms = |q: f64| {
            if h.is_empty() {
                0.0
            } else {
                h.value_at_quantile(q) as f64 / 1000.0
            }
        };
        KindStats {
            requests,
            errors,
            qps: requests as f64 / secs.max(1e-9),
            p50_ms: ms(0.5),
            p90_ms: ms(0.9),
            p99_ms: ms(0.99),
            p999_ms: ms(0.999),
            max_ms: if h.is_empty() {
                0.0
            } else {
                h.max() as f64 / 1000.0
            },
        }
    }
}

/// A latency distribution for the plot: (percentile, ms) points.
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// The result of a run; serializes to the `--json` object.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// `index` or `http`.
    pub mode: String,
    pub concurrency: usize,
    /// Length of the measured run.
    pub duration_s: f64,
    pub overall: KindStats,
    /// Per kind present in the queries, in [`Kind::ALL`] order.
    pub kinds: IndexMap<String, KindStats>,
    /// Errors by cause: `http_500`, `connect`, `timeout`, `bad_request`...
    pub errors_by_kind: BTreeMap<String, u64>,
    /// The target: the index directory or the URL.
    #[serde(skip)]
    pub target: String,
    /// The open-loop rate, if any.
    #[serde(skip)]
    pub rate: Option<f64>,
    /// Distinct queries in the mix.
    #[serde(skip)]
    pub queries: usize,
    /// Latency distributions per kind, then overall, for the HTML report.
    #[serde(skip)]
    pub curves: Vec<Curve>,
}

/// Runs the warm-up, then the measured run, and reports.
pub fn run(opts: &BenchOptions) -> Result<BenchReport> {
    if opts.queries.is_empty() {
        bail!("no queries to run");
    }
    if opts.concurrency == 0 {
        bail!("concurrency must be at least 1");
    }
    if let Some(r) = opts.rate {
        if !(r.is_finite() && r > 0.0) {
            bail!("rate must be a positive number of requests per second");
        }
    }
    let http = match &opts.target {
        Target::Http(base) => Some(HttpTarget::new(base, &opts.queries, opts.concurrency)?),
        Target::Index(_) => None,
    };
    if !opts.warmup.is_zero() {
        phase(opts, http.as_ref(), Stop::Duration(opts.warmup), "warmup")?;
    }
    let (rec, secs) = phase(opts, http.as_ref(), opts.stop, "")?;
    Ok(report(opts, rec, secs))
}

/// One timed phase: workers and the progress line.
fn phase(
    opts: &BenchOptions,
    http: Option<&HttpTarget>,
    stop: Stop,
    label: &str,
) -> Result<(Recorder, f64)> {
    let live = Live::default();
    let plan = Plan::new(stop, opts.rate);
    let result = std::thread::scope(|s| {
        if opts.progress {
            s.spawn(|| progress(&live, plan.start, label));
        }
        let result = match (&opts.target, http) {
            (_, Some(h)) => h.run(opts, &plan, &live),
            (Target::Index(engine), None) => Ok(run_in_process(engine, opts, &plan, &live)),
            (Target::Http(_), None) => unreachable!("HTTP target prepared in run"),
        };
        live.finished.store(true, Ordering::Relaxed);
        result
    });
    let secs = plan.start.elapsed().as_secs_f64();
    Ok((result?, secs))
}

fn progress(live: &Live, start: Instant, label: &str) {
    let mut printed = false;
    let mut next = 1;
    while !live.finished.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(50));
        let secs = start.elapsed().as_secs_f64();
        if secs < next as f64 {
            continue;
        }
        next = secs as u64 + 1;
        let done = live.done.load(Ordering::Relaxed);
        let _ = write!(
            std::io::stderr(),
            "\r{:>4} s  {} req  {} req/s  errors {}{}  ",
            secs as u64,
            thousands(done),
            thousands((done as f64 / secs) as u64),
            thousands(live.errors.load(Ordering::Relaxed)),
            if label.is_empty() {
                String::new()
            } else {
                format!("  ({label})")
            }
        );
        printed = true;
    }
    if printed {
        let _ = writeln!(std::io::stderr());
    }
}

/// `1234567` → `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn run_in_process(engine: &Engine, opts: &BenchOptions, plan: &Plan, live: &Live) -> Recorder {
    let n = opts.queries.len() as u64;
    let recorders: Vec<Recorder> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..opts.concurrency)
            .map(|_| {
                s.spawn(move || {
                    let mut rec = Recorder::new();
                    while let Some((i, due)) = plan.take() {
                        let now = Instant::now();
                        if due > now {
                            std::thread::sleep(due - now);
                        }
                        let q = &opts.queries[(i % n) as usize];
                        let error = execute(engine, &q.op)
                            .err()
                            .map(|e| e.code().as_str().to_string());
                        rec.record(live, q.kind, due.elapsed(), error);
                    }
                    rec
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("benchmark worker panicked"))
            .collect()
    });
    merge_all(recorders)
}

fn merge_all(recorders: Vec<Recorder>) -> Recorder {
    let mut total = Recorder::new();
    for r in recorders {
        total.merge(r);
    }
    total
}

/// One engine call; the answer is dropped.
fn execute(engine: &Engine, op: &Op) -> postsearch_engine::Result<()> {
    match op {
        Op::Search(req) => engine.search(req).map(|r| drop(std::hint::black_box(r))),
        Op::Similar(id) => engine
            .similar(id, SIDE_LIMIT)
            .map(|r| drop(std::hint::black_box(r))),
        Op::Suggest(q) => engine
            .suggest(q, SIDE_LIMIT)
            .map(|r| drop(std::hint::black_box(r))),
    }
}

/// Percentiles of the plot's x axis: 0 to 99.99, evenly spaced in
/// `-log10(1 - p)`.
fn plot_percentiles() -> Vec<f64> {
    (0..=200)
        .map(|i| {
            let x = i as f64 * 4.0 / 200.0;
            100.0 * (1.0 - 10f64.powf(-x))
        })
        .collect()
}

fn curve(name: &str, h: &Histogram<u64>) -> Curve {
    let points = if h.is_empty() {
        Vec::new()
    } else {
        plot_percentiles()
            .into_iter()
            .map(|p| (p, h.value_at_percentile(p) as f64 / 1000.0))
            .collect()
    };
    Curve {
        name: name.to_string(),
        points,
    }
}

fn report(opts: &BenchOptions, rec: Recorder, secs: f64) -> BenchReport {
    let mut all = histogram();
    let mut kinds = IndexMap::new();
    let mut curves = Vec::new();
    let present: Vec<Kind> = Kind::ALL
        .into_iter()
        .filter(|k| opts.queries.iter().any(|q| q.kind == *k))
        .collect();
    for k in present {
        let i = k.index();
        all.add(&rec.hists[i]).expect("same bounds");
        kinds.insert(
            k.name().to_string(),
            KindStats::of(&rec.hists[i], rec.requests[i], rec.errors[i], secs),
        );
        curves.push(curve(k.name(), &rec.hists[i]));
    }
    curves.push(curve("all", &all));
    let (mode, target) = match &opts.target {
        Target::Index(e) => (
            "index",
            e.index()
                .path()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "(in memory)".into()),
        ),
        Target::Http(url) => ("http", url.clone()),
    };
    BenchReport {
        mode: mode.to_string(),
        concurrency: opts.concurrency,
        duration_s: secs,
        overall: KindStats::of(
            &all,
            rec.requests.iter().sum(),
            rec.errors.iter().sum(),
            secs,
        ),
        kinds,
        errors_by_kind: rec.errors_by_kind,
        target,
        rate: opts.rate,
        queries: opts.queries.len(),
        curves,
    }
}

/// Helpers shared by the benchmark's tests.
#[cfg(test)]
mod test_support {
    use super::{parse_line, BenchQuery};
    use postsearch_engine::Limits;
    use postsearch_store::index::PostIndex;

    /// The query of one query-file line.
    pub(super) fn parse(line: &str) -> BenchQuery {
        parse_line(line, &Limits::default())
            .unwrap()
            .expect("a query")
    }

    /// A small index of generated posts.
    pub(super) fn small_index() -> PostIndex {
        postsearch_corpus::in_ram_segment(7, 200)
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::{parse, small_index};
    use super::*;
    use postsearch_engine::{Limits, RankingConfig};

    #[test]
    fn open_loop_schedule() {
        assert_eq!(scheduled_offset(0, 100.0), Duration::ZERO);
        assert_eq!(scheduled_offset(1, 100.0), Duration::from_millis(10));
        assert_eq!(scheduled_offset(250, 100.0), Duration::from_millis(2500));
        assert_eq!(scheduled_offset(3, 0.5), Duration::from_secs(6));
        // With a duration, exactly rate × duration requests are scheduled.
        let plan = Plan::new(Stop::Duration(Duration::from_millis(500)), Some(1000.0));
        let mut n = 0;
        let mut last = plan.start;
        while let Some((i, due)) = plan.take() {
            assert_eq!(i, n);
            assert_eq!(due - plan.start, scheduled_offset(i, 1000.0));
            assert!(due >= last);
            last = due;
            n += 1;
        }
        assert_eq!(n, 500);
        // With a count, exactly that many, due now in a closed loop.
        let plan = Plan::new(Stop::Requests(7), None);
        let before = Instant::now();
        let mut n = 0;
        while let Some((_, due)) = plan.take() {
            assert!(due >= before);
            n += 1;
        }
        assert_eq!(n, 7);
    }

    #[test]
    fn latency_is_measured_from_the_scheduled_time() {
        // An open loop at 100 req/s over one slow engine worker: requests
        // fall behind their schedule, and the wait counts as latency.
        let index = small_index();
        let engine = Engine::new(index, RankingConfig::default());
        let opts = BenchOptions {
            target: Target::Index(Box::new(engine)),
            queries: vec![parse("kube")],
            concurrency: 1,
            stop: Stop::Requests(20),
            warmup: Duration::ZERO,
            rate: Some(100.0),
            timeout: Duration::from_secs(10),
            progress: false,
        };
        let r = run(&opts).unwrap();
        assert_eq!(r.overall.requests, 20);
        assert!(r.duration_s >= 0.19, "{}", r.duration_s);
    }

    #[test]
    fn engine_errors_are_counted_by_kind() {
        let index = small_index();
        let engine = Engine::new(index, RankingConfig::default());
        let opts = BenchOptions {
            target: Target::Index(Box::new(engine)),
            queries: vec![parse("similar:no-such-post"), parse("kube")],
            concurrency: 1,
            stop: Stop::Requests(10),
            warmup: Duration::ZERO,
            rate: None,
            timeout: Duration::from_secs(10),
            progress: false,
        };
        let r = run(&opts).unwrap();
        assert_eq!(r.overall.errors, 5);
        assert_eq!(r.errors_by_kind["not_found"], 5);
        assert_eq!(r.kinds["similar"].errors, 5);
        assert_eq!(r.kinds["keyword"].errors, 0);
    }

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(45678), "45,678");
        assert_eq!(thousands(1234567), "1,234,567");
    }

    #[test]
    fn report_json_shape() {
        let index = small_index();
        let engine = Engine::new(index.clone(), RankingConfig::default());
        let queries = builtin_queries(&index, 3, &Limits::default()).unwrap();
        let opts = BenchOptions {
            target: Target::Index(Box::new(engine)),
            queries,
            concurrency: 2,
            stop: Stop::Requests(100),
            warmup: Duration::ZERO,
            rate: None,
            timeout: Duration::from_secs(10),
            progress: false,
        };
        let r = run(&opts).unwrap();
        let v = serde_json::to_value(&r).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "mode",
                "concurrency",
                "duration_s",
                "overall",
                "kinds",
                "errors_by_kind"
            ]
        );
        assert_eq!(v["mode"], "index");
        assert_eq!(v["concurrency"], 2);
        let stat_keys = [
            "requests", "errors", "qps", "p50_ms", "p90_ms", "p99_ms", "p999_ms", "max_ms",
        ];
        let overall: Vec<&str> = v["overall"]
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        assert_eq!(overall, stat_keys);
        assert_eq!(v["overall"]["requests"], 100);
        assert_eq!(v["overall"]["errors"], 0);
        let kinds: Vec<&str> = v["kinds"]
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        assert_eq!(
            kinds,
            [
                "keyword", "title", "phrase", "misspelt", "question", "rare", "faceted", "prefix",
                "similar", "suggest"
            ]
        );
        for k in &kinds {
            let s = &v["kinds"][k];
            assert_eq!(s.as_object().unwrap().len(), stat_keys.len());
            assert_eq!(s["requests"], 10, "{k}");
            let (p50, p99, max) = (
                s["p50_ms"].as_f64().unwrap(),
                s["p99_ms"].as_f64().unwrap(),
                s["max_ms"].as_f64().unwrap(),
            );
            assert!(p50 > 0.0 && p50 <= p99 && p99 <= max, "{s}");
        }
        assert_eq!(v["errors_by_kind"], serde_json::json!({}));
        let html = r.html();
        assert!(html.contains("<svg") && html.contains("<polyline"));
        assert!(!html.contains("<script") && !html.contains("http-equiv"));
        assert!(r.table().contains("suggest"));
    }
}
