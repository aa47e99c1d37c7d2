//! Every error code the HTTP API answers, with its status: one table
//! ([`Code::status`]). The engine's codes ([`ErrorCode`]) map into it; the
//! server adds its own (overload, time limit, authorization, body size,
//! CORS, routing). Bodies are `{"error":{"code","message"[,"param"]}}`.

use hyper::StatusCode;
use postsearch_engine::ErrorCode;

/// An error code of the HTTP API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// A parameter or body is malformed (the engine's or the server's).
    BadRequest,
    /// No such post, or no such route.
    NotFound,
    /// The index could not be read or written.
    Index,
    /// A file could not be read.
    Io,
    /// The configuration is invalid.
    Config,
    /// The server failed; details are in its log.
    Internal,
    /// Too many requests at once.
    Overloaded,
    /// The request took longer than `limits.request_timeout_ms`.
    Timeout,
    /// A write while another process (an import) holds the index's write
    /// lock: nothing was applied.
    IndexBusy,
    /// The route exists, not with this method.
    MethodNotAllowed,
    /// No write token is configured.
    WritesDisabled,
    /// A write without the right token.
    Unauthorized,
    /// A body over `limits.max_body_bytes` (writes) or
    /// `limits.max_search_body_bytes` (the rest).
    PayloadTooLarge,
    /// A body that did not arrive within `limits.request_timeout_ms`.
    BodyTimeout,
    /// A preflight from an origin not in `server.cors_origins`.
    CorsForbidden,
    /// Analytics are not served: no token for the report, or clicks (or
    /// recording) turned off.
    AnalyticsDisabled,
}

impl Code {
    /// The code's status and its name in error bodies: the one table.
    fn entry(self) -> (StatusCode, &'static str) {
        match self {
            Code::BadRequest => (StatusCode::BAD_REQUEST, "bad_request"),
            Code::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            Code::Index => (StatusCode::INTERNAL_SERVER_ERROR, "index_error"),
            Code::Io => (StatusCode::INTERNAL_SERVER_ERROR, "io_error"),
            Code::Config => (StatusCode::INTERNAL_SERVER_ERROR, "config_error"),
            Code::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            Code::Overloaded => (StatusCode::SERVICE_UNAVAILABLE, "overloaded"),
            Code::Timeout => (StatusCode::SERVICE_UNAVAILABLE, "timeout"),
            Code::IndexBusy => (StatusCode::SERVICE_UNAVAILABLE, "index_busy"),
            Code::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            Code::WritesDisabled => (StatusCode::FORBIDDEN, "writes_disabled"),
            Code::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Code::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            Code::BodyTimeout => (StatusCode::REQUEST_TIMEOUT, "body_timeout"),
            Code::CorsForbidden => (StatusCode::FORBIDDEN, "cors_forbidden"),
            Code::AnalyticsDisabled => (StatusCode::FORBIDDEN, "analytics_disabled"),
        }
    }

    /// The HTTP status of this code.
    pub fn status(self) -> StatusCode {
        self.entry().0
    }

    /// The code as written in error bodies.
    pub fn as_str(self) -> &'static str {
        self.entry().1
    }
}

impl From<ErrorCode> for Code {
    fn from(code: ErrorCode) -> Code {
        match code {
            ErrorCode::BadRequest => Code::BadRequest,
            ErrorCode::NotFound => Code::NotFound,
            ErrorCode::Index => Code::Index,
            ErrorCode::Io => Code::Io,
            ErrorCode::Config => Code::Config,
            ErrorCode::Internal => Code::Internal,
            ErrorCode::Interrupted => Code::Timeout,
            ErrorCode::Busy => Code::IndexBusy,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_codes_keep_their_names_and_only_caller_errors_are_4xx() {
        for code in [
            ErrorCode::BadRequest,
            ErrorCode::NotFound,
            ErrorCode::Index,
            ErrorCode::Io,
            ErrorCode::Config,
            ErrorCode::Internal,
            ErrorCode::Interrupted,
            ErrorCode::Busy,
        ] {
            let api = Code::from(code);
            assert_eq!(api.as_str(), code.as_str());
            let caller = matches!(code, ErrorCode::BadRequest | ErrorCode::NotFound);
            assert_eq!(api.status().is_client_error(), caller, "{code}");
        }
    }
}
