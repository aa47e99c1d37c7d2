//! Query latency per kind (keyword, phrase, faceted, prefix, similar,
//! suggest) on an index of generated posts.
//!
//! `POSTSEARCH_BENCH_DOCS` sets the corpus size (default 100,000; built once
//! into a temporary directory). `POSTSEARCH_BENCH_INDEX=DIR` reuses an
//! existing index instead (opened read-only). The queries are the built-in
//! mix of `postsearch bench` drawn from that index; each iteration runs the
//! next query of its kind.

use criterion::{criterion_group, criterion_main, Criterion};
use postsearch::bench::{builtin_queries, Kind, Op, SIDE_LIMIT};
use postsearch_corpus::generate_post;
use postsearch_engine::Limits;
use postsearch_engine::{Engine, RankingConfig};
use postsearch_store::index::PostIndex;
use postsearch_store::indexer::{Writer, WriterOptions};
use std::path::PathBuf;

const DEFAULT_DOCS: usize = 100_000;

/// The index to query, and the temporary directory holding it if built here.
fn corpus() -> (PostIndex, Option<tempfile::TempDir>) {
    if let Some(dir) = std::env::var_os("POSTSEARCH_BENCH_INDEX").map(PathBuf::from) {
        if PostIndex::exists(&dir) {
            let index = PostIndex::open(&dir).expect("open POSTSEARCH_BENCH_INDEX");
            eprintln!(
                "query benches: reusing the index in {} ({} posts)",
                dir.display(),
                index.searcher().num_docs()
            );
            return (index, None);
        }
        eprintln!(
            "query benches: POSTSEARCH_BENCH_INDEX={} holds no index; building one",
            dir.display()
        );
    }
    let docs = match std::env::var("POSTSEARCH_BENCH_DOCS") {
        Ok(v) => v
            .trim()
            .parse()
            .expect("POSTSEARCH_BENCH_DOCS must be a number"),
        Err(_) => DEFAULT_DOCS,
    };
    let dir = tempfile::tempdir().expect("temporary directory");
    eprintln!(
        "query benches: indexing {docs} generated posts into {} ...",
        dir.path().display()
    );
    let started = std::time::Instant::now();
    let index = PostIndex::open_or_create(dir.path()).expect("create index");
    let mut writer = Writer::new(&index, WriterOptions::default()).expect("writer");
    for n in 0..docs {
        writer.upsert(generate_post(42, n)).expect("upsert");
    }
    writer.finish().expect("commit");
    eprintln!(
        "query benches: {} posts indexed in {:.1} s",
        index.searcher().num_docs(),
        started.elapsed().as_secs_f64()
    );
    (index, Some(dir))
}

fn queries(c: &mut Criterion) {
    let (index, _dir) = corpus();
    let docs = index.searcher().num_docs();
    eprintln!("query benches: corpus size {docs} posts");
    let mix = builtin_queries(&index, 42, &Limits::default()).expect("query mix");
    let engine = Engine::new(index, RankingConfig::default());
    let mut group = c.benchmark_group(format!("query_{docs}_posts"));
    for kind in Kind::ALL {
        let ops: Vec<&Op> = mix
            .iter()
            .filter(|q| q.kind == kind)
            .map(|q| &q.op)
            .collect();
        let mut next = 0;
        group.bench_function(kind.name(), |b| {
            b.iter(|| {
                let op = ops[next % ops.len()];
                next += 1;
                match op {
                    Op::Search(req) => engine.search(req).expect("search").total as usize,
                    Op::Similar(id) => engine.similar(id, SIDE_LIMIT).expect("similar").hits.len(),
                    Op::Suggest(q) => engine
                        .suggest(q, SIDE_LIMIT)
                        .expect("suggest")
                        .suggestions
                        .len(),
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, queries);
criterion_main!(benches);
