//! The HTTP service (warp on tokio): routes translate requests into engine
//! calls and engine results into JSON, nothing more.
//!
//! Every request goes through one dispatcher, so that limits, CORS, metrics,
//! logging, time limits and panic handling apply to all routes alike. CPU
//! work runs on the blocking pool; a panic there is answered 500 and the
//! server keeps serving.

pub mod errors;
pub mod meili;
pub mod metrics;
pub mod params;
pub mod routes;
pub mod settings;

pub use settings::{RequestLimits, ServeOptions, ServerConfig};

use bytes_buf::collect_body;
use errors::Code;
use hyper::header::{HeaderMap, HeaderValue};
use hyper::{Method, StatusCode};
use metrics::Metrics;
use postsearch_engine::Engine;
use postsearch_engine::{EngineOptions, Error};
use postsearch_store::index::PostIndex;
use postsearch_store::indexer::{ImportSummary, Writer, WriterOptions};
use postsearch_store::ingest::ReadOptions;
use routes::Route;
use serde::Serialize;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, Semaphore};
use warp::http::Response;
use warp::Filter;

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
    /// One write at a time (tantivy has a single writer per index).
    write_lock: Mutex<()>,
    /// Requests served at once.
    permits: Semaphore,
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
            write_lock: Mutex::new(()),
        }
    }
}

type Reply = Response<hyper::Body>;

/// The whole service as one warp filter.
pub fn routes(
    state: Arc<AppState>,
) -> impl Filter<Extract = (Reply,), Error = warp::Rejection> + Clone + Send + Sync + 'static {
    warp::method()
        .and(warp::path::full())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(warp::header::headers_cloned())
        .and(warp::body::stream())
        .and_then(
            move |method, path: warp::path::FullPath, query, headers, body| {
                let state = state.clone();
                async move {
                    let path = path.as_str().to_string();
                    let req = Incoming {
                        method,
                        path,
                        query,
                        headers,
                        body,
                    };
                    Ok::<_, Infallible>(handle(state, req).await)
                }
            },
        )
}

/// One request as the dispatcher sees it.
struct Incoming<S> {
    method: Method,
    path: String,
    /// The raw query string ("" when absent).
    query: String,
    headers: HeaderMap,
    body: S,
}

/// Answers one request: limits, dispatch, CORS, metrics and a log line.
async fn handle<S, B>(state: Arc<AppState>, req: Incoming<S>) -> Reply
where
    S: futures_util::Stream<Item = Result<B, warp::Error>> + Send + Unpin + 'static,
    B: hyper::body::Buf + Send + 'static,
{
    let started = Instant::now();
    let (method, path) = (req.method.clone(), req.path.clone());
    let headers = &req.headers;
    let route = {
        let segments = routes::segments(&path);
        let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
        Route::of(&segs).label()
    };
    let origin = headers.get("origin").cloned();
    let limits = state.requests;
    let mut response = if method == Method::OPTIONS {
        preflight(&state, origin.as_ref(), headers)
    } else {
        match tokio::time::timeout(Duration::from_secs(1), state.permits.acquire()).await {
            Err(_) | Ok(Err(_)) => {
                error_response(Code::Overloaded, "too many requests at once; try again")
            }
            Ok(Ok(_permit)) => {
                let timeout = Duration::from_millis(limits.request_timeout_ms.max(1));
                let work = tokio::spawn(dispatch(state.clone(), req));
                match tokio::time::timeout(timeout, work).await {
                    Ok(Ok(resp)) => resp,
                    Ok(Err(join)) => {
                        tracing::error!(%path, "handler panicked: {join}");
                        error_response(
                            Code::Internal,
                            "the request failed; the server is still running",
                        )
                    }
                    Err(_) => error_response(
                        Code::Timeout,
                        &format!("the request took longer than {} ms", timeout.as_millis()),
                    ),
                }
            }
        }
    };
    add_cors(&state, origin.as_ref(), response.headers_mut());
    let status = response.status().as_u16();
    let secs = started.elapsed().as_secs_f64();
    state.metrics.observe(route, method.as_str(), status, secs);
    tracing::info!(
        method = %method,
        path = %path,
        status,
        duration_ms = secs * 1000.0,
        "request"
    );
    response
}

async fn dispatch<S, B>(state: Arc<AppState>, req: Incoming<S>) -> Reply
where
    S: futures_util::Stream<Item = Result<B, warp::Error>> + Send + Unpin + 'static,
    B: hyper::body::Buf + Send + 'static,
{
    let Incoming {
        method,
        path,
        query,
        headers,
        body,
    } = req;
    let segments = routes::segments(&path);
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
            let mut resp = Response::new(hyper::Body::from(page));
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
        (Route::Healthz, true) => Ok(json_response(
            StatusCode::OK,
            &serde_json::json!({"status": "ok"}),
        )),
        (Route::Readyz, true) => {
            let docs = state.engine.index().searcher().num_docs();
            Ok(json_response(
                StatusCode::OK,
                &serde_json::json!({"ready": true, "documents": docs}),
            ))
        }
        (Route::Metrics, true) => {
            let docs = state.engine.index().searcher().num_docs();
            let mut resp = Response::new(hyper::Body::from(state.metrics.render(docs)));
            resp.headers_mut().insert(
                "content-type",
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            Ok(resp)
        }
        (Route::Search, true) => match params::search_request(&query, state.engine.limits()) {
            Ok(req) => blocking(&state, move |e| e.search(&req)).await,
            Err(e) => Err(e),
        },
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
        (Route::Posts, false) if method == Method::POST => {
            write(&state, &headers, WriteOp::Upsert(body)).await
        }
        (Route::Post(id), false) if method == Method::DELETE => {
            write::<S, B>(&state, &headers, WriteOp::Delete(id.to_string())).await
        }
        _ => {
            return if route != Route::Unknown {
                error_response(
                    Code::MethodNotAllowed,
                    &format!("{method} is not allowed on {path}"),
                )
            } else {
                error_response(Code::NotFound, &format!("no route {path}"))
            };
        }
    };
    result.unwrap_or_else(|e| api_error(&e))
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
/// [`spawn_engine_work`]); `None` if the task failed (it panicked), which is
/// logged. Every route that searches, `/api` and `/meili` alike, goes
/// through here.
pub(crate) async fn on_engine<R, F>(state: &Arc<AppState>, f: F) -> Option<R>
where
    R: Send + 'static,
    F: FnOnce(&Engine) -> R + Send + 'static,
{
    let engine = state.engine.clone();
    match spawn_engine_work(move || f(&engine)).await {
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

enum WriteOp<S> {
    Upsert(S),
    Delete(String),
}

/// The answer of `POST /api/posts`.
#[derive(Serialize)]
struct WriteAnswer {
    #[serde(flatten)]
    summary: ImportSummary,
}

async fn write<S, B>(
    state: &Arc<AppState>,
    headers: &HeaderMap,
    op: WriteOp<S>,
) -> Result<Reply, Error>
where
    S: futures_util::Stream<Item = Result<B, warp::Error>> + Send + Unpin + 'static,
    B: hyper::body::Buf + Send + 'static,
{
    let token = &state.server.write_token;
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
    let index = state.engine.index().clone();
    match op {
        WriteOp::Upsert(body) => {
            let limit = state.requests.max_body_bytes;
            // A body announced over the limit is refused before any of it
            // is read (and before the client is kept sending it).
            let announced = headers
                .get("content-length")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok());
            if announced.is_some_and(|n| n > limit) {
                return Ok(too_large(limit));
            }
            let bytes = match collect_body(body, limit).await {
                Ok(b) => b,
                Err(BodyError::TooLarge) => return Ok(too_large(limit)),
                Err(BodyError::Read(e)) => {
                    return Err(Error::bad_request(
                        "body",
                        format!("could not read the body: {e}"),
                    ))
                }
            };
            // The body is read before taking the write lock, so a client
            // trickling its body in holds up no other write.
            let _guard = state.write_lock.lock().await;
            let summary = spawn_engine_work(move || upsert_body(&index, &bytes))
                .await
                .map_err(|e| Error::Internal(format!("write task failed: {e}")))??;
            state.metrics.commit();
            Ok(json_response(StatusCode::OK, &WriteAnswer { summary }))
        }
        WriteOp::Delete(id) => {
            let _guard = state.write_lock.lock().await;
            let id2 = id.clone();
            let existed = spawn_engine_work(move || -> postsearch_engine::Result<bool> {
                if index.locate(&index.searcher(), &id2)?.is_none() {
                    return Ok(false);
                }
                let mut writer = Writer::new(&index, WriterOptions::default())?;
                writer.delete(&id2)?;
                writer.commit()?;
                Ok(true)
            })
            .await
            .map_err(|e| Error::Internal(format!("write task failed: {e}")))??;
            if existed {
                state.metrics.commit();
                Ok(json_response(
                    StatusCode::OK,
                    &serde_json::json!({"deleted": id}),
                ))
            } else {
                Err(Error::NotFound(id))
            }
        }
    }
}

/// The answer to a body over `limits.max_body_bytes`.
fn too_large(limit: u64) -> Reply {
    let mut resp = error_response(
        Code::PayloadTooLarge,
        &format!("the body is over the limit of {limit} bytes"),
    );
    // The rest of the body is not read: the connection cannot be reused.
    resp.headers_mut()
        .insert("connection", HeaderValue::from_static("close"));
    resp
}

/// Upserts every post of a JSON / JSON array / JSONL body in one commit;
/// the rejected ones are listed in the answer.
fn upsert_body(index: &PostIndex, bytes: &[u8]) -> postsearch_engine::Result<ImportSummary> {
    let opts = WriterOptions {
        budget_bytes: 64 << 20,
        threads: 1,
        ..WriterOptions::default()
    };
    postsearch_store::indexer::import_body(index, bytes, "body", opts)
}

/// Whether the request carries the write token (compared in constant time).
fn authorized(headers: &HeaderMap, token: &str) -> bool {
    use subtle::ConstantTimeEq;
    let Some(value) = headers.get("authorization").and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let Some(given) = value.strip_prefix("Bearer ") else {
        return false;
    };
    given.trim().as_bytes().ct_eq(token.as_bytes()).into()
}

/// Whether `origin` may read our answers.
fn origin_allowed(state: &AppState, origin: &HeaderValue) -> bool {
    let origins = &state.server.cors_origins;
    origins
        .iter()
        .any(|o| o == "*" || o.as_bytes() == origin.as_bytes())
}

fn add_cors(state: &AppState, origin: Option<&HeaderValue>, headers: &mut HeaderMap) {
    let origins = &state.server.cors_origins;
    let wildcard = origins.iter().any(|o| o == "*");
    // With a list of origins the answer depends on the request's origin
    // (allowed or not), so caches must key on it.
    if !origins.is_empty() && !wildcard && !headers.contains_key("vary") {
        headers.insert("vary", HeaderValue::from_static("Origin"));
    }
    let Some(origin) = origin else { return };
    if !origin_allowed(state, origin) {
        return;
    }
    let value = if wildcard {
        HeaderValue::from_static("*")
    } else {
        origin.clone()
    };
    headers.insert("access-control-allow-origin", value);
}

/// The request headers a preflight allows when the client does not list
/// them: those of our own pages and of Meilisearch's clients.
const ALLOWED_HEADERS: &str = "authorization, content-type, x-meilisearch-client";

/// Longest `Access-Control-Request-Headers` echoed back.
const MAX_REQUEST_HEADERS_LEN: usize = 1024;

/// Answers a CORS preflight. For an allowed origin, the headers the client
/// asks for are allowed (echoed, as Meilisearch does, when they are a
/// well-formed list of header names): browser clients add their own (the
/// Meilisearch JS client sends `X-Meilisearch-Client`), and a preflight
/// that left one out would block every request of the page.
fn preflight(state: &AppState, origin: Option<&HeaderValue>, headers: &HeaderMap) -> Reply {
    let allowed = origin.is_some_and(|o| origin_allowed(state, o));
    if !allowed {
        let mut resp = error_response(
            Code::CorsForbidden,
            "this origin is not allowed (server.cors_origins)",
        );
        resp.headers_mut()
            .insert("vary", HeaderValue::from_static("Origin"));
        return resp;
    }
    let mut resp = Response::new(hyper::Body::empty());
    *resp.status_mut() = StatusCode::NO_CONTENT;
    let h = resp.headers_mut();
    h.insert(
        "access-control-allow-methods",
        HeaderValue::from_static("GET, POST, DELETE, OPTIONS"),
    );
    let asked = headers
        .get("access-control-request-headers")
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.len() <= MAX_REQUEST_HEADERS_LEN && is_header_name_list(v))
        .and_then(|v| HeaderValue::from_str(&v.to_ascii_lowercase()).ok());
    h.insert(
        "access-control-allow-headers",
        asked.unwrap_or(HeaderValue::from_static(ALLOWED_HEADERS)),
    );
    h.insert("access-control-max-age", HeaderValue::from_static("600"));
    h.insert(
        "vary",
        HeaderValue::from_static(
            "Origin, Access-Control-Request-Headers, Access-Control-Request-Method",
        ),
    );
    resp
}

/// Whether `v` is a comma-separated list of HTTP header names (tokens).
fn is_header_name_list(v: &str) -> bool {
    v.split(',').map(str::trim).all(|name| {
        !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
    })
}

fn asset(body: &'static str, content_type: &'static str) -> Reply {
    let mut resp = Response::new(hyper::Body::from(body));
    resp.headers_mut()
        .insert("content-type", HeaderValue::from_static(content_type));
    resp.headers_mut().insert(
        "cache-control",
        HeaderValue::from_static("public, max-age=300"),
    );
    resp
}

fn json_response<T: Serialize>(status: StatusCode, value: &T) -> Reply {
    let body = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
    bytes_response(status, body)
}

/// A JSON body already written.
fn bytes_response(status: StatusCode, body: Vec<u8>) -> Reply {
    let mut resp = Response::new(hyper::Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    resp
}

/// `{"error":{"code","message"}}` with a status.
pub fn error_response(code: Code, message: &str) -> Reply {
    json_response(
        code.status(),
        &serde_json::json!({"error": {"code": code.as_str(), "message": message}}),
    )
}

/// A library error as an HTTP answer; 5xx details go to the log only.
fn api_error(e: &Error) -> Reply {
    let code = Code::from(e.code());
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

/// Why a body could not be read.
pub enum BodyError {
    TooLarge,
    Read(warp::Error),
}

mod bytes_buf {
    use super::BodyError;
    use futures_util::StreamExt;

    /// Reads a body stream up to `limit` bytes.
    pub async fn collect_body<S, B>(mut body: S, limit: u64) -> Result<Vec<u8>, BodyError>
    where
        S: futures_util::Stream<Item = Result<B, warp::Error>> + Unpin,
        B: hyper::body::Buf,
    {
        let mut out = Vec::new();
        while let Some(chunk) = body.next().await {
            let mut chunk = chunk.map_err(BodyError::Read)?;
            if (out.len() + chunk.remaining()) as u64 > limit {
                return Err(BodyError::TooLarge);
            }
            while chunk.has_remaining() {
                let part = chunk.chunk();
                out.extend_from_slice(part);
                let n = part.len();
                chunk.advance(n);
            }
        }
        Ok(out)
    }
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
    } = options;
    let dir = index_dir.clone();
    if !PostIndex::exists(&dir) {
        let data = server.data_dir.clone();
        tracing::info!(
            "no index in {}; building one from {}",
            dir.display(),
            data.display()
        );
        let summary = spawn_engine_work(move || -> postsearch_engine::Result<ImportSummary> {
            let index = PostIndex::open_or_create(&dir)?;
            postsearch_store::indexer::import_paths(
                &index,
                &[data],
                &ReadOptions::default(),
                WriterOptions {
                    budget_bytes: budget,
                    ..WriterOptions::default()
                },
                &mut |_| {},
            )
        })
        .await??;
        for r in &summary.rejected {
            tracing::warn!("{r}");
        }
        tracing::info!("indexed: {summary}");
    }
    let index = PostIndex::open(&index_dir)?;
    let addr: SocketAddr = server
        .addr
        .parse()
        .map_err(|e| anyhow::anyhow!("server.addr {:?}: {e}", server.addr))?;
    let state = Arc::new(AppState::new(index, engine, server, requests));
    let svc = warp::service(routes(state));
    let make = hyper::service::make_service_fn(move |_| {
        let svc = svc.clone();
        async move { Ok::<_, Infallible>(svc) }
    });
    let server = hyper::Server::try_bind(&addr)
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?
        .http1_header_read_timeout(Duration::from_secs(10))
        .serve(make);
    on_ready(server.local_addr());
    server.with_graceful_shutdown(shutdown_signal()).await?;
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
