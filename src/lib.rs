//! postsearch: a full-text search indexer and query service for technical
//! posts, built on Tantivy.
//!
//! The library does all the work; the `postsearch` binary, the HTTP server,
//! the benchmark and the tests call the same functions.

pub mod analysis;
pub mod bench;
pub mod cli;
pub mod config;
pub mod directory;
pub mod document;
pub mod error;
pub mod eval;
pub mod generate;
pub mod index;
pub mod indexer;
pub mod ingest;
pub mod post;
pub mod schema;
pub mod search;
pub mod server;
pub mod stored;

pub use error::{Error, Result};
pub use post::Post;
