//! The limits of one request, checked in one place ([`Limits::check`]) for
//! every caller: the CLI, `/api` and `/meili` all pass their requests to the
//! engine, which refuses what exceeds them with the field at fault.

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
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_query_bytes: MAX_QUERY_BYTES,
            max_limit: MAX_LIMIT,
            max_offset: MAX_OFFSET,
        }
    }
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

    /// Checks every limited value of a search.
    pub fn check(&self, req: &SearchRequest) -> Result<()> {
        self.check_query(&req.q)?;
        self.check_limit(req.limit)?;
        self.check_offset(req.offset)?;
        if let Some(w) = req.meta_weight {
            self.check_meta_weight(f64::from(w))?;
        }
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
