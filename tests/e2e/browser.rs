//! Headless-Chromium tests of the widget and the demo page against the real
//! binary: starts `postsearch serve` over `data/` on a free port, then runs
//! `node tests/browser/run.mjs` (see tests/browser/README.md), which serves
//! a page on a second origin that embeds the widget.
//!
//! Needs `node`, `node_modules/playwright-core` (`npm ci`) and Chromium at
//! `/usr/bin/chromium` (or `$CHROMIUM`): it is `#[ignore]`d, run by
//! `cargo test -- --ignored` (and `.ci/run`), and fails naming what is
//! missing.

use std::process::Command;

#[test]
#[ignore = "needs Chromium, Node.js and `npm ci` (apt-get install chromium chromium-driver nodejs); run with --ignored"]
fn browser_widget_and_demo_page() {
    let (node, chromium) = crate::common::browser_prerequisites("the browser tests");
    let embed_port = crate::common::free_port();
    let origin = format!("http://127.0.0.1:{embed_port}");
    // Analytics with clicks on, in a folder of their own: test g checks the
    // widget's click reports are counted.
    let analytics = tempfile::tempdir().unwrap();
    let analytics_dir = analytics.path().display().to_string();
    let token = "browser-analytics";
    let server = crate::common::Server::start(&[
        ("POSTSEARCH_SERVER_CORS_ORIGINS", &origin),
        ("POSTSEARCH_ANALYTICS_ENABLED", "true"),
        ("POSTSEARCH_ANALYTICS_CLICKS", "true"),
        ("POSTSEARCH_ANALYTICS_DIR", &analytics_dir),
        ("POSTSEARCH_ANALYTICS_TOKEN", token),
    ]);
    let mut node_cmd = Command::new(&node);
    node_cmd
        .arg(crate::common::root().join("tests/browser/run.mjs"))
        .arg(&server.base)
        .env("EMBED_PORT", embed_port.to_string())
        .env("ANALYTICS_TOKEN", token)
        .env("CHROMIUM", &chromium)
        .current_dir(crate::common::root());
    crate::common::run_node_script(node_cmd, "the browser tests (tests/browser/run.mjs)");
}
