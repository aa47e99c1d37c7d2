//! The HTTP service (hyper 1 on tokio, HTTP/1.1): routes translate
//! requests into engine calls and engine results into JSON, nothing more.
//!
//! Every request goes through one dispatcher, so that limits, CORS, metrics,
//! logging, time limits and panic handling apply to all routes alike. CPU
//! work runs on the blocking pool; a panic there is answered 500 and the
//! server keeps serving.

pub mod analytics;
pub mod cors;
pub mod errors;
pub mod http;
pub mod meili;
pub mod memory;
pub mod metrics;
pub mod params;
pub mod purge;
pub mod reload;
pub mod request_line;
pub mod routes;
pub mod settings;

pub use analytics::AnalyticsConfig;
pub use reload::SynonymSource;
pub use settings::{RequestLimits, ServeOptions, ServerConfig};

use bytes::Bytes;
use errors::Code;
use http::{accepted, asset, collect_body, compress, json_response, BodyError, Encoding, Reply};
use hyper::header::{HeaderMap, HeaderValue};
use hyper::{Method, Request, StatusCode};
use metrics::Metrics;
use postsearch_engine::budget::{Budget, Cancel};
use postsearch_engine::Engine;
use postsearch_engine::{EngineOptions, Error};
use postsearch_store::index::PostIndex;
use postsearch_store::indexer::{ImportSummary, LockWait, Writer, WriterOptions};
use postsearch_store::ingest::ReadOptions;
use routes::Route;
use serde::Serialize;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, Semaphore};

/// The demo page served at `/`.
pub const INDEX_HTML: &str = include_str!("../web/index.html");
/// The embeddable search box served at `/widget.js`.
pub const WIDGET_JS: &str = include_str!("../web/widget.js");

/// Everything a request handler needs.
pub struct AppState {
    pub engine: Engine,
    pub server: ServerConfig,
    pub requests: RequestLimits,
    pub metrics: Metrics,
    /// One write at a time (tantivy has a single writer per index). Holds
    /// the index's writer while a purge's merge runs, for the writes that
    /// come meanwhile (see [`purge`]); else none, and each write opens one.
    write_lock: Mutex<Option<Writer>>,
    /// Woken after each write: the purge looks for segments to rewrite.
    purge_wake: Arc<tokio::sync::Notify>,
    /// Requests served at once.
    permits: Semaphore,
    /// Counts searches and clicks (`None`: recording is off).
    pub analytics: Option<Arc<analytics::Recorder>>,
    /// `[analytics]`, and the folder the report is read from.
    pub analytics_config: analytics::AnalyticsConfig,
    pub analytics_dir: std::path::PathBuf,
}

impl AppState {
    /// State for serving `index`.
    pub fn new(
        index: PostIndex,
        engine: EngineOptions,
        server: ServerConfig,
        requests: RequestLimits,
    ) -> AppState {
        AppState {
            engine: Engine::with_options(index, engine),
            permits: Semaphore::new(requests.max_concurrent_requests.max(1)),
            server,
            requests,
            metrics: Metrics::new(),
            write_lock: Mutex::new(None),
            purge_wake: Arc::new(tokio::sync::Notify::new()),
            analytics: None,
            analytics_config: analytics::AnalyticsConfig {
                enabled: false,
                ..analytics::AnalyticsConfig::default()
            },
            analytics_dir: std::path::PathBuf::new(),
        }
    }

    /// The state with search analytics as `config` says, in `dir`
    /// (recording off when `recorder` is `None`).
    pub fn with_analytics(
        mut self,
        config: analytics::AnalyticsConfig,
        dir: std::path::PathBuf,
        recorder: Option<Arc<analytics::Recorder>>,
    ) -> AppState {
        self.analytics_config = config;
        self.analytics_dir = dir;
        self.analytics = recorder;
        self
    }
}

/// The OpenAPI 3.1 description of the API, served at `/openapi.json`.
pub const OPENAPI_JSON: &str = include_str!("../../../docs/openapi.json");

/// One request as the dispatcher sees it.
struct Call {
    method: Method,
    path: String,
    /// The path's segments, percent-decoded (see [`routes::segments`]).
    segments: Vec<String>,
    /// The raw query string ("" when absent).
    query: String,
    headers: HeaderMap,
    body: hyper::body::Incoming,
}

/// Answers one request of a connection (see [`serve`]).
pub async fn answer(
    state: Arc<AppState>,
    req: Request<hyper::body::Incoming>,
) -> Result<hyper::Response<http_body_util::Full<bytes::Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    let call = Call {
        method: parts.method,
        segments: routes::segments(parts.uri.path()),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().unwrap_or("").to_string(),
        headers: parts.headers,
        body,
    };
    Ok(handle(state, call).await.map(http_body_util::Full::new))
}

/// Answers one request: limits, dispatch, CORS, metrics and a log line.
async fn handle(state: Arc<AppState>, req: Call) -> Reply {
    let started = Instant::now();
    let (method, path) = (req.method.clone(), req.path.clone());
    let (label, meili, write_op, report) = {
        let segs: Vec<&str> = req.segments.iter().map(String::as_str).collect();
        let route = Route::of(&segs);
        let report = route == Route::Analytics && matches!(req.method, Method::GET | Method::HEAD);
        let write = match (route, &method) {
            (Route::Posts, &Method::POST) => Some(WriteOp::Upsert),
            (Route::Post(id), &Method::DELETE) => Some(WriteOp::Delete(id.to_string())),
            _ => None,
        };
        (
            route.label(),
            matches!(route, Route::Meili(_)),
            write,
            report,
        )
    };
    let origin = req.headers.get("origin").cloned();
    let encoding = accepted(&req.headers);
    let deadline = started + Duration::from_millis(state.requests.request_timeout_ms.max(1));
    let refused = report
        .then(|| analytics_refusal(&state, &req.headers))
        .flatten();
    let mut response = if method == Method::OPTIONS {
        cors::preflight(&state, origin.as_ref(), &req.headers)
    } else if let Some(refused) = refused {
        refused
    } else if let Some(op) = write_op {
        write(&state, &req.headers, op, req.body, deadline)
            .await
            .unwrap_or_else(|e| api_error(&e))
    } else {
        match read(&state, req, deadline, label).await {
            Ok(reply) => reply,
            Err(Refusal(code, message)) if meili => {
                meili::MeiliError::new(code.status(), code.as_str(), message).reply()
            }
            Err(Refusal(code, message)) => error_response(code, &message),
        }
    };
    if matches!(
        response.status(),
        StatusCode::PAYLOAD_TOO_LARGE | StatusCode::REQUEST_TIMEOUT
    ) {
        // The rest of the body is not read: the connection cannot be reused.
        response
            .headers_mut()
            .insert("connection", HeaderValue::from_static("close"));
    }
    cors::add_cors(&state, origin.as_ref(), response.headers_mut());
    if method != Method::HEAD {
        response = compressed(encoding, response).await;
    }
    let status = response.status().as_u16();
    let secs = started.elapsed().as_secs_f64();
    state.metrics.observe(label, method.as_str(), status, secs);
    tracing::debug!(
        method = %method,
        path = %path,
        status,
        duration_ms = (secs * 1e6).round() / 1e3,
        "request"
    );
    response
}

/// A request the dispatcher answers itself, with its code and message
/// (in the shape of the route's API: `/api` or `/meili`).
struct Refusal(Code, String);

tokio::task_local! {
    /// The budget of the request whose task this is (see [`on_engine`]).
    static REQUEST_BUDGET: Budget;
}

/// Answers a read (every request but a write): its body is read first, then
/// it takes a slot and runs within the request's time limit. Its engine
/// work stops when the limit passes (answered 503 `timeout`) or when the
/// client goes away (see [`StopOnDrop`]).
async fn read(
    state: &Arc<AppState>,
    req: Call,
    deadline: Instant,
    label: &'static str,
) -> Result<Reply, Refusal> {
    // The body is read before a slot is taken, so that clients trickling
    // their bodies in hold none: slots go to requests ready to run.
    let body = match req.method {
        Method::GET | Method::HEAD => Bytes::new(),
        _ => {
            let limit = if label == Route::AnalyticsClick.label() {
                MAX_CLICK_BODY_BYTES
            } else {
                state.requests.max_search_body_bytes
            };
            read_body(req.body, &req.headers, limit, deadline).await?
        }
    };
    let _permit = match tokio::time::timeout(Duration::from_secs(1), state.permits.acquire()).await
    {
        Ok(Ok(permit)) => permit,
        Err(_) | Ok(Err(_)) => {
            return Err(Refusal(
                Code::Overloaded,
                "too many requests at once; try again".into(),
            ))
        }
    };
    let cancel = Cancel::new();
    let budget = Budget::new(Some(deadline), cancel.clone());
    let parts = Parts {
        method: req.method,
        path: req.path,
        segments: req.segments,
        query: req.query,
        body,
    };
    let work = tokio::spawn(REQUEST_BUDGET.scope(budget, dispatch(state.clone(), parts)));
    let mut stop = StopOnDrop {
        state: state.clone(),
        cancel,
        abort: work.abort_handle(),
        label,
        armed: true,
    };
    let answer = tokio::time::timeout_at(deadline.into(), work).await;
    stop.armed = false;
    match answer {
        Ok(Ok(resp)) => {
            if resp.status() == StatusCode::SERVICE_UNAVAILABLE && Instant::now() >= deadline {
                // The engine saw the deadline pass before the timer did.
                stop.stop("timeout");
            }
            Ok(resp)
        }
        Ok(Err(join)) => {
            tracing::error!(route = label, "handler panicked: {join}");
            Err(Refusal(
                Code::Internal,
                "the request failed; the server is still running".into(),
            ))
        }
        Err(_) => {
            stop.stop("timeout");
            Err(Refusal(
                Code::Timeout,
                format!(
                    "the request took longer than {} ms; its work was stopped",
                    state.requests.request_timeout_ms
                ),
            ))
        }
    }
}

/// Stops a request's work if the request is dropped before it is answered:
/// hyper drops it when its client closes the connection.
struct StopOnDrop {
    state: Arc<AppState>,
    cancel: Cancel,
    abort: tokio::task::AbortHandle,
    label: &'static str,
    /// Whether dropping it stops the work (cleared once answered).
    armed: bool,
}

impl StopOnDrop {
    /// Stops the work now, counting and logging it under `reason`.
    fn stop(&self, reason: &str) {
        self.cancel.cancel();
        self.abort.abort();
        self.state.metrics.stopped(self.label, reason);
        tracing::warn!(
            route = self.label,
            reason,
            "request stopped before its answer"
        );
    }
}

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        if self.armed {
            self.stop("client_gone");
        }
    }
}

/// Reads a request body of at most `limit` bytes that must arrive by
/// `deadline`. A body announced over the limit is refused before any of it
/// is read.
async fn read_body(
    body: hyper::body::Incoming,
    headers: &HeaderMap,
    limit: u64,
    deadline: Instant,
) -> Result<Bytes, Refusal> {
    let too_large = || {
        Refusal(
            Code::PayloadTooLarge,
            format!("the body is over the limit of {limit} bytes"),
        )
    };
    let announced = headers
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if announced.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    match tokio::time::timeout_at(deadline.into(), collect_body(body, limit)).await {
        Ok(Ok(bytes)) => Ok(Bytes::from(bytes)),
        Ok(Err(BodyError::TooLarge)) => Err(too_large()),
        Ok(Err(BodyError::Read(e))) => Err(Refusal(
            Code::BadRequest,
            format!("could not read the body: {e}"),
        )),
        Err(_) => Err(Refusal(
            Code::BodyTimeout,
            "the body did not arrive within the request's time limit".into(),
        )),
    }
}

/// A read request, its body read.
struct Parts {
    method: Method,
    path: String,
    segments: Vec<String>,
    query: String,
    body: Bytes,
}

async fn dispatch(state: Arc<AppState>, req: Parts) -> Reply {
    let Parts {
        method,
        path,
        segments,
        query,
        body,
    } = req;
    let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
    let route = Route::of(&segs);
    let get = method == Method::GET || method == Method::HEAD;
    if let Route::Meili(rest) = route {
        return meili::handle(state.clone(), &method, &path, rest, &query, body).await;
    }
    let result: Result<Reply, Error> = match (route, get) {
        (Route::Home, true) => Ok(asset(INDEX_HTML, "text/html; charset=utf-8")),
        (Route::Widget, true) => Ok(asset(WIDGET_JS, "application/javascript; charset=utf-8")),
        (Route::MeiliDemo, true) => {
            let page = meili::assets::demo_page(&state.server.meili_index_uid);
            let mut resp = hyper::Response::new(bytes::Bytes::from(page));
            resp.headers_mut().insert(
                "content-type",
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            Ok(resp)
        }
        (Route::Vendor(name), true) if meili::assets::vendor(name).is_some() => {
            let (body, content_type) = meili::assets::vendor(name).expect("checked");
            Ok(asset(body, content_type))
        }
        (Route::OpenApi, true) => Ok(asset(OPENAPI_JSON, "application/json")),
        (Route::Healthz, true) => Ok(json_response(
            StatusCode::OK,
            &serde_json::json!({"status": "ok"}),
        )),
        (Route::Readyz, true) => Ok(readiness(&state).await),
        (Route::Metrics, true) => {
            let docs = state.engine.index().searcher().num_docs();
            let mut resp = hyper::Response::new(bytes::Bytes::from(state.metrics.render(docs)));
            resp.headers_mut().insert(
                "content-type",
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            Ok(resp)
        }
        (Route::Search, true) => match params::search_request(&query, state.engine.limits()) {
            Ok(req) => {
                // A HEAD is no reader's search, and a page after the first is
                // the same search again: not counted.
                let recorder = state
                    .analytics
                    .clone()
                    .filter(|_| method == Method::GET && req.offset == 0);
                blocking(&state, move |e| {
                    let resp = e.search(&req)?;
                    if let Some(r) = recorder {
                        r.search(&req.q, resp.total, req.prefix);
                    }
                    Ok(resp)
                })
                .await
            }
            Err(e) => Err(e),
        },
        (Route::Analytics, true) => match params::analytics_params(&query) {
            Ok(p) => Ok(analytics_report(&state, p).await),
            Err(e) => Err(e),
        },
        (Route::AnalyticsClick, false) if method == Method::POST => {
            Ok(analytics_click(&state, &body, state.engine.limits()))
        }
        (Route::Suggest, true) => {
            match params::limit_only(&query, 5, &["q"], state.engine.limits()) {
                Ok((limit, rest)) => {
                    let q = rest
                        .into_iter()
                        .find(|(k, _)| k == "q")
                        .map(|(_, v)| v)
                        .unwrap_or_default();
                    inline(&state, |e| e.suggest(&q, limit))
                }
                Err(e) => Err(e),
            }
        }
        (Route::Facets, true) => match params::limit_only(&query, 0, &[], state.engine.limits()) {
            Ok(_) => blocking(&state, |e| e.all_facets()).await,
            Err(e) => Err(e),
        },
        (Route::FacetSearch(field), true) => {
            match params::facet_search_request(&query, state.engine.limits()) {
                Ok((req, typed, limit)) => {
                    let field = field.to_string();
                    blocking(&state, move |e| e.facet_search(&req, &field, &typed, limit)).await
                }
                Err(e) => Err(e),
            }
        }
        (Route::Post(id), true) => {
            let id = id.to_string();
            blocking(&state, move |e| e.post(&id)).await
        }
        (Route::Similar(id), true) => {
            match params::limit_only(&query, 5, &[], state.engine.limits()) {
                Ok((limit, _)) => {
                    let id = id.to_string();
                    blocking(&state, move |e| e.similar(&id, limit)).await
                }
                Err(e) => Err(e),
            }
        }
        _ => {
            return match route.methods() {
                Some(allow) => {
                    let mut resp = error_response(
                        Code::MethodNotAllowed,
                        &format!("{method} is not allowed on {path} (allowed: {allow})"),
                    );
                    resp.headers_mut()
                        .insert("allow", HeaderValue::from_static(allow));
                    resp
                }
                None => error_response(Code::NotFound, &format!("no route {path}")),
            };
        }
    };
    result.unwrap_or_else(|e| api_error(&e))
}

/// `/readyz`: 200 when a search over every segment succeeds (a page of
/// every post with its facets and snippet: the postings, the columns and
/// the store are all read), else 503 with the error.
async fn readiness(state: &Arc<AppState>) -> Reply {
    let probe = on_engine(state, |e| {
        let req = postsearch_engine::SearchRequest {
            limit: 1,
            ..postsearch_engine::SearchRequest::default()
        };
        e.search(&req).map(|_| e.index().searcher().num_docs())
    })
    .await;
    match probe {
        Some(Ok(docs)) => json_response(
            StatusCode::OK,
            &serde_json::json!({"ready": true, "documents": docs}),
        ),
        Some(Err(e)) => {
            tracing::error!("not ready: a search fails: {e}");
            json_response(
                StatusCode::SERVICE_UNAVAILABLE,
                &serde_json::json!({"ready": false, "error": format!("a search fails: {e}")}),
            )
        }
        None => json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &serde_json::json!({"ready": false, "error": "a search failed (see the server log)"}),
        ),
    }
}

/// Answers longer than this are compressed on the blocking pool (a
/// 440 KB `/meili` answer takes ~5 ms of brotli), not on the tasks that
/// read requests and write answers.
const COMPRESS_INLINE_MAX: usize = 64 << 10;

/// `response`, compressed if the client accepts it (see [`compress`]).
async fn compressed(encoding: Option<Encoding>, mut response: Reply) -> Reply {
    if encoding.is_none() || response.body().len() <= COMPRESS_INLINE_MAX {
        compress(encoding, &mut response);
        return response;
    }
    spawn_engine_work(move || {
        compress(encoding, &mut response);
        response
    })
    .await
    .unwrap_or_else(|join| {
        tracing::error!("compressing an answer failed: {join}");
        error_response(
            Code::Internal,
            "the request failed; the server is still running",
        )
    })
}

/// Runs quick engine work (completions: a fraction of a millisecond) on the
/// request's own task and answers its result as JSON. Sent to the blocking
/// pool, it would queue behind every search already waiting there: under
/// load, a keystroke's completions would take as long as a search. (A panic
/// still ends only this request: the dispatcher runs each request as a task
/// of its own.)
fn inline<T, F>(state: &Arc<AppState>, f: F) -> Result<Reply, Error>
where
    T: Serialize,
    F: FnOnce(&Engine) -> postsearch_engine::Result<T>,
{
    f(&state.engine).map(|value| json_response(StatusCode::OK, &value))
}

/// How much nicer than the request tasks the blocking pool's threads
/// (searches, imports) run: when searches take every core, the tasks that
/// read requests, answer completions inline and write answers still get a
/// core at once. (100k posts, 32 connections, the built-in mix: suggest p99
/// 4.7–5.7 → 4.1–4.6 ms over six interleaved runs; throughput within the
/// noise, 1–5% lower at most.)
const SEARCH_NICENESS: i32 = 5;

/// Runs engine work (a search, a write) on the blocking pool, on a thread
/// [`SEARCH_NICENESS`] nicer than the request tasks.
pub(crate) fn spawn_engine_work<R, F>(f: F) -> tokio::task::JoinHandle<R>
where
    R: Send + 'static,
    F: FnOnce() -> R + Send + 'static,
{
    tokio::task::spawn_blocking(move || {
        yield_to_requests();
        f()
    })
}

/// Makes the calling thread, once, [`SEARCH_NICENESS`] nicer.
fn yield_to_requests() {
    thread_local!(static LOWERED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) });
    LOWERED.with(|lowered| {
        if !lowered.replace(true) {
            // On Linux the nice value is the thread's own (`who` 0: the
            // calling thread); elsewhere it would be the whole process's.
            // Failing leaves the priority as it was.
            #[cfg(target_os = "linux")]
            // SAFETY: getpriority and setpriority only read and change the
            // thread's priority.
            unsafe {
                let now = libc::getpriority(libc::PRIO_PROCESS, 0);
                libc::setpriority(libc::PRIO_PROCESS, 0, (now + SEARCH_NICENESS).min(19));
            }
        }
    });
}

/// Runs `f` on the state's engine on the blocking pool (see
/// [`spawn_engine_work`]), within the request's budget (its engine loops
/// stop when the request times out or its client goes away); `None` if the
/// task failed (it panicked), which is logged. Every route that searches,
/// `/api` and `/meili` alike, goes through here.
pub(crate) async fn on_engine<R, F>(state: &Arc<AppState>, f: F) -> Option<R>
where
    R: Send + 'static,
    F: FnOnce(&Engine) -> R + Send + 'static,
{
    let engine = state.engine.clone();
    let budget = REQUEST_BUDGET.try_with(Budget::clone).unwrap_or_default();
    match spawn_engine_work(move || budget.enter(|| f(&engine))).await {
        Ok(r) => Some(r),
        Err(join) => {
            tracing::error!("engine task failed: {join}");
            None
        }
    }
}

/// Runs engine work on the blocking pool and answers its result as JSON.
async fn blocking<T, F>(state: &Arc<AppState>, f: F) -> Result<Reply, Error>
where
    T: Serialize + Send + 'static,
    F: FnOnce(&Engine) -> postsearch_engine::Result<T> + Send + 'static,
{
    match on_engine(state, f).await {
        Some(Ok(value)) => Ok(json_response(StatusCode::OK, &value)),
        Some(Err(e)) => Err(e),
        None => Ok(error_response(
            Code::Internal,
            "the request failed; the server is still running",
        )),
    }
}

/// Largest body of `POST /api/analytics/click`, in bytes.
pub const MAX_CLICK_BODY_BYTES: u64 = 4096;

/// Why `GET /api/analytics` is refused, if it is: no token configured
/// (`analytics.token`, else `server.write_token`), or the request does not
/// carry it.
fn analytics_refusal(state: &AppState, headers: &HeaderMap) -> Option<Reply> {
    let token = match state.analytics_config.token.as_str() {
        "" => state.server.write_token.as_str(),
        t => t,
    };
    if token.is_empty() {
        return Some(error_response(
            Code::AnalyticsDisabled,
            "the analytics report is disabled: no token is configured (analytics.token or server.write_token)",
        ));
    }
    if !authorized(headers, token) {
        let mut resp = error_response(
            Code::Unauthorized,
            "the analytics report needs the header `Authorization: Bearer <token>`",
        );
        resp.headers_mut()
            .insert("www-authenticate", HeaderValue::from_static("Bearer"));
        return Some(resp);
    }
    None
}

/// `GET /api/analytics` (authorized): the report, read from the folder on
/// the blocking pool, with the counts not written yet.
async fn analytics_report(state: &Arc<AppState>, p: params::AnalyticsParams) -> Reply {
    let range = analytics::report_range(analytics::store::today(), p.days, p.since, p.limit);
    let recorder = state.analytics.clone();
    let (dir, clicks) = (state.analytics_dir.clone(), state.analytics_config.clicks);
    let report = spawn_engine_work(move || match recorder {
        Some(r) => r.report(range, true),
        None => {
            let (days, skipped) = analytics::store::read_days(&dir, range.from, range.to);
            for (name, why) in &skipped {
                tracing::warn!("analytics: skipping {name}: {why}");
            }
            analytics::store::report(&days, range, false, clicks, &skipped)
        }
    })
    .await;
    match report {
        Ok(report) => json_response(StatusCode::OK, &report),
        Err(join) => {
            tracing::error!("analytics report failed: {join}");
            error_response(
                Code::Internal,
                "the request failed; the server is still running",
            )
        }
    }
}

/// Longest post id a click may name, in bytes.
const MAX_CLICK_ID_BYTES: usize = 512;

/// The query of a `POST /api/analytics/click` body
/// (`{"q": string, "id": string, "position": integer}`, nothing else),
/// or what is wrong with it.
fn click_query(body: &[u8], limits: &postsearch_engine::Limits) -> Result<String, String> {
    let shape =
        "the body must be a JSON object {\"q\": string, \"id\": string, \"position\": integer}";
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("{shape}: {e}"))?;
    let Some(obj) = value.as_object() else {
        return Err(shape.into());
    };
    if let Some(key) = obj
        .keys()
        .find(|k| !matches!(k.as_str(), "q" | "id" | "position"))
    {
        let key: String = key.chars().take(64).collect();
        return Err(format!("{shape}: unknown field {key:?}"));
    }
    let q = obj
        .get("q")
        .and_then(|v| v.as_str())
        .ok_or(format!("{shape}: q is missing or not a string"))?;
    let id = obj
        .get("id")
        .and_then(|v| v.as_str())
        .ok_or(format!("{shape}: id is missing or not a string"))?;
    // A whole number written with a fraction (`3.0`) is a whole number.
    let position = obj.get("position").and_then(|v| {
        v.as_u64().or_else(|| {
            v.as_f64()
                .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= f64::from(u32::MAX))
                .map(|f| f as u64)
        })
    });
    if position.is_none_or(|p| p > u64::from(u32::MAX)) {
        return Err(format!(
            "{shape}: position must be a whole number from 0 to {}",
            u32::MAX
        ));
    }
    if q.is_empty() {
        return Err("q must not be empty".into());
    }
    if q.len() > limits.max_query_bytes {
        return Err(format!("q is longer than {} bytes", limits.max_query_bytes));
    }
    if id.is_empty() || id.len() > MAX_CLICK_ID_BYTES {
        return Err(format!("id must be 1 to {MAX_CLICK_ID_BYTES} bytes"));
    }
    Ok(q.to_string())
}

/// `POST /api/analytics/click`: counts a click on a hit of `q`.
fn analytics_click(state: &AppState, body: &[u8], limits: &postsearch_engine::Limits) -> Reply {
    let Some(recorder) = &state.analytics else {
        return error_response(
            Code::AnalyticsDisabled,
            "search analytics are off on this server (analytics.enabled)",
        );
    };
    if !state.analytics_config.clicks {
        return error_response(
            Code::AnalyticsDisabled,
            "clicks are not recorded on this server (analytics.clicks)",
        );
    }
    match click_query(body, limits) {
        Ok(q) => {
            recorder.click(&q);
            json_response(StatusCode::OK, &serde_json::json!({"recorded": true}))
        }
        Err(message) => api_error(&Error::bad_request("body", message)),
    }
}

/// A write: `POST /api/posts` or `DELETE /api/posts/ID`.
enum WriteOp {
    Upsert,
    Delete(String),
}

/// The answer of `POST /api/posts`.
#[derive(Serialize)]
struct WriteAnswer {
    #[serde(flatten)]
    summary: ImportSummary,
}

/// Answers a write. Its body must arrive, and the write lock be free, by
/// `deadline`; else it is refused (408 `body_timeout`, 503 `overloaded`)
/// and nothing is applied. Once it runs, it runs to the end, whatever the
/// time, and its answer says what was applied: a write is never answered
/// 503 and applied after.
async fn write(
    state: &Arc<AppState>,
    headers: &HeaderMap,
    op: WriteOp,
    body: hyper::body::Incoming,
    deadline: Instant,
) -> Result<Reply, Error> {
    let token = &state.server.write_token;
    if state.server.read_only {
        return Ok(error_response(
            Code::WritesDisabled,
            "writes are disabled: this server is read-only (server.read_only)",
        ));
    }
    if token.is_empty() {
        return Ok(error_response(
            Code::WritesDisabled,
            "writes are disabled: no write token is configured (server.write_token)",
        ));
    }
    if !authorized(headers, token) {
        let mut resp = error_response(
            Code::Unauthorized,
            "writes need the header `Authorization: Bearer <token>`",
        );
        resp.headers_mut()
            .insert("www-authenticate", HeaderValue::from_static("Bearer"));
        return Ok(resp);
    }
    // The body is read before taking the write lock, so a client trickling
    // its body in holds up no other write.
    let bytes = match op {
        WriteOp::Upsert => {
            match read_body(body, headers, state.requests.max_body_bytes, deadline).await {
                Ok(bytes) => bytes,
                Err(Refusal(code, message)) => return Ok(error_response(code, &message)),
            }
        }
        WriteOp::Delete(_) => Bytes::new(),
    };
    let Ok(mut slot) = tokio::time::timeout_at(deadline.into(), state.write_lock.lock()).await
    else {
        return Ok(error_response(
            Code::Overloaded,
            "another write held the index for the whole time limit; this one was not applied",
        ));
    };
    let index = state.engine.index().clone();
    let parked = slot.take();
    let answer = match op {
        WriteOp::Upsert => {
            let (summary, parked) = spawn_engine_work(move || {
                write_with(&index, parked, deadline, |writer| {
                    postsearch_store::indexer::write_body(writer, &bytes, "body")
                })
            })
            .await
            .map_err(|e| Error::Internal(format!("write task failed: {e}")))?;
            *slot = parked;
            json_response(StatusCode::OK, &WriteAnswer { summary: summary? })
        }
        WriteOp::Delete(id) => {
            let id2 = id.clone();
            let (existed, parked) = spawn_engine_work(move || {
                match index.locate(&index.searcher(), &id2) {
                    Ok(Some(_)) => {}
                    Ok(None) => return (Ok(false), parked),
                    Err(e) => return (Err(e), parked),
                }
                write_with(&index, parked, deadline, |writer| {
                    let existed = writer.delete(&id2)?;
                    writer.commit()?;
                    Ok(existed)
                })
            })
            .await
            .map_err(|e| Error::Internal(format!("write task failed: {e}")))?;
            *slot = parked;
            if !existed? {
                return Err(Error::NotFound(id));
            }
            json_response(StatusCode::OK, &serde_json::json!({"deleted": id}))
        }
    };
    drop(slot);
    state.metrics.commit();
    state.purge_wake.notify_one();
    Ok(answer)
}

/// Runs one write with the writer a purge keeps open (`parked`, given back
/// after), or else with a writer of its own, closed once the merges its
/// commit started are done (see `Writer::wait_for_merges`): the posts are
/// committed whatever those do. A failed write leaves the index as it was
/// and its writer closed.
fn write_with<T>(
    index: &PostIndex,
    parked: Option<Writer>,
    deadline: Instant,
    write: impl FnOnce(&mut Writer) -> postsearch_store::Result<T>,
) -> (postsearch_engine::Result<T>, Option<Writer>) {
    let (mut writer, is_parked) = match parked {
        Some(writer) => (writer, true),
        None => match Writer::new(index, write_options(deadline)) {
            Ok(writer) => (writer, false),
            Err(e) => return (Err(e), None),
        },
    };
    match write(&mut writer) {
        Ok(done) if is_parked => (Ok(done), Some(writer)),
        Ok(done) => {
            let _ = writer.wait_for_merges();
            (Ok(done), None)
        }
        Err(e) => {
            writer.abandon();
            (Err(e), None)
        }
    }
}

/// The writer of one HTTP write (upsert or delete): a thread and 64 MB,
/// and the index's write lock, if another process (an import) holds it,
/// waited for until the request's time limit, then 503 `index_busy`.
pub(crate) fn write_options(deadline: Instant) -> WriterOptions {
    WriterOptions {
        budget_bytes: 64 << 20,
        threads: 1,
        lock_wait: LockWait::up_to(deadline.saturating_duration_since(Instant::now())),
        ..WriterOptions::default()
    }
}

/// Whether the request carries the write token (compared in constant time).
fn authorized(headers: &HeaderMap, token: &str) -> bool {
    use subtle::ConstantTimeEq;
    let Some(value) = headers.get("authorization").and_then(|v| v.to_str().ok()) else {
        return false;
    };
    // The scheme is case-insensitive (RFC 9110 §11.1).
    let Some((scheme, given)) = value.trim_start().split_once(' ') else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        return false;
    }
    given.trim().as_bytes().ct_eq(token.as_bytes()).into()
}

/// `{"error":{"code","message"}}` with a status.
pub fn error_response(code: Code, message: &str) -> Reply {
    json_response(
        code.status(),
        &serde_json::json!({"error": {"code": code.as_str(), "message": message}}),
    )
}

/// Seconds a write refused with `index_busy` is told to wait (`Retry-After`).
const BUSY_RETRY_AFTER_S: &str = "5";

/// A library error as an HTTP answer; 5xx details go to the log only (a
/// write refused while another process writes says so, and when to retry).
fn api_error(e: &Error) -> Reply {
    let code = Code::from(e.code());
    if code == Code::IndexBusy {
        tracing::warn!("write refused: {e}");
        let mut resp = error_response(
            code,
            "another process is writing to the index (an import); nothing was applied: \
             retry when it is done",
        );
        resp.headers_mut()
            .insert("retry-after", HeaderValue::from_static(BUSY_RETRY_AFTER_S));
        return resp;
    }
    if code.status().is_server_error() {
        tracing::error!("request failed: {e}");
        return error_response(code, "internal error; see the server log");
    }
    let mut body = serde_json::json!({"error": {"code": code.as_str(), "message": e.to_string()}});
    if let Error::BadRequest { param, .. } = e {
        body["error"]["param"] = serde_json::Value::String(param.clone());
    }
    json_response(code.status(), &body)
}

/// Opens (or first builds) the index and serves until Ctrl-C or SIGTERM,
/// then drains in-flight requests. `on_ready` gets the bound address.
pub async fn serve(options: ServeOptions, on_ready: impl FnOnce(SocketAddr)) -> anyhow::Result<()> {
    let ServeOptions {
        index_dir,
        writer_budget_bytes: budget,
        server,
        requests,
        engine,
        synonyms,
        analytics: analytics_config,
    } = options;
    let dir = index_dir.clone();
    if !PostIndex::exists(&dir) && server.read_only {
        anyhow::bail!(
            "{}: no index here, and a read-only server never builds one; build it with `postsearch index PATH`",
            dir.display()
        );
    }
    if !PostIndex::exists(&dir) {
        let data = server.data_dir.clone();
        tracing::info!(
            "no index in {}; building one from {}",
            dir.display(),
            data.display()
        );
        // Built beside its place and moved in when whole: a failed first
        // import leaves no index behind (the next start tries again).
        let summary = spawn_engine_work(move || -> postsearch_engine::Result<ImportSummary> {
            postsearch_store::rebuild::rebuild_paths(
                &dir,
                &[data],
                &ReadOptions::default(),
                WriterOptions {
                    budget_bytes: budget,
                    ..WriterOptions::default()
                },
                &mut |item| {
                    if let Err(r) = item {
                        tracing::warn!("{r}");
                    }
                },
            )
        })
        .await??;
        tracing::info!("indexed: {summary}");
    }
    let index = PostIndex::open(&index_dir)?;
    // An address, or a host name and port (`localhost:7700`).
    let addr: SocketAddr = tokio::net::lookup_host(server.addr.as_str())
        .await
        .map_err(|e| anyhow::anyhow!("server.addr {:?}: {e} (expected HOST:PORT)", server.addr))?
        .next()
        .ok_or_else(|| anyhow::anyhow!("server.addr {:?}: the host has no address", server.addr))?;
    // Bound first: a server that cannot listen makes no analytics folder.
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
    let analytics_dir = analytics_config.folder(&index_dir);
    let recorder = if analytics_config.enabled {
        let (dir, config) = (analytics_dir.clone(), analytics_config.clone());
        match spawn_engine_work(move || analytics::Recorder::open(dir, config)).await? {
            Ok(r) => {
                tracing::info!(
                    "analytics: recording searches in {}",
                    analytics_dir.display()
                );
                Some(Arc::new(r))
            }
            Err(e) => {
                tracing::warn!(
                    "analytics: not recording: {}: {e} (set analytics.dir, or analytics.enabled = false)",
                    analytics_dir.display()
                );
                None
            }
        }
    } else {
        None
    };
    let state = Arc::new(
        AppState::new(index, engine, server, requests).with_analytics(
            analytics_config.clone(),
            analytics_dir,
            recorder.clone(),
        ),
    );
    reload::watch_synonyms(state.engine.clone(), synonyms);
    let purging = purge::run_after_writes(&state);
    if state.server.max_mapped_mb > 0 {
        memory::bound_mapped_pages(
            index_dir.clone(),
            state.server.max_mapped_mb << 20,
            Arc::downgrade(&state),
        );
    }
    // The counts are written every few seconds, off the request path.
    let flusher = recorder.clone().map(|r| {
        let every = Duration::from_secs(analytics_config.flush_secs.max(1));
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticks.tick().await;
            loop {
                ticks.tick().await;
                let r = r.clone();
                let _ = spawn_engine_work(move || r.flush(false)).await;
            }
        })
    });
    on_ready(listener.local_addr()?);
    // HTTP/1.1 only: a client speaking HTTP/2 gets an HTTP/1.1 error.
    let mut http1 = hyper::server::conn::http1::Builder::new();
    http1
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(Duration::from_secs(10));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let drain_limit =
        Duration::from_millis(state.requests.request_timeout_ms.max(1)) + Duration::from_secs(5);
    let mut shutdown = std::pin::pin!(shutdown_signal());
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        // Out of file descriptors, mostly: wait, then go on.
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let state = state.clone();
                let service = hyper::service::service_fn(move |req| answer(state.clone(), req));
                let (http1, watcher) = (http1.clone(), graceful.watcher());
                tokio::spawn(async move {
                    let mut stream = stream;
                    // A URL hyper would refuse with an empty body gets a
                    // 400 that says why.
                    if request_line::refused(&mut stream).await {
                        return;
                    }
                    let conn = watcher.watch(
                        http1.serve_connection(hyper_util::rt::TokioIo::new(stream), service),
                    );
                    if let Err(e) = conn.await {
                        tracing::debug!("connection ended: {e}");
                    }
                });
            }
            _ = &mut shutdown => break,
        }
    }
    drop(listener);
    // In-flight requests finish (within the time limit of a request, and a
    // little more); idle keep-alive connections are closed.
    if tokio::time::timeout(drain_limit, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            "stopped with connections still open after {} s",
            drain_limit.as_secs()
        );
    }
    if let Some(flusher) = flusher {
        flusher.abort();
    }
    purging.abort();
    if let Some(r) = recorder {
        // Everything counted, held-back keystrokes included, is written.
        let _ = spawn_engine_work(move || r.flush(true)).await;
    }
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
    tracing::info!("shutting down: draining in-flight requests");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn click_bodies_are_checked() {
        let limits = postsearch_engine::Limits::default();
        let ok = |body: &str| click_query(body.as_bytes(), &limits);
        assert_eq!(
            ok(r#"{"q":"Kube  Rollout","id":"a","position":3}"#).as_deref(),
            Ok("Kube  Rollout")
        );
        assert!(ok(r#"{"q":"x","id":"a","position":3.0}"#).is_ok());
        // Blank: counted without a query (as the schema allows it).
        assert!(ok(r#"{"q":" ","id":"a","position":0}"#).is_ok());
        for bad in [
            "",
            "[]",
            "{\"q\":\"x\"",
            r#"{"q":"x","id":"a"}"#,
            r#"{"q":"x","id":"a","position":-1}"#,
            r#"{"q":"x","id":"a","position":1.5}"#,
            r#"{"q":"x","id":"a","position":4294967296}"#,
            r#"{"q":"","id":"a","position":1}"#,
            r#"{"q":"x","id":"","position":1}"#,
            r#"{"q":1,"id":"a","position":1}"#,
            r#"{"q":"x","id":"a","position":1,"ip":"1.2.3.4"}"#,
        ] {
            assert!(ok(bad).is_err(), "{bad}");
        }
        let long = format!(r#"{{"q":"{}","id":"a","position":1}}"#, "x".repeat(2000));
        assert!(ok(&long).unwrap_err().contains("longer than"));
    }

    /// A write goes through the writer a purge holds while its merge runs,
    /// and gives it back; without one, it opens and closes its own.
    #[test]
    fn a_write_uses_the_purges_writer_while_it_merges() {
        let index = PostIndex::create_in_ram().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let post = |id: &str| format!(r#"{{"id":"{id}","title":"numbat {id}"}}"#);
        let write = |parked: Option<Writer>, id: &str| {
            let body = post(id);
            write_with(&index, parked, deadline, |w| {
                postsearch_store::indexer::write_body(w, body.as_bytes(), "body")
            })
        };
        let (done, parked) = write(None, "a");
        assert_eq!(done.unwrap().added, 1);
        assert!(parked.is_none(), "its own writer is closed");
        let (done, parked) = write(None, "b");
        assert_eq!(done.unwrap().added, 1);
        assert!(parked.is_none());

        // The purge's writer, merging both segments.
        let mut purging = Writer::new(&index, write_options(deadline)).unwrap();
        let segments = index.index().searchable_segment_ids().unwrap();
        assert_eq!(segments.len(), 2);
        let merge = purging.merge(&segments);
        let (done, parked) = write(Some(purging), "c");
        assert_eq!(done.unwrap().added, 1);
        let purging = parked.expect("the purge's writer given back");
        // Another writer cannot open meanwhile: this one holds the lock.
        let busy = Writer::new(
            &index,
            WriterOptions {
                lock_wait: LockWait::up_to(Duration::ZERO),
                ..write_options(deadline)
            },
        );
        assert!(busy.is_err());
        merge.wait().unwrap();
        purging.wait_for_merges().unwrap();
        index.reload().unwrap();
        let searcher = index.searcher();
        assert_eq!(searcher.num_docs(), 3);
        for id in ["a", "b", "c"] {
            assert!(index.get(id).is_ok(), "{id}");
        }
        // A failed write hands back no writer: it was rolled back, closed.
        let failing = Writer::new(&index, write_options(deadline)).unwrap();
        let (done, parked) = write_with(&index, Some(failing), deadline, |_| {
            Err::<(), _>(postsearch_store::Error::Interrupted("test".into()))
        });
        assert!(done.is_err() && parked.is_none());
        let (done, _) = write(None, "d");
        assert_eq!(done.unwrap().added, 1);
    }
}
