//! The route table: every path the server answers, in one place. The
//! dispatcher matches on [`Route`] and metrics label requests with
//! [`Route::label`], so the two cannot disagree.

/// A route, with the path segments it carries (percent-decoded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route<'a> {
    /// `/`: the demo page.
    Home,
    /// `/widget.js`: the embeddable search box.
    Widget,
    /// `/meili-demo`: the InstantSearch demo page.
    MeiliDemo,
    /// `/vendor/NAME`: the demo's JavaScript libraries.
    Vendor(&'a str),
    /// `/openapi.json`: the API's OpenAPI description.
    OpenApi,
    /// `/healthz`.
    Healthz,
    /// `/readyz`.
    Readyz,
    /// `/metrics`.
    Metrics,
    /// `/api/search`.
    Search,
    /// `/api/suggest`.
    Suggest,
    /// `/api/facets`.
    Facets,
    /// `/api/facets/FIELD/search`: values of a facet matching what is typed.
    FacetSearch(&'a str),
    /// `/api/posts`: writes.
    Posts,
    /// `/api/posts/ID`.
    Post(&'a str),
    /// `/api/posts/ID/similar`.
    Similar(&'a str),
    /// `/api/analytics`: the search analytics report.
    Analytics,
    /// `/api/analytics/click`: a click on a hit, counted.
    AnalyticsClick,
    /// `/meili/...`: the Meilisearch-compatible API, with the segments
    /// after `meili`.
    Meili(&'a [&'a str]),
    /// Anything else.
    Unknown,
}

impl<'a> Route<'a> {
    /// The route of a path, given as its segments (without the leading
    /// `/`; the root is `[""]`).
    pub fn of(segments: &'a [&'a str]) -> Route<'a> {
        match segments {
            [""] => Route::Home,
            ["widget.js"] => Route::Widget,
            ["meili-demo"] => Route::MeiliDemo,
            ["vendor", name] => Route::Vendor(name),
            ["openapi.json"] => Route::OpenApi,
            ["healthz"] => Route::Healthz,
            ["readyz"] => Route::Readyz,
            ["metrics"] => Route::Metrics,
            ["api", "search"] => Route::Search,
            ["api", "suggest"] => Route::Suggest,
            ["api", "facets"] => Route::Facets,
            ["api", "facets", field, "search"] => Route::FacetSearch(field),
            ["api", "posts"] => Route::Posts,
            ["api", "posts", id] => Route::Post(id),
            ["api", "posts", id, "similar"] => Route::Similar(id),
            ["api", "analytics"] => Route::Analytics,
            ["api", "analytics", "click"] => Route::AnalyticsClick,
            ["meili", rest @ ..] => Route::Meili(rest),
            _ => Route::Unknown,
        }
    }

    /// The route's label in metrics (ids are not labels).
    pub fn label(&self) -> &'static str {
        match self {
            Route::Home => "/",
            Route::Widget => "/widget.js",
            Route::MeiliDemo => "/meili-demo",
            Route::Vendor(_) => "/vendor",
            Route::OpenApi => "/openapi.json",
            Route::Healthz => "/healthz",
            Route::Readyz => "/readyz",
            Route::Metrics => "/metrics",
            Route::Search => "/api/search",
            Route::Suggest => "/api/suggest",
            Route::Facets => "/api/facets",
            Route::FacetSearch(_) => "/api/facets/{field}/search",
            Route::Posts => "/api/posts",
            Route::Post(_) => "/api/posts/{id}",
            Route::Similar(_) => "/api/posts/{id}/similar",
            Route::Analytics => "/api/analytics",
            Route::AnalyticsClick => "/api/analytics/click",
            Route::Meili(_) => "/meili",
            Route::Unknown => "other",
        }
    }
}

impl Route<'_> {
    /// The methods the route answers, as an `Allow` header lists them;
    /// `None` for paths that are not routes (404, not 405). `/vendor/NAME`
    /// is a route only for the files there are.
    pub fn methods(&self) -> Option<&'static str> {
        match self {
            Route::Posts | Route::AnalyticsClick => Some("POST"),
            Route::Post(_) => Some("GET, HEAD, DELETE"),
            Route::Vendor(name) if crate::meili::assets::vendor(name).is_none() => None,
            Route::Meili(_) | Route::Unknown => None,
            _ => Some("GET, HEAD"),
        }
    }
}

/// The segments of a URL path, percent-decoded.
pub fn segments(path: &str) -> Vec<String> {
    path.trim_matches('/')
        .split('/')
        .map(percent_decode)
        .collect()
}

fn percent_decode(s: &str) -> String {
    form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// `f` of the route of `path` (the route borrows the path's segments).
#[cfg(test)]
fn with_route<T>(path: &str, f: impl FnOnce(Route) -> T) -> T {
    let segs = segments(path);
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    f(Route::of(&segs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn methods(path: &str) -> Option<&'static str> {
        with_route(path, |r| r.methods())
    }

    #[test]
    fn unknown_paths_have_no_methods_and_routes_list_theirs() {
        assert_eq!(methods("/nowhere"), None);
        assert_eq!(methods("/vendor/nothing.js"), None);
        assert_eq!(methods("/vendor/meilisearch.js"), Some("GET, HEAD"));
        assert_eq!(methods("/api/posts"), Some("POST"));
        assert_eq!(methods("/api/posts/x"), Some("GET, HEAD, DELETE"));
        assert_eq!(methods("/api/search"), Some("GET, HEAD"));
        assert_eq!(methods("/api/analytics"), Some("GET, HEAD"));
        assert_eq!(methods("/api/analytics/click"), Some("POST"));
    }

    fn route(path: &str) -> String {
        with_route(path, |r| format!("{} {r:?}", r.label()))
    }

    #[test]
    fn paths_map_to_routes_and_labels() {
        assert_eq!(route("/"), "/ Home");
        assert_eq!(route("/api/search"), "/api/search Search");
        assert_eq!(route("/api/posts/a%2Fb"), "/api/posts/{id} Post(\"a/b\")");
        assert_eq!(
            route("/api/posts/x/similar"),
            "/api/posts/{id}/similar Similar(\"x\")"
        );
        assert_eq!(
            route("/meili/indexes/posts/search"),
            "/meili Meili([\"indexes\", \"posts\", \"search\"])"
        );
        assert_eq!(route("/api/nowhere"), "other Unknown");
        assert_eq!(route("/vendor/a+b.js"), "/vendor Vendor(\"a+b.js\")");
        assert_eq!(route("/openapi.json"), "/openapi.json OpenApi");
    }
}

/// The OpenAPI document (`docs/openapi.json`, served at `/openapi.json`)
/// against the route table, so that neither drifts from the other.
#[cfg(test)]
mod openapi {
    use super::*;

    /// A path of every route, one per variant: the exhaustive match makes a
    /// new route fail to compile here until it has a sample (and so is
    /// checked against the document).
    fn sample(route: &Route) -> &'static str {
        match route {
            Route::Home => "/",
            Route::Widget => "/widget.js",
            Route::MeiliDemo => "/meili-demo",
            Route::Vendor(_) => "/vendor/meilisearch.js",
            Route::OpenApi => "/openapi.json",
            Route::Healthz => "/healthz",
            Route::Readyz => "/readyz",
            Route::Metrics => "/metrics",
            Route::Search => "/api/search",
            Route::Suggest => "/api/suggest",
            Route::Facets => "/api/facets",
            Route::FacetSearch(_) => "/api/facets/tools/search",
            Route::Posts => "/api/posts",
            Route::Post(_) => "/api/posts/x",
            Route::Similar(_) => "/api/posts/x/similar",
            Route::Analytics => "/api/analytics",
            Route::AnalyticsClick => "/api/analytics/click",
            Route::Meili(_) => "/meili/indexes/posts/search",
            Route::Unknown => "/nowhere",
        }
    }

    /// `path` with its `{parameters}` filled with a value each.
    fn concrete(template: &str) -> String {
        template
            .split('/')
            .map(|seg| match seg {
                "{indexUid}" => "posts",
                "{name}" => "meilisearch.js",
                "{field}" => "tools",
                s if s.starts_with('{') => "x",
                s => s,
            })
            .collect::<Vec<_>>()
            .join("/")
    }

    fn matches(template: &str, path: &str) -> bool {
        let (t, p): (Vec<&str>, Vec<&str>) =
            (template.split('/').collect(), path.split('/').collect());
        t.len() == p.len() && t.iter().zip(&p).all(|(t, p)| t.starts_with('{') || t == p)
    }

    #[test]
    fn the_openapi_document_and_the_route_table_agree() {
        let spec: serde_json::Value =
            serde_json::from_str(crate::OPENAPI_JSON).expect("docs/openapi.json is JSON");
        assert_eq!(spec["openapi"].as_str().map(|v| &v[..3]), Some("3.1"));
        let paths = spec["paths"].as_object().expect("paths");
        // Every documented operation is a route with that method.
        for (template, ops) in paths {
            let path = concrete(template);
            let methods: Vec<String> = ops
                .as_object()
                .unwrap()
                .keys()
                .filter(|m| ["get", "post", "put", "patch", "delete"].contains(&m.as_str()))
                .map(|m| m.to_uppercase())
                .collect();
            assert!(!methods.is_empty(), "{template}: no operation");
            with_route(&path, |route| {
                let allow = match route {
                    Route::Meili(rest) => crate::meili::served_methods(rest),
                    Route::Unknown => panic!("{template} is documented but is no route"),
                    r => r.methods(),
                };
                if let Some(allow) = allow {
                    for m in &methods {
                        assert!(
                            allow.split(", ").any(|a| a == m),
                            "{m} {template}: route allows {allow}"
                        );
                    }
                }
            });
        }
        // Every route is documented, with every method it has.
        let mut seen = Vec::new();
        let samples = [
            "/",
            "/widget.js",
            "/meili-demo",
            "/vendor/meilisearch.js",
            "/openapi.json",
            "/healthz",
            "/readyz",
            "/metrics",
            "/api/search",
            "/api/suggest",
            "/api/facets",
            "/api/facets/tools/search",
            "/api/posts",
            "/api/posts/x",
            "/api/posts/x/similar",
            "/api/analytics",
            "/api/analytics/click",
            "/meili/indexes/posts/search",
            "/nowhere",
        ];
        for path in samples {
            with_route(path, |route| {
                assert_eq!(sample(&route), path, "one sample per route");
                seen.push(route.label());
                let documented = paths.iter().find(|(t, _)| matches(t, path));
                match (route, documented) {
                    (Route::Unknown, None) => {}
                    (Route::Unknown, Some((t, _))) => panic!("{path}: no route, documented as {t}"),
                    (_, None) => panic!("{path} ({}) is not in docs/openapi.json", route.label()),
                    (route, Some((t, ops))) => {
                        for m in route
                            .methods()
                            .unwrap_or("")
                            .split(", ")
                            .filter(|m| !m.is_empty() && *m != "HEAD")
                        {
                            assert!(
                                ops.get(m.to_lowercase()).is_some(),
                                "{m} {t} is not documented"
                            );
                        }
                    }
                }
            });
        }
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), samples.len(), "a sample per route");
    }
}
