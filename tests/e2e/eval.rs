//! `postsearch eval` on a small judged collection (tests/fixtures/eval):
//! BEIR and TREC files give the same figures, `--compare` lists both
//! configurations, and the per-query measures agree with pytrec_eval
//! (trec_eval's code) to 1e-4 (scripts/check_eval.py): that test needs
//! pytrec_eval, so it is `#[ignore]`d; `cargo test -- --ignored` runs it
//! (as `.ci/run` does, which installs it).

use crate::common::{root, stderr, stdout};
use serde_json::Value;
use std::process::Command;

fn eval(args: &[&str]) -> std::process::Output {
    let fixtures = root().join("tests/fixtures/eval");
    Command::new(crate::common::bin())
        .current_dir(&fixtures)
        .arg("eval")
        .args(["--corpus", "corpus.jsonl"])
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn eval_measures_a_run_as_trec_eval_does() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run.trec");
    let out = eval(&[
        "--queries",
        "queries.jsonl",
        "--qrels",
        "qrels.tsv",
        "--json",
        "--run-out",
        run.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let beir: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let mean = &beir["configs"][0]["mean"];
    // Five judged queries (q6 has no judgments); q5 finds nothing relevant.
    assert_eq!(beir["configs"][0]["queries"], 5);
    assert_eq!(beir["configs"][0]["per_query"]["q5"]["ndcg_at_10"], 0.0);
    let out = eval(&[
        "--queries",
        "queries.tsv",
        "--qrels",
        "qrels.trec",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let trec: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        &trec["configs"][0]["mean"], mean,
        "BEIR and TREC files differ"
    );
    // A comparison prints both configurations.
    let out = eval(&[
        "--queries",
        "queries.jsonl",
        "--qrels",
        "qrels.tsv",
        "--compare",
        "ranking.title_boost=0.1",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("ranking.title_boost=0.1") && text.contains("nDCG@10"),
        "{text}"
    );
    // A bad key is a clear error.
    let out = eval(&[
        "--queries",
        "queries.jsonl",
        "--qrels",
        "qrels.tsv",
        "--set",
        "ranking.nope=1",
    ]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("ranking.nope"), "{}", stderr(&out));
}

#[test]
#[ignore = "needs pytrec_eval (pip install pytrec-eval-terrier); run with --ignored"]
fn eval_agrees_with_pytrec_eval() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run.trec");
    let out = eval(&[
        "--queries",
        "queries.jsonl",
        "--qrels",
        "qrels.tsv",
        "--json",
        "--run-out",
        run.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let ours = tmp.path().join("ours.json");
    std::fs::write(&ours, stdout(&out)).unwrap();
    let have = Command::new("python3")
        .args(["-c", "import pytrec_eval"])
        .status()
        .is_ok_and(|s| s.success());
    if !have {
        crate::common::missing_prerequisite(
            "the pytrec_eval cross-check",
            "pytrec_eval cannot be imported (pip install pytrec-eval-terrier)",
        );
    }
    let check = Command::new("python3")
        .arg(root().join("scripts/check_eval.py"))
        .arg(root().join("tests/fixtures/eval/qrels.tsv"))
        .arg(&run)
        .arg(&ours)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}{}",
        stdout(&check),
        stderr(&check)
    );
    assert!(stdout(&check).contains("0 disagree"), "{}", stdout(&check));
}
