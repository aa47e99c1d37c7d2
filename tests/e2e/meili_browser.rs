//! The InstantSearch demo (`/meili-demo`) in headless Chromium: the real
//! instantsearch.js, instant-meilisearch and meilisearch JS client (all
//! vendored) against `/meili`, checked against `/api/search` by
//! `node tests/meili/demo.mjs BASE`.
//!
//! Needs `node`, `node_modules/playwright-core` (`npm ci`) and Chromium at
//! `/usr/bin/chromium` (or `$CHROMIUM`). Without them the test is skipped
//! loudly, or fails when `POSTSEARCH_REQUIRE_BROWSER=1`.

use std::process::{Command, Stdio};

#[test]
fn instantsearch_demo_in_chromium() {
    let Some((node, chromium)) =
        crate::common::browser_prerequisites("the InstantSearch demo test")
    else {
        return;
    };
    let root = crate::common::root();
    let server = crate::common::Server::start(&[]);
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
