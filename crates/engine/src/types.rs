//! The contract types of a search: what the CLI's `--json` prints and the
//! HTTP API answers, shared so the two cannot drift.

use crate::query::Filter;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How the words of a query combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MatchMode {
    /// Up to 3 clauses: all required, relaxed to any when nothing matches.
    /// More: any word, ranked by BM25.
    #[default]
    Auto,
    /// Every clause must match.
    All,
    /// Any clause may match.
    Any,
}

impl std::str::FromStr for MatchMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(MatchMode::Auto),
            "all" => Ok(MatchMode::All),
            "any" => Ok(MatchMode::Any),
            _ => Err(format!("unknown match mode {s:?} (auto, all, any)")),
        }
    }
}

/// The order of hits. Ties are always broken by id, ascending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sort {
    /// Text relevance blended with the meta score.
    #[default]
    Relevance,
    /// Most viewed first.
    Views,
    /// Highest `score.quality` first.
    Quality,
    /// Most recently reviewed first.
    Newest,
}

impl std::str::FromStr for Sort {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "relevance" => Ok(Sort::Relevance),
            "views" => Ok(Sort::Views),
            "quality" => Ok(Sort::Quality),
            "newest" => Ok(Sort::Newest),
            _ => Err(format!(
                "unknown sort {s:?} (relevance, views, quality, newest)"
            )),
        }
    }
}

/// A search, as the CLI flags and the HTTP query string describe it.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchRequest {
    /// The query, in the query language.
    pub q: String,
    /// Facet selections: field → values (OR within a field, AND across).
    pub facets: BTreeMap<String, Vec<String>>,
    /// Filters every hit satisfies, beside those written in `q`: typed, so
    /// an API adapter never writes query text (no quoting, no clause cap;
    /// at most [`crate::limits::MAX_FILTERS`]).
    pub filters: Vec<Filter>,
    /// Filters no hit satisfies, beside `-field:value` in `q`.
    pub excluded_filters: Vec<Filter>,
    pub sort: Sort,
    pub limit: usize,
    pub offset: usize,
    pub match_mode: MatchMode,
    /// The last word also matches as a prefix (search-as-you-type).
    pub prefix: bool,
    /// Overrides the configured meta weight (`0` = plain BM25).
    pub meta_weight: Option<f32>,
    /// Adds each hit's text, meta and final score.
    pub explain: bool,
    /// Typo tolerance on (the default).
    pub typos: bool,
    /// Compute facet counts (the default).
    pub with_facets: bool,
    /// Compute snippets and highlighted titles (the default).
    pub with_snippets: bool,
    /// Apply the synonym rules (the default).
    pub synonyms: bool,
    /// One post per duplicate group (`None`: every post).
    pub distinct: Option<Distinct>,
}

/// What makes posts duplicates of each other, for distinct results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Distinct {
    /// The same `hash`: reposted content.
    Hash,
}

impl std::str::FromStr for Distinct {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "hash" => Ok(Distinct::Hash),
            _ => Err(format!(
                "posts can be distinct by hash only, got {s:?} (distinct=hash)"
            )),
        }
    }
}

/// What the totals of a distinct search count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DistinctCounts {
    /// The field that makes posts duplicates.
    pub by: Distinct,
    /// The matching posts, copies included (`total` counts groups; the
    /// facet counts count posts).
    pub posts: u64,
}

impl Default for SearchRequest {
    fn default() -> Self {
        SearchRequest {
            q: String::new(),
            facets: BTreeMap::new(),
            filters: Vec::new(),
            excluded_filters: Vec::new(),
            sort: Sort::Relevance,
            limit: 10,
            offset: 0,
            match_mode: MatchMode::Auto,
            prefix: false,
            meta_weight: None,
            explain: false,
            typos: true,
            with_facets: true,
            with_snippets: true,
            synonyms: true,
            distinct: None,
        }
    }
}

impl SearchRequest {
    /// A default request for `q`.
    pub fn new(q: impl Into<String>) -> SearchRequest {
        SearchRequest {
            q: q.into(),
            ..SearchRequest::default()
        }
    }

    /// Adds a facet selection `field=value`.
    pub fn facet(mut self, field: &str, value: &str) -> SearchRequest {
        self.facets
            .entry(field.to_string())
            .or_default()
            .push(value.to_string());
        self
    }
}

/// The four score parts of a hit.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ScoreParts {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quality: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub freshness: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub depth: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clarity: Option<u64>,
}

/// How a hit's score was made (`explain`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Explain {
    /// BM25 over the text fields (1 for a query without words).
    pub text: f32,
    /// The meta score in [0, 1].
    pub meta: f32,
    /// The meta weight used.
    pub meta_weight: f32,
    /// `text × (1 + meta_weight × meta)`.
    pub final_score: f32,
}

/// One result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hit {
    pub id: String,
    /// The stored title, unchanged.
    pub title: String,
    /// The title HTML-escaped, matched words in `<mark>`.
    pub title_html: String,
    /// ~160 characters of the body around the best match, HTML-escaped,
    /// matched words in `<mark>`.
    pub snippet: String,
    /// The ranking score (the final blended score for `relevance`).
    pub score: f32,
    pub meta_score: f32,
    pub stack: Vec<String>,
    pub tools: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub difficulty: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code_language: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub view_count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_reviewed: Option<String>,
    pub score_parts: ScoreParts,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explain: Option<Explain>,
    /// With distinct results: the matching posts of this post's duplicate
    /// group, itself included (this post is the group's best-ranked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_size: Option<u64>,
}

/// Counts per value, per facet field (string facets by value, score facets
/// by bucket label such as `85-100`).
pub type FacetCounts = BTreeMap<String, BTreeMap<String, u64>>;

/// The answer to a search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchResponse {
    pub query: String,
    /// Matching posts (all of them, not only this page); with distinct
    /// results, duplicate groups.
    pub total: u64,
    /// With distinct results: what is counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distinct: Option<DistinctCounts>,
    pub took_ms: f64,
    /// True when an all-words query found nothing and any word was used.
    pub relaxed: bool,
    /// With `explain`: the synonyms the query also searched.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub synonyms: Vec<SynonymUse>,
    pub hits: Vec<Hit>,
    pub facets: FacetCounts,
}

/// Words of a query and the synonyms they were also searched as.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SynonymUse {
    /// The words as typed.
    pub typed: String,
    /// The forms also searched, each scored below the words typed.
    pub forms: Vec<String>,
}

/// A duration in milliseconds, to the microsecond: `took_ms` reads
/// `12.664`, not `12.663649000000001`.
pub fn millis(d: std::time::Duration) -> f64 {
    d.as_micros() as f64 / 1000.0
}
