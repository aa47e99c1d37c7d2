//! The Meilisearch-compatible API over HTTP without any client library:
//! routes, error shapes, and a search answered like `/api/search`.

use crate::common::{call, get, send, Server};
use serde_json::json;

fn meili_post(server: &Server, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
    send(
        ureq::post(&server.url(path)).set("content-type", "application/json"),
        &body.to_string(),
    )
}

#[test]
fn meili_routes_errors_and_search() {
    let server = Server::start(&[("POSTSEARCH_SERVER_MEILI_INDEX_UID", "articles")]);
    assert_eq!(
        get(&server.url("/meili/health")).1,
        json!({"status": "available"})
    );
    let (s, idx) = get(&server.url("/meili/indexes/articles"));
    assert_eq!((s, idx["primaryKey"].as_str()), (200, Some("id")));
    let (s, f) = get(&server.url("/meili/indexes/articles/settings/filterable-attributes"));
    assert_eq!(s, 200);
    assert!(f.as_array().unwrap().contains(&json!("quality")));

    let (s, e) = get(&server.url("/meili/indexes/posts/search?q=x"));
    assert_eq!((s, e["code"].as_str()), (404, Some("index_not_found")));
    for k in ["message", "code", "type", "link"] {
        assert!(e.get(k).is_some(), "{k} in {e}");
    }
    let (s, e) = meili_post(
        &server,
        "/meili/indexes/articles/documents",
        json!([{"id": "x"}]),
    );
    assert_eq!((s, e["code"].as_str()), (501, Some("not_implemented")));
    let (s, e) = call(ureq::delete(&server.url("/meili/indexes/articles")));
    assert_eq!((s, e["code"].as_str()), (501, Some("not_implemented")));
    let (s, e) = meili_post(
        &server,
        "/meili/indexes/articles/search",
        json!({"filter": "stack = a OR tools = b"}),
    );
    assert_eq!(
        (s, e["code"].as_str()),
        (400, Some("invalid_search_filter"))
    );
    let (s, e) = meili_post(
        &server,
        "/meili/indexes/articles/search",
        json!({"nope": 1}),
    );
    assert_eq!((s, e["code"].as_str()), (400, Some("bad_request")));
    assert!(e["message"].as_str().unwrap().contains("nope"));

    let (s, r) = meili_post(
        &server,
        "/meili/multi-search",
        json!({"queries": [{"indexUid": "articles", "q": "docker", "limit": 5,
            "filter": [["stack = infrastructure", "stack = backend"]], "facets": ["tools"]}],
            "federation": null}),
    );
    assert_eq!(s, 200, "{r}");
    let r = &r["results"][0];
    let (_, want) = get(&server.url(
        "/api/search?q=docker&prefix=true&limit=5&facet=stack:infrastructure&facet=stack:backend",
    ));
    assert_eq!(r["indexUid"], "articles");
    assert_eq!(r["estimatedTotalHits"], want["total"]);
    let ids = |hits: &serde_json::Value| -> Vec<String> {
        hits.as_array()
            .unwrap()
            .iter()
            .map(|h| h["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids(&r["hits"]), ids(&want["hits"]));
    assert_eq!(r["facetDistribution"]["tools"], want["facets"]["tools"]);

    let (s, page) = get(&server.url("/meili-demo"));
    assert_eq!(s, 200);
    assert!(page
        .as_str()
        .unwrap()
        .contains("data-index-uid=\"articles\""));
    let (s, _) = get(&server.url("/vendor/instantsearch.production.min.js"));
    assert_eq!(s, 200);
}
