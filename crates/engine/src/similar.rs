//! Similar posts: more-like-this over title, summary, topic and body, then
//! lifted by a shared problem, stack and tools and by the meta score. Never
//! the post itself, never an exact duplicate (same `hash`), and never two
//! results that duplicate each other.

use super::collector::SearchCollector;
use super::term_sum::TermSum;
use super::types::{Hit, Sort};
use super::{make_hit, Engine};
use postsearch_store::error::Result;
use postsearch_store::post::Post;
use rustc_hash::FxHashMap;
use serde::Serialize;
use std::ops::Bound;
use tantivy::collector::DocSetCollector;
use tantivy::columnar::StrColumn;
use tantivy::query::{Query, RangeQuery, TermQuery};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{DocId, Index, Score, Searcher, SegmentReader, Term};

/// Lift of a candidate sharing the source's problem.
const SAME_PROBLEM_LIFT: f32 = 0.5;
/// Lift per unit of stack overlap (Jaccard).
const STACK_LIFT: f32 = 0.3;
/// Lift per unit of tools overlap (Jaccard).
const TOOLS_LIFT: f32 = 0.2;
/// Terms of the source that a similar post is searched by.
const LIKE_TERMS: usize = 33;
/// Shortest term (in bytes, as indexed) worth searching by.
const LIKE_MIN_TERM_BYTES: usize = 3;
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
        let _busy = self.busy();
        let started = std::time::Instant::now();
        self.limits.check_limit(limit)?;
        let f = self.index().fields();
        let searcher = self.index().searcher();
        let texts = [
            (f.title, Some(post.title.as_str())),
            (f.summary, post.summary.as_deref()),
            (f.topic, post.topic.as_deref()),
            (f.body, post.body.as_deref()),
        ];
        let terms = like_terms(self.index().index(), &searcher, &texts)?;
        let like = TermSum::new(terms);
        // The source and its exact duplicates are never candidates. They
        // are skipped by the collector rather than excluded by the query:
        // an excluding query wraps the union of terms in a scorer called
        // through a vtable for every match.
        let mut not: Vec<Box<dyn Query>> = Vec::new();
        if let Some(id) = id {
            not.push(term_query(Term::from_field_text(f.id, id)));
        }
        if let Some(hash) = &post.hash {
            // `hash` is a column (not in the term index of new indexes):
            // its posts are found by the column's dictionary.
            let hash = Term::from_field_text(f.hash, hash);
            not.push(Box::new(RangeQuery::new(
                Bound::Included(hash.clone()),
                Bound::Included(hash),
            )));
        }
        // Each searched on its own: a union of the id's term and the hash's
        // column range found none of the posts that each finds alone
        // (tantivy 0.27; see the test similar_posts_are_not_crowded_out_by_copies_of_the_source).
        let mut excluded = Vec::new();
        for q in &not {
            excluded.extend(searcher.search(q.as_ref(), &DocSetCollector)?);
        }
        let k = (limit * CANDIDATES_PER_RESULT).max(50);
        let collector = SearchCollector {
            columns: self.columns().for_searcher(&searcher)?,
            k,
            sort: Sort::Relevance,
            meta_weight: self.ranking().meta_weight as f32,
            ranking: self.ranking().clone(),
            with_facets: false,
            selections: Vec::new(),
            excluded,
            top_only: true,
            distinct: None,
            floor: Default::default(),
        };
        let collected = self.collect(&searcher, &like, &collector)?;
        let source = Source {
            id: id.map(str::to_string),
            hash: post.hash.clone(),
            problem: post.problem().map(postsearch_store::values::facet_value),
            stack: norm(&post.stack),
            tools: norm(&post.tools),
        };
        // The source's facet values as term ordinals, per segment, so that
        // candidates are compared by integer, not by string.
        let mut per_segment: Vec<Option<SegmentFacts>> = Vec::new();
        let mut ranked = collected.top;
        for c in &mut ranked {
            let seg = c.address.segment_ord as usize;
            if per_segment.len() <= seg {
                per_segment.resize_with(seg + 1, || None);
            }
            if per_segment[seg].is_none() {
                per_segment[seg] = Some(SegmentFacts::open(
                    searcher.segment_reader(seg as u32),
                    &source,
                )?);
            }
            let facts = per_segment[seg].as_ref().expect("opened");
            c.key = (c.key as f32 * facts.lift(c.address.doc_id)) as f64;
        }
        // Ties are ordered by id, so the answer does not depend on which
        // segment a post landed in (ids are read only for ties: each id
        // lookup decompresses a block of the id dictionary).
        collector.rank(&mut ranked)?;
        // Read posts in rank order until enough distinct ones are found; a
        // post with a hash already shown (or the source's) is a duplicate.
        let mut seen_hashes: Vec<String> = source.hash.iter().cloned().collect();
        let mut hits = Vec::with_capacity(limit);
        for c in &ranked {
            if hits.len() >= limit {
                break;
            }
            let post = self.index().post_at(&searcher, c.address)?;
            if source.id.as_deref() == Some(post.id.as_str()) {
                continue;
            }
            if let Some(h) = &post.hash {
                if seen_hashes.contains(h) {
                    continue;
                }
                seen_hashes.push(h.clone());
            }
            hits.push(make_hit(post, c, c.key as f32, None, None));
        }
        Ok(SimilarResponse {
            id: source.id,
            took_ms: crate::types::millis(started.elapsed()),
            hits,
        })
    }
}

/// The terms a post is most like, more-like-this style: each word of its
/// texts as indexed in its field (of at least [`LIKE_MIN_TERM_BYTES`]), in
/// at most half of the posts, scored by its count in the texts times its
/// BM25 IDF; the best [`LIKE_TERMS`] (ties by term), each weighted by its
/// score over the best one's.
fn like_terms(
    index: &Index,
    searcher: &Searcher,
    texts: &[(Field, Option<&str>)],
) -> Result<Vec<(Term, Score)>> {
    let mut counts: FxHashMap<Term, u32> = FxHashMap::default();
    for &(field, text) in texts {
        let Some(text) = text else { continue };
        let mut analyzer = index.tokenizer_for_field(field)?;
        let mut tokens = analyzer.token_stream(text);
        while tokens.advance() {
            let word = &tokens.token().text;
            if word.len() >= LIKE_MIN_TERM_BYTES {
                *counts
                    .entry(Term::from_field_text(field, word))
                    .or_default() += 1;
            }
        }
    }
    let segments = searcher.segment_readers();
    let num_docs: u64 = segments.iter().map(|s| s.num_docs() as u64).sum();
    let max_df = (num_docs / 2).max(2);
    // Weighing a post's few hundred words costs a dictionary lookup per
    // word and segment; posts share most of their words, and the entries
    // are remembered (see `term_infos`).
    let counts: Vec<(Term, u32)> = counts.into_iter().collect();
    let terms: Vec<&Term> = counts.iter().map(|(t, _)| t).collect();
    let dfs = crate::term_infos::doc_freqs(searcher, &terms)?;
    let mut scored = Vec::with_capacity(counts.len());
    for ((term, count), df) in counts.into_iter().zip(dfs) {
        if df == 0 || df > max_df {
            continue;
        }
        scored.push((count as Score * bm25_idf(df, num_docs.max(df)), term));
    }
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    scored.truncate(LIKE_TERMS);
    let best = scored.first().map_or(1.0, |(s, _)| *s);
    Ok(scored.into_iter().map(|(s, t)| (t, s / best)).collect())
}

/// BM25's inverse document frequency (tantivy's formula).
fn bm25_idf(doc_freq: u64, num_docs: u64) -> Score {
    let x = ((num_docs - doc_freq) as Score + 0.5) / (doc_freq as Score + 0.5);
    (1.0 + x).ln()
}

fn term_query(term: Term) -> Box<dyn Query> {
    Box::new(TermQuery::new(term, IndexRecordOption::Basic))
}

fn norm(values: &Option<Vec<String>>) -> Vec<String> {
    values
        .iter()
        .flatten()
        .map(|v| postsearch_store::values::facet_value(v))
        .collect()
}

/// The source's problem, stack and tools as term ordinals of one segment.
struct SegmentFacts {
    problem: Option<(StrColumn, u64)>,
    stack: Option<(StrColumn, Vec<u64>)>,
    tools: Option<(StrColumn, Vec<u64>)>,
    /// Sizes of the source's stack and tools lists (for Jaccard).
    stack_len: usize,
    tools_len: usize,
}

impl SegmentFacts {
    fn open(segment: &SegmentReader, source: &Source) -> Result<SegmentFacts> {
        let ff = segment.fast_fields();
        let ords = |name: &str, values: &[String]| -> Result<Option<(StrColumn, Vec<u64>)>> {
            let Some(col) = ff.str(name)? else {
                return Ok(None);
            };
            let mut ords = Vec::new();
            for v in values {
                if let Some(o) = col.dictionary().term_ord(v.as_bytes())? {
                    ords.push(o);
                }
            }
            Ok(Some((col, ords)))
        };
        let problem = match &source.problem {
            Some(p) => ords("problem", std::slice::from_ref(p))?
                .and_then(|(col, o)| o.first().copied().map(|o| (col, o))),
            None => None,
        };
        Ok(SegmentFacts {
            problem,
            stack: ords("stack", &source.stack)?,
            tools: ords("tools", &source.tools)?,
            stack_len: source.stack.len(),
            tools_len: source.tools.len(),
        })
    }

    /// The lift of a candidate: shared problem, stack and tools overlap.
    fn lift(&self, doc: DocId) -> f32 {
        let mut lift = 1.0;
        if let Some((col, ord)) = &self.problem {
            if col.term_ords(doc).any(|o| o == *ord) {
                lift += SAME_PROBLEM_LIFT;
            }
        }
        let overlap = |side: &Option<(StrColumn, Vec<u64>)>, len: usize| -> f32 {
            let Some((col, ords)) = side else { return 0.0 };
            let mut theirs = 0;
            let mut shared = 0;
            for o in col.term_ords(doc) {
                theirs += 1;
                if ords.contains(&o) {
                    shared += 1;
                }
            }
            jaccard(shared, len, theirs)
        };
        lift + STACK_LIFT * overlap(&self.stack, self.stack_len)
            + TOOLS_LIFT * overlap(&self.tools, self.tools_len)
    }
}

/// |a ∩ b| / |a ∪ b| from the sizes, 0 for two empty sets.
fn jaccard(shared: usize, a: usize, b: usize) -> f32 {
    let union = a + b - shared;
    if union == 0 {
        0.0
    } else {
        shared as f32 / union as f32
    }
}

#[cfg(test)]
mod tests {
    use super::jaccard;

    #[test]
    fn jaccard_overlap() {
        assert_eq!(jaccard(1, 2, 2), 1.0 / 3.0);
        assert_eq!(jaccard(0, 0, 0), 0.0);
    }
}
