//! Synonyms and distinct results through the real binary and server: the
//! synonym file named in the configuration, read again while serving; the
//! Meilisearch settings that list the rules; `distinct=hash` over HTTP, the
//! `/meili` API and the command line.

use crate::common::*;
use std::process::Command;
use std::time::{Duration, Instant};

/// Polls `f` until it holds (at most 15 s).
fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("never happened: {what}");
}

#[test]
fn the_synonym_file_is_read_again_while_serving_and_shown_in_settings() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("synonyms.toml");
    std::fs::write(&file, "groups = [[\"zqxjk\", \"qwvbn\"]]\n").unwrap();
    let server = Server::start(&[("POSTSEARCH_SEARCH_SYNONYMS", file.to_str().unwrap())]);
    let total = |q: &str| {
        let (s, body) = get(&server.url(&format!("/api/search?q={q}&limit=1")));
        assert_eq!(s, 200, "{body}");
        body["total"].as_u64().unwrap()
    };
    assert_eq!(total("zqxjk"), 0);
    let (_, django) = get(&server.url("/api/search?q=django&limit=0&synonyms=false"));
    let django = django["total"].as_u64().unwrap();
    assert!(django > 0);
    // The built-in rules are on beside the file's.
    let (_, settings) = get(&server.url("/meili/indexes/posts/settings"));
    assert_eq!(settings["synonyms"]["zqxjk"][0], "qwvbn");
    assert_eq!(settings["synonyms"]["k8s"][0], "kubernetes");

    std::fs::write(&file, "[one_way]\n\"zqxjk\" = [\"django\"]\n").unwrap();
    eventually("the new rule applies", || total("zqxjk") == django);
    let (_, explained) = get(&server.url("/api/search?q=zqxjk&limit=1&explain=true"));
    assert_eq!(explained["synonyms"][0]["typed"], "zqxjk");
    assert_eq!(explained["synonyms"][0]["forms"][0], "django");
    assert!(
        explained["hits"][0]["title_html"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("<mark>django</mark>")
            || explained["hits"][0]["snippet"]
                .as_str()
                .unwrap()
                .to_lowercase()
                .contains("<mark>django</mark>")
    );
    let (_, off) = get(&server.url("/api/search?q=zqxjk&synonyms=false"));
    assert_eq!(off["total"], 0, "synonyms=false");

    // A broken file is reported and the rules in use are kept.
    std::fs::write(&file, "groups = [[\"only-one\"]]\n").unwrap();
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(total("zqxjk"), django);
    let (_, settings) = get(&server.url("/meili/indexes/posts/settings/synonyms"));
    assert_eq!(settings["zqxjk"][0], "django");
}

#[test]
fn a_bad_synonym_file_stops_the_command_with_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("syn.toml");
    std::fs::write(&file, "groups = [[\"alone\"]]\n").unwrap();
    let out = Command::new(bin())
        .current_dir(root())
        .args(["--index", dir.path().join("ix").to_str().unwrap()])
        .args(["search", "x"])
        .env("POSTSEARCH_SEARCH_SYNONYMS", &file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("syn.toml") && err.contains("at least two"),
        "{err}"
    );
}

#[test]
fn distinct_results_over_http_meili_and_the_command_line() {
    let server = Server::start(&[]);
    let (_, all) = get(&server.url("/api/search?q=&limit=100"));
    let (s, one) = get(&server.url("/api/search?q=&limit=100&distinct=hash"));
    assert_eq!(s, 200, "{one}");
    let posts = all["total"].as_u64().unwrap();
    let groups = one["total"].as_u64().unwrap();
    assert!(groups < posts, "the sample has copies: {groups} of {posts}");
    assert_eq!(one["distinct"]["posts"], posts);
    assert_eq!(one["distinct"]["by"], "hash");
    // Each group's size is given, and over every page they add up to the
    // posts; no post is shown twice.
    let mut sizes = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for offset in (0..groups).step_by(100) {
        let (_, page) = get(&server.url(&format!(
            "/api/search?q=&limit=100&offset={offset}&distinct=hash"
        )));
        for h in page["hits"].as_array().unwrap() {
            sizes.push(h["group_size"].as_u64().unwrap());
            assert!(seen.insert(h["id"].as_str().unwrap().to_string()));
        }
    }
    assert_eq!(sizes.len() as u64, groups);
    assert!(sizes.iter().any(|&n| n > 1));
    assert_eq!(sizes.iter().sum::<u64>(), posts);
    // Facet counts count posts, as without distinct.
    assert_eq!(one["facets"], all["facets"]);
    let (s, bad) = get(&server.url("/api/search?q=&distinct=stack"));
    assert_eq!(s, 400);
    assert_eq!(bad["error"]["param"], "distinct");

    let meili = |body: &str| {
        send(
            Req::post(&server.url("/meili/indexes/posts/search"))
                .set("content-type", "application/json"),
            body,
        )
    };
    let (s, m) = meili(r#"{"q": "", "distinct": "hash", "limit": 1}"#);
    assert_eq!(s, 200, "{m}");
    assert_eq!(m["estimatedTotalHits"], groups);
    let (s, m) = meili(r#"{"q": "", "distinct": "stack"}"#);
    assert_eq!(s, 400);
    assert_eq!(m["code"], "invalid_search_distinct");

    // The command line, on the server's index.
    let out = run(
        server.index.path(),
        &["search", "", "--distinct", "hash", "--limit", "1"],
    );
    let text = stdout(&out);
    assert!(
        text.starts_with(&format!("{groups} results ({posts} posts; copies")),
        "{text}"
    );
    let out = run(server.index.path(), &["search", "", "--distinct", "title"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("by hash only"), "{}", stderr(&out));
}
