//! `parse_body` (a POST /api/posts body: JSON object, array or JSONL) on
//! arbitrary bytes: every item is a valid post or a rejection.
#![no_main]
use libfuzzer_sys::fuzz_target;
use postsearch_store::ingest::{json::parse_body, ReadOptions};

fuzz_target!(|data: &[u8]| {
    let opts = ReadOptions::default();
    parse_body(data, "body", &opts, &mut |item| {
        if let Ok(p) = item {
            assert!(p.post.validate().is_ok());
        }
    });
});
