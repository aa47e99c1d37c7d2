//! What searches read in one segment ([`SegmentColumns`]): its fast-field
//! columns, the labels of its facet values, its facet rows and each
//! document's meta score and score-part buckets, opened once and shared by
//! every search through the [`ColumnCache`] (opening a column means finding
//! it in the segment's column directory, which a search would otherwise do
//! a dozen times per segment).

use super::facet_rows::{bucket_code, FacetOrds};
use crate::ranking::{MetaColumns, RankingConfig};
use postsearch_store::schema::{FACET_FIELDS, SCORE_FIELDS};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tantivy::columnar::{Column, StrColumn};
use tantivy::index::SegmentId;
use tantivy::{Searcher, SegmentReader};

/// What searches read in one segment: its fast-field columns and the
/// labels of its facet values, opened once and shared.
pub struct SegmentColumns {
    pub id: Option<StrColumn>,
    /// The `hash` column: posts with the same hash are copies.
    pub hash: Option<StrColumn>,
    /// A fingerprint of each `hash` value, by term ordinal: the same in
    /// every segment. Computed the first time a search asks for distinct
    /// results ([`SegmentColumns::hash_groups`]).
    pub(super) hash_fingerprints: std::sync::OnceLock<Vec<u64>>,
    /// The string facet columns ([`FACET_FIELDS`] order).
    pub facets: Vec<Option<StrColumn>>,
    /// Term ordinal → value, per string facet column.
    pub labels: Vec<Vec<String>>,
    /// Where each facet column's ordinals start in the combined ordinal
    /// space of all facet columns (column `i` holds `bases[i]..bases[i+1]`).
    pub facet_bases: [u32; FACET_FIELDS.len() + 1],
    /// Each document's combined facet ordinals in plain arrays (`None`: too
    /// many values for 16 bits; the columns are read instead).
    pub facet_ords: Option<FacetOrds>,
    /// The score part columns ([`SCORE_FIELDS`] order).
    pub scores: Vec<Column<u64>>,
    pub meta_inputs: Column<u64>,
    /// Each document's meta score under [`SegmentColumns::ranking`]: one
    /// load per match instead of unpacking and weighing its inputs.
    pub meta_scores: Vec<f32>,
    /// The highest of `meta_scores` (0 for an empty segment).
    pub meta_max: f32,
    /// The ranking the meta scores were computed under.
    pub ranking: RankingConfig,
    /// Each document's score-part buckets, one per 4 bits ([`SCORE_FIELDS`]
    /// order; [`NO_BUCKET`](super::NO_BUCKET) when the post lacks the part).
    pub bucket_codes: Vec<u16>,
    pub view_count: Column<u64>,
    pub last_reviewed: Column<tantivy::DateTime>,
}

impl SegmentColumns {
    /// Opens the columns of `segment`, reads its facet dictionaries and
    /// computes its meta scores under `ranking`.
    pub fn open(
        segment: &SegmentReader,
        ranking: &RankingConfig,
    ) -> tantivy::Result<SegmentColumns> {
        let ff = segment.fast_fields();
        let facets = FACET_FIELDS
            .iter()
            .map(|n| ff.str(n))
            .collect::<tantivy::Result<Vec<_>>>()?;
        let mut labels = Vec::with_capacity(facets.len());
        for col in &facets {
            let mut values = Vec::new();
            if let Some(col) = col {
                let mut terms = col.dictionary().stream()?;
                while terms.advance() {
                    values.push(String::from_utf8_lossy(terms.key()).into_owned());
                }
            }
            labels.push(values);
        }
        let mut facet_bases = [0u32; FACET_FIELDS.len() + 1];
        for (i, col) in facets.iter().enumerate() {
            let terms = col.as_ref().map_or(0, |c| c.num_terms());
            facet_bases[i + 1] = facet_bases[i].saturating_add(terms as u32);
        }
        let meta_inputs = ff.u64("meta_inputs")?;
        let meta = MetaColumns::new(meta_inputs.clone(), ranking);
        let mut meta_scores = Vec::with_capacity(segment.max_doc() as usize);
        let mut bucket_codes = Vec::with_capacity(segment.max_doc() as usize);
        for doc in 0..segment.max_doc() {
            let inputs = meta.inputs(doc);
            meta_scores.push(meta.meta_from(&inputs));
            bucket_codes.push(bucket_code(&inputs));
        }
        let facet_ords = FacetOrds::of_columns(&facets, &facet_bases, &bucket_codes);
        let meta_max = meta_scores.iter().copied().fold(0.0, f32::max);
        Ok(SegmentColumns {
            id: ff.str("id")?,
            hash: ff.str("hash")?,
            hash_fingerprints: std::sync::OnceLock::new(),
            facets,
            labels,
            facet_bases,
            facet_ords,
            scores: SCORE_FIELDS
                .iter()
                .map(|n| ff.u64(n))
                .collect::<tantivy::Result<Vec<_>>>()?,
            meta_inputs,
            meta_scores,
            meta_max,
            ranking: ranking.clone(),
            bucket_codes,
            view_count: ff.u64("view_count")?,
            last_reviewed: ff.date("last_reviewed")?,
        })
    }

    /// The fingerprint of each `hash` value of the segment, by term
    /// ordinal (64-bit SipHash of the value: a collision between two
    /// different hashes of one index is as good as impossible).
    pub fn hash_groups(&self) -> &[u64] {
        self.hash_fingerprints.get_or_init(|| {
            let Some(col) = &self.hash else {
                return Vec::new();
            };
            let mut out = Vec::with_capacity(col.num_terms());
            let Ok(mut terms) = col.dictionary().stream() else {
                return Vec::new();
            };
            while terms.advance() {
                use std::hash::{BuildHasher, BuildHasherDefault};
                let build = BuildHasherDefault::<std::hash::DefaultHasher>::default();
                out.push(build.hash_one(terms.key()));
            }
            out
        })
    }

    /// The duplicate group of `doc` (its hash's fingerprint); `None` for a
    /// post without a hash, which is a group of its own.
    pub fn group_of(&self, doc: tantivy::DocId) -> Option<u64> {
        let ord = self.hash.as_ref()?.term_ords(doc).next()?;
        self.hash_groups().get(ord as usize).copied()
    }

    /// Whether the documents' meta scores were computed under `ranking`'s
    /// weights.
    pub(super) fn has_meta_scores_of(&self, ranking: &RankingConfig) -> bool {
        self.ranking.same_meta_weights(ranking)
    }
}

/// Opened [`SegmentColumns`] by segment, shared by an engine's clones:
/// opening a column means finding it in the segment's column directory,
/// which a search would otherwise do a dozen times per segment.
#[derive(Clone)]
pub struct ColumnCache {
    segments: Arc<Mutex<HashMap<SegmentId, ColumnSlot>>>,
    /// The ranking the segments' meta scores are computed under.
    ranking: RankingConfig,
}

/// A segment's columns once opened.
type ColumnSlot = Arc<Mutex<Option<Arc<SegmentColumns>>>>;

impl ColumnCache {
    /// An empty cache for an engine ranking by `ranking`.
    pub fn new(ranking: &RankingConfig) -> ColumnCache {
        ColumnCache {
            segments: Default::default(),
            ranking: ranking.clone(),
        }
    }

    /// The columns of each segment of `searcher`, by segment ordinal;
    /// segments no longer searched are forgotten.
    pub fn for_searcher(&self, searcher: &Searcher) -> tantivy::Result<Vec<Arc<SegmentColumns>>> {
        let readers = searcher.segment_readers();
        let lock = || self.segments.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = Vec::with_capacity(readers.len());
        for reader in readers {
            let slot = lock().entry(reader.segment_id()).or_default().clone();
            // Opened under the segment's own lock, not the map's (copying
            // the facet ordinals of a big segment takes a while): searches
            // racing for the same new segment wait for one opening instead
            // of each making a copy, while other segments stay available.
            let mut opened = slot.lock().unwrap_or_else(|e| e.into_inner());
            let cols = match opened.as_ref() {
                Some(cols) => cols.clone(),
                None => {
                    let cols = Arc::new(SegmentColumns::open(reader, &self.ranking)?);
                    *opened = Some(cols.clone());
                    cols
                }
            };
            out.push(cols);
        }
        let mut map = lock();
        if map.len() > readers.len() {
            let live: Vec<SegmentId> = readers.iter().map(|r| r.segment_id()).collect();
            map.retain(|id, _| live.contains(id));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::NO_BUCKET;
    use crate::facets::bucket_of;
    use postsearch_corpus::in_ram_index;

    #[test]
    fn precomputed_meta_scores_and_buckets_equal_those_of_the_inputs() {
        let index = in_ram_index(9, 1, 200, |n, post| {
            if n % 5 == 0 {
                post.score = None; // no inputs: meta score 0
                post.view_count = None;
            }
        });
        let searcher = index.searcher();
        let segment = &searcher.segment_readers()[0];
        let ranking = RankingConfig::default();
        let cols = SegmentColumns::open(segment, &ranking).unwrap();
        let meta = MetaColumns::new(cols.meta_inputs.clone(), &ranking);
        for doc in 0..segment.max_doc() {
            let expected = meta.meta_from(&meta.inputs(doc));
            assert_eq!(cols.meta_scores[doc as usize].to_bits(), expected.to_bits());
        }
        for doc in 0..segment.max_doc() {
            let inputs = meta.inputs(doc);
            let code = cols.bucket_codes[doc as usize];
            for (i, part) in inputs.parts.iter().enumerate() {
                let bucket = (code >> (4 * i)) & NO_BUCKET;
                assert_eq!(
                    part.map(bucket_of),
                    (bucket != NO_BUCKET).then_some(bucket as usize)
                );
            }
        }
        assert!(cols.bucket_codes.contains(&0xffff));
        assert!(cols.meta_scores.contains(&0.0));
        assert!(cols.meta_scores.iter().any(|&m| m > 0.0));
        assert!(cols.has_meta_scores_of(&ranking));
        let other = RankingConfig {
            quality: 0.9,
            ..RankingConfig::default()
        };
        assert!(!cols.has_meta_scores_of(&other));
        let blend_only = RankingConfig {
            meta_weight: 0.9,
            ..RankingConfig::default()
        };
        assert!(cols.has_meta_scores_of(&blend_only));
    }
}
