//! Times corpus generation: `cargo run --release --example gen_timing [-- COUNT]`.
//! Generates and serializes COUNT posts (default 100000) in memory, then
//! writes them with `write_corpus` into a temporary directory.

use postsearch_corpus::{generate_post, write_corpus, GenerateOptions, OutputFormat};
use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let count: usize = std::env::args().nth(1).map_or(Ok(100_000), |s| s.parse())?;

    let t = Instant::now();
    let mut words = 0;
    for n in 0..count {
        words += generate_post(42, n).body.map_or(0, |b| b.len());
    }
    let gen = t.elapsed();
    println!(
        "generate_post only: {count} posts ({words} body bytes) in {gen:.2?} ({:.1} µs/post)",
        gen.as_secs_f64() * 1e6 / count as f64
    );

    let t = Instant::now();
    let mut bytes = 0;
    for n in 0..count {
        bytes += generate_post(42, n).to_json_line().len();
    }
    let gen = t.elapsed();
    println!(
        "generate + to_json_line: {count} posts, {bytes} bytes in {gen:.2?} ({:.1} µs/post)",
        gen.as_secs_f64() * 1e6 / count as f64
    );

    let dir = tempfile::tempdir()?;
    let t = Instant::now();
    let opts = GenerateOptions {
        count,
        seed: 42,
        format: OutputFormat::Jsonl,
        start: 0,
        style: postsearch_corpus::Style::default(),
    };
    let summary = write_corpus(&opts, dir.path())?;
    println!("write_corpus jsonl: {summary:?} in {:.2?}", t.elapsed());
    Ok(())
}
