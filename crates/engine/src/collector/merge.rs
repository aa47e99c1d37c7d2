//! The facet counts of several segments merged by value ([`merge_facets`]),
//! each value's label copied once.

use super::facet_rows::bucket_counter;
use super::SegmentCollected;
use crate::facets::BUCKETS;
use crate::types::FacetCounts;
use postsearch_store::schema::{FACET_FIELDS, SCORE_FIELDS};

/// The facet counts of `segments` (each with counts), by facet and value.
/// Each segment's values are in term-ordinal order, which is their sorted
/// order: the segments' lists are merged, and each value's label is copied
/// once (copied per segment and merged map by map, the labels cost more
/// than counting the matches of a rare word).
pub(super) fn merge_facets(segments: &[&SegmentCollected]) -> FacetCounts {
    let mut facets = FacetCounts::new();
    for (i, name) in FACET_FIELDS.iter().enumerate() {
        let mut runs: Vec<_> = segments
            .iter()
            .map(|s| {
                let (lo, hi) = (
                    s.cols.facet_bases[i] as usize,
                    s.cols.facet_bases[i + 1] as usize,
                );
                s.cols.labels[i]
                    .iter()
                    .zip(&s.counts[lo..hi])
                    .filter(|(_, &n)| n > 0)
                    .peekable()
            })
            .collect();
        let mut merged = Vec::new();
        while let Some(least) = runs.iter_mut().filter_map(|r| r.peek().map(|h| h.0)).min() {
            let mut n = 0;
            for run in &mut runs {
                if let Some((_, &count)) = run.next_if(|h| h.0 == least) {
                    n += count;
                }
            }
            merged.push((least.clone(), n));
        }
        facets.insert(name.to_string(), merged.into_iter().collect());
    }
    for (part, name) in SCORE_FIELDS.iter().enumerate() {
        let counts = BUCKETS
            .iter()
            .enumerate()
            .map(|(b, (label, _, _))| {
                let slot =
                    |s: &SegmentCollected| bucket_counter(&s.cols.facet_bases, part, b as u16);
                let n = segments.iter().map(|s| s.counts[slot(s)]).sum();
                (label.to_string(), n)
            })
            .collect();
        facets.insert(name.to_string(), counts);
    }
    facets
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::test_support::counting;
    use postsearch_corpus::in_ram_index;

    #[test]
    fn facet_counts_of_several_segments_add_up_by_value() {
        let index = in_ram_index(31, 4, 90, |n, post| {
            // A value only the last batch has, and one only the first has.
            if n >= 3000 {
                post.stack = Some(vec!["zig".into()]);
            } else if n < 3 {
                post.stack = Some(vec!["ada".into()]);
            }
        });
        let searcher = index.searcher();
        assert!(searcher.segment_readers().len() >= 4);
        let got = searcher
            .search(&tantivy::query::AllQuery, &counting(10))
            .unwrap();
        for (i, name) in FACET_FIELDS.iter().enumerate() {
            let mut expected = std::collections::BTreeMap::<String, u64>::new();
            for reader in searcher.segment_readers() {
                let Some(col) = reader.fast_fields().str(name).unwrap() else {
                    continue;
                };
                for doc in 0..reader.max_doc() {
                    for ord in col.term_ords(doc) {
                        let mut label = String::new();
                        col.ord_to_str(ord, &mut label).unwrap();
                        *expected.entry(label).or_default() += 1;
                    }
                }
            }
            assert_eq!(got.facets[*name], expected, "{name} ({i})");
        }
        assert_eq!(got.facets["stack"]["zig"], 90);
        assert_eq!(got.facets["stack"]["ada"], 3);
        let quality: u64 = got.facets["quality"].values().sum();
        assert!(quality > 0 && quality <= got.total);
    }
}
