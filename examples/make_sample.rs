//! Regenerates the sample data in `data/`:
//! `cargo run --example make_sample [-- DATA_DIR]`.
//!
//! - `data/seed/000_8e5299e8999edf12.txt`: the one real post (copied from
//!   `$SEED_DIR`, default `/work/shared/seed`, if present);
//! - `data/sample.jsonl`: posts 0..950 of the corpus with seed 42 (under
//!   4 MiB, so the repository stays small);
//! - `data/text/`: posts 900000..900030 of the corpus with seed 7, in the
//!   text form (ids that do not collide with the JSONL ones).

use postsearch_corpus::{write_corpus, GenerateOptions, OutputFormat};
use std::fs;
use std::path::PathBuf;

fn main() -> anyhow::Result<()> {
    let data = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "data".into()));
    fs::create_dir_all(&data)?;

    let seed_dir = PathBuf::from(std::env::var("SEED_DIR").unwrap_or("/work/shared/seed".into()));
    let seed_post = seed_dir.join("000_8e5299e8999edf12.txt");
    if seed_post.exists() {
        fs::create_dir_all(data.join("seed"))?;
        fs::copy(&seed_post, data.join("seed/000_8e5299e8999edf12.txt"))?;
    }

    let tmp = tempfile::tempdir()?;
    let jsonl = GenerateOptions {
        count: 950,
        seed: 42,
        format: OutputFormat::Jsonl,
        start: 0,
        style: postsearch_corpus::Style::Templated,
    };
    let summary = write_corpus(&jsonl, tmp.path())?;
    fs::copy(tmp.path().join("posts.jsonl"), data.join("sample.jsonl"))?;
    println!("data/sample.jsonl: {summary:?}");

    let text_dir = data.join("text");
    if text_dir.exists() {
        fs::remove_dir_all(&text_dir)?;
    }
    let text = GenerateOptions {
        count: 30,
        seed: 7,
        format: OutputFormat::Text,
        start: 900_000,
        style: postsearch_corpus::Style::Templated,
    };
    let summary = write_corpus(&text, &text_dir)?;
    println!("data/text/: {summary:?}");
    Ok(())
}
