//! Posts holding at least `n` of a few terms, scored by the sum of those
//! terms' BM25: the title-coverage bonus of long queries (see
//! `build::title_coverage`).
//!
//! tantivy's `BooleanQuery::with_minimum_required_clauses` finds such
//! posts with a heap that every posting of every term goes through, and
//! has no seek of its own: a seek goes through every posting before the
//! target. The bonus is an optional clause, only ever sought to the
//! matches a search scores, so that walk was most of its cost. [`AtLeast`]
//! seeks each term's postings to the target and skips, when fewer than `n`
//! terms are there, to the `n`-th lowest document the terms are on (no
//! post before it can hold `n` of them). The matches and their scores are
//! those of the `BooleanQuery` (tested; the sum may be taken in another
//! order, so its last bit may differ).

use crate::cursors::Cursors;
use tantivy::query::{EmptyScorer, EnableScoring, Explanation, Query, Scorer, TermQuery, Weight};
use tantivy::schema::IndexRecordOption;
use tantivy::{DocId, DocSet, Score, SegmentReader, TantivyError, Term, TERMINATED};

/// Posts holding at least `required` of `terms`.
#[derive(Debug, Clone)]
pub struct AtLeast {
    terms: Vec<Term>,
    required: usize,
}

impl AtLeast {
    /// Posts holding at least `required` (at least 1) of `terms`, each
    /// scored as a `TermQuery` with frequencies scores it.
    pub fn new(terms: Vec<Term>, required: usize) -> AtLeast {
        AtLeast {
            terms,
            required: required.max(1),
        }
    }
}

impl Query for AtLeast {
    fn weight(&self, scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        let weights = self
            .terms
            .iter()
            .map(|t| TermQuery::new(t.clone(), IndexRecordOption::WithFreqs).weight(scoring))
            .collect::<tantivy::Result<Vec<_>>>()?;
        Ok(Box::new(AtLeastWeight {
            weights,
            required: self.required,
        }))
    }

    fn query_terms<'a>(&'a self, visitor: &mut dyn FnMut(&'a Term, bool)) {
        for term in &self.terms {
            visitor(term, false);
        }
    }
}

struct AtLeastWeight {
    weights: Vec<Box<dyn Weight>>,
    required: usize,
}

impl AtLeastWeight {
    fn at_least_scorer(
        &self,
        reader: &SegmentReader,
        boost: Score,
    ) -> tantivy::Result<Option<AtLeastScorer>> {
        let mut terms = Vec::with_capacity(self.weights.len());
        for weight in &self.weights {
            let scorer = weight.scorer(reader, boost)?;
            if scorer.doc() != TERMINATED {
                terms.push(scorer);
            }
        }
        if terms.len() < self.required {
            return Ok(None);
        }
        let mut scorer = AtLeastScorer {
            terms: Cursors::new(terms),
            required: self.required,
            doc: 0,
            lowest: Vec::with_capacity(self.weights.len()),
        };
        scorer.find();
        Ok(Some(scorer))
    }
}

impl Weight for AtLeastWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        Ok(match self.at_least_scorer(reader, boost)? {
            Some(scorer) if scorer.doc() != TERMINATED => Box::new(scorer),
            _ => Box::new(EmptyScorer),
        })
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        let not_matching =
            || TantivyError::InvalidArgument(format!("Document #({doc}) does not match"));
        let mut scorer = self
            .at_least_scorer(reader, 1.0)?
            .ok_or_else(not_matching)?;
        if scorer.doc() > doc || scorer.seek(doc) != doc {
            return Err(not_matching());
        }
        let mut explanation = Explanation::new_with_string(
            format!("at least {} of the terms, sum of", self.required),
            scorer.score(),
        );
        for weight in &self.weights {
            if let Ok(child) = weight.explain(reader, doc) {
                explanation.add_detail(child);
            }
        }
        Ok(explanation)
    }
}

/// The scorer of [`AtLeast`]: each term's scorer and the document it is on.
struct AtLeastScorer {
    terms: Cursors<Box<dyn Scorer>>,
    required: usize,
    doc: DocId,
    /// Scratch: the terms' documents, sorted.
    lowest: Vec<DocId>,
}

impl AtLeastScorer {
    /// Settles on the first document, from where the terms are, that at
    /// least `required` of them are on.
    fn find(&mut self) -> DocId {
        loop {
            self.lowest.clear();
            self.lowest.extend_from_slice(&self.terms.docs);
            self.lowest.sort_unstable();
            // No document before the `required`-th lowest can hold enough.
            let candidate = self.lowest[self.required - 1];
            if candidate == TERMINATED || self.lowest[0] == candidate {
                self.doc = candidate;
                return candidate;
            }
            self.terms.seek_to(candidate);
        }
    }
}

impl DocSet for AtLeastScorer {
    fn advance(&mut self) -> DocId {
        self.terms.advance_from(self.doc);
        self.find()
    }

    fn seek(&mut self, target: DocId) -> DocId {
        if self.doc >= target {
            return self.doc;
        }
        self.terms.seek_to(target);
        self.find()
    }

    fn doc(&self) -> DocId {
        self.doc
    }

    fn size_hint(&self) -> u32 {
        self.terms
            .sets
            .iter()
            .map(|t| t.size_hint())
            .min()
            .unwrap_or(0)
    }
}

impl Scorer for AtLeastScorer {
    fn score(&mut self) -> Score {
        self.terms.score_on(self.doc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::every::matches;
    use postsearch_corpus::in_ram_index;
    use tantivy::query::{BooleanQuery, Occur};
    use tantivy::{DocAddress, Searcher};

    fn title_terms(searcher: &Searcher, words: &[&str]) -> Vec<Term> {
        let title = searcher.schema().get_field("title").unwrap();
        words
            .iter()
            .map(|w| Term::from_field_text(title, &postsearch_store::analysis::terms(w)[0]))
            .collect()
    }

    /// What `AtLeast` replaces.
    fn boolean(terms: &[Term], required: usize) -> BooleanQuery {
        let should = terms
            .iter()
            .map(|t| {
                let q: Box<dyn Query> =
                    Box::new(TermQuery::new(t.clone(), IndexRecordOption::WithFreqs));
                (Occur::Should, q)
            })
            .collect();
        BooleanQuery::with_minimum_required_clauses(should, required)
    }

    fn same(ours: &[(DocAddress, Score)], theirs: &[(DocAddress, Score)], what: &str) {
        assert_eq!(ours.len(), theirs.len(), "{what}");
        for ((da, sa), (db, sb)) in ours.iter().zip(theirs) {
            assert_eq!(da, db, "{what}");
            assert!((sa - sb).abs() < 1e-5 * sb.max(1.0), "{what}: {sa} vs {sb}");
        }
    }

    #[test]
    fn matches_and_scores_as_the_boolean_query_it_replaces() {
        let index = in_ram_index(37, 3, 200, |_, _| {});
        let searcher = index.searcher();
        let words = ["django", "cache", "how", "to", "the", "zzznothing"];
        let terms = title_terms(&searcher, &words);
        let mut some = 0;
        for required in 1..=4 {
            for n in [2, 4, 6] {
                let what = format!("{required} of {:?}", &words[..n]);
                let ours = matches(
                    &searcher,
                    &AtLeast::new(terms[..n].to_vec(), required),
                    None,
                );
                let theirs = matches(&searcher, &boolean(&terms[..n], required), None);
                same(&ours, &theirs, &what);
                some += ours.len();
            }
        }
        assert!(some > 0, "some titles hold the words");
    }

    #[test]
    fn seeks_land_where_the_boolean_querys_do() {
        let index = in_ram_index(41, 2, 300, |_, _| {});
        let searcher = index.searcher();
        let terms = title_terms(&searcher, &["how", "to", "the", "cache", "with"]);
        let scoring = EnableScoring::enabled_from_searcher(&searcher);
        for required in [2, 3] {
            let ours = AtLeast::new(terms.clone(), required)
                .weight(scoring)
                .unwrap();
            let theirs = boolean(&terms, required).weight(scoring).unwrap();
            for reader in searcher.segment_readers() {
                for step in [1, 7, 50] {
                    let mut a = ours.scorer(reader, 1.0).unwrap();
                    let mut b = theirs.scorer(reader, 1.0).unwrap();
                    let mut target = 0;
                    while target < reader.max_doc() {
                        let (da, db) = (a.seek(target.max(a.doc())), b.seek(target.max(b.doc())));
                        assert_eq!(da, db, "{required} of the terms, seek {target}");
                        if da != TERMINATED {
                            let (sa, sb) = (a.score(), b.score());
                            assert!((sa - sb).abs() < 1e-5 * sb.max(1.0), "{sa} vs {sb}");
                        }
                        target += step;
                    }
                }
            }
        }
    }
}
