//! The read side of Meilisearch's HTTP API under `/meili`, for one index
//! (`server.meili_index_uid`, `posts` by default): search (GET, POST and
//! multi-search), facet search, documents by id, and the index, settings,
//! stats, health and version calls clients make on start-up. A write on a
//! route answered here is a 405 with `Allow` ([`served_methods`]); every
//! other route (document writes, keys, tasks, ...) is a 501
//! `not_implemented`. Errors have Meilisearch's shape
//! `{"message","code","type","link"}`. See docs/meilisearch.md.

pub mod assets;
pub mod facet_search;
pub mod filter;
pub mod search;

use crate::http::{bytes_response, json_response, Reply};
use crate::AppState;
use bytes::Bytes;
use hyper::header::HeaderValue;
use hyper::{Method, StatusCode};
use postsearch_engine::Engine;
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// The Meilisearch version whose API shapes this layer follows.
pub const COMPAT_VERSION: &str = "1.12.0";

/// A Meilisearch-style error.
#[derive(Debug, Clone, PartialEq)]
pub struct MeiliError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
    /// The methods the route has, for a 405.
    pub allow: Option<&'static str>,
}

impl MeiliError {
    pub fn new(status: StatusCode, code: impl Into<String>, message: impl Into<String>) -> Self {
        MeiliError {
            status,
            code: code.into(),
            message: message.into(),
            allow: None,
        }
    }

    /// A 405: `method` is not one of the route's `allow`.
    fn method_not_allowed(method: &Method, path: &str, allow: &'static str) -> Self {
        let writes = [Method::POST, Method::PUT, Method::PATCH, Method::DELETE];
        let message = if writes.contains(method) {
            format!("postsearch's Meilisearch-compatible API does not write: {method} {path} is not allowed (allowed: {allow}; write through /api/posts instead)")
        } else {
            format!("{method} is not allowed on {path} (allowed: {allow})")
        };
        MeiliError {
            allow: Some(allow),
            ..Self::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                message,
            )
        }
    }

    /// A 400 with `code`.
    pub fn bad(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; see the server log",
        )
    }

    /// The error as an HTTP answer.
    pub fn reply(&self) -> Reply {
        let kind = if self.status.is_server_error() && self.status != StatusCode::NOT_IMPLEMENTED {
            "internal"
        } else {
            "invalid_request"
        };
        let mut resp = json_response(
            self.status,
            &json!({
                "message": self.message,
                "code": self.code,
                "type": kind,
                "link": format!("https://docs.meilisearch.com/errors#{}", self.code),
            }),
        );
        if let Some(allow) = self.allow {
            resp.headers_mut()
                .insert("allow", HeaderValue::from_static(allow));
        }
        resp
    }
}

impl From<postsearch_engine::Error> for MeiliError {
    fn from(e: postsearch_engine::Error) -> Self {
        use postsearch_engine::Error;
        match &e {
            Error::BadRequest { param, message } => {
                let code = match param.as_str() {
                    "q" => "invalid_search_q",
                    "limit" => "invalid_search_limit",
                    "offset" => "invalid_search_offset",
                    "facet" | "filter" => "invalid_search_filter",
                    _ => "bad_request",
                };
                MeiliError::bad(code, message.clone())
            }
            Error::NotFound(id) => MeiliError::new(
                StatusCode::NOT_FOUND,
                "document_not_found",
                format!("Document `{id}` not found."),
            ),
            Error::Interrupted(reason) => {
                let code = crate::errors::Code::Timeout;
                MeiliError::new(code.status(), code.as_str(), reason.clone())
            }
            _ => {
                tracing::error!("meili request failed: {e}");
                MeiliError::internal()
            }
        }
    }
}

type MResult<T> = Result<T, MeiliError>;

/// The methods postsearch answers on the `/meili` routes it knows; any
/// other method there is a 405 with `Allow` (Meilisearch's writes among
/// them: the message says to write through `/api/posts`). `None` for paths
/// this table does not know (answered 501, whatever the method).
pub(crate) fn served_methods(segs: &[&str]) -> Option<&'static str> {
    Some(match segs {
        ["indexes", _, "search"] => "GET, HEAD, POST",
        ["indexes", _, "facet-search"] | ["multi-search"] => "POST",
        ["health"]
        | ["version"]
        | ["stats"]
        | ["indexes"]
        | ["indexes", _]
        | ["indexes", _, "stats"]
        | ["indexes", _, "settings"]
        | ["indexes", _, "settings", _]
        | ["indexes", _, "documents", _] => "GET, HEAD",
        _ => return None,
    })
}

/// The filterable attributes (also the facets that can be asked for).
pub use filter::FILTERABLE;

/// The sortable attributes.
pub const SORTABLE: [&str; 3] = ["view_count", "quality", "last_reviewed"];

/// The searchable attributes, in ranking order.
pub const SEARCHABLE: [&str; 6] = ["title", "summary", "topic", "brief", "checklist", "body"];

fn settings(engine: &Engine) -> Value {
    let limits = engine.limits();
    json!({
        "displayedAttributes": ["*"],
        "searchableAttributes": SEARCHABLE,
        "filterableAttributes": FILTERABLE,
        "sortableAttributes": SORTABLE,
        "rankingRules": ["words", "typo", "proximity", "attribute", "sort", "exactness"],
        "stopWords": [],
        "nonSeparatorTokens": [],
        "separatorTokens": [],
        "dictionary": [],
        "synonyms": engine.synonyms().to_map(),
        "distinctAttribute": null,
        "proximityPrecision": "byWord",
        "typoTolerance": {
            "enabled": true,
            "minWordSizeForTypos": {"oneTypo": 5, "twoTypos": 9},
            "disableOnWords": [],
            "disableOnAttributes": []
        },
        "faceting": {"maxValuesPerFacet": search::MAX_VALUES_PER_FACET, "sortFacetValuesBy": {"*": search::SORT_FACET_VALUES_BY}},
        "pagination": {"maxTotalHits": limits.max_offset + limits.max_limit},
        "embedders": {},
        "searchCutoffMs": null,
        "localizedAttributes": null,
        "facetSearch": true,
        "prefixSearch": "indexingTime"
    })
}

/// `camelCase` of a `kebab-case` settings route name.
fn camel(kebab: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in kebab.chars() {
        if c == '-' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn index_object(uid: &str) -> Value {
    json!({
        "uid": uid,
        "primaryKey": "id",
        "createdAt": "1970-01-01T00:00:00.000000Z",
        "updatedAt": "1970-01-01T00:00:00.000000Z",
    })
}

fn index_stats(engine: &Engine) -> MResult<Value> {
    let docs = engine.index().searcher().num_docs();
    Ok(json!({
        "numberOfDocuments": docs,
        "isIndexing": false,
        "fieldDistribution": {"id": docs, "title": docs},
    }))
}

fn not_implemented(method: &Method, path: &str) -> MeiliError {
    let message = if method == Method::GET || method == Method::HEAD {
        format!("postsearch's Meilisearch-compatible API does not implement {method} {path} (see docs/meilisearch.md for what it answers)")
    } else {
        format!(
            "postsearch's Meilisearch-compatible API does not write: {method} {path} is not implemented (write through /api/posts instead)"
        )
    };
    MeiliError::new(StatusCode::NOT_IMPLEMENTED, "not_implemented", message)
}

fn index_not_found(uid: &str) -> MeiliError {
    MeiliError::new(
        StatusCode::NOT_FOUND,
        "index_not_found",
        format!("Index `{uid}` not found."),
    )
}

/// Counts a search in the analytics (InstantSearch searches as you type:
/// a query not ending in a space is a prefix search; a page after the
/// first is the same search again, not counted).
fn record(recorder: Option<&crate::analytics::Recorder>, searched: &search::Searched) {
    if let Some(r) = recorder.filter(|_| searched.first_page) {
        r.search(&searched.q, searched.total, searched.prefix);
    }
}

/// Runs engine work on the blocking pool (see [`super::on_engine`]).
async fn blocking<T, F>(state: &Arc<AppState>, f: F) -> MResult<T>
where
    T: Send + 'static,
    F: FnOnce(&Engine) -> MResult<T> + Send + 'static,
{
    super::on_engine(state, f)
        .await
        .unwrap_or_else(|| Err(MeiliError::internal()))
}

/// The JSON of a request body (`{}` when it is empty). Called on the
/// blocking pool: parsing takes time and memory in proportion to the body
/// (itself within `limits.max_search_body_bytes`).
fn json_body(bytes: &[u8]) -> MResult<Value> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Map::new()));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        MeiliError::bad(
            "malformed_payload",
            format!("The json payload provided is malformed. `{e}`."),
        )
    })
}

/// The JSON object of a request body; `what` names it in the error.
fn json_object(bytes: &[u8], what: &str) -> MResult<Map<String, Value>> {
    match json_body(bytes)? {
        Value::Object(params) => Ok(params),
        _ => Err(MeiliError::bad(
            "bad_request",
            format!("the {what} must be a JSON object"),
        )),
    }
}

/// Answers a request under `/meili`; `segs` are the path segments after
/// `meili`.
pub async fn handle(
    state: Arc<AppState>,
    method: &Method,
    path: &str,
    segs: &[&str],
    query: &str,
    body: Bytes,
) -> Reply {
    match route(&state, method, path, segs, query, body).await {
        Ok(Answer::Value(v)) => json_response(StatusCode::OK, &v),
        Ok(Answer::Json(bytes)) => bytes_response(StatusCode::OK, bytes),
        Err(e) => e.reply(),
    }
}

/// A successful answer: a JSON value, or JSON already written (searches).
enum Answer {
    Value(Value),
    Json(Vec<u8>),
}

impl From<Value> for Answer {
    fn from(v: Value) -> Self {
        Answer::Value(v)
    }
}

async fn route(
    state: &Arc<AppState>,
    method: &Method,
    path: &str,
    segs: &[&str],
    query: &str,
    body: Bytes,
) -> MResult<Answer> {
    let get = method == Method::GET || method == Method::HEAD;
    let post = method == Method::POST;
    if let Some(allow) = served_methods(segs) {
        let allowed = allow.split(", ").any(|m| m == method.as_str());
        if !allowed {
            return Err(MeiliError::method_not_allowed(method, path, allow));
        }
    }
    let uid = state.server.meili_index_uid.clone();
    if let ["indexes", u, ..] = segs {
        if *u != uid {
            return Err(index_not_found(u));
        }
    }
    let value = match (segs, get, post) {
        (["health"], true, _) => json!({"status": "available"}),
        (["version"], true, _) => json!({
            "commitSha": "postsearch",
            "commitDate": "1970-01-01T00:00:00.000000Z",
            "pkgVersion": COMPAT_VERSION,
            "postsearchVersion": env!("CARGO_PKG_VERSION"),
        }),
        (["stats"], true, _) => {
            let u = uid.clone();
            blocking(state, move |e| {
                let s = index_stats(e)?;
                let mut indexes = Map::new();
                indexes.insert(u, s);
                Ok(json!({"databaseSize": 0, "lastUpdate": null, "indexes": indexes}))
            })
            .await?
        }
        (["indexes"], true, _) => json!({
            "results": [index_object(&uid)],
            "offset": 0,
            "limit": 20,
            "total": 1,
        }),
        (["indexes", _], true, _) => index_object(&uid),
        (["indexes", _, "stats"], true, _) => blocking(state, index_stats).await?,
        (["indexes", _, "settings"], true, _) => settings(&state.engine),
        (["indexes", _, "settings", name], true, _) => settings(&state.engine)
            .get(camel(name))
            .cloned()
            .ok_or_else(|| {
                MeiliError::new(
                    StatusCode::NOT_FOUND,
                    "not_found",
                    format!("Unknown setting `{name}`."),
                )
            })?,
        (["indexes", _, "documents", id], true, _) => {
            let fields: Option<Vec<String>> = super::params::pairs(query)
                .into_iter()
                .find(|(k, _)| k == "fields")
                .map(|(_, v)| v.split(',').map(|s| s.trim().to_string()).collect());
            let id = id.to_string();
            return blocking(state, move |e| {
                let stored = e.stored_post(&id)?;
                let mut out = Vec::new();
                search::write_document(&mut out, &stored, fields.as_deref());
                Ok(Answer::Json(out))
            })
            .await;
        }
        (["indexes", _, "search"], _, _) if get || post => {
            let from_query = match get {
                true => Some(search::params_from_query(query)?),
                false => None,
            };
            let limits = *state.engine.limits();
            let recorder = state.analytics.clone().filter(|_| method != Method::HEAD);
            return blocking(state, move |e| {
                let params = match from_query {
                    Some(params) => params,
                    None => json_object(&body, "search parameters")?,
                };
                let mut out = Vec::new();
                let searched = search::run(e, &limits, params, None, &mut out)?;
                record(recorder.as_deref(), &searched);
                Ok(Answer::Json(out))
            })
            .await;
        }
        (["indexes", _, "facet-search"], _, true) => {
            let limits = *state.engine.limits();
            return blocking(state, move |e| {
                let params = json_object(&body, "facet search parameters")?;
                facet_search::run(e, &limits, params).map(Answer::Value)
            })
            .await;
        }
        (["multi-search"], _, true) => {
            let limits = *state.engine.limits();
            let u = uid.clone();
            let queries = blocking(state, move |_| {
                search::multi_search_queries(json_body(&body)?, &u, &limits)
            })
            .await?;
            // One engine task per search: a long multi-search takes its
            // turns on the blocking pool with the other requests' searches
            // rather than holding a thread for all of its own.
            let mut out = b"{\"results\":[".to_vec();
            // Counted once every search has been answered (an error answers
            // none of them).
            let mut searched = Vec::new();
            for (i, q) in queries.into_iter().enumerate() {
                let u = uid.clone();
                let (one, this) = blocking(state, move |e| {
                    let mut one = Vec::new();
                    let this = search::run(e, &limits, q, Some(&u), &mut one)?;
                    Ok((one, this))
                })
                .await
                .map_err(|mut err| {
                    err.message = format!("Inside `.queries[{i}]`: {}", err.message);
                    err
                })?;
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(&one);
                searched.push(this);
            }
            out.extend_from_slice(b"]}");
            for s in &searched {
                record(state.analytics.as_deref(), s);
            }
            return Ok(Answer::Json(out));
        }
        _ => return Err(not_implemented(method, path)),
    };
    Ok(Answer::Value(value))
}
