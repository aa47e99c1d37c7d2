//! Phrases of common words.
//!
//! tantivy's phrase scorer reads a matching document's positions through
//! its postings, which re-add the term frequencies of the block's earlier
//! documents and copy the positions twice on every call: about two thirds
//! of a phrase's time when both words are in most posts (`"for a"`, `"notes
//! on"`), where nearly every post is a candidate. [`Phrase`] answers such
//! phrases by walking the words' postings block by block, keeping each
//! word's offset in its positions as it goes, and reading the positions
//! straight from the positions file. Segments where one of the words is
//! rare (the candidates are few) keep tantivy's scorer. Matches and scores
//! are identical to [`PhraseQuery`]'s (tested).

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use tantivy::directory::{CompositeFile, Directory};
use tantivy::fieldnorm::FieldNormReader;
use tantivy::positions::PositionReader;
use tantivy::postings::BlockSegmentPostings;
use tantivy::query::{
    Bm25Weight, EmptyScorer, EnableScoring, Explanation, PhraseQuery, Query, Scorer, Weight,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{DocId, DocSet, Score, SegmentReader, Term, TERMINATED};

/// A segment's postings are walked block by block when every word of the
/// phrase is in at least `1/DENSE_RATIO` of its documents.
pub const DENSE_RATIO: u64 = 8;

/// An exact phrase (slop 0) in one field: [`PhraseQuery`], faster when
/// its words are common (see the module documentation).
#[derive(Clone)]
pub struct Phrase {
    terms: Vec<Term>,
    /// The index's directory, to read the positions files.
    directory: Arc<dyn Directory>,
    /// Segments whose rarest word is in at least `1/dense_ratio` of the
    /// documents are walked block by block.
    dense_ratio: u64,
}

impl Phrase {
    /// The phrase of `terms` (two or more, all of one field) over the
    /// index stored in `directory`.
    pub fn new(terms: Vec<Term>, directory: Arc<dyn Directory>) -> Phrase {
        Phrase::with_ratio(terms, directory, DENSE_RATIO)
    }

    pub(crate) fn with_ratio(
        terms: Vec<Term>,
        directory: Arc<dyn Directory>,
        dense_ratio: u64,
    ) -> Phrase {
        assert!(terms.len() > 1, "a phrase has two or more terms");
        Phrase {
            terms,
            directory,
            dense_ratio,
        }
    }

    fn field(&self) -> Field {
        self.terms[0].field()
    }
}

impl fmt::Debug for Phrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Phrase")
            .field("terms", &self.terms)
            .finish()
    }
}

impl Query for Phrase {
    fn weight(&self, scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        // tantivy's weight checks the field and answers sparse segments and
        // explanations.
        let inner = PhraseQuery::new(self.terms.clone()).weight(scoring)?;
        let bm25 = match scoring {
            EnableScoring::Enabled {
                statistics_provider,
                ..
            } => Some(Bm25Weight::for_terms(statistics_provider, &self.terms)?),
            EnableScoring::Disabled { .. } => None,
        };
        Ok(Box::new(PhraseWeight {
            phrase: self.clone(),
            inner,
            bm25,
        }))
    }

    fn query_terms<'a>(&'a self, visitor: &mut dyn FnMut(&'a Term, bool)) {
        for term in &self.terms {
            visitor(term, true);
        }
    }
}

struct PhraseWeight {
    phrase: Phrase,
    inner: Box<dyn Weight>,
    bm25: Option<Bm25Weight>,
}

impl PhraseWeight {
    /// The matches of a dense segment, or `None` when a word is rare
    /// there (tantivy's scorer is then faster).
    fn dense_matches(
        &self,
        reader: &SegmentReader,
        boost: Score,
    ) -> tantivy::Result<Option<Matches>> {
        let field = self.phrase.field();
        let inverted = reader.inverted_index(field)?;
        let mut infos = Vec::with_capacity(self.phrase.terms.len());
        for term in &self.phrase.terms {
            match inverted.get_term_info(term)? {
                Some(info) => infos.push(info),
                None => return Ok(Some(Matches::default())),
            }
        }
        let rarest = infos.iter().map(|i| i.doc_freq).min().unwrap_or(0);
        if (rarest as u64).saturating_mul(self.phrase.dense_ratio) < reader.max_doc() as u64 {
            return Ok(None);
        }
        let path = PathBuf::from(format!("{}.pos", reader.segment_id().uuid_string()));
        let positions = CompositeFile::open(&self.phrase.directory.open_read(&path)?)?
            .open_read(field)
            .ok_or_else(|| {
                tantivy::TantivyError::InternalError(format!("no positions for field {field:?}"))
            })?;
        let mut cursors = Vec::with_capacity(infos.len());
        for info in &infos {
            cursors.push(Cursor {
                block: inverted
                    .read_block_postings_from_terminfo(info, IndexRecordOption::WithFreqs)?,
                i: 0,
                offset: 0,
                positions: PositionReader::open(
                    positions.read_bytes_slice(info.positions_range.clone())?,
                )?,
            });
        }
        let fieldnorms = match self.bm25 {
            Some(_) => reader.fieldnorms_readers().get_field(field)?,
            None => None,
        }
        .unwrap_or_else(|| FieldNormReader::constant(reader.max_doc(), 1));
        let bm25 = self.bm25.as_ref().map(|w| w.boost_by(boost));
        Matches::collect(&mut cursors, |doc, count| match &bm25 {
            Some(w) => w.score(fieldnorms.fieldnorm_id(doc), count),
            None => 1.0,
        })
        .map(Some)
    }
}

impl Weight for PhraseWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        match self.dense_matches(reader, boost)? {
            Some(m) if m.docs.is_empty() => Ok(Box::new(EmptyScorer)),
            Some(m) => Ok(Box::new(m)),
            None => self.inner.scorer(reader, boost),
        }
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        self.inner.explain(reader, doc)
    }
}

/// One word's postings, walked block by block.
struct Cursor {
    block: BlockSegmentPostings,
    /// The current document's index in the block.
    i: usize,
    /// The word's positions before the current document's, in its
    /// positions list.
    offset: u64,
    positions: PositionReader,
}

impl Cursor {
    fn doc(&self) -> DocId {
        self.block.docs().get(self.i).copied().unwrap_or(TERMINATED)
    }

    fn freq(&self) -> u32 {
        self.block.freqs()[self.i]
    }

    /// Moves to the first document at or after `target`; its number.
    fn seek(&mut self, target: DocId) -> DocId {
        loop {
            let docs = self.block.docs();
            let Some(&last) = docs.last() else {
                return TERMINATED;
            };
            if last >= target {
                break;
            }
            self.offset += self.block.freqs()[self.i..]
                .iter()
                .map(|&f| f as u64)
                .sum::<u64>();
            self.block.advance();
            self.i = 0;
        }
        let (docs, freqs) = (self.block.docs(), self.block.freqs());
        while docs[self.i] < target {
            self.offset += freqs[self.i] as u64;
            self.i += 1;
        }
        docs[self.i]
    }

    /// Moves past the current document.
    fn advance(&mut self) {
        self.offset += self.freq() as u64;
        self.i += 1;
        if self.i == self.block.docs().len() {
            self.block.advance();
            self.i = 0;
        }
    }

    /// The current document's positions of the word, less `shift`, into
    /// `out` (positions before `shift` are dropped).
    fn positions(&mut self, shift: u32, out: &mut Vec<u32>) {
        let freq = self.freq() as usize;
        out.clear();
        out.resize(freq, 0);
        self.positions.read(self.offset, out);
        let mut position = 0u32;
        let mut kept = 0;
        for i in 0..freq {
            position += out[i];
            if position >= shift {
                out[kept] = position - shift;
                kept += 1;
            }
        }
        out.truncate(kept);
    }
}

/// The matching documents of a segment and their scores, computed up front.
#[derive(Default)]
struct Matches {
    docs: Vec<DocId>,
    scores: Vec<Score>,
    cursor: usize,
}

impl Matches {
    /// Walks `cursors` (one per word, in phrase order) to the documents
    /// holding the phrase; `score` scores a document from its phrase count.
    /// Stops when the request's budget is spent (see [`crate::budget`]).
    fn collect(
        cursors: &mut [Cursor],
        score: impl Fn(DocId, u32) -> Score,
    ) -> tantivy::Result<Matches> {
        let mut out = Matches::default();
        let mut starts = Vec::new();
        let mut next = Vec::new();
        let mut bits = Vec::new();
        let mut target = cursors[0].doc();
        let mut candidates = 0u32;
        'docs: while target != TERMINATED {
            candidates = candidates.wrapping_add(1);
            if candidates.is_multiple_of(crate::budget::CHECK_EVERY) {
                crate::budget::check_tantivy()?;
            }
            for cursor in cursors.iter_mut() {
                let doc = cursor.seek(target);
                if doc != target {
                    target = doc;
                    continue 'docs;
                }
            }
            // Every word is in `target`: the phrase starts where word 0 is
            // and word k is k positions later.
            cursors[0].positions(0, &mut starts);
            for (k, cursor) in cursors.iter_mut().enumerate().skip(1) {
                if starts.is_empty() {
                    break;
                }
                cursor.positions(k as u32, &mut next);
                intersect(&mut starts, &next, &mut bits);
            }
            if !starts.is_empty() {
                out.docs.push(target);
                out.scores.push(score(target, starts.len() as u32));
            }
            cursors[0].advance();
            target = cursors[0].doc();
        }
        Ok(out)
    }
}

/// Keeps in `a` the values also in `b`, through `bits` (all clear, and
/// left clear): `b`'s values are set as bits, then each of `a`'s tested.
/// Unlike a merge of the two lists, nothing branches on the values.
fn intersect(a: &mut Vec<u32>, b: &[u32], bits: &mut Vec<u64>) {
    let Some(&last) = b.last() else {
        a.clear();
        return;
    };
    let words = last as usize / 64 + 1;
    if bits.len() < words {
        bits.resize(words, 0);
    }
    for &v in b {
        bits[v as usize / 64] |= 1 << (v % 64);
    }
    let mut kept = 0;
    for i in 0..a.len() {
        let v = a[i];
        let word = bits.get(v as usize / 64).copied().unwrap_or(0);
        a[kept] = v;
        kept += ((word >> (v % 64)) & 1) as usize;
    }
    a.truncate(kept);
    for &v in b {
        bits[v as usize / 64] = 0;
    }
}

impl DocSet for Matches {
    fn advance(&mut self) -> DocId {
        self.cursor += 1;
        self.doc()
    }

    fn seek(&mut self, target: DocId) -> DocId {
        let rest = &self.docs[self.cursor.min(self.docs.len())..];
        self.cursor += rest.partition_point(|&d| d < target);
        self.doc()
    }

    fn doc(&self) -> DocId {
        self.docs.get(self.cursor).copied().unwrap_or(TERMINATED)
    }

    fn size_hint(&self) -> u32 {
        self.docs.len() as u32
    }
}

impl Scorer for Matches {
    fn score(&mut self) -> Score {
        self.scores[self.cursor]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use postsearch_store::analysis::{text_analyzer, tokens};
    use postsearch_store::index::PostIndex;
    use postsearch_store::indexer::{Writer, WriterOptions};

    /// An in-RAM index of 400 generated posts in several segments, some
    /// deleted, one with a phrase repeated and a word doubled.
    fn index() -> PostIndex {
        let index = postsearch_corpus::in_ram_index(23, 2, 200, |number, post| {
            if number % 1000 == 7 {
                post.body = Some("for a for a start: the the the end, for a".into());
            }
        });
        let mut w = Writer::new(&index, WriterOptions::default()).unwrap();
        for n in (0..200).step_by(9) {
            w.delete(&postsearch_corpus::generate_post(23, n).id)
                .unwrap();
        }
        w.commit().unwrap();
        index
    }

    /// Every (segment, doc, score bits) a weight's scorers yield.
    fn matches(weight: &dyn Weight, index: &PostIndex, boost: Score) -> Vec<(usize, DocId, u32)> {
        let searcher = index.searcher();
        let mut out = Vec::new();
        for (ord, reader) in searcher.segment_readers().iter().enumerate() {
            let mut scorer = weight.scorer(reader, boost).unwrap();
            while scorer.doc() != TERMINATED {
                out.push((ord, scorer.doc(), scorer.score().to_bits()));
                scorer.advance();
            }
        }
        out
    }

    #[test]
    fn answers_as_tantivys_phrase_query() {
        let index = index();
        let searcher = index.searcher();
        let directory: Arc<dyn Directory> = Arc::new(searcher.index().directory().clone());
        let mut phrases: Vec<String> = ["for a", "the the", "for a for", "in the", "a zzzunknown"]
            .map(String::from)
            .to_vec();
        for n in [1, 5, 1003] {
            let title = postsearch_corpus::generate_post(23, n).title;
            let words: Vec<&str> = title.split_whitespace().collect();
            phrases.push(words[..2].join(" "));
            phrases.push(words[1..4.min(words.len())].join(" "));
        }
        let mut dense_segments = 0;
        for phrase in &phrases {
            let words: Vec<String> = tokens(&mut text_analyzer(), phrase)
                .into_iter()
                .map(|(t, _, _)| t)
                .collect();
            for (field, _) in index.fields().text_fields() {
                let terms: Vec<Term> = words
                    .iter()
                    .map(|w| Term::from_field_text(field, w))
                    .collect();
                let ours_forced = Phrase::with_ratio(terms.clone(), directory.clone(), u64::MAX);
                let ours = Phrase::new(terms.clone(), directory.clone());
                let theirs = PhraseQuery::new(terms);
                for scoring in [
                    EnableScoring::enabled_from_searcher(&searcher),
                    EnableScoring::disabled_from_searcher(&searcher),
                ] {
                    let expected = matches(&*theirs.weight(scoring).unwrap(), &index, 1.5);
                    for query in [&ours_forced, &ours] {
                        let got = matches(&*query.weight(scoring).unwrap(), &index, 1.5);
                        assert_eq!(got, expected, "{phrase:?} in {field:?}");
                    }
                }
                // Segments holding every word take the block-by-block walk
                // when forced.
                for reader in searcher.segment_readers() {
                    let inverted = reader.inverted_index(field).unwrap();
                    dense_segments += words
                        .iter()
                        .all(|w| inverted.doc_freq(&Term::from_field_text(field, w)).unwrap() > 0)
                        as usize;
                }
            }
        }
        assert!(dense_segments > 10, "{dense_segments}");
    }

    #[test]
    fn intersect_keeps_the_common_values() {
        let mut bits = Vec::new();
        let mut a = vec![0, 3, 64, 65, 200, 1000];
        intersect(&mut a, &[3, 4, 65, 1000, 5000], &mut bits);
        assert_eq!(a, vec![3, 65, 1000]);
        assert!(bits.iter().all(|&w| w == 0));
        let mut a = vec![1, 2];
        intersect(&mut a, &[], &mut bits);
        assert!(a.is_empty());
        let mut a = vec![70_000];
        intersect(&mut a, &[5], &mut bits);
        assert!(a.is_empty());
    }
}
