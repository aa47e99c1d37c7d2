//! postsearch-engine: ranked search with facets and snippets, similar posts
//! and completions over a `postsearch-store` index.
//!
//! The API is [`Engine`] with its [`EngineOptions`], the request
//! ([`SearchRequest`], with typed [`Filter`]s beside the query text) and the
//! answers ([`SearchResponse`], [`Hit`], [`FacetCounts`]). The CLI, the HTTP
//! server and the benchmark all call it; it knows nothing of HTTP or the
//! command line, and every limit of a request is checked here ([`Limits`]).

pub mod all_words;
pub mod any_words;
pub mod at_least;
pub mod budget;
pub mod build;
pub mod cache;
pub mod collector;
pub mod combined;
mod cursors;
#[cfg(test)]
pub(crate) mod every;
pub mod facet_search;
pub mod facets;
pub mod limits;
pub mod numeric;
pub mod phrase;
pub mod query;
pub mod ranking;
pub mod similar;
pub mod snippet;
pub mod suggest;
pub mod synonyms;
pub mod term_infos;
pub mod term_sum;
pub mod threads;
pub mod types;
mod typos;
pub mod union;
mod window_union;

pub use facet_search::{FacetHit, FacetQuery, FacetSearchResponse};
pub use limits::Limits;
pub use postsearch_store::{Error, ErrorCode, PostIndex, Result};
pub use query::Filter;
pub use ranking::RankingConfig;
pub use synonyms::Synonyms;
pub use types::{
    Distinct, DistinctCounts, Explain, FacetCounts, Hit, MatchMode, ScoreParts, SearchRequest,
    SearchResponse, Sort, SynonymUse,
};

use build::{build, Combine, Context, Expansion};
use collector::{Candidate, Collected, SearchCollector};
use postsearch_store::post::Post;
use postsearch_store::stored::StoredPost;
use snippet::Highlighter;
use std::collections::BTreeSet;
use std::time::Instant;
use tantivy::Searcher;

pub use limits::{MAX_LIMIT, MAX_OFFSET, MAX_QUERY_BYTES};
/// A short query (up to this many clauses) requires all of them by default.
pub const AUTO_ALL_MAX_CLAUSES: usize = 3;

/// How an engine ranks, what it lets a request ask, and how it uses the
/// cores: everything the configuration sets about searching.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EngineOptions {
    pub ranking: RankingConfig,
    pub limits: Limits,
    /// Threads one search may be split over while cores are idle (0: one
    /// per core; 1: never split); see [`threads::SearchThreads`].
    pub search_threads: usize,
    /// The synonym rules (by default the built-in ones).
    pub synonyms: Synonyms,
}

/// The query engine over one index, with its ranking configuration.
#[derive(Clone)]
pub struct Engine {
    index: PostIndex,
    ranking: RankingConfig,
    limits: Limits,
    expansions: std::sync::Arc<build::ExpansionCache>,
    columns: collector::ColumnCache,
    threads: std::sync::Arc<threads::SearchThreads>,
    /// Which posts have copies, for distinct results.
    copies: std::sync::Arc<collector::copies::CopiesCache>,
    /// The synonym rules, replaced whole when their file changes.
    synonyms: std::sync::Arc<std::sync::RwLock<std::sync::Arc<Synonyms>>>,
}

impl Engine {
    /// An engine on `index` with `ranking` and the default limits and
    /// threads.
    pub fn new(index: PostIndex, ranking: RankingConfig) -> Engine {
        Engine::with_options(
            index,
            EngineOptions {
                ranking,
                ..EngineOptions::default()
            },
        )
    }

    /// An engine on `index` as `options` set it up.
    pub fn with_options(index: PostIndex, options: EngineOptions) -> Engine {
        let EngineOptions {
            ranking,
            limits,
            search_threads,
            synonyms,
        } = options;
        Engine {
            columns: collector::ColumnCache::new(&ranking),
            expansions: std::sync::Arc::new(build::ExpansionCache::new(&index)),
            index,
            ranking,
            limits,
            threads: std::sync::Arc::new(threads::SearchThreads::new(search_threads)),
            synonyms: std::sync::Arc::new(std::sync::RwLock::new(std::sync::Arc::new(synonyms))),
            copies: Default::default(),
        }
    }

    /// The synonym rules searches use now.
    pub fn synonyms(&self) -> std::sync::Arc<Synonyms> {
        self.synonyms
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces the synonym rules, for every clone of this engine (the
    /// searches under way keep the rules they started with).
    pub fn set_synonyms(&self, synonyms: Synonyms) {
        *self.synonyms.write().unwrap_or_else(|e| e.into_inner()) = std::sync::Arc::new(synonyms);
    }

    /// This engine with searches split over up to `threads` threads while
    /// cores are idle (0: one per core; 1: never split); see
    /// [`threads::SearchThreads`].
    pub fn with_search_threads(self, threads: usize) -> Engine {
        self.with_threads(threads::SearchThreads::new(threads))
    }

    /// This engine with searches run by `threads`.
    pub(crate) fn with_threads(mut self, threads: threads::SearchThreads) -> Engine {
        self.threads = std::sync::Arc::new(threads);
        self
    }

    /// The index searched.
    pub fn index(&self) -> &PostIndex {
        &self.index
    }

    /// The ranking configuration.
    pub fn ranking(&self) -> &RankingConfig {
        &self.ranking
    }

    /// What a request may ask.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Runs a search: ranked hits with snippets and disjunctive facet counts.
    pub fn search(&self, req: &SearchRequest) -> Result<SearchResponse> {
        Ok(self.run(req, false)?.response)
    }

    /// [`Engine::search`], plus the stored post of every hit and the terms
    /// the query matched (to highlight other fields); for API adapters.
    pub fn search_detailed(&self, req: &SearchRequest) -> Result<DetailedSearch> {
        self.run(req, true)
    }

    fn run(&self, req: &SearchRequest, keep_posts: bool) -> Result<DetailedSearch> {
        self.limits.check(req)?;
        let parsed = parse_request(req, &self.limits)?;
        self.run_parsed(req, parsed, keep_posts)
    }

    /// [`Engine::run`] of a query already parsed (`req.q` is only echoed).
    fn run_parsed(
        &self,
        req: &SearchRequest,
        parsed: query::ParsedQuery,
        keep_posts: bool,
    ) -> Result<DetailedSearch> {
        let _busy = self.busy();
        let started = Instant::now();
        let selections = facets::resolve(&req.facets)?;
        let meta_weight = req.meta_weight.unwrap_or(self.ranking.meta_weight as f32);
        let searcher = self.index.searcher();
        let columns = self.columns().for_searcher(&searcher)?;
        let distinct = match req.distinct {
            Some(_) => Some(collector::copies::copies_of(
                &self.copies,
                &searcher,
                &columns,
            )?),
            None => None,
        };
        let mut collector = SearchCollector {
            columns,
            k: req.offset + req.limit,
            sort: req.sort,
            meta_weight,
            ranking: self.ranking.clone(),
            with_facets: req.with_facets,
            selections,
            excluded: Vec::new(),
            top_only: false,
            distinct,
            floor: Default::default(),
        };
        let expansion = Expansion {
            typos: req.typos,
            prefix: req.prefix,
        };
        let combine = combine_of(req.match_mode, parsed.clauses.len());
        let rules = self.synonyms();
        let cx = Context {
            fields: self.index.fields(),
            ranking: &self.ranking,
            searcher: &searcher,
            cache: &self.expansions,
            synonyms: if req.synonyms {
                &rules
            } else {
                &synonyms::NONE
            },
        };
        let build_query = |combine| build(&parsed, combine, expansion, &cx);
        let mut built = build_query(combine)?;
        let mut collected = self.collect(&searcher, &*built.query, &collector)?;
        let mut relaxed = false;
        if collected.total == 0
            && combine != Combine::Any
            && req.match_mode == MatchMode::Auto
            && built.positive > 1
        {
            built = build_query(Combine::Any)?;
            // Another query: the first one's floor does not hold for it.
            collector.floor = Default::default();
            collected = self.collect(&searcher, &*built.query, &collector)?;
            relaxed = true;
        }
        let mut posts = Vec::new();
        let hits = self.hits(
            &searcher,
            &collected,
            req,
            &built.terms,
            meta_weight,
            keep_posts.then_some(&mut posts),
        )?;
        let response = SearchResponse {
            query: req.q.clone(),
            total: collected.total,
            distinct: req.distinct.map(|by| types::DistinctCounts {
                by,
                posts: collected.posts,
            }),
            took_ms: crate::types::millis(started.elapsed()),
            relaxed,
            synonyms: if req.explain {
                built
                    .synonyms
                    .iter()
                    .map(|(typed, forms)| types::SynonymUse {
                        typed: typed.clone(),
                        forms: forms.clone(),
                    })
                    .collect()
            } else {
                Vec::new()
            },
            hits,
            facets: if req.with_facets {
                collected.facets
            } else {
                FacetCounts::new()
            },
        };
        // With `explain`, how each hit's text score is made (for the CLI).
        let mut explanations = Vec::new();
        if req.explain && keep_posts {
            for c in collected.top.iter().skip(req.offset) {
                explanations.push(built.query.explain(&searcher, c.address)?);
            }
        }
        Ok(DetailedSearch {
            response,
            posts,
            terms: built.terms,
            explanations,
        })
    }

    /// Every facet value with its count over the whole index.
    pub fn all_facets(&self) -> Result<FacetCounts> {
        let req = SearchRequest {
            limit: 0,
            with_snippets: false,
            ..SearchRequest::default()
        };
        Ok(self.search(&req)?.facets)
    }

    /// Counts a request as in the engine until the guard drops (see
    /// [`threads::SearchThreads::busy`]).
    pub(crate) fn busy(&self) -> threads::Busy<'_> {
        self.threads.busy()
    }

    /// Runs `query` through `collector`, split over idle cores when it pays.
    pub(crate) fn collect<C: tantivy::collector::Collector>(
        &self,
        searcher: &Searcher,
        query: &dyn tantivy::query::Query,
        collector: &C,
    ) -> Result<C::Fruit> {
        budget::check()?;
        Ok(self.threads.search(searcher, query, collector)?)
    }

    /// The opened columns of the index's segments, shared by this engine's
    /// clones.
    pub(crate) fn columns(&self) -> &collector::ColumnCache {
        &self.columns
    }

    /// The cache of word expansions shared by this engine's clones.
    pub(crate) fn expansions(&self) -> &build::ExpansionCache {
        &self.expansions
    }

    /// The stored post `id`.
    pub fn post(&self, id: &str) -> Result<Post> {
        self.index.get(id)
    }

    /// The stored post `id`, fields located but not decoded.
    pub fn stored_post(&self, id: &str) -> Result<StoredPost> {
        self.index.get_stored(id)
    }

    fn hits(
        &self,
        searcher: &Searcher,
        collected: &Collected,
        req: &SearchRequest,
        terms: &BTreeSet<String>,
        meta_weight: f32,
        mut keep: Option<&mut Vec<StoredPost>>,
    ) -> Result<Vec<Hit>> {
        let mut highlighter = Highlighter::new(terms);
        collected
            .top
            .iter()
            .skip(req.offset)
            .map(|c| {
                budget::check()?;
                let post = match keep.as_deref_mut() {
                    Some(keep) => {
                        let stored = self.index.stored_at(searcher, c.address)?;
                        let post = stored
                            .hit_post(req.with_snippets)
                            .map_err(postsearch_store::index::unparsable)?;
                        keep.push(stored);
                        post
                    }
                    None => self
                        .index
                        .hit_post_at(searcher, c.address, req.with_snippets)?,
                };
                let explain = req.explain.then(|| Explain {
                    text: c.text,
                    meta: c.meta,
                    meta_weight,
                    final_score: ranking::blend(c.text, c.meta, meta_weight),
                });
                let score = match req.sort {
                    Sort::Relevance => c.key as f32,
                    _ => ranking::blend(c.text, c.meta, meta_weight),
                };
                let mut hit = make_hit(
                    post,
                    c,
                    score,
                    req.with_snippets.then_some(&mut highlighter),
                    explain,
                );
                hit.group_size = req.distinct.map(|_| c.group_size);
                Ok(hit)
            })
            .collect()
    }
}

/// A search answer with what API adapters need besides it.
#[derive(Debug, Clone)]
pub struct DetailedSearch {
    pub response: SearchResponse,
    /// The stored post of each hit, in order.
    pub posts: Vec<StoredPost>,
    /// The analyzed terms the query matched (for a [`snippet::Highlighter`]).
    pub terms: BTreeSet<String>,
    /// With `explain`: how each hit's text score is made, clause by clause
    /// and field by field (tantivy's explanation tree), in hit order.
    pub explanations: Vec<tantivy::query::Explanation>,
}

/// Builds the hit of a post: stored values unchanged, plus the highlighted
/// title and snippet.
pub fn make_hit(
    post: Post,
    c: &Candidate,
    score: f32,
    highlighter: Option<&mut Highlighter>,
    explain: Option<Explain>,
) -> Hit {
    let text = post
        .body
        .as_deref()
        .or(post.summary.as_deref())
        .unwrap_or("");
    let (title_html, snippet) = match highlighter {
        Some(h) => (h.highlight(&post.title), h.snippet(text)),
        None => (snippet::escape(&post.title), String::new()),
    };
    let parts = post.score.clone().unwrap_or_default();
    Hit {
        id: post.id,
        title: post.title,
        title_html,
        snippet,
        score,
        meta_score: c.meta,
        stack: post.stack.unwrap_or_default(),
        tools: post.tools.unwrap_or_default(),
        difficulty: post.difficulty,
        code_language: post.code_language,
        view_count: post.view_count,
        topic: post.topic,
        last_reviewed: post.revision.and_then(|r| r.last_reviewed),
        score_parts: ScoreParts {
            quality: parts.quality,
            freshness: parts.freshness,
            depth: parts.depth,
            clarity: parts.clarity,
        },
        explain,
        group_size: None,
    }
}

/// How the text clauses of a query combine under `mode`: a short query
/// needs every word; a longer one most of them (see
/// [`RankingConfig::min_should_match`]); either is relaxed to any word when
/// nothing matches.
fn combine_of(mode: MatchMode, clauses: usize) -> Combine {
    match mode {
        MatchMode::All => Combine::All,
        MatchMode::Any => Combine::Any,
        MatchMode::Auto if clauses <= AUTO_ALL_MAX_CLAUSES => Combine::All,
        MatchMode::Auto => Combine::Most,
    }
}

/// The query of `req`: its text parsed and checked against `limits`, its
/// typed filters checked and added.
fn parse_request(req: &SearchRequest, limits: &Limits) -> Result<query::ParsedQuery> {
    let mut parsed = query::parse(&req.q).map_err(|e| Error::bad_request("q", e.0))?;
    limits.check_parsed(&parsed)?;
    let typed = |filters: &[Filter]| -> Result<Vec<Filter>> {
        filters
            .iter()
            .map(|f| {
                f.normalized()
                    .map_err(|e| Error::bad_request("filter", e.0))
            })
            .collect()
    };
    parsed.filters.extend(typed(&req.filters)?);
    parsed
        .excluded_filters
        .extend(typed(&req.excluded_filters)?);
    Ok(parsed)
}
