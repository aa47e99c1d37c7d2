//! Parsing: the seed post's text form, and one generated post as a JSONL
//! line.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use postsearch_corpus::generate_post;
use postsearch_store::ingest::{read_reader_jsonl, text, ReadOptions};
use std::hint::black_box;

fn seed_text() -> Vec<u8> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/seed");
    let entry = std::fs::read_dir(&dir)
        .expect("data/seed")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "txt"))
        .expect("a .txt in data/seed");
    std::fs::read(entry).expect("read the seed post")
}

fn parse(c: &mut Criterion) {
    let seed = seed_text();
    let mut group = c.benchmark_group("parse");
    group.throughput(Throughput::Bytes(seed.len() as u64));
    group.bench_function("seed_text_form", |b| {
        b.iter(|| text::parse(black_box(&seed), "seed.txt").expect("the seed parses"))
    });

    let line = generate_post(42, 1).to_json_line();
    group.throughput(Throughput::Bytes(line.len() as u64));
    let opts = ReadOptions::default();
    group.bench_function("generated_jsonl_line", |b| {
        b.iter(|| {
            let mut posts = 0;
            read_reader_jsonl(
                &mut black_box(line.as_bytes()),
                "bench.jsonl",
                &opts,
                &mut |item| {
                    item.expect("the line parses");
                    posts += 1;
                },
            );
            posts
        })
    });
    group.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
