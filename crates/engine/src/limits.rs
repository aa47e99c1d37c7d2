//! The limits of one request, checked in one place ([`Limits::check`]) for
//! every caller: the CLI, `/api` and `/meili` all pass their requests to the
//! engine, which refuses what exceeds them with the field at fault.

use crate::query::ParsedQuery;
use crate::types::SearchRequest;
use postsearch_store::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// Most hits one page may ask for, by default.
pub const MAX_LIMIT: usize = 100;
/// Deepest offset a page may start at, by default.
pub const MAX_OFFSET: usize = 10_000;
/// Longest query, in bytes, by default.
pub const MAX_QUERY_BYTES: usize = 1024;
/// Most values one facet search may ask for.
pub const MAX_FACET_HITS: usize = 100;
/// Most typed filters one request may hold (kept and excluded together).
pub const MAX_FILTERS: usize = 256;
/// Largest meta weight a request may set.
pub const MAX_META_WEIGHT: f64 = 100.0;
/// Most words, phrases and filters one query may hold, by default.
pub const MAX_QUERY_TERMS: usize = 32;
/// Most words one quoted phrase may hold, by default.
pub const MAX_PHRASE_WORDS: usize = 32;
/// Most facets one search may count or select, by default.
pub const MAX_FACETS: usize = 64;
/// Most searches one multi-search may hold, by default.
pub const MAX_MULTI_SEARCH_QUERIES: usize = 64;
/// Longest highlight tag or crop marker, in bytes, by default.
pub const MAX_TAG_BYTES: usize = 256;
/// Longest crop, in words, by default.
pub const MAX_CROP_WORDS: usize = 1000;

/// What one request may ask of the engine (`[limits]` in `postsearch.toml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Longest `q`, in bytes.
    pub max_query_bytes: usize,
    /// Largest `limit`.
    pub max_limit: usize,
    /// Largest `offset`.
    pub max_offset: usize,
    /// Most words, phrases and filters in one query (`q`).
    pub max_query_terms: usize,
    /// Most words in one quoted phrase.
    pub max_phrase_words: usize,
    /// Most facets one search may count (`/meili` `facets`) or select
    /// (`/api` `facet=`).
    pub max_facets: usize,
    /// Most searches in one `/meili/multi-search`.
    pub max_multi_search_queries: usize,
    /// Longest `highlightPreTag`, `highlightPostTag` or `cropMarker`, in
    /// bytes.
    pub max_tag_bytes: usize,
    /// Largest `cropLength`, in words.
    pub max_crop_words: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_query_bytes: MAX_QUERY_BYTES,
            max_limit: MAX_LIMIT,
            max_offset: MAX_OFFSET,
            max_query_terms: MAX_QUERY_TERMS,
            max_phrase_words: MAX_PHRASE_WORDS,
            max_facets: MAX_FACETS,
            max_multi_search_queries: MAX_MULTI_SEARCH_QUERIES,
            max_tag_bytes: MAX_TAG_BYTES,
            max_crop_words: MAX_CROP_WORDS,
        }
    }
}

/// `value` must be at most `max`, or the request is refused naming `param`
/// and the `[limits]` key that sets `max`.
fn at_most(param: &str, what: &str, value: usize, max: usize, key: &str) -> Result<()> {
    if value > max {
        return Err(Error::bad_request(
            param,
            format!("{what}: {value}; the limit is {max} (limits.{key})"),
        ));
    }
    Ok(())
}

impl Limits {
    /// Checks a query's length.
    pub fn check_query(&self, q: &str) -> Result<()> {
        if q.len() > self.max_query_bytes {
            return Err(Error::bad_request(
                "q",
                format!(
                    "q is {} bytes long; the limit is {}",
                    q.len(),
                    self.max_query_bytes
                ),
            ));
        }
        Ok(())
    }

    /// Checks a page size.
    pub fn check_limit(&self, limit: usize) -> Result<()> {
        if limit > self.max_limit {
            return Err(Error::bad_request(
                "limit",
                format!("limit must be at most {}, got {limit}", self.max_limit),
            ));
        }
        Ok(())
    }

    /// Checks the number of values a facet search asks for.
    pub fn check_facet_hits(&self, limit: usize) -> Result<()> {
        if limit > MAX_FACET_HITS {
            return Err(Error::bad_request(
                "limit",
                format!("limit must be at most {MAX_FACET_HITS}, got {limit}"),
            ));
        }
        Ok(())
    }

    /// Checks a page offset.
    pub fn check_offset(&self, offset: usize) -> Result<()> {
        if offset > self.max_offset {
            return Err(Error::bad_request(
                "offset",
                format!("offset must be at most {}, got {offset}", self.max_offset),
            ));
        }
        Ok(())
    }

    /// Checks a meta weight (as given, before it is rounded to the `f32`
    /// the engine computes with: `-5e-324` is refused, not read as 0).
    pub fn check_meta_weight(&self, w: f64) -> Result<()> {
        if !w.is_finite() || !(0.0..=MAX_META_WEIGHT).contains(&w) {
            return Err(Error::bad_request(
                "meta_weight",
                format!("meta_weight must be between 0 and {MAX_META_WEIGHT}, got {w}"),
            ));
        }
        Ok(())
    }

    /// Checks a parsed query: the number of its terms and the words of each
    /// phrase.
    pub fn check_parsed(&self, parsed: &ParsedQuery) -> Result<()> {
        let terms = parsed.clauses.len()
            + parsed.excluded.len()
            + parsed.filters.len()
            + parsed.excluded_filters.len();
        at_most(
            "q",
            "words, phrases and filters in the query",
            terms,
            self.max_query_terms,
            "max_query_terms",
        )?;
        for clause in parsed.clauses.iter().chain(&parsed.excluded) {
            if clause.phrase {
                let words = postsearch_store::analysis::word_count(&clause.text);
                at_most(
                    "q",
                    "words in a phrase",
                    words,
                    self.max_phrase_words,
                    "max_phrase_words",
                )?;
            }
        }
        Ok(())
    }

    /// Checks the number of facets a search counts or selects.
    pub fn check_facets(&self, param: &str, facets: usize) -> Result<()> {
        at_most(param, "facets", facets, self.max_facets, "max_facets")
    }

    /// Checks the number of searches of a multi-search.
    pub fn check_multi_search(&self, queries: usize) -> Result<()> {
        at_most(
            "queries",
            "searches in one multi-search",
            queries,
            self.max_multi_search_queries,
            "max_multi_search_queries",
        )
    }

    /// Checks the length of a highlight tag or crop marker.
    pub fn check_tag(&self, param: &str, tag: &str) -> Result<()> {
        at_most(
            param,
            "bytes",
            tag.len(),
            self.max_tag_bytes,
            "max_tag_bytes",
        )
    }

    /// Checks a crop length, in words.
    pub fn check_crop(&self, param: &str, words: usize) -> Result<()> {
        at_most(param, "words", words, self.max_crop_words, "max_crop_words")
    }

    /// Checks every limited value of a search.
    pub fn check(&self, req: &SearchRequest) -> Result<()> {
        self.check_query(&req.q)?;
        self.check_limit(req.limit)?;
        self.check_offset(req.offset)?;
        if let Some(w) = req.meta_weight {
            self.check_meta_weight(f64::from(w))?;
        }
        self.check_facets("facet", req.facets.values().map(Vec::len).sum())?;
        let filters = req.filters.len() + req.excluded_filters.len();
        if filters > MAX_FILTERS {
            return Err(Error::bad_request(
                "filter",
                format!("at most {MAX_FILTERS} filter conditions, got {filters}"),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_raised_limit_is_the_one_checked() {
        let raised = Limits {
            max_limit: 500,
            ..Limits::default()
        };
        let req = SearchRequest {
            limit: 300,
            ..SearchRequest::new("x")
        };
        assert!(raised.check(&req).is_ok());
        let err = Limits::default().check(&req).unwrap_err();
        assert_eq!(err.param(), Some("limit"));
    }

    #[test]
    fn meta_weights_outside_the_range_are_refused() {
        let l = Limits::default();
        assert!(l.check_meta_weight(0.0).is_ok() && l.check_meta_weight(100.0).is_ok());
        for w in [-0.1, 100.5, f64::NAN, f64::INFINITY, -5e-324, 100.000001] {
            assert_eq!(
                l.check_meta_weight(w).unwrap_err().param(),
                Some("meta_weight")
            );
        }
    }
}
