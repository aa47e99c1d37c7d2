//! End-to-end: `postsearch bench` on a real index, in-process and against a
//! real server over HTTP.

use crate::common::{run, stderr, stdout, Server};
use serde_json::Value;

const KINDS: [&str; 6] = [
    "keyword", "phrase", "faceted", "prefix", "similar", "suggest",
];
const STATS: [&str; 8] = [
    "requests", "errors", "qps", "p50_ms", "p90_ms", "p99_ms", "p999_ms", "max_ms",
];

/// An index of the bundled `data/` in a temporary directory.
fn sample_index() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let o = run(dir.path(), &["index", "data"]);
    assert!(o.status.success(), "{}", stderr(&o));
    dir
}

/// Runs `bench ARGS --json` and checks the shape of its one object.
fn bench_json(index: &std::path::Path, args: &[&str]) -> Value {
    let o = run(index, args);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert_eq!(text.trim().lines().count(), 1, "one JSON line: {text}");
    let v: Value = serde_json::from_str(text.trim()).unwrap();
    for key in [
        "mode",
        "concurrency",
        "duration_s",
        "overall",
        "kinds",
        "errors_by_kind",
    ] {
        assert!(v.get(key).is_some(), "{key} missing in {v}");
    }
    for key in STATS {
        assert!(v["overall"][key].is_number(), "overall.{key} in {v}");
    }
    for kind in KINDS {
        for key in STATS {
            assert!(v["kinds"][kind][key].is_number(), "{kind}.{key} in {v}");
        }
        assert!(v["kinds"][kind]["requests"].as_u64().unwrap() > 0, "{kind}");
    }
    assert_eq!(v["overall"]["errors"], 0, "{v}");
    assert_eq!(v["errors_by_kind"], serde_json::json!({}));
    assert!(v["overall"]["p50_ms"].as_f64().unwrap() > 0.0);
    v
}

#[test]
fn bench_in_process() {
    let index = sample_index();
    let report = index.path().join("report.html");
    let v = bench_json(
        index.path(),
        &[
            "bench",
            "--requests",
            "200",
            "--concurrency",
            "2",
            "--warmup",
            "0",
            "--json",
            "--report",
            report.to_str().unwrap(),
        ],
    );
    assert_eq!(v["mode"], "index");
    assert_eq!(v["concurrency"], 2);
    assert!(v["overall"]["requests"].as_u64().unwrap() >= 200);
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(html.contains("<svg") && html.contains("polyline"));
    assert!(!html.contains("<script"), "self-contained, no scripts");
}

#[test]
fn bench_over_http() {
    let index = sample_index();
    let server = Server::start_on(index, &[]);
    let v = bench_json(
        server.index.path(),
        &[
            "bench",
            "--url",
            &server.base,
            "--requests",
            "200",
            "--concurrency",
            "4",
            "--warmup",
            "0",
            "--json",
        ],
    );
    assert_eq!(v["mode"], "http");
    assert_eq!(v["concurrency"], 4);
    assert!(v["overall"]["requests"].as_u64().unwrap() >= 200);
}

#[test]
fn bench_over_http_counts_errors_by_kind() {
    let index = sample_index();
    let server = Server::start_on(index, &[]);
    let queries = server.index.path().join("queries.txt");
    std::fs::write(
        &queries,
        "# one of each outcome\nkube?prefix=true\nquality:>=lots\nsimilar:no-such-post\n",
    )
    .unwrap();
    let o = run(
        server.index.path(),
        &[
            "bench",
            "--url",
            &server.base,
            "--queries",
            queries.to_str().unwrap(),
            "--requests",
            "30",
            "--warmup",
            "0",
            "--json",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(v["overall"]["requests"], 30);
    assert_eq!(v["overall"]["errors"], 20);
    assert_eq!(v["errors_by_kind"]["http_400"], 10);
    assert_eq!(v["errors_by_kind"]["http_404"], 10);
    assert_eq!(v["kinds"]["prefix"]["errors"], 0);
}

#[test]
fn bench_help_documents_the_query_file() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(dir.path(), &["bench", "--help"]);
    assert!(o.status.success());
    let help = stdout(&o);
    for needle in ["similar:", "suggest:", "prefix=true", "--rate", "--url"] {
        assert!(help.contains(needle), "{needle} in {help}");
    }
}

#[test]
fn bench_against_nothing_fails() {
    // No server on the port: every request fails, so the run failed (not
    // thousands of "requests per second" of connection errors).
    let index = sample_index();
    let url = format!("http://127.0.0.1:{}", crate::common::free_port());
    let o = run(
        index.path(),
        &[
            "bench",
            "--url",
            &url,
            "--duration",
            "1",
            "--concurrency",
            "1",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("no request succeeded"),
        "{}",
        stderr(&o)
    );
}
