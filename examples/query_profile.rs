//! Runs one query in a loop on an existing index, for a profiler:
//! `cargo run --release --example query_profile -- INDEX "QUERY" [N] [--facets] [--snippets]`
//! then e.g. `perf record -g target/release/examples/query_profile ...`.

use postsearch_engine::{Engine, RankingConfig, SearchRequest};
use postsearch_store::index::PostIndex;
use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    anyhow::ensure!(
        args.len() >= 3,
        "usage: query_profile INDEX QUERY [N] [--no-facets] [--no-snippets] [--prefix]"
    );
    let engine = Engine::new(PostIndex::open(args[1].as_ref())?, RankingConfig::default());
    let n: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1000);
    let flag = |f: &str| args.iter().any(|a| a == f);
    let req = SearchRequest {
        with_facets: !flag("--no-facets"),
        with_snippets: !flag("--no-snippets"),
        prefix: flag("--prefix"),
        ..SearchRequest::new(args[2].clone())
    };
    let mut times = Vec::with_capacity(n);
    let mut total = 0;
    for _ in 0..n {
        let t = Instant::now();
        total = engine.search(&req)?.total;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    println!(
        "{:?}: total {total}, p50 {:.3} ms, p99 {:.3} ms over {n}",
        req.q,
        times[n / 2],
        times[n * 99 / 100]
    );
    Ok(())
}
