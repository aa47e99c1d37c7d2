//! The one-pass collector behind every search: it counts the matches, keeps
//! the top `k` by the requested sort (ties broken by id), and computes the
//! disjunctive facet counts, all while the query's matches stream by once.
//!
//! Disjunctive counting: the query runs *without* the facet selections; each
//! match is checked against every selected field. A match that passes them
//! all is a hit and counts toward every facet. A match that fails exactly one
//! selected field counts only toward that field's facet — it is what the
//! user would add by also ticking that value. A match failing two or more
//! selections counts nowhere.

use super::facets::{bucket_of, Selection, BUCKETS};
use super::ranking::{blend, MetaColumns, MetaInputs, RankingConfig};
use super::types::{FacetCounts, Sort};
use postsearch_store::schema::{FACET_FIELDS, SCORE_FIELDS};
use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap};
use std::sync::{Arc, Mutex};
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{Column, StrColumn};
use tantivy::index::SegmentId;
use tantivy::query::Weight;
use tantivy::{DocAddress, DocId, Score, Searcher, SegmentOrdinal, SegmentReader};

/// A hit chosen by the collector, before its stored post is read.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// The sort key (higher first).
    pub key: f64,
    pub address: DocAddress,
    /// The ordinal of the post's id in its segment's id dictionary (ids
    /// sort as their ordinals within a segment).
    pub id_ord: u64,
    pub text: f32,
    pub meta: f32,
}

/// What a search collects.
#[derive(Debug, Clone, Default)]
pub struct Collected {
    pub total: u64,
    /// The best `k` candidates, in order.
    pub top: Vec<Candidate>,
    pub facets: FacetCounts,
}

/// See the module documentation.
pub struct SearchCollector {
    /// The columns of every segment of the searcher, by segment ordinal
    /// (see [`ColumnCache::for_searcher`]).
    pub columns: Vec<Arc<SegmentColumns>>,
    pub k: usize,
    pub sort: Sort,
    pub meta_weight: f32,
    pub ranking: RankingConfig,
    pub with_facets: bool,
    pub selections: Vec<Selection>,
    /// Posts never collected (matched or not).
    pub excluded: Vec<DocAddress>,
    /// Only the best `k` are wanted, by relevance: the total and the facets
    /// are left uncounted, and matches that cannot make the top `k` may be
    /// skipped unscored (see [`Weight::for_each_pruning`]).
    pub top_only: bool,
}

impl SearchCollector {
    /// Orders candidates by key, highest first, ties by post id.
    pub fn rank(&self, top: &mut [Candidate]) -> tantivy::Result<()> {
        top.sort_by(|a, b| {
            b.key
                .total_cmp(&a.key)
                .then_with(|| a.address.segment_ord.cmp(&b.address.segment_ord))
                .then_with(|| a.id_ord.cmp(&b.id_ord))
        });
        self.order_ties_by_id(top)
    }

    /// Orders tied candidates from different segments by id. Ids are read
    /// only for ties (rare for relevance, common for `quality`), one sorted
    /// batch per segment, because every dictionary lookup decompresses a
    /// block.
    fn order_ties_by_id(&self, top: &mut [Candidate]) -> tantivy::Result<()> {
        let mut start = 0;
        while start < top.len() && start < self.k {
            let key = top[start].key;
            let end = start + top[start..].iter().take_while(|c| c.key == key).count();
            let run = &mut top[start..end];
            let first_segment = run[0].address.segment_ord;
            if run.iter().any(|c| c.address.segment_ord != first_segment) {
                let ids = self.resolve_ids(run)?;
                let mut keyed: Vec<(String, Candidate)> =
                    ids.into_iter().zip(run.iter().cloned()).collect();
                keyed.sort_by(|a, b| a.0.cmp(&b.0));
                for (slot, (_, c)) in run.iter_mut().zip(keyed) {
                    *slot = c;
                }
            }
            start = end;
        }
        Ok(())
    }

    /// The ids of `run`, in its order.
    pub fn resolve_ids(&self, run: &[Candidate]) -> tantivy::Result<Vec<String>> {
        let mut ids = vec![String::new(); run.len()];
        let mut by_segment: Vec<(u32, u64, usize)> = run
            .iter()
            .enumerate()
            .map(|(i, c)| (c.address.segment_ord, c.id_ord, i))
            .collect();
        by_segment.sort_unstable();
        for group in by_segment.chunk_by(|a, b| a.0 == b.0) {
            let Some(col) = self
                .columns
                .get(group[0].0 as usize)
                .and_then(|c| c.id.as_ref())
            else {
                continue;
            };
            let ords: Vec<u64> = group.iter().map(|g| g.1).collect();
            let mut slots = group.iter().map(|g| g.2);
            col.dictionary().sorted_ords_to_term_cb(&ords, |bytes| {
                if let Some(i) = slots.next() {
                    ids[i] = String::from_utf8_lossy(bytes).into_owned();
                }
            })?;
        }
        Ok(ids)
    }
}

impl Collector for SearchCollector {
    type Fruit = Collected;
    type Child = SegmentSearchCollector;

    fn for_segment(
        &self,
        segment_ord: SegmentOrdinal,
        segment: &SegmentReader,
    ) -> tantivy::Result<SegmentSearchCollector> {
        let cols = match self.columns.get(segment_ord as usize) {
            Some(cols) => cols.clone(),
            None => Arc::new(SegmentColumns::open(segment, &self.ranking)?),
        };
        let mut matchers = Vec::with_capacity(self.selections.len());
        for sel in &self.selections {
            matchers.push(Matcher::new(sel, &cols)?);
        }
        let sort_col = match self.sort {
            Sort::Relevance => SortColumn::Score,
            Sort::Views => SortColumn::U64(cols.view_count.clone()),
            Sort::Quality => SortColumn::U64(cols.scores[0].clone()),
            Sort::Newest => SortColumn::Date(cols.last_reviewed.clone()),
        };
        // Counters only when facets are counted: zeroing them for nothing
        // costs every similar-posts query and every search without facets.
        let slots = if self.with_facets {
            counters(&cols.facet_bases)
        } else {
            0
        };
        let facet_counts = vec![0u64; slots];
        let marks =
            (self.with_facets && cols.facet_ords.is_some()).then(|| Marks::new(segment.max_doc()));
        let precomputed_meta = cols.has_meta_scores_of(&self.ranking);
        // The most a blend can lift a text score: the key bound of pruning.
        let lift = blend(1.0, cols.meta_max, self.meta_weight);
        let prunable = self.top_only
            && !self.with_facets
            && self.selections.is_empty()
            && matches!(self.sort, Sort::Relevance)
            && self.k > 0
            && precomputed_meta
            && self.meta_weight >= 0.0
            && lift.is_finite()
            && lift > 0.0;
        Ok(SegmentSearchCollector {
            segment_ord,
            k: self.k,
            meta_weight: self.meta_weight,
            meta: MetaColumns::new(cols.meta_inputs.clone(), &self.ranking),
            precomputed_meta,
            max_lift: prunable.then_some(lift),
            cols: cols.clone(),
            sort_col,
            with_facets: self.with_facets,
            matchers,
            selection_targets: self
                .selections
                .iter()
                .map(|s| FacetTarget::of(s.field()))
                .collect(),
            facet_counts,
            marks,
            excluded: self
                .excluded
                .iter()
                .filter(|a| a.segment_ord == segment_ord)
                .map(|a| a.doc_id)
                .collect(),
            total: 0,
            heap: BinaryHeap::with_capacity(self.k + 1),
        })
    }

    fn requires_scoring(&self) -> bool {
        true
    }

    fn collect_segment(
        &self,
        weight: &dyn Weight,
        segment_ord: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<SegmentCollected> {
        let mut segment = self.for_segment(segment_ord, reader)?;
        let alive = reader.alive_bitset();
        let is_alive = |doc| alive.is_none_or(|a| a.is_alive(doc));
        if segment.max_lift.is_some() {
            weight.for_each_pruning(0.0, reader, &mut |doc, score| {
                if is_alive(doc) {
                    segment.collect(doc, score);
                }
                segment.text_threshold()
            })?;
        } else {
            weight.for_each(reader, &mut |doc, score| {
                if is_alive(doc) {
                    segment.collect(doc, score);
                }
            })?;
        }
        Ok(segment.harvest())
    }

    fn merge_fruits(&self, fruits: Vec<SegmentCollected>) -> tantivy::Result<Collected> {
        let mut out = Collected::default();
        let counted: Vec<&SegmentCollected> =
            fruits.iter().filter(|f| !f.counts.is_empty()).collect();
        if !counted.is_empty() {
            out.facets = merge_facets(&counted);
        }
        for fruit in fruits {
            out.total += fruit.total;
            out.top.extend(fruit.top);
        }
        self.rank(&mut out.top)?;
        out.top.truncate(self.k);
        Ok(out)
    }
}

/// What searches read in one segment: its fast-field columns and the
/// labels of its facet values, opened once and shared.
pub struct SegmentColumns {
    pub id: Option<StrColumn>,
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
    /// order; [`NO_BUCKET`] when the post lacks the part).
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

    /// Whether the documents' meta scores were computed under `ranking`'s
    /// weights.
    fn has_meta_scores_of(&self, ranking: &RankingConfig) -> bool {
        self.ranking.same_meta_weights(ranking)
    }
}

/// The 4-bit code of a missing score part in [`SegmentColumns::bucket_codes`].
pub const NO_BUCKET: u16 = 0xf;

/// The bucket of score part `part` in bucket code `code` (0..=[`NO_BUCKET`]).
#[inline]
fn part_bucket(code: u16, part: usize) -> u16 {
    (code >> (4 * part)) & NO_BUCKET
}

/// The buckets of a post's score parts, packed 4 bits each.
fn bucket_code(inputs: &MetaInputs) -> u16 {
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
const MAX_FACET_VALUES: usize = 16;

impl FacetOrds {
    /// The rows of documents `0..max_doc`, from the string facet `cols`
    /// (combined ordinals from `bases`) and each document's `bucket_codes`;
    /// `None` when the counter slots do not fit 16 bits, or a document has
    /// more than [`MAX_FACET_VALUES`] string values.
    fn of_columns(
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
    fn count_marks(&self, marks: &Marks, marked: u64, counts: &mut [u64]) {
        let max_doc = marks.max_doc as u64;
        match &marks.set {
            MarkSet::Docs(docs) => docs.iter().for_each(|&doc| self.add_row(doc, counts)),
            MarkSet::Bits(bits) if marked * 2 <= max_doc => {
                for_each_bit(bits, max_doc, false, |doc| self.add_row(doc, counts))
            }
            MarkSet::Bits(bits) => {
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

/// The documents of a segment of `max_doc` documents that a search counts
/// toward every facet: a list while they are few, a bit per document once
/// they are more than a 64th of the segment (the bits cost a 64th of the
/// segment's documents to clear and scan).
struct Marks {
    max_doc: DocId,
    set: MarkSet,
}

enum MarkSet {
    Docs(Vec<DocId>),
    Bits(Vec<u64>),
}

impl Marks {
    fn new(max_doc: DocId) -> Marks {
        let most = Marks::most_listed(max_doc).min(1024);
        Marks {
            max_doc,
            set: MarkSet::Docs(Vec::with_capacity(most)),
        }
    }

    fn most_listed(max_doc: DocId) -> usize {
        (max_doc as usize / 64).max(16)
    }

    #[inline]
    fn mark(&mut self, doc: DocId) {
        fn set(bits: &mut [u64], doc: DocId) {
            bits[doc as usize / 64] |= 1 << (doc % 64);
        }
        match &mut self.set {
            MarkSet::Bits(bits) => set(bits, doc),
            MarkSet::Docs(docs) => {
                docs.push(doc);
                if docs.len() > Marks::most_listed(self.max_doc) {
                    let mut bits = vec![0u64; (self.max_doc as usize).div_ceil(64)];
                    docs.iter().for_each(|&d| set(&mut bits, d));
                    self.set = MarkSet::Bits(bits);
                }
            }
        }
    }
}

/// Calls `f` with each document under `max_doc` whose bit in `bits` is set
/// (or clear, if `clear`), in order.
#[inline]
fn for_each_bit(bits: &[u64], max_doc: u64, clear: bool, mut f: impl FnMut(DocId)) {
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

/// The number of counter slots of a segment whose string facet columns
/// have combined ordinals `bases` (see [`SegmentColumns::facet_bases`]):
/// one per string value, one for padding, 16 per score part, one per 4-bit
/// bucket code (the last, [`NO_BUCKET`], counts posts without the part and
/// is never reported), and one per combination of the four parts' buckets.
fn counters(bases: &[u32]) -> usize {
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
fn combination_counter(bases: &[u32], code: u16) -> usize {
    let mut combination = 0;
    for part in (0..SCORE_FIELDS.len()).rev() {
        let bucket = part_bucket(code, part) as usize;
        combination = combination * BUCKET_RADIX + bucket.min(BUCKETS.len());
    }
    bucket_counter(bases, SCORE_FIELDS.len(), 0) + combination
}

/// Adds the count of each combination of buckets in `counts` to the
/// counters of its parts' buckets.
fn add_combinations(bases: &[u32], counts: &mut [u64]) {
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
fn bucket_counter(bases: &[u32], part: usize, bucket: u16) -> usize {
    bases[FACET_FIELDS.len()] as usize + 1 + 16 * part + bucket as usize
}

/// The counter slot of score part `part` of a post with bucket code `code`.
#[inline]
fn bucket_slot(bases: &[u32], part: usize, code: u16) -> usize {
    bucket_counter(bases, part, part_bucket(code, part))
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

enum SortColumn {
    Score,
    U64(Column<u64>),
    Date(Column<tantivy::DateTime>),
}

/// A facet selection resolved against one segment.
enum Matcher {
    /// Combined ordinals (see [`FacetOrds`]) of the selected values of
    /// string facet column `col`.
    Str { col: usize, ords: Vec<u64> },
    /// Selected buckets of a score column (a bit per bucket).
    Bucket { col: usize, mask: u8 },
    /// The field has no selected value in this segment: nothing passes.
    Never,
}

impl Matcher {
    fn new(sel: &Selection, cols: &SegmentColumns) -> tantivy::Result<Matcher> {
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
    fn matches(&self, doc: DocId, cols: &SegmentColumns) -> bool {
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

#[derive(Debug)]
struct Entry {
    key: f64,
    id_ord: u64,
    doc: DocId,
    text: f32,
    meta: f32,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    /// Greater = better: higher key, then smaller id (term ordinals within a
    /// segment are in id order).
    fn cmp(&self, other: &Self) -> Ordering {
        self.key
            .total_cmp(&other.key)
            .then_with(|| other.id_ord.cmp(&self.id_ord))
    }
}

/// A facet by position: a string facet (`FACET_FIELDS`) or a score facet
/// (`SCORE_FIELDS`).
#[derive(Debug, Clone, Copy)]
enum FacetTarget {
    Str(usize),
    Bucket(usize),
    None,
}

impl FacetTarget {
    fn of(field: &str) -> FacetTarget {
        if let Some(i) = FACET_FIELDS.iter().position(|f| *f == field) {
            FacetTarget::Str(i)
        } else if let Some(i) = SCORE_FIELDS.iter().position(|f| *f == field) {
            FacetTarget::Bucket(i)
        } else {
            FacetTarget::None
        }
    }
}

/// The per-segment half of [`SearchCollector`].
pub struct SegmentSearchCollector {
    segment_ord: SegmentOrdinal,
    k: usize,
    meta_weight: f32,
    meta: MetaColumns,
    /// Whether the segment's precomputed meta scores are this search's
    /// (else each is computed from its inputs).
    precomputed_meta: bool,
    /// When only the top `k` is collected: the most the blend lifts a text
    /// score in this segment.
    max_lift: Option<f32>,
    sort_col: SortColumn,
    with_facets: bool,
    /// The segment's columns (facet ordinals and labels).
    cols: Arc<SegmentColumns>,
    matchers: Vec<Matcher>,
    /// The facet each selection's field counts toward.
    selection_targets: Vec<FacetTarget>,
    /// Matches by counter slot (see [`FacetOrds`]); empty without facets.
    facet_counts: Vec<u64>,
    /// The matches to count toward every facet, when facets are counted and
    /// the segment has rows: they are counted at the harvest (see
    /// [`FacetOrds::count_marks`]). `None`: counted from the columns.
    marks: Option<Marks>,
    /// The segment's posts never collected.
    excluded: Vec<DocId>,
    total: u64,
    /// Min-heap (via `Reverse`) of the best `k`: its top is the worst kept.
    heap: BinaryHeap<Reverse<Entry>>,
}

impl SegmentSearchCollector {
    /// The text score at or under which a match cannot make the top `k`
    /// (0 until `k` are kept, or when every match is counted). A little
    /// under the exact bound, so that a tie with the worst kept is still
    /// collected despite rounding.
    fn text_threshold(&self) -> Score {
        match (self.max_lift, self.heap.peek()) {
            (Some(lift), Some(Reverse(worst))) if self.heap.len() >= self.k => {
                (worst.key / lift as f64 * (1.0 - 1e-5)) as Score
            }
            _ => 0.0,
        }
    }

    /// Counts `doc` toward one facet only.
    fn count_facet(&mut self, doc: DocId, target: FacetTarget) {
        match target {
            FacetTarget::Str(i) => self.count_str(doc, i),
            FacetTarget::Bucket(i) => self.count_bucket(doc, i),
            FacetTarget::None => {}
        }
    }

    #[inline]
    fn count_str(&mut self, doc: DocId, i: usize) {
        let (lo, hi) = (self.cols.facet_bases[i], self.cols.facet_bases[i + 1]);
        match &self.cols.facet_ords {
            Some(fo) => {
                for &ord in fo.of(doc) {
                    if (lo..hi).contains(&(ord as u32)) {
                        self.facet_counts[ord as usize] += 1;
                    }
                }
            }
            None => self.count_column(doc, i),
        }
    }

    /// Counts `doc` toward every facet (with rows: marks it, to be
    /// counted at the harvest).
    #[inline]
    fn count_all(&mut self, doc: DocId) {
        match &mut self.marks {
            Some(marks) => marks.mark(doc),
            None => {
                for i in 0..FACET_FIELDS.len() {
                    self.count_column(doc, i);
                }
                let code = self.cols.bucket_codes[doc as usize];
                for part in 0..SCORE_FIELDS.len() {
                    self.facet_counts[bucket_slot(&self.cols.facet_bases, part, code)] += 1;
                }
            }
        }
    }

    /// Counts `doc` toward string facet `i`, read from its column.
    fn count_column(&mut self, doc: DocId, i: usize) {
        if let Some(col) = &self.cols.facets[i] {
            let base = self.cols.facet_bases[i] as u64;
            for ord in col.term_ords(doc) {
                self.facet_counts[(base + ord) as usize] += 1;
            }
        }
    }

    #[inline]
    fn count_bucket(&mut self, doc: DocId, i: usize) {
        if let Some(v) = self.cols.scores[i].first(doc) {
            self.facet_counts[bucket_counter(&self.cols.facet_bases, i, bucket_of(v) as u16)] += 1;
        }
    }

    fn sort_key(&self, doc: DocId, final_score: f32) -> f64 {
        match &self.sort_col {
            SortColumn::Score => final_score as f64,
            SortColumn::U64(c) => c.first(doc).map_or(f64::NEG_INFINITY, |v| v as f64),
            SortColumn::Date(c) => c
                .first(doc)
                .map_or(f64::NEG_INFINITY, |v| v.into_timestamp_micros() as f64),
        }
    }
}

impl SegmentCollector for SegmentSearchCollector {
    type Fruit = SegmentCollected;

    fn collect(&mut self, doc: DocId, score: Score) {
        if !self.excluded.is_empty() && self.excluded.contains(&doc) {
            return;
        }
        let mut failed = None;
        for (i, m) in self.matchers.iter().enumerate() {
            if !m.matches(doc, &self.cols) {
                if failed.is_some() {
                    return; // fails two selections: counts nowhere
                }
                failed = Some(i);
            }
        }
        if let Some(i) = failed {
            if self.with_facets {
                self.count_facet(doc, self.selection_targets[i]);
            }
            return;
        }
        self.total += 1;
        if self.with_facets {
            self.count_all(doc);
        }
        if self.k == 0 {
            return;
        }
        let meta = if self.precomputed_meta {
            self.cols.meta_scores[doc as usize]
        } else {
            self.meta.meta(doc)
        };
        let key = self.sort_key(doc, blend(score, meta, self.meta_weight));
        if self.heap.len() >= self.k {
            let worst = &self.heap.peek().expect("non-empty").0;
            if key < worst.key {
                return;
            }
        }
        let id_ord = self
            .cols
            .id
            .as_ref()
            .and_then(|c| c.term_ords(doc).next())
            .unwrap_or(u64::MAX);
        let entry = Entry {
            key,
            id_ord,
            doc,
            text: score,
            meta,
        };
        if self.heap.len() < self.k {
            self.heap.push(Reverse(entry));
        } else if entry > self.heap.peek().expect("non-empty").0 {
            self.heap.pop();
            self.heap.push(Reverse(entry));
        }
    }

    fn harvest(mut self) -> SegmentCollected {
        if let (Some(fo), Some(marks)) = (&self.cols.facet_ords, &self.marks) {
            fo.count_marks(marks, self.total, &mut self.facet_counts);
        }
        if self.with_facets {
            add_combinations(&self.cols.facet_bases, &mut self.facet_counts);
        }
        let top = self
            .heap
            .into_iter()
            .map(|Reverse(e)| Candidate {
                key: e.key,
                address: DocAddress::new(self.segment_ord, e.doc),
                id_ord: e.id_ord,
                text: e.text,
                meta: e.meta,
            })
            .collect();
        SegmentCollected {
            total: self.total,
            top,
            counts: self.facet_counts,
            cols: self.cols,
        }
    }
}

/// What one segment collected: facet counts by counter slot (empty without
/// facets), labelled when the segments are merged.
pub struct SegmentCollected {
    total: u64,
    top: Vec<Candidate>,
    counts: Vec<u64>,
    cols: Arc<SegmentColumns>,
}

/// The facet counts of `segments` (each with counts), by facet and value.
/// Each segment's values are in term-ordinal order, which is their sorted
/// order: the segments' lists are merged, and each value's label is copied
/// once (copied per segment and merged map by map, the labels cost more
/// than counting the matches of a rare word).
fn merge_facets(segments: &[&SegmentCollected]) -> FacetCounts {
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
    use postsearch_corpus::in_ram_index;

    /// A collector of the best `k` by relevance with every facet counted
    /// (the search box's), over the columns a search opens.
    fn counting(k: usize) -> SearchCollector {
        SearchCollector {
            columns: Vec::new(),
            k,
            sort: Sort::Relevance,
            meta_weight: 0.3,
            ranking: RankingConfig::default(),
            with_facets: true,
            selections: Vec::new(),
            excluded: Vec::new(),
            top_only: false,
        }
    }

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
    fn collecting_only_the_top_finds_the_same_top() {
        use crate::term_sum::TermSum;
        use tantivy::query::{BooleanQuery, Query, TermQuery};
        use tantivy::schema::IndexRecordOption;
        use tantivy::Term;
        let index = in_ram_index(21, 3, 150, |_, _| {});
        let searcher = index.searcher();
        let body = index.fields().body;
        let terms: Vec<(Term, f32)> = ["test", "cach", "servic", "deploy", "the"]
            .iter()
            .zip([1.0, 0.8, 0.6, 0.4, 0.05])
            .map(|(w, weight)| (Term::from_field_text(body, w), weight))
            .collect();
        let union = BooleanQuery::union(
            terms
                .iter()
                .map(|(t, _)| {
                    Box::new(TermQuery::new(t.clone(), IndexRecordOption::WithFreqs))
                        as Box<dyn Query>
                })
                .collect(),
        );
        let sum = TermSum::new(terms);
        let mut compared = 0;
        for query in [&union as &dyn Query, &sum] {
            for (k, meta_weight) in [(1, 0.3), (10, 0.3), (50, 0.0), (10, 2.0)] {
                let collect = |top_only| {
                    let collector = SearchCollector {
                        meta_weight,
                        with_facets: false,
                        excluded: vec![DocAddress::new(0, 3)],
                        top_only,
                        ..counting(k)
                    };
                    let mut got = searcher.search(query, &collector).unwrap();
                    collector.rank(&mut got.top).unwrap();
                    got
                };
                let (all, top) = (collect(false), collect(true));
                let docs = |c: &Collected| c.top.iter().map(|c| c.address).collect::<Vec<_>>();
                assert_eq!(docs(&top), docs(&all), "k {k}, meta weight {meta_weight}");
                // tantivy's pruning union adds the terms in another order.
                for (t, a) in top.top.iter().zip(&all.top) {
                    assert!(
                        (t.key - a.key).abs() <= a.key * 1e-6,
                        "{} vs {}",
                        t.key,
                        a.key
                    );
                }
                assert_eq!(top.top.len(), k);
                assert!(top.total < all.total, "some matches were skipped");
                compared += 1;
            }
        }
        assert_eq!(compared, 8);
    }

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

    #[test]
    fn excluded_posts_are_never_collected() {
        let index = in_ram_index(7, 2, 60, |_, _| {});
        let searcher = index.searcher();
        let excluded: Vec<DocAddress> = searcher
            .segment_readers()
            .iter()
            .enumerate()
            .flat_map(|(ord, r)| {
                (0..r.max_doc())
                    .step_by(7)
                    .map(move |d| DocAddress::new(ord as u32, d))
            })
            .collect();
        let collector = SearchCollector {
            excluded: excluded.clone(),
            ..counting(1000)
        };
        let got = searcher
            .search(&tantivy::query::AllQuery, &collector)
            .unwrap();
        assert!(!excluded.is_empty());
        assert_eq!(got.total, searcher.num_docs() - excluded.len() as u64);
        assert_eq!(got.top.len() as u64, got.total);
        assert!(got.top.iter().all(|c| !excluded.contains(&c.address)));
        let stack: u64 = got.facets["stack"].values().sum();
        assert!(stack >= got.total, "every post has a stack");
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
