//! The error type of the store and the engine, with a stable code per kind
//! ([`ErrorCode`]). Codes are all a caller needs to react: the server maps
//! each to an HTTP status in one table, the CLI to an exit status.

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
    #[error("index {}: {}", path.display(), plain(cause))]
    Index {
        path: PathBuf,
        /// What went wrong (part of the message, so not a `source`).
        cause: tantivy::TantivyError,
    },
    /// A tantivy operation failed outside of opening an index.
    #[error(transparent)]
    Tantivy(tantivy::TantivyError),
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
    /// The work was stopped before it finished: its time was up, or the
    /// client that asked for it went away. Nothing was changed.
    #[error("stopped: {0}")]
    Interrupted(String),
}

/// What went wrong with an index, in words: tantivy's message without its
/// wrapping (`An invalid argument was passed: '…'`, `LockBusy. Some(…)`).
pub(crate) fn plain(e: &tantivy::TantivyError) -> String {
    use tantivy::directory::error::LockError;
    use tantivy::TantivyError as T;
    match e {
        T::InvalidArgument(m) | T::SchemaError(m) | T::InternalError(m) => m.clone(),
        T::LockFailure(LockError::LockBusy, _) => "another process is writing to this index \
            (its write lock is held: an import, or a server taking writes or \
            rewriting a segment of deleted posts); wait for it to finish or stop it"
            .into(),
        T::LockFailure(LockError::IoError(io), _) => format!("cannot take its write lock: {io}"),
        T::IoError(io) => io.to_string(),
        other => other.to_string(),
    }
}

/// Marks an [`Error::Interrupted`] carried through code that answers
/// tantivy's error type (a scorer, a collector): see
/// [`Error::into_tantivy`].
const INTERRUPTED_MARK: &str = "postsearch:interrupted:";

impl From<tantivy::TantivyError> for Error {
    /// A tantivy error, or the interruption it carries (see
    /// [`Error::into_tantivy`]).
    fn from(e: tantivy::TantivyError) -> Error {
        if let tantivy::TantivyError::InternalError(msg) = &e {
            if let Some(reason) = msg.strip_prefix(INTERRUPTED_MARK) {
                return Error::Interrupted(reason.to_string());
            }
        }
        Error::Tantivy(e)
    }
}

impl Error {
    /// This error as tantivy's, for code that must answer tantivy's error
    /// type; an interruption comes back whole through `From`.
    pub fn into_tantivy(self) -> tantivy::TantivyError {
        match self {
            Error::Interrupted(reason) => {
                tantivy::TantivyError::InternalError(format!("{INTERRUPTED_MARK}{reason}"))
            }
            Error::Tantivy(e) => e,
            other => tantivy::TantivyError::InternalError(other.to_string()),
        }
    }

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

    /// The kind of error, as a stable code.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Io { .. } => ErrorCode::Io,
            Error::Index { cause, .. } | Error::Tantivy(cause) if is_lock_busy(cause) => {
                ErrorCode::Busy
            }
            Error::Index { .. } | Error::Tantivy(_) | Error::IndexIo(_) => ErrorCode::Index,
            Error::BadRequest { .. } => ErrorCode::BadRequest,
            Error::NotFound(_) => ErrorCode::NotFound,
            Error::Config(_) => ErrorCode::Config,
            Error::Internal(_) => ErrorCode::Internal,
            Error::Interrupted(_) => ErrorCode::Interrupted,
        }
    }

    /// The parameter or field at fault, for a bad request.
    pub fn param(&self) -> Option<&str> {
        match self {
            Error::BadRequest { param, .. } => Some(param),
            _ => None,
        }
    }
}

/// The kinds of [`Error`], by who can act on them: the caller
/// ([`BadRequest`](ErrorCode::BadRequest), [`NotFound`](ErrorCode::NotFound))
/// or the operator (the rest).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// A file or directory could not be read.
    Io,
    /// The index could not be opened, read, written or committed.
    Index,
    /// The request is malformed.
    BadRequest,
    /// The requested post does not exist.
    NotFound,
    /// A configuration value is invalid.
    Config,
    /// Work failed in a way the caller cannot fix.
    Internal,
    /// The work was stopped before it finished (time limit, client gone).
    Interrupted,
    /// Another process holds the index's write lock (an import): a write
    /// cannot start until it is done.
    Busy,
}

/// Whether `e` says another writer holds the index's write lock.
pub(crate) fn is_lock_busy(e: &tantivy::TantivyError) -> bool {
    matches!(
        e,
        tantivy::TantivyError::LockFailure(tantivy::directory::error::LockError::LockBusy, _)
    )
}

impl ErrorCode {
    /// The code as it appears in error bodies (`bad_request`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Io => "io_error",
            ErrorCode::Index => "index_error",
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Config => "config_error",
            ErrorCode::Internal => "internal",
            ErrorCode::Interrupted => "timeout",
            ErrorCode::Busy => "index_busy",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
