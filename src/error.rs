//! The library's error type, mapped in one place to exit codes (CLI) and to
//! HTTP status + `{"error":{"code","message"}}` (server).

use std::path::PathBuf;

/// Everything that can go wrong in the library, with enough context to act on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory could not be read.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The index could not be opened, written or committed.
    #[error("index {path}: {cause}")]
    Index {
        path: PathBuf,
        /// What went wrong (part of the message, so not a `source`).
        cause: tantivy::TantivyError,
    },
    /// A tantivy operation failed outside of opening an index.
    #[error(transparent)]
    Tantivy(#[from] tantivy::TantivyError),
    /// Reading index data failed.
    #[error("index I/O: {0}")]
    IndexIo(#[from] std::io::Error),
    /// The user's request is malformed (bad query, bad parameter).
    #[error("{message}")]
    BadRequest {
        /// The parameter or field at fault (`q`, `limit`, ...).
        param: String,
        message: String,
    },
    /// The requested post does not exist.
    #[error("no post with id {0:?}")]
    NotFound(String),
    /// A configuration value is invalid.
    #[error("configuration: {0}")]
    Config(String),
    /// Work failed in a way the caller cannot fix (a panicked task).
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// A bad-request error about `param`.
    pub fn bad_request(param: impl Into<String>, message: impl Into<String>) -> Error {
        Error::BadRequest {
            param: param.into(),
            message: message.into(),
        }
    }

    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// A stable machine-readable code, used in HTTP error bodies.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Io { .. } => "io_error",
            Error::Index { .. } | Error::Tantivy(_) | Error::IndexIo(_) => "index_error",
            Error::BadRequest { .. } => "bad_request",
            Error::NotFound(_) => "not_found",
            Error::Config(_) => "config_error",
            Error::Internal(_) => "internal",
        }
    }

    /// The HTTP status this error maps to.
    pub fn http_status(&self) -> u16 {
        match self {
            Error::BadRequest { .. } => 400,
            Error::NotFound(_) => 404,
            _ => 500,
        }
    }
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
