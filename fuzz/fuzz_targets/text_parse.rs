//! The text-form parser on arbitrary bytes: a post or a rejection, never a
//! panic; a parsed post is valid and survives `to_text` → `parse`.
#![no_main]
use libfuzzer_sys::fuzz_target;
use postsearch_store::ingest::text;

fuzz_target!(|data: &[u8]| {
    if let Ok(post) = text::parse(data, "fuzz.txt") {
        assert!(post.validate().is_ok());
        let _ = text::parse(text::to_text(&post).as_bytes(), "again.txt");
    }
});
