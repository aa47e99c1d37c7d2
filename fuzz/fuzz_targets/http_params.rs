//! `/api/search` query strings: a request or a 400 naming a parameter.
#![no_main]
use libfuzzer_sys::fuzz_target;
use postsearch_engine::Limits;
use postsearch_server::params;

fuzz_target!(|data: &[u8]| {
    let raw = String::from_utf8_lossy(data);
    let limits = Limits::default();
    let _ = params::search_request(&raw, &limits);
    let _ = params::limit_only(&raw, 5, &["q"], &limits);
});
