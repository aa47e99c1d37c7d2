//! Similar posts: more-like-this over title, summary, topic and body, then
//! lifted by a shared problem, stack and tools and by the meta score. Never
//! the post itself, never an exact duplicate (same `hash`), and never two
//! results that duplicate each other.

use super::collector::{Candidate, SearchCollector};
use super::types::{Hit, Sort};
use super::{make_hit, Engine};
use crate::error::{Error, Result};
use crate::post::Post;
use serde::Serialize;
use tantivy::query::{BooleanQuery, MoreLikeThisQuery, Occur, Query, TermQuery};
use tantivy::schema::{IndexRecordOption, OwnedValue};
use tantivy::{DocAddress, Searcher, Term};

/// Lift of a candidate sharing the source's problem.
const SAME_PROBLEM_LIFT: f32 = 0.5;
/// Lift per unit of stack overlap (Jaccard).
const STACK_LIFT: f32 = 0.3;
/// Lift per unit of tools overlap (Jaccard).
const TOOLS_LIFT: f32 = 0.2;
/// Candidates re-ranked per result asked for.
const CANDIDATES_PER_RESULT: usize = 5;

/// The answer of a similar-posts query.
#[derive(Debug, Clone, Serialize)]
pub struct SimilarResponse {
    /// The post the results are similar to (absent for free text).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub took_ms: f64,
    pub hits: Vec<Hit>,
}

/// What the results are compared with.
struct Source {
    id: Option<String>,
    hash: Option<String>,
    problem: Option<String>,
    stack: Vec<String>,
    tools: Vec<String>,
}

impl Engine {
    /// The posts most similar to post `id`.
    pub fn similar(&self, id: &str, limit: usize) -> Result<SimilarResponse> {
        let post = self.post(id)?;
        self.similar_to(&post, Some(id), limit)
    }

    /// The posts most similar to a draft that is not in the index.
    pub fn similar_to_text(
        &self,
        title: &str,
        body: &str,
        limit: usize,
    ) -> Result<SimilarResponse> {
        let mut post = Post::new("", title);
        post.body = Some(body.to_string());
        self.similar_to(&post, None, limit)
    }

    fn similar_to(&self, post: &Post, id: Option<&str>, limit: usize) -> Result<SimilarResponse> {
        let started = std::time::Instant::now();
        if limit > super::MAX_LIMIT {
            return Err(Error::bad_request(
                "limit",
                format!("limit must be at most {}, got {limit}", super::MAX_LIMIT),
            ));
        }
        let f = self.index().fields();
        let text = |s: &Option<String>| vec![OwnedValue::Str(s.clone().unwrap_or_default())];
        let doc_fields = vec![
            (f.title, vec![OwnedValue::Str(post.title.clone())]),
            (f.summary, text(&post.summary)),
            (f.topic, text(&post.topic)),
            (f.body, text(&post.body)),
        ];
        let searcher = self.index().searcher();
        let max_df = (searcher.num_docs() / 2).max(2);
        let mlt = MoreLikeThisQuery::builder()
            .with_min_doc_frequency(1)
            .with_max_doc_frequency(max_df)
            .with_min_term_frequency(1)
            .with_min_word_length(3)
            .with_max_query_terms(32)
            .with_boost_factor(1.0)
            .with_document_fields(doc_fields);
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, Box::new(mlt))];
        if let Some(id) = id {
            clauses.push((Occur::MustNot, term_query(Term::from_field_text(f.id, id))));
        }
        if let Some(hash) = &post.hash {
            clauses.push((
                Occur::MustNot,
                term_query(Term::from_field_text(f.hash, hash)),
            ));
        }
        let query = BooleanQuery::new(clauses);
        let k = (limit * CANDIDATES_PER_RESULT).max(50);
        let collector = SearchCollector {
            k,
            sort: Sort::Relevance,
            meta_weight: self.ranking().meta_weight as f32,
            ranking: self.ranking().clone(),
            with_facets: false,
            selections: Vec::new(),
        };
        let collected = searcher.search(&query, &collector)?;
        let source = Source {
            id: id.map(str::to_string),
            hash: post.hash.clone(),
            problem: post.problem().map(crate::indexer::facet_value),
            stack: norm(&post.stack),
            tools: norm(&post.tools),
        };
        let mut ranked: Vec<(f32, Candidate)> = Vec::with_capacity(collected.top.len());
        let mut hashes = Vec::new();
        for c in collected.top {
            let other = facts(&searcher, c.address)?;
            let lift =
                1.0 + if source.problem.is_some() && other.problem == source.problem {
                    SAME_PROBLEM_LIFT
                } else {
                    0.0
                } + STACK_LIFT * jaccard(&source.stack, &other.stack)
                    + TOOLS_LIFT * jaccard(&source.tools, &other.tools);
            if Some(&c.id) == source.id.as_ref() {
                continue;
            }
            ranked.push((c.key as f32 * lift, c));
            hashes.push(other.hash);
        }
        let mut order: Vec<usize> = (0..ranked.len()).collect();
        order.sort_by(|&a, &b| {
            ranked[b]
                .0
                .total_cmp(&ranked[a].0)
                .then_with(|| ranked[a].1.id.cmp(&ranked[b].1.id))
        });
        let mut seen_hashes: Vec<String> = source.hash.iter().cloned().collect();
        let mut hits = Vec::with_capacity(limit);
        for i in order {
            if hits.len() >= limit {
                break;
            }
            if let Some(h) = &hashes[i] {
                if seen_hashes.contains(h) {
                    continue;
                }
                seen_hashes.push(h.clone());
            }
            let (score, c) = &ranked[i];
            let post = self.index().post_at(&searcher, c.address)?;
            hits.push(make_hit(post, c, *score, None, None));
        }
        Ok(SimilarResponse {
            id: source.id,
            took_ms: started.elapsed().as_secs_f64() * 1000.0,
            hits,
        })
    }
}

fn term_query(term: Term) -> Box<dyn Query> {
    Box::new(TermQuery::new(term, IndexRecordOption::Basic))
}

fn norm(values: &Option<Vec<String>>) -> Vec<String> {
    values
        .iter()
        .flatten()
        .map(|v| crate::indexer::facet_value(v))
        .collect()
}

/// The facet values of a candidate, read from the fast fields (no stored
/// document needed).
struct Facts {
    problem: Option<String>,
    hash: Option<String>,
    stack: Vec<String>,
    tools: Vec<String>,
}

fn facts(searcher: &Searcher, address: DocAddress) -> Result<Facts> {
    let segment = searcher.segment_reader(address.segment_ord);
    let ff = segment.fast_fields();
    let values = |name: &str| -> Result<Vec<String>> {
        let Some(col) = ff.str(name)? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for ord in col.term_ords(address.doc_id) {
            let mut s = String::new();
            if col.ord_to_str(ord, &mut s)? {
                out.push(s);
            }
        }
        Ok(out)
    };
    Ok(Facts {
        problem: values("problem")?.into_iter().next(),
        hash: values("hash")?.into_iter().next(),
        stack: values("stack")?,
        tools: values("tools")?,
    })
}

/// |a ∩ b| / |a ∪ b|, 0 for two empty sets.
fn jaccard(a: &[String], b: &[String]) -> f32 {
    let inter = a.iter().filter(|x| b.contains(x)).count();
    let union = a.len() + b.len() - inter;
    if union == 0 {
        0.0
    } else {
        inter as f32 / union as f32
    }
}

#[cfg(test)]
mod tests {
    use super::jaccard;

    #[test]
    fn jaccard_overlap() {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(jaccard(&v(&["a", "b"]), &v(&["b", "c"])), 1.0 / 3.0);
        assert_eq!(jaccard(&[], &[]), 0.0);
    }
}
