//! Splitting one search over its segments while cores are idle.
//!
//! A search runs segment by segment on the calling thread. A lone heavy
//! query (a phrase of two common words matches almost every post, and each
//! match reads both words' positions) then leaves the other cores idle. When
//! at least half the cores have no search, [`SearchThreads`] hands the
//! segments to a small shared pool instead, so the query takes about
//! `1/threads` of the time. Under load, when every core already has a search,
//! nothing is split: splitting adds a little work (the hand-off) and no
//! throughput.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::query::{EnableScoring, Query};
use tantivy::Searcher;

/// Indexes smaller than this are always searched on the calling thread:
/// their queries take well under a millisecond, the hand-off tens of
/// microseconds.
pub const SPLIT_MIN_DOCS: u64 = 10_000;

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
        }
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
        let running = self.running.load(Ordering::Acquire).max(1);
        let helpers = match self.should_split(searcher, running) {
            true => self.helpers(),
            false => None,
        };
        let Some(helpers) = helpers else {
            return searcher.search_with_statistics_provider(
                query,
                collector,
                &crate::term_infos::Statistics(searcher),
            );
        };
        let statistics = crate::term_infos::Statistics(searcher);
        let scoring = if collector.requires_scoring() {
            EnableScoring::enabled_from_statistics_provider(&statistics, searcher)
        } else {
            EnableScoring::disabled_from_searcher(searcher)
        };
        let weight = query.weight(scoring)?;
        collector.check_schema(searcher.schema())?;
        let readers = searcher.segment_readers();
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
    use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader};

    /// An in-RAM index of 360 generated posts in three or more segments.
    fn segmented() -> PostIndex {
        let index = postsearch_corpus::in_ram_index(17, 3, 120, |_, _| {});
        assert!(index.searcher().segment_readers().len() >= 3);
        index
    }

    /// Collects the names of the threads that searched each segment.
    struct ThreadNames(Mutex<Vec<String>>);

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
            false
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
        let names = ThreadNames(Mutex::new(Vec::new()));
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
    fn split_searches_answer_as_unsplit_ones() {
        let index = segmented();
        let ranking = RankingConfig::default();
        let alone = Engine::new(index.clone(), ranking.clone()).with_search_threads(1);
        let split = Engine::new(index, ranking).with_threads(SearchThreads::with(2, 2, 0));
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
