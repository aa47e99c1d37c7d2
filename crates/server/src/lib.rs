//! The HTTP service (hyper 1 on tokio, HTTP/1.1): routes translate
//! requests into engine calls and engine results into JSON, nothing more.
//!
//! Every request goes through one dispatcher, so that limits, CORS, metrics,
//! logging, time limits and panic handling apply to all routes alike. CPU
//! work runs on the blocking pool; a panic there is answered 500 and the
//! server keeps serving.

pub mod cors;
pub mod errors;
pub mod http;
pub mod meili;
pub mod metrics;
pub mod params;
pub mod routes;
pub mod settings;

pub use settings::{RequestLimits, ServeOptions, ServerConfig};

use errors::Code;
use http::{accepted, asset, collect_body, compress, json_response, BodyError, Encoding, Reply};
use hyper::header::{HeaderMap, HeaderValue};
use hyper::{Method, Request, StatusCode};
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
    let route = {
        let segs: Vec<&str> = req.segments.iter().map(String::as_str).collect();
        Route::of(&segs).label()
    };
    let origin = req.headers.get("origin").cloned();
    let encoding = accepted(&req.headers);
    let limits = state.requests;
    let mut response = if method == Method::OPTIONS {
        cors::preflight(&state, origin.as_ref(), &req.headers)
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
    cors::add_cors(&state, origin.as_ref(), response.headers_mut());
    if method != Method::HEAD {
        response = compressed(encoding, response).await;
    }
    let status = response.status().as_u16();
    let secs = started.elapsed().as_secs_f64();
    state.metrics.observe(route, method.as_str(), status, secs);
    tracing::debug!(
        method = %method,
        path = %path,
        status,
        duration_ms = (secs * 1e6).round() / 1e3,
        "request"
    );
    response
}

async fn dispatch(state: Arc<AppState>, req: Call) -> Reply {
    let Call {
        method,
        path,
        segments,
        query,
        headers,
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
        (Route::Readyz, true) => {
            let docs = state.engine.index().searcher().num_docs();
            Ok(json_response(
                StatusCode::OK,
                &serde_json::json!({"ready": true, "documents": docs}),
            ))
        }
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
            write(&state, &headers, WriteOp::Delete(id.to_string())).await
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

enum WriteOp {
    Upsert(hyper::body::Incoming),
    Delete(String),
}

/// The answer of `POST /api/posts`.
#[derive(Serialize)]
struct WriteAnswer {
    #[serde(flatten)]
    summary: ImportSummary,
}

async fn write(state: &Arc<AppState>, headers: &HeaderMap, op: WriteOp) -> Result<Reply, Error> {
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
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
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
                let conn = graceful.watch(
                    http1.serve_connection(hyper_util::rt::TokioIo::new(stream), service),
                );
                tokio::spawn(async move {
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
