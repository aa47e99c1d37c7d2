//! The facet values of a segment's documents copied out as rows of counter
//! slots ([`FacetOrds`]), and the layout of those slots (see [`counters`]):
//! one per string value, one for padding, the buckets of each score part and
//! one per combination of the four parts' buckets. Counting a match's facets
//! is then one row of an array and one counter per slot.

use super::matched::{for_each_bit, MatchedDocs, MatchedDocsRepr};
use crate::facets::{bucket_of, BUCKETS};
use crate::ranking::MetaInputs;
use postsearch_store::schema::{FACET_FIELDS, SCORE_FIELDS};
use tantivy::columnar::StrColumn;
use tantivy::DocId;

/// The 4-bit code of a missing score part in [`SegmentColumns::bucket_codes`](super::SegmentColumns::bucket_codes).
pub const NO_BUCKET: u16 = 0xf;

/// The bucket of score part `part` in bucket code `code` (0..=[`NO_BUCKET`]).
#[inline]
pub(super) fn part_bucket(code: u16, part: usize) -> u16 {
    (code >> (4 * part)) & NO_BUCKET
}

/// The buckets of a post's score parts, packed 4 bits each.
pub(super) fn bucket_code(inputs: &MetaInputs) -> u16 {
    inputs.parts.iter().enumerate().fold(0, |code, (i, part)| {
        let bucket = part.map_or(NO_BUCKET, |v| bucket_of(v) as u16);
        code | bucket << (4 * i)
    })
}

/// The facet values of every document of a segment, copied out of the
/// facet columns once, as counter slots (see [`counters`]): a document's
/// string values (its column's base plus its term ordinal), column by
/// column, padded with [`FacetOrds::pad`] to the widest post's, then the
/// combination of the buckets of its four score parts (one slot for the
/// four: see [`combination_counter`]). Counting a match's facets is then
/// one row of an array (26 bytes in generated posts) and one counter per
/// slot, with the same number of slots for every document: a loop whose
/// length varied with the post (9–12 values in generated posts) cost a
/// mispredicted branch on most matches, and the buckets, kept apart,
/// another cache miss.
pub struct FacetOrds {
    width: usize,
    pad: u16,
    ords: Vec<u16>,
    /// Every row counted, by slot: the counts of a search that matches
    /// every document (deleted ones included).
    totals: Vec<u32>,
}

/// The most string values a document may have across the facet columns for
/// the rows to be copied out (beyond it, every row would be as wide as the
/// widest post's, and the columns are read instead).
pub(super) const MAX_FACET_VALUES: usize = 16;

impl FacetOrds {
    /// The rows of documents `0..max_doc`, from the string facet `cols`
    /// (combined ordinals from `bases`) and each document's `bucket_codes`;
    /// `None` when the counter slots do not fit 16 bits, or a document has
    /// more than [`MAX_FACET_VALUES`] string values.
    pub(super) fn of_columns(
        cols: &[Option<StrColumn>],
        bases: &[u32],
        bucket_codes: &[u16],
    ) -> Option<FacetOrds> {
        let pad = bases[cols.len()];
        if counters(bases) > u16::MAX as usize + 1 {
            return None;
        }
        let max_doc = bucket_codes.len() as DocId;
        let mut values = 0;
        for doc in 0..max_doc {
            let n: usize = cols
                .iter()
                .flatten()
                .map(|c| c.term_ords(doc).count())
                .sum();
            values = values.max(n);
        }
        if values > MAX_FACET_VALUES {
            return None;
        }
        let width = values + 1;
        // Sized exactly up front: no grown-and-dropped buffers left behind
        // in the allocator of a long-running server.
        let mut ords = vec![pad as u16; width * max_doc as usize];
        for ((doc, row), &code) in (0..max_doc)
            .zip(ords.chunks_exact_mut(width))
            .zip(bucket_codes)
        {
            let (strings, combination) = row.split_at_mut(values);
            let doc_values = cols
                .iter()
                .zip(bases)
                .filter_map(|(col, &base)| Some((col.as_ref()?, base)))
                .flat_map(|(col, base)| col.term_ords(doc).map(move |o| (base as u64 + o) as u16));
            for (slot, ord) in strings.iter_mut().zip(doc_values) {
                *slot = ord;
            }
            combination[0] = combination_counter(bases, code) as u16;
        }
        let mut totals = vec![0u32; counters(bases)];
        for &ord in &ords {
            totals[ord as usize] += 1;
        }
        Some(FacetOrds {
            width,
            pad: pad as u16,
            ords,
            totals,
        })
    }

    /// The row of `doc`: its counter slots.
    #[inline]
    pub fn of(&self, doc: DocId) -> &[u16] {
        let start = doc as usize * self.width;
        &self.ords[start..start + self.width]
    }

    /// The slot that fills a row after its document's string values: one
    /// past the last value's, so it counts toward no facet.
    pub fn pad(&self) -> u16 {
        self.pad
    }

    /// Adds to `counts` (by slot) the rows of the documents in `marks`
    /// (`marked` of them). When most documents are marked, the rows of the
    /// unmarked are taken from the totals instead: a query of common words
    /// reads only the rows of the posts it does not match.
    pub(super) fn count_marks(&self, marks: &MatchedDocs, marked: u64, counts: &mut [u64]) {
        let max_doc = marks.max_doc as u64;
        match &marks.set {
            MatchedDocsRepr::Docs(docs) => docs.iter().for_each(|&doc| self.add_row(doc, counts)),
            MatchedDocsRepr::Bits(bits) if marked * 2 <= max_doc => {
                for_each_bit(bits, max_doc, false, |doc| self.add_row(doc, counts))
            }
            MatchedDocsRepr::Bits(bits) => {
                for (count, &total) in counts.iter_mut().zip(&self.totals) {
                    *count += total as u64;
                }
                for_each_bit(bits, max_doc, true, |doc| {
                    for &ord in self.of(doc) {
                        counts[ord as usize] -= 1;
                    }
                });
            }
        }
    }

    /// Counts the row of `doc` into `counts`, by slot.
    #[inline]
    fn add_row(&self, doc: DocId, counts: &mut [u64]) {
        for &ord in self.of(doc) {
            counts[ord as usize] += 1;
        }
    }
}

/// The number of counter slots of a segment whose string facet columns
/// have combined ordinals `bases` (see [`SegmentColumns::facet_bases`](super::SegmentColumns::facet_bases)):
/// one per string value, one for padding, 16 per score part, one per 4-bit
/// bucket code (the last, [`NO_BUCKET`], counts posts without the part and
/// is never reported), and one per combination of the four parts' buckets.
pub(super) fn counters(bases: &[u32]) -> usize {
    combination_counter(bases, 0) + BUCKET_COMBINATIONS
}

/// Values a score part's bucket takes in a combination: each bucket, or
/// none.
const BUCKET_RADIX: usize = BUCKETS.len() + 1;
/// Combinations of the four score parts' buckets.
const BUCKET_COMBINATIONS: usize = BUCKET_RADIX.pow(SCORE_FIELDS.len() as u32);

/// The counter slot of the combination of buckets of a post with bucket
/// code `code`: a row counts it once instead of counting each part's
/// bucket, and the harvest adds each combination's count to its parts'
/// buckets (see [`add_combinations`]).
pub(super) fn combination_counter(bases: &[u32], code: u16) -> usize {
    let mut combination = 0;
    for part in (0..SCORE_FIELDS.len()).rev() {
        let bucket = part_bucket(code, part) as usize;
        combination = combination * BUCKET_RADIX + bucket.min(BUCKETS.len());
    }
    bucket_counter(bases, SCORE_FIELDS.len(), 0) + combination
}

/// Adds the count of each combination of buckets in `counts` to the
/// counters of its parts' buckets.
pub(super) fn add_combinations(bases: &[u32], counts: &mut [u64]) {
    let first = combination_counter(bases, 0);
    for combination in 0..BUCKET_COMBINATIONS {
        let n = counts[first + combination];
        if n == 0 {
            continue;
        }
        let mut rest = combination;
        for part in 0..SCORE_FIELDS.len() {
            let bucket = rest % BUCKET_RADIX;
            rest /= BUCKET_RADIX;
            let bucket = if bucket == BUCKETS.len() {
                NO_BUCKET
            } else {
                bucket as u16
            };
            counts[bucket_counter(bases, part, bucket)] += n;
        }
    }
}

/// The counter slot of bucket `bucket` (0..=[`NO_BUCKET`]) of score part
/// `part`: after the string values' slots and the padding slot.
#[inline]
pub(super) fn bucket_counter(bases: &[u32], part: usize, bucket: u16) -> usize {
    bases[FACET_FIELDS.len()] as usize + 1 + 16 * part + bucket as usize
}

/// The counter slot of score part `part` of a post with bucket code `code`.
#[inline]
pub(super) fn bucket_slot(bases: &[u32], part: usize, code: u16) -> usize {
    bucket_counter(bases, part, part_bucket(code, part))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::test_support::counting;
    use crate::collector::{SearchCollector, SegmentColumns};
    use crate::facets::Selection;
    use crate::ranking::RankingConfig;
    use postsearch_corpus::in_ram_index;
    use std::sync::Arc;
    use tantivy::{DocAddress, Searcher};

    #[test]
    fn facet_ordinals_copied_out_equal_the_columns() {
        let index = in_ram_index(3, 1, 300, |n, post| {
            if n % 7 == 0 {
                post.tools = None; // documents without values
            }
        });
        let searcher = index.searcher();
        let segment = &searcher.segment_readers()[0];
        let cols = SegmentColumns::open(segment, &RankingConfig::default()).unwrap();
        let ords = cols.facet_ords.as_ref().expect("ordinals");
        let mut seen_empty = false;
        for doc in 0..segment.max_doc() {
            let mut expected = Vec::new();
            for (i, col) in cols.facets.iter().enumerate() {
                let col = col.as_ref().expect("column");
                let before = expected.len();
                let base = cols.facet_bases[i] as u64;
                expected.extend(col.term_ords(doc).map(|o| (base + o) as u16));
                seen_empty |= expected.len() == before;
                let range = cols.facet_bases[i]..cols.facet_bases[i + 1];
                assert!(expected[before..]
                    .iter()
                    .all(|&o| range.contains(&(o as u32))));
            }
            let row = ords.of(doc);
            let (strings, combination) = row.split_at(row.len() - 1);
            assert_eq!(&strings[..expected.len()], &expected[..], "doc {doc}");
            assert!(strings[expected.len()..].iter().all(|&o| o == ords.pad()));
            let code = cols.bucket_codes[doc as usize];
            assert_eq!(
                combination[0] as usize,
                combination_counter(&cols.facet_bases, code)
            );
        }
        assert!(seen_empty);
    }

    type ColumnsBothWays = (Vec<Arc<SegmentColumns>>, Vec<Arc<SegmentColumns>>);

    /// Every segment's columns opened twice: with the facet rows, and
    /// without (counted from the columns).
    fn rows_and_columns_only(searcher: &Searcher) -> ColumnsBothWays {
        let open = |rows: bool| -> Vec<Arc<SegmentColumns>> {
            let open = |s| SegmentColumns::open(s, &RankingConfig::default()).unwrap();
            searcher
                .segment_readers()
                .iter()
                .map(|s| match rows {
                    true => Arc::new(open(s)),
                    false => Arc::new(SegmentColumns {
                        facet_ords: None,
                        ..open(s)
                    }),
                })
                .collect()
        };
        let (with_rows, columns_only) = (open(true), open(false));
        assert!(with_rows.iter().all(|c| c.facet_ords.is_some()));
        (with_rows, columns_only)
    }

    #[test]
    fn counts_from_the_columns_equal_counts_from_the_copied_ordinals() {
        let index = in_ram_index(5, 1, 400, |_, _| {});
        let searcher = index.searcher();
        let (copied, columns_only) = rows_and_columns_only(&searcher);
        let stack = copied[0].labels[0][copied[0].labels[0].len() / 2].clone();
        let collect = |columns: &Vec<Arc<SegmentColumns>>, selections: Vec<Selection>| {
            let collector = SearchCollector {
                columns: columns.clone(),
                selections,
                ..counting(10)
            };
            searcher
                .search(&tantivy::query::AllQuery, &collector)
                .unwrap()
        };
        for selections in [
            vec![],
            vec![Selection::Values {
                field: "stack".into(),
                values: vec![stack.clone()],
            }],
            vec![
                Selection::Values {
                    field: "stack".into(),
                    values: vec![stack.clone()],
                },
                Selection::Buckets {
                    field: "quality".into(),
                    buckets: vec![2, 3],
                },
            ],
        ] {
            let a = collect(&copied, selections.clone());
            let b = collect(&columns_only, selections.clone());
            assert_eq!(a.total, b.total, "{selections:?}");
            assert_eq!(a.facets, b.facets, "{selections:?}");
            assert!(a.facets["stack"].values().sum::<u64>() > 0);
        }
        // Bucket counts of every post, counted from the score columns.
        let all = collect(&copied, vec![]);
        for part in SCORE_FIELDS {
            let mut expected = [0u64; BUCKETS.len()];
            for reader in searcher.segment_readers() {
                let column = reader.fast_fields().u64(part).unwrap();
                for doc in 0..reader.max_doc() {
                    if let Some(v) = column.first(doc) {
                        expected[bucket_of(v)] += 1;
                    }
                }
            }
            let counted: Vec<u64> = BUCKETS.iter().map(|b| all.facets[part][b.0]).collect();
            assert_eq!(counted, expected, "{part}");
        }
    }

    #[test]
    fn rows_count_sparse_and_dense_matches_as_the_columns_do() {
        let index = in_ram_index(9, 1, 500, |_, _| {});
        let mut w = postsearch_store::indexer::Writer::new(
            &index,
            postsearch_store::indexer::WriterOptions::default(),
        )
        .unwrap();
        for n in (0..500).step_by(13) {
            w.delete(&postsearch_corpus::generate_post(9, n).id)
                .unwrap();
        }
        w.commit().unwrap();
        let searcher = index.searcher();
        let segments = searcher.segment_readers();
        assert!(segments.iter().all(|s| s.alive_bitset().is_some()));
        let (with_rows, columns_only) = rows_and_columns_only(&searcher);
        // Matches (the posts not excluded) from every post to a few: rows
        // are counted directly under half a segment, else by complement.
        type Keep = fn(DocId) -> bool;
        let shares: [(f64, Keep); 5] = [
            (1.0, |_| true),
            (0.8, |d| d % 5 != 0),
            (0.55, |d| d % 2 == 0 || d % 10 == 1),
            (0.33, |d| d % 3 == 0),
            (0.02, |d| d % 50 == 7),
        ];
        for (share, keep) in shares {
            let excluded: Vec<DocAddress> = (0..segments.len() as u32)
                .flat_map(|s| (0..segments[s as usize].max_doc()).map(move |d| (s, d)))
                .filter(|&(_, d)| !keep(d))
                .map(|(s, d)| DocAddress::new(s, d))
                .collect();
            let collect = |columns: &Vec<Arc<SegmentColumns>>| {
                let collector = SearchCollector {
                    columns: columns.clone(),
                    excluded: excluded.clone(),
                    ..counting(10)
                };
                searcher
                    .search(&tantivy::query::AllQuery, &collector)
                    .unwrap()
            };
            let (rows, columns) = (collect(&with_rows), collect(&columns_only));
            assert_eq!(rows.facets, columns.facets, "{share}");
            let alive: usize = segments
                .iter()
                .map(|s| {
                    (0..s.max_doc())
                        .filter(|&d| !s.is_deleted(d) && keep(d))
                        .count()
                })
                .sum();
            assert_eq!((rows.total, columns.total), (alive as u64, alive as u64));
            assert!(rows.facets["stack"].values().sum::<u64>() > 0, "{share}");
        }
    }

    #[test]
    fn a_post_with_too_many_facet_values_leaves_its_segment_to_the_columns() {
        let index = in_ram_index(13, 1, 40, |n, post| {
            if n == 7 {
                post.tools = Some(
                    (0..MAX_FACET_VALUES + 1)
                        .map(|i| format!("tool {i}"))
                        .collect(),
                );
            }
        });
        let searcher = index.searcher();
        let ranking = RankingConfig::default();
        let opened: Vec<SegmentColumns> = searcher
            .segment_readers()
            .iter()
            .map(|r| SegmentColumns::open(r, &ranking).unwrap())
            .collect();
        assert!(opened.iter().any(|c| c.facet_ords.is_none()));
        // Its tools are all counted.
        let collector = SearchCollector {
            meta_weight: 0.0,
            ranking,
            ..counting(0)
        };
        let got = searcher
            .search(&tantivy::query::AllQuery, &collector)
            .unwrap();
        for i in 0..=MAX_FACET_VALUES {
            assert_eq!(
                got.facets["tools"].get(&format!("tool {i}")),
                Some(&1),
                "tool {i}"
            );
        }
    }
}
