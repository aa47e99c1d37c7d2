//! `POST /meili/indexes/{uid}/facet-search`: the values of a facet that
//! match what is typed in its search box (a searchable refinement list),
//! each counted over the matches of the search's own `q` and `filter`, as
//! Meilisearch counts them. Matching is the engine's ([`FacetQuery`]):
//! beginnings of words, case and accents ignored, typo tolerant.
//!
//! The body is a search's (InstantSearch sends its display keys along:
//! highlighting, cropping, paging; they are accepted and have no effect)
//! plus `facetName`, `facetQuery` and `exhaustiveFacetCount`.

use super::search::{self, MAX_VALUES_PER_FACET};
use super::{MResult, MeiliError};
use postsearch_engine::facet_search::matching_values;
use postsearch_engine::{Engine, FacetQuery, Limits};
use postsearch_store::schema::FACET_FIELDS;
use serde_json::{json, Map, Value};
use std::time::Instant;

/// Answers one facet search.
pub fn run(engine: &Engine, limits: &Limits, mut obj: Map<String, Value>) -> MResult<Value> {
    let started = Instant::now();
    let name = match obj.remove("facetName") {
        Some(Value::String(s)) => s,
        None => {
            return Err(MeiliError::bad(
                "missing_facet_search_facet_name",
                "Missing field `facetName`",
            ))
        }
        Some(other) => {
            return Err(MeiliError::bad(
                "invalid_facet_search_facet_name",
                format!(
                    "Invalid value type at `.facetName`: expected a string, but found `{other}`"
                ),
            ))
        }
    };
    let typed = match obj.remove("facetQuery") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(other) => {
            return Err(MeiliError::bad(
                "invalid_facet_search_facet_query",
                format!(
                    "Invalid value type at `.facetQuery`: expected a string, but found `{other}`"
                ),
            ))
        }
    };
    match obj.remove("exhaustiveFacetCount") {
        None | Some(Value::Null | Value::Bool(_)) => {}
        Some(other) => {
            return Err(MeiliError::bad(
                "invalid_facet_search_exhaustive_facet_count",
                format!("Invalid value type at `.exhaustiveFacetCount`: expected a boolean, but found `{other}`"),
            ))
        }
    }
    let attr = super::filter::canonical_attr(&name);
    if !FACET_FIELDS.contains(&attr) {
        return Err(MeiliError::bad(
            "invalid_facet_search_facet_name",
            format!(
                "Attribute `{name}` is not facet-searchable. Available facet-searchable attributes are: `{}`.",
                FACET_FIELDS.join(", ")
            ),
        ));
    }
    let typed_text = typed.as_deref().unwrap_or("");
    if typed_text.len() > limits.max_query_bytes {
        return Err(MeiliError::bad(
            "invalid_facet_search_facet_query",
            format!(
                "the facet query is {} bytes long; postsearch's limit is {}.",
                typed_text.len(),
                limits.max_query_bytes
            ),
        ));
    }
    let mut p = search::parse_params(obj, limits)?;
    (p.limit, p.offset, p.page) = (0, 0, None);
    let facets = [attr.to_string()];
    let req = search::request(&p, &facets);
    let resp = engine.search(&req)?;
    let counts = search::string_counts(engine, &p, &req, &resp, attr)?;
    let hits: Vec<Value> =
        matching_values(&counts, &FacetQuery::new(typed_text), MAX_VALUES_PER_FACET)
            .into_iter()
            .map(|h| json!({"value": h.value, "count": h.count}))
            .collect();
    Ok(json!({
        "facetHits": hits,
        "facetQuery": typed,
        "processingTimeMs": started.elapsed().as_millis() as u64,
    }))
}
