//! What the server is told to do: where to listen and whom to let in
//! (`[server]`), how much one request may take of it (`[limits]`, the HTTP
//! part; the engine checks its own), and the engine it serves.

use postsearch_engine::EngineOptions;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// `[server]` in `postsearch.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Listen address.
    pub addr: String,
    /// Origins allowed by CORS (`*` allows any; empty allows none).
    pub cors_origins: Vec<String>,
    /// Bearer token for writes; empty disables the write routes.
    pub write_token: String,
    /// A file holding the write token (its first line), instead of
    /// `write_token`: a secret kept out of the configuration and the
    /// environment (systemd's `LoadCredential`, a container secret).
    pub write_token_file: PathBuf,
    /// Directory of posts indexed on first start when there is no index.
    pub data_dir: PathBuf,
    /// The index uid the Meilisearch-compatible API (`/meili`) answers for.
    pub meili_index_uid: String,
    /// Serve the index as it is: no writes, no first-run import, and no
    /// file written in the index folder (a read-only volume works).
    pub read_only: bool,
    /// File-backed memory the server keeps resident, in MB (0: no limit):
    /// past it, its mappings of the index pages are dropped (they stay in
    /// the page cache; see `postsearch_store::mapped`).
    pub max_mapped_mb: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            addr: "127.0.0.1:7700".into(),
            cors_origins: Vec::new(),
            write_token: String::new(),
            write_token_file: PathBuf::new(),
            data_dir: PathBuf::from("data"),
            meili_index_uid: "posts".into(),
            read_only: false,
            max_mapped_mb: MAX_MAPPED_MB,
        }
    }
}

/// File-backed memory kept resident by default, in MB: with the server's
/// own memory, a 1M-post index serves 32 connections in under 300 MB, also
/// under a search-box query mix (docs/performance.md). Above the ~105 MB
/// that the term dictionaries, columns and the binary take at 1M posts,
/// which every search reads: under that, the limiter would drop them too,
/// every 50 ms.
pub const MAX_MAPPED_MB: u64 = 128;

/// Largest body of a write by default, in bytes.
pub const MAX_BODY_BYTES: u64 = 16 << 20;
/// Largest body of any other request (a search) by default, in bytes: a
/// `/meili` search with a long filter is a few kilobytes.
pub const MAX_SEARCH_BODY_BYTES: u64 = 256 << 10;
/// Time limit of one request by default, in milliseconds.
pub const REQUEST_TIMEOUT_MS: u64 = 10_000;
/// Requests served at once by default.
pub const MAX_CONCURRENT_REQUESTS: usize = 256;

/// The HTTP layer's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestLimits {
    /// Largest body of a write (`POST /api/posts`), in bytes.
    pub max_body_bytes: u64,
    /// Largest body of any other request (a `/meili` search), in bytes.
    pub max_search_body_bytes: u64,
    /// Time limit of one request, in milliseconds.
    pub request_timeout_ms: u64,
    /// Requests served at once; more wait in line.
    pub max_concurrent_requests: usize,
}

impl Default for RequestLimits {
    fn default() -> Self {
        RequestLimits {
            max_body_bytes: MAX_BODY_BYTES,
            max_search_body_bytes: MAX_SEARCH_BODY_BYTES,
            request_timeout_ms: REQUEST_TIMEOUT_MS,
            max_concurrent_requests: MAX_CONCURRENT_REQUESTS,
        }
    }
}

/// Everything [`crate::serve`] needs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServeOptions {
    /// The index directory (built from `server.data_dir` when missing).
    pub index_dir: PathBuf,
    /// Writer memory budget, in bytes.
    pub writer_budget_bytes: usize,
    pub server: ServerConfig,
    pub requests: RequestLimits,
    pub engine: EngineOptions,
    /// Where the engine's synonym rules come from (watched for changes).
    pub synonyms: crate::reload::SynonymSource,
    /// `[analytics]`: what is recorded and where.
    pub analytics: crate::analytics::AnalyticsConfig,
}
