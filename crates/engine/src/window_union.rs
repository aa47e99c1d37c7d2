//! The window of a union of BM25F terms (a word's typo variants, a
//! prefix's completions: [`Union::windowed`](crate::union::Union::windowed)).
//!
//! Each alternative is a BM25F term over the text fields
//! ([`CombinedTerm`](crate::combined::CombinedTerm)). tantivy's union
//! (`BooleanQuery::union`) fills a window of 4,096 documents at a time
//! from its children, a document at a time: a call to advance and one to
//! score through each boxed child, each a pass over the child's fields.
//! [`WindowUnionScorer`] fills the same window with each child's postings
//! read field by field ([`CombinedScorer::add_window`]), then moves through
//! it as tantivy's union does. It matches the same documents with the same
//! scores (each document's the children's scores added in clause order,
//! as tantivy's union adds them; tested to the bit), and reports the same
//! size and cost, so an intersection drives it the same way.

use crate::combined::{with_window_scratch, CombinedScorer, WINDOW};
use tantivy::query::Scorer;
use tantivy::{DocId, DocSet, Score, TERMINATED};

/// Documents a window spans.
const HORIZON: u32 = WINDOW as u32;
/// 64-document words of a window.
const WORDS: usize = HORIZON as usize / 64;

/// A union of BM25F terms, a window at a time.
pub(crate) struct WindowUnionScorer {
    /// The children not exhausted yet, in clause order; each a
    /// [`CombinedScorer`].
    children: Vec<Box<dyn Scorer>>,
    /// The window's matches not visited yet, bit `i` of word `w` the
    /// document `start + 64 w + i`.
    bits: Box<[u64; WORDS]>,
    /// Their scores, by offset (zero once visited).
    scores: Box<[Score; HORIZON as usize]>,
    /// The window's first document.
    start: DocId,
    /// The word of `bits` being visited.
    word: usize,
    doc: DocId,
    score: Score,
    /// Documents of the segment (for the size estimate).
    num_docs: u32,
}

impl WindowUnionScorer {
    /// The union of `children` (BM25F terms, none exhausted), in a
    /// segment of `num_docs` documents.
    pub(crate) fn new(children: Vec<Box<dyn Scorer>>, num_docs: u32) -> WindowUnionScorer {
        let mut scorer = WindowUnionScorer {
            children,
            bits: Box::new([0; WORDS]),
            scores: Box::new([0.0; HORIZON as usize]),
            start: 0,
            word: WORDS,
            doc: 0,
            score: 0.0,
            num_docs,
        };
        if scorer.refill() {
            scorer.advance();
        } else {
            scorer.doc = TERMINATED;
        }
        scorer
    }

    /// Fills the window that starts at the lowest document of the
    /// children; false when they are all exhausted.
    fn refill(&mut self) -> bool {
        let Some(start) = self.children.iter().map(|c| c.doc()).min() else {
            return false;
        };
        self.start = start;
        self.word = 0;
        let horizon = start.saturating_add(HORIZON);
        with_window_scratch(|scratch| {
            for child in &mut self.children {
                let word = child
                    .downcast_mut::<CombinedScorer>()
                    .expect("the children are BM25F terms");
                word.add_window(
                    start,
                    horizon,
                    None,
                    Some(&mut self.bits[..]),
                    &mut self.scores[..],
                    scratch,
                );
            }
        });
        self.children.retain(|c| c.doc() != TERMINATED);
        true
    }

    /// Moves to the next match of the window, if any.
    #[inline]
    fn advance_buffered(&mut self) -> bool {
        while self.word < WORDS {
            let bits = self.bits[self.word];
            if bits != 0 {
                self.bits[self.word] = bits & (bits - 1);
                let at = self.word * 64 + bits.trailing_zeros() as usize;
                self.doc = self.start + at as DocId;
                self.score = std::mem::take(&mut self.scores[at]);
                return true;
            }
            self.word += 1;
        }
        false
    }
}

impl DocSet for WindowUnionScorer {
    fn advance(&mut self) -> DocId {
        loop {
            if self.advance_buffered() {
                return self.doc;
            }
            if !self.refill() {
                self.doc = TERMINATED;
                return TERMINATED;
            }
        }
    }

    fn seek(&mut self, target: DocId) -> DocId {
        if self.doc >= target {
            return self.doc;
        }
        let gap = target - self.start;
        if gap < HORIZON {
            // In the window: drop its matches before the target's word,
            // then step to the target.
            let word = gap as usize / 64;
            if word > self.word {
                self.bits[self.word..word].fill(0);
                self.scores[self.word * 64..word * 64].fill(0.0);
                self.word = word;
            }
            let mut doc = self.doc;
            while doc < target {
                doc = self.advance();
            }
            return doc;
        }
        // Past the window: drop it, move every child to the target.
        self.bits.fill(0);
        self.scores.fill(0.0);
        for child in &mut self.children {
            if child.doc() < target {
                child.seek(target);
            }
        }
        self.children.retain(|c| c.doc() != TERMINATED);
        if !self.refill() {
            self.doc = TERMINATED;
            return TERMINATED;
        }
        self.advance()
    }

    fn doc(&self) -> DocId {
        self.doc
    }

    /// tantivy's estimate for a union: the documents in none of the
    /// children, each child's share discounted for co-location (0.8).
    fn size_hint(&self) -> u32 {
        let max = self.num_docs as f64;
        let none = self
            .children
            .iter()
            .map(|c| 1.0 - (c.size_hint() as f64 / max) * 0.8)
            .product::<f64>();
        (max * (1.0 - none)).round().min(max) as u32
    }

    fn cost(&self) -> u64 {
        self.children.iter().map(|c| c.cost()).sum()
    }
}

impl Scorer for WindowUnionScorer {
    fn score(&mut self) -> Score {
        self.score
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::combined::three_field_term;
    use crate::union::Union;
    use postsearch_store::index::PostIndex;
    use tantivy::query::{BooleanQuery, BoostQuery, EnableScoring, Query};

    /// One segment of 9,000 posts (three windows), once for the tests.
    fn index() -> &'static PostIndex {
        static INDEX: std::sync::OnceLock<PostIndex> = std::sync::OnceLock::new();
        INDEX.get_or_init(|| postsearch_corpus::in_ram_segment(53, 9000))
    }

    /// The words as BM25F alternatives over title, summary and body (the
    /// title scored on its own too), boosted as typo variants are.
    fn alternatives(index: &PostIndex, words: &[&str]) -> Vec<Box<dyn Query>> {
        let fields = index.fields();
        words
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let term = three_field_term(fields, w);
                let boost = 1.0 - 0.15 * i as Score;
                Box::new(BoostQuery::new(Box::new(term), boost)) as Box<dyn Query>
            })
            .collect()
    }

    fn copy(clauses: &[Box<dyn Query>]) -> Vec<Box<dyn Query>> {
        clauses.iter().map(|c| c.box_clone()).collect()
    }

    #[test]
    fn matches_scores_size_and_cost_are_tantivys_union_s_whether_advanced_or_sought() {
        let index = index();
        let searcher = index.searcher();
        let reader = &searcher.segment_readers()[0];
        assert!(reader.max_doc() > 2 * HORIZON, "a few windows");
        let scoring = EnableScoring::enabled_from_searcher(&searcher);
        for words in [
            vec!["the", "django", "deploy"],
            vec!["cache", "kubernetes", "memory", "queries", "zzznothing"],
            vec!["django", "python"],
        ] {
            let clauses = alternatives(index, &words);
            let ours = Union::windowed(copy(&clauses)).weight(scoring).unwrap();
            let theirs = BooleanQuery::union(copy(&clauses)).weight(scoring).unwrap();
            let (mut a, mut b) = (
                ours.scorer(reader, 1.0).unwrap(),
                theirs.scorer(reader, 1.0).unwrap(),
            );
            assert!(a.is::<WindowUnionScorer>(), "{words:?}");
            assert_eq!(a.size_hint(), b.size_hint(), "{words:?}");
            assert_eq!(a.cost(), b.cost(), "{words:?}");
            // Every match, a document at a time.
            let mut n = 0;
            while b.doc() != TERMINATED {
                assert_eq!(a.doc(), b.doc(), "{words:?}");
                assert_eq!(
                    a.score().to_bits(),
                    b.score().to_bits(),
                    "{words:?} {}",
                    b.doc()
                );
                a.advance();
                b.advance();
                n += 1;
            }
            assert_eq!(a.doc(), TERMINATED);
            assert!(n > 100, "{words:?}: {n} matches");
            // Sought within the first window, then advanced to the end
            // through the windows after it.
            for skip in [130, 1000, 3000] {
                let (mut a, mut b) = (
                    ours.scorer(reader, 1.0).unwrap(),
                    theirs.scorer(reader, 1.0).unwrap(),
                );
                let target = b.doc() + skip;
                assert_eq!(a.seek(target), b.seek(target));
                while b.doc() != TERMINATED {
                    assert_eq!(a.doc(), b.doc(), "{words:?}");
                    let doc = b.doc();
                    assert_eq!(a.score().to_bits(), b.score().to_bits(), "{words:?} {doc}");
                    a.advance();
                    b.advance();
                }
                assert_eq!(a.doc(), TERMINATED);
            }
            // Sought by steps short and long, within a window and past it,
            // advanced in between.
            let (mut a, mut b) = (
                ours.scorer(reader, 1.0).unwrap(),
                theirs.scorer(reader, 1.0).unwrap(),
            );
            let mut target = 0;
            for step in [1u32, 3, 70, 5000, 2, 200, 4100, 63, 64, 1, 9000]
                .iter()
                .cycle()
                .take(60)
            {
                target += step;
                let (da, db) = (a.seek(target), b.seek(target));
                assert_eq!(da, db, "{words:?}: seek {target}");
                if db == TERMINATED {
                    break;
                }
                assert_eq!(a.score().to_bits(), b.score().to_bits(), "{words:?} {db}");
                assert_eq!(a.advance(), b.advance(), "{words:?}: after {db}");
                if b.doc() == TERMINATED {
                    break;
                }
                assert_eq!(a.score().to_bits(), b.score().to_bits());
                assert_eq!(a.size_hint(), b.size_hint());
                target = b.doc();
            }
        }
    }

    #[test]
    fn a_lone_or_empty_union_is_its_child_or_nothing() {
        let index = index();
        let searcher = index.searcher();
        let reader = &searcher.segment_readers()[0];
        let scoring = EnableScoring::enabled_from_searcher(&searcher);
        let lone = Union::windowed(alternatives(index, &["django", "zzznothing"]));
        let scorer = lone.weight(scoring).unwrap().scorer(reader, 1.0).unwrap();
        assert!(scorer.is::<CombinedScorer>());
        let none = Union::windowed(alternatives(index, &["zzznothing", "qqqnothing"]));
        let scorer = none.weight(scoring).unwrap().scorer(reader, 1.0).unwrap();
        assert_eq!(scorer.doc(), TERMINATED);
    }
}
