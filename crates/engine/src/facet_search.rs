//! Searching within a facet's values: what a facet list's search box asks
//! ("which of the 177 tools start with `pyt`?"), with each value's count
//! among the matches of the current search.
//!
//! A value matches when every word typed is the beginning of one of its
//! words, case and accents ignored, with the engine's typo tolerance: one
//! edit in a word of 5+ letters, two in 9+ (`pytets` finds `pytest`).

use crate::types::SearchRequest;
use crate::Engine;
use postsearch_store::analysis::{tokens, words_analyzer};
use postsearch_store::error::{Error, Result};
use postsearch_store::schema::FACET_FIELDS;
use serde::{Deserialize, Serialize};

/// A query typed into a facet's search box.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FacetQuery {
    words: Vec<Vec<char>>,
}

impl FacetQuery {
    /// The query `typed` (empty: every value matches).
    pub fn new(typed: &str) -> FacetQuery {
        FacetQuery {
            words: words(typed),
        }
    }

    /// Whether `value` matches (see the module documentation).
    pub fn matches(&self, value: &str) -> bool {
        if self.words.is_empty() {
            return true;
        }
        let value_words = words(value);
        self.words.iter().all(|typed| {
            let allowed = match typed.len() {
                0..=4 => 0,
                5..=8 => 1,
                _ => 2,
            };
            value_words
                .iter()
                .any(|w| prefix_distance(typed, w) <= allowed)
        })
    }
}

/// The words of `text` as the search box's words are: lowercased and
/// folded, not stemmed.
fn words(text: &str) -> Vec<Vec<char>> {
    tokens(&mut words_analyzer(), text)
        .into_iter()
        .map(|(w, _, _)| w.chars().collect())
        .collect()
}

/// The fewest edits (insertions, deletions, substitutions) that turn
/// `typed` into a beginning of `word`.
fn prefix_distance(typed: &[char], word: &[char]) -> usize {
    // One row of the edit-distance table per typed letter, a column per
    // letter of the word; the answer is the least cell of the last row
    // (any beginning of the word may be the target).
    let mut row: Vec<usize> = (0..=word.len()).collect();
    for (i, t) in typed.iter().enumerate() {
        let mut next = Vec::with_capacity(row.len());
        next.push(i + 1);
        for (j, w) in word.iter().enumerate() {
            let substitute = row[j] + usize::from(t != w);
            next.push(substitute.min(row[j + 1] + 1).min(next[j] + 1));
        }
        row = next;
    }
    row.into_iter().min().unwrap_or(0)
}

/// A facet value and its count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FacetHit {
    pub value: String,
    pub count: u64,
}

/// The answer to a facet search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FacetSearchResponse {
    /// The facet field searched.
    pub field: String,
    /// What was typed.
    pub query: String,
    /// Matching values, most frequent first (ties by value).
    pub hits: Vec<FacetHit>,
    pub took_ms: f64,
}

/// The values of `counts` that match `query`, most frequent first (ties by
/// value), at most `limit`.
pub fn matching_values<'a>(
    counts: impl IntoIterator<Item = (&'a String, &'a u64)>,
    query: &FacetQuery,
    limit: usize,
) -> Vec<FacetHit> {
    let mut hits: Vec<FacetHit> = counts
        .into_iter()
        .filter(|(value, count)| **count > 0 && query.matches(value))
        .map(|(value, count)| FacetHit {
            value: value.clone(),
            count: *count,
        })
        .collect();
    hits.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
    hits.truncate(limit);
    hits
}

impl Engine {
    /// The values of facet `field` matching `typed`, each with its count
    /// among the matches of `req` — the counts `req` itself shows for
    /// `field` (disjunctive: `field`'s own selection is not applied to
    /// them). At most `limit` values.
    pub fn facet_search(
        &self,
        req: &SearchRequest,
        field: &str,
        typed: &str,
        limit: usize,
    ) -> Result<FacetSearchResponse> {
        let started = std::time::Instant::now();
        if !FACET_FIELDS.contains(&field) {
            return Err(Error::bad_request(
                "field",
                format!(
                    "{field:?} is not a facet field ({})",
                    FACET_FIELDS.join(", ")
                ),
            ));
        }
        self.limits.check_facet_hits(limit)?;
        self.limits.check_query(typed)?;
        let counting = SearchRequest {
            limit: 0,
            offset: 0,
            with_facets: true,
            with_snippets: false,
            explain: false,
            ..req.clone()
        };
        let found = self.search(&counting)?;
        let counts = found.facets.get(field).cloned().unwrap_or_default();
        Ok(FacetSearchResponse {
            field: field.to_string(),
            query: typed.to_string(),
            hits: matching_values(&counts, &FacetQuery::new(typed), limit),
            took_ms: crate::types::millis(started.elapsed()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_words_match_beginnings_of_words_with_typos_by_length() {
        let q = |typed: &str, value: &str| FacetQuery::new(typed).matches(value);
        assert!(q("", "anything"));
        assert!(q("pyt", "pytest"));
        assert!(q("PYT", "pytest"));
        assert!(q("debug", "django-debug-toolbar"));
        assert!(q("django de", "django-debug-toolbar"));
        assert!(!q("django x", "django-debug-toolbar"));
        assert!(q("servi pyth", "python services"));
        assert!(q("café", "cafe tools"));
        // No typo under 5 letters; one from 5; two from 9.
        assert!(!q("pyx", "pytest"));
        assert!(q("pytets", "pytest"));
        assert!(q("kubernets", "kubernetes"));
        assert!(!q("kubxrxets", "kubernetes"));
        assert!(q("kubxrnxtes", "kubernetes"));
        assert!(!q("tset", "test"));
    }

    #[test]
    fn prefix_distance_is_the_distance_to_the_nearest_beginning() {
        let d = |a: &str, b: &str| {
            prefix_distance(
                &a.chars().collect::<Vec<_>>(),
                &b.chars().collect::<Vec<_>>(),
            )
        };
        assert_eq!(d("pyt", "pytest"), 0);
        assert_eq!(d("pxt", "pytest"), 1);
        assert_eq!(d("pytestt", "pytest"), 1);
        assert_eq!(d("", "x"), 0);
        assert_eq!(d("ab", ""), 2);
    }

    #[test]
    fn values_are_ordered_by_count_then_value_and_cut() {
        let counts: std::collections::BTreeMap<String, u64> = [
            ("pytest", 5),
            ("pyright", 5),
            ("pylint", 9),
            ("mypy", 20),
            ("pyenv", 0),
        ]
        .into_iter()
        .map(|(v, n)| (v.to_string(), n))
        .collect();
        let hits = matching_values(&counts, &FacetQuery::new("py"), 2);
        let got: Vec<(&str, u64)> = hits.iter().map(|h| (h.value.as_str(), h.count)).collect();
        assert_eq!(got, [("pylint", 9), ("pyright", 5)]);
    }
}
