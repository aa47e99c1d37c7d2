//! The `postsearch` binary's library: the command line ([`cli`]), the
//! layered configuration ([`config`]), the latency benchmark ([`bench`]) and
//! the relevance evaluation ([`eval`]).
//!
//! The work is done by the workspace's crates, which this one ties
//! together:
//! - `postsearch-store`: posts, analysis, the index on disk, ingest;
//! - `postsearch-engine`: the query engine;
//! - `postsearch-server`: the HTTP API and the Meilisearch-compatible API;
//! - `postsearch-corpus`: the synthetic corpus of `postsearch generate`.

pub mod bench;
pub mod cli;
pub mod config;
pub mod eval;
