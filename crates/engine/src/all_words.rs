//! A query of words that must all match, read a window of documents at a
//! time when its words are dense.
//!
//! An all-words query is tantivy's intersection of its words (each the
//! union of its alternatives: typo variants, completions, synonyms): the
//! rarest word leads, and each of its matches seeks every other word's
//! alternatives, field by field, then scores the match through each one's
//! boxed scorer. When even the rarest word is in a good share of the
//! posts (generated posts' `measure before`: 86,000 matches of 100,000),
//! most of that is seeking one posting ahead. [`AllWords`] walks each
//! word's postings over a window of [`WINDOW`] documents instead
//! ([`CombinedScorer::add_window`]), the rarest first: a word's matches in
//! the window are a bitset, ANDed into the candidates, and its scores are
//! summed only for the candidates left. Every match is handed over with
//! its score, as tantivy's intersection would: the words' scores are the
//! ones their unions give (each summed in `f32` in clause order, as the
//! union sums them), and a match's score is their sum taken in `f64` and
//! rounded once, so with three words or more its last bit may differ from
//! the intersection's (which adds in `f32`).
//!
//! `scorer` and `explain` are the intersection's: only `for_each`, which
//! a search that counts every match calls, goes by windows.

use crate::combined::{with_window_scratch, CombinedScorer, WINDOW};
use tantivy::query::{BooleanQuery, EnableScoring, Explanation, Query, Scorer, Weight};
use tantivy::{DocId, DocSet, Score, SegmentReader, Term, TERMINATED};

/// Posts holding every one of `words` (each any of its alternatives),
/// scored as `boolean` (their intersection) scores them.
#[derive(Debug)]
pub struct AllWords {
    /// The words, rarest first, each its alternatives in clause order.
    words: Vec<Vec<Box<dyn Query>>>,
    /// The same query as tantivy's intersection of the words' unions.
    boolean: BooleanQuery,
}

impl AllWords {
    /// All of `words` (rarest first; each its alternatives, BM25F terms,
    /// in the order their union adds them), which `boolean` intersects.
    pub fn new(words: Vec<Vec<Box<dyn Query>>>, boolean: BooleanQuery) -> AllWords {
        AllWords { words, boolean }
    }
}

impl Clone for AllWords {
    fn clone(&self) -> AllWords {
        AllWords {
            words: self
                .words
                .iter()
                .map(|w| w.iter().map(|q| q.box_clone()).collect())
                .collect(),
            boolean: self.boolean.clone(),
        }
    }
}

impl Query for AllWords {
    fn weight(&self, scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        let words = self
            .words
            .iter()
            .map(|w| w.iter().map(|q| q.weight(scoring)).collect())
            .collect::<tantivy::Result<Vec<Vec<_>>>>()?;
        Ok(Box::new(AllWordsWeight {
            words,
            boolean: self.boolean.weight(scoring)?,
        }))
    }

    fn query_terms<'a>(&'a self, visitor: &mut dyn FnMut(&'a Term, bool)) {
        self.boolean.query_terms(visitor);
    }
}

struct AllWordsWeight {
    words: Vec<Vec<Box<dyn Weight>>>,
    boolean: Box<dyn Weight>,
}

/// A word's alternatives in a segment (those not exhausted from the
/// start), each a BM25F term's scorer.
type Word = Vec<Box<dyn Scorer>>;

impl AllWordsWeight {
    /// The words' scorers in `reader`; `None` when an alternative is not a
    /// BM25F term (a phrase, a synonym of several words): then the
    /// intersection walks the segment.
    fn words(&self, reader: &SegmentReader) -> tantivy::Result<Option<Vec<Word>>> {
        let mut words = Vec::with_capacity(self.words.len());
        for alternatives in &self.words {
            let mut word = Vec::with_capacity(alternatives.len());
            for weight in alternatives {
                let scorer = weight.scorer(reader, 1.0)?;
                if scorer.doc() == TERMINATED {
                    continue;
                }
                if !scorer.is::<CombinedScorer>() {
                    return Ok(None);
                }
                word.push(scorer);
            }
            words.push(word);
        }
        Ok(Some(words))
    }
}

impl Weight for AllWordsWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        self.boolean.scorer(reader, boost)
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        self.boolean.explain(reader, doc)
    }

    fn count(&self, reader: &SegmentReader) -> tantivy::Result<u32> {
        self.boolean.count(reader)
    }

    /// Every match with its score, a window at a time (see the module
    /// documentation).
    fn for_each(
        &self,
        reader: &SegmentReader,
        callback: &mut dyn FnMut(DocId, Score),
    ) -> tantivy::Result<()> {
        let Some(mut words) = self.words(reader)? else {
            return self.boolean.for_each(reader, callback);
        };
        // A word with no posting left (or none in the segment) ends it.
        let done = |word: &Word| word.iter().all(|s| s.doc() == TERMINATED);
        // Made at the first window: a segment without a match needs none.
        let mut window = None;
        loop {
            // A match holds the rarest word: the window starts at its
            // next posting.
            let start = words[0].iter().map(|s| s.doc()).min().unwrap_or(TERMINATED);
            if start == TERMINATED || words.iter().any(done) || crate::budget::exhausted() {
                return Ok(());
            }
            window
                .get_or_insert_with(|| Window::new(words.len()))
                .walk(start, &mut words, callback);
        }
    }
}

/// The per-window state of [`AllWordsWeight::for_each`], reused.
struct Window {
    /// The documents that hold every word walked so far, by offset.
    candidates: [u64; WINDOW / 64],
    /// The current word's matches, by offset.
    hits: [u64; WINDOW / 64],
    /// Each word's score, by offset: set for its candidates only.
    scores: Vec<Box<[Score; WINDOW]>>,
    /// Each word's candidates when it was walked: where its scores are.
    scored: Vec<[u64; WINDOW / 64]>,
}

impl Window {
    fn new(words: usize) -> Window {
        Window {
            candidates: [0; WINDOW / 64],
            hits: [0; WINDOW / 64],
            scores: (0..words).map(|_| Box::new([0.0; WINDOW])).collect(),
            scored: vec![[0; WINDOW / 64]; words],
        }
    }

    /// Hands `callback` the matches of the window from `start`, in order,
    /// each with its score; leaves every scores slot zero.
    fn walk(&mut self, start: DocId, words: &mut [Word], callback: &mut dyn FnMut(DocId, Score)) {
        let horizon = start.saturating_add(WINDOW as DocId);
        let mut walked = 0;
        for (i, word) in words.iter_mut().enumerate() {
            // The rarest word's matches are all candidates; each next
            // word's scores are summed for the candidates left only.
            let only = (i > 0).then_some(&self.candidates[..]);
            for alternative in word.iter_mut() {
                let scorer = alternative
                    .downcast_mut::<CombinedScorer>()
                    .expect("checked when opened");
                if scorer.doc() >= horizon {
                    continue;
                }
                with_window_scratch(|scratch| {
                    scorer.add_window(
                        start,
                        horizon,
                        only,
                        Some(&mut self.hits[..]),
                        &mut self.scores[i][..],
                        scratch,
                    )
                });
            }
            let scored = &mut self.scored[i];
            let mut any = 0;
            for ((candidates, hits), scored) in self
                .candidates
                .iter_mut()
                .zip(self.hits.iter_mut())
                .zip(scored.iter_mut())
            {
                let hits = std::mem::take(hits);
                *scored = if i == 0 { hits } else { *candidates & hits };
                *candidates = *scored;
                any |= *candidates;
            }
            walked += 1;
            if any == 0 {
                break;
            }
        }
        let (scores, scored) = (&mut self.scores[..walked], &self.scored[..walked]);
        if walked == words.len() {
            for (w, &bits) in self.candidates.iter().enumerate() {
                let mut bits = bits;
                while bits != 0 {
                    let at = w * 64 + bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    let score: f64 = scores.iter().map(|s| f64::from(s[at])).sum();
                    callback(start + at as DocId, score as Score);
                }
            }
        }
        // Zero the slots the words wrote: their candidates when walked.
        for (scores, scored) in scores.iter_mut().zip(scored) {
            for (w, &bits) in scored.iter().enumerate() {
                let mut bits = bits;
                while bits != 0 {
                    scores[w * 64 + bits.trailing_zeros() as usize] = 0.0;
                    bits &= bits - 1;
                }
            }
        }
        self.candidates = [0; WINDOW / 64];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::combined::CombinedTerm;
    use crate::every::matches;
    use postsearch_corpus::{in_ram_index, in_ram_segment};
    use tantivy::query::{BoostQuery, Occur, PhraseQuery};
    use tantivy::{DocAddress, Searcher};

    /// A word over title and body (the title scored alone too), under
    /// `boost`, as the query builder makes a word or one of its typo
    /// variants.
    fn word(searcher: &Searcher, word: &str, boost: Score) -> Box<dyn Query> {
        let schema = searcher.schema();
        let (title, body) = (
            schema.get_field("title").unwrap(),
            schema.get_field("body").unwrap(),
        );
        let w = &postsearch_store::analysis::terms(word)[0];
        let term = CombinedTerm::new(vec![
            (Term::from_field_text(title, w), 2.0),
            (Term::from_field_text(body, w), 1.0),
        ])
        .scoring_alone(0, 0.2);
        Box::new(BoostQuery::new(Box::new(term), boost))
    }

    /// `words` (each its alternatives as `(word, boost)`) as `AllWords`,
    /// and the intersection of their unions it stands for.
    fn all_words(searcher: &Searcher, words: &[&[(&str, Score)]]) -> (AllWords, BooleanQuery) {
        let alternatives = |w: &[(&str, Score)]| -> Vec<Box<dyn Query>> {
            w.iter().map(|&(x, b)| word(searcher, x, b)).collect()
        };
        let boolean = BooleanQuery::new(
            words
                .iter()
                .map(|w| {
                    let union: Box<dyn Query> = Box::new(BooleanQuery::union(alternatives(w)));
                    (Occur::Must, union)
                })
                .collect(),
        );
        let all = AllWords::new(
            words.iter().map(|w| alternatives(w)).collect(),
            boolean.clone(),
        );
        (all, boolean)
    }

    fn assert_same(ours: &[(DocAddress, Score)], theirs: &[(DocAddress, Score)], words: usize) {
        assert_eq!(ours.len(), theirs.len());
        for ((da, sa), (db, sb)) in ours.iter().zip(theirs) {
            assert_eq!(da, db);
            if words == 2 {
                // Two scores added in f64 and rounded once: the f32 sum.
                assert_eq!(sa.to_bits(), sb.to_bits(), "{da:?}: {sa} vs {sb}");
            } else {
                assert!((sa - sb).abs() <= 1e-6 * sb.abs().max(1.0), "{sa} vs {sb}");
            }
        }
    }

    #[test]
    fn matches_and_scores_as_the_intersection_it_replaces() {
        // One segment of 5,000 posts (windows of 4,096 documents: one
        // ending past the segment's last), and three of 300.
        for index in [
            in_ram_segment(61, 5000),
            in_ram_index(67, 3, 300, |_, _| {}),
        ] {
            let searcher = index.searcher();
            let cases: [&[&[(&str, Score)]]; 6] = [
                &[&[("the", 1.0)], &[("and", 1.0)]],
                &[&[("cache", 1.0)], &[("the", 1.0)]],
                // Typo variants under their boost, some in no post.
                &[
                    &[("deploy", 1.0), ("deploys", 0.6), ("zzqdeploy", 0.6)],
                    &[("to", 1.0)],
                ],
                &[&[("the", 1.0)], &[("a", 1.0)], &[("of", 1.0), ("on", 0.5)]],
                // A word no post holds: nothing.
                &[&[("the", 1.0)], &[("zzqnowhere", 1.0)]],
                &[
                    &[("django", 1.0)],
                    &[("test", 1.0)],
                    &[("query", 1.0)],
                    &[("the", 1.0)],
                ],
            ];
            let mut found = 0;
            for words in cases {
                let (all, boolean) = all_words(&searcher, words);
                let ours = matches(&searcher, &all, None);
                let theirs = matches(&searcher, &boolean, None);
                assert_same(&ours, &theirs, words.len());
                found += ours.len();
                // A document at a time, it is the intersection.
                let weight = all
                    .weight(EnableScoring::enabled_from_searcher(&searcher))
                    .unwrap();
                let reader = &searcher.segment_readers()[0];
                let first = ours.first().map_or(TERMINATED, |(d, _)| d.doc_id);
                if ours.first().is_some_and(|(d, _)| d.segment_ord == 0) {
                    assert_eq!(weight.scorer(reader, 1.0).unwrap().doc(), first);
                }
            }
            assert!(found > 1000, "{found}");
        }
    }

    #[test]
    fn an_alternative_other_than_a_word_is_searched_as_the_intersection() {
        let index = in_ram_index(71, 2, 200, |_, _| {});
        let searcher = index.searcher();
        let body = searcher.schema().get_field("body").unwrap();
        let phrase: Box<dyn Query> = Box::new(PhraseQuery::new(vec![
            Term::from_field_text(body, "the"),
            Term::from_field_text(body, "cach"),
        ]));
        let (mut all, _) = all_words(&searcher, &[&[("the", 1.0)], &[("cache", 1.0)]]);
        all.words[1].push(phrase.box_clone());
        let boolean = BooleanQuery::new(vec![
            (Occur::Must, word(&searcher, "the", 1.0)),
            (
                Occur::Must,
                Box::new(BooleanQuery::union(vec![
                    word(&searcher, "cache", 1.0),
                    phrase,
                ])),
            ),
        ]);
        all.boolean = boolean.clone();
        let ours = matches(&searcher, &all, None);
        assert!(!ours.is_empty());
        assert_same(&ours, &matches(&searcher, &boolean, None), 2);
    }
}
