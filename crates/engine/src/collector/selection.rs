//! Facet selections resolved against one segment: whether a match passes a
//! selection ([`Matcher`]), and which facet a match failing only that
//! selection counts toward ([`FacetTarget`]; see the disjunctive counting
//! of the collector).

use super::SegmentColumns;
use crate::facets::{bucket_of, Selection};
use postsearch_store::schema::{FACET_FIELDS, SCORE_FIELDS};
use tantivy::DocId;

/// A facet selection resolved against one segment.
pub(super) enum Matcher {
    /// Combined ordinals (see [`FacetOrds`](super::FacetOrds)) of the selected values of
    /// string facet column `col`.
    Str { col: usize, ords: Vec<u64> },
    /// Selected buckets of a score column (a bit per bucket).
    Bucket { col: usize, mask: u8 },
    /// The field has no selected value in this segment: nothing passes.
    Never,
}

impl Matcher {
    pub(super) fn new(sel: &Selection, cols: &SegmentColumns) -> tantivy::Result<Matcher> {
        Ok(match sel {
            Selection::Values { field, values } => {
                let col = FACET_FIELDS.iter().position(|f| f == field).expect("facet");
                let Some(column) = &cols.facets[col] else {
                    return Ok(Matcher::Never);
                };
                let base = cols.facet_bases[col] as u64;
                let mut ords = Vec::new();
                for v in values {
                    if let Some(ord) = column.dictionary().term_ord(v.as_bytes())? {
                        ords.push(base + ord);
                    }
                }
                if ords.is_empty() {
                    Matcher::Never
                } else {
                    Matcher::Str { col, ords }
                }
            }
            Selection::Buckets { field, buckets } => {
                let col = SCORE_FIELDS.iter().position(|f| f == field).expect("score");
                let mask = buckets.iter().fold(0u8, |m, b| m | (1 << b));
                Matcher::Bucket { col, mask }
            }
        })
    }

    #[inline]
    pub(super) fn matches(&self, doc: DocId, cols: &SegmentColumns) -> bool {
        match self {
            Matcher::Str { col, ords } => match &cols.facet_ords {
                Some(fo) => fo.of(doc).iter().any(|o| ords.contains(&(*o as u64))),
                None => cols.facets[*col].as_ref().is_some_and(|c| {
                    let base = cols.facet_bases[*col] as u64;
                    c.term_ords(doc).any(|o| ords.contains(&(base + o)))
                }),
            },
            Matcher::Bucket { col, mask } => cols.scores[*col]
                .first(doc)
                .is_some_and(|v| mask & (1 << bucket_of(v)) != 0),
            Matcher::Never => false,
        }
    }
}

/// A facet by position: a string facet (`FACET_FIELDS`) or a score facet
/// (`SCORE_FIELDS`).
#[derive(Debug, Clone, Copy)]
pub(super) enum FacetTarget {
    Str(usize),
    Bucket(usize),
    None,
}

impl FacetTarget {
    pub(super) fn of(field: &str) -> FacetTarget {
        if let Some(i) = FACET_FIELDS.iter().position(|f| *f == field) {
            FacetTarget::Str(i)
        } else if let Some(i) = SCORE_FIELDS.iter().position(|f| *f == field) {
            FacetTarget::Bucket(i)
        } else {
            FacetTarget::None
        }
    }
}
