//! How often similar posts share the source post's problem or stack:
//! `cargo run --release --example similar_share -- INDEX [N]` (N source
//! posts, every 97th id of a generated corpus, top 5 each).

use postsearch_engine::{Engine, RankingConfig};
use postsearch_store::index::PostIndex;
use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    anyhow::ensure!(args.len() >= 2, "usage: similar_share INDEX [N]");
    let engine = Engine::new(PostIndex::open(args[1].as_ref())?, RankingConfig::default());
    let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(200);
    let docs = engine.index().searcher().num_docs() as usize;
    let (mut results, mut problem, mut stack, mut either) = (0, 0, 0, 0);
    let mut times = Vec::new();
    for i in 0..n {
        let id = postsearch_corpus::post_id((i * 97) % docs);
        let Ok(source) = engine.post(&id) else {
            continue;
        };
        let t = Instant::now();
        let resp = engine.similar(&id, 5)?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        for hit in &resp.hits {
            let other = engine.post(&hit.id)?;
            let same_problem = source.problem().is_some() && other.problem() == source.problem();
            let main_stack =
                |p: &postsearch_store::Post| p.stack.as_ref().and_then(|s| s.first().cloned());
            let same_stack =
                main_stack(&source).is_some() && main_stack(&other) == main_stack(&source);
            results += 1;
            problem += same_problem as usize;
            stack += same_stack as usize;
            either += (same_problem || same_stack) as usize;
        }
    }
    times.sort_by(f64::total_cmp);
    let pct = |x: usize| 100.0 * x as f64 / results.max(1) as f64;
    println!(
        "{n} sources, {results} results: same problem {:.1}%, same main stack {:.1}%, either {:.1}%; similar p50 {:.2} ms, p99 {:.2} ms",
        pct(problem),
        pct(stack),
        pct(either),
        times[times.len() / 2],
        times[times.len() * 99 / 100]
    );
    Ok(())
}
