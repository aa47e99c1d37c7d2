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
//!
//! The parts: `columns` (a segment's columns, opened once and cached),
//! `facet_rows` (the facet values copied out as rows of counter slots),
//! `matched` (the matches counted toward every facet), `selection` (the
//! facet selections resolved against a segment) and `merge` (the segments'
//! facet counts merged by value); this module is the collector itself.

mod columns;
pub mod copies;
mod facet_rows;
mod matched;
mod merge;
mod selection;
#[cfg(test)]
mod test_support;

pub use columns::{ColumnCache, SegmentColumns};
pub use facet_rows::{FacetOrds, NO_BUCKET};

use super::facets::{bucket_of, Selection};
use super::ranking::{blend, MetaColumns, RankingConfig};
use super::types::{FacetCounts, Sort};
use facet_rows::{add_combinations, bucket_counter, bucket_slot, counters};
use matched::MatchedDocs;
use merge::merge_facets;
use postsearch_store::schema::{FACET_FIELDS, SCORE_FIELDS};
use selection::{FacetTarget, Matcher};
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};
use std::sync::Arc;
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::Column;
use tantivy::query::Weight;
use tantivy::{DocAddress, DocId, Score, SegmentOrdinal, SegmentReader};

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
    /// With distinct results: the duplicate group (`None`: a post without
    /// a hash, a group of its own).
    pub group: Option<u64>,
    /// With distinct results: the matching posts of its group (else 1).
    pub group_size: u64,
}

/// What a search collects.
#[derive(Debug, Clone, Default)]
pub struct Collected {
    /// Matches: posts, or with distinct results duplicate groups.
    pub total: u64,
    /// Matching posts (with distinct results, more than `total` when some
    /// are copies).
    pub posts: u64,
    /// The best `k` candidates, in order.
    pub top: Vec<Candidate>,
    pub facets: FacetCounts,
}

/// The best `k`-th key any segment of one search has kept so far: no match
/// of any segment under it can make the search's top `k`, so a segment
/// searched after another starts with the other's floor (see
/// [`crate::any_words`]) instead of none. Shared by the segments of one
/// search, on any thread.
#[derive(Debug, Clone)]
pub struct SharedFloor(Arc<AtomicU64>);

impl Default for SharedFloor {
    fn default() -> SharedFloor {
        SharedFloor(Arc::new(AtomicU64::new(f64::NEG_INFINITY.to_bits())))
    }
}

impl SharedFloor {
    /// The best `k`-th key so far (`-inf` before any segment kept `k`).
    fn get(&self) -> f64 {
        f64::from_bits(self.0.load(AtomicOrdering::Relaxed))
    }

    /// Raises the floor to `key`, a segment's `k`-th key.
    fn raise(&self, key: f64) {
        let _ = self
            .0
            .fetch_update(AtomicOrdering::Relaxed, AtomicOrdering::Relaxed, |bits| {
                (key > f64::from_bits(bits)).then_some(key.to_bits())
            });
    }
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
    /// One post per duplicate group (same `hash`), the best-ranked: `k`
    /// groups are kept, and the total counts groups. `None`: every post.
    pub distinct: Option<Arc<copies::Copies>>,
    /// The floor the segments of this search share (a collector per
    /// search: a new one starts with none).
    pub floor: SharedFloor,
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
        let marks = (self.with_facets && cols.facet_ords.is_some())
            .then(|| MatchedDocs::new(segment.max_doc()));
        let precomputed_meta = cols.has_meta_scores_of(&self.ranking);
        // The most a blend can lift a text score: the key bound of pruning.
        let lift = blend(1.0, cols.meta_max, self.meta_weight);
        // Whether the best `k` are kept by text score times at most `lift`:
        // then a match scoring under the `k`-th key over `lift` cannot make
        // them, and need not be scored.
        let by_text = self.distinct.is_none()
            && matches!(self.sort, Sort::Relevance)
            && self.k > 0
            && precomputed_meta
            && self.meta_weight >= 0.0
            && lift.is_finite()
            && lift > 0.0;
        let prunable = by_text && self.top_only && !self.with_facets && self.selections.is_empty();
        Ok(SegmentSearchCollector {
            segment_ord,
            k: self.k,
            meta_weight: self.meta_weight,
            meta: MetaColumns::new(cols.meta_inputs.clone(), &self.ranking),
            precomputed_meta,
            max_lift: prunable.then_some(lift),
            floor_lift: by_text.then_some(lift),
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
            copies: self
                .distinct
                .as_ref()
                .map(|c| (c.clone(), segment_ord as usize)),
            groups: Default::default(),
            floor: self.floor.clone(),
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
        crate::budget::check_tantivy()?;
        let mut segment = self.for_segment(segment_ord, reader)?;
        // Matches that cannot make the top `k` may come unscored (see
        // `any_words`): the floor is set as the top changes.
        let floor = crate::any_words::FloorScope::open(segment.floor_lift.map(|max| {
            crate::any_words::Lifts {
                columns: segment.cols.clone(),
                weight: segment.meta_weight,
                max,
            }
        }));
        let alive = reader.alive_bitset();
        // Matches left unscored are only counted (and marked for the
        // facets): they may come in bulk when every match is counted alike
        // (a floor already means no distinct groups).
        if segment.floor_lift.is_some()
            && alive.is_none()
            && segment.excluded.is_empty()
            && segment.matchers.is_empty()
            && (segment.marks.is_some() || !segment.with_facets)
        {
            floor.collect_unscored_in_bulk(reader.max_doc(), segment.marks.is_some());
        }
        // A segment searched after another starts from its floor.
        if segment.floor_lift.is_some() {
            crate::any_words::set_text_floor(segment.text_floor());
        }
        let is_alive = |doc| alive.is_none_or(|a| a.is_alive(doc));
        // The request's budget is checked every few matches; once it is
        // spent, pruning stops at once (no score can pass an infinite
        // threshold) and a plain walk takes no more matches.
        let mut until_check = crate::budget::CHECK_EVERY;
        let mut stopped = false;
        let mut spent = || {
            until_check -= 1;
            if until_check == 0 {
                until_check = crate::budget::CHECK_EVERY;
                stopped = crate::budget::exhausted();
            }
            stopped
        };
        if segment.max_lift.is_some() {
            weight.for_each_pruning(segment.text_threshold(), reader, &mut |doc, score| {
                if spent() {
                    return Score::INFINITY;
                }
                if is_alive(doc) {
                    segment.collect(doc, score);
                }
                segment.text_threshold()
            })?;
        } else {
            weight.for_each(reader, &mut |doc, score| {
                if !spent() && is_alive(doc) {
                    segment.collect(doc, score);
                }
            })?;
        }
        crate::budget::check_tantivy()?;
        if let Some(unscored) = floor.take_unscored() {
            segment.total += unscored.count;
            if let (Some(marks), Some(bits)) = (&mut segment.marks, unscored.bits) {
                if unscored.count > 0 {
                    marks.mark_bits(&bits);
                }
            }
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
            out.posts += fruit.total;
            out.top.extend(fruit.top);
        }
        out.total = out.posts;
        if self.distinct.is_some() {
            let (top, copies) = merge_groups(std::mem::take(&mut out.top));
            out.top = top;
            out.total -= copies;
            keep_best(&mut out.top, self.k);
        }
        self.rank(&mut out.top)?;
        out.top.truncate(self.k);
        Ok(out)
    }
}

/// The segments' best post of each duplicate group, merged: the best of
/// the bests, with the group's size summed; and how many matching posts
/// are copies folded into another.
fn merge_groups(candidates: Vec<Candidate>) -> (Vec<Candidate>, u64) {
    let mut groups: rustc_hash::FxHashMap<u64, Candidate> = Default::default();
    let mut out = Vec::new();
    let mut copies = 0;
    for c in candidates {
        let Some(group) = c.group else {
            out.push(c);
            continue;
        };
        copies += c.group_size;
        match groups.entry(group) {
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(c);
            }
            std::collections::hash_map::Entry::Occupied(mut o) => {
                let best = o.get_mut();
                let size = best.group_size + c.group_size;
                let better = c.key.total_cmp(&best.key).then_with(|| {
                    (best.address.segment_ord, best.id_ord).cmp(&(c.address.segment_ord, c.id_ord))
                });
                if better == Ordering::Greater {
                    *best = c;
                }
                best.group_size = size;
            }
        }
    }
    copies -= groups.len() as u64;
    out.extend(groups.into_values());
    (out, copies)
}

/// Drops the candidates that cannot be among the best `k` by key (ties
/// with the `k`-th are kept, for [`SearchCollector::rank`] to order by id),
/// so that only a few are sorted.
fn keep_best(top: &mut Vec<Candidate>, k: usize) {
    if top.len() <= k.saturating_mul(2).max(64) {
        return;
    }
    if k == 0 {
        top.clear();
        return;
    }
    top.select_nth_unstable_by(k - 1, |a, b| b.key.total_cmp(&a.key));
    let kth = top[k - 1].key;
    top.retain(|c| c.key >= kth);
}

enum SortColumn {
    Score,
    U64(Column<u64>),
    Date(Column<tantivy::DateTime>),
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
    /// When the top `k` is kept by text score (every match counted or
    /// not): the most the blend lifts a text score in this segment.
    floor_lift: Option<f32>,
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
    marks: Option<MatchedDocs>,
    /// The segment's posts never collected.
    excluded: Vec<DocId>,
    total: u64,
    /// Min-heap (via `Reverse`) of the best `k`: its top is the worst kept.
    heap: BinaryHeap<Reverse<Entry>>,
    /// With distinct results: which posts have copies ([`copies::Copies`],
    /// and this segment's ordinal in it). The others go to the heap.
    copies: Option<(Arc<copies::Copies>, usize)>,
    /// With distinct results, the best match of every group of copies (a
    /// group may be better in another segment) and its matches here.
    groups: rustc_hash::FxHashMap<u64, (Entry, u64)>,
    /// The `k`-th key of the search's best segment so far.
    floor: SharedFloor,
}

impl SegmentSearchCollector {
    /// The text score at or under which a match cannot make the top `k`
    /// (0 until `k` are kept, or when every match is counted). A little
    /// under the exact bound, so that a tie with the worst kept is still
    /// collected despite rounding.
    fn text_threshold(&self) -> Score {
        self.threshold_under(self.max_lift)
    }

    /// [`Self::text_threshold`] for a search that counts every match:
    /// the floor of [`crate::any_words`].
    fn text_floor(&self) -> Score {
        self.threshold_under(self.floor_lift)
    }

    fn threshold_under(&self, lift: Option<f32>) -> Score {
        let Some(lift) = lift else {
            return 0.0;
        };
        // This segment's `k`-th key, or a better one another kept.
        let own = match self.heap.peek() {
            Some(Reverse(worst)) if self.heap.len() >= self.k => worst.key,
            _ => f64::NEG_INFINITY,
        };
        let key = own.max(self.floor.get());
        if key == f64::NEG_INFINITY {
            return 0.0;
        }
        (key / lift as f64 * (1.0 - 1e-5)) as Score
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

    /// The group of copies of `doc`, if it has copies.
    #[inline]
    fn group_of(&self, doc: DocId) -> Option<u64> {
        let (copies, segment) = self.copies.as_ref()?;
        let g = *copies.segment(*segment).get(doc as usize)?;
        (g != copies::NO_COPIES).then_some(g)
    }

    /// Keeps `doc` if it is the best of its group of copies so far.
    fn collect_copy(&mut self, doc: DocId, score: Score, group: u64) {
        let entry = self.entry(doc, score);
        match self.groups.entry(group) {
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert((entry, 1));
            }
            std::collections::hash_map::Entry::Occupied(o) => {
                let (best, size) = o.into_mut();
                *size += 1;
                if entry > *best {
                    *best = entry;
                }
            }
        }
    }

    /// `doc` as the heap keeps it.
    fn entry(&self, doc: DocId, score: Score) -> Entry {
        let meta = if self.precomputed_meta {
            self.cols.meta_scores[doc as usize]
        } else {
            self.meta.meta(doc)
        };
        Entry {
            key: self.sort_key(doc, blend(score, meta, self.meta_weight)),
            id_ord: self.id_ord(doc),
            doc,
            text: score,
            meta,
        }
    }

    fn id_ord(&self, doc: DocId) -> u64 {
        self.cols
            .id
            .as_ref()
            .and_then(|c| c.term_ords(doc).next())
            .unwrap_or(u64::MAX)
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
        if let Some(group) = self.group_of(doc) {
            self.collect_copy(doc, score, group);
            return;
        }
        if self.k == 0 || score == crate::any_words::UNSCORED {
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
        let id_ord = self.id_ord(doc);
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
        } else {
            return;
        }
        if self.heap.len() >= self.k {
            let worst = &self.heap.peek().expect("non-empty").0;
            self.floor.raise(worst.key);
        }
        if self.floor_lift.is_some() {
            crate::any_words::set_text_floor(self.text_floor());
        }
    }

    fn harvest(mut self) -> SegmentCollected {
        if let (Some(fo), Some(marks)) = (&self.cols.facet_ords, &self.marks) {
            fo.count_marks(marks, self.total, &mut self.facet_counts);
        }
        if self.with_facets {
            add_combinations(&self.cols.facet_bases, &mut self.facet_counts);
        }
        let segment_ord = self.segment_ord;
        let candidate = |e: Entry, group: Option<u64>, group_size: u64| Candidate {
            key: e.key,
            address: DocAddress::new(segment_ord, e.doc),
            id_ord: e.id_ord,
            text: e.text,
            meta: e.meta,
            group,
            group_size,
        };
        let groups = self
            .groups
            .into_iter()
            .map(|(g, (e, size))| candidate(e, Some(g), size));
        let top = self
            .heap
            .into_iter()
            .map(|Reverse(e)| candidate(e, None, 1))
            .chain(groups)
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

#[cfg(test)]
mod tests {
    use super::test_support::counting;
    use super::*;
    use postsearch_corpus::in_ram_index;

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
                // tantivy's pruning union adds the terms in another order, so
                // a key may differ in its last bits, and posts whose keys tie
                // to those bits may trade places (which ties there are
                // depends on how the indexing threads split the posts into
                // segments). Any other difference fails.
                let close = |x: f64, y: f64| (x - y).abs() <= y.abs() * 1e-6;
                let last = all.top.last().expect("k posts").key;
                for (i, (t, a)) in top.top.iter().zip(&all.top).enumerate() {
                    assert!(close(t.key, a.key), "{} vs {}", t.key, a.key);
                    if t.address == a.address {
                        continue;
                    }
                    let tied = match all.top.iter().find(|x| x.address == t.address) {
                        Some(x) => close(x.key, a.key),
                        None => close(t.key, last),
                    };
                    assert!(
                        tied,
                        "k {k}, meta weight {meta_weight}: place {i} holds {:?}, not {:?}, without a tie",
                        t.address, a.address
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
    fn segments_searched_after_others_start_from_their_floor_and_answer_the_same() {
        use crate::any_words::AnyWords;
        use crate::combined::CombinedTerm;
        use crate::term_infos::Statistics;
        use tantivy::query::{BooleanQuery, Query};
        use tantivy::Term;
        let index = in_ram_index(53, 4, 250, |_, _| {});
        let searcher = index.searcher();
        assert!(searcher.segment_readers().len() > 1, "several segments");
        let fields = index.fields();
        // Any of the words, each in the title and the body: what a
        // question is searched as.
        let words: Vec<(Box<dyn Query>, Score)> = ["cache", "deploy", "test", "the", "servic"]
            .iter()
            .map(|w| {
                let term = CombinedTerm::new(vec![
                    (Term::from_field_text(fields.title, w), 2.0),
                    (Term::from_field_text(fields.body, w), 1.0),
                ]);
                let bound = term.max_score(&Statistics(&searcher)).unwrap();
                (Box::new(term) as Box<dyn Query>, bound)
            })
            .collect();
        let any = AnyWords::new(
            words.iter().map(|(q, b)| (q.box_clone(), *b)).collect(),
            Vec::new(),
        );
        let union = BooleanQuery::union(words.iter().map(|(q, _)| q.box_clone()).collect());
        for k in [1, 10, 40] {
            let collect = |query: &dyn Query| {
                let collector = counting(k);
                let mut got = searcher.search(query, &collector).unwrap();
                collector.rank(&mut got.top).unwrap();
                (got, collector.floor.get())
            };
            let ((ours, floor), (exact, _)) = (collect(&any), collect(&union));
            assert!(floor > f64::NEG_INFINITY, "k {k}: no floor shared");
            let docs = |c: &Collected| c.top.iter().map(|c| c.address).collect::<Vec<_>>();
            assert_eq!(docs(&ours), docs(&exact), "k {k}");
            assert_eq!(ours.total, exact.total);
            assert_eq!(ours.facets, exact.facets);
            // The floor is the best k-th key of a segment: at most the
            // answer's k-th.
            let kth = ours.top[k.min(ours.top.len()) - 1].key;
            assert!(floor <= kth, "k {k}: floor {floor} over the k-th key {kth}");
        }
    }
}
