//! A word searched in several fields, inside an all-words query.
//!
//! A query word is a union of one term per text field (and per typo or
//! completion). tantivy's union scorer fills a window of 4,096 documents at
//! a time, scoring every posting of every field in it; when the union is
//! one side of an intersection, each seek past the window refills it, so a
//! two-word query scores nearly every posting of both words even when few
//! posts have both. [`Union`] moves its fields' postings only as far as it
//! is asked and scores only the documents it stops on. A word's score is
//! the same sum, taken in the same order, as tantivy's union gives (tested);
//! across the words of a query the sum may be taken in another order (the
//! last bit of a score may differ).
//!
//! [`Union::windowed`] is the union of a word's alternatives (its typo
//! variants, a prefix's completions) read in full: it fills windows as
//! tantivy's union does, each child's postings read field by field (see
//! `window_union.rs`).

use crate::combined::CombinedScorer;
use crate::cursors::Cursors;
use crate::window_union::WindowUnionScorer;
use tantivy::query::{EmptyScorer, EnableScoring, Explanation, Query, Scorer, Weight};
use tantivy::{DocId, DocSet, Score, SegmentReader, TantivyError, Term, TERMINATED};

/// Documents matching any of the clauses, scored by the sum of the
/// matching clauses' scores.
#[derive(Debug)]
pub struct Union {
    clauses: Vec<Box<dyn Query>>,
    /// Read a window at a time, not lazily.
    windowed: bool,
}

impl Union {
    /// The union of `clauses`, moved only as far as it is asked.
    pub fn new(clauses: Vec<Box<dyn Query>>) -> Union {
        Union {
            clauses,
            windowed: false,
        }
    }

    /// The union of `clauses`, read a window at a time as tantivy's union
    /// is (`BooleanQuery::union`: the same matches, scores, size estimate
    /// and cost), each BM25F term's postings field by field.
    pub fn windowed(clauses: Vec<Box<dyn Query>>) -> Union {
        Union {
            clauses,
            windowed: true,
        }
    }
}

impl Clone for Union {
    fn clone(&self) -> Union {
        Union {
            clauses: self.clauses.iter().map(|c| c.box_clone()).collect(),
            windowed: self.windowed,
        }
    }
}

impl Query for Union {
    fn weight(&self, scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        let weights = self
            .clauses
            .iter()
            .map(|c| c.weight(scoring))
            .collect::<tantivy::Result<Vec<_>>>()?;
        Ok(Box::new(UnionWeight {
            weights,
            scoring: scoring.is_scoring_enabled(),
            windowed: self.windowed,
        }))
    }

    fn query_terms<'a>(&'a self, visitor: &mut dyn FnMut(&'a Term, bool)) {
        for clause in &self.clauses {
            clause.query_terms(visitor);
        }
    }
}

struct UnionWeight {
    weights: Vec<Box<dyn Weight>>,
    scoring: bool,
    windowed: bool,
}

impl Weight for UnionWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        let mut children = Vec::with_capacity(self.weights.len());
        for weight in &self.weights {
            let child = weight.scorer(reader, boost)?;
            if child.doc() != TERMINATED {
                children.push(child);
            }
        }
        if self.windowed && children.len() == 1 {
            // As tantivy's union: a lone child is its own scorer.
            return Ok(children.pop().expect("one"));
        }
        // Unless windowed, one child is still wrapped: an intersection of
        // bare term scorers would take tantivy's term-intersection path,
        // which expects the scorers its own weights make. Windowed over
        // other clauses than BM25F terms (a phrase), or without scores:
        // the children a document at a time, scored in the same order.
        let words = children.iter().all(|c| c.is::<CombinedScorer>());
        Ok(match children.len() {
            0 => Box::new(EmptyScorer),
            _ if self.windowed && self.scoring && words => {
                Box::new(WindowUnionScorer::new(children, reader.num_docs()))
            }
            _ => Box::new(UnionScorer::new(children)),
        })
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        let mut scorer = self.scorer(reader, 1.0)?;
        if scorer.doc() > doc || scorer.seek(doc) != doc {
            return Err(TantivyError::InvalidArgument(format!(
                "Document #({doc}) does not match"
            )));
        }
        if !self.scoring {
            return Ok(Explanation::new("Union with no scoring", 1.0));
        }
        let mut explanation = Explanation::new("Union. sum of ...", scorer.score());
        for weight in &self.weights {
            if let Ok(child) = weight.explain(reader, doc) {
                explanation.add_detail(child);
            }
        }
        Ok(explanation)
    }
}

/// The scorer of [`Union`]: the lowest document of its children (each
/// child's document kept beside it: see [`Cursors`]).
pub(crate) struct UnionScorer {
    /// Children not yet exhausted when the scorer was made, in clause order.
    children: Cursors<Box<dyn Scorer>>,
    doc: DocId,
}

impl UnionScorer {
    pub(crate) fn new(children: Vec<Box<dyn Scorer>>) -> UnionScorer {
        let children = Cursors::new(children);
        let doc = children.lowest();
        UnionScorer { children, doc }
    }
}

impl DocSet for UnionScorer {
    fn advance(&mut self) -> DocId {
        self.doc = self.children.advance_from(self.doc);
        self.doc
    }

    fn seek(&mut self, target: DocId) -> DocId {
        if self.doc < target {
            self.doc = self.children.seek_to(target);
        }
        self.doc
    }

    fn doc(&self) -> DocId {
        self.doc
    }

    fn size_hint(&self) -> u32 {
        self.children
            .sets
            .iter()
            .map(|c| c.size_hint())
            .max()
            .unwrap_or(0)
    }

    fn cost(&self) -> u64 {
        self.children.sets.iter().map(|c| c.cost()).sum()
    }
}

impl Scorer for UnionScorer {
    fn score(&mut self) -> Score {
        self.children.score_on(self.doc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use postsearch_corpus::in_ram_index;
    use tantivy::query::{BooleanQuery, BoostQuery, Occur, TermQuery};
    use tantivy::schema::IndexRecordOption;
    use tantivy::{DocAddress, Searcher};

    /// Every match of a query with its score's bits, visited as a search
    /// visits them (`Weight::for_each`, no pruning).
    fn matches(searcher: &Searcher, query: &dyn Query) -> Vec<(DocAddress, u32)> {
        let every = crate::every::matches(searcher, query, None);
        every.into_iter().map(|(a, s)| (a, s.to_bits())).collect()
    }

    #[test]
    fn all_words_match_and_score_as_with_tantivys_union() {
        let index = in_ram_index(11, 3, 150, |_, _| {});
        let searcher = index.searcher();
        let schema = searcher.schema();
        let fields: Vec<(&str, f32)> = vec![
            ("title", 1.5),
            ("summary", 1.2),
            ("topic", 1.0),
            ("body", 1.0),
        ];
        let word = |text: &str, ours: bool| -> Box<dyn Query> {
            let clauses: Vec<Box<dyn Query>> = fields
                .iter()
                .map(|&(name, boost)| {
                    let term = Term::from_field_text(schema.get_field(name).unwrap(), text);
                    let q = TermQuery::new(term, IndexRecordOption::WithFreqs);
                    Box::new(BoostQuery::new(Box::new(q), boost)) as Box<dyn Query>
                })
                .collect();
            if ours {
                Box::new(Union::new(clauses))
            } else {
                Box::new(BooleanQuery::union(clauses))
            }
        };
        let mut compared = 0;
        for words in [
            vec!["test"],
            vec!["test", "deploy"],
            vec!["servic", "cach", "queri"],
            vec!["the", "a"],
            vec!["nosuchword", "test"],
        ] {
            for occur in [Occur::Must, Occur::Should] {
                // Which words are ours: none, all, every other one (as an
                // all-words query mixes them).
                let query = |ours: &dyn Fn(usize) -> bool| {
                    let clauses = words.iter().enumerate();
                    BooleanQuery::new(clauses.map(|(i, w)| (occur, word(w, ours(i)))).collect())
                };
                let expected = matches(&searcher, &query(&|_| false));
                compared += expected.len();
                for ours in [&(|_| true) as &dyn Fn(usize) -> bool, &|i| i % 2 == 1] {
                    let got = matches(&searcher, &query(ours));
                    let docs = |m: &[(DocAddress, u32)]| m.iter().map(|h| h.0).collect::<Vec<_>>();
                    assert_eq!(docs(&got), docs(&expected), "{words:?} {occur:?}");
                    for (g, e) in got.iter().zip(&expected) {
                        let (g, e) = (f32::from_bits(g.1), f32::from_bits(e.1));
                        // A word's own score is the same sum; an intersection
                        // of bare term scorers (a word in one field of a
                        // segment) may add the words in another order.
                        let same = if occur == Occur::Should {
                            g == e
                        } else {
                            (g - e).abs() <= e * 1e-6
                        };
                        assert!(same, "{words:?} {occur:?}: {g} vs {e}");
                    }
                    // Explanations give the same scores. (Only with every
                    // word ours: tantivy's boolean weight explains a clause
                    // that does not match by seeking backwards, which its
                    // debug assertions reject.)
                    let explained = if ours(0) { 3 } else { 0 };
                    for &(address, bits) in got.iter().take(explained) {
                        let reader = searcher.segment_reader(address.segment_ord);
                        let weight = query(ours)
                            .weight(EnableScoring::enabled_from_searcher(&searcher))
                            .unwrap();
                        let explained = weight.explain(reader, address.doc_id).unwrap();
                        assert_eq!(explained.value().to_bits(), bits);
                    }
                }
            }
        }
        assert!(compared > 500, "{compared} matches compared");
    }
}
