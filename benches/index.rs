//! Indexing 10,000 generated posts into an in-RAM index.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use postsearch_corpus::generate_post;
use postsearch_store::index::PostIndex;
use postsearch_store::indexer::{Writer, WriterOptions};

const POSTS: usize = 10_000;

fn index(c: &mut Criterion) {
    let posts: Vec<_> = (0..POSTS).map(|n| generate_post(42, n)).collect();
    let mut group = c.benchmark_group("index");
    group.sample_size(10);
    group.throughput(Throughput::Elements(POSTS as u64));
    group.bench_function("10k_generated_posts_in_ram", |b| {
        // The writer takes each post; the copies are made outside the timing.
        b.iter_batched(
            || posts.clone(),
            |posts| {
                let index = PostIndex::create_in_ram().expect("in-RAM index");
                let mut writer = Writer::new(&index, WriterOptions::default()).expect("writer");
                for post in posts {
                    writer.upsert(post).expect("upsert");
                }
                writer.finish().expect("commit");
                index
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, index);
criterion_main!(benches);
