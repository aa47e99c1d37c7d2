//! The queries a benchmark sends: query files (one query a line, see the
//! module documentation of [`crate::bench`]) and the built-in mix drawn from
//! the index's own posts.

use anyhow::{bail, Context, Result};
use postsearch_engine::Limits;
use postsearch_engine::SearchRequest;
use postsearch_server::params::search_request;
use postsearch_store::index::PostIndex;
use postsearch_store::post::Post;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::fmt::Write as _;
use std::path::Path;
use unicode_segmentation::UnicodeSegmentation;

/// Hits asked of `similar` and `suggest` (the HTTP defaults).
pub const SIDE_LIMIT: usize = 5;
/// Queries in the built-in mix.
pub const MIX_SIZE: usize = 300;

/// What a query exercises: what a search box sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// 1–3 words.
    Keyword,
    /// A post's title words, shuffled (known-item search).
    Title,
    /// A quoted phrase.
    Phrase,
    /// A word with one letter dropped.
    Misspelt,
    /// A question of 5–8 words.
    Question,
    /// A word few posts hold (an identifier, a name).
    Rare,
    /// With a facet selected.
    Faceted,
    /// An unfinished last word, `prefix=true` (as the widget sends it).
    Prefix,
    /// The posts similar to a post.
    Similar,
    /// Completions.
    Suggest,
}

impl Kind {
    /// Every kind, in report order.
    pub const ALL: [Kind; 10] = [
        Kind::Keyword,
        Kind::Title,
        Kind::Phrase,
        Kind::Misspelt,
        Kind::Question,
        Kind::Rare,
        Kind::Faceted,
        Kind::Prefix,
        Kind::Similar,
        Kind::Suggest,
    ];

    /// The kind's name in reports (and in a query file's `@KIND` label).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Keyword => "keyword",
            Kind::Title => "title",
            Kind::Phrase => "phrase",
            Kind::Misspelt => "misspelt",
            Kind::Question => "question",
            Kind::Rare => "rare",
            Kind::Faceted => "faceted",
            Kind::Prefix => "prefix",
            Kind::Similar => "similar",
            Kind::Suggest => "suggest",
        }
    }

    /// The kind named `name`.
    pub fn named(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }

    pub(super) fn index(self) -> usize {
        self as usize
    }
}

/// The engine call of a query.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Search(Box<SearchRequest>),
    Similar(String),
    Suggest(String),
}

/// One benchmark query: its kind, the engine call and the HTTP path.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchQuery {
    pub kind: Kind,
    pub op: Op,
    /// Path and query string of the HTTP request.
    pub path: String,
}

/// Parses one query-file line; `None` for a blank line or a comment.
pub fn parse_line(line: &str, limits: &Limits) -> Result<Option<BenchQuery>> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    // `@KIND query`: the kind said, for kinds the query cannot show
    // (a misspelt word, a rare one).
    if let Some(labelled) = line.strip_prefix('@') {
        let (name, rest) = labelled.split_once(' ').unwrap_or((labelled, ""));
        let Some(kind) = Kind::named(name) else {
            let names: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
            bail!("unknown kind @{name} (one of {})", names.join(", "));
        };
        let Some(mut q) = parse_line(rest, limits)? else {
            bail!("@{name} needs a query");
        };
        q.kind = kind;
        return Ok(Some(q));
    }
    if let Some(id) = line.strip_prefix("similar:") {
        let id = id.trim();
        if id.is_empty() {
            bail!("similar: needs a post id");
        }
        return Ok(Some(BenchQuery {
            kind: Kind::Similar,
            op: Op::Similar(id.to_string()),
            path: format!("/api/posts/{}/similar", encode_segment(id)),
        }));
    }
    if let Some(prefix) = line.strip_prefix("suggest:") {
        let prefix = prefix.trim_start();
        let raw = form_urlencoded::Serializer::new(String::new())
            .append_pair("q", prefix)
            .finish();
        return Ok(Some(BenchQuery {
            kind: Kind::Suggest,
            op: Op::Suggest(prefix.to_string()),
            path: format!("/api/suggest?{raw}"),
        }));
    }
    let (q, params) = split_params(line);
    let mut raw = form_urlencoded::Serializer::new(String::new())
        .append_pair("q", q.trim())
        .finish();
    if !params.is_empty() {
        raw.push('&');
        raw.push_str(params);
    }
    let req = search_request(&raw, limits).map_err(|e| anyhow::anyhow!("{e}"))?;
    let kind = if !req.facets.is_empty() {
        Kind::Faceted
    } else if req.prefix {
        Kind::Prefix
    } else if req.q.contains('"') {
        Kind::Phrase
    } else {
        Kind::Keyword
    };
    Ok(Some(BenchQuery {
        kind,
        op: Op::Search(Box::new(req)),
        path: format!("/api/search?{raw}"),
    }))
}

/// Splits `QUERY?PARAMS` at the last `?` when what follows looks like
/// parameters (`name=value` pairs joined by `&`); else the whole line is the
/// query (`why is it slow?`).
fn split_params(line: &str) -> (&str, &str) {
    if let Some((q, params)) = line.rsplit_once('?') {
        let looks_like_params = !params.is_empty()
            && params.split('&').all(|pair| match pair.split_once('=') {
                Some((name, _)) => {
                    !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                }
                None => false,
            });
        if looks_like_params {
            return (q, params);
        }
    }
    (line, "")
}

/// Percent-encodes one path segment.
fn encode_segment(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Parses a whole query file's text; errors name the line.
pub fn parse_queries(text: &str, limits: &Limits) -> Result<Vec<BenchQuery>> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if let Some(q) = parse_line(line, limits).with_context(|| format!("line {}", n + 1))? {
            out.push(q);
        }
    }
    if out.is_empty() {
        bail!("no queries (every line is blank or a comment)");
    }
    Ok(out)
}

/// Reads and parses a query file.
pub fn load_queries(path: &Path, limits: &Limits) -> Result<Vec<BenchQuery>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    parse_queries(&text, limits).with_context(|| path.display().to_string())
}

/// The built-in mix as query-file lines: `n` queries drawn from live
/// documents of `index`, the same for the same seed and index.
pub fn builtin_lines(index: &PostIndex, seed: u64, n: usize) -> Result<Vec<String>> {
    let searcher = index.searcher();
    if searcher.num_docs() == 0 {
        bail!("the index is empty; there is nothing to draw queries from");
    }
    let segments = searcher.segment_readers();
    let total: u64 = segments.iter().map(|s| s.max_doc() as u64).sum();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut lines = Vec::with_capacity(n);
    let mut attempts = 0;
    while lines.len() < n && attempts < n * 100 {
        attempts += 1;
        // A uniform document number over all segments, then its segment.
        let mut doc = rng.gen_range(0..total);
        let mut ord = 0;
        while doc >= segments[ord].max_doc() as u64 {
            doc -= segments[ord].max_doc() as u64;
            ord += 1;
        }
        let doc = doc as u32;
        if segments[ord].is_deleted(doc) {
            continue;
        }
        let post = index.post_at(&searcher, tantivy::DocAddress::new(ord as u32, doc))?;
        let kind = Kind::ALL[lines.len() % Kind::ALL.len()];
        if let Some(line) = mix_line(kind, &post, &mut rng) {
            lines.push(line);
        }
    }
    if lines.is_empty() {
        bail!("no usable queries could be drawn from the index");
    }
    Ok(lines)
}

/// The built-in mix, parsed.
pub fn builtin_queries(index: &PostIndex, seed: u64, limits: &Limits) -> Result<Vec<BenchQuery>> {
    builtin_lines(index, seed, MIX_SIZE)?
        .iter()
        .map(|line| parse_line(line, limits)?.with_context(|| format!("built-in query {line:?}")))
        .collect()
}

/// One query of `kind` from `post`, or `None` when the post has no material
/// for it (no stack, no word long enough).
fn mix_line(kind: Kind, post: &Post, rng: &mut ChaCha8Rng) -> Option<String> {
    // Title words the tokenizer keeps whole: letters and digits only.
    let all: Vec<String> = post
        .title
        .unicode_words()
        .filter(|w| w.chars().all(char::is_alphanumeric))
        .map(str::to_lowercase)
        .collect();
    let words: Vec<&String> = all.iter().filter(|w| w.chars().count() >= 3).collect();
    let long: Vec<&String> = all.iter().filter(|w| w.chars().count() >= 4).collect();
    let pick = |rng: &mut ChaCha8Rng, v: &[&String]| -> Option<String> {
        (!v.is_empty()).then(|| v[rng.gen_range(0..v.len())].to_string())
    };
    let cut = |rng: &mut ChaCha8Rng, w: String| -> String {
        let n = rng.gen_range(3..=5);
        w.chars().take(n).collect()
    };
    // Words of the body, for questions and rare words.
    let body: Vec<String> = post
        .body
        .as_deref()
        .unwrap_or("")
        .unicode_words()
        .take(400)
        .filter(|w| w.chars().all(char::is_alphanumeric))
        .map(str::to_lowercase)
        .collect();
    match kind {
        Kind::Title => {
            if all.len() < 2 {
                return None;
            }
            let mut shuffled = all.clone();
            for i in (1..shuffled.len()).rev() {
                shuffled.swap(i, rng.gen_range(0..=i));
            }
            shuffled.truncate(8);
            Some(format!("@title {}", shuffled.join(" ")))
        }
        Kind::Misspelt => {
            let five: Vec<&String> = all.iter().filter(|w| w.chars().count() >= 5).collect();
            let word: Vec<char> = pick(rng, &five)?.chars().collect();
            let drop = rng.gen_range(1..word.len() - 1);
            let typo: String = word
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != drop)
                .map(|(_, c)| c)
                .collect();
            Some(format!("@misspelt {typo}"))
        }
        Kind::Question => {
            // "how do i" and a run of 2–5 body words: 5–8 words in all.
            let n = rng.gen_range(2..=5);
            if body.len() < n {
                return None;
            }
            let start = rng.gen_range(0..=body.len() - n);
            Some(format!(
                "@question how do i {}",
                body[start..start + n].join(" ")
            ))
        }
        Kind::Rare => {
            // The body's longest word: in technical writing, an identifier
            // or a name, which few posts hold.
            let word = body
                .iter()
                .filter(|w| w.chars().any(char::is_alphabetic))
                .max_by_key(|w| (w.chars().count(), w.as_str()))?;
            Some(format!("@rare {word}"))
        }
        Kind::Keyword => {
            if words.is_empty() {
                return None;
            }
            let n = rng.gen_range(1..=3).min(words.len());
            let start = rng.gen_range(0..=words.len() - n);
            Some(
                words[start..start + n]
                    .iter()
                    .map(|w| w.as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
            )
        }
        Kind::Phrase => {
            if all.len() < 2 {
                return None;
            }
            let i = rng.gen_range(0..all.len() - 1);
            Some(format!("\"{} {}\"", all[i], all[i + 1]))
        }
        Kind::Faceted => {
            let stacks: Vec<&String> = post
                .stack
                .as_deref()
                .unwrap_or_default()
                .iter()
                .filter(|s| !s.trim().is_empty())
                .collect();
            if stacks.is_empty() {
                return None;
            }
            let word = pick(rng, &words)?;
            let stack = stacks[rng.gen_range(0..stacks.len())];
            let params = form_urlencoded::Serializer::new(String::new())
                .append_pair("facet", &format!("stack:{stack}"))
                .finish();
            Some(format!("{word}?{params}"))
        }
        Kind::Prefix => {
            let word = pick(rng, &long)?;
            Some(format!("{}?prefix=true", cut(rng, word)))
        }
        Kind::Similar => Some(format!("similar:{}", post.id)),
        Kind::Suggest => {
            let word = pick(rng, &long)?;
            Some(format!("suggest:{}", cut(rng, word)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::test_support::{parse, small_index};
    use postsearch_engine::Engine;
    use postsearch_engine::{RankingConfig, Sort};

    #[test]
    fn parses_every_line_form() {
        let limits = Limits::default();
        assert!(parse_line("", &limits).unwrap().is_none());
        assert!(parse_line("   ", &limits).unwrap().is_none());
        assert!(parse_line("# a comment", &limits).unwrap().is_none());

        let q = parse("n+1 queries");
        assert_eq!(q.kind, Kind::Keyword);
        let Op::Search(req) = &q.op else { panic!() };
        assert_eq!(req.q, "n+1 queries");
        assert_eq!(q.path, "/api/search?q=n%2B1+queries");

        let q = parse("\"connection pool\" exhaustion");
        assert_eq!(q.kind, Kind::Phrase);

        let q = parse("n+1 queries?facet=stack:django&sort=views");
        assert_eq!(q.kind, Kind::Faceted);
        let Op::Search(req) = &q.op else { panic!() };
        assert_eq!(req.q, "n+1 queries");
        assert_eq!(req.facets["stack"], ["django"]);
        assert_eq!(req.sort, Sort::Views);
        assert_eq!(
            q.path,
            "/api/search?q=n%2B1+queries&facet=stack:django&sort=views"
        );

        // A facet wins over prefix and quotes.
        let q = parse("\"a b\" kube?prefix=true&facet=stack:python+services");
        assert_eq!(q.kind, Kind::Faceted);
        let Op::Search(req) = &q.op else { panic!() };
        assert_eq!(req.facets["stack"], ["python services"]);

        let q = parse("kube?prefix=true");
        assert_eq!(q.kind, Kind::Prefix);
        let Op::Search(req) = &q.op else { panic!() };
        assert!(req.prefix);
        assert_eq!(req.q, "kube");

        // A question mark not followed by parameters is part of the query.
        let q = parse("why is it slow?");
        assert_eq!(q.kind, Kind::Keyword);
        let Op::Search(req) = &q.op else { panic!() };
        assert_eq!(req.q, "why is it slow?");

        let q = parse("similar:alphanode-000042");
        assert_eq!(q.kind, Kind::Similar);
        assert_eq!(q.op, Op::Similar("alphanode-000042".into()));
        assert_eq!(q.path, "/api/posts/alphanode-000042/similar");

        // A label says the kind the query cannot show.
        let q = parse("@misspelt deploymnet");
        assert_eq!(q.kind, Kind::Misspelt);
        let Op::Search(req) = &q.op else { panic!() };
        assert_eq!(req.q, "deploymnet");
        assert_eq!(parse("@rare xyz?limit=3").kind, Kind::Rare);
        assert!(parse_line("@sideways x", &limits).is_err());
        assert!(parse_line("@rare", &limits).is_err());

        let q = parse("suggest:kube rol");
        assert_eq!(q.kind, Kind::Suggest);
        assert_eq!(q.op, Op::Suggest("kube rol".into()));
        assert_eq!(q.path, "/api/suggest?q=kube+rol");
    }

    #[test]
    fn bad_lines_are_errors_naming_the_line() {
        let limits = Limits::default();
        let err = parse_queries("ok\nkube?sort=sideways\n", &limits).unwrap_err();
        assert!(format!("{err:#}").contains("line 2"), "{err:#}");
        assert!(parse_queries("similar:\n", &limits).is_err());
        assert!(parse_queries("# only a comment\n\n", &limits).is_err());
        let qs = parse_queries("# c\n\nkube\nsimilar:x\n", &limits).unwrap();
        assert_eq!(qs.len(), 2);
    }

    #[test]
    fn builtin_mix_is_deterministic_and_covers_every_kind() {
        let index = small_index();
        let a = builtin_lines(&index, 1, 120).unwrap();
        let b = builtin_lines(&index, 1, 120).unwrap();
        let c = builtin_lines(&index, 2, 120).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.len(), 120);
        let queries: Vec<BenchQuery> = a.iter().map(|l| parse(l)).collect();
        for kind in Kind::ALL {
            let n = queries.iter().filter(|q| q.kind == kind).count();
            assert_eq!(n, 12, "{kind:?} in {a:?}");
        }
        let words = |k: Kind| {
            queries
                .iter()
                .filter(move |q| q.kind == k)
                .map(|q| match &q.op {
                    Op::Search(r) => r.q.split_whitespace().count(),
                    _ => 0,
                })
        };
        assert!(words(Kind::Question).all(|n| (5..=8).contains(&n)));
        assert!(words(Kind::Misspelt).all(|n| n == 1));
        // The queries run, and the mix finds things.
        let engine = Engine::new(index.clone(), RankingConfig::default());
        let mut found = 0;
        for q in &queries {
            match &q.op {
                Op::Search(req) => found += (engine.search(req).unwrap().total > 0) as usize,
                Op::Similar(id) => {
                    found += !engine.similar(id, 5).unwrap().hits.is_empty() as usize
                }
                Op::Suggest(p) => {
                    found += !engine.suggest(p, 5).unwrap().suggestions.is_empty() as usize
                }
            }
        }
        assert!(
            found > queries.len() * 9 / 10,
            "{found} of {}",
            queries.len()
        );
    }
}
