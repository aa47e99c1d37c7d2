//! Docsets moved together, each one's current document kept beside it:
//! the fields of a BM25F word, the alternatives of a lazy union, the terms
//! of a minimum match. A seek or a score asks every one where it is; with
//! the documents in an array that is a read, not a call through a boxed
//! scorer or into a postings block.

use tantivy::query::Scorer;
use tantivy::{DocId, DocSet, Score, TERMINATED};

/// The docsets and the document each is on, in the order given.
pub(crate) struct Cursors<T> {
    pub(crate) sets: Vec<T>,
    pub(crate) docs: Vec<DocId>,
}

impl<T: DocSet> Cursors<T> {
    pub(crate) fn new(sets: Vec<T>) -> Cursors<T> {
        let docs = sets.iter().map(|s| s.doc()).collect();
        Cursors { sets, docs }
    }

    /// The lowest document any is on (`TERMINATED` when all are done).
    pub(crate) fn lowest(&self) -> DocId {
        self.docs.iter().copied().min().unwrap_or(TERMINATED)
    }

    /// Advances those on `current`; the lowest document after.
    #[inline]
    pub(crate) fn advance_from(&mut self, current: DocId) -> DocId {
        let mut lowest = TERMINATED;
        for (set, doc) in self.sets.iter_mut().zip(&mut self.docs) {
            if *doc == current {
                *doc = set.advance();
            }
            lowest = lowest.min(*doc);
        }
        lowest
    }

    /// Seeks those before `target` to it; the lowest document after.
    #[inline]
    pub(crate) fn seek_to(&mut self, target: DocId) -> DocId {
        let mut lowest = TERMINATED;
        for (set, doc) in self.sets.iter_mut().zip(&mut self.docs) {
            if *doc < target {
                *doc = set.seek(target);
            }
            lowest = lowest.min(*doc);
        }
        lowest
    }
}

impl<T: Scorer> Cursors<T> {
    /// The scores of those on `doc` summed from 0, in order: the sum
    /// tantivy's union takes.
    #[inline]
    pub(crate) fn score_on(&mut self, doc: DocId) -> Score {
        let mut score = 0.0;
        for (set, &at) in self.sets.iter_mut().zip(&self.docs) {
            if at == doc {
                score += set.score();
            }
        }
        score
    }
}
