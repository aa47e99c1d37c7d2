//! End-to-end tests of the command line: the real binary on real files.

use crate::common::{root, run, stderr, stdout};
use serde_json::Value;
use std::process::Command;

fn json_lines(s: &str) -> Vec<Value> {
    s.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn documents(index: &std::path::Path) -> u64 {
    let out = run(index, &["stats", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_str::<Value>(&stdout(&out)).unwrap()["documents"]
        .as_u64()
        .unwrap()
}

#[test]
fn check_json_of_the_seed_equals_the_golden_record() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        &[
            "check",
            "--json",
            "tests/fixtures/seed/000_8e5299e8999edf12.txt",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let got = json_lines(&stdout(&out));
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(
            root().join("tests/fixtures/seed/000_8e5299e8999edf12.expected.json"),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(got, vec![expected]);
}

#[test]
fn malformed_posts_are_reported_and_the_rest_indexed() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["index", "tests/fixtures/malformed"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    let expected =
        std::fs::read_to_string(root().join("tests/fixtures/malformed/EXPECTED.list")).unwrap();
    for line in expected.lines().filter(|l| !l.is_empty()) {
        assert!(
            err.contains(&format!("tests/fixtures/malformed/{line}")),
            "missing {line:?} in\n{err}"
        );
    }
    assert!(
        err.contains("6 added, 0 updated, 0 unchanged, 10 rejected"),
        "{err}"
    );
    let out = run(
        dir.path(),
        &["search", "fixtureword", "--json", "--limit", "20"],
    );
    let resp: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(resp["total"], 6);
    let mut ids: Vec<_> = resp["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    assert_eq!(
        ids,
        (1..=6)
            .map(|i| format!("fixture-good-{i}"))
            .collect::<Vec<_>>()
    );
}

#[test]
fn indexing_twice_reports_unchanged_and_keeps_one_copy() {
    let dir = tempfile::tempdir().unwrap();
    let first = run(dir.path(), &["index", "data", "--json"]);
    assert!(first.status.success(), "{}", stderr(&first));
    let s1: Value = serde_json::from_str(&stdout(&first)).unwrap();
    let n = documents(dir.path());
    assert_eq!(s1["added"].as_u64().unwrap(), n);
    let second = run(dir.path(), &["index", "data", "--json"]);
    assert!(second.status.success());
    let s2: Value = serde_json::from_str(&stdout(&second)).unwrap();
    assert_eq!(
        (
            s2["added"].as_u64(),
            s2["updated"].as_u64(),
            s2["unchanged"].as_u64()
        ),
        (Some(0), Some(0), Some(n))
    );
    assert_eq!(documents(dir.path()), n);
}

#[test]
fn a_changed_post_replaces_the_old_one_and_delete_removes_it() {
    let dir = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("p.jsonl");
    std::fs::write(
        &file,
        "{\"id\":\"x1\",\"title\":\"first zebra title\"}\n{\"id\":\"x2\",\"title\":\"other\"}\n",
    )
    .unwrap();
    assert!(run(dir.path(), &["index", file.to_str().unwrap()])
        .status
        .success());
    std::fs::write(
        &file,
        "{\"id\":\"x1\",\"title\":\"second giraffe title\"}\n{\"id\":\"x2\",\"title\":\"other\"}\n",
    )
    .unwrap();
    let out = run(dir.path(), &["index", file.to_str().unwrap()]);
    assert!(
        stderr(&out).contains("0 added, 1 updated, 1 unchanged, 0 rejected"),
        "{}",
        stderr(&out)
    );
    let search = |q: &str| -> u64 {
        let out = run(dir.path(), &["search", q, "--json"]);
        serde_json::from_str::<Value>(&stdout(&out)).unwrap()["total"]
            .as_u64()
            .unwrap()
    };
    assert_eq!((search("zebra"), search("giraffe")), (0, 1));
    assert_eq!(documents(dir.path()), 2);
    // All or nothing: one missing id, nothing deleted, each missing id said.
    let out = run(dir.path(), &["delete", "x1", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("nope: no such post"));
    assert!(stderr(&out).contains("nothing deleted"), "{}", stderr(&out));
    assert_eq!(documents(dir.path()), 2);
    let out = run(dir.path(), &["delete", "x1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(documents(dir.path()), 1);
}

#[test]
fn stdin_jsonl_is_indexed() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(crate::common::bin())
        .args(["--index", dir.path().to_str().unwrap(), "index", "-"])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"{\"id\":\"s1\",\"title\":\"from stdin\"}\nnot json\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("-:2: not valid JSON"),
        "{}",
        stderr(&out)
    );
    assert_eq!(documents(dir.path()), 1);
}

#[test]
fn search_prints_hits_and_json_has_the_contract_shape() {
    let dir = tempfile::tempdir().unwrap();
    assert!(run(dir.path(), &["index", "data"]).status.success());
    let out = run(
        dir.path(),
        &[
            "search",
            "staging production",
            "--facet",
            "stack=python services",
            "--explain",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("alphanode-013989"), "{text}");
    assert!(text.contains("stack: "), "{text}");
    let out = run(dir.path(), &["search", "staging", "--json", "--limit", "3"]);
    let resp: Value = serde_json::from_str(&stdout(&out)).unwrap();
    for key in ["query", "total", "took_ms", "relaxed", "hits", "facets"] {
        assert!(resp.get(key).is_some(), "{key} missing");
    }
    let hit = &resp["hits"][0];
    for key in [
        "id",
        "title",
        "title_html",
        "snippet",
        "score",
        "meta_score",
        "stack",
        "tools",
        "difficulty",
        "code_language",
        "view_count",
        "score_parts",
    ] {
        assert!(hit.get(key).is_some(), "hit.{key} missing");
    }
    assert!(resp["facets"]["quality"]["85-100"].is_u64());
    let out = run(dir.path(), &["search", "x", "--sort", "sideways"]);
    assert_eq!(
        out.status.code(),
        Some(64),
        "clap rejects a bad sort: a usage error"
    );
    let out = run(dir.path(), &["search", "x", "--no-such-flag"]);
    assert_eq!(
        out.status.code(),
        Some(64),
        "a usage error is not 2 (posts rejected)"
    );
    assert!(run(dir.path(), &["--help"]).status.success());
    let out = run(dir.path(), &["similar", "alphanode-013989", "--json"]);
    let sim: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(sim["hits"].as_array().unwrap().len(), 5);
    assert!(sim["hits"]
        .as_array()
        .unwrap()
        .iter()
        .all(|h| h["id"] != "alphanode-013989"));
}

#[test]
fn search_without_an_index_fails_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(&dir.path().join("none"), &["search", "x"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no index here"), "{}", stderr(&out));
    let out = run(dir.path(), &["index", "does/not/exist"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn generate_is_deterministic_and_text_parses_back_to_the_json() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let t = tempfile::tempdir().unwrap();
    let gen = |dir: &std::path::Path, fmt: &str| {
        let out = run(
            dir,
            &[
                "generate",
                "--count",
                "120",
                "--seed",
                "9",
                "--out",
                dir.to_str().unwrap(),
                "--format",
                fmt,
            ],
        );
        assert!(out.status.success(), "{}", stderr(&out));
    };
    gen(a.path(), "jsonl");
    gen(b.path(), "jsonl");
    gen(t.path(), "text");
    let ja = std::fs::read(a.path().join("posts.jsonl")).unwrap();
    assert_eq!(ja, std::fs::read(b.path().join("posts.jsonl")).unwrap());
    let out = run(t.path(), &["check", "--json", t.path().to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut from_text = json_lines(&stdout(&out));
    let mut from_json = json_lines(&String::from_utf8(ja).unwrap());
    let key = |v: &Value| v["id"].as_str().unwrap().to_string();
    from_text.sort_by_key(key);
    from_json.sort_by_key(key);
    assert_eq!(from_text.len(), 120);
    assert_eq!(from_text, from_json);
}

#[test]
fn config_shows_each_value_and_its_origin() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(crate::common::bin())
        .args(["--index", dir.path().to_str().unwrap(), "config"])
        .env("POSTSEARCH_RANKING_META_WEIGHT", "0.25")
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(
        text.contains("ranking.meta_weight = 0.25  # env POSTSEARCH_RANKING_META_WEIGHT"),
        "{text}"
    );
    assert!(text.contains("index.dir = "), "{text}");
    assert!(text.contains("# flag --index"), "{text}");
    assert!(
        text.contains("server.addr = \"127.0.0.1:7700\"  # default"),
        "{text}"
    );
    // JSON values have their own types; a variable that names no setting
    // is warned about; POSTSEARCH_CONFIG names the file.
    let file = dir.path().join("my.toml");
    std::fs::write(&file, "[limits]\nmax_limit = 42\n").unwrap();
    let out = Command::new(crate::common::bin())
        .args(["--index", dir.path().to_str().unwrap(), "config", "--json"])
        .env("POSTSEARCH_CONFIG", &file)
        .env("POSTSEARCH_LIMITS_MAX_LIMT", "7")
        .output()
        .unwrap();
    let json: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(json["limits.max_limit"]["value"], 42);
    assert_eq!(json["server.read_only"]["value"], false);
    assert!(
        stderr(&out).contains("POSTSEARCH_LIMITS_MAX_LIMT is not a setting"),
        "{}",
        stderr(&out)
    );
}

/// A run killed with SIGKILL half way leaves the last commit intact, and
/// running it again finishes the job with one copy of every post.
#[cfg(unix)]
#[test]
fn a_killed_import_leaves_a_committed_index_and_a_rerun_finishes() {
    let corpus = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        &[
            "generate",
            "--count",
            "3000",
            "--out",
            corpus.path().to_str().unwrap(),
        ],
    );
    assert!(out.status.success());
    let jsonl = corpus.path().join("posts.jsonl");
    let mut child = Command::new(crate::common::bin())
        .args([
            "--index",
            dir.path().to_str().unwrap(),
            "index",
            "--commit-every",
            "300",
        ])
        .arg(&jsonl)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill once the first commit is on disk, while later batches are pending.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !dir.path().join("meta.json").exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(400));
    child.kill().unwrap();
    child.wait().unwrap();
    let n = documents(dir.path());
    assert_eq!(n % 300, 0, "{n} documents is not a committed state");
    assert!(n <= 3000);
    let out = run(
        dir.path(),
        &[
            "index",
            "--json",
            "--commit-every",
            "300",
            jsonl.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let s: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        s["added"].as_u64().unwrap() + s["unchanged"].as_u64().unwrap(),
        3000
    );
    assert_eq!(documents(dir.path()), 3000);
}

#[test]
fn a_rebuild_never_loses_the_index_and_foreign_folders_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let index = dir.path().join("ix");
    let count = |ix: &std::path::Path| {
        let out = run(ix, &["stats", "--json"]);
        let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
        v["documents"].as_u64().unwrap()
    };
    let out = run(&index, &["index", "data/sample.jsonl"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let before = count(&index);
    assert!(before > 900);
    // A rebuild from a missing file fails and leaves the index as it was.
    let out = run(&index, &["index", "--rebuild", "no/such/file.jsonl"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(count(&index), before);
    // A rebuild from the seed alone replaces it.
    let out = run(&index, &["index", "--rebuild", "tests/fixtures/seed"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(count(&index), 1);
    // A folder of other files: refused, untouched, with or without --rebuild.
    let mine = dir.path().join("mine");
    std::fs::create_dir_all(&mine).unwrap();
    std::fs::write(mine.join("notes.txt"), "mine").unwrap();
    for args in [
        &["index", "data/sample.jsonl"][..],
        &["index", "--rebuild", "data/sample.jsonl"],
    ] {
        let out = run(&mine, args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(
            stderr(&out).contains("not a postsearch index"),
            "{}",
            stderr(&out)
        );
        let names: Vec<_> = std::fs::read_dir(&mine)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["notes.txt"], "{args:?}");
    }
}

/// `n` small posts as JSON lines, ids `{prefix}-0..`.
fn post_lines(prefix: &str, n: usize) -> String {
    (0..n)
        .map(|i| format!("{{\"id\":\"{prefix}-{i}\",\"title\":\"post {i}\"}}\n"))
        .collect()
}

#[test]
fn a_walk_skips_what_is_not_a_post_and_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path().join("tree");
    std::fs::create_dir_all(tree.join(".git")).unwrap();
    std::fs::create_dir_all(tree.join("sub")).unwrap();
    std::fs::write(tree.join("a.jsonl"), post_lines("a", 2)).unwrap();
    std::fs::write(tree.join(".hidden.jsonl"), post_lines("h", 1)).unwrap();
    std::fs::write(tree.join(".git").join("x.json"), "{}").unwrap();
    std::fs::write(tree.join("a.jsonl.bak"), post_lines("b", 1)).unwrap();
    std::os::unix::fs::symlink("/nowhere", tree.join("dangling.jsonl")).unwrap();
    std::os::unix::fs::symlink(tree.join("sub"), tree.join("sublink")).unwrap();
    let fifo = tree.join("pipe.jsonl");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    // The index inside the tree walked (`postsearch index .` in a project).
    let index = tree.join("index");
    let out = run(&index, &["index", tree.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("2 added"), "{err}");
    assert!(
        err.contains("2 symbolic link(s)")
            && err.contains("1 FIFO(s)")
            && err.contains("2 hidden")
            && err.contains("1 index folder(s)"),
        "{err}"
    );
    // Again: the index's own files are not read as posts.
    let out = run(&index, &["index", tree.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("0 rejected"), "{}", stderr(&out));
    // A special file named explicitly is refused, not read forever.
    let out = run(&index, &["index", fifo.to_str().unwrap(), "/dev/zero"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(stderr(&out).matches("not a regular file").count(), 2);
}

#[test]
fn ctrl_c_commits_nothing_half_way_and_exits_130() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("posts.jsonl");
    std::fs::write(&file, post_lines("p", 200_000)).unwrap();
    let index = tmp.path().join("index");
    let child = Command::new(crate::common::bin())
        .arg("--index")
        .arg(&index)
        .args(["index", "--commit-every", "1000"])
        .arg(&file)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Once the first batch is committed, Ctrl-C.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !index.join("meta.json").exists() || documents(&index) == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "no commit within 60 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(
        err.contains("by Ctrl-C") && err.contains("were committed"),
        "{err}"
    );
    let n = documents(&index);
    assert!(
        n > 0 && n < 200_000 && n.is_multiple_of(1000),
        "{n} documents"
    );
}

#[test]
fn serve_listens_on_a_host_name() {
    let port = crate::common::free_port();
    let index = tempfile::tempdir().unwrap();
    let mut child = Command::new(crate::common::bin())
        .current_dir(root())
        .args(["serve", "--addr", &format!("localhost:{port}"), "--index"])
        .arg(index.path())
        .env("POSTSEARCH_ANALYTICS_ENABLED", "false")
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    crate::common::wait_ready(&format!("http://localhost:{port}"));
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn export_reimports_to_the_same_index() {
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = (dir.path().join("a"), dir.path().join("b"));
    let out = run(&first, &["index", "data/sample.jsonl"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let exported = run(&first, &["export"]);
    assert!(exported.status.success(), "{}", stderr(&exported));
    let lines = stdout(&exported);
    assert_eq!(lines.lines().count() as u64, documents(&first));
    let file = dir.path().join("posts.jsonl");
    std::fs::write(&file, &lines).unwrap();
    let out = run(&second, &["index", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(documents(&second), documents(&first));
    // The same posts, whole: the second index exports the same lines, and
    // answers a search as the first does.
    let again = dir.path().join("again.jsonl");
    let out = run(&second, &["export", "--output", again.to_str().unwrap()]);
    assert!(
        stderr(&out).contains("posts exported to"),
        "{}",
        stderr(&out)
    );
    let sorted = |s: &str| {
        let mut v: Vec<String> = s.lines().map(str::to_string).collect();
        v.sort();
        v
    };
    assert_eq!(
        sorted(&std::fs::read_to_string(&again).unwrap()),
        sorted(&lines)
    );
    let search = |ix: &std::path::Path| {
        let out = run(ix, &["search", "django migrations", "--json"]);
        let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
        (v["total"].clone(), v["hits"].as_array().unwrap().len())
    };
    assert_eq!(search(&first), search(&second));
}

#[test]
fn completions_and_the_manual_page_are_printed() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = Command::new(crate::common::bin())
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success(), "{shell}: {}", stderr(&out));
        assert!(stdout(&out).contains("postsearch"), "{shell}");
    }
    // The bash script is valid bash.
    let script = Command::new(crate::common::bin())
        .args(["completions", "bash"])
        .output()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("postsearch.bash");
    std::fs::write(&path, &script.stdout).unwrap();
    let check = Command::new("bash").arg("-n").arg(&path).output().unwrap();
    assert!(check.status.success(), "{}", stderr(&check));
    let man = Command::new(crate::common::bin())
        .arg("man")
        .output()
        .unwrap();
    let page = stdout(&man);
    assert!(
        page.contains(".TH postsearch 1") && page.contains("export"),
        "{page}"
    );
}

#[test]
fn an_index_analyzed_otherwise_is_refused_until_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let ix = dir.path().join("ix");
    let out = run(&ix, &["index", "data/sample.jsonl"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // As if an older postsearch, stemming otherwise, had built it.
    let meta_path = ix.join("meta.json");
    let mut meta: Value =
        serde_json::from_str(&std::fs::read_to_string(&meta_path).unwrap()).unwrap();
    assert!(meta["payload"].as_str().unwrap().contains("analyzer"));
    meta["payload"] = Value::String(r#"{"analyzer":"v0-old"}"#.into());
    std::fs::write(&meta_path, meta.to_string()).unwrap();
    for args in [&["search", "django"][..], &["index", "data/sample.jsonl"]] {
        let out = run(&ix, args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = stderr(&out);
        assert!(
            err.contains("another text analysis") && err.contains("postsearch index --rebuild"),
            "{err}"
        );
    }
    let out = run(&ix, &["index", "--rebuild", "data/sample.jsonl"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(&ix, &["search", "django", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn indexing_on_a_terminal_shows_a_bar_with_total_and_the_commit() {
    // `script` (util-linux) runs the command on a pseudo-terminal.
    let dir = tempfile::tempdir().unwrap();
    let typescript = dir.path().join("typescript");
    let command = format!(
        "{} --index {} index data/sample.jsonl",
        crate::common::bin().display(),
        dir.path().join("ix").display()
    );
    let out = Command::new("script")
        .current_dir(root())
        .args(["-qec", &command])
        .arg(&typescript)
        .output()
        .expect("script (util-linux) runs the import on a terminal");
    assert!(out.status.success(), "{}", stderr(&out));
    let shown = String::from_utf8_lossy(&std::fs::read(&typescript).unwrap()).into_owned();
    let size = std::fs::metadata(root().join("data/sample.jsonl"))
        .unwrap()
        .len();
    assert!(shown.contains("100%"), "{shown}");
    // The total is the input's size (indicatif's binary units).
    let mib = format!("{:.2} MiB", size as f64 / (1 << 20) as f64);
    assert!(shown.contains(&mib), "{mib} in {shown}");
    assert!(shown.contains(" posts"), "{shown}");
    assert!(shown.contains("950 added"), "{shown}");
}

#[test]
fn explain_shows_the_terms_searched_and_each_hits_score_by_field() {
    let dir = tempfile::tempdir().unwrap();
    let ix = dir.path().join("ix");
    assert!(run(&ix, &["index", "data/sample.jsonl"]).status.success());
    let out = run(
        &ix,
        &["search", "k8s deploymnet", "--explain", "--limit", "1"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    // The synonym and the typo variant, then the score's tree: the word
    // over its fields (BM25F), each field's frequency.
    assert!(text.contains("synonyms: k8s → also kubernetes"), "{text}");
    assert!(
        text.contains("terms searched: ") && text.contains("kubernet"),
        "{text}"
    );
    assert!(text.contains(": text score"), "{text}");
    assert!(text.contains("BM25F of \"kubernet\""), "{text}");
    assert!(text.contains("body: frequency"), "{text}");
}

/// `index` and `delete` started while another process holds the index's
/// write lock (a server in the middle of a write, or rewriting a segment)
/// wait for it, saying so after a second: they run once it is let go, and
/// fail past `--lock-wait` with nothing changed.
#[test]
fn an_import_waits_for_the_write_lock_another_process_holds() {
    use postsearch_store::indexer::{Writer, WriterOptions};
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["index", "data/sample.jsonl"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let index = postsearch_store::PostIndex::open(dir.path()).unwrap();
    let posts = dir.path().join("one.jsonl");
    std::fs::write(&posts, r#"{"id":"waited-1","title":"numbat"}"#).unwrap();
    let before = documents(dir.path());
    for args in [
        vec!["index", posts.to_str().unwrap()],
        vec!["delete", "waited-1"],
    ] {
        // Held past the wait: refused, nothing changed.
        let held = Writer::new(&index, WriterOptions::one_thread()).unwrap();
        let started = std::time::Instant::now();
        let out = run(dir.path(), &[&args[..], &["--lock-wait", "2"]].concat());
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(started.elapsed().as_millis() >= 2000, "{args:?} waited");
        assert!(
            err.contains("waiting up to 2 s for the index's write lock"),
            "{err}"
        );
        assert!(
            err.contains("another process is writing to this index"),
            "{err}"
        );
        drop(held);

        // Let go within the wait (60 s by default): it runs. (Held long
        // enough past the command's start for its notice after a second.)
        let held = Writer::new(&index, WriterOptions::one_thread()).unwrap();
        let release = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(3000));
            drop(held);
        });
        let started = std::time::Instant::now();
        let out = run(dir.path(), &args);
        release.join().unwrap();
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        assert!(started.elapsed().as_millis() >= 2900, "{args:?} waited");
        let err = stderr(&out);
        assert!(err.contains("waiting up to 60 s"), "{err}");
    }
    assert_eq!(documents(dir.path()), before);
}

/// `delete` is all or nothing even when another process deletes some of
/// its ids while it waits for the write lock: it checks them again once it
/// holds the lock, and deletes none.
#[test]
fn a_delete_whose_ids_go_while_it_waits_for_the_lock_deletes_none() {
    use postsearch_store::indexer::{Writer, WriterOptions};
    let tmp = tempfile::tempdir().unwrap();
    let ix = tmp.path().join("ix");
    let posts = tmp.path().join("two.jsonl");
    std::fs::write(
        &posts,
        "{\"id\":\"gone-1\",\"title\":\"numbat\"}\n{\"id\":\"kept-1\",\"title\":\"quokka\"}\n",
    )
    .unwrap();
    let out = run(ix.as_path(), &["index", posts.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let index = postsearch_store::PostIndex::open(ix.as_path()).unwrap();
    let mut held = Writer::new(&index, WriterOptions::one_thread()).unwrap();
    let mut deleting = Command::new(crate::common::bin())
        .current_dir(root())
        .arg("--index")
        .arg(ix.as_path())
        .args(["delete", "gone-1", "kept-1"])
        .env_remove("POSTSEARCH_INDEX")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Once the delete says it waits for the lock, it has checked its ids;
    // the holder deletes one of them meanwhile.
    let mut lines =
        std::io::BufRead::lines(std::io::BufReader::new(deleting.stderr.take().unwrap()));
    let first = lines.next().unwrap().unwrap();
    assert!(first.contains("waiting up to 60 s"), "{first}");
    assert!(held.delete("gone-1").unwrap());
    held.finish().unwrap();
    let err: Vec<String> = lines.map(Result::unwrap).collect();
    let err = err.join("\n");
    assert_eq!(deleting.wait().unwrap().code(), Some(1), "{err}");
    assert!(err.contains("gone-1: no such post"), "{err}");
    assert!(
        err.contains("nothing deleted: 1 of 2 ids not found"),
        "{err}"
    );
    let out = run(ix.as_path(), &["search", "quokka", "--json"]);
    let found: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(found["hits"][0]["id"], "kept-1", "{found}");
}

/// A re-import that changes posts leaves their old copies deleted in the
/// first import's segments; the import ends by rewriting a segment whose
/// deleted posts are a fifth of it, and so does `delete`.
#[test]
fn a_reimport_that_changes_many_posts_leaves_no_deleted_copies() {
    let dir = tempfile::tempdir().unwrap();
    let index = dir.path().join("ix");
    let stats = |ix: &std::path::Path| -> Value {
        let out = run(ix, &["stats", "--json"]);
        assert!(out.status.success(), "{}", stderr(&out));
        serde_json::from_str(&stdout(&out)).unwrap()
    };
    let out = run(&index, &["index", "data/sample.jsonl"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let before = stats(&index);
    let sample = std::fs::read_to_string(root().join("data/sample.jsonl")).unwrap();
    let changed: Vec<String> = sample
        .lines()
        .take(300)
        .map(|line| {
            let mut post: Value = serde_json::from_str(line).unwrap();
            post["title"] = Value::from(format!("{} revised", post["title"].as_str().unwrap()));
            post.to_string()
        })
        .collect();
    let file = dir.path().join("changed.jsonl");
    std::fs::write(&file, changed.join("\n")).unwrap();
    let out = run(&index, &["index", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("300 updated"), "{}", stderr(&out));
    let after = stats(&index);
    assert_eq!(after["documents"], before["documents"]);
    assert_eq!(after["deleted"], 0, "{after}");

    // So does `delete`, here of most of the posts the re-import wrote.
    let ids: Vec<String> = changed
        .iter()
        .take(250)
        .map(|line| {
            let post: Value = serde_json::from_str(line).unwrap();
            post["id"].as_str().unwrap().to_string()
        })
        .collect();
    let mut args = vec!["delete"];
    args.extend(ids.iter().map(String::as_str));
    let out = run(&index, &args);
    assert!(out.status.success(), "{}", stderr(&out));
    let after = stats(&index);
    assert_eq!(
        after["documents"].as_u64().unwrap() + 250,
        before["documents"].as_u64().unwrap()
    );
    assert_eq!(after["deleted"], 0, "{after}");
}
