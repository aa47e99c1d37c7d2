//! The Meilisearch-compatible API over HTTP without any client library:
//! routes, error shapes, and a search answered like `/api/search`.

use crate::common::{call, get, send, Req, Server};
use serde_json::json;

fn meili_post(server: &Server, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
    send(
        Req::post(&server.url(path)).set("content-type", "application/json"),
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
    let (s, e) = call(Req::delete(&server.url("/meili/indexes/articles")));
    assert_eq!((s, e["code"].as_str()), (405, Some("method_not_allowed")));
    assert!(e["message"].as_str().unwrap().contains("/api/posts"), "{e}");
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

#[test]
fn facet_search_counts_within_the_search_and_its_filter() {
    let server = Server::start(&[]);
    let facet_search =
        |body: serde_json::Value| meili_post(&server, "/meili/indexes/posts/facet-search", body);
    // What InstantSearch sends for a searchable refinement list: the search's
    // own parameters, display keys included, plus the facet and the text.
    let (s, r) = facet_search(json!({
        "facetName": "tools", "facetQuery": "py", "q": "docker",
        "filter": [["stack = infrastructure", "stack = backend"]],
        "attributesToHighlight": ["*"], "highlightPreTag": "__ais-highlight__",
        "highlightPostTag": "__/ais-highlight__", "hitsPerPage": 10, "page": 1,
    }));
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["facetQuery"], "py");
    assert!(r["processingTimeMs"].is_u64());
    let hits = r["facetHits"].as_array().unwrap();
    assert!(!hits.is_empty(), "{r}");
    // The counts are those /api/search shows for the same search.
    let (_, want) = get(&server.url(
        "/api/search?q=docker&prefix=true&limit=0&facet=stack:infrastructure&facet=stack:backend",
    ));
    let tools = want["facets"]["tools"].as_object().unwrap();
    let expected = tools
        .iter()
        .filter(|(v, _)| {
            v.split(|c: char| !c.is_alphanumeric())
                .any(|w| w.starts_with("py"))
        })
        .count();
    assert_eq!(hits.len(), expected, "{r} vs {tools:?}");
    let mut last = u64::MAX;
    for h in hits {
        let (v, n) = (h["value"].as_str().unwrap(), h["count"].as_u64().unwrap());
        assert_eq!(tools[v].as_u64(), Some(n), "{v}");
        assert!(n <= last, "most frequent first");
        last = n;
    }
    // The native API answers the same.
    let (s, native) = get(&server.url(
        "/api/facets/tools/search?q=py&query=docker&prefix=true&facet=stack:infrastructure&facet=stack:backend&limit=100",
    ));
    assert_eq!(s, 200, "{native}");
    let pairs = |hits: &serde_json::Value| -> Vec<(String, u64)> {
        hits.as_array()
            .unwrap()
            .iter()
            .map(|h| {
                (
                    h["value"].as_str().unwrap().into(),
                    h["count"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(pairs(&native["hits"]), pairs(&r["facetHits"]));
    // A typo in a long enough word still finds the value; no text: every value.
    let (_, typo) = facet_search(json!({"facetName": "tools", "facetQuery": "pytets"}));
    assert!(
        typo["facetHits"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["value"] == "pytest"),
        "{typo}"
    );
    let (_, every) = facet_search(json!({"facetName": "difficulty"}));
    assert_eq!(every["facetQuery"], serde_json::Value::Null);
    assert_eq!(every["facetHits"].as_array().unwrap().len(), 3, "{every}");
    // Errors in Meilisearch's vocabulary.
    let (s, e) = facet_search(json!({"facetQuery": "x"}));
    assert_eq!(
        (s, e["code"].as_str()),
        (400, Some("missing_facet_search_facet_name"))
    );
    let (s, e) = facet_search(json!({"facetName": "quality"}));
    assert_eq!(
        (s, e["code"].as_str()),
        (400, Some("invalid_facet_search_facet_name"))
    );
    let (s, e) = facet_search(json!({"facetName": "tools", "facetQuery": 3}));
    assert_eq!(
        (s, e["code"].as_str()),
        (400, Some("invalid_facet_search_facet_query"))
    );
    let (s, e) = get(&server.url("/api/facets/colour/search?q=x"));
    assert_eq!((s, e["error"]["param"].as_str()), (400, Some("field")));
    let (_, settings) = get(&server.url("/meili/indexes/posts/settings"));
    assert_eq!(settings["facetSearch"], true);
}

#[test]
fn newer_parameters_are_accepted_off_and_refused_on() {
    let server = Server::start(&[]);
    let search = |body: serde_json::Value| meili_post(&server, "/meili/indexes/posts/search", body);
    let (s, r) = search(json!({"q": "docker", "showPerformanceDetails": false,
        "personalize": null, "locales": [], "showMatchesPosition": false,
        "retrieveVectors": false, "attributesToSearchOn": ["*"]}));
    assert_eq!(s, 200, "{r}");
    for (body, code) in [
        (
            json!({"showPerformanceDetails": true}),
            "invalid_search_show_performance_details",
        ),
        (
            json!({"personalize": {"userContext": "x"}}),
            "invalid_search_personalize",
        ),
        (json!({"locales": ["fra"]}), "invalid_search_locales"),
    ] {
        let (s, e) = search(body.clone());
        assert_eq!((s, e["code"].as_str()), (400, Some(code)), "{body}");
    }
}

#[test]
fn preflights_allow_the_headers_meilisearch_clients_send() {
    let origin = "http://site.example";
    let server = Server::start(&[("POSTSEARCH_SERVER_CORS_ORIGINS", origin)]);
    let preflight = |asked: Option<&str>| {
        let mut req = Req::new("OPTIONS", &server.url("/meili/multi-search"))
            .set("origin", origin)
            .set("access-control-request-method", "POST");
        if let Some(h) = asked {
            req = req.set("access-control-request-headers", h);
        }
        let resp = req.call().unwrap();
        let header = |n: &str| resp.header(n).unwrap_or("").to_string();
        (
            resp.status,
            header("access-control-allow-headers"),
            header("access-control-allow-origin"),
            header("vary"),
        )
    };
    let (s, allowed, allow_origin, vary) = preflight(Some("Content-Type, X-Meilisearch-Client"));
    assert_eq!(s, 204);
    assert_eq!(allowed, "content-type, x-meilisearch-client");
    assert_eq!(allow_origin, origin);
    assert!(vary.contains("Origin") && vary.contains("Access-Control-Request-Headers"));
    // Without a list, or with one that is not header names, the defaults.
    for asked in [None, Some("x-a;x"), Some("a b"), Some("x-a,,")] {
        let (_, allowed, _, _) = preflight(asked);
        assert!(
            allowed.contains("x-meilisearch-client"),
            "{asked:?}: {allowed}"
        );
    }
    // An answer to a listed origin varies with the origin, allowed or not.
    let resp = Req::get(&server.url("/healthz"))
        .set("origin", "http://other.example")
        .call()
        .unwrap();
    assert_eq!(resp.header("vary"), Some("Origin"));
    assert_eq!(resp.header("access-control-allow-origin"), None);
}

/// What the settings say about facet values (`faceting`) is what a search
/// answers: values most frequent first (`sortFacetValuesBy: {"*": "count"}`),
/// at most `maxValuesPerFacet` of them, and they are the most frequent ones
/// (not the first alphabetically): over the whole of `data/`, `tools` has
/// more values than are listed.
#[test]
fn facet_distribution_follows_the_faceting_settings() {
    let server = Server::start(&[]);
    let (s, faceting) = get(&server.url("/meili/indexes/posts/settings/faceting"));
    assert_eq!(s, 200, "{faceting}");
    let (_, settings) = get(&server.url("/meili/indexes/posts/settings"));
    assert_eq!(settings["faceting"], faceting);
    assert_eq!(
        faceting["sortFacetValuesBy"],
        json!({"*": "count"}),
        "{faceting}"
    );
    let max = faceting["maxValuesPerFacet"].as_u64().unwrap() as usize;
    let (s, r) = meili_post(
        &server,
        "/meili/indexes/posts/search",
        json!({"q": "", "limit": 0, "facets": ["tools", "stack", "difficulty", "quality"]}),
    );
    assert_eq!(s, 200, "{r}");
    let (_, native) = get(&server.url("/api/search?q=&limit=0"));
    let all_tools = native["facets"]["tools"].as_object().unwrap();
    assert!(
        all_tools.len() > max,
        "data/ has {} tools, no more than the {max} listed: the test shows nothing",
        all_tools.len()
    );
    for (attr, dist) in r["facetDistribution"].as_object().unwrap() {
        let listed: Vec<(String, u64)> = dist
            .as_object()
            .unwrap()
            .iter()
            .map(|(v, n)| (v.clone(), n.as_u64().unwrap()))
            .collect();
        assert!(!listed.is_empty() && listed.len() <= max, "{attr}: {dist}");
        assert!(
            listed.windows(2).all(|w| w[0].1 >= w[1].1),
            "{attr} not most frequent first: {listed:?}"
        );
        let least = listed.last().unwrap().1;
        if attr == "quality" {
            continue; // the native API counts quality in buckets
        }
        let every = native["facets"][attr].as_object().unwrap();
        for (v, n) in &listed {
            assert_eq!(every[v].as_u64(), Some(*n), "{attr} {v}");
        }
        // Every value left out is at most as frequent as the least listed.
        for (v, n) in every {
            let n = n.as_u64().unwrap();
            if n > least {
                assert!(
                    listed.iter().any(|(l, _)| l == v),
                    "{attr}: {v} ({n}) left out, {least} listed"
                );
            }
        }
    }
    let tools = r["facetDistribution"]["tools"].as_object().unwrap();
    assert_eq!(tools.len(), max);
    let mut by_count: Vec<(&String, u64)> = all_tools
        .iter()
        .map(|(v, n)| (v, n.as_u64().unwrap()))
        .collect();
    by_count.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let listed: Vec<&String> = tools.keys().collect();
    let want: Vec<&String> = by_count.iter().take(max).map(|(v, _)| *v).collect();
    assert_eq!(
        listed, want,
        "tools: the {max} most frequent, ties by value"
    );
}
