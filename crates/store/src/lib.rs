//! postsearch-store: what a post is and how it is kept.
//!
//! - [`post`]: the post and its JSON form; [`ingest`] reads posts from
//!   JSON, JSON lines and the text form, and walks folders of them.
//! - [`analysis`]: how text becomes words (tokenizing, folding, stemming).
//! - [`schema`], [`document`], [`meta`], [`values`]: the post as the index
//!   holds it: fields, the document handed to tantivy, the packed meta-score
//!   column, and the normal forms of facet values and dates.
//! - [`index`], [`directory`], [`stored`]: the index on disk, how its files
//!   are mapped, and the stored post read back for hits.
//! - [`vocabulary`]: the words of each segment, unstemmed, with their
//!   document counts (typos, completions), kept by a segment plugin, and
//!   [`prefixes`]: the most frequent words of each short prefix.
//! - [`indexer`]: writing: upserts, deletes, atomic commits, imports;
//!   [`in_flight`] bounds the posts waiting for its indexing threads.
//!
//! The query engine (`postsearch-engine`) reads what this crate writes; this
//! crate knows nothing of queries, HTTP or the command line.

pub mod analysis;
pub mod directory;
pub mod document;
pub mod error;
pub mod in_flight;
pub mod index;
pub mod indexer;
pub mod ingest;
pub mod mapped;
pub mod meta;
pub mod plugin_files;
pub mod post;
pub mod prefixes;
pub mod rebuild;
pub mod schema;
pub mod snapshot;
mod stem_cache;
pub mod stored;
pub mod values;
pub mod vocabulary;

pub use error::{Error, ErrorCode, Result};
pub use index::PostIndex;
pub use post::Post;

/// Post `n` of the generated corpus with `seed`, as this crate's [`Post`]
/// (the generator links its own copy of this crate, so the post crosses
/// over as JSON).
#[cfg(test)]
pub(crate) fn generated_post(seed: u64, n: usize) -> Post {
    serde_json::from_str(&postsearch_corpus::generate_post(seed, n).to_json_line())
        .expect("a generated post parses")
}
