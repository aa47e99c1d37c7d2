//! Where a term's postings are in a segment, remembered.
//!
//! A query looks up each of its terms — every word, typo variant and
//! completion, in each text field — once per segment three times over: for
//! the cost of its clause, for its collection statistics, and to open its
//! postings. Each lookup walks the field's term dictionary (an FST), a
//! search-as-you-type prefix brings two dozen completions, and similar
//! posts weigh a post's few hundred words. A segment never
//! changes once written (deletes do not touch its term dictionaries), so
//! what a term's entry says in it is remembered by segment id, for every
//! searcher and generation, until the cache is full and starts over.

use rustc_hash::FxHashMap;
use std::sync::{Mutex, OnceLock};
use tantivy::index::SegmentId;
use tantivy::postings::{SegmentPostings, TermInfo};
use tantivy::query::Bm25StatisticsProvider;
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{Searcher, SegmentReader, Term};

/// Most entries remembered, over all segments: each is ~100 bytes, so
/// the cache holds at most ~25 MB.
const CAPACITY: usize = 250_000;

#[derive(Default)]
struct Entries {
    by_segment: FxHashMap<SegmentId, FxHashMap<Term, Option<TermInfo>>>,
    len: usize,
    /// The tokens of a field in a segment (BM25's average field length):
    /// asked for by every term's weight, and tantivy builds an empty
    /// reader anew each time for a field a segment holds no text of.
    tokens: FxHashMap<(SegmentId, Field), u64>,
}

impl Entries {
    /// Room for one more entry: past [`CAPACITY`], everything is let go.
    fn make_room(&mut self) {
        if self.len >= CAPACITY {
            *self = Entries::default();
        }
        self.len += 1;
    }
}

fn entries() -> &'static Mutex<Entries> {
    static ENTRIES: OnceLock<Mutex<Entries>> = OnceLock::new();
    ENTRIES.get_or_init(Default::default)
}

/// The entry of `term` in `segment`'s dictionary of its field (`None`: the
/// segment does not hold it).
pub fn term_info(segment: &SegmentReader, term: &Term) -> tantivy::Result<Option<TermInfo>> {
    let id = segment.segment_id();
    {
        let entries = entries().lock().unwrap_or_else(|e| e.into_inner());
        if let Some(found) = entries
            .by_segment
            .get(&id)
            .and_then(|terms| terms.get(term))
        {
            return Ok(found.clone());
        }
    }
    let found = segment.inverted_index(term.field())?.get_term_info(term)?;
    let mut entries = entries().lock().unwrap_or_else(|e| e.into_inner());
    entries.make_room();
    entries
        .by_segment
        .entry(id)
        .or_default()
        .insert(term.clone(), found.clone());
    Ok(found)
}

/// The postings of `term` in `segment` (`None`: it holds none), as
/// `InvertedIndexReader::read_postings` gives them.
pub fn read_postings(
    segment: &SegmentReader,
    term: &Term,
    option: IndexRecordOption,
) -> tantivy::Result<Option<SegmentPostings>> {
    let Some(info) = term_info(segment, term)? else {
        return Ok(None);
    };
    let inverted = segment.inverted_index(term.field())?;
    Ok(Some(inverted.read_postings_from_terminfo(&info, option)?))
}

/// The documents of `searcher` holding `term` (deleted ones included), as
/// `Searcher::doc_freq` counts them.
pub fn doc_freq(searcher: &Searcher, term: &Term) -> tantivy::Result<u64> {
    let mut df = 0;
    for segment in searcher.segment_readers() {
        df += term_info(segment, term)?.map_or(0, |info| info.doc_freq as u64);
    }
    Ok(df)
}

/// [`doc_freq`] of each of `terms`, the remembered entries read under one
/// lock (more-like-this weighs a post's few hundred words at once, and a
/// query's clauses are costed by their terms' postings).
pub fn doc_freqs(searcher: &Searcher, terms: &[&Term]) -> tantivy::Result<Vec<u64>> {
    let segments = searcher.segment_readers();
    let mut dfs = vec![0u64; terms.len()];
    // (term, segment) of the entries not remembered yet.
    let mut unknown = Vec::new();
    {
        let entries = entries().lock().unwrap_or_else(|e| e.into_inner());
        for (s, segment) in segments.iter().enumerate() {
            let of_segment = entries.by_segment.get(&segment.segment_id());
            for (t, term) in terms.iter().enumerate() {
                match of_segment.and_then(|terms| terms.get(*term)) {
                    Some(info) => dfs[t] += info.as_ref().map_or(0, |i| i.doc_freq as u64),
                    None => unknown.push((t, s)),
                }
            }
        }
    }
    for (t, s) in unknown {
        dfs[t] += term_info(&segments[s], terms[t])?.map_or(0, |i| i.doc_freq as u64);
    }
    Ok(dfs)
}

/// The tokens of `field` in `searcher`'s segments, as
/// `Searcher::total_num_tokens` counts them, each segment's remembered.
pub fn total_num_tokens(searcher: &Searcher, field: Field) -> tantivy::Result<u64> {
    let segments = searcher.segment_readers();
    let known: Vec<Option<u64>> = {
        let entries = entries().lock().unwrap_or_else(|e| e.into_inner());
        segments
            .iter()
            .map(|s| entries.tokens.get(&(s.segment_id(), field)).copied())
            .collect()
    };
    let mut total = 0;
    for (segment, known) in segments.iter().zip(known) {
        total += match known {
            Some(tokens) => tokens,
            None => {
                let tokens = segment.inverted_index(field)?.total_num_tokens();
                let mut entries = entries().lock().unwrap_or_else(|e| e.into_inner());
                entries.make_room();
                entries.tokens.insert((segment.segment_id(), field), tokens);
                tokens
            }
        };
    }
    Ok(total)
}

/// A searcher's collection statistics, its document frequencies and
/// token counts from the remembered entries.
pub struct Statistics<'a>(pub &'a Searcher);

impl Bm25StatisticsProvider for Statistics<'_> {
    fn total_num_tokens(&self, field: Field) -> tantivy::Result<u64> {
        total_num_tokens(self.0, field)
    }

    fn total_num_docs(&self) -> tantivy::Result<u64> {
        Bm25StatisticsProvider::total_num_docs(self.0)
    }

    fn doc_freq(&self, term: &Term) -> tantivy::Result<u64> {
        doc_freq(self.0, term)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use postsearch_corpus::in_ram_index;

    #[test]
    fn remembered_entries_answer_as_the_dictionaries_do() {
        let index = in_ram_index(5, 2, 300, |_, _| {});
        let searcher = index.searcher();
        let fields = index.fields();
        for word in ["the", "cache", "deploy", "zzznothing"] {
            for field in [fields.title, fields.body] {
                let term = Term::from_field_text(field, word);
                // Asked twice: computed, then remembered.
                for _ in 0..2 {
                    assert_eq!(
                        doc_freq(&searcher, &term).unwrap(),
                        searcher.doc_freq(&term).unwrap()
                    );
                    for segment in searcher.segment_readers() {
                        let ours = read_postings(segment, &term, IndexRecordOption::WithFreqs)
                            .unwrap()
                            .map(|p| p.doc_freq());
                        let theirs = segment
                            .inverted_index(field)
                            .unwrap()
                            .read_postings(&term, IndexRecordOption::WithFreqs)
                            .unwrap()
                            .map(|p| p.doc_freq());
                        assert_eq!(ours, theirs, "{word}");
                    }
                }
            }
        }
        assert!(
            searcher
                .doc_freq(&Term::from_field_text(fields.body, "the"))
                .unwrap()
                > 0
        );
        // In one batch: remembered and new terms alike.
        let terms: Vec<Term> = ["the", "cache", "kubernetes", "zzzother"]
            .iter()
            .flat_map(|w| [fields.title, fields.body].map(|f| Term::from_field_text(f, w)))
            .collect();
        let batch = doc_freqs(&searcher, &terms.iter().collect::<Vec<_>>()).unwrap();
        let one_by_one: Vec<u64> = terms
            .iter()
            .map(|t| searcher.doc_freq(t).unwrap())
            .collect();
        assert_eq!(batch, one_by_one);
    }

    #[test]
    fn remembered_token_counts_are_the_searchers() {
        // The second batch's posts have no checklist: its segment holds no
        // text of that field.
        let index = in_ram_index(7, 2, 200, |n, post| {
            if n >= 1000 {
                post.checklist = None;
            }
        });
        let searcher = index.searcher();
        assert!(searcher.segment_readers().len() >= 2);
        for (field, _) in index.fields().text_fields() {
            // Asked twice: computed, then remembered.
            for _ in 0..2 {
                assert_eq!(
                    Statistics(&searcher).total_num_tokens(field).unwrap(),
                    Bm25StatisticsProvider::total_num_tokens(&searcher, field).unwrap()
                );
            }
        }
        let fields = index.fields();
        let without = searcher
            .segment_readers()
            .iter()
            .filter(|s| {
                s.inverted_index(fields.checklist)
                    .unwrap()
                    .total_num_tokens()
                    == 0
            })
            .count();
        assert!(without >= 1, "a segment without checklists");
        assert!(total_num_tokens(&searcher, fields.checklist).unwrap() > 0);
    }
}
