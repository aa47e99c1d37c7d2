//! A word scored once over several fields: BM25F.
//!
//! Scoring a word field by field and adding the scores (a BM25 per field)
//! counts a word twice when it is in both the title and the body, and
//! saturates each field on its own: a title match then outweighs the body
//! by the title's boost whatever the body says. BM25F (Robertson and
//! Zaragoza's "simple BM25F", as Lucene's `CombinedFieldQuery` computes it)
//! first adds the word's frequencies over the fields, each weighted and
//! normalised by its field's length, then saturates the sum once:
//!
//! ```text
//! tf~   = Σ_f  w_f · tf_f / (1 − b + b · len_f / avglen_f)
//! score = idf · tf~ · (k1 + 1) / (tf~ + k1)
//! ```
//!
//! with `idf` from the largest document frequency of the word over the
//! fields, `k1 = 1.2` and `b = 0.75` as tantivy's BM25.

use tantivy::fieldnorm::FieldNormReader;
use tantivy::postings::{Postings, SegmentPostings};
use tantivy::query::{EnableScoring, Explanation, Query, Scorer, Weight};
use tantivy::schema::IndexRecordOption;
use tantivy::{DocId, DocSet, Score, SegmentReader, Term, TERMINATED};

const K1: Score = 1.2;
const B: Score = 0.75;

/// One word in several fields (each term the same text in another field),
/// with the fields' weights.
#[derive(Clone, Debug)]
pub struct CombinedTerm {
    terms: Vec<(Term, Score)>,
}

impl CombinedTerm {
    /// The word of `terms` (one per field, with the field's weight; the
    /// weights are positive).
    pub fn new(terms: Vec<(Term, Score)>) -> CombinedTerm {
        assert!(!terms.is_empty(), "a combined term has a field");
        CombinedTerm { terms }
    }
}

impl Query for CombinedTerm {
    fn weight(&self, scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        let stats = match scoring {
            EnableScoring::Enabled {
                statistics_provider,
                ..
            } => {
                let docs = statistics_provider.total_num_docs()?.max(1) as Score;
                let mut df = 0;
                let mut average = Vec::with_capacity(self.terms.len());
                for (term, _) in &self.terms {
                    df = df.max(statistics_provider.doc_freq(term)?);
                    let tokens = statistics_provider.total_num_tokens(term.field())? as Score;
                    average.push((tokens / docs).max(1e-6));
                }
                let df = df as Score;
                let idf = (1.0 + (docs - df + 0.5) / (df + 0.5)).ln();
                Some(Stats { idf, average })
            }
            EnableScoring::Disabled { .. } => None,
        };
        Ok(Box::new(CombinedWeight {
            terms: self.terms.clone(),
            stats,
        }))
    }

    fn query_terms<'a>(&'a self, visitor: &mut dyn FnMut(&'a Term, bool)) {
        for (term, _) in &self.terms {
            visitor(term, false);
        }
    }
}

/// The collection statistics of a combined term.
struct Stats {
    idf: Score,
    /// The average length of each field, in the terms' order.
    average: Vec<Score>,
}

struct CombinedWeight {
    terms: Vec<(Term, Score)>,
    /// `None` without scoring: every match scores 1.
    stats: Option<Stats>,
}

impl Weight for CombinedWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        let mut parts = Vec::with_capacity(self.terms.len());
        for (i, (term, weight)) in self.terms.iter().enumerate() {
            let inverted = reader.inverted_index(term.field())?;
            let Some(postings) = inverted.read_postings(term, IndexRecordOption::WithFreqs)? else {
                continue;
            };
            let norms = reader
                .fieldnorms_readers()
                .get_field(term.field())?
                .unwrap_or_else(|| FieldNormReader::constant(reader.max_doc(), 1));
            // The weight over the length factor, by field norm id.
            let mut per_norm = [0.0 as Score; 256];
            if let Some(stats) = &self.stats {
                for (id, w) in per_norm.iter_mut().enumerate() {
                    let len = FieldNormReader::id_to_fieldnorm(id as u8) as Score;
                    *w = weight / (1.0 - B + B * len / stats.average[i]);
                }
            }
            parts.push(Part {
                postings,
                norms,
                per_norm,
            });
        }
        let mut scorer = CombinedScorer {
            parts,
            doc: 0,
            factor: self.stats.as_ref().map(|s| s.idf * (K1 + 1.0) * boost),
            boost,
        };
        scorer.doc = scorer.min_doc();
        Ok(Box::new(scorer))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        let mut scorer = self.scorer(reader, 1.0)?;
        if scorer.seek(doc) != doc {
            return Err(tantivy::TantivyError::InvalidArgument(format!(
                "document {doc} does not match"
            )));
        }
        let word = self.terms[0].0.value().as_str().unwrap_or("?").to_string();
        let mut e = Explanation::new_with_string(format!("BM25F of {word:?}"), scorer.score());
        if let Some(stats) = &self.stats {
            e.add_detail(Explanation::new_with_string("idf".into(), stats.idf));
        }
        // The word's frequency in each field that holds it.
        for (term, weight) in &self.terms {
            let inverted = reader.inverted_index(term.field())?;
            if let Some(mut postings) =
                inverted.read_postings(term, IndexRecordOption::WithFreqs)?
            {
                // Postings start at their first document: one past `doc`
                // does not hold it (and cannot seek backwards).
                if postings.doc() <= doc && postings.seek(doc) == doc {
                    let field = reader.schema().get_field_name(term.field()).to_string();
                    e.add_detail(Explanation::new_with_string(
                        format!("{field}: frequency (field weight {weight})"),
                        postings.term_freq() as Score,
                    ));
                }
            }
        }
        Ok(e)
    }
}

/// The word's postings in one field.
struct Part {
    postings: SegmentPostings,
    norms: FieldNormReader,
    /// `w_f / (1 − b + b · len / avglen)` by field norm id.
    per_norm: [Score; 256],
}

/// The union of a word's postings over its fields, scored by BM25F.
struct CombinedScorer {
    parts: Vec<Part>,
    doc: DocId,
    /// `idf · (k1 + 1) · boost`; `None` without scoring.
    factor: Option<Score>,
    boost: Score,
}

impl CombinedScorer {
    fn min_doc(&self) -> DocId {
        self.parts
            .iter()
            .map(|p| p.postings.doc())
            .min()
            .unwrap_or(TERMINATED)
    }
}

impl DocSet for CombinedScorer {
    fn advance(&mut self) -> DocId {
        let current = self.doc;
        for part in &mut self.parts {
            if part.postings.doc() == current {
                part.postings.advance();
            }
        }
        self.doc = self.min_doc();
        self.doc
    }

    fn seek(&mut self, target: DocId) -> DocId {
        for part in &mut self.parts {
            if part.postings.doc() < target {
                part.postings.seek(target);
            }
        }
        self.doc = self.min_doc();
        self.doc
    }

    fn doc(&self) -> DocId {
        self.doc
    }

    fn size_hint(&self) -> u32 {
        self.parts
            .iter()
            .map(|p| p.postings.size_hint())
            .max()
            .unwrap_or(0)
    }
}

impl Scorer for CombinedScorer {
    fn score(&mut self) -> Score {
        let Some(factor) = self.factor else {
            return self.boost;
        };
        let doc = self.doc;
        let mut tf = 0.0;
        for part in &mut self.parts {
            if part.postings.doc() == doc {
                let id = part.norms.fieldnorm_id(doc);
                tf += part.postings.term_freq() as Score * part.per_norm[id as usize];
            }
        }
        factor * tf / (tf + K1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::every::matches;
    use postsearch_corpus::in_ram_index;
    use tantivy::query::{BooleanQuery, Occur, TermQuery};

    #[test]
    fn one_field_scores_as_tantivys_bm25_and_fields_match_as_a_union() {
        let index = in_ram_index(17, 3, 120, |_, _| {});
        let searcher = index.searcher();
        let fields = index.fields();
        for word in ["the", "django", "cache", "zzznothing"] {
            let title = Term::from_field_text(fields.title, word);
            let body = Term::from_field_text(fields.body, word);
            let ours = CombinedTerm::new(vec![(title.clone(), 1.0)]);
            let theirs = TermQuery::new(title.clone(), IndexRecordOption::WithFreqs);
            let (a, b) = (
                matches(&searcher, &ours, None),
                matches(&searcher, &theirs, None),
            );
            assert_eq!(a.len(), b.len(), "{word}");
            for ((da, sa), (db, sb)) in a.iter().zip(&b) {
                assert_eq!(da, db);
                assert!((sa - sb).abs() < 1e-4 * sb.max(1.0), "{word}: {sa} vs {sb}");
            }
            let both = CombinedTerm::new(vec![(title.clone(), 2.0), (body.clone(), 1.0)]);
            let union = BooleanQuery::new(vec![
                (
                    Occur::Should,
                    Box::new(TermQuery::new(title, IndexRecordOption::Basic)) as Box<dyn Query>,
                ),
                (
                    Occur::Should,
                    Box::new(TermQuery::new(body, IndexRecordOption::Basic)),
                ),
            ]);
            let docs = |m: Vec<(tantivy::DocAddress, Score)>| {
                m.into_iter().map(|(d, _)| d).collect::<Vec<_>>()
            };
            assert_eq!(
                docs(matches(&searcher, &both, None)),
                docs(matches(&searcher, &union, None)),
                "{word}"
            );
        }
    }
}
