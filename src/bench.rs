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
//! phrase (2 consecutive title words in quotes), faceted (a title word and
//! one of the post's stacks), prefix (a title word cut to 3–5 letters),
//! similar (the post) and suggest (a 3–5 letter prefix) queries.

use anyhow::{bail, Context, Result};
use hdrhistogram::Histogram;
use indexmap::IndexMap;
use postsearch_engine::Limits;
use postsearch_engine::{Engine, SearchRequest};
use postsearch_server::params::search_request;
use postsearch_store::index::PostIndex;
use postsearch_store::post::Post;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use unicode_segmentation::UnicodeSegmentation;

/// Hits asked of `similar` and `suggest` (the HTTP defaults).
pub const SIDE_LIMIT: usize = 5;
/// Queries in the built-in mix.
pub const MIX_SIZE: usize = 300;
/// Highest latency recorded, in microseconds (longer ones are clamped).
pub const MAX_LATENCY_US: u64 = 60_000_000;

/// What a query exercises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Keyword,
    Phrase,
    Faceted,
    Prefix,
    Similar,
    Suggest,
}

impl Kind {
    /// Every kind, in report order.
    pub const ALL: [Kind; 6] = [
        Kind::Keyword,
        Kind::Phrase,
        Kind::Faceted,
        Kind::Prefix,
        Kind::Similar,
        Kind::Suggest,
    ];

    /// The kind's name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Keyword => "keyword",
            Kind::Phrase => "phrase",
            Kind::Faceted => "faceted",
            Kind::Prefix => "prefix",
            Kind::Similar => "similar",
            Kind::Suggest => "suggest",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The engine call of a query.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Search(Box<SearchRequest>),
    Similar(String),
    Suggest(String),
}

/// One benchmark query: its kind, the engine call and the HTTP path.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchQuery {
    pub kind: Kind,
    pub op: Op,
    /// Path and query string of the HTTP request.
    pub path: String,
}

/// Parses one query-file line; `None` for a blank line or a comment.
pub fn parse_line(line: &str, limits: &Limits) -> Result<Option<BenchQuery>> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    if let Some(id) = line.strip_prefix("similar:") {
        let id = id.trim();
        if id.is_empty() {
            bail!("similar: needs a post id");
        }
        return Ok(Some(BenchQuery {
            kind: Kind::Similar,
            op: Op::Similar(id.to_string()),
            path: format!("/api/posts/{}/similar", encode_segment(id)),
        }));
    }
    if let Some(prefix) = line.strip_prefix("suggest:") {
        let prefix = prefix.trim_start();
        let raw = form_urlencoded::Serializer::new(String::new())
            .append_pair("q", prefix)
            .finish();
        return Ok(Some(BenchQuery {
            kind: Kind::Suggest,
            op: Op::Suggest(prefix.to_string()),
            path: format!("/api/suggest?{raw}"),
        }));
    }
    let (q, params) = split_params(line);
    let mut raw = form_urlencoded::Serializer::new(String::new())
        .append_pair("q", q.trim())
        .finish();
    if !params.is_empty() {
        raw.push('&');
        raw.push_str(params);
    }
    let req = search_request(&raw, limits).map_err(|e| anyhow::anyhow!("{e}"))?;
    let kind = if !req.facets.is_empty() {
        Kind::Faceted
    } else if req.prefix {
        Kind::Prefix
    } else if req.q.contains('"') {
        Kind::Phrase
    } else {
        Kind::Keyword
    };
    Ok(Some(BenchQuery {
        kind,
        op: Op::Search(Box::new(req)),
        path: format!("/api/search?{raw}"),
    }))
}

/// Splits `QUERY?PARAMS` at the last `?` when what follows looks like
/// parameters (`name=value` pairs joined by `&`); else the whole line is the
/// query (`why is it slow?`).
fn split_params(line: &str) -> (&str, &str) {
    if let Some((q, params)) = line.rsplit_once('?') {
        let looks_like_params = !params.is_empty()
            && params.split('&').all(|pair| match pair.split_once('=') {
                Some((name, _)) => {
                    !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                }
                None => false,
            });
        if looks_like_params {
            return (q, params);
        }
    }
    (line, "")
}

/// Percent-encodes one path segment.
fn encode_segment(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Parses a whole query file's text; errors name the line.
pub fn parse_queries(text: &str, limits: &Limits) -> Result<Vec<BenchQuery>> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if let Some(q) = parse_line(line, limits).with_context(|| format!("line {}", n + 1))? {
            out.push(q);
        }
    }
    if out.is_empty() {
        bail!("no queries (every line is blank or a comment)");
    }
    Ok(out)
}

/// Reads and parses a query file.
pub fn load_queries(path: &Path, limits: &Limits) -> Result<Vec<BenchQuery>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    parse_queries(&text, limits).with_context(|| path.display().to_string())
}

/// The built-in mix as query-file lines: `n` queries drawn from live
/// documents of `index`, the same for the same seed and index.
pub fn builtin_lines(index: &PostIndex, seed: u64, n: usize) -> Result<Vec<String>> {
    let searcher = index.searcher();
    if searcher.num_docs() == 0 {
        bail!("the index is empty; there is nothing to draw queries from");
    }
    let segments = searcher.segment_readers();
    let total: u64 = segments.iter().map(|s| s.max_doc() as u64).sum();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut lines = Vec::with_capacity(n);
    let mut attempts = 0;
    while lines.len() < n && attempts < n * 100 {
        attempts += 1;
        // A uniform document number over all segments, then its segment.
        let mut doc = rng.gen_range(0..total);
        let mut ord = 0;
        while doc >= segments[ord].max_doc() as u64 {
            doc -= segments[ord].max_doc() as u64;
            ord += 1;
        }
        let doc = doc as u32;
        if segments[ord].is_deleted(doc) {
            continue;
        }
        let post = index.post_at(&searcher, tantivy::DocAddress::new(ord as u32, doc))?;
        let kind = Kind::ALL[lines.len() % Kind::ALL.len()];
        if let Some(line) = mix_line(kind, &post, &mut rng) {
            lines.push(line);
        }
    }
    if lines.is_empty() {
        bail!("no usable queries could be drawn from the index");
    }
    Ok(lines)
}

/// The built-in mix, parsed.
pub fn builtin_queries(index: &PostIndex, seed: u64, limits: &Limits) -> Result<Vec<BenchQuery>> {
    builtin_lines(index, seed, MIX_SIZE)?
        .iter()
        .map(|line| parse_line(line, limits)?.with_context(|| format!("built-in query {line:?}")))
        .collect()
}

/// One query of `kind` from `post`, or `None` when the post has no material
/// for it (no stack, no word long enough).
fn mix_line(kind: Kind, post: &Post, rng: &mut ChaCha8Rng) -> Option<String> {
    // Title words the tokenizer keeps whole: letters and digits only.
    let all: Vec<String> = post
        .title
        .unicode_words()
        .filter(|w| w.chars().all(char::is_alphanumeric))
        .map(str::to_lowercase)
        .collect();
    let words: Vec<&String> = all.iter().filter(|w| w.chars().count() >= 3).collect();
    let long: Vec<&String> = all.iter().filter(|w| w.chars().count() >= 4).collect();
    let pick = |rng: &mut ChaCha8Rng, v: &[&String]| -> Option<String> {
        (!v.is_empty()).then(|| v[rng.gen_range(0..v.len())].to_string())
    };
    let cut = |rng: &mut ChaCha8Rng, w: String| -> String {
        let n = rng.gen_range(3..=5);
        w.chars().take(n).collect()
    };
    match kind {
        Kind::Keyword => {
            if words.is_empty() {
                return None;
            }
            let n = rng.gen_range(1..=3).min(words.len());
            let start = rng.gen_range(0..=words.len() - n);
            Some(
                words[start..start + n]
                    .iter()
                    .map(|w| w.as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
            )
        }
        Kind::Phrase => {
            if all.len() < 2 {
                return None;
            }
            let i = rng.gen_range(0..all.len() - 1);
            Some(format!("\"{} {}\"", all[i], all[i + 1]))
        }
        Kind::Faceted => {
            let stacks: Vec<&String> = post
                .stack
                .as_deref()
                .unwrap_or_default()
                .iter()
                .filter(|s| !s.trim().is_empty())
                .collect();
            if stacks.is_empty() {
                return None;
            }
            let word = pick(rng, &words)?;
            let stack = stacks[rng.gen_range(0..stacks.len())];
            let params = form_urlencoded::Serializer::new(String::new())
                .append_pair("facet", &format!("stack:{stack}"))
                .finish();
            Some(format!("{word}?{params}"))
        }
        Kind::Prefix => {
            let word = pick(rng, &long)?;
            Some(format!("{}?prefix=true", cut(rng, word)))
        }
        Kind::Similar => Some(format!("similar:{}", post.id)),
        Kind::Suggest => {
            let word = pick(rng, &long)?;
            Some(format!("suggest:{}", cut(rng, word)))
        }
    }
}

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
    requests: [u64; 6],
    errors: [u64; 6],
    errors_by_kind: BTreeMap<String, u64>,
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("valid histogram bounds")
}

impl Recorder {
    fn new() -> Recorder {
        Recorder {
            hists: Kind::ALL.iter().map(|_| histogram()).collect(),
            requests: [0; 6],
            errors: [0; 6],
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

/// A server to send the queries to: a tokio runtime and a keep-alive client.
struct HttpTarget {
    runtime: tokio::runtime::Runtime,
    client: hyper::Client<hyper::client::HttpConnector>,
    uris: Vec<hyper::Uri>,
}

impl HttpTarget {
    fn new(base: &str, queries: &[BenchQuery], concurrency: usize) -> Result<HttpTarget> {
        let base = base.trim_end_matches('/');
        if !base.starts_with("http://") {
            bail!("--url must be http://HOST:PORT (got {base:?}; https is not supported)");
        }
        let uris = queries
            .iter()
            .map(|q| {
                format!("{base}{}", q.path)
                    .parse::<hyper::Uri>()
                    .with_context(|| format!("bad URL {base}{}", q.path))
            })
            .collect::<Result<Vec<_>>>()?;
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .min(concurrency)
            .max(1);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()?;
        let mut connector = hyper::client::HttpConnector::new();
        connector.set_nodelay(true);
        let client = {
            let _guard = runtime.enter();
            hyper::Client::builder()
                .pool_max_idle_per_host(concurrency)
                .pool_idle_timeout(Duration::from_secs(90))
                .build(connector)
        };
        Ok(HttpTarget {
            runtime,
            client,
            uris,
        })
    }

    fn run(&self, opts: &BenchOptions, plan: &Plan, live: &Live) -> Result<Recorder> {
        self.runtime.block_on(async {
            // The workers borrow the plan and the queries, so they are
            // joined in place rather than spawned ('static); the multi-
            // thread runtime still drives the connections' I/O.
            let workers = (0..opts.concurrency).map(|_| self.worker(opts, plan, live));
            let recorders = futures_util::future::join_all(workers).await;
            Ok(merge_all(recorders))
        })
    }

    async fn worker(&self, opts: &BenchOptions, plan: &Plan, live: &Live) -> Recorder {
        let n = opts.queries.len() as u64;
        let mut rec = Recorder::new();
        while let Some((i, due)) = plan.take() {
            // Closed loop: due now, so no timer at all (tokio's timer ticks
            // in whole milliseconds: sleeping "until now" waits for the
            // next tick, ~0.5 ms on average, which would be counted as
            // latency). Open loop: wait for the scheduled time.
            if due > Instant::now() {
                tokio::time::sleep_until(tokio::time::Instant::from_std(due)).await;
            }
            let k = (i % n) as usize;
            let error = match tokio::time::timeout(opts.timeout, self.fetch(&self.uris[k])).await {
                Err(_) => Some("timeout".to_string()),
                Ok(Err(e)) => Some(classify(&e).to_string()),
                Ok(Ok(status)) if !(200..300).contains(&status) => Some(format!("http_{status}")),
                Ok(Ok(_)) => None,
            };
            rec.record(live, opts.queries[k].kind, due.elapsed(), error);
        }
        rec
    }

    async fn fetch(&self, uri: &hyper::Uri) -> Result<u16, hyper::Error> {
        let resp = self.client.get(uri.clone()).await?;
        let status = resp.status().as_u16();
        hyper::body::to_bytes(resp.into_body()).await?;
        Ok(status)
    }
}

fn classify(e: &hyper::Error) -> &'static str {
    if e.is_connect() {
        "connect"
    } else if e.is_timeout() {
        "timeout"
    } else if e.is_incomplete_message() || e.is_closed() {
        "closed"
    } else {
        "io"
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

impl BenchReport {
    /// One line on what was measured.
    pub fn headline(&self) -> String {
        let load = match self.rate {
            Some(r) => format!("open loop at {r} req/s"),
            None => "closed loop".to_string(),
        };
        format!(
            "{} {}, concurrency {}, {load}, {} queries, {:.1} s",
            self.mode, self.target, self.concurrency, self.queries, self.duration_s
        )
    }

    fn rows(&self) -> Vec<(&str, &KindStats)> {
        let mut rows: Vec<(&str, &KindStats)> =
            self.kinds.iter().map(|(k, s)| (k.as_str(), s)).collect();
        rows.push(("all", &self.overall));
        rows
    }

    /// The human table.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{}", self.headline());
        let _ = writeln!(
            out,
            "{:<8} {:>10} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "kind", "requests", "errors", "qps", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms"
        );
        for (name, s) in self.rows() {
            let _ = writeln!(
                out,
                "{:<8} {:>10} {:>7} {:>9.1} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.3}",
                name,
                thousands(s.requests),
                thousands(s.errors),
                s.qps,
                s.p50_ms,
                s.p90_ms,
                s.p99_ms,
                s.p999_ms,
                s.max_ms
            );
        }
        if !self.errors_by_kind.is_empty() {
            let errors: Vec<String> = self
                .errors_by_kind
                .iter()
                .map(|(k, n)| format!("{k} {n}"))
                .collect();
            let _ = writeln!(out, "errors: {}", errors.join(", "));
        }
        out
    }

    /// A self-contained HTML page: the latency distribution of every kind
    /// as an inline SVG plot, and the table.
    pub fn html(&self) -> String {
        let mut h = String::new();
        let title = format!("postsearch bench: {}", self.headline());
        let _ = write!(
            h,
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <title>{}</title>\n<style>\
             body{{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}}\
             table{{border-collapse:collapse;margin-top:1em}}\
             th,td{{padding:.25em .8em;text-align:right;border-bottom:1px solid #ddd}}\
             th:first-child,td:first-child{{text-align:left}}\
             tr.all td{{font-weight:600}}svg text{{font-size:12px;fill:#444}}\
             </style></head><body>\n<h1>postsearch latency</h1>\n<p>{}</p>\n",
            escape(&title),
            escape(&self.headline())
        );
        h.push_str(&self.svg());
        h.push_str("\n<table><tr><th>kind</th><th>requests</th><th>errors</th><th>qps</th><th>p50 ms</th><th>p90 ms</th><th>p99 ms</th><th>p99.9 ms</th><th>max ms</th></tr>\n");
        for (name, s) in self.rows() {
            let _ = writeln!(
                h,
                "<tr{}><td>{}</td><td>{}</td><td>{}</td><td>{:.1}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td></tr>",
                if name == "all" { " class=\"all\"" } else { "" },
                escape(name),
                thousands(s.requests),
                thousands(s.errors),
                s.qps,
                s.p50_ms,
                s.p90_ms,
                s.p99_ms,
                s.p999_ms,
                s.max_ms
            );
        }
        h.push_str("</table>\n");
        if !self.errors_by_kind.is_empty() {
            h.push_str("<p>errors: ");
            let parts: Vec<String> = self
                .errors_by_kind
                .iter()
                .map(|(k, n)| format!("{} {n}", escape(k)))
                .collect();
            h.push_str(&parts.join(", "));
            h.push_str("</p>\n");
        }
        h.push_str("<p>Latency of successful requests by percentile (x: 0 to 99.99, spaced by −log₁₀(1 − p); y: milliseconds, log scale).</p>\n</body></html>\n");
        h
    }

    fn svg(&self) -> String {
        const COLORS: [&str; 7] = [
            "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#222222",
        ];
        let (w, ht) = (760.0, 420.0);
        let (left, right, top, bottom) = (60.0, 130.0, 20.0, 40.0);
        let (pw, ph) = (w - left - right, ht - top - bottom);
        let values: Vec<f64> = self
            .curves
            .iter()
            .flat_map(|c| c.points.iter().map(|p| p.1))
            .filter(|v| *v > 0.0)
            .collect();
        let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = values.iter().copied().fold(0.0, f64::max);
        let (lo, hi) = if values.is_empty() {
            (0.001, 1.0)
        } else {
            (
                10f64.powf(lo.log10().floor()),
                10f64.powf(hi.log10().ceil().max(lo.log10().floor() + 1.0)),
            )
        };
        let x_of = |p: f64| left + pw * (-(1.0 - p / 100.0).max(1e-4).log10()) / 4.0;
        let y_of = |ms: f64| {
            let ms = ms.max(lo);
            top + ph * (1.0 - (ms.log10() - lo.log10()) / (hi.log10() - lo.log10()))
        };
        let mut s = String::new();
        let _ = write!(
            s,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{ht}\" viewBox=\"0 0 {w} {ht}\" role=\"img\" aria-label=\"latency by percentile\">\n\
             <rect x=\"{left}\" y=\"{top}\" width=\"{pw}\" height=\"{ph}\" fill=\"none\" stroke=\"#999\"/>\n"
        );
        for (p, label) in [
            (0.0, "0"),
            (50.0, "50"),
            (90.0, "90"),
            (99.0, "99"),
            (99.9, "99.9"),
            (99.99, "99.99"),
        ] {
            let x = x_of(p);
            let _ = writeln!(
                s,
                "<line x1=\"{x:.1}\" y1=\"{top}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#eee\"/>\
                 <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{label}</text>",
                top + ph,
                top + ph + 16.0
            );
        }
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">percentile</text>",
            left + pw / 2.0,
            ht - 4.0
        );
        let mut tick = lo;
        while tick <= hi * 1.0001 {
            for m in [1.0, 2.0, 5.0] {
                let v = tick * m;
                if v > hi * 1.0001 {
                    break;
                }
                let y = y_of(v);
                let _ = writeln!(
                    s,
                    "<line x1=\"{left}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#eee\"/>\
                     <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
                    left + pw,
                    left - 6.0,
                    y + 4.0,
                    trim_number(v)
                );
            }
            tick *= 10.0;
        }
        let _ = writeln!(
            s,
            "<text transform=\"translate(14 {:.1}) rotate(-90)\" text-anchor=\"middle\">ms</text>",
            top + ph / 2.0
        );
        for (i, c) in self.curves.iter().enumerate() {
            let color = if c.name == "all" {
                COLORS[6]
            } else {
                COLORS[i % 6]
            };
            let dash = if c.name == "all" {
                " stroke-dasharray=\"6 4\""
            } else {
                ""
            };
            if !c.points.is_empty() {
                let pts: Vec<String> = c
                    .points
                    .iter()
                    .map(|(p, ms)| format!("{:.1},{:.1}", x_of(*p), y_of(*ms)))
                    .collect();
                let _ = writeln!(
                    s,
                    "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"1.8\"{dash} points=\"{}\"><title>{}</title></polyline>",
                    pts.join(" "),
                    escape(&c.name)
                );
            }
            let ly = top + 10.0 + i as f64 * 20.0;
            let lx = left + pw + 14.0;
            let _ = writeln!(
                s,
                "<line x1=\"{lx:.1}\" y1=\"{ly:.1}\" x2=\"{:.1}\" y2=\"{ly:.1}\" stroke=\"{color}\" stroke-width=\"2.5\"{dash}/>\
                 <text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
                lx + 24.0,
                lx + 30.0,
                ly + 4.0,
                escape(&c.name)
            );
        }
        s.push_str("</svg>");
        s
    }
}

fn trim_number(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

use postsearch_engine::snippet::escape;

#[cfg(test)]
mod tests {
    use super::*;
    use postsearch_engine::{RankingConfig, Sort};
    use postsearch_store::indexer::{Writer, WriterOptions};

    fn parse(line: &str) -> BenchQuery {
        parse_line(line, &Limits::default())
            .unwrap()
            .expect("a query")
    }

    #[test]
    fn parses_every_line_form() {
        let limits = Limits::default();
        assert!(parse_line("", &limits).unwrap().is_none());
        assert!(parse_line("   ", &limits).unwrap().is_none());
        assert!(parse_line("# a comment", &limits).unwrap().is_none());

        let q = parse("n+1 queries");
        assert_eq!(q.kind, Kind::Keyword);
        let Op::Search(req) = &q.op else { panic!() };
        assert_eq!(req.q, "n+1 queries");
        assert_eq!(q.path, "/api/search?q=n%2B1+queries");

        let q = parse("\"connection pool\" exhaustion");
        assert_eq!(q.kind, Kind::Phrase);

        let q = parse("n+1 queries?facet=stack:django&sort=views");
        assert_eq!(q.kind, Kind::Faceted);
        let Op::Search(req) = &q.op else { panic!() };
        assert_eq!(req.q, "n+1 queries");
        assert_eq!(req.facets["stack"], ["django"]);
        assert_eq!(req.sort, Sort::Views);
        assert_eq!(
            q.path,
            "/api/search?q=n%2B1+queries&facet=stack:django&sort=views"
        );

        // A facet wins over prefix and quotes.
        let q = parse("\"a b\" kube?prefix=true&facet=stack:python+services");
        assert_eq!(q.kind, Kind::Faceted);
        let Op::Search(req) = &q.op else { panic!() };
        assert_eq!(req.facets["stack"], ["python services"]);

        let q = parse("kube?prefix=true");
        assert_eq!(q.kind, Kind::Prefix);
        let Op::Search(req) = &q.op else { panic!() };
        assert!(req.prefix);
        assert_eq!(req.q, "kube");

        // A question mark not followed by parameters is part of the query.
        let q = parse("why is it slow?");
        assert_eq!(q.kind, Kind::Keyword);
        let Op::Search(req) = &q.op else { panic!() };
        assert_eq!(req.q, "why is it slow?");

        let q = parse("similar:alphanode-000042");
        assert_eq!(q.kind, Kind::Similar);
        assert_eq!(q.op, Op::Similar("alphanode-000042".into()));
        assert_eq!(q.path, "/api/posts/alphanode-000042/similar");

        let q = parse("suggest:kube rol");
        assert_eq!(q.kind, Kind::Suggest);
        assert_eq!(q.op, Op::Suggest("kube rol".into()));
        assert_eq!(q.path, "/api/suggest?q=kube+rol");
    }

    #[test]
    fn bad_lines_are_errors_naming_the_line() {
        let limits = Limits::default();
        let err = parse_queries("ok\nkube?sort=sideways\n", &limits).unwrap_err();
        assert!(format!("{err:#}").contains("line 2"), "{err:#}");
        assert!(parse_queries("similar:\n", &limits).is_err());
        assert!(parse_queries("# only a comment\n\n", &limits).is_err());
        let qs = parse_queries("# c\n\nkube\nsimilar:x\n", &limits).unwrap();
        assert_eq!(qs.len(), 2);
    }

    fn small_index() -> PostIndex {
        let index = PostIndex::create_in_ram().unwrap();
        let mut w = Writer::new(
            &index,
            WriterOptions {
                threads: 1,
                ..WriterOptions::default()
            },
        )
        .unwrap();
        for n in 0..200 {
            w.upsert(postsearch_corpus::generate_post(7, n)).unwrap();
        }
        w.finish().unwrap();
        index
    }

    #[test]
    fn builtin_mix_is_deterministic_and_covers_every_kind() {
        let index = small_index();
        let a = builtin_lines(&index, 1, 120).unwrap();
        let b = builtin_lines(&index, 1, 120).unwrap();
        let c = builtin_lines(&index, 2, 120).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.len(), 120);
        let queries: Vec<BenchQuery> = a.iter().map(|l| parse(l)).collect();
        for kind in Kind::ALL {
            let n = queries.iter().filter(|q| q.kind == kind).count();
            assert_eq!(n, 20, "{kind:?} in {a:?}");
        }
        // The queries run, and the mix finds things.
        let engine = Engine::new(index.clone(), RankingConfig::default());
        let mut found = 0;
        for q in &queries {
            match &q.op {
                Op::Search(req) => found += (engine.search(req).unwrap().total > 0) as usize,
                Op::Similar(id) => {
                    found += !engine.similar(id, 5).unwrap().hits.is_empty() as usize
                }
                Op::Suggest(p) => {
                    found += !engine.suggest(p, 5).unwrap().suggestions.is_empty() as usize
                }
            }
        }
        assert!(
            found > queries.len() * 9 / 10,
            "{found} of {}",
            queries.len()
        );
    }

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
    fn report_json_shape() {
        let index = small_index();
        let engine = Engine::new(index.clone(), RankingConfig::default());
        let queries = builtin_queries(&index, 3, &Limits::default()).unwrap();
        let opts = BenchOptions {
            target: Target::Index(Box::new(engine)),
            queries,
            concurrency: 2,
            stop: Stop::Requests(60),
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
        assert_eq!(v["overall"]["requests"], 60);
        assert_eq!(v["overall"]["errors"], 0);
        let kinds: Vec<&str> = v["kinds"]
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        assert_eq!(
            kinds,
            ["keyword", "phrase", "faceted", "prefix", "similar", "suggest"]
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
}
