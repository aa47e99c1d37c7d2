//! The InstantSearch demo page (`/meili-demo`) and the vendored browser
//! libraries it loads from `/vendor/...` (see web/vendor/README.md).

/// The demo page; `{{INDEX_UID}}` is replaced by the configured uid.
pub const DEMO_HTML: &str = include_str!("../../web/meili-demo.html");

const VENDOR: [(&str, &str, &str); 3] = [
    (
        "instantsearch.production.min.js",
        include_str!("../../web/vendor/instantsearch.production.min.js"),
        "application/javascript; charset=utf-8",
    ),
    (
        "instant-meilisearch.js",
        include_str!("../../web/vendor/instant-meilisearch.js"),
        "text/javascript; charset=utf-8",
    ),
    (
        "meilisearch.js",
        include_str!("../../web/vendor/meilisearch.js"),
        "text/javascript; charset=utf-8",
    ),
];

/// A vendored file by name: (body, content type).
pub fn vendor(name: &str) -> Option<(&'static str, &'static str)> {
    VENDOR
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, body, ct)| (*body, *ct))
}

/// The demo page for index `uid`.
pub fn demo_page(uid: &str) -> String {
    let escaped = postsearch_engine::snippet::escape(uid);
    DEMO_HTML.replace("{{INDEX_UID}}", &escaped)
}
