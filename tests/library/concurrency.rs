//! Searches while a writer keeps committing updates: no errors, no
//! half-written post, no post seen going back in time, no post seen twice
//! or missing, and searches keep flowing while segments merge.
//!
//! `POSTSEARCH_CONCURRENCY_SECS` (10) and `POSTSEARCH_CONCURRENCY_CLIENTS`
//! (4) set the run; by hand, e.g. 32 clients for 60 s in release:
//! `POSTSEARCH_CONCURRENCY_SECS=60 POSTSEARCH_CONCURRENCY_CLIENTS=32 cargo test --release --test concurrency -- --nocapture`

use postsearch_engine::{Engine, SearchRequest};
use postsearch_store::index::PostIndex;
use postsearch_store::indexer::{Writer, WriterOptions};
use postsearch_store::Post;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const POSTS: usize = 40;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Post `i` at `version`: the version is in the title, the body, the topic
/// and the view count, all written together.
fn post(i: usize, version: u64) -> Post {
    let mut p = Post::new(
        format!("post-{i:03}"),
        format!("shared title {i} version v{version}"),
    );
    p.body = Some(format!("shared body of {i} at version v{version}"));
    p.topic = Some(format!("version v{version}"));
    p.view_count = Some(version);
    p
}

/// The number after the last `v` word in `text` (tags stripped).
fn version_in(text: &str) -> Option<u64> {
    let plain = text.replace("<mark>", "").replace("</mark>", "");
    plain
        .split_whitespace()
        .rev()
        .find_map(|w| w.strip_prefix('v').and_then(|n| n.parse().ok()))
}

#[test]
fn searches_see_whole_posts_in_order_while_a_writer_commits() {
    let secs = env_u64("POSTSEARCH_CONCURRENCY_SECS", 10);
    let clients = env_u64("POSTSEARCH_CONCURRENCY_CLIENTS", 4) as usize;
    let dir = tempfile::tempdir().unwrap();
    let index = PostIndex::open_or_create(dir.path()).unwrap();
    let mut writer = Writer::new(&index, WriterOptions::one_thread()).unwrap();
    for i in 0..POSTS {
        writer.upsert(post(i, 0)).unwrap();
    }
    writer.commit().unwrap();

    // The readers open the index on their own, as another process would,
    // and see new commits through the reader's reload on meta.json.
    let engine = Engine::new(PostIndex::open(dir.path()).unwrap(), Default::default());
    let stop = Arc::new(AtomicBool::new(false));
    let commits = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(secs);

    let writer_thread = {
        let (stop, commits) = (stop.clone(), commits.clone());
        std::thread::spawn(move || {
            let mut version = 0;
            let mut max_segments = 0;
            while !stop.load(Ordering::Relaxed) {
                version += 1;
                // A batch updates a pseudo-random quarter of the posts, so
                // older segments keep some live documents and get merged.
                let pick =
                    |i: usize| (i as u64 * 2_654_435_761 + version * 40_503).is_multiple_of(4);
                for i in (0..POSTS).filter(|i| pick(*i)) {
                    writer.upsert(post(i, version)).unwrap();
                }
                writer.commit().unwrap();
                commits.fetch_add(1, Ordering::Relaxed);
                max_segments = max_segments.max(index.searcher().segment_readers().len());
            }
            writer.finish().unwrap();
            (version, max_segments)
        })
    };

    let client_threads: Vec<_> = (0..clients)
        .map(|c| {
            let engine = engine.clone();
            std::thread::spawn(move || {
                let mut seen: HashMap<String, u64> = HashMap::new();
                let (mut searches, mut errors) = (0u64, Vec::new());
                // A misspelt word and an unfinished one read the segments'
                // vocabularies, which merges delete with the segments.
                let queries = [
                    ("shared", false),
                    ("shared version", false),
                    ("title", false),
                    ("body", false),
                    ("sharred", false),
                    ("shared vers", true),
                ];
                while Instant::now() < deadline {
                    let (q, prefix) = queries[(searches as usize + c) % queries.len()];
                    let mut req = SearchRequest::new(q);
                    req.prefix = prefix;
                    req.limit = POSTS;
                    match engine.search(&req) {
                        Err(e) => errors.push(e.to_string()),
                        Ok(resp) => {
                            if resp.total != POSTS as u64 || resp.hits.len() != POSTS {
                                errors.push(format!(
                                    "{} hits of {} for {:?}, expected {POSTS}",
                                    resp.hits.len(),
                                    resp.total,
                                    req.q
                                ));
                            }
                            for hit in &resp.hits {
                                let title = version_in(&hit.title);
                                let topic = hit.topic.as_deref().and_then(version_in);
                                let body = version_in(&hit.snippet);
                                let views = hit.view_count;
                                if title.is_none()
                                    || title != topic
                                    || title != views
                                    || (body.is_some() && body != title)
                                {
                                    errors.push(format!(
                                        "{}: half-written: title {title:?}, topic {topic:?}, body {body:?}, views {views:?}",
                                        hit.id
                                    ));
                                    continue;
                                }
                                let v = title.unwrap();
                                let last = seen.entry(hit.id.clone()).or_insert(0);
                                if v < *last {
                                    errors.push(format!(
                                        "{}: version went back from {last} to {v}",
                                        hit.id
                                    ));
                                }
                                *last = v.max(*last);
                            }
                        }
                    }
                    searches += 1;
                }
                (searches, errors)
            })
        })
        .collect();

    let mut total_searches = 0;
    let mut errors = Vec::new();
    let mut fewest = u64::MAX;
    for t in client_threads {
        let (n, errs) = t.join().expect("client thread");
        total_searches += n;
        fewest = fewest.min(n);
        errors.extend(errs);
    }
    stop.store(true, Ordering::Relaxed);
    let (versions, max_segments) = writer_thread.join().expect("writer thread");
    eprintln!(
        "{clients} clients × {secs} s: {total_searches} searches (fewest per client {fewest}), \
         {} commits, {versions} versions, up to {max_segments} segments, {} errors",
        commits.load(Ordering::Relaxed),
        errors.len()
    );
    assert!(
        errors.is_empty(),
        "{} errors, first: {:?}",
        errors.len(),
        &errors[..errors.len().min(5)]
    );
    assert!(
        commits.load(Ordering::Relaxed) >= 5,
        "the writer barely ran"
    );
    assert!(fewest >= 20, "a client completed only {fewest} searches");
}
