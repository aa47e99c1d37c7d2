//! The text-form parser on arbitrary bytes: a post or a rejection, never a
//! panic; a parsed post is valid and survives `to_text` → `parse`. The
//! same bytes read as a file of several posts: every post parsed is valid,
//! every rejection names a line of the file, and the posts come in order.
#![no_main]
use libfuzzer_sys::fuzz_target;
use postsearch_store::ingest::text;

fuzz_target!(|data: &[u8]| {
    if let Ok(post) = text::parse(data, "fuzz.txt") {
        assert!(post.validate().is_ok());
        let _ = text::parse(text::to_text(&post).as_bytes(), "again.txt");
    }
    let lines = data.iter().filter(|b| **b == b'\n').count() + 1;
    let mut last = 0;
    text::parse_all(data, "fuzz.txt", &mut |item| match item {
        Ok((post, line)) => {
            assert!(post.validate().is_ok());
            assert!(line > last && line <= lines, "line {line} of {lines}");
            last = line;
        }
        Err(r) => assert!(r.line <= lines, "rejection at line {} of {lines}", r.line),
    });
});
