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
            Route::Meili(_) => "/meili",
            Route::Unknown => "other",
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

#[cfg(test)]
mod tests {
    use super::*;

    fn route(path: &str) -> String {
        let segs = segments(path);
        let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
        let r = Route::of(&segs);
        format!("{} {r:?}", r.label())
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
    }
}
