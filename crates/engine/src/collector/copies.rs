//! Which posts have copies (another live post with the same `hash`), for
//! distinct results. About 1 post in 100 has one, so a distinct search
//! keeps the others in its ordinary top-`k` heap and groups only these.
//! Computed once per searcher generation: a commit can add or delete a
//! copy anywhere in the index.

use super::columns::SegmentColumns;
use crate::cache::GenerationCache;
use rustc_hash::FxHashMap;
use std::sync::Arc;
use tantivy::Searcher;

/// Per segment (by ordinal), per document: the fingerprint of its group of
/// copies, or [`NO_COPIES`].
#[derive(Debug, Default)]
pub struct Copies {
    by_segment: Vec<Vec<u64>>,
}

/// A post with no copy (no fingerprint is this value; see [`Copies::of`]).
pub const NO_COPIES: u64 = 0;

impl Copies {
    /// The copies of `searcher`'s live posts; `columns` are its segments'.
    pub fn of(searcher: &Searcher, columns: &[Arc<SegmentColumns>]) -> Copies {
        let groups = |reader: &tantivy::SegmentReader, cols: &SegmentColumns| {
            let alive = reader.alive_bitset();
            (0..reader.max_doc())
                .map(move |doc| {
                    if alive.is_some_and(|a| !a.is_alive(doc)) {
                        return NO_COPIES;
                    }
                    // A fingerprint of 0 is taken as 1: 0 means no copies.
                    cols.group_of(doc).map_or(NO_COPIES, |g| g.max(1))
                })
                .collect::<Vec<u64>>()
        };
        let readers = searcher.segment_readers();
        let mut by_segment: Vec<Vec<u64>> = readers
            .iter()
            .zip(columns)
            .map(|(r, c)| groups(r, c))
            .collect();
        let mut posts: FxHashMap<u64, u32> = FxHashMap::default();
        for &g in by_segment.iter().flatten() {
            if g != NO_COPIES {
                *posts.entry(g).or_default() += 1;
            }
        }
        for g in by_segment.iter_mut().flatten() {
            if posts.get(g).is_none_or(|&n| n < 2) {
                *g = NO_COPIES;
            }
        }
        Copies { by_segment }
    }

    /// The group of each document of segment `ord` ([`NO_COPIES`] for a
    /// post without copies).
    pub fn segment(&self, ord: usize) -> &[u64] {
        self.by_segment.get(ord).map_or(&[], Vec::as_slice)
    }
}

/// [`Copies`] for the current searcher generation, shared by an engine's
/// clones.
pub type CopiesCache = GenerationCache<(), Arc<Copies>, 1>;

/// The copies of `searcher`'s posts, from `cache` or computed.
pub fn copies_of(
    cache: &CopiesCache,
    searcher: &Searcher,
    columns: &[Arc<SegmentColumns>],
) -> tantivy::Result<Arc<Copies>> {
    let generation = searcher.generation().generation_id();
    cache.get_or(generation, (), || {
        Ok(Arc::new(Copies::of(searcher, columns)))
    })
}
