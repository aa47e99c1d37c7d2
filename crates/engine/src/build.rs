//! Turning a [`ParsedQuery`] into a tantivy query over the index's real
//! terms: each word becomes the union, over the text fields, of its exact
//! term, its typo variants (each BM25-scored, with a penalty) and — for the
//! last word of a search-as-you-type query — its completions.

use super::all_words::AllWords;
use super::any_words::AnyWords;
use super::at_least::AtLeast;
use super::cache::GenerationCache;
use super::combined::CombinedTerm;
use super::phrase::Phrase;
use super::query::{Filter, ParsedQuery, TextClause};
use super::ranking::RankingConfig;
use super::synonyms::Synonyms;
use super::union::Union;
use postsearch_store::analysis::{
    longest_word, text_analyzer, tokens, words_analyzer, MAX_WORD_BYTES,
};
use postsearch_store::index::PostIndex;
use postsearch_store::plugin_files::PluginFiles;
use postsearch_store::prefixes::PrefixTables;
use postsearch_store::schema::Fields;
use postsearch_store::vocabulary::Vocabulary;
use std::collections::BTreeSet;
use std::sync::Arc;
use tantivy::directory::Directory;
use tantivy::query::{
    AllQuery, Bm25Weight, BooleanQuery, BoostQuery, ConstScoreQuery, EmptyQuery, Occur, Query,
    RangeQuery, TermQuery,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{Score, Searcher, Term};

/// A word in at least 1 / this share of the posts (and in at least
/// [`TYPO_SKIP_MIN_DOCS`]) is taken as meant: it gets no typo variants.
const TYPO_SKIP_DOC_RATIO: u64 = 200;
/// See [`TYPO_SKIP_DOC_RATIO`].
const TYPO_SKIP_MIN_DOCS: u64 = 20;
/// Most typo variants one word expands to (the most frequent are kept).
const MAX_TYPO_TERMS: usize = 8;
/// Words of more letters get no typo variants: a hash or a long identifier
/// is copied, not typed, and its automaton would cost for nothing.
const MAX_TYPO_LETTERS: usize = 32;
/// Most completions of a prefix (the most frequent are kept).
const MAX_PREFIX_TERMS: usize = 24;
/// Most completions of a one-letter prefix typed alone (a search box's
/// first keystroke): its two dozen most frequent words are in nearly every
/// post, and a third of them match nearly as many.
const MAX_LONE_LETTER_TERMS: usize = 8;

/// Remembers the typo variants and completions of words, per searcher
/// generation: walking a term dictionary with a Levenshtein automaton costs
/// far more than the search itself, and search boxes repeat their queries.
/// At most 50,000 words. Also holds each segment's vocabulary open for the
/// generation.
pub struct ExpansionCache {
    /// The index's plugin files, opened with each generation.
    files: Arc<PluginFiles>,
    words: GenerationCache<(Expanded, String), Vec<(String, u64)>, 50_000>,
    /// Opened for every expansion not remembered, a vocabulary's file was
    /// mapped, its pages faulted in and unmapped again each time: on 1M
    /// posts, rare-word queries took 40% longer than with the vocabulary
    /// kept in the index's own term dictionaries.
    vocabularies: GenerationCache<(), Arc<Vec<Vocabulary>>, 1>,
    /// The most frequent words of each short prefix, per segment.
    prefix_tables: PrefixTables,
}

impl ExpansionCache {
    /// An empty cache for the searchers of `index`.
    pub fn new(index: &PostIndex) -> ExpansionCache {
        ExpansionCache {
            files: index.plugin_files(),
            words: Default::default(),
            vocabularies: Default::default(),
            prefix_tables: Default::default(),
        }
    }

    /// The remembered expansion `key` in searcher `generation`, computed
    /// when not remembered.
    pub fn get_or(
        &self,
        generation: u64,
        key: (Expanded, String),
        compute: impl FnOnce() -> tantivy::Result<Vec<(String, u64)>>,
    ) -> tantivy::Result<Vec<(String, u64)>> {
        self.words.get_or(generation, key, compute)
    }

    /// The vocabulary of each of `searcher`'s segments, in their order.
    pub fn vocabularies(&self, searcher: &Searcher) -> tantivy::Result<Arc<Vec<Vocabulary>>> {
        let generation = searcher.generation().generation_id();
        self.vocabularies.get_or(generation, (), || {
            let opened = self
                .files
                .of(searcher)?
                .iter()
                .map(|f| Vocabulary::of_file(f.segment, f.words.clone()?))
                .collect::<tantivy::Result<Vec<_>>>()?;
            Ok(Arc::new(opened))
        })
    }

    /// The words of `searcher`'s segments starting with `prefix`, with
    /// their post counts, segment by segment (a word of several segments
    /// comes once from each): the most frequent of each segment when its
    /// range is long (see [`postsearch_store::prefixes`]).
    pub fn completing_words(
        &self,
        searcher: &Searcher,
        prefix: &str,
    ) -> tantivy::Result<Vec<(String, u64)>> {
        let vocabularies = self.vocabularies(searcher)?;
        let files = self.files.of(searcher)?;
        let tables = self.prefix_tables.of(searcher, &files, &vocabularies)?;
        let mut found = Vec::new();
        for (vocabulary, table) in vocabularies.iter().zip(tables) {
            crate::budget::check_tantivy()?;
            found.extend(table.completions(&vocabulary.dictionary, prefix)?);
        }
        Ok(found)
    }
}

/// What a cached expansion of a word is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Expanded {
    /// Stems of the words within the typo distance.
    Typos,
    /// Stems of the words the typed prefix completes.
    Completions,
    /// The completing words themselves, most frequent first (suggestions).
    Words,
}

/// How words expand.
#[derive(Debug, Clone, Copy)]
pub struct Expansion {
    pub typos: bool,
    /// The last word also matches as a prefix.
    pub prefix: bool,
}

/// A tantivy query and what the highlighter needs to know about it.
pub struct Built {
    pub query: Box<dyn Query>,
    /// Every (analyzed) term a hit may have matched, for highlighting.
    pub terms: BTreeSet<String>,
    /// Text clauses that must or may match.
    pub positive: usize,
    /// The synonyms searched: the words typed and the forms they found.
    pub synonyms: Vec<(String, Vec<String>)>,
}

/// A word's alternatives (the word in each field, its typo variants,
/// completions and synonyms), any of which matches, each with the most it
/// scores in a post (`Score::INFINITY` when not worked out).
struct Alternatives {
    queries: Vec<Box<dyn Query>>,
    bounds: Vec<Score>,
}

impl Alternatives {
    /// Adds `other`'s alternatives.
    fn add(&mut self, other: Alternatives) {
        self.queries.extend(other.queries);
        self.bounds.extend(other.bounds);
    }

    /// The most the alternatives score together.
    fn bound(&self) -> Score {
        self.bounds.iter().sum()
    }

    /// Each alternative with its bound.
    fn bounded(self) -> impl Iterator<Item = (Box<dyn Query>, Score)> {
        self.queries.into_iter().zip(self.bounds)
    }
}

/// Where synonym rules apply in a query: a clause on its own, or a run of
/// clauses that together are a rule's words (`gh actions`).
enum Unit<'s> {
    Clause(usize, Option<&'s BTreeSet<Vec<String>>>),
    Span(std::ops::Range<usize>, &'s BTreeSet<Vec<String>>),
}

/// The clauses of `parsed` grouped as synonym rules match them, the longest
/// rule first, left to right. Phrases and field-restricted words take no
/// part (they ask for exactly what they say).
fn units<'s>(parsed: &ParsedQuery, synonyms: &'s Synonyms) -> Vec<Unit<'s>> {
    let words: Vec<Option<Vec<String>>> = parsed
        .clauses
        .iter()
        .map(|c| {
            if c.phrase || c.field.is_some() || synonyms.is_empty() {
                None
            } else {
                super::synonyms::words(&c.text).ok()
            }
        })
        .collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < words.len() {
        match synonyms.longest_at(&words, i) {
            Some((1, forms)) => {
                out.push(Unit::Clause(i, Some(forms)));
                i += 1;
            }
            Some((len, forms)) => {
                out.push(Unit::Span(i..i + len, forms));
                i += len;
            }
            None => {
                out.push(Unit::Clause(i, None));
                i += 1;
            }
        }
    }
    out
}

/// What a query is built with besides itself.
pub struct Context<'a> {
    pub fields: &'a Fields,
    pub ranking: &'a RankingConfig,
    pub searcher: &'a Searcher,
    pub cache: &'a ExpansionCache,
    /// The synonym rules applied (none: [`Synonyms::none`]).
    pub synonyms: &'a Synonyms,
}

/// How the text clauses of a query combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Combine {
    /// Every clause must match.
    All,
    /// At least [`RankingConfig::min_should_match`] of them (a share; 0:
    /// any), for long queries.
    Most,
    /// Any clause.
    Any,
}

/// Builds the query, its text clauses combined as `combine` says.
pub fn build(
    parsed: &ParsedQuery,
    combine: Combine,
    expansion: Expansion,
    cx: &Context,
) -> tantivy::Result<Built> {
    let all = combine == Combine::All;
    // Long queries (4+ words: match `auto`, or any of them, as a long
    // query that matched nothing is relaxed to) with no share of their
    // words required, no excluded word and no filter are searched as
    // `AnyWords` (only those: a relaxed short one, any of two words with
    // two dozen completions, was no faster this way), which needs the
    // clauses' bounds.
    let long = parsed.clauses.len() > crate::AUTO_ALL_MAX_CLAUSES;
    let only_words = parsed.excluded.is_empty()
        && parsed.filters.is_empty()
        && parsed.excluded_filters.is_empty();
    let any_words = only_words
        && match combine {
            Combine::Most => cx.ranking.min_should_match == 0.0,
            Combine::Any => long,
            Combine::All => false,
        };
    let searcher = cx.searcher;
    let mut b = Builder {
        fields: cx.fields,
        ranking: cx.ranking,
        searcher,
        cache: cx.cache,
        terms: BTreeSet::new(),
        synonyms: Vec::new(),
        bounds: any_words,
        one_word: parsed.clauses.len() == 1,
    };
    let last_word = parsed
        .clauses
        .iter()
        .rposition(|c| !c.phrase)
        .filter(|_| expansion.prefix);
    let exp = |i: usize| Expansion {
        typos: expansion.typos,
        prefix: Some(i) == last_word,
    };
    let mut alternatives: Vec<Alternatives> = Vec::new();
    for unit in units(parsed, cx.synonyms) {
        match unit {
            Unit::Clause(i, forms) => {
                let clause = &parsed.clauses[i];
                if let Some(mut q) = b.clause(clause, exp(i), true)? {
                    if let Some(forms) = forms {
                        q.add(b.synonym_forms(&clause.text, forms)?);
                    }
                    alternatives.push(q);
                }
            }
            Unit::Span(range, forms) => {
                let typed = parsed.clauses[range.clone()]
                    .iter()
                    .map(|c| c.text.as_str())
                    .collect::<Vec<_>>()
                    .join(" ");
                let mut parts = Vec::new();
                for i in range {
                    if let Some(q) = b.clause(&parsed.clauses[i], exp(i), true)? {
                        parts.push(q);
                    }
                }
                let synonyms = b.synonym_forms(&typed, forms)?;
                if all {
                    // The words as typed (all of them) or any form.
                    let bound = parts.iter().map(|p| p.bound()).sum();
                    let words: Vec<(Occur, Box<dyn Query>)> = parts
                        .into_iter()
                        .map(|p| {
                            (
                                Occur::Must,
                                Box::new(BooleanQuery::union(p.queries)) as Box<dyn Query>,
                            )
                        })
                        .collect();
                    let mut q = Alternatives {
                        queries: vec![Box::new(BooleanQuery::new(words))],
                        bounds: vec![bound],
                    };
                    q.add(synonyms);
                    alternatives.push(q);
                } else {
                    alternatives.extend(parts);
                    alternatives.push(synonyms);
                }
            }
        }
    }
    let positive = alternatives.len();
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    // The words of an all-words query to walk a window at a time.
    let mut windowed: Option<Vec<Vec<Box<dyn Query>>>> = None;
    if alternatives.is_empty() {
        clauses.push((Occur::Must, Box::new(AllQuery)));
    } else if all && alternatives.len() > 1 {
        // The clause with the fewest postings leads the intersection and
        // is read in full; a clause with many more postings is only ever
        // sought to the leader's matches: it moves lazily (see `Union`).
        let costs = alternatives
            .iter()
            .map(|a| postings(searcher, &a.queries))
            .collect::<tantivy::Result<Vec<u64>>>()?;
        let least = costs.iter().copied().min().unwrap_or(0);
        let dense = least.saturating_mul(DENSE_LEADER) >= searcher.num_docs();
        // Dense words of like sizes, and nothing else, are walked a window
        // at a time (see `AllWords`), the rarest first.
        if dense
            && only_words
            && costs
                .iter()
                .all(|&c| c <= least.saturating_mul(WINDOWED_WORDS_RATIO))
        {
            let mut words: Vec<(u64, Vec<Box<dyn Query>>)> = costs
                .iter()
                .zip(&alternatives)
                .map(|(&c, a)| (c, a.queries.iter().map(|q| q.box_clone()).collect()))
                .collect();
            words.sort_by_key(|(c, _)| *c);
            windowed = Some(words.into_iter().map(|(_, w)| w).collect());
        }
        for (a, cost) in alternatives.into_iter().zip(costs) {
            let many = a.queries.len() as u64;
            let lazy = cost >= least.saturating_mul(LAZY_UNION_RATIO).max(1)
                && !(dense && cost < least.saturating_mul(many));
            let query: Box<dyn Query> = if lazy {
                Box::new(Union::new(a.queries))
            } else {
                Box::new(Union::windowed(a.queries))
            };
            clauses.push((Occur::Must, query));
        }
    } else {
        // In a long query, which words are common (see `common_word_share`).
        let common_share = cx.ranking.common_word_share;
        let stop_share = cx.ranking.stop_word_share;
        let common: Vec<bool> = if combine == Combine::Most
            && (common_share > 0.0 || stop_share > 0.0)
            && cx.ranking.min_should_match == 0.0
            && alternatives.len() > 1
        {
            let posts = searcher.num_docs().max(1) as f64;
            let counts = alternatives
                .iter()
                .map(|a| postings(searcher, &a.queries))
                .collect::<tantivy::Result<Vec<u64>>>()?;
            let is_common = |n: u64| common_share > 0.0 && n as f64 >= common_share * posts;
            // Words in nearly every post are left out (`stop_word_share`),
            // unless that leaves nothing.
            let kept: Vec<bool> = counts
                .iter()
                .map(|&n| {
                    stop_share == 0.0
                        || n < STOP_WORD_MIN_POSTINGS
                        || (n as f64) < stop_share * posts
                })
                .collect();
            if kept.contains(&true) {
                let mut keep = kept.iter();
                alternatives.retain(|_| *keep.next().expect("one per word"));
                counts
                    .into_iter()
                    .zip(kept)
                    .filter(|&(_, k)| k)
                    .map(|(n, _)| is_common(n))
                    .collect()
            } else {
                counts.into_iter().map(is_common).collect()
            }
        } else {
            vec![false; alternatives.len()]
        };
        let share = cx.ranking.min_should_match;
        if any_words && alternatives.len() > 1 {
            // Any of the (rarer) words, the common ones and the title's
            // coverage adding to the score: matches that cannot make the
            // answer's top are counted unscored (see `AnyWords`).
            // Common words only add when some are rarer (as below).
            let mixed = common.contains(&true) && common.contains(&false);
            // The words' alternatives, each with the most it scores.
            let (words, extras): (Vec<_>, Vec<_>) = alternatives
                .into_iter()
                .zip(common)
                .partition(|(_, common)| !(mixed && *common));
            let words: Vec<_> = words.into_iter().flat_map(|(a, _)| a.bounded()).collect();
            let mut extras: Vec<_> = extras.into_iter().flat_map(|(a, _)| a.bounded()).collect();
            extras.extend(title_coverage(parsed, cx, true)?);
            return Ok(Built {
                query: Box::new(AnyWords::new(words, extras)),
                terms: b.terms,
                positive,
                synonyms: b.synonyms,
            });
        }
        let mut groups: Vec<Box<dyn Query>> = alternatives
            .into_iter()
            .map(|a| Box::new(Union::windowed(a.queries)) as Box<dyn Query>)
            .collect();
        let query: Box<dyn Query> = if groups.len() == 1 {
            groups.pop().expect("one")
        } else if common.contains(&true) && common.contains(&false) {
            // Common words only add to the score of posts a rarer word
            // matched: scores are those of the union, and the posts that
            // only `how`, `do` and `the` matched are not read at all.
            let (rare, frequent): (Vec<_>, Vec<_>) =
                groups.into_iter().zip(common).partition(|(_, c)| !c);
            let rare: Vec<Box<dyn Query>> = rare.into_iter().map(|(g, _)| g).collect();
            let mut clauses = vec![(Occur::Must, Box::new(BooleanQuery::union(rare)) as _)];
            clauses.extend(frequent.into_iter().map(|(g, _)| (Occur::Should, g)));
            Box::new(BooleanQuery::new(clauses))
        } else if combine == Combine::Most && share > 0.0 {
            let n = groups.len();
            let required = ((n as f64 * share).ceil() as usize).clamp(1, n);
            let should = groups.into_iter().map(|g| (Occur::Should, g)).collect();
            Box::new(BooleanQuery::with_minimum_required_clauses(
                should, required,
            ))
        } else {
            Box::new(BooleanQuery::union(groups))
        };
        clauses.push((Occur::Must, query));
    }
    if let Some((q, _)) = title_coverage(parsed, cx, false)? {
        clauses.push((Occur::Should, q));
        windowed = None;
    }
    for c in &parsed.excluded {
        let no = Expansion {
            typos: false,
            prefix: false,
        };
        if let Some(q) = b.clause(c, no, false)? {
            clauses.push((Occur::MustNot, Box::new(BooleanQuery::union(q.queries))));
        }
    }
    for f in &parsed.filters {
        clauses.push((Occur::Must, b.filter(f)));
    }
    for f in &parsed.excluded_filters {
        clauses.push((Occur::MustNot, b.filter(f)));
    }
    let boolean = BooleanQuery::new(clauses);
    let query: Box<dyn Query> = match windowed {
        Some(words) => Box::new(AllWords::new(words, boolean)),
        None => Box::new(boolean),
    };
    Ok(Built {
        query,
        terms: b.terms,
        positive,
        synonyms: b.synonyms,
    })
}

/// Words a query needs before a title that holds most of them gets the
/// coverage bonus (see [`title_coverage`]).
const TITLE_COVERAGE_MIN_WORDS: usize = 4;
/// The share of a query's words a title must hold for the bonus.
const TITLE_COVERAGE_SHARE: f64 = 0.75;

/// Known-item search: a query of 4+ words that a post's title holds
/// almost all of (3 of 4, 6 of 8) is most likely that post's title, typed
/// from memory. Such titles get their words' BM25 again, times
/// `ranking.title_coverage`, on top of the score (an optional clause: it
/// changes no match and no count). A long question rarely has most of its
/// words in one title, so it is left as it was. With `bounded`, also the
/// most the clause scores (else `Score::INFINITY`).
fn title_coverage(
    parsed: &ParsedQuery,
    cx: &Context,
    bounded: bool,
) -> tantivy::Result<Option<(Box<dyn Query>, Score)>> {
    let boost = cx.ranking.title_coverage as f32;
    if boost <= 0.0 {
        return Ok(None);
    }
    let mut analyzer = text_analyzer();
    let mut words: Vec<String> = parsed
        .clauses
        .iter()
        .filter(|c| !c.phrase && c.field.is_none())
        .filter_map(|c| {
            let mut t = tokens(&mut analyzer, &c.text);
            (t.len() == 1).then(|| t.remove(0).0)
        })
        .collect();
    words.sort();
    words.dedup();
    if words.len() < TITLE_COVERAGE_MIN_WORDS {
        return Ok(None);
    }
    let required = (words.len() as f64 * TITLE_COVERAGE_SHARE).ceil() as usize;
    let title = cx.fields.title;
    let mut terms = Vec::with_capacity(words.len());
    let stats = crate::term_infos::Statistics(cx.searcher);
    let mut bound = if bounded { 0.0 } else { Score::INFINITY };
    for w in &words {
        let term = Term::from_field_text(title, w);
        if bounded {
            // (A negative maximum bounds nothing above 0: see
            // `CombinedTerm::max_score`.)
            bound += Bm25Weight::for_terms(&stats, std::slice::from_ref(&term))?
                .max_score()
                .max(0.0);
        }
        terms.push(term);
    }
    let query = boosted(Box::new(AtLeast::new(terms, required)), boost);
    Ok(Some((query, boost * bound)))
}

/// A word is left out of a long query as a stop word (see
/// `RankingConfig::stop_word_share`) only with at least this many postings:
/// in a small index every word of a few posts would be in nearly all of
/// them, and searching it costs nothing anyway.
const STOP_WORD_MIN_POSTINGS: u64 = 1_000;

/// In an all-words query, a clause with at least this many times the
/// postings of the clause with the fewest is searched as a lazy [`Union`].
const LAZY_UNION_RATIO: u64 = 2;

/// A leader holding at least this share (1/n) of the posts is dense: each
/// of its matches seeks every alternative of a lazy clause, and a clause of
/// many alternatives (two dozen completions) whose postings are fewer than
/// the leader's matches times its alternatives is cheaper walked in full.
const DENSE_LEADER: u64 = 10;

/// In an all-words query whose rarest word is dense, the words are walked
/// a window at a time when each has at most this many times its postings.
const WINDOWED_WORDS_RATIO: u64 = 4;

/// The postings of the terms of `queries`, over the whole index.
fn postings(searcher: &Searcher, queries: &[Box<dyn Query>]) -> tantivy::Result<u64> {
    let mut terms = Vec::new();
    for q in queries {
        q.query_terms(&mut |term, _| terms.push(term));
    }
    Ok(crate::term_infos::doc_freqs(searcher, &terms)?.iter().sum())
}

struct Builder<'a> {
    fields: &'a Fields,
    ranking: &'a RankingConfig,
    searcher: &'a Searcher,
    cache: &'a ExpansionCache,
    terms: BTreeSet<String>,
    synonyms: Vec<(String, Vec<String>)>,
    /// Whether the alternatives' bounds are worked out (for [`AnyWords`]).
    bounds: bool,
    /// The query is one word.
    one_word: bool,
}

impl Builder<'_> {
    /// The forms a synonym rule adds to the words `typed`, each searched as
    /// its words (a phrase when several), scored below the words typed:
    /// by the synonym penalty, and no higher than the typed words' IDF
    /// allows (a rare synonym of common words must not outrank them).
    fn synonym_forms(
        &mut self,
        typed: &str,
        forms: &BTreeSet<Vec<String>>,
    ) -> tantivy::Result<Alternatives> {
        let typed_idf = self.idf_sum(&postsearch_store::analysis::terms(typed))?;
        let penalty = self.ranking.synonym_penalty as f32;
        let mut out = Alternatives {
            queries: Vec::new(),
            bounds: Vec::new(),
        };
        let mut used = Vec::new();
        for form in forms {
            let text = form.join(" ");
            let clause = TextClause {
                text: text.clone(),
                phrase: form.len() > 1,
                field: None,
            };
            let none = Expansion {
                typos: false,
                prefix: false,
            };
            let Some(alternatives) = self.clause(&clause, none, true)? else {
                continue;
            };
            let form_idf = self.idf_sum(&postsearch_store::analysis::terms(&text))?;
            let scale = match (typed_idf, form_idf) {
                (Some(t), Some(f)) if f > t => t / f,
                _ => 1.0,
            };
            let boost = penalty * scale;
            out.bounds
                .extend(alternatives.bounds.iter().map(|b| boost * b));
            out.queries
                .extend(alternatives.queries.into_iter().map(|q| boosted(q, boost)));
            used.push(text);
        }
        if !used.is_empty() {
            self.synonyms.push((typed.to_string(), used));
        }
        Ok(out)
    }

    /// The text fields a clause searches, with their boosts.
    fn fields_of(&self, clause: &TextClause) -> Vec<(Field, f32)> {
        let all = self.fields.text_fields();
        let title = self.fields.title;
        match &clause.field {
            Some(name) => {
                let field = self.searcher.schema().get_field(name).ok();
                all.into_iter().filter(|(f, _)| Some(*f) == field).collect()
            }
            None => all
                .into_iter()
                .map(|(f, boost)| {
                    if f == title {
                        (f, self.ranking.title_boost as f32)
                    } else {
                        (f, boost)
                    }
                })
                .collect(),
        }
    }

    /// A word or phrase as queries over its fields (any of which matches),
    /// one per field and alternative; `None` when it has no searchable
    /// token.
    fn clause(
        &mut self,
        clause: &TextClause,
        exp: Expansion,
        highlight: bool,
    ) -> tantivy::Result<Option<Alternatives>> {
        if longest_word(&clause.text).is_some_and(|w| w.len() >= MAX_WORD_BYTES) {
            // No word that long is in the index (a blob of base64, say): the
            // clause is searched and matches nothing, as an unknown word
            // does, rather than being dropped from the query.
            return Ok(Some(Alternatives {
                queries: vec![Box::new(EmptyQuery)],
                bounds: vec![0.0],
            }));
        }
        let analyzed: Vec<String> = tokens(&mut text_analyzer(), &clause.text)
            .into_iter()
            .map(|(t, _, _)| t)
            .collect();
        if analyzed.is_empty() {
            return Ok(None);
        }
        let fields = self.fields_of(clause);
        if highlight {
            self.terms.extend(analyzed.iter().cloned());
        }
        if analyzed.len() > 1 {
            // A phrase, or a word the tokenizer splits (n+1, e-mail).
            let directory: Arc<dyn Directory> = Arc::new(self.searcher.index().directory().clone());
            let subqueries: Vec<Box<dyn Query>> = fields
                .iter()
                .map(|&(field, boost)| {
                    let terms = analyzed
                        .iter()
                        .map(|t| Term::from_field_text(field, t))
                        .collect();
                    boosted(Box::new(Phrase::new(terms, directory.clone())), boost)
                })
                .collect();
            return Ok(Some(Alternatives {
                bounds: vec![Score::INFINITY; subqueries.len()],
                queries: subqueries,
            }));
        }
        let term = &analyzed[0];
        let mut alternatives: Vec<(String, f32)> = vec![(term.clone(), 1.0)];
        if exp.typos && !clause.phrase {
            alternatives.extend(self.typo_variants(&clause.text, term)?);
        }
        if exp.prefix && !clause.phrase {
            alternatives.extend(self.completions(&clause.text, term)?);
        }
        if highlight {
            self.terms
                .extend(alternatives.iter().map(|(t, _)| t.clone()));
        }
        let mut subqueries: Vec<Box<dyn Query>> = Vec::new();
        let mut bounds = Vec::new();
        if self.ranking.bm25f {
            // Each word (and each of its typo variants and completions)
            // scored once over its fields (BM25F), and in the title on its
            // own as well: a post whose title holds the words typed comes
            // first (known-item search).
            let title_match = self.ranking.title_match as f32;
            let title = fields.iter().position(|&(f, _)| f == self.fields.title);
            for (t, boost) in &alternatives {
                let terms = fields
                    .iter()
                    .map(|&(field, weight)| (Term::from_field_text(field, t), weight))
                    .collect();
                let mut q = CombinedTerm::new(terms);
                if let Some(title) = title.filter(|_| title_match > 0.0 && fields.len() > 1) {
                    // The title's BM25 on its own, from the postings the
                    // combined term reads anyway.
                    q = q.scoring_alone(title, title_match);
                }
                bounds.push(match self.bounds {
                    true => boost * q.max_score(&crate::term_infos::Statistics(self.searcher))?,
                    false => Score::INFINITY,
                });
                subqueries.push(boosted(Box::new(q), *boost));
            }
            return Ok(Some(Alternatives {
                queries: subqueries,
                bounds,
            }));
        }
        for &(field, field_boost) in &fields {
            for (t, boost) in &alternatives {
                let q = TermQuery::new(
                    Term::from_field_text(field, t),
                    IndexRecordOption::WithFreqs,
                );
                subqueries.push(boosted(Box::new(q), field_boost * boost));
            }
        }
        // Scored field by field: no bound is worked out.
        Ok(Some(Alternatives {
            bounds: vec![Score::INFINITY; subqueries.len()],
            queries: subqueries,
        }))
    }

    /// Terms of the index within the allowed edit distance of the typed
    /// word: one edit for words of 5+ letters, two for 9+. The distance is
    /// measured between unstemmed words (`deploymnet` → `deployment`), then
    /// each variant is searched as its stem. Each is scored by BM25 with the
    /// typo penalty, scaled so that a rare typo never outweighs the word.
    fn typo_variants(&self, word: &str, term: &str) -> tantivy::Result<Vec<(String, f32)>> {
        let Some(typed) = first_word(word) else {
            return Ok(Vec::new());
        };
        let letters = typed.chars().filter(|c| c.is_alphabetic()).count();
        if typed.chars().any(|c| c.is_ascii_digit()) || !(5..=MAX_TYPO_LETTERS).contains(&letters) {
            return Ok(Vec::new());
        }
        // A word that many posts contain is not a typo: expanding it would
        // only add noise (`production` matching `product`) and cost.
        let exact_df = self.doc_freq(term)?;
        if exact_df >= TYPO_SKIP_MIN_DOCS
            && exact_df * TYPO_SKIP_DOC_RATIO >= self.searcher.num_docs()
        {
            return Ok(Vec::new());
        }
        let distance = if letters >= 9 { 2 } else { 1 };
        let generation = self.searcher.generation().generation_id();
        let stems = self
            .cache
            .get_or(generation, (Expanded::Typos, typed.clone()), || {
                let automata = crate::typos::typo_automata(&typed, distance)?;
                let mut found = Vec::new();
                for vocabulary in self.cache.vocabularies(self.searcher)?.iter() {
                    crate::budget::check_tantivy()?;
                    // A word two automata find is counted once per segment.
                    let mut in_segment = std::collections::BTreeMap::new();
                    for automaton in &automata {
                        vocabulary.matching(automaton, &mut |word, docs| {
                            if let Ok(candidate) = std::str::from_utf8(word) {
                                in_segment.insert(candidate.to_string(), u64::from(docs));
                            }
                        })?;
                    }
                    found.extend(in_segment);
                }
                Ok(top_stems(found, term, MAX_TYPO_TERMS))
            })?;
        let exact_idf = self.idf(term)?;
        Ok(stems
            .into_iter()
            .map(|(t, df)| {
                let idf = idf(self.searcher.num_docs(), df);
                let scale = match exact_idf {
                    Some(e) if idf > e => e / idf,
                    _ => 1.0,
                };
                (t, self.ranking.typo_penalty as f32 * scale)
            })
            .collect())
    }

    /// Completions of the typed word, found among unstemmed words (a typed
    /// prefix must not be stemmed: `deploym` must still find `deployment`),
    /// each searched as its stem.
    fn completions(&self, word: &str, term: &str) -> tantivy::Result<Vec<(String, f32)>> {
        let Some(typed) = first_word(word) else {
            return Ok(Vec::new());
        };
        let generation = self.searcher.generation().generation_id();
        let mut stems =
            self.cache
                .get_or(generation, (Expanded::Completions, typed.clone()), || {
                    let found = self.cache.completing_words(self.searcher, &typed)?;
                    Ok(top_stems(found, term, MAX_PREFIX_TERMS))
                })?;
        if self.one_word && typed.chars().count() == 1 {
            stems.truncate(MAX_LONE_LETTER_TERMS);
        }
        Ok(stems
            .into_iter()
            .map(|(t, _)| (t, self.ranking.prefix_penalty as f32))
            .collect())
    }

    /// The summed IDF of `terms`, if the index has every one.
    fn idf_sum(&self, terms: &[String]) -> tantivy::Result<Option<f32>> {
        let mut sum = 0.0;
        for t in terms {
            match self.idf(t)? {
                Some(idf) => sum += idf,
                None => return Ok(None),
            }
        }
        Ok((!terms.is_empty()).then_some(sum))
    }

    /// The IDF of `term` over title and body, if the index has it.
    fn idf(&self, term: &str) -> tantivy::Result<Option<f32>> {
        let df = self.doc_freq(term)?;
        Ok((df > 0).then(|| idf(self.searcher.num_docs(), df)))
    }

    /// Documents holding `term` in the title or the body (an upper bound:
    /// a post with it in both counts twice).
    fn doc_freq(&self, term: &str) -> tantivy::Result<u64> {
        let mut df = 0;
        for field in [self.fields.body, self.fields.title] {
            df += crate::term_infos::doc_freq(self.searcher, &Term::from_field_text(field, term))?;
        }
        Ok(df)
    }

    /// A filter as a query that scores 0 (it must not change the ranking).
    fn filter(&self, filter: &Filter) -> Box<dyn Query> {
        let q: Box<dyn Query> = match filter {
            Filter::Facet { field, value } => {
                let field = self.fields.facet(field).expect("facet field");
                Box::new(TermQuery::new(
                    Term::from_field_text(field, value),
                    IndexRecordOption::Basic,
                ))
            }
            Filter::Range {
                field,
                lower,
                upper,
            } => {
                let field = self.fields.numeric(field).expect("numeric field");
                let t = |v: &u64| Term::from_field_u64(field, *v);
                Box::new(RangeQuery::new(
                    lower.as_ref().map(t),
                    upper.as_ref().map(t),
                ))
            }
        };
        Box::new(ConstScoreQuery::new(q, 0.0))
    }
}

/// The first word of `text`, lowercased and folded but not stemmed.
fn first_word(text: &str) -> Option<String> {
    tokens(&mut words_analyzer(), text)
        .into_iter()
        .map(|(t, _, _)| t)
        .next()
}

/// Stems of unstemmed `(word, doc_freq)` candidates, merged (document
/// frequencies summed), without `exclude`, the `limit` most frequent.
fn top_stems(found: Vec<(String, u64)>, exclude: &str, limit: usize) -> Vec<(String, u64)> {
    let mut analyzer = text_analyzer();
    let mut stems: Vec<(String, u64)> = Vec::new();
    for (word, df) in found {
        let Some((stem, _, _)) = tokens(&mut analyzer, &word).into_iter().next() else {
            continue;
        };
        if stem == exclude {
            continue;
        }
        match stems.iter_mut().find(|(s, _)| *s == stem) {
            Some((_, n)) => *n += df,
            None => stems.push((stem, df)),
        }
    }
    stems.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    stems.truncate(limit);
    stems
}

fn boosted(q: Box<dyn Query>, boost: f32) -> Box<dyn Query> {
    if (boost - 1.0).abs() < f32::EPSILON {
        q
    } else {
        Box::new(BoostQuery::new(q, boost))
    }
}

/// BM25's IDF.
fn idf(num_docs: u64, doc_freq: u64) -> f32 {
    let n = num_docs as f32;
    let df = doc_freq as f32;
    (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rare_terms_have_higher_idf() {
        assert!(idf(1000, 1) > idf(1000, 500));
    }

    #[test]
    fn dense_words_of_like_sizes_are_walked_a_window_at_a_time() {
        let index = postsearch_corpus::in_ram_index(73, 2, 200, |_, _| {});
        let searcher = index.searcher();
        let (ranking, cache) = (RankingConfig::default(), ExpansionCache::new(&index));
        let cx = Context {
            fields: index.fields(),
            ranking: &ranking,
            searcher: &searcher,
            cache: &cache,
            synonyms: &crate::synonyms::NONE,
        };
        let windowed = |q: &str| {
            let parsed = crate::query::parse(q).unwrap();
            let expansion = Expansion {
                typos: true,
                prefix: false,
            };
            let built = build(&parsed, Combine::All, expansion, &cx).unwrap();
            built.query.downcast_ref::<AllWords>().is_some()
        };
        // "the" and "and" are in most posts.
        assert!(windowed("the and"));
        // A rare word leads: it is sought, not walked.
        assert!(!windowed("the kubernetes"));
        // An excluded word, a filter: the intersection as before.
        assert!(!windowed("the and -kubernetes"));
        assert!(!windowed("the and stack:django"));
        assert!(!windowed("the"));
    }
}
