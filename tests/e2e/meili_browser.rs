//! The InstantSearch demo (`/meili-demo`) in headless Chromium: the real
//! instantsearch.js, instant-meilisearch and meilisearch JS client (all
//! vendored) against `/meili`, checked against `/api/search` by
//! `node tests/meili/demo.mjs BASE`.
//!
//! Needs `node`, `node_modules/playwright-core` (`npm ci`) and Chromium at
//! `/usr/bin/chromium` (or `$CHROMIUM`): `#[ignore]`d, run by `cargo test
//! -- --ignored` (and `.ci/run`), failing with what is missing.

use std::process::Command;

#[test]
#[ignore = "needs Chromium, Node.js and `npm ci` (apt-get install chromium chromium-driver nodejs); run with --ignored"]
fn instantsearch_demo_in_chromium() {
    let (node, chromium) = crate::common::browser_prerequisites("the InstantSearch demo test");
    let root = crate::common::root();
    let server = crate::common::Server::start(&[]);
    let mut node_cmd = Command::new(&node);
    node_cmd
        .arg(root.join("tests/meili/demo.mjs"))
        .arg(&server.base)
        .env("CHROMIUM", &chromium)
        .current_dir(&root);
    crate::common::run_node_script(
        node_cmd,
        "the InstantSearch demo test (tests/meili/demo.mjs)",
    );
}

/// InstantSearch on a site's own origin (`tests/meili/cross_origin.mjs`):
/// the page and the libraries served from a second loopback port, the
/// searches sent across origins to `/meili` with nothing intercepted, with
/// the vendored and the newest meilisearch JS client, and a searchable
/// refinement list (facet search).
#[test]
#[ignore = "needs Chromium, Node.js and `npm ci` (apt-get install chromium chromium-driver nodejs); run with --ignored"]
fn instantsearch_on_another_origin_in_chromium() {
    let (node, chromium) =
        crate::common::browser_prerequisites("the cross-origin InstantSearch test");
    let root = crate::common::root();
    let site_port = crate::common::free_port();
    let origin = format!("http://127.0.0.1:{site_port}");
    let server = crate::common::Server::start(&[("POSTSEARCH_SERVER_CORS_ORIGINS", &origin)]);
    let mut node_cmd = Command::new(&node);
    node_cmd
        .arg(root.join("tests/meili/cross_origin.mjs"))
        .arg(&server.base)
        .env("SITE_PORT", site_port.to_string())
        .env("CHROMIUM", &chromium)
        .current_dir(&root);
    crate::common::run_node_script(
        node_cmd,
        "the cross-origin InstantSearch test (tests/meili/cross_origin.mjs)",
    );
}
