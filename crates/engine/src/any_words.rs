//! A query of several words, any of which matches, that leaves unscored
//! the matches that cannot make the top of the answer.
//!
//! A long query (match `auto`, 4+ words) matches the posts that hold any of
//! its rarer words; its common words and the title-coverage bonus only add
//! to the score. Every match is counted (the total and the facets), but only
//! the best `k` are shown, and most matches of a question hold one of its
//! words once: they cannot reach the `k`-th score. Each word comes with an
//! upper bound of its score (BM25F saturates: see
//! [`CombinedTerm::max_score`](crate::combined::CombinedTerm::max_score)).
//! A match that cannot pass the collector's floor ([`set_text_floor`]) —
//! its words' bounds, or the exact scores of its words of highest bounds
//! plus the bounds of the others and of every optional clause, stay at or
//! under it — is handed to the collector with [`UNSCORED`] instead of its
//! score: the bound MaxScore (Turtle and Flood, 1995) skips posting lists
//! by, applied match by match since every match is counted anyway (see
//! `for_each_window`). A match that is scored gets the sum the
//! `BooleanQuery` of the same clauses gives (tested; the sum may be taken
//! in another order, so its last bit may differ).

use crate::collector::SegmentColumns;
use crate::combined::{with_window_scratch, CombinedScorer};
use crate::union::UnionScorer;
use std::cell::{Cell, RefCell};
use std::sync::Arc;
use tantivy::query::{EmptyScorer, EnableScoring, Explanation, Query, Scorer, Weight};
use tantivy::{DocId, DocSet, Score, SegmentReader, TantivyError, Term, TERMINATED};

/// The score a match left unscored is collected with: lower than any.
pub const UNSCORED: Score = Score::NEG_INFINITY;

thread_local! {
    /// The text score at or under which a match cannot make the answer's
    /// top, as the collector of the segment searched on this thread last
    /// said (0: every match is scored).
    static TEXT_FLOOR: Cell<Score> = const { Cell::new(0.0) };
    /// How the collector of the segment searched on this thread lifts
    /// each match's text score.
    static LIFTS: RefCell<Option<Lifts>> = const { RefCell::new(None) };
    /// Where the matches left unscored go in bulk, when the collector
    /// takes them so (see [`FloorScope::collect_unscored_in_bulk`]).
    static BULK: RefCell<Option<UnscoredMatches>> = const { RefCell::new(None) };
}

/// The matches an [`AnyWords`] left unscored, handed over together instead
/// of one callback each: how many, and, when the collector marks its
/// matches for the facet counts, a bit per document of the segment.
#[derive(Debug)]
pub struct UnscoredMatches {
    pub count: u64,
    /// Bit `doc % 64` of word `doc / 64` set for each match (a word more
    /// than the segment needs); made at the first match, when asked for.
    pub bits: Option<Vec<u64>>,
    /// The words `bits` takes, when asked for.
    words: Option<usize>,
}

impl UnscoredMatches {
    /// Adds the matches of `word`, whose bit `i` is document `first + i`.
    #[inline]
    fn add(&mut self, first: DocId, word: u64) {
        self.count += u64::from(word.count_ones());
        if let Some(words) = self.words {
            let bits = self.bits.get_or_insert_with(|| vec![0; words]);
            let (at, shift) = ((first / 64) as usize, first % 64);
            bits[at] |= word << shift;
            if shift > 0 {
                bits[at + 1] |= word >> (64 - shift);
            }
        }
    }
}

/// How a collector lifts text scores into its keys, `text · (1 + weight ·
/// meta)`: a match whose bound, lifted by its own meta score, stays under
/// the floor lifted by the largest (`max`) cannot make the top either.
#[derive(Clone)]
pub struct Lifts {
    /// The segment's columns, with each post's meta score.
    pub columns: Arc<SegmentColumns>,
    pub weight: f32,
    /// The largest lift in the segment (the floor is the `k`-th key over
    /// it).
    pub max: f32,
}

impl Lifts {
    /// The lift of `doc`'s text score into its key.
    #[inline]
    fn of(&self, doc: DocId) -> Score {
        let meta = self.columns.meta_scores.get(doc as usize).copied();
        1.0 + self.weight * meta.unwrap_or(1.0)
    }
}

/// Tells the [`AnyWords`] searched on this thread that a match scoring at
/// most `floor` cannot make the answer (see the module documentation).
/// Only a collector that keeps the best matches by text score (times a
/// lift it knows the most of) may set it, within a [`FloorScope`].
pub fn set_text_floor(floor: Score) {
    TEXT_FLOOR.with(|f| f.set(floor));
}

fn text_floor() -> Score {
    TEXT_FLOOR.with(|f| f.get())
}

/// Keeps a floor set on this thread to one segment's search: it is 0 when
/// the scope opens and again when it closes.
pub struct FloorScope(());

impl FloorScope {
    /// Starts a search with no floor, whose collector lifts text scores by
    /// `lifts` (`None`: by at most the floor's lift, as far as
    /// `AnyWords` knows).
    pub fn open(lifts: Option<Lifts>) -> FloorScope {
        set_text_floor(0.0);
        LIFTS.with(|l| *l.borrow_mut() = lifts);
        FloorScope(())
    }

    /// Has the matches left unscored in this scope handed over in bulk
    /// ([`FloorScope::take_unscored`]) rather than each to the callback
    /// with [`UNSCORED`]: for a collector that counts every match of a
    /// segment of `max_doc` documents alike (no deleted posts, no facet
    /// selection, no excluded post), `with_bits` when it marks them.
    pub fn collect_unscored_in_bulk(&self, max_doc: DocId, with_bits: bool) {
        let words = with_bits.then(|| (max_doc as usize).div_ceil(64) + 1);
        BULK.with(|b| {
            *b.borrow_mut() = Some(UnscoredMatches {
                count: 0,
                bits: None,
                words,
            })
        });
    }

    /// The matches left unscored in bulk so far (`None` unless asked for).
    pub fn take_unscored(&self) -> Option<UnscoredMatches> {
        BULK.with(|b| b.borrow_mut().take())
    }
}

impl Drop for FloorScope {
    fn drop(&mut self) {
        set_text_floor(0.0);
        LIFTS.with(|l| *l.borrow_mut() = None);
        BULK.with(|b| *b.borrow_mut() = None);
    }
}

/// Posts matching any of `words`, scored by the sum of the matching words'
/// scores and of the `extras` that match too (optional clauses: they never
/// match on their own). Each clause comes with the most it can score.
#[derive(Debug)]
pub struct AnyWords {
    words: Vec<(Box<dyn Query>, Score)>,
    extras: Vec<(Box<dyn Query>, Score)>,
}

impl AnyWords {
    /// Any of `words`, with `extras` added to the score; each clause with
    /// an upper bound of its score under boost 1 (`Score::INFINITY` when
    /// unknown: the clause is never left unscored, and its matches are
    /// judged by their exact scores).
    pub fn new(words: Vec<(Box<dyn Query>, Score)>, extras: Vec<(Box<dyn Query>, Score)>) -> Self {
        // A bound that is not a number (an unbounded phrase under a zero
        // boost) bounds nothing.
        let unknown_is_unbounded = |clauses: Vec<(Box<dyn Query>, Score)>| {
            clauses
                .into_iter()
                .map(|(q, b)| (q, if b.is_nan() { Score::INFINITY } else { b }))
                .collect()
        };
        AnyWords {
            words: unknown_is_unbounded(words),
            extras: unknown_is_unbounded(extras),
        }
    }
}

impl Clone for AnyWords {
    fn clone(&self) -> AnyWords {
        let copy = |clauses: &[(Box<dyn Query>, Score)]| {
            clauses.iter().map(|(q, b)| (q.box_clone(), *b)).collect()
        };
        AnyWords {
            words: copy(&self.words),
            extras: copy(&self.extras),
        }
    }
}

impl Query for AnyWords {
    fn weight(&self, scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        let weigh = |clauses: &[(Box<dyn Query>, Score)]| {
            clauses
                .iter()
                .map(|(q, bound)| Ok((q.weight(scoring)?, *bound)))
                .collect::<tantivy::Result<Vec<_>>>()
        };
        Ok(Box::new(AnyWordsWeight {
            words: weigh(&self.words)?,
            extras: weigh(&self.extras)?,
        }))
    }

    fn query_terms<'a>(&'a self, visitor: &mut dyn FnMut(&'a Term, bool)) {
        for (q, _) in self.words.iter().chain(&self.extras) {
            q.query_terms(visitor);
        }
    }
}

struct AnyWordsWeight {
    words: Vec<(Box<dyn Weight>, Score)>,
    extras: Vec<(Box<dyn Weight>, Score)>,
}

impl AnyWordsWeight {
    /// The scorers of the words and of the extras in a segment (those not
    /// exhausted from the start), with their bounds under `boost`.
    fn children(
        &self,
        reader: &SegmentReader,
        boost: Score,
    ) -> tantivy::Result<(Vec<Child>, Vec<Child>)> {
        let open = |clauses: &[(Box<dyn Weight>, Score)]| -> tantivy::Result<Vec<Child>> {
            let mut out = Vec::with_capacity(clauses.len());
            for (weight, bound) in clauses {
                let scorer = weight.scorer(reader, boost)?;
                if scorer.doc() != TERMINATED {
                    out.push(Child {
                        scorer,
                        bound: bound * boost,
                    });
                }
            }
            Ok(out)
        };
        Ok((open(&self.words)?, open(&self.extras)?))
    }

    fn any_scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<AnyWordsScorer> {
        let (words, extras) = self.children(reader, boost)?;
        Ok(AnyWordsScorer {
            words: UnionScorer::new(words.into_iter().map(|c| c.scorer).collect()),
            extras,
        })
    }
}

impl Weight for AnyWordsWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        let scorer = self.any_scorer(reader, boost)?;
        if scorer.doc() == TERMINATED {
            return Ok(Box::new(EmptyScorer));
        }
        Ok(Box::new(scorer))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        let mut scorer = self.any_scorer(reader, 1.0)?;
        if scorer.doc() > doc || scorer.seek(doc) != doc {
            return Err(TantivyError::InvalidArgument(format!(
                "Document #({doc}) does not match"
            )));
        }
        let mut explanation = Explanation::new("any of the words, sum of", scorer.score());
        for (weight, _) in self.words.iter().chain(&self.extras) {
            if let Ok(child) = weight.explain(reader, doc) {
                explanation.add_detail(child);
            }
        }
        Ok(explanation)
    }

    /// Every match, scored unless it cannot make the top (see
    /// [`for_each_window`]).
    fn for_each(
        &self,
        reader: &SegmentReader,
        callback: &mut dyn FnMut(DocId, Score),
    ) -> tantivy::Result<()> {
        let (mut words, mut extras) = self.children(reader, 1.0)?;
        let extras_bound = extras.iter().map(|c| c.bound).sum();
        let lifts = LIFTS.with(|l| l.borrow().clone());
        // The clauses with the lowest bounds are the first left unscored.
        words.sort_by(|a, b| a.bound.total_cmp(&b.bound));
        let mut window = Window {
            // Taken for the walk, given back after it.
            bulk: BULK.with(|b| b.borrow_mut().take()),
            ..Window::default()
        };
        while let Some(start) = words.iter().map(|c| c.scorer.doc()).min() {
            // Matches handed over in bulk do not reach the collector's
            // budget check: it is made here, once a window.
            if start == TERMINATED || (window.bulk.is_some() && crate::budget::exhausted()) {
                break;
            }
            for_each_window(
                start,
                &mut words,
                &mut extras,
                extras_bound,
                lifts.as_ref(),
                &mut window,
                callback,
            );
            words.retain(|c| c.scorer.doc() != TERMINATED);
        }
        if let Some(bulk) = window.bulk {
            BULK.with(|b| *b.borrow_mut() = Some(bulk));
        }
        Ok(())
    }
}

/// How far over its bound a match is taken to score: scores are summed in
/// another order than the bounds, so their last bits may differ.
const HAIR: Score = 1e-4;

/// Documents a window of [`for_each_window`] spans.
const WINDOW: usize = crate::combined::WINDOW;

/// The per-window state of [`AnyWordsWeight::for_each`], reused.
struct Window {
    /// Matches in the window, by offset.
    matched: [u64; WINDOW / 64],
    /// Matches to score, by offset.
    scored: [u64; WINDOW / 64],
    /// Scores so far, by offset, summed in `f64`: the clauses' `f32`
    /// scores add up exactly whatever their order, which the floor decides
    /// (and, with segments searched on several threads, the timing), so a
    /// match's score does not depend on it.
    scores: Box<[f64; WINDOW]>,
    /// Where the matches left unscored go, when the collector takes them
    /// in bulk.
    bulk: Option<UnscoredMatches>,
    /// The extras' scores of the matches to score, by offset, summed as
    /// [`extras_score`] sums them.
    extra_scores: Box<[f32; WINDOW]>,
}

impl Default for Window {
    fn default() -> Window {
        Window {
            matched: [0; WINDOW / 64],
            scored: [0; WINDOW / 64],
            scores: Box::new([0.0; WINDOW]),
            bulk: None,
            extra_scores: Box::new([0.0; WINDOW]),
        }
    }
}

/// Hands the matches of the window of [`WINDOW`] documents from `start`
/// to `callback`, in order, as tantivy's buffered union walks a union: each
/// clause's postings in the window in one loop. With a floor set (see
/// [`set_text_floor`]), the clauses of lowest bounds whose bounds, with the
/// extras', add up to no more than the floor are *non-essential*: a match
/// of only those cannot make the top (MaxScore). The essential clauses are
/// scored first; a match whose essential score plus every other bound
/// passes the floor is then scored in full (non-essential clauses as
/// their postings go by, extras as [`add_extras`] adds them); the others
/// are only marked.
fn for_each_window(
    start: DocId,
    words: &mut [Child],
    extras: &mut [Child],
    extras_bound: Score,
    lifts: Option<&Lifts>,
    window: &mut Window,
    callback: &mut dyn FnMut(DocId, Score),
) {
    let horizon = start.saturating_add(WINDOW as DocId);
    let floor = text_floor();
    let over = |bound: Score| floor <= 0.0 || bound.is_nan() || bound * (1.0 + HAIR) > floor;
    let mut rest = extras_bound;
    let mut non_essential = 0;
    if floor > 0.0 {
        for child in words.iter() {
            if over(rest + child.bound) {
                break;
            }
            rest += child.bound;
            non_essential += 1;
        }
    }
    let (minor, essential) = words.split_at_mut(non_essential);
    let Window {
        matched,
        scored,
        scores,
        bulk,
        extra_scores,
    } = window;
    for child in essential.iter_mut() {
        if let Some(word) = child.scorer.downcast_mut::<CombinedScorer>() {
            with_window_scratch(|scratch| {
                word.add_window(
                    start,
                    horizon,
                    None,
                    Some(&mut matched[..]),
                    &mut scores[..],
                    scratch,
                )
            });
            continue;
        }
        let scorer = &mut child.scorer;
        let mut doc = scorer.doc();
        while doc < horizon {
            let at = (doc - start) as usize;
            matched[at / 64] |= 1 << (at % 64);
            scores[at] += f64::from(scorer.score());
            doc = scorer.advance();
        }
    }
    // Matches of essential clauses that may make the top, each lifted
    // by its own meta score when the collector says how: `over` of the
    // lifted bound, with the floor's lift and the hair moved to the floor
    // (no division per match; a bound that is not a number passes).
    let (max_lift, no_floor) = (lifts.map_or(1.0, |l| l.max), floor <= 0.0);
    let limit = floor * max_lift / (1.0 + HAIR);
    for (word, (matched, scored)) in matched.iter().zip(scored.iter_mut()).enumerate() {
        let mut bits = *matched;
        if no_floor {
            *scored = bits;
            continue;
        }
        while bits != 0 {
            let bit = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            let at = word * 64 + bit;
            let lift = lifts.map_or(1.0, |l| l.of(start + at as DocId));
            let key = (scores[at] as Score + rest) * lift;
            if key > limit || key.is_nan() {
                *scored |= 1 << bit;
            }
        }
    }
    for child in minor.iter_mut() {
        if let Some(word) = child.scorer.downcast_mut::<CombinedScorer>() {
            with_window_scratch(|scratch| {
                word.add_window(
                    start,
                    horizon,
                    Some(&scored[..]),
                    Some(&mut matched[..]),
                    &mut scores[..],
                    scratch,
                )
            });
            continue;
        }
        let scorer = &mut child.scorer;
        let mut doc = scorer.doc();
        while doc < horizon {
            let at = (doc - start) as usize;
            matched[at / 64] |= 1 << (at % 64);
            if scored[at / 64] & (1 << (at % 64)) != 0 {
                scores[at] += f64::from(scorer.score());
            }
            doc = scorer.advance();
        }
    }
    add_extras(start, horizon, extras, &scored[..], &mut extra_scores[..]);
    for word in 0..WINDOW / 64 {
        let all = std::mem::take(&mut matched[word]);
        let to_score = std::mem::take(&mut scored[word]);
        if all == 0 {
            continue;
        }
        let mut bits = all;
        if let Some(bulk) = bulk {
            let unscored = all & !to_score;
            if unscored != 0 {
                bulk.add(start + (word * 64) as DocId, unscored);
            }
            bits = to_score;
        }
        while bits != 0 {
            let bit = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            let at = word * 64 + bit;
            let doc = start + at as DocId;
            if to_score & (1 << bit) == 0 {
                callback(doc, UNSCORED);
                continue;
            }
            let score = scores[at] + f64::from(std::mem::take(&mut extra_scores[at]));
            callback(doc, score as Score);
        }
        scores[word * 64..(word + 1) * 64].fill(0.0);
    }
}

/// Adds to `sums` the extras' scores of the matches of the window from
/// `start` to score (bits of `scored`), each extra in turn, as
/// [`extras_score`] adds them match by match: a BM25F word's postings
/// walked over the window field by field, another extra sought to each
/// match.
fn add_extras(
    start: DocId,
    horizon: DocId,
    extras: &mut [Child],
    scored: &[u64],
    sums: &mut [f32],
) {
    if extras.is_empty() || scored.iter().all(|&w| w == 0) {
        return;
    }
    for child in extras.iter_mut() {
        if child.scorer.doc() >= horizon {
            continue;
        }
        if let Some(word) = child.scorer.downcast_mut::<CombinedScorer>() {
            with_window_scratch(|scratch| {
                word.add_window(start, horizon, Some(scored), None, sums, scratch)
            });
            continue;
        }
        for (word, &bits) in scored.iter().enumerate() {
            let mut bits = bits;
            while bits != 0 {
                let at = word * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let doc = start + at as DocId;
                let mut on = child.scorer.doc();
                if on < doc {
                    on = child.scorer.seek(doc);
                }
                if on == doc {
                    sums[at] += child.scorer.score();
                }
            }
        }
    }
}

/// A clause's scorer and the most it scores.
struct Child {
    scorer: Box<dyn Scorer>,
    bound: Score,
}

/// The scorer of [`AnyWords`], a match at a time: the union of its words,
/// plus the extras that match too.
struct AnyWordsScorer {
    words: UnionScorer,
    extras: Vec<Child>,
}

impl DocSet for AnyWordsScorer {
    fn advance(&mut self) -> DocId {
        self.words.advance()
    }

    fn seek(&mut self, target: DocId) -> DocId {
        self.words.seek(target)
    }

    fn doc(&self) -> DocId {
        self.words.doc()
    }

    fn size_hint(&self) -> u32 {
        self.words.size_hint()
    }

    fn cost(&self) -> u64 {
        self.words.cost()
    }
}

impl Scorer for AnyWordsScorer {
    fn score(&mut self) -> Score {
        let doc = self.doc();
        self.words.score() + extras_score(&mut self.extras, doc)
    }
}

/// The scores of the extras that match `doc`, summed. The extras move only
/// when a match is scored, always forward.
fn extras_score(extras: &mut [Child], doc: DocId) -> Score {
    let mut score = 0.0;
    for child in extras {
        let mut at = child.scorer.doc();
        if at < doc {
            at = child.scorer.seek(doc);
        }
        if at == doc {
            score += child.scorer.score();
        }
    }
    score
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::combined::CombinedTerm;
    use crate::every::matches;
    use crate::term_infos::Statistics;
    use postsearch_corpus::in_ram_index;
    use tantivy::query::{BooleanQuery, BoostQuery, Occur, TermQuery};
    use tantivy::schema::IndexRecordOption;
    use tantivy::{DocAddress, Searcher};

    /// The words as `AnyWords` clauses (each word in title and body,
    /// the title scored alone too, under a boost), with their bounds.
    fn clauses(searcher: &Searcher, words: &[&str]) -> Vec<(Box<dyn Query>, Score)> {
        let schema = searcher.schema();
        let (title, body) = (
            schema.get_field("title").unwrap(),
            schema.get_field("body").unwrap(),
        );
        words
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let w = &postsearch_store::analysis::terms(w)[0];
                let term = CombinedTerm::new(vec![
                    (Term::from_field_text(title, w), 2.0),
                    (Term::from_field_text(body, w), 1.0),
                ])
                .scoring_alone(0, 0.2);
                let boost = 1.0 - 0.1 * i as Score;
                let bound = boost * term.max_score(&Statistics(searcher)).unwrap();
                (
                    Box::new(BoostQuery::new(Box::new(term), boost)) as Box<dyn Query>,
                    bound,
                )
            })
            .collect()
    }

    fn copy(clauses: &[(Box<dyn Query>, Score)]) -> Vec<(Box<dyn Query>, Score)> {
        clauses.iter().map(|(q, b)| (q.box_clone(), *b)).collect()
    }

    /// What `AnyWords` replaces: the union of the words, the extras as
    /// optional clauses.
    fn boolean(
        words: &[(Box<dyn Query>, Score)],
        extras: &[(Box<dyn Query>, Score)],
    ) -> BooleanQuery {
        let any = BooleanQuery::union(words.iter().map(|(q, _)| q.box_clone()).collect());
        let mut all: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, Box::new(any))];
        all.extend(extras.iter().map(|(q, _)| (Occur::Should, q.box_clone())));
        BooleanQuery::new(all)
    }

    fn sorted(mut m: Vec<(DocAddress, Score)>) -> Vec<(DocAddress, Score)> {
        m.sort_by_key(|(d, _)| *d);
        m
    }

    /// The scores of `matches`, best first.
    fn best_first<D>(matches: &[(D, Score)]) -> Vec<Score> {
        let mut scores: Vec<Score> = matches.iter().map(|(_, s)| *s).collect();
        scores.sort_by(|a, b| b.total_cmp(a));
        scores
    }

    /// The weight of `AnyWords` of `words` and `extras`.
    fn any_words_weight(searcher: &Searcher, words: &[&str], extras: &[&str]) -> Box<dyn Weight> {
        let (w, e) = (clauses(searcher, words), clauses(searcher, extras));
        AnyWords::new(w, e)
            .weight(EnableScoring::enabled_from_searcher(searcher))
            .unwrap()
    }

    /// Every match of `weight` in `reader`, in order, with its score (or
    /// [`UNSCORED`], under the floor set).
    fn segment_matches(weight: &dyn Weight, reader: &SegmentReader) -> Vec<(DocId, Score)> {
        let mut found = Vec::new();
        weight
            .for_each(reader, &mut |doc, score| found.push((doc, score)))
            .unwrap();
        found
    }

    #[test]
    fn matches_and_scores_as_the_boolean_query_it_replaces() {
        let index = in_ram_index(29, 3, 200, |_, _| {});
        let searcher = index.searcher();
        for (words, extras) in [
            (vec!["cache", "deploy", "zzznothing"], vec!["the"]),
            (vec!["django", "query", "test", "memory"], vec![]),
            (vec!["cache"], vec!["the", "and"]),
        ] {
            let (w, e) = (clauses(&searcher, &words), clauses(&searcher, &extras));
            let ours = sorted(matches(&searcher, &AnyWords::new(copy(&w), copy(&e)), None));
            let theirs = sorted(matches(&searcher, &boolean(&w, &e), None));
            assert_eq!(ours.len(), theirs.len(), "{words:?}");
            assert!(!ours.is_empty(), "{words:?}");
            for ((da, sa), (db, sb)) in ours.iter().zip(&theirs) {
                assert_eq!(da, db);
                assert!(
                    (sa - sb).abs() < 1e-4 * sb.max(1.0),
                    "{words:?}: {sa} vs {sb}"
                );
            }
        }
    }

    /// `AnyWords` of `words` and `extras` searched under the floor a
    /// collector keeping the best 10 would end with, checked against the
    /// exact scores: matches under the floor may come unscored, the others
    /// come with their scores. How many came unscored.
    fn unscored_under_the_floor(
        searcher: &Searcher,
        words: &[(Box<dyn Query>, Score)],
        extras: &[(Box<dyn Query>, Score)],
    ) -> usize {
        let exact = sorted(matches(searcher, &boolean(words, extras), None));
        let floor = best_first(&exact)[9] * 0.999;
        let ours = {
            let _scope = FloorScope::open(None);
            set_text_floor(floor);
            let query = AnyWords::new(copy(words), copy(extras));
            sorted(matches(searcher, &query, None))
        };
        assert_eq!(ours.len(), exact.len());
        let mut unscored = 0;
        for ((da, sa), (db, sb)) in ours.iter().zip(&exact) {
            assert_eq!(da, db);
            if *sa == UNSCORED {
                unscored += 1;
                assert!(*sb <= floor, "{db:?} scores {sb}, over the floor {floor}");
            } else {
                assert!((sa - sb).abs() < 1e-4 * sb.max(1.0), "{sa} vs {sb}");
            }
        }
        unscored
    }

    #[test]
    fn only_matches_under_the_floor_come_unscored() {
        let index = in_ram_index(31, 3, 200, |_, _| {});
        let searcher = index.searcher();
        let w = clauses(
            &searcher,
            &["the", "cache", "deploy", "kubernetes", "django"],
        );
        let e = clauses(&searcher, &["and"]);
        // The best ten are all scored; matches of `the` alone are not.
        let unscored = unscored_under_the_floor(&searcher, &w, &e);
        assert!(unscored > 0, "nothing left unscored");
    }

    #[test]
    fn extras_of_any_kind_add_to_the_matches_scored_over_several_windows() {
        // 5,000 posts in one segment: windows of 4,096 documents, and
        // extras that are BM25F words (walked a window at a time) and a
        // term query (sought match by match).
        let index = postsearch_corpus::in_ram_segment(37, 5000);
        let searcher = index.searcher();
        let body = searcher.schema().get_field("body").unwrap();
        let w = clauses(&searcher, &["cache", "deploy", "kubernetes", "django"]);
        let mut e = clauses(&searcher, &["the", "and"]);
        let term = Term::from_field_text(body, &postsearch_store::analysis::terms("with")[0]);
        let bound = tantivy::query::Bm25Weight::for_terms(&searcher, std::slice::from_ref(&term))
            .unwrap()
            .max_score();
        e.push((
            Box::new(TermQuery::new(term, IndexRecordOption::WithFreqs)),
            bound,
        ));
        let unscored = unscored_under_the_floor(&searcher, &w, &e);
        assert!(unscored > 0, "nothing left unscored");
        let ours = sorted(matches(&searcher, &AnyWords::new(copy(&w), copy(&e)), None));
        let theirs = sorted(matches(&searcher, &boolean(&w, &e), None));
        assert_eq!(ours.len(), theirs.len());
        assert!(ours.last().unwrap().0.doc_id >= 4096, "one window only");
        for ((da, sa), (db, sb)) in ours.iter().zip(&theirs) {
            assert_eq!(da, db);
            assert!((sa - sb).abs() < 1e-4 * sb.max(1.0), "{da:?}: {sa} vs {sb}");
        }
    }

    #[test]
    fn with_lifts_only_matches_whose_lifted_bound_is_under_the_floor_come_unscored() {
        let index = in_ram_index(43, 1, 400, |_, _| {});
        let searcher = index.searcher();
        // The lifts of the first segment; its matches only are checked.
        let first = |m: Vec<(DocAddress, Score)>| -> Vec<(DocAddress, Score)> {
            sorted(m)
                .into_iter()
                .filter(|(d, _)| d.segment_ord == 0)
                .collect()
        };
        let ranking = crate::ranking::RankingConfig::default();
        let columns = Arc::new(SegmentColumns::open(searcher.segment_reader(0), &ranking).unwrap());
        let weight = 0.5;
        let lift = |doc: DocId| 1.0 + weight * columns.meta_scores[doc as usize];
        let max = 1.0 + weight * columns.meta_max;
        let w = clauses(&searcher, &["the", "cache", "deploy", "django", "test"]);
        let exact = first(matches(&searcher, &boolean(&w, &[]), None));
        let mut keys: Vec<Score> = exact.iter().map(|(d, s)| s * lift(d.doc_id)).collect();
        keys.sort_by(|a, b| b.total_cmp(a));
        // The floor of a collector keeping the best 10 by key.
        let floor = keys[9] / max * 0.999;
        let ours = {
            let _scope = FloorScope::open(Some(Lifts {
                columns: columns.clone(),
                weight,
                max,
            }));
            set_text_floor(floor);
            first(matches(&searcher, &AnyWords::new(copy(&w), vec![]), None))
        };
        assert_eq!(ours.len(), exact.len());
        let (mut unscored, mut best) = (0, Vec::new());
        for ((da, sa), (db, sb)) in ours.iter().zip(&exact) {
            assert_eq!(da, db);
            let key = sb * lift(db.doc_id);
            if *sa == UNSCORED {
                unscored += 1;
                assert!(key <= floor * max, "{db:?}: key {key} over {}", floor * max);
            } else {
                best.push(key);
            }
        }
        assert!(unscored > 0);
        best.sort_by(|a, b| b.total_cmp(a));
        assert_eq!(best[..10], keys[..10], "the best ten are scored");
    }

    #[test]
    fn clauses_without_a_bound_leave_no_match_over_the_floor_unscored() {
        let index = in_ram_index(47, 2, 150, |_, _| {});
        let searcher = index.searcher();
        // A clause whose bound is not a number (a phrase under a zero
        // boost: INFINITY × 0).
        let mut w = clauses(&searcher, &["cache"]);
        w[0].1 = Score::INFINITY * 0.0;
        unscored_under_the_floor(&searcher, &w, &[]);
    }

    #[test]
    fn matches_left_unscored_in_bulk_are_those_the_callbacks_would_have_had() {
        let index = in_ram_index(47, 2, 300, |_, _| {});
        let searcher = index.searcher();
        let mut some_unscored = false;
        // Windows start at a match: with `the`, at the first post; without
        // it, at a post in the middle of a word of bits.
        for words in [
            &["the", "cache", "deploy", "django", "test"][..],
            &["cache", "deploy", "django", "memory"][..],
        ] {
            let weight = any_words_weight(&searcher, words, &["and"]);
            for reader in searcher.segment_readers() {
                let exact = segment_matches(&*weight, reader);
                let floor = best_first(&exact)[9] * 0.999;
                let scope = FloorScope::open(None);
                set_text_floor(floor);
                scope.collect_unscored_in_bulk(reader.max_doc(), true);
                let called = segment_matches(&*weight, reader);
                let bulk = scope.take_unscored().expect("asked for");
                let bits = bulk.bits.unwrap_or_default();
                let in_bulk = |doc: DocId| {
                    bits.get(doc as usize / 64)
                        .is_some_and(|w| w & (1 << (doc % 64)) != 0)
                };
                let marked = bits.iter().map(|w| u64::from(w.count_ones())).sum::<u64>();
                assert_eq!(bulk.count, marked);
                assert_eq!(called.len() as u64 + bulk.count, exact.len() as u64);
                let mut called = called.into_iter().peekable();
                for (doc, score) in exact {
                    match called.next_if(|(d, _)| *d == doc) {
                        Some((_, ours)) => {
                            assert!(!in_bulk(doc), "{doc} both called and in bulk");
                            assert!((ours - score).abs() < 1e-4 * score.max(1.0));
                        }
                        None => {
                            assert!(in_bulk(doc), "{doc} lost");
                            assert!(score <= floor, "{doc} scores {score}, over {floor}");
                            some_unscored = true;
                        }
                    }
                }
                assert!(called.next().is_none());
            }
        }
        assert!(some_unscored, "nothing left unscored");
    }

    #[test]
    fn a_match_scores_the_same_whatever_the_floor() {
        let index = in_ram_index(59, 2, 300, |_, _| {});
        let searcher = index.searcher();
        let words = ["the", "cache", "deploy", "django", "test"];
        let weight = any_words_weight(&searcher, &words, &["and"]);
        let mut compared = 0;
        for reader in searcher.segment_readers() {
            let exact = segment_matches(&*weight, reader);
            let scores = best_first(&exact);
            // Floors that make more and more clauses non-essential, which
            // changes the order the clauses are summed in.
            for floor in [scores[40], scores[20], scores[9] * 0.999] {
                let _scope = FloorScope::open(None);
                set_text_floor(floor);
                let ours = segment_matches(&*weight, reader);
                for ((da, sa), (db, sb)) in ours.iter().zip(&exact) {
                    assert_eq!(da, db);
                    if *sa != UNSCORED {
                        assert_eq!(sa.to_bits(), sb.to_bits(), "doc {da} under floor {floor}");
                        compared += 1;
                    }
                }
            }
        }
        assert!(compared > 0);
    }

    #[test]
    fn a_scope_leaves_no_floor_behind() {
        {
            let _scope = FloorScope::open(None);
            set_text_floor(3.0);
        }
        assert_eq!(text_floor(), 0.0);
    }

    #[test]
    fn a_term_query_scores_under_its_bound() {
        // The title-coverage clause's bound is tantivy's own BM25 maximum.
        let index = in_ram_index(37, 2, 100, |_, _| {});
        let searcher = index.searcher();
        let title = searcher.schema().get_field("title").unwrap();
        for word in ["the", "cache", "deploy"] {
            let term = Term::from_field_text(title, word);
            let bound =
                tantivy::query::Bm25Weight::for_terms(&searcher, std::slice::from_ref(&term))
                    .unwrap()
                    .max_score();
            let q = TermQuery::new(term, IndexRecordOption::WithFreqs);
            for (_, s) in matches(&searcher, &q, None) {
                assert!(s <= bound, "{word}: {s} > {bound}");
            }
        }
    }
}
