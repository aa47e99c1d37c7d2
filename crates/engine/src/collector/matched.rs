//! The documents of a segment that a search counts toward every facet
//! ([`MatchedDocs`]): a list while they are few, a bit per document once
//! they are many. They are counted at the harvest, from the segment's facet
//! rows (see [`FacetOrds::count_marks`](super::FacetOrds::count_marks)).

use tantivy::DocId;

/// The documents of a segment of `max_doc` documents that a search counts
/// toward every facet: a list while they are few, a bit per document once
/// they are more than a 64th of the segment (the bits cost a 64th of the
/// segment's documents to clear and scan).
pub(super) struct MatchedDocs {
    pub(super) max_doc: DocId,
    pub(super) set: MatchedDocsRepr,
}

/// How [`MatchedDocs`] holds its documents.
pub(super) enum MatchedDocsRepr {
    Docs(Vec<DocId>),
    Bits(Vec<u64>),
}

impl MatchedDocs {
    pub(super) fn new(max_doc: DocId) -> MatchedDocs {
        let most = MatchedDocs::most_listed(max_doc).min(1024);
        MatchedDocs {
            max_doc,
            set: MatchedDocsRepr::Docs(Vec::with_capacity(most)),
        }
    }

    fn most_listed(max_doc: DocId) -> usize {
        (max_doc as usize / 64).max(16)
    }

    /// Marks the documents whose bits are set in `bits` (bit `doc % 64` of
    /// word `doc / 64`; words past the segment are ignored).
    pub(super) fn mark_bits(&mut self, bits: &[u64]) {
        for (word, &more) in self.bits().iter_mut().zip(bits) {
            *word |= more;
        }
    }

    #[inline]
    pub(super) fn mark(&mut self, doc: DocId) {
        match &mut self.set {
            MatchedDocsRepr::Bits(bits) => bits[doc as usize / 64] |= 1 << (doc % 64),
            MatchedDocsRepr::Docs(docs) => {
                docs.push(doc);
                if docs.len() > MatchedDocs::most_listed(self.max_doc) {
                    self.bits();
                }
            }
        }
    }

    /// The documents as bits, the list turned into them first.
    fn bits(&mut self) -> &mut Vec<u64> {
        if let MatchedDocsRepr::Docs(docs) = &self.set {
            let mut bits = vec![0u64; (self.max_doc as usize).div_ceil(64)];
            for &d in docs {
                bits[d as usize / 64] |= 1 << (d % 64);
            }
            self.set = MatchedDocsRepr::Bits(bits);
        }
        match &mut self.set {
            MatchedDocsRepr::Bits(bits) => bits,
            MatchedDocsRepr::Docs(_) => unreachable!("turned into bits above"),
        }
    }
}

/// Calls `f` with each document under `max_doc` whose bit in `bits` is set
/// (or clear, if `clear`), in order.
#[inline]
pub(super) fn for_each_bit(bits: &[u64], max_doc: u64, clear: bool, mut f: impl FnMut(DocId)) {
    for (i, &word) in bits.iter().enumerate() {
        let first = i as u64 * 64;
        if first >= max_doc {
            break;
        }
        let mut word = if clear { !word } else { word };
        if max_doc - first < 64 {
            word &= (1u64 << (max_doc - first)) - 1;
        }
        while word != 0 {
            f((first + word.trailing_zeros() as u64) as DocId);
            word &= word - 1;
        }
    }
}
