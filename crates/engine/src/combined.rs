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
//!
//! One of the fields may also be scored on its own, by tantivy's BM25 of
//! the word in that field times a weight, added to the BM25F score (the
//! title's extra weight: see [`CombinedTerm::scoring_alone`]). That is
//! what a separate `TermQuery` on the field beside this one would add, but
//! from the postings this scorer reads anyway: a union of half as many
//! scorers.

use crate::cursors::Cursors;
use tantivy::fieldnorm::FieldNormReader;
use tantivy::postings::{Postings, SegmentPostings};
use tantivy::query::{
    Bm25StatisticsProvider, Bm25Weight, EnableScoring, Explanation, Query, Scorer, Weight,
};
use tantivy::schema::IndexRecordOption;
use tantivy::{DocId, DocSet, Score, SegmentReader, Term};

const K1: Score = 1.2;
const B: Score = 0.75;

/// One word in several fields (each term the same text in another field),
/// with the fields' weights.
#[derive(Clone, Debug)]
pub struct CombinedTerm {
    terms: Vec<(Term, Score)>,
    /// The term (by index in `terms`) also scored on its own, by BM25
    /// times this weight.
    alone: Option<(usize, Score)>,
}

impl CombinedTerm {
    /// The word of `terms` (one per field, with the field's weight; the
    /// weights are positive).
    pub fn new(terms: Vec<(Term, Score)>) -> CombinedTerm {
        assert!(!terms.is_empty(), "a combined term has a field");
        CombinedTerm { terms, alone: None }
    }

    /// This term with the word in the field of `terms[index]` also scored
    /// on its own: its BM25 in that field (as a `TermQuery` scores it),
    /// times `weight`, added to every match's score.
    pub fn scoring_alone(mut self, index: usize, weight: Score) -> CombinedTerm {
        assert!(index < self.terms.len(), "a field of the term");
        self.alone = Some((index, weight));
        self
    }

    /// The most any document can score (under boost 1): BM25F saturates
    /// below `idf · (k1 + 1)`, and the field scored alone below its BM25's
    /// maximum times its weight. What [`crate::any_words`] skips by. (A
    /// negative IDF, were the statistics to give one, would make negative
    /// scores: under a bound of 0.)
    pub fn max_score(&self, stats: &dyn Bm25StatisticsProvider) -> tantivy::Result<Score> {
        let mut bound = (self.idf(stats)? * (K1 + 1.0)).max(0.0);
        if let Some((i, weight)) = self.alone {
            let bm25 = Bm25Weight::for_terms(stats, &[self.terms[i].0.clone()])?;
            bound += weight * bm25.max_score().max(0.0);
        }
        Ok(bound)
    }

    /// The word's IDF, from its largest document frequency over the fields.
    fn idf(&self, stats: &dyn Bm25StatisticsProvider) -> tantivy::Result<Score> {
        let docs = stats.total_num_docs()?.max(1) as Score;
        let mut df = 0;
        for (term, _) in &self.terms {
            df = df.max(stats.doc_freq(term)?);
        }
        let df = df as Score;
        Ok((1.0 + (docs - df + 0.5) / (df + 0.5)).ln())
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
                let mut average = Vec::with_capacity(self.terms.len());
                for (term, _) in &self.terms {
                    let tokens = statistics_provider.total_num_tokens(term.field())? as Score;
                    average.push((tokens / docs).max(1e-6));
                }
                let idf = self.idf(statistics_provider)?;
                let alone = match self.alone {
                    Some((i, weight)) => Some((
                        i,
                        weight,
                        Bm25Weight::for_terms(statistics_provider, &[self.terms[i].0.clone()])?,
                    )),
                    None => None,
                };
                Some(Stats {
                    idf,
                    average,
                    alone,
                })
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
        // The term scored alone is visited again, as the `TermQuery` it
        // replaces was: a clause's cost (its terms' postings, which decide
        // which words of a long query are common) stays what the ranking
        // was tuned with.
        if let Some((i, _)) = self.alone {
            visitor(&self.terms[i].0, false);
        }
    }
}

/// The collection statistics of a combined term.
struct Stats {
    idf: Score,
    /// The average length of each field, in the terms' order.
    average: Vec<Score>,
    /// The term scored on its own too (index in the terms), its weight,
    /// and its BM25 in its field.
    alone: Option<(usize, Score, Bm25Weight)>,
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
            let Some(postings) =
                crate::term_infos::read_postings(reader, term, IndexRecordOption::WithFreqs)?
            else {
                continue;
            };
            let norms = reader
                .fieldnorms_readers()
                .get_field(term.field())?
                .unwrap_or_else(|| FieldNormReader::constant(reader.max_doc(), 1));
            // The weight over the length factor, by field norm id.
            let mut per_norm = [0.0 as Score; 256];
            let mut alone = None;
            if let Some(stats) = &self.stats {
                for (id, w) in per_norm.iter_mut().enumerate() {
                    let len = FieldNormReader::id_to_fieldnorm(id as u8) as Score;
                    *w = weight / (1.0 - B + B * len / stats.average[i]);
                }
                if let Some((_, alone_weight, bm25)) = stats.alone.as_ref().filter(|a| a.0 == i) {
                    // As a `TermQuery` boosted by `alone_weight` under the
                    // same boosts would score it.
                    alone = Some(bm25.boost_by(boost * alone_weight));
                }
            }
            parts.push(Part {
                postings,
                norms,
                per_norm,
                alone,
            });
        }
        let parts = Cursors::new(parts);
        Ok(Box::new(CombinedScorer {
            doc: parts.lowest(),
            parts,
            factor: self.stats.as_ref().map(|s| s.idf * (K1 + 1.0) * boost),
            boost,
        }))
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
            if let Some((i, weight, bm25)) = &stats.alone {
                let term = &self.terms[*i].0;
                let inverted = reader.inverted_index(term.field())?;
                if let Some(mut postings) =
                    inverted.read_postings(term, IndexRecordOption::WithFreqs)?
                {
                    if postings.doc() <= doc && postings.seek(doc) == doc {
                        let field = reader.schema().get_field_name(term.field()).to_string();
                        let id = reader
                            .fieldnorms_readers()
                            .get_field(term.field())?
                            .map_or(0, |n| n.fieldnorm_id(doc));
                        let mut alone = Explanation::new_with_string(
                            format!("{field} on its own: BM25 x weight {weight}"),
                            bm25.boost_by(*weight).score(id, postings.term_freq()),
                        );
                        alone.add_detail(bm25.explain(id, postings.term_freq()));
                        e.add_detail(alone);
                    }
                }
            }
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
    /// The BM25 of the word in this field on its own, boosted, when it is
    /// scored alone too.
    alone: Option<Bm25Weight>,
}

/// A field's postings move as a docset.
impl DocSet for Part {
    fn advance(&mut self) -> DocId {
        self.postings.advance()
    }

    fn seek(&mut self, target: DocId) -> DocId {
        self.postings.seek(target)
    }

    fn doc(&self) -> DocId {
        self.postings.doc()
    }

    fn size_hint(&self) -> u32 {
        self.postings.size_hint()
    }
}

/// The union of a word's postings over its fields, scored by BM25F.
pub(crate) struct CombinedScorer {
    /// The fields' postings, each one's document beside it.
    parts: Cursors<Part>,
    doc: DocId,
    /// `idf · (k1 + 1) · boost`; `None` without scoring.
    factor: Option<Score>,
    boost: Score,
}

impl DocSet for CombinedScorer {
    fn advance(&mut self) -> DocId {
        self.doc = self.parts.advance_from(self.doc);
        self.doc
    }

    fn seek(&mut self, target: DocId) -> DocId {
        self.doc = self.parts.seek_to(target);
        self.doc
    }

    fn doc(&self) -> DocId {
        self.doc
    }

    fn size_hint(&self) -> u32 {
        self.parts
            .sets
            .iter()
            .map(|p| p.size_hint())
            .max()
            .unwrap_or(0)
    }
}

/// Documents in the windows the unions of BM25F terms are read by (see
/// [`CombinedScorer::add_window`]).
pub(crate) const WINDOW: usize = 4096;

thread_local! {
    /// The scratch of this thread's windows: zero between calls, so one
    /// serves every scorer (a search holds one per word and segment).
    static SCRATCH: std::cell::RefCell<WindowScratch> =
        std::cell::RefCell::new(WindowScratch::new(WINDOW));
}

/// Runs `f` with this thread's scratch for windows of up to [`WINDOW`]
/// documents. Not reentrant: `f` only walks BM25F terms.
pub(crate) fn with_window_scratch<R>(f: impl FnOnce(&mut WindowScratch) -> R) -> R {
    SCRATCH.with(|scratch| f(&mut scratch.borrow_mut()))
}

/// Per-document sums a window of [`CombinedScorer::add_window`] needs,
/// zero between calls.
pub(crate) struct WindowScratch {
    /// `tf~` so far, by offset in the window.
    tf: Vec<Score>,
    /// The score of the field scored on its own, by offset.
    alone: Vec<Score>,
    /// The word's matches in the window, a bit per offset.
    hit: Vec<u64>,
}

impl WindowScratch {
    /// Scratch for windows of `len` documents (a multiple of 64).
    pub(crate) fn new(len: usize) -> WindowScratch {
        WindowScratch {
            tf: vec![0.0; len],
            alone: vec![0.0; len],
            hit: vec![0; len.div_ceil(64)],
        }
    }
}

/// A per-document sum a window's scores are added to: `f64` for the sum
/// of a query's words, `f32` for the sum of its extras (as
/// [`Scorer::score`]s are added up one after another).
pub(crate) trait WindowSum {
    fn add(&mut self, score: Score);
}

impl WindowSum for f64 {
    #[inline]
    fn add(&mut self, score: Score) {
        *self += f64::from(score);
    }
}

impl WindowSum for f32 {
    #[inline]
    fn add(&mut self, score: Score) {
        *self += score;
    }
}

impl CombinedScorer {
    /// Walks the word's postings over the documents from `start` (where
    /// the scorer is, or past it) to before `horizon`, field by field
    /// rather than document by document: sets the bit of each match in
    /// `matched`, when given (bit `i` is document `start + i`), and adds
    /// the word's score — what [`Scorer::score`] gives, summed in the
    /// same order — to `scores` of those whose bit is set in `only` (every
    /// match when `None`). The scorer is left on its first document at or
    /// past `horizon`.
    pub(crate) fn add_window<S: WindowSum>(
        &mut self,
        start: DocId,
        horizon: DocId,
        only: Option<&[u64]>,
        mut matched: Option<&mut [u64]>,
        scores: &mut [S],
        scratch: &mut WindowScratch,
    ) {
        if self.doc < start {
            self.seek(start);
        }
        let WindowScratch { tf, alone, hit } = scratch;
        let parts = &mut self.parts;
        for (part, at_doc) in parts.sets.iter_mut().zip(parts.docs.iter_mut()) {
            let mut doc = *at_doc;
            while doc < horizon {
                let at = (doc - start) as usize;
                let bit = 1u64 << (at % 64);
                hit[at / 64] |= bit;
                if only.is_none_or(|only| only[at / 64] & bit != 0) {
                    let id = part.norms.fieldnorm_id(doc);
                    let freq = part.postings.term_freq();
                    tf[at] += freq as Score * part.per_norm[id as usize];
                    if let Some(bm25) = &part.alone {
                        alone[at] = bm25.score(id, freq);
                    }
                }
                doc = part.postings.advance();
            }
            *at_doc = doc;
        }
        self.doc = parts.lowest();
        for (word, hits) in hit.iter_mut().enumerate() {
            let bits = std::mem::take(hits);
            if bits == 0 {
                continue;
            }
            if let Some(matched) = matched.as_deref_mut() {
                matched[word] |= bits;
            }
            let mut to_score = only.map_or(bits, |only| bits & only[word]);
            while to_score != 0 {
                let at = word * 64 + to_score.trailing_zeros() as usize;
                to_score &= to_score - 1;
                let (tf, alone) = (std::mem::take(&mut tf[at]), std::mem::take(&mut alone[at]));
                let score = match self.factor {
                    Some(factor) => factor * tf / (tf + K1) + alone,
                    None => self.boost,
                };
                scores[at].add(score);
            }
        }
    }
}

impl Scorer for CombinedScorer {
    fn score(&mut self) -> Score {
        let Some(factor) = self.factor else {
            return self.boost;
        };
        let doc = self.doc;
        let mut tf = 0.0;
        let mut alone = 0.0;
        let parts = &mut self.parts;
        for (part, &at) in parts.sets.iter_mut().zip(&parts.docs) {
            if at == doc {
                let id = part.norms.fieldnorm_id(doc);
                let freq = part.postings.term_freq();
                tf += freq as Score * part.per_norm[id as usize];
                if let Some(bm25) = &part.alone {
                    alone = bm25.score(id, freq);
                }
            }
        }
        factor * tf / (tf + K1) + alone
    }
}

/// Test support: `word` (analyzed) as a BM25F term over title (2.0),
/// summary (1.5) and body, the title scored on its own too (0.3).
#[cfg(test)]
pub(crate) fn three_field_term(
    fields: &postsearch_store::schema::Fields,
    word: &str,
) -> CombinedTerm {
    let word = &postsearch_store::analysis::terms(word)[0];
    CombinedTerm::new(vec![
        (Term::from_field_text(fields.title, word), 2.0),
        (Term::from_field_text(fields.summary, word), 1.5),
        (Term::from_field_text(fields.body, word), 1.0),
    ])
    .scoring_alone(0, 0.3)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::every::matches;
    use postsearch_corpus::in_ram_index;
    use tantivy::query::{BooleanQuery, BoostQuery, Occur, TermQuery};

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
            same_scores(&searcher, &ours, &theirs, 1e-4, word);
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

    #[test]
    fn a_field_scored_alone_adds_what_a_term_query_beside_it_would() {
        let index = in_ram_index(23, 3, 120, |_, _| {});
        let searcher = index.searcher();
        let fields = index.fields();
        for word in ["the", "django", "cache", "deploy", "zzznothing"] {
            let title = Term::from_field_text(fields.title, word);
            let body = Term::from_field_text(fields.body, word);
            let both = || CombinedTerm::new(vec![(title.clone(), 2.0), (body.clone(), 1.0)]);
            let ours = BoostQuery::new(Box::new(both().scoring_alone(0, 0.2)), 0.7);
            let beside = TermQuery::new(title.clone(), IndexRecordOption::WithFreqs);
            let theirs = BoostQuery::new(
                Box::new(BooleanQuery::new(vec![
                    (Occur::Should, Box::new(both()) as Box<dyn Query>),
                    (
                        Occur::Should,
                        Box::new(BoostQuery::new(Box::new(beside), 0.2)),
                    ),
                ])),
                0.7,
            );
            same_scores(&searcher, &ours, &theirs, 1e-5, word);
        }
    }

    #[test]
    fn no_match_scores_over_the_bound() {
        let index = in_ram_index(41, 3, 150, |_, _| {});
        let searcher = index.searcher();
        let fields = index.fields();
        for word in ["the", "django", "cach", "deploy", "zzznothing"] {
            let term = CombinedTerm::new(vec![
                (Term::from_field_text(fields.title, word), 2.0),
                (Term::from_field_text(fields.body, word), 1.0),
            ])
            .scoring_alone(0, 0.5);
            let bound = term.max_score(&searcher).unwrap();
            let best = matches(&searcher, &term, None)
                .into_iter()
                .map(|(_, s)| s)
                .fold(0.0, Score::max);
            assert!(best <= bound, "{word}: {best} > {bound}");
        }
    }

    #[test]
    fn a_window_walked_field_by_field_scores_as_match_by_match() {
        // Two segments of 2,600 posts: windows that start past a segment's
        // first document and end past its last.
        let index = in_ram_index(47, 2, 2600, |_, _| {});
        let searcher = index.searcher();
        let fields = index.fields();
        let scoring = tantivy::query::EnableScoring::enabled_from_searcher(&searcher);
        const LEN: usize = 1024;
        let mut scratch = WindowScratch::new(LEN);
        for word in ["the", "django", "cache", "deploy"] {
            let term = three_field_term(fields, word);
            let weight = BoostQuery::new(Box::new(term), 0.8)
                .weight(scoring)
                .unwrap();
            let mut windows = 0;
            for reader in searcher.segment_readers() {
                // Every match with its score, a document at a time.
                let mut one = weight.scorer(reader, 1.0).unwrap();
                let mut expected = Vec::new();
                while one.doc() != tantivy::TERMINATED {
                    expected.push((one.doc(), f64::from(one.score())));
                    one.advance();
                }
                // The same by windows, every match scored, then only those
                // at odd offsets in their window.
                for odd_only in [false, true] {
                    let mut scorer = weight.scorer(reader, 1.0).unwrap();
                    let word_scorer = scorer.downcast_mut::<CombinedScorer>().unwrap();
                    let only = [0xAAAA_AAAA_AAAA_AAAAu64; LEN / 64];
                    let mut found = Vec::new();
                    while word_scorer.doc() != tantivy::TERMINATED {
                        let start = word_scorer.doc();
                        let horizon = start + LEN as DocId;
                        let (mut matched, mut scores) = (vec![0u64; LEN / 64], vec![0f64; LEN]);
                        let only = odd_only.then_some(&only[..]);
                        word_scorer.add_window(
                            start,
                            horizon,
                            only,
                            Some(&mut matched),
                            &mut scores,
                            &mut scratch,
                        );
                        assert!(word_scorer.doc() >= horizon);
                        for at in 0..LEN {
                            if matched[at / 64] & (1 << (at % 64)) != 0 {
                                // Not asked for: marked, not scored.
                                let asked = !odd_only || at % 2 == 1;
                                found.push((start + at as DocId, asked, scores[at]));
                            } else {
                                assert_eq!(scores[at], 0.0);
                            }
                        }
                        windows += 1;
                    }
                    assert_eq!(found.len(), expected.len(), "{word}");
                    for (&(doc, asked, score), &(want_doc, want)) in found.iter().zip(&expected) {
                        assert_eq!(doc, want_doc, "{word}");
                        let want = if asked { want } else { 0.0 };
                        assert_eq!(score.to_bits(), want.to_bits(), "{word}: doc {doc}");
                    }
                }
                // The scratch is left zero: the next word starts clean.
                assert!(scratch.tf.iter().chain(&scratch.alone).all(|&x| x == 0.0));
                assert!(scratch.hit.iter().all(|&x| x == 0));
            }
            assert!(windows > 4, "{word}: {windows} windows");
        }
    }

    /// Asserts that `ours` and `theirs` match the same documents with the
    /// same scores (within `tolerance`, relative).
    fn same_scores(
        searcher: &tantivy::Searcher,
        ours: &dyn Query,
        theirs: &dyn Query,
        tolerance: Score,
        word: &str,
    ) {
        let (a, b) = (
            matches(searcher, ours, None),
            matches(searcher, theirs, None),
        );
        assert_eq!(a.len(), b.len(), "{word}");
        for ((da, sa), (db, sb)) in a.iter().zip(&b) {
            assert_eq!(da, db);
            assert!(
                (sa - sb).abs() < tolerance * sb.max(1.0),
                "{word}: {sa} vs {sb}"
            );
        }
    }
}
