//! CORS: which origins may read the API's answers (`server.cors_origins`),
//! the headers that say so, and preflights.

use crate::errors::Code;
use crate::http::{empty, Reply};
use crate::{error_response, AppState};
use hyper::header::{HeaderMap, HeaderValue};
use hyper::StatusCode;

/// Whether `origin` may read our answers.
pub(crate) fn origin_allowed(state: &AppState, origin: &HeaderValue) -> bool {
    let origins = &state.server.cors_origins;
    origins
        .iter()
        .any(|o| o == "*" || o.as_bytes() == origin.as_bytes())
}

pub(crate) fn add_cors(state: &AppState, origin: Option<&HeaderValue>, headers: &mut HeaderMap) {
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
pub(crate) fn preflight(
    state: &AppState,
    origin: Option<&HeaderValue>,
    headers: &HeaderMap,
) -> Reply {
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
    let mut resp = empty(StatusCode::NO_CONTENT);
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
