//! A weighted sum of terms, scored a term at a time.
//!
//! A more-like-this query is a union of some thirty terms that, together,
//! match most posts of the index. tantivy's union scores such a union a
//! window of 4,096 documents at a time: it merges every term's postings
//! into the window, then walks the window document by document, each step
//! a call through the union. [`TermSum`] instead adds each term's scores
//! straight into one array over the segment's documents, reading the term's
//! postings block by block, then reads the array once. Matches and scores
//! are those of a `BooleanQuery` of `BoostQuery(TermQuery(term, Basic),
//! weight)` clauses (tested), which still answers explanations, counts and
//! scorers.

use tantivy::fieldnorm::FieldNormReader;
use tantivy::query::{
    Bm25Weight, BooleanQuery, BoostQuery, EnableScoring, Explanation, Occur, Query, Scorer,
    TermQuery, Weight,
};
use tantivy::schema::IndexRecordOption;
use tantivy::{DocId, Score, SegmentReader, Term};

/// The sum of `weight × BM25(term)` over terms, each counted once per
/// document (term frequency 1, as a `Basic` term query scores).
#[derive(Clone, Debug)]
pub struct TermSum {
    terms: Vec<(Term, Score)>,
}

impl TermSum {
    /// The sum of the terms with their weights. Weights must be positive:
    /// a document matches when its sum is.
    pub fn new(terms: Vec<(Term, Score)>) -> TermSum {
        assert!(
            terms.iter().all(|(_, w)| *w > 0.0),
            "term weights are positive"
        );
        TermSum { terms }
    }

    /// The same query as tantivy clauses.
    fn boolean(&self) -> BooleanQuery {
        BooleanQuery::new(
            self.terms
                .iter()
                .map(|(term, weight)| {
                    let term: Box<dyn Query> =
                        Box::new(TermQuery::new(term.clone(), IndexRecordOption::Basic));
                    let clause: Box<dyn Query> = Box::new(BoostQuery::new(term, *weight));
                    (Occur::Should, clause)
                })
                .collect(),
        )
    }
}

impl Query for TermSum {
    fn weight(&self, scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        let inner = self.boolean().weight(scoring)?;
        let bm25 = match scoring {
            EnableScoring::Enabled {
                statistics_provider,
                ..
            } => {
                let mut weights = Vec::with_capacity(self.terms.len());
                for (term, weight) in &self.terms {
                    let bm25 =
                        Bm25Weight::for_terms(statistics_provider, std::slice::from_ref(term))?;
                    weights.push(bm25.boost_by(*weight));
                }
                Some(weights)
            }
            EnableScoring::Disabled { .. } => None,
        };
        Ok(Box::new(TermSumWeight {
            terms: self.terms.iter().map(|(t, _)| t.clone()).collect(),
            bm25,
            inner,
        }))
    }

    fn query_terms<'a>(&'a self, visitor: &mut dyn FnMut(&'a Term, bool)) {
        for (term, _) in &self.terms {
            visitor(term, false);
        }
    }
}

struct TermSumWeight {
    terms: Vec<Term>,
    /// Each term's scoring, its weight included; `None` without scoring.
    bm25: Option<Vec<Bm25Weight>>,
    /// The same query as tantivy's union, for everything but `for_each`.
    inner: Box<dyn Weight>,
}

impl TermSumWeight {
    /// The summed score of every document of the segment, 0 where no term
    /// matches.
    fn scores(&self, reader: &SegmentReader, bm25: &[Bm25Weight]) -> tantivy::Result<Vec<Score>> {
        let mut sums = vec![0.0 as Score; reader.max_doc() as usize];
        for (term, weight) in self.terms.iter().zip(bm25) {
            let field = term.field();
            let inverted = reader.inverted_index(field)?;
            let Some(info) = inverted.get_term_info(term)? else {
                continue;
            };
            let fieldnorms = reader
                .fieldnorms_readers()
                .get_field(field)?
                .unwrap_or_else(|| FieldNormReader::constant(reader.max_doc(), 1));
            // The term's score by field norm: a posting's score is a load.
            let mut by_norm = [0.0 as Score; 256];
            for (id, score) in by_norm.iter_mut().enumerate() {
                *score = weight.score(id as u8, 1);
            }
            let mut block =
                inverted.read_block_postings_from_terminfo(&info, IndexRecordOption::Basic)?;
            loop {
                let docs = block.docs();
                if docs.is_empty() {
                    break;
                }
                for &doc in docs {
                    sums[doc as usize] += by_norm[fieldnorms.fieldnorm_id(doc) as usize];
                }
                block.advance();
            }
        }
        Ok(sums)
    }
}

impl Weight for TermSumWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        self.inner.scorer(reader, boost)
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        self.inner.explain(reader, doc)
    }

    fn count(&self, reader: &SegmentReader) -> tantivy::Result<u32> {
        self.inner.count(reader)
    }

    fn for_each(
        &self,
        reader: &SegmentReader,
        callback: &mut dyn FnMut(DocId, Score),
    ) -> tantivy::Result<()> {
        let Some(bm25) = &self.bm25 else {
            return self.inner.for_each(reader, callback);
        };
        let sums = self.scores(reader, bm25)?;
        for (doc, &score) in sums.iter().enumerate() {
            if score > 0.0 {
                callback(doc as DocId, score);
            }
        }
        Ok(())
    }

    fn for_each_pruning(
        &self,
        mut threshold: Score,
        reader: &SegmentReader,
        callback: &mut dyn FnMut(DocId, Score) -> Score,
    ) -> tantivy::Result<()> {
        let Some(bm25) = &self.bm25 else {
            return self.inner.for_each_pruning(threshold, reader, callback);
        };
        let sums = self.scores(reader, bm25)?;
        for (doc, &score) in sums.iter().enumerate() {
            if score > threshold {
                threshold = callback(doc as DocId, score);
            }
        }
        Ok(())
    }

    fn for_each_no_score(
        &self,
        reader: &SegmentReader,
        callback: &mut dyn FnMut(&[DocId]),
    ) -> tantivy::Result<()> {
        self.inner.for_each_no_score(reader, callback)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::every::matches;
    use postsearch_corpus::in_ram_index;
    use tantivy::DocAddress;

    #[test]
    fn matches_and_scores_are_those_of_tantivys_union() {
        let index = in_ram_index(17, 3, 120, |_, _| {});
        let searcher = index.searcher();
        let schema = searcher.schema();
        let term =
            |field: &str, text: &str| Term::from_field_text(schema.get_field(field).unwrap(), text);
        let (mut compared, mut pruned_away) = (0, 0);
        for terms in [
            vec![(term("body", "test"), 1.0)],
            vec![
                (term("body", "cach"), 1.0),
                (term("title", "cach"), 0.5),
                (term("body", "deploy"), 0.25),
            ],
            vec![
                (term("body", "the"), 0.1),
                (term("summary", "servic"), 2.0),
                (term("body", "nosuchword"), 1.0),
            ],
            vec![(term("body", "nosuchword"), 1.0)],
            vec![],
        ] {
            let ours = TermSum::new(terms.clone());
            let expected = matches(&searcher, &ours.boolean(), None);
            let got = matches(&searcher, &ours, None);
            let docs = |m: &[(DocAddress, Score)]| m.iter().map(|h| h.0).collect::<Vec<_>>();
            assert_eq!(docs(&got), docs(&expected), "{terms:?}");
            for (g, e) in got.iter().zip(&expected) {
                // The same terms' scores, perhaps added in another order.
                assert!(
                    (g.1 - e.1).abs() <= e.1 * 1e-6,
                    "{terms:?}: {} vs {}",
                    g.1,
                    e.1
                );
            }
            compared += got.len();
            // Pruning passes a segment's first match (the threshold starts
            // at 0), then exactly the matches over the threshold: here the
            // median score, so about half the matches go (the score of the
            // match in the middle by address, as before, depended on how the
            // indexing threads split the posts: from 71 to 667 of 836 went).
            let mut scores: Vec<Score> = expected.iter().map(|h| h.1).collect();
            scores.sort_by(f32::total_cmp);
            if let Some(&median) = scores.get(scores.len() / 2) {
                let pruned = matches(&searcher, &ours, Some(median));
                let mut wanted = Vec::new();
                for (i, h) in got.iter().enumerate() {
                    let first = i == 0 || got[i - 1].0.segment_ord != h.0.segment_ord;
                    if first || h.1 > median {
                        wanted.push(h.0);
                    }
                }
                assert_eq!(docs(&pruned), wanted, "{terms:?}");
                pruned_away += got.len() - wanted.len();
            }
            // Explanations and counts are tantivy's.
            let weight = ours
                .weight(EnableScoring::enabled_from_searcher(&searcher))
                .unwrap();
            for &(address, score) in got.iter().take(3) {
                let reader = searcher.segment_reader(address.segment_ord);
                let explained = weight.explain(reader, address.doc_id).unwrap().value();
                assert!((explained - score).abs() <= score * 1e-6);
            }
            let counted: u32 = searcher
                .segment_readers()
                .iter()
                .map(|r| weight.count(r).unwrap())
                .sum();
            assert_eq!(counted as usize, got.len());
        }
        assert!(compared > 300, "{compared} matches compared");
        assert!(
            pruned_away * 3 > compared,
            "{pruned_away} of {compared} matches pruned"
        );
    }
}
