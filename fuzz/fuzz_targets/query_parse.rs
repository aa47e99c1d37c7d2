//! The query language: parse arbitrary text, then build and run it with
//! every option against a small in-RAM index. Errors are fine, panics not.
#![no_main]
use libfuzzer_sys::fuzz_target;
use postsearch_store::index::PostIndex;
use postsearch_store::indexer::{Writer, WriterOptions};
use postsearch_engine::{query, Engine, MatchMode, SearchRequest, Sort};
use postsearch_store::Post;
use std::sync::OnceLock;

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let index = PostIndex::create_in_ram().unwrap();
        let mut w = Writer::new(&index, WriterOptions { threads: 1, ..Default::default() }).unwrap();
        let posts = [
            r#"{"id":"a","title":"Fixing n+1 queries in Django","body":"select_related and prefetch_related cut queries","stack":["python","django"],"tools":["pytest"],"difficulty":"advanced","code_language":"python","view_count":1200,"score":{"quality":88,"freshness":70,"depth":60,"clarity":90}}"#,
            r#"{"id":"b","title":"Kubernetes rollout without downtime","body":"readiness probes, maxSurge and helm","stack":["kubernetes"],"tools":["helm","kubectl"],"difficulty":"intermediate","view_count":40,"score":{"quality":55}}"#,
            r#"{"id":"c","title":"Rust lifetimes explained","summary":"borrowing, elision","topic":"lifetimes / rust","checklist":["read the error","add 'a"],"code_language":"rust","reading_time":7}"#,
            r#"{"id":"d","title":"Ünïcödé — 日本語 テキスト search","body":"naïve café 東京"}"#,
        ];
        for p in posts {
            let post: Post = serde_json::from_str(p).unwrap();
            w.upsert(post).unwrap();
        }
        w.commit().unwrap();
        Engine::new(index, Default::default())
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else { return };
    let q = String::from_utf8_lossy(rest).into_owned();
    let _ = query::parse(&q);
    let req = SearchRequest {
        q,
        sort: [Sort::Relevance, Sort::Views, Sort::Quality, Sort::Newest][(flags & 3) as usize],
        match_mode: [MatchMode::Auto, MatchMode::All, MatchMode::Any, MatchMode::Auto]
            [((flags >> 2) & 3) as usize],
        prefix: flags & 16 != 0,
        typos: flags & 32 == 0,
        explain: flags & 64 != 0,
        offset: if flags & 128 != 0 { 2 } else { 0 },
        ..SearchRequest::default()
    };
    let _ = engine().search(&req);
});
