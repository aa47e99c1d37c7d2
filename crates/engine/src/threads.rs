//! Splitting one search over its segments while cores are idle.
//!
//! A search runs segment by segment on the calling thread. A lone heavy
//! query (a phrase of two common words matches almost every post, and each
//! match reads both words' positions) then leaves the other cores idle. When
//! at least half the cores have no search, [`SearchThreads`] hands the
//! segments to a small shared pool instead, so the query takes about
//! `1/threads` of the time. Under load, when every core already has a search,
//! nothing is split: splitting adds a little work (the hand-off) and no
//! throughput. Nor is a light query: one whose terms hold few postings (a
//! rare word, an identifier) takes less time than waking a helper and
//! waiting for it.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::query::{Bm25StatisticsProvider, EnableScoring, Query};
use tantivy::schema::Field;
use tantivy::{Searcher, Term};

/// Indexes smaller than this are always searched on the calling thread:
/// their queries take well under a millisecond, the hand-off tens of
/// microseconds.
pub const SPLIT_MIN_DOCS: u64 = 10_000;

/// Searches whose scored terms hold fewer postings than this (the document
/// frequencies their weight asks for: every field and alternative of every
/// word, over all segments) stay on the calling thread. Waking a helper and
/// waiting for it takes tens of microseconds, about what half the matching
/// of a few thousand postings takes.
pub const SPLIT_MIN_POSTINGS: u64 = 5_000;

/// How an engine runs its searches (see the module documentation); shared
/// by the engine's clones.
pub struct SearchThreads {
    /// The helpers of split searches (`threads - 1` of them, the calling
    /// thread being the other), started by the first split search (`None`:
    /// they could not start; searches are not split).
    helpers: OnceLock<Option<rayon::ThreadPool>>,
    /// Threads one search may use, its own included (1: never split).
    threads: usize,
    /// Cores of the machine.
    cores: usize,
    /// Requests in the engine now (see [`SearchThreads::busy`]).
    running: AtomicUsize,
    /// The smallest index (in documents) whose searches are split.
    min_docs: u64,
    /// The fewest postings a split search reads (see [`SPLIT_MIN_POSTINGS`]).
    min_postings: u64,
}

impl SearchThreads {
    /// Searches split over up to `threads` threads (0: one per core; 1:
    /// never split).
    pub fn new(threads: usize) -> SearchThreads {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let threads = if threads == 0 { cores } else { threads };
        SearchThreads::with(threads, cores, SPLIT_MIN_DOCS)
    }

    /// Searches over up to `threads` threads on a machine of `cores` cores,
    /// split from indexes of `min_docs` documents.
    pub(crate) fn with(threads: usize, cores: usize, min_docs: u64) -> SearchThreads {
        SearchThreads {
            helpers: OnceLock::new(),
            threads: threads.max(1),
            cores,
            running: AtomicUsize::new(0),
            min_docs,
            min_postings: SPLIT_MIN_POSTINGS,
        }
    }

    /// These searches split only when they read `min_postings` or more.
    #[cfg(test)]
    fn split_from_postings(mut self, min_postings: u64) -> SearchThreads {
        self.min_postings = min_postings;
        self
    }

    /// Counts a request (a search, a suggestion, ...) as in the engine
    /// until the guard drops: searches are split only while few are.
    pub fn busy(&self) -> Busy<'_> {
        Busy::start(&self.running)
    }

    /// Runs `query` through `collector` over `searcher`'s segments, split
    /// over idle cores when it pays (see the module documentation).
    pub fn search<C: Collector>(
        &self,
        searcher: &Searcher,
        query: &dyn Query,
        collector: &C,
    ) -> tantivy::Result<C::Fruit> {
        // The weight asks for the document frequency of every term it
        // scores: their sum tells a light query from a heavy one for free.
        let statistics = CountingStatistics::new(searcher);
        let scoring = if collector.requires_scoring() {
            EnableScoring::enabled_from_statistics_provider(&statistics, searcher)
        } else {
            EnableScoring::disabled_from_searcher(searcher)
        };
        let weight = query.weight(scoring)?;
        collector.check_schema(searcher.schema())?;
        let running = self.running.load(Ordering::Acquire).max(1);
        let split = self.should_split(searcher, running)
            && statistics.postings().is_none_or(|n| n >= self.min_postings);
        let helpers = match split {
            true => self.helpers(),
            false => None,
        };
        let readers = searcher.segment_readers();
        let Some(helpers) = helpers else {
            let fruits = readers
                .iter()
                .enumerate()
                .map(|(ord, reader)| collector.collect_segment(weight.as_ref(), ord as u32, reader))
                .collect::<tantivy::Result<Vec<_>>>()?;
            return collector.merge_fruits(fruits);
        };
        // Segments are taken one at a time, the largest first, by whichever
        // thread is free: the calling thread and the helpers end together.
        let mut order: Vec<usize> = (0..readers.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(readers[i].max_doc()));
        let next = AtomicUsize::new(0);
        let fruits: Vec<Mutex<Option<tantivy::Result<SegmentFruit<C>>>>> =
            readers.iter().map(|_| Mutex::new(None)).collect();
        // The helpers work within the request's budget too.
        let budget = crate::budget::current().unwrap_or_default();
        let work = || {
            budget.enter(|| loop {
                let Some(&ord) = order.get(next.fetch_add(1, Ordering::Relaxed)) else {
                    return;
                };
                let fruit = collector.collect_segment(weight.as_ref(), ord as u32, &readers[ord]);
                *fruits[ord].lock().unwrap_or_else(|e| e.into_inner()) = Some(fruit);
            })
        };
        helpers.in_place_scope(|scope| {
            for _ in 1..self.threads.min(readers.len()) {
                scope.spawn(|_| work());
            }
            work();
        });
        let fruits = fruits
            .into_iter()
            .map(|f| {
                f.into_inner()
                    .unwrap_or_else(|e| e.into_inner())
                    .expect("every segment searched")
            })
            .collect::<tantivy::Result<Vec<_>>>()?;
        collector.merge_fruits(fruits)
    }

    /// The helper threads, started on first use. Helpers that cannot start
    /// (no threads left) only mean searches stay on their own thread.
    fn helpers(&self) -> Option<&rayon::ThreadPool> {
        self.helpers
            .get_or_init(|| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(self.threads - 1)
                    .thread_name(|n| format!("postsearch-search-{n}"))
                    .build()
                    .ok()
            })
            .as_ref()
    }

    /// Whether a search, one of `running` now, is split.
    fn should_split(&self, searcher: &Searcher, running: usize) -> bool {
        self.threads > 1
            && running * 2 <= self.cores.max(2)
            && searcher.segment_readers().len() > 1
            && searcher.num_docs() >= self.min_docs
    }
}

/// A searcher's statistics (see [`crate::term_infos::Statistics`]) that
/// add up the document frequencies asked for: the postings the terms of a
/// weight hold, every field and alternative of every word.
struct CountingStatistics<'a> {
    inner: crate::term_infos::Statistics<'a>,
    postings: AtomicU64,
    asked: AtomicBool,
}

impl<'a> CountingStatistics<'a> {
    fn new(searcher: &'a Searcher) -> CountingStatistics<'a> {
        CountingStatistics {
            inner: crate::term_infos::Statistics(searcher),
            postings: AtomicU64::new(0),
            asked: AtomicBool::new(false),
        }
    }

    /// The postings of the terms asked for; `None` if none was (a query of
    /// no terms, such as every post, or scoring off): unknown.
    fn postings(&self) -> Option<u64> {
        self.asked
            .load(Ordering::Relaxed)
            .then(|| self.postings.load(Ordering::Relaxed))
    }
}

impl Bm25StatisticsProvider for CountingStatistics<'_> {
    fn total_num_tokens(&self, field: Field) -> tantivy::Result<u64> {
        self.inner.total_num_tokens(field)
    }

    fn total_num_docs(&self) -> tantivy::Result<u64> {
        self.inner.total_num_docs()
    }

    fn doc_freq(&self, term: &Term) -> tantivy::Result<u64> {
        let df = self.inner.doc_freq(term)?;
        self.asked.store(true, Ordering::Relaxed);
        self.postings.fetch_add(df, Ordering::Relaxed);
        Ok(df)
    }
}

/// What a collector gathers in one segment.
type SegmentFruit<C> = <<C as Collector>::Child as SegmentCollector>::Fruit;

/// A request counted as in the engine while it lives.
pub struct Busy<'a> {
    counter: &'a AtomicUsize,
}

impl<'a> Busy<'a> {
    fn start(counter: &'a AtomicUsize) -> Busy<'a> {
        counter.fetch_add(1, Ordering::AcqRel);
        Busy { counter }
    }
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.counter.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Engine, RankingConfig, SearchRequest, Sort};
    use postsearch_store::index::PostIndex;
    use std::sync::Mutex;
    use tantivy::schema::IndexRecordOption;
    use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader};

    /// An in-RAM index of 360 generated posts in three or more segments.
    fn segmented() -> PostIndex {
        let index = postsearch_corpus::in_ram_index(17, 3, 120, |_, _| {});
        assert!(index.searcher().segment_readers().len() >= 3);
        index
    }

    /// Collects the names of the threads that searched each segment; with
    /// `true`, as a scoring collector (its weight asks for statistics).
    struct ThreadNames(Mutex<Vec<String>>, bool);

    impl Collector for ThreadNames {
        type Fruit = ();
        type Child = NoMatches;

        fn for_segment(&self, _: SegmentOrdinal, _: &SegmentReader) -> tantivy::Result<NoMatches> {
            let name = std::thread::current().name().unwrap_or("").to_string();
            self.0.lock().unwrap().push(name);
            // Long enough for a helper to wake up and take a segment.
            std::thread::sleep(std::time::Duration::from_millis(20));
            Ok(NoMatches)
        }

        fn requires_scoring(&self) -> bool {
            self.1
        }

        fn merge_fruits(&self, _: Vec<()>) -> tantivy::Result<()> {
            Ok(())
        }
    }

    struct NoMatches;

    impl SegmentCollector for NoMatches {
        type Fruit = ();
        fn collect(&mut self, _: DocId, _: Score) {}
        fn harvest(self) {}
    }

    fn segment_threads(threads: &SearchThreads, index: &PostIndex) -> Vec<String> {
        let names = ThreadNames(Mutex::new(Vec::new()), false);
        let _busy = threads.busy();
        threads
            .search(&index.searcher(), &tantivy::query::AllQuery, &names)
            .unwrap();
        names.0.into_inner().unwrap()
    }

    #[test]
    fn splits_only_while_cores_are_idle() {
        let index = segmented();
        let split = SearchThreads::with(2, 2, 0);
        let caller = std::thread::current().name().unwrap_or("").to_string();
        let names = segment_threads(&split, &index);
        assert_eq!(names.len(), index.searcher().segment_readers().len());
        // The calling thread and the helper both take segments (largest
        // first; the helper starts while the caller searches the first).
        assert!(
            names
                .iter()
                .all(|n| *n == caller || n == "postsearch-search-0"),
            "{names:?}"
        );
        assert!(
            names.iter().any(|n| n == "postsearch-search-0"),
            "{names:?}"
        );
        // Another search running: every core is busy.
        let other = split.busy();
        let names = segment_threads(&split, &index);
        assert!(
            names.iter().all(|n| !n.starts_with("postsearch-search-")),
            "{names:?}"
        );
        drop(other);
        assert_eq!(split.running.load(Ordering::Acquire), 0);
        // On 8 cores, up to 4 searches at once are split.
        let wide = SearchThreads::with(8, 8, 0);
        assert!(wide.should_split(&index.searcher(), 4));
        assert!(!wide.should_split(&index.searcher(), 5));
        // Never: one thread, an index below the threshold, one segment.
        for never in [SearchThreads::with(1, 2, 0), SearchThreads::with(2, 2, 361)] {
            let names = segment_threads(&never, &index);
            assert!(
                names.iter().all(|n| !n.starts_with("postsearch-search-")),
                "{names:?}"
            );
        }
        assert!(SearchThreads::with(2, 2, 360).should_split(&index.searcher(), 1));
        let single = postsearch_corpus::in_ram_index(1, 1, 1, |_, _| {});
        assert!(!split.should_split(&single.searcher(), 1));
    }

    #[test]
    fn light_queries_stay_on_the_calling_thread() {
        let index = segmented();
        let searcher = index.searcher();
        let fields = index.fields();
        let post = postsearch_corpus::generate_post(17, 1005);
        let word = post.title.split_whitespace().next().unwrap().to_lowercase();
        let term = tantivy::Term::from_field_text(fields.title, &word);
        let query = tantivy::query::TermQuery::new(term, IndexRecordOption::Basic);
        let postings = crate::term_infos::doc_freq(&searcher, query.term()).unwrap();
        assert!(postings > 0, "{word}");
        let helper_took_a_segment = |threads: SearchThreads, query: &dyn Query, scoring| {
            let names = ThreadNames(Mutex::new(Vec::new()), scoring);
            let _busy = threads.busy();
            threads.search(&searcher, query, &names).unwrap();
            let names = names.0.into_inner().unwrap();
            assert_eq!(names.len(), searcher.segment_readers().len());
            names.iter().any(|n| n.starts_with("postsearch-search-"))
        };
        let threads = |min_postings| SearchThreads::with(2, 2, 0).split_from_postings(min_postings);
        // Fewer postings than the bound: the caller searches every segment.
        assert!(!helper_took_a_segment(threads(postings + 1), &query, true));
        // As many as the bound: split.
        assert!(helper_took_a_segment(threads(postings), &query, true));
        // Unknown (no statistics asked for): split, as a query of no terms
        // (every post) or a count without scores may read the whole index.
        let all = tantivy::query::AllQuery;
        assert!(helper_took_a_segment(threads(u64::MAX), &all, true));
        assert!(helper_took_a_segment(threads(u64::MAX), &query, false));
    }

    #[test]
    fn split_searches_answer_as_unsplit_ones() {
        let index = segmented();
        let ranking = RankingConfig::default();
        let alone = Engine::new(index.clone(), ranking.clone()).with_search_threads(1);
        let split = Engine::new(index, ranking)
            .with_threads(SearchThreads::with(2, 2, 0).split_from_postings(0));
        let post = postsearch_corpus::generate_post(17, 1005);
        let title_words: Vec<&str> = post.title.split_whitespace().take(2).collect();
        let mut requests = vec![
            SearchRequest::new(title_words[0]),
            SearchRequest::new(format!("\"{}\"", title_words.join(" "))),
            SearchRequest::new("deploy migration"),
            SearchRequest {
                sort: Sort::Views,
                limit: 30,
                ..SearchRequest::new("")
            },
            SearchRequest {
                sort: Sort::Quality,
                limit: 50,
                ..SearchRequest::new("the")
            },
        ];
        let mut faceted = SearchRequest::new("the");
        faceted
            .facets
            .insert("quality".into(), vec!["85-100".into()]);
        requests.push(faceted);
        for req in &requests {
            let a = alone.search(req).unwrap();
            let b = split.search(req).unwrap();
            assert!(a.total > 0, "{:?}", req.q);
            assert_eq!(a.total, b.total, "{:?}", req.q);
            assert_eq!(a.hits, b.hits, "{:?}", req.q);
            assert_eq!(a.facets, b.facets, "{:?}", req.q);
        }
        let id = post.id.clone();
        let a = alone.similar(&id, 10).unwrap();
        let b = split.similar(&id, 10).unwrap();
        assert!(!a.hits.is_empty());
        // tantivy's more-like-this query orders its terms by a hash map, so
        // two engines sum a score in different orders: equal to a rounding.
        let ids = |r: &crate::similar::SimilarResponse| {
            r.hits.iter().map(|h| h.id.clone()).collect::<Vec<_>>()
        };
        assert_eq!(ids(&a), ids(&b));
        for (x, y) in a.hits.iter().zip(&b.hits) {
            assert!(
                (x.score - y.score).abs() <= 1e-5 * x.score.abs(),
                "{x:?} {y:?}"
            );
        }
    }
}
