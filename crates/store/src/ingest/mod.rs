//! Reading posts from files, directories and stdin, in both formats
//! (docs/FORMAT.md). Every post read comes out either as a [`SourcedPost`] or as a
//! [`Rejection`] naming `path:line` and the reason — nothing is dropped.

pub mod json;
pub mod text;
mod walk;

pub use walk::{input_bytes, read_paths, read_reader_jsonl, Format, ReadOptions, Skipped};

use crate::post::Post;
use std::fmt;

/// A parsed post and where it came from.
#[derive(Debug, Clone)]
pub struct SourcedPost {
    pub post: Post,
    /// The file it was read from (`-` for stdin).
    pub path: String,
    /// 1-based line where the post starts.
    pub line: usize,
}

/// A post (or a whole file) that could not be read, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub path: String,
    /// 1-based line of the problem; 0 when it concerns the whole file.
    pub line: usize,
    pub reason: String,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.path, self.line, self.reason)
    }
}

impl Rejection {
    pub fn new(path: impl Into<String>, line: usize, reason: impl Into<String>) -> Rejection {
        Rejection {
            path: path.into(),
            line,
            reason: reason.into(),
        }
    }
}

/// One item out of the reader: a post, or the reason one could not be read.
pub type ReadItem = Result<SourcedPost, Rejection>;
