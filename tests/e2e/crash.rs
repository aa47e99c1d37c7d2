//! Crash safety: `postsearch index` and `postsearch serve` killed with
//! SIGKILL at random points (seeded) always leave an index that opens, holds
//! a committed state (whole posts, no half batch), and that a rerun
//! completes with exactly one copy of each post.
//!
//! CI runs a small version; the full one (20,000 posts, ≥ 20 kills) is
//! ignored in debug builds and run by hand in release:
//! `cargo test --release --test crash -- --ignored --nocapture`.

use crate::common::{bin, run, spawn_server, stderr, Req};
use postsearch_store::index::PostIndex;
use postsearch_store::Post;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tantivy::collector::Count;
use tantivy::query::TermQuery;
use tantivy::schema::IndexRecordOption;
use tantivy::Term;

/// The generated corpus: its file and its lines (one post each, by id).
struct Corpus {
    _dir: tempfile::TempDir,
    file: std::path::PathBuf,
    lines: Vec<String>,
}

fn corpus(count: usize) -> Corpus {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        &[
            "generate",
            "--count",
            &count.to_string(),
            "--out",
            dir.path().to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let file = dir.path().join("posts.jsonl");
    let lines: Vec<String> = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(lines.len(), count);
    Corpus {
        _dir: dir,
        file,
        lines,
    }
}

fn id_of(line: &str) -> String {
    serde_json::from_str::<Value>(line).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// How many live documents hold `id`.
fn copies(index: &PostIndex, id: &str) -> usize {
    let term = Term::from_field_text(index.fields().id, id);
    let query = TermQuery::new(term, IndexRecordOption::Basic);
    index.searcher().search(&query, &Count).unwrap()
}

/// Checks the stored post `id` is exactly the JSON line it came from.
fn assert_whole(index: &PostIndex, line: &str) {
    let id = id_of(line);
    let stored = index
        .get(&id)
        .unwrap_or_else(|e| panic!("post {id} is missing: {e}"));
    let expected: Post = serde_json::from_str(line).unwrap();
    assert_eq!(stored, expected, "post {id} did not come back whole");
}

/// The index opens, `stats --json` works, and it holds the first `n` posts
/// of the corpus for a committed `n` (a multiple of `every`, or all).
fn check_committed(dir: &Path, c: &Corpus, every: usize, rng: &mut ChaCha8Rng) -> usize {
    let out = run(dir, &["stats", "--json"]);
    assert!(out.status.success(), "stats failed: {}", stderr(&out));
    let stats: Value = serde_json::from_slice(&out.stdout).unwrap();
    let n = stats["documents"].as_u64().unwrap() as usize;
    assert!(
        n.is_multiple_of(every) || n == c.lines.len(),
        "{n} documents is not a committed state (commits every {every})"
    );
    let index = PostIndex::open(dir).unwrap();
    assert_eq!(index.searcher().num_docs() as usize, n);
    // An import goes through the file in order: the first n posts are in,
    // the others are not.
    for _ in 0..5.min(n) {
        let line = &c.lines[rng.gen_range(0..n)];
        assert_whole(&index, line);
        assert_eq!(copies(&index, &id_of(line)), 1);
    }
    if n < c.lines.len() {
        let line = &c.lines[rng.gen_range(n..c.lines.len())];
        assert_eq!(copies(&index, &id_of(line)), 0);
    }
    n
}

fn import(dir: &Path, c: &Corpus, every: usize) -> std::process::Child {
    Command::new(bin())
        .arg("--index")
        .arg(dir)
        .args(["index", "--commit-every", &every.to_string()])
        .arg(&c.file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Kills `postsearch index` `kills` times at seeded random points, checking
/// the index each time, then reruns it to completion.
fn import_kill_loop(count: usize, every: usize, kills: usize, seed: u64) {
    let c = corpus(count);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let work = tempfile::tempdir().unwrap();
    let idx = work.path().join("index");

    // One uninterrupted run tells how long a whole import takes here.
    let started = Instant::now();
    let status = import(&idx, &c, every).wait().unwrap();
    assert!(status.success());
    let full = started.elapsed();
    std::fs::remove_dir_all(&idx).unwrap();

    let (mut killed, mut finished_first) = (0, 0);
    for i in 0..kills {
        // Half the runs start on an empty index, half resume the last one.
        if rng.gen_bool(0.5) && idx.exists() {
            std::fs::remove_dir_all(&idx).unwrap();
        }
        let frac = match i % 3 {
            0 => rng.gen_range(0.0..0.1),   // right after start
            1 => rng.gen_range(0.1..0.85),  // during batches and commits
            _ => rng.gen_range(0.85..1.05), // the last commit and merges
        };
        let delay = full.mul_f64(frac);
        let mut child = import(&idx, &c, every);
        std::thread::sleep(delay);
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            killed += 1;
        } else {
            finished_first += 1;
        }
        child.wait().unwrap();
        if !PostIndex::exists(&idx) {
            // Killed before the first commit of a fresh index: nothing to
            // open, which is the committed state "no index yet".
            continue;
        }
        let n = check_committed(&idx, &c, every, &mut rng);
        eprintln!("kill {i}: after {delay:?} ({frac:.2} of a full run): {n} documents");
    }

    let status = import(&idx, &c, every).wait().unwrap();
    assert!(status.success());
    let index = PostIndex::open(&idx).unwrap();
    assert_eq!(index.searcher().num_docs() as usize, count);
    for _ in 0..20 {
        let line = &c.lines[rng.gen_range(0..count)];
        assert_eq!(copies(&index, &id_of(line)), 1);
        assert_whole(&index, line);
    }
    eprintln!(
        "import: {killed} kills survived, {finished_first} runs finished before the kill, 0 posts lost"
    );
}

#[test]
fn killed_imports_leave_a_committed_index() {
    import_kill_loop(600, 100, 5, 7);
}

#[test]
#[ignore = "minutes in a debug build; run with --release"]
fn killed_imports_leave_a_committed_index_full() {
    let count = env_usize("POSTSEARCH_CRASH_POSTS", 20_000);
    let kills = env_usize("POSTSEARCH_CRASH_KILLS", 20);
    import_kill_loop(count, 1000, kills, 20_000);
}

/// Kills `postsearch index --rebuild NEW` at seeded random points over an
/// index of OLD: the index always opens holding exactly the old posts or
/// exactly the new ones, never less or a mix; a rebuild run to its end
/// leaves no folder of the killed ones behind.
fn rebuild_kill_loop(count: usize, kills: usize, seed: u64) {
    let c = corpus(count);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let work = tempfile::tempdir().unwrap();
    let (old, new) = c.lines.split_at(count / 3);
    let (old_file, new_file) = (work.path().join("old.jsonl"), work.path().join("new.jsonl"));
    std::fs::write(&old_file, old.join("\n")).unwrap();
    std::fs::write(&new_file, new.join("\n")).unwrap();
    let idx = work.path().join("index");
    let rebuild = |file: &Path| {
        Command::new(bin())
            .arg("--index")
            .arg(&idx)
            .args(["index", "--rebuild"])
            .arg(file)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let started = Instant::now();
    assert!(rebuild(&new_file).wait().unwrap().success());
    let full = started.elapsed();
    let (mut saw_old, mut saw_new) = (0, 0);
    for i in 0..kills {
        assert!(rebuild(&old_file).wait().unwrap().success());
        let delay = full.mul_f64(rng.gen_range(0.0..1.1));
        let mut child = rebuild(&new_file);
        std::thread::sleep(delay);
        let _ = child.kill();
        child.wait().unwrap();
        let index = PostIndex::open(&idx).unwrap_or_else(|e| panic!("kill {i}: {e}"));
        let n = index.searcher().num_docs() as usize;
        let (expected, other) = if n == old.len() {
            saw_old += 1;
            (old, new)
        } else {
            assert_eq!(n, new.len(), "kill {i} after {delay:?}: {n} documents");
            saw_new += 1;
            (new, old)
        };
        for _ in 0..5 {
            let line = &expected[rng.gen_range(0..expected.len())];
            assert_whole(&index, line);
            assert_eq!(
                copies(&index, &id_of(&other[rng.gen_range(0..other.len())])),
                0
            );
        }
    }
    assert!(rebuild(&new_file).wait().unwrap().success());
    let leftovers: Vec<_> = std::fs::read_dir(work.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".index."))
        .collect();
    assert!(leftovers.is_empty(), "left behind: {leftovers:?}");
    eprintln!(
        "rebuild: {kills} kills, old index kept {saw_old} times, new one in place {saw_new} times"
    );
}

#[test]
fn killed_rebuilds_leave_the_old_index_or_the_new_one() {
    rebuild_kill_loop(600, 8, 11);
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// What the posting thread learned: ids acknowledged with 200, and the
/// batch that was in flight when the server died (maybe committed).
#[derive(Default)]
struct Posted {
    acked: Vec<String>,
    unknown: Vec<Vec<String>>,
}

/// POSTs batches to a server, killing and restarting it `kills` times;
/// every post answered 200 must be there, whole, and a batch cut off by
/// the kill is there whole or not at all.
fn server_kill_loop(count: usize, batch: usize, kills: usize, seed: u64) {
    let c = corpus(count);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let work = tempfile::tempdir().unwrap();
    let idx = work.path().join("index");
    let empty = work.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let env = [
        ("POSTSEARCH_SERVER_WRITE_TOKEN", "crash"),
        ("POSTSEARCH_SERVER_DATA_DIR", empty.to_str().unwrap()),
    ];
    let next = Arc::new(Mutex::new(0usize));
    let posted = Arc::new(Mutex::new(Posted::default()));
    let lines = Arc::new(c.lines.clone());
    for round in 0..kills {
        let (mut child, base) = spawn_server(&idx, &env);
        let poster = {
            let (next, posted, lines) = (next.clone(), posted.clone(), lines.clone());
            std::thread::spawn(move || loop {
                let start = *next.lock().unwrap();
                if start >= lines.len() {
                    return;
                }
                let end = (start + batch).min(lines.len());
                let body = lines[start..end].join("\n");
                let ids: Vec<String> = lines[start..end].iter().map(|l| id_of(l)).collect();
                let answer = Req::post(&format!("{base}/api/posts"))
                    .set("authorization", "Bearer crash")
                    .timeout(Duration::from_secs(60))
                    .send(&body);
                *next.lock().unwrap() = end;
                match answer {
                    Ok(r) if r.status == 200 => posted.lock().unwrap().acked.extend(ids),
                    Ok(r) => panic!("POST answered {}: {}", r.status, r.json()),
                    Err(_) => {
                        // The server died under the request.
                        posted.lock().unwrap().unknown.push(ids);
                        return;
                    }
                }
            })
        };
        std::thread::sleep(Duration::from_millis(rng.gen_range(500..2500)));
        child.kill().unwrap();
        child.wait().unwrap();
        poster.join().expect("poster thread");
        eprintln!(
            "server kill {round}: {} posts acknowledged so far",
            posted.lock().unwrap().acked.len()
        );
    }
    let posted = posted.lock().unwrap();
    let index = PostIndex::open(&idx).unwrap();
    let by_id: std::collections::HashMap<String, &String> =
        c.lines.iter().map(|l| (id_of(l), l)).collect();
    let mut lost = 0;
    for id in &posted.acked {
        match copies(&index, id) {
            1 => assert_whole(&index, by_id[id]),
            0 => lost += 1,
            n => panic!("{n} copies of {id}"),
        }
    }
    for ids in &posted.unknown {
        let present = ids.iter().filter(|id| copies(&index, id) == 1).count();
        assert!(
            present == 0 || present == ids.len(),
            "a batch cut off by the kill is half there: {present} of {}",
            ids.len()
        );
    }
    eprintln!(
        "server: {kills} kills survived, {} posts acknowledged, {lost} lost",
        posted.acked.len()
    );
    assert_eq!(lost, 0, "acknowledged posts lost");
    assert!(!posted.acked.is_empty(), "no POST was ever answered");
}

#[test]
fn killed_server_keeps_every_acknowledged_post() {
    server_kill_loop(600, 10, 3, 11);
}
