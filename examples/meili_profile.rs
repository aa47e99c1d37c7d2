//! Times the Meilisearch layer in-process against the engine alone:
//! `cargo run --release --example meili_profile -- INDEX_DIR`.
use postsearch_engine::Limits;
use postsearch_engine::{Engine, RankingConfig, SearchRequest};
use postsearch_server::meili::search;
use postsearch_store::index::PostIndex;
use std::time::Instant;

fn main() {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "index".into());
    let engine = Engine::new(
        PostIndex::open(std::path::Path::new(&dir)).unwrap(),
        RankingConfig::default(),
    );
    let limits = Limits::default();
    let req = SearchRequest {
        q: "docker".into(),
        prefix: true,
        limit: 20,
        with_facets: false,
        with_snippets: false,
        ..SearchRequest::default()
    };
    let n = 500;
    let time = |name: &str, f: &mut dyn FnMut()| {
        for _ in 0..20 {
            f();
        }
        let t = Instant::now();
        for _ in 0..n {
            f();
        }
        println!(
            "{name:28} {:8.1} µs",
            t.elapsed().as_secs_f64() * 1e6 / n as f64
        );
    };
    time("engine.search", &mut || {
        std::hint::black_box(engine.search(&req).unwrap());
    });
    time("engine.search + to_vec", &mut || {
        std::hint::black_box(serde_json::to_vec(&engine.search(&req).unwrap()).unwrap());
    });
    time("engine.search_detailed", &mut || {
        std::hint::black_box(engine.search_detailed(&req).unwrap());
    });
    let d = engine.search_detailed(&req).unwrap();
    time("write_document() x20", &mut || {
        let mut out = Vec::new();
        for p in &d.posts {
            search::write_document(&mut out, p, None);
        }
        std::hint::black_box(out);
    });
    for (name, obj) in [
        ("meili run", serde_json::json!({"q": "docker", "limit": 20})),
        (
            "meili run, hit fields",
            serde_json::json!({"q": "docker", "limit": 20, "attributesToRetrieve": [
                "id", "title", "stack", "tools", "difficulty", "code_language", "view_count",
                "topic", "last_reviewed", "quality", "freshness", "depth", "clarity"]}),
        ),
        (
            "meili run, highlight *",
            serde_json::json!({"q": "docker", "limit": 20, "attributesToHighlight": ["*"]}),
        ),
    ] {
        time(name, &mut || {
            let serde_json::Value::Object(m) = obj.clone() else {
                unreachable!()
            };
            let mut out = Vec::new();
            search::run(&engine, &limits, m, Some("posts"), &mut out).unwrap();
            std::hint::black_box(out);
        });
    }
}
