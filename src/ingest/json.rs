//! The JSON forms: one post per `.json` file (or an array), and JSONL.

use super::{ReadItem, ReadOptions};

/// Parses a whole JSON document holding one post or an array of posts.
pub fn parse_json_document(bytes: &[u8], path: &str, sink: &mut dyn FnMut(ReadItem)) {
    let _ = (bytes, path, sink);
    todo!("helper A")
}

/// Parses a request body that is either a JSON array/object or JSONL.
pub fn parse_body(bytes: &[u8], name: &str, opts: &ReadOptions, sink: &mut dyn FnMut(ReadItem)) {
    let _ = (bytes, name, opts, sink);
    todo!("helper A")
}
