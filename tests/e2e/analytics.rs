//! Search analytics end to end: the real server records a scripted
//! sequence of searches, is stopped gracefully and started again (the
//! second time read-only), and `postsearch analytics --json` and
//! `GET /api/analytics` report the same counts; nothing is recorded when
//! analytics are off; clicks are counted only when turned on.

use crate::common::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// A running server: stopped gracefully by [`stop`], killed if dropped
/// (a failed assertion).
struct Running(Option<Child>);

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `postsearch serve --index DIR ARGS` with `env`, ready.
fn start(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (Running, String) {
    let (mut cmd, port) = serve_command(dir, args);
    cmd.stderr(Stdio::inherit());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = Running(Some(cmd.spawn().expect("start server")));
    let base = format!("http://127.0.0.1:{port}");
    wait_ready(&base);
    (child, base)
}

/// Stops a server gracefully (SIGTERM) and waits for it to exit.
fn stop(mut running: Running) {
    let mut child = running.0.take().expect("running");
    // SAFETY: signalling our own child process.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "the server exited with {status}");
            return;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the server did not stop within 30 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The hits a search found (its `total`).
fn search(base: &str, q: &str, prefix: bool) -> u64 {
    let url = format!(
        "{base}/api/search?q={}&prefix={prefix}&limit=3",
        form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>()
    );
    let (status, body) = get(&url);
    assert_eq!(status, 200, "{q}: {body}");
    body["total"].as_u64().unwrap()
}

fn report(base: &str, token: Option<&str>, query: &str) -> (u16, Value) {
    let mut req = Req::get(&format!("{base}/api/analytics{query}"));
    if let Some(t) = token {
        req = req.set("Authorization", &format!("Bearer {t}"));
    }
    call(req)
}

/// `(query, searches, zero_results, clicks)` of a report's top list.
fn counts(list: &Value) -> Vec<(String, u64, u64, u64)> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|q| {
            (
                q["q"].as_str().unwrap().to_string(),
                q["searches"].as_u64().unwrap(),
                q["zero_results"].as_u64().unwrap(),
                q["clicks"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// The names in a folder, sorted (none when it is missing).
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn analytics_dir(index: &Path) -> PathBuf {
    let name = index.file_name().unwrap().to_string_lossy().into_owned();
    index.with_file_name(format!("{name}.analytics"))
}

const TOKEN: &str = "an-token";

#[test]
fn analytics_survive_a_restart_and_the_cli_and_the_api_agree() {
    let tmp = tempfile::tempdir().unwrap();
    let index = tmp.path().join("index");
    let env = [
        ("POSTSEARCH_ANALYTICS_ENABLED", "true"),
        ("POSTSEARCH_SERVER_WRITE_TOKEN", TOKEN),
    ];
    // First run: builds the index from data/, then searches.
    let (child, base) = start(&index, &[], &env);
    // Typed as you go (the widget): one search, of the last query.
    for q in ["k", "ku", "kub", "kube", "kubernetes"] {
        search(&base, q, true);
    }
    // Submitted searches, normalized: "django orm" twice.
    assert!(search(&base, "Django  ORM", false) > 0);
    search(&base, "  django orm ", false);
    let zero_a = search(&base, "zzqxwvvkk", false);
    assert_eq!(zero_a, 0, "a query that finds nothing");
    // /meili: a GET search (as you type), then the same query submitted
    // at once (/api/search): counted once.
    let (status, _) = get(&format!("{base}/meili/indexes/posts/search?q=redis"));
    assert_eq!(status, 200);
    let (_, hits) = get(&format!("{base}/api/search?q=redis&limit=1"));
    let id = hits["hits"][0]["id"].as_str().unwrap().to_string();
    // A multi-search of two.
    let (status, body) = send(
        Req::post(&format!("{base}/meili/multi-search")),
        r#"{"queries":[{"indexUid":"posts","q":"docker "},{"indexUid":"posts","q":"qqzzxxwwvv "}]}"#,
    );
    assert_eq!(status, 200, "{body}");
    assert!(body["results"][0]["estimatedTotalHits"].as_u64().unwrap() > 0);
    assert_eq!(body["results"][1]["estimatedTotalHits"], 0);
    // A multi-search answered with an error counts none of its searches.
    let (status, _) = send(
        Req::post(&format!("{base}/meili/multi-search")),
        r#"{"queries":[{"indexUid":"posts","q":"mustnotcount "},{"indexUid":"posts","q":"x","limit":-1}]}"#,
    );
    assert_eq!(status, 400);
    // Not searches: completions, similar posts, facet search, HEAD, browsing.
    get(&format!("{base}/api/suggest?q=kube"));
    get(&format!("{base}/api/facets/tools/search?q=dock"));
    get(&format!("{base}/api/posts/{id}/similar"));
    Req::new("HEAD", &format!("{base}/api/search?q=headonly"))
        .call()
        .unwrap();
    get(&format!("{base}/api/search?q="));
    // A page after the first: the same search, read further.
    get(&format!("{base}/api/search?q=django+orm&offset=10"));
    get(&format!(
        "{base}/meili/indexes/posts/search?q=django+orm+&page=2"
    ));

    // The report needs the token.
    assert_eq!(report(&base, None, "").0, 401);
    assert_eq!(report(&base, Some("wrong"), "").0, 401);
    let (status, body) = report(&base, Some(TOKEN), "?days=1&limit=oops");
    assert_eq!(
        (status, body["error"]["param"].as_str()),
        (400, Some("limit"))
    );
    stop(child);
    let folder = analytics_dir(&index);
    assert!(
        listing(&folder).iter().any(|n| n.ends_with(".json")),
        "a day file in {}: {:?}",
        folder.display(),
        listing(&folder)
    );
    assert!(
        !listing(&index).iter().any(|n| n.contains("analytics")),
        "nothing of the analytics in the index folder"
    );

    // Second run, read-only: counts go on from the file; the index folder
    // is left as it was.
    let before = listing(&index);
    let (child, base) = start(&index, &["--read-only"], &env);
    let django = search(&base, "DJANGO ORM", false);
    let (status, live) = report(&base, Some(TOKEN), "?days=2&limit=50");
    assert_eq!(status, 200, "{live}");
    assert_eq!(live["recording"], true);
    let expected = vec![
        ("django orm".to_string(), 3, 0, 0),
        ("docker".to_string(), 1, 0, 0),
        ("kubernetes".to_string(), 1, 0, 0),
        ("qqzzxxwwvv".to_string(), 1, 1, 0),
        ("redis".to_string(), 1, 0, 0),
        ("zzqxwvvkk".to_string(), 1, 1, 0),
    ];
    let mut got = counts(&live["top_queries"]);
    got.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(got, expected, "{live}");
    // A query's hits: what its latest search found.
    let hits = |list: &Value, q: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|x| x["q"] == q)
            .unwrap()["hits"]
            .clone()
    };
    assert_eq!(hits(&live["top_queries"], "django orm"), django);
    assert_eq!(hits(&live["top_queries"], "zzqxwvvkk"), 0);
    assert_eq!(live["totals"]["searches"], 8);
    assert_eq!(live["totals"]["zero_results"], 2);
    assert_eq!(live["totals"]["zero_result_rate"], 0.25);
    assert_eq!(live["totals"]["distinct_queries"], 6);
    let zero: Vec<String> = counts(&live["top_zero_result_queries"])
        .into_iter()
        .map(|c| c.0)
        .collect();
    assert_eq!(zero, ["qqzzxxwwvv", "zzqxwvvkk"]);
    let days = live["days"].as_array().unwrap();
    assert_eq!(days.len(), 2);
    let per_day: u64 = days.iter().map(|d| d["searches"].as_u64().unwrap()).sum();
    assert_eq!(per_day, 8);
    stop(child);
    assert_eq!(
        listing(&index),
        before,
        "a read-only server wrote in the index folder"
    );

    // The command line reads the files: the same report.
    let out = run(
        &index,
        &["analytics", "--json", "--days", "2", "--limit", "50"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let cli: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(cli["totals"], live["totals"]);
    assert_eq!(cli["days"], live["days"]);
    assert_eq!(
        cli["top_zero_result_queries"],
        live["top_zero_result_queries"]
    );
    let mut got = counts(&cli["top_queries"]);
    got.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(got, expected);
    // And its text form names the queries.
    let out = run(&index, &["analytics", "--days", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("django orm"), "{}", stdout(&out));
    let out = run(&index, &["analytics", "--since", "2025-02-30"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
}

#[test]
fn nothing_is_recorded_when_analytics_are_off() {
    let tmp = tempfile::tempdir().unwrap();
    let index = tmp.path().join("index");
    let (child, base) = start(
        &index,
        &["--no-analytics"],
        &[
            ("POSTSEARCH_ANALYTICS_ENABLED", "true"),
            ("POSTSEARCH_ANALYTICS_CLICKS", "true"),
            ("POSTSEARCH_SERVER_WRITE_TOKEN", TOKEN),
        ],
    );
    search(&base, "kubernetes", false);
    search(&base, "redis", true);
    get(&format!("{base}/meili/indexes/posts/search?q=docker"));
    let (status, body) = send(
        Req::post(&format!("{base}/api/analytics/click")),
        r#"{"q":"redis","id":"x","position":0}"#,
    );
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("analytics_disabled"))
    );
    let (status, body) = report(&base, Some(TOKEN), "");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["recording"], false);
    assert_eq!(body["totals"]["searches"], 0);
    stop(child);
    assert!(
        !analytics_dir(&index).exists(),
        "no analytics folder when analytics are off"
    );
    assert_eq!(
        listing(tmp.path()),
        ["index"],
        "nothing written beside the index"
    );
    // The environment variable turns them off too.
    let (child, base) = start(&index, &[], &[("POSTSEARCH_ANALYTICS_ENABLED", "false")]);
    search(&base, "kubernetes", false);
    stop(child);
    assert_eq!(listing(tmp.path()), ["index"]);
}

#[test]
fn clicks_are_counted_only_when_turned_on() {
    let tmp = tempfile::tempdir().unwrap();
    let index = tmp.path().join("index");
    let folder = tmp.path().join("elsewhere");
    let folder_s = folder.display().to_string();
    let click =
        |base: &str, body: &str| send(Req::post(&format!("{base}/api/analytics/click")), body);
    // Clicks off (the default); no token configured: no report either.
    let (child, base) = start(
        &index,
        &[],
        &[
            ("POSTSEARCH_ANALYTICS_ENABLED", "true"),
            ("POSTSEARCH_ANALYTICS_DIR", &folder_s),
        ],
    );
    search(&base, "redis", false);
    let (status, body) = click(&base, r#"{"q":"redis","id":"x","position":0}"#);
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("analytics_disabled"))
    );
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("analytics.clicks"));
    let (status, body) = report(&base, Some("anything"), "");
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("analytics_disabled"))
    );
    stop(child);

    // Clicks on, with a token of their own.
    let (child, base) = start(
        &index,
        &[],
        &[
            ("POSTSEARCH_ANALYTICS_ENABLED", "true"),
            ("POSTSEARCH_ANALYTICS_DIR", &folder_s),
            ("POSTSEARCH_ANALYTICS_CLICKS", "true"),
            ("POSTSEARCH_ANALYTICS_TOKEN", TOKEN),
        ],
    );
    search(&base, "docker", false);
    let (status, body) = click(
        &base,
        r#"{"q":"Redis ","id":"alphanode-000001","position":2}"#,
    );
    assert_eq!((status, &body), (200, &json!({"recorded": true})));
    let (status, _) = click(
        &base,
        r#"{"q":"docker","id":"alphanode-000002","position":0}"#,
    );
    assert_eq!(status, 200);
    // A click on a query not searched today: counted, without a query.
    let (status, _) = click(&base, r#"{"q":"never searched","id":"a","position":0}"#);
    assert_eq!(status, 200);
    for bad in [
        "not json",
        "[]",
        r#"{"q":"redis"}"#,
        r#"{"q":"redis","id":"x","position":-1}"#,
        r#"{"q":"","id":"x","position":0}"#,
        r#"{"q":"redis","id":"x","position":0,"user":"me"}"#,
    ] {
        let (status, body) = click(&base, bad);
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(body["error"]["param"], "body", "{bad}");
    }
    let big = format!(r#"{{"q":"{}","id":"x","position":0}}"#, "a".repeat(5000));
    assert_eq!(click(&base, &big).0, 413);
    assert_eq!(get(&format!("{base}/api/analytics/click")).0, 405);
    let (status, live) = report(&base, Some(TOKEN), "?days=2");
    assert_eq!(status, 200, "{live}");
    assert_eq!(live["clicks_recorded"], true);
    let mut got = counts(&live["top_queries"]);
    got.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        got,
        [
            ("docker".to_string(), 1, 0, 1),
            ("redis".to_string(), 1, 0, 1)
        ]
    );
    assert_eq!(live["top_queries"][0]["click_through_rate"], 1.0);
    assert_eq!(live["totals"]["clicks"], 3);
    // The write token is not the report's token here.
    assert_eq!(report(&base, Some("x"), "").0, 401);
    stop(child);
    // The folder given was used, and nothing was put beside the index.
    assert!(listing(&folder).iter().any(|n| n.ends_with(".json")));
    assert!(!analytics_dir(&index).exists());
}
