//! Completions for a search box: frequent words that complete the last word
//! typed, and titles of posts matching the query so far. Cheap enough to
//! call on every keystroke: each segment's most frequent completions (see
//! [`postsearch_store::prefixes`]) and one small search.

use super::build::Expanded;
use super::types::{MatchMode, SearchRequest};
use super::Engine;
use postsearch_store::analysis::{tokens, words_analyzer};
use postsearch_store::error::Result;
use serde::Serialize;

/// Completing words kept per prefix (a request asks for at most 20).
const MAX_WORDS: usize = 20;

/// One completion.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Suggestion {
    /// The completed query text (or the post title).
    pub text: String,
    /// `term` or `title`.
    pub kind: &'static str,
    /// The HTML-escaped text with the typed part in `<mark>`.
    pub html: String,
    /// For a term: posts containing it. For a title: the post's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// The answer of a suggest call.
#[derive(Debug, Clone, Serialize)]
pub struct SuggestResponse {
    pub query: String,
    pub took_ms: f64,
    pub suggestions: Vec<Suggestion>,
}

impl Engine {
    /// Up to `limit` term completions and `limit` titles for what is typed.
    pub fn suggest(&self, q: &str, limit: usize) -> Result<SuggestResponse> {
        let _busy = self.busy();
        let started = std::time::Instant::now();
        self.limits.check_query(q)?;
        let limit = limit.clamp(1, 20);
        let mut suggestions = Vec::new();
        let words: Vec<String> = tokens(&mut words_analyzer(), q)
            .into_iter()
            .map(|(t, _, _)| t)
            .collect();
        let ends_in_space = q.ends_with(char::is_whitespace);
        if let Some(last) = words.last().filter(|_| !ends_in_space) {
            let head = words[..words.len() - 1].join(" ");
            for (term, count) in self.complete_term(last, limit)? {
                let text = if head.is_empty() {
                    term.clone()
                } else {
                    format!("{head} {term}")
                };
                let typed = super::snippet::escape(&text[..text.len() - term.len() + last.len()]);
                let rest = super::snippet::escape(&text[text.len() - term.len() + last.len()..]);
                suggestions.push(Suggestion {
                    html: format!("<mark>{typed}</mark>{rest}"),
                    text,
                    kind: "term",
                    count: Some(count),
                    id: None,
                });
            }
        }
        if !words.is_empty() {
            let req = SearchRequest {
                q: q.chars().take(super::MAX_QUERY_BYTES / 4).collect(),
                limit,
                prefix: !ends_in_space,
                match_mode: MatchMode::All,
                with_facets: false,
                // Only titles are shown: mark them here rather than have
                // the search cut a body snippet per hit.
                with_snippets: false,
                ..SearchRequest::default()
            };
            // Title suggestions match the words typed in titles only:
            // cheaper than searching every field, and a suggested title
            // then visibly holds what was typed.
            self.limits.check(&req)?;
            let mut parsed = super::query::parse(&req.q)
                .map_err(|e| postsearch_store::error::Error::bad_request("q", e.0))?;
            self.limits.check_parsed(&parsed)?;
            for clause in &mut parsed.clauses {
                clause.field.get_or_insert_with(|| "title".to_string());
            }
            let found = self.run_parsed(&req, parsed, false)?;
            let mut highlighter = super::snippet::Highlighter::new(&found.terms);
            for hit in found.response.hits {
                // Posts can share a title; it is suggested once.
                if suggestions
                    .iter()
                    .any(|s| s.kind == "title" && s.text == hit.title)
                {
                    continue;
                }
                suggestions.push(Suggestion {
                    html: highlighter.highlight(&hit.title),
                    text: hit.title,
                    kind: "title",
                    count: None,
                    id: Some(hit.id),
                });
            }
        }
        Ok(SuggestResponse {
            query: q.to_string(),
            took_ms: crate::types::millis(started.elapsed()),
            suggestions,
        })
    }

    /// Words of the posts starting with `prefix`, most frequent first.
    fn complete_term(&self, prefix: &str, limit: usize) -> Result<Vec<(String, u64)>> {
        let searcher = self.index().searcher();
        let generation = searcher.generation().generation_id();
        let key = (Expanded::Words, prefix.to_string());
        let mut found = self.expansions().get_or(generation, key, || {
            let mut found: std::collections::HashMap<String, u64> = Default::default();
            for (word, count) in self.expansions().completing_words(&searcher, prefix)? {
                *found.entry(word).or_default() += count;
            }
            let mut found: Vec<(String, u64)> = found.into_iter().collect();
            found.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            found.truncate(MAX_WORDS);
            Ok(found)
        })?;
        found.truncate(limit);
        Ok(found)
    }
}
