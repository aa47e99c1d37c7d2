//! The InstantSearch demo (`/meili-demo`) in headless Chromium: the real
//! instantsearch.js, instant-meilisearch and meilisearch JS client (all
//! vendored) against `/meili`, checked against `/api/search` by
//! `node tests/meili/demo.mjs BASE`.
//!
//! Needs `node`, `node_modules/playwright-core` (`npm ci`) and Chromium at
//! `/usr/bin/chromium` (or `$CHROMIUM`). Without them the test is skipped
//! loudly, or fails when `POSTSEARCH_REQUIRE_BROWSER=1`.

mod common;

use std::path::PathBuf;
use std::process::{Command, Stdio};

#[test]
fn instantsearch_demo_in_chromium() {
    let root = common::root();
    let node = std::env::var("NODE").unwrap_or_else(|_| "node".into());
    let chromium =
        PathBuf::from(std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()));
    let mut missing = Vec::new();
    if !root
        .join("node_modules/playwright-core/package.json")
        .is_file()
    {
        missing.push("node_modules/playwright-core (run `npm ci`)".to_string());
    }
    if !chromium.is_file() {
        missing.push(format!("Chromium at {}", chromium.display()));
    }
    let node_ok = Command::new(&node)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !node_ok {
        missing.push(format!("Node.js (`{node}`)"));
    }
    if !missing.is_empty() {
        let msg = format!("missing {}", missing.join("; "));
        if std::env::var("POSTSEARCH_REQUIRE_BROWSER").as_deref() == Ok("1") {
            panic!("browser tests required (POSTSEARCH_REQUIRE_BROWSER=1) but {msg}");
        }
        eprintln!("\n!!!!!!!!!!\nSKIPPED the InstantSearch demo test: {msg}\n(set POSTSEARCH_REQUIRE_BROWSER=1 to make this a failure)\n!!!!!!!!!!\n");
        return;
    }
    let server = common::Server::start(&[]);
    let status = Command::new(&node)
        .arg(root.join("tests/meili/demo.mjs"))
        .arg(&server.base)
        .env("CHROMIUM", &chromium)
        .current_dir(&root)
        .stdin(Stdio::null())
        .status()
        .expect("run node tests/meili/demo.mjs");
    assert!(
        status.success(),
        "InstantSearch demo test failed ({status})"
    );
}
