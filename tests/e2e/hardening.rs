//! A public search endpoint under attack (issue 19), against the real
//! server: work is bounded and stopped when its request ends, limits are
//! 400s that name them (never a silent truncation or a match of every
//! post), slow clients hold no slot, a write's answer tells the truth, and
//! the server runs read-only and reports OS causes.
//!
//! The volume tests (a full disk, a read-only volume) mount a small tmpfs,
//! which needs root: they are `#[ignore]`d, run by `cargo test --
//! --ignored` (and `.ci/run`), and fail where mounting is not allowed.

use crate::common::{get, root, run, send, serve_command, stderr, wait_ready, Req, Server};
use serde_json::{json, Value};
use std::io::Write;
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const TOKEN: &str = "hardening";

/// CPU seconds the process `pid` has used.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    // utime + stime, in the kernel's USER_HZ (100 on Linux).
    ticks / 100.0
}

/// The value of the counter of stopped requests for `route` and `reason`.
fn stopped(s: &Server, route: &str, reason: &str) -> u64 {
    let text = Req::get(&s.url("/metrics")).call().unwrap().into_string();
    let key = format!("postsearch_requests_stopped_total{{route=\"{route}\",reason=\"{reason}\"}}");
    text.lines()
        .find_map(|l| l.strip_prefix(&key))
        .map_or(0, |v| v.trim().parse().unwrap())
}

fn meili_search(s: &Server, body: &Value) -> (u16, Value) {
    send(
        Req::post(&s.url("/meili/indexes/posts/search")).set("content-type", "application/json"),
        &body.to_string(),
    )
}

/// A multi-search of `n` costly searches (many common words, every facet,
/// every attribute highlighted, a full page).
fn heavy_multi_search(n: usize) -> String {
    let query = json!({
        "indexUid": "posts",
        "q": "the and for with that this from when",
        "facets": ["*"],
        "attributesToHighlight": ["*"],
        "limit": 100,
    });
    json!({ "queries": vec![query; n] }).to_string()
}

#[test]
fn a_timed_out_request_has_its_work_stopped_and_counted() {
    let s = Server::start(&[("POSTSEARCH_LIMITS_REQUEST_TIMEOUT_MS", "30")]);
    let body = heavy_multi_search(64);
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let (url, body) = (s.url("/meili/multi-search"), body.clone());
            std::thread::spawn(move || {
                send(
                    Req::post(&url).set("content-type", "application/json"),
                    &body,
                )
            })
        })
        .collect();
    for c in clients {
        let (status, answer) = c.join().unwrap();
        assert_eq!(status, 503, "{answer}");
        assert_eq!(
            answer["code"], "timeout",
            "a /meili error has Meilisearch's shape"
        );
    }
    // The work of the four (each hundreds of searches' worth) stopped with
    // their answers: the server is idle right after.
    std::thread::sleep(Duration::from_millis(300));
    let before = cpu_seconds(s.child.id());
    std::thread::sleep(Duration::from_secs(1));
    let spent = cpu_seconds(s.child.id()) - before;
    assert!(spent < 0.2, "{spent} CPU seconds spent after the answers");
    assert_eq!(stopped(&s, "/meili", "timeout"), 4);
}

#[test]
fn a_client_that_hangs_up_has_its_work_stopped() {
    let s = Server::start(&[]);
    let body = heavy_multi_search(64);
    let addr = s.base.trim_start_matches("http://").to_string();
    let mut conn = TcpStream::connect(&addr).unwrap();
    let head = format!(
        "POST /meili/multi-search HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes()).unwrap();
    conn.write_all(body.as_bytes()).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    drop(conn);
    let deadline = Instant::now() + Duration::from_secs(10);
    while stopped(&s, "/meili", "client_gone") == 0 {
        assert!(
            Instant::now() < deadline,
            "the abandoned work was not stopped"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn limits_are_400s_that_name_them() {
    let s = Server::start(&[]);
    let phrase = |n: usize| format!("\"{}\"", vec!["the"; n].join(" "));
    // The query language (`/api`): a query of 33 words is refused, not cut
    // to 32; so is a phrase of 33 words.
    for (q, says) in [
        (vec!["word"; 33].join(" "), "limits.max_query_terms"),
        (phrase(33), "limits.max_phrase_words"),
    ] {
        let url = s.url(&format!("/api/search?q={}", urlencode(&q)));
        let (status, answer) = get(&url);
        assert_eq!(status, 400, "{answer}");
        assert_eq!(answer["error"]["param"], "q");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{message}");
    }
    let (status, _) = get(&s.url(&format!("/api/search?q={}", urlencode(&phrase(32)))));
    assert_eq!(status, 200, "a phrase at the limit is searched");
    // `/meili`: each cap answers Meilisearch's error for the parameter.
    let cases = [
        (
            json!({"facets": vec!["stack"; 65]}),
            "invalid_search_facets",
        ),
        (
            json!({"q": "x", "highlightPreTag": "<".repeat(257)}),
            "invalid_search_highlight_pre_tag",
        ),
        (
            json!({"q": "x", "highlightPostTag": ">".repeat(257)}),
            "invalid_search_highlight_post_tag",
        ),
        (
            json!({"q": "x", "cropMarker": ".".repeat(257)}),
            "invalid_search_crop_marker",
        ),
        (
            json!({"q": "x", "attributesToCrop": ["body"], "cropLength": 2305843009213693953u64}),
            "invalid_search_crop_length",
        ),
        (
            json!({"q": "x", "attributesToCrop": ["body:1001"]}),
            "invalid_search_attributes_to_crop",
        ),
    ];
    for (body, code) in cases {
        let (status, answer) = meili_search(&s, &body);
        assert_eq!(status, 400, "{body}: {answer}");
        assert_eq!(answer["code"], code, "{answer}");
        assert!(
            answer["message"].as_str().unwrap().contains("limits."),
            "{answer}"
        );
    }
    let (status, answer) = send(
        Req::post(&s.url("/meili/multi-search")).set("content-type", "application/json"),
        &json!({"queries": vec![json!({"indexUid": "posts", "q": "x"}); 65]}).to_string(),
    );
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["code"], "invalid_multi_search_queries");
    // A search body over 256 KiB: 413 before it is read, in /meili's shape.
    let addr = s.base.trim_start_matches("http://");
    let mut conn = TcpStream::connect(addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    conn.write_all(
        b"POST /meili/indexes/posts/search HTTP/1.1\r\nhost: x\r\ncontent-length: 300000\r\n\r\n{",
    )
    .unwrap();
    let mut answer = String::new();
    let _ = std::io::Read::read_to_string(&mut conn, &mut answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(
        answer.contains("\"code\":\"payload_too_large\""),
        "{answer}"
    );
}

#[test]
fn nothing_matches_every_post_by_accident() {
    let s = Server::start(&[]);
    // A hash is a word like any other: it matches the posts holding it
    // (none here), not every post.
    let hash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    let (status, answer) = get(&s.url(&format!("/api/search?q={hash}")));
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["total"], 0, "{answer}");
    // A word longer than any the index keeps (under 255 bytes) matches
    // nothing, alone or beside a word every post has; from 255 bytes on.
    for q in [
        "a".repeat(300),
        format!("the {}", "a".repeat(300)),
        "a".repeat(255),
        format!("the {}", "b".repeat(255)),
    ] {
        let (status, answer) = get(&s.url(&format!("/api/search?q={q}&match=all")));
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["total"], 0, "{answer}");
    }
    // An empty filter value is refused.
    let (status, answer) = meili_search(&s, &json!({"filter": "stack = \"\""}));
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["code"], "invalid_search_filter");
    // A 33rd filter condition counts like the first.
    let (_, one) = meili_search(&s, &json!({"filter": "stack = django", "limit": 0}));
    let mut conditions = vec!["difficulty != \"nonexistent\""; 32];
    conditions.push("stack = django");
    let (status, many) = meili_search(&s, &json!({"filter": conditions.join(" AND "), "limit": 0}));
    assert_eq!(status, 200, "{many}");
    assert!(one["estimatedTotalHits"].as_u64().unwrap() > 0, "{one}");
    assert_eq!(many["estimatedTotalHits"], one["estimatedTotalHits"]);
}

#[test]
fn slow_bodies_take_no_slot_and_are_cut_off() {
    let s = Server::start(&[
        ("POSTSEARCH_LIMITS_MAX_CONCURRENT_REQUESTS", "4"),
        ("POSTSEARCH_LIMITS_REQUEST_TIMEOUT_MS", "3000"),
    ]);
    let addr = s.base.trim_start_matches("http://").to_string();
    // Twenty searches whose bodies trickle in, five times the slots.
    let slow: Vec<_> = (0..20)
        .map(|_| {
            let addr = addr.clone();
            std::thread::spawn(move || {
                let mut conn = TcpStream::connect(&addr).unwrap();
                conn.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
                conn.write_all(b"POST /meili/indexes/posts/search HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n{")
                    .unwrap();
                let mut answer = Vec::new();
                let started = Instant::now();
                while started.elapsed() < Duration::from_secs(10) {
                    std::thread::sleep(Duration::from_millis(500));
                    if conn.write_all(b" ").is_err() {
                        break;
                    }
                }
                let _ = std::io::Read::read_to_end(&mut conn, &mut answer);
                String::from_utf8_lossy(&answer).into_owned()
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    for _ in 0..10 {
        let (status, answer) = get(&s.url("/api/search?q=django"));
        assert_eq!(status, 200, "{answer}");
    }
    for t in slow {
        let answer = t.join().unwrap();
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(answer.contains("body_timeout"), "{answer}");
    }
}

/// `n` small valid posts as JSON lines, ids `{prefix}-0..`.
fn posts(prefix: &str, n: usize) -> String {
    (0..n)
        .map(|i| json!({"id": format!("{prefix}-{i}"), "title": format!("post {i} of {prefix}"), "body": "words"}).to_string() + "\n")
        .collect()
}

#[test]
fn a_write_is_answered_with_what_was_applied() {
    // A time limit far shorter than the write: the write still finishes
    // and says so (it is never a 503 applied behind the client's back).
    // The limit leaves the body (2 MB on loopback) time to arrive on a
    // loaded machine; indexing 20,000 posts takes longer.
    let limit_ms = 500;
    let s = Server::start(&[
        ("POSTSEARCH_SERVER_WRITE_TOKEN", TOKEN),
        (
            "POSTSEARCH_LIMITS_REQUEST_TIMEOUT_MS",
            &limit_ms.to_string(),
        ),
    ]);
    let started = std::time::Instant::now();
    let (status, answer) = send(
        Req::post(&s.url("/api/posts"))
            .set("authorization", &format!("Bearer {TOKEN}"))
            .timeout(Duration::from_secs(60)),
        &posts("w", 20_000),
    );
    assert_eq!(status, 200, "{answer}");
    assert!(
        started.elapsed() > Duration::from_millis(limit_ms),
        "the write took less than the time limit: the test shows nothing"
    );
    assert_eq!(answer["added"], 20_000);
    let (status, post) = get(&s.url("/api/posts/w-19999"));
    assert_eq!(status, 200, "{post}");
}

/// Builds an index of a few posts in `dir`.
fn small_index(dir: &Path) {
    let file = dir.parent().unwrap().join(format!(
        "{}.jsonl",
        dir.file_name().unwrap().to_string_lossy()
    ));
    std::fs::write(&file, posts("ro", 20)).unwrap();
    let out = run(dir, &["index", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
}

/// `postsearch serve` on `dir` with `args`, not waited for.
fn serve(dir: &Path, args: &[&str]) -> (std::process::Child, String) {
    let (mut cmd, port) = serve_command(dir, args);
    let child = cmd
        .env("POSTSEARCH_SERVER_WRITE_TOKEN", TOKEN)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    (child, format!("http://127.0.0.1:{port}"))
}

#[test]
fn a_read_only_server_serves_and_refuses_writes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("index");
    small_index(&dir);
    let (mut child, base) = serve(&dir, &["--read-only"]);
    wait_ready(&base);
    let (status, answer) = get(&format!("{base}/api/search?q=post"));
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["total"], 20);
    let (status, answer) = send(
        Req::post(&format!("{base}/api/posts")).set("authorization", &format!("Bearer {TOKEN}")),
        &posts("x", 1),
    );
    assert_eq!(status, 403, "{answer}");
    assert_eq!(answer["error"]["code"], "writes_disabled");
    child.kill().unwrap();
    child.wait().unwrap();
    // No index: a read-only server says so and builds none.
    let missing = tmp.path().join("missing");
    let (child, _) = serve(&missing, &["--read-only"]);
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("read-only"), "{}", stderr(&out));
    assert!(!missing.exists(), "a read-only server created {missing:?}");
}

#[test]
fn a_failed_first_run_import_leaves_no_index() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("index");
    let absent = tmp.path().join("no-such-data");
    let (child, _) = serve(&dir, &["--data", absent.to_str().unwrap()]);
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("no-such-data"), "{}", stderr(&out));
    assert!(
        !dir.join("meta.json").exists(),
        "a failed first import left a committed (empty) index"
    );
}

#[test]
fn readyz_fails_while_searches_fail() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("index");
    small_index(&dir);
    // The columns of every fast-field file garbled (their directory, at
    // the end, kept): the index opens, searches fail.
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "fast") {
            let mut bytes = std::fs::read(&path).unwrap();
            let half = bytes.len() / 2;
            bytes[..half].fill(0xFF);
            std::fs::write(&path, bytes).unwrap();
        }
    }
    let (mut child, base) = serve(&dir, &[]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while get_status(&format!("{base}/healthz")) != Some(200) {
        assert!(Instant::now() < deadline, "the server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let (status, answer) = get(&format!("{base}/readyz"));
    assert_eq!(status, 503, "{answer}");
    assert_eq!(answer["ready"], false);
    child.kill().unwrap();
    child.wait().unwrap();
}

fn get_status(url: &str) -> Option<u16> {
    Req::get(url).call().ok().map(|r| r.status)
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A tmpfs of `size` mounted on a new folder, unmounted when dropped;
/// Fails the test where mounting is not allowed (not root).
struct Tmpfs {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
}

impl Tmpfs {
    fn mount(size: &str) -> Tmpfs {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("volume");
        std::fs::create_dir(&path).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&path)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            crate::common::missing_prerequisite(
                "a test of full and read-only volumes",
                "mounting a tmpfs is not allowed here (run as root)",
            );
        }
        Tmpfs { _dir: dir, path }
    }

    fn remount_read_only(&self) {
        let status = Command::new("mount")
            .args(["-o", "remount,ro"])
            .arg(&self.path)
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

#[test]
#[ignore = "needs root (mounts a tmpfs); run with --ignored"]
fn a_full_disk_is_reported_as_such() {
    let volume = Tmpfs::mount("2m");
    let out = run(
        &volume.path.join("index"),
        &["index", root().join("data/sample.jsonl").to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("No space left on device"), "{err}");
    // Nothing was committed: the segments the import was writing are
    // gone with it, and so is the room they took.
    let left: Vec<String> = std::fs::read_dir(volume.path.join("index"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| !name.starts_with('.') && name != "meta.json")
        .collect();
    assert!(left.is_empty(), "a failed import left {left:?}");
}

#[test]
#[ignore = "needs root (mounts a tmpfs); run with --ignored"]
fn an_index_on_a_read_only_volume_is_served() {
    let volume = Tmpfs::mount("16m");
    let dir = volume.path.join("index");
    small_index(&dir);
    volume.remount_read_only();
    for args in [&[][..], &["--read-only"][..]] {
        let (mut child, base) = serve(&dir, args);
        wait_ready(&base);
        let (status, answer) = get(&format!("{base}/api/search?q=post"));
        assert_eq!(status, 200, "{args:?}: {answer}");
        assert_eq!(answer["total"], 20);
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
