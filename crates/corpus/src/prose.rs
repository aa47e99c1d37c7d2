//! Text with the statistics of real technical writing, for the realistic
//! style of generated posts.
//!
//! Real documentation is not a few thousand words in rotation: its word
//! frequencies fall off as Zipf's law says (the n-th most frequent word is
//! used about 1/n^s as often as the first), and its vocabulary keeps
//! growing with the corpus (Heaps' law), a quarter or more of it words used
//! once: names, identifiers, rare terms. This module draws such words:
//!
//! - **general words** by rank from a Zipf law over [`VOCABULARY`] ranks:
//!   the top ranks are real English and technical words ([`COMMON`]), the
//!   rest made-up words built from syllables, one per rank;
//! - **topic words**: each problem and each stack has its own Zipf-ranked
//!   words, so posts on the same subject share rare words (what similar
//!   posts and relevance feed on);
//! - **a long tail** of identifiers, versions and numbers from an unbounded
//!   power law, most of them seen once;
//! - **code blocks** in the post's language, made of identifiers.
//!
//! Every draw goes through [`Draw`]; the words of a rank are a pure
//! function of the rank.

use crate::draw::{splitmix64, Draw, Prng};

/// Ranks of the general vocabulary.
const VOCABULARY: f64 = 25_000.0;
/// Zipf exponent of the general vocabulary.
const ZIPF: f64 = 1.0;
/// Share of prose words drawn from the post's topics.
const TOPIC_SHARE: f64 = 0.14;
/// Ranks of each topic's vocabulary.
const TOPIC_WORDS: f64 = 300.0;
/// Ranks of each topic's identifiers.
const IDENTIFIERS: f64 = 200.0;
/// Share of prose words from the long tail (identifiers, versions).
const TAIL_SHARE: f64 = 0.02;
/// Power-law exponent of the long tail (unbounded ranks).
const TAIL_EXPONENT: f64 = 1.7;

/// The most frequent words of technical English, most frequent first: the
/// first ranks of the general vocabulary.
const COMMON: &[&str] = &[
    "the",
    "of",
    "to",
    "and",
    "a",
    "in",
    "is",
    "that",
    "for",
    "it",
    "as",
    "with",
    "be",
    "on",
    "this",
    "are",
    "by",
    "or",
    "not",
    "can",
    "from",
    "an",
    "if",
    "you",
    "which",
    "at",
    "will",
    "when",
    "one",
    "all",
    "use",
    "has",
    "have",
    "its",
    "each",
    "but",
    "these",
    "used",
    "also",
    "into",
    "there",
    "more",
    "than",
    "other",
    "only",
    "their",
    "so",
    "we",
    "may",
    "any",
    "new",
    "must",
    "then",
    "some",
    "how",
    "should",
    "do",
    "what",
    "value",
    "file",
    "data",
    "function",
    "type",
    "name",
    "set",
    "time",
    "code",
    "first",
    "default",
    "example",
    "return",
    "error",
    "string",
    "list",
    "line",
    "command",
    "method",
    "object",
    "option",
    "server",
    "user",
    "system",
    "see",
    "following",
    "number",
    "two",
    "where",
    "same",
    "version",
    "table",
    "key",
    "page",
    "test",
    "call",
    "run",
    "change",
    "case",
    "make",
    "way",
    "need",
    "given",
    "section",
    "does",
    "no",
    "them",
    "like",
    "without",
    "using",
    "would",
    "both",
    "because",
    "after",
    "before",
    "while",
    "however",
    "within",
    "over",
    "module",
    "class",
    "field",
    "index",
    "query",
    "request",
    "response",
    "client",
    "path",
    "directory",
    "package",
    "variable",
    "argument",
    "parameter",
    "result",
    "output",
    "input",
    "process",
    "thread",
    "memory",
    "buffer",
    "stream",
    "format",
    "config",
    "log",
    "event",
    "message",
    "header",
    "body",
    "column",
    "row",
    "record",
    "entry",
    "item",
    "element",
    "node",
    "tree",
    "map",
    "array",
    "vector",
    "struct",
    "trait",
    "interface",
    "library",
    "build",
    "install",
    "release",
    "branch",
    "commit",
    "merge",
    "remote",
    "local",
    "global",
    "static",
    "dynamic",
    "public",
    "private",
    "read",
    "write",
    "open",
    "close",
    "start",
    "stop",
    "create",
    "delete",
    "update",
    "insert",
    "select",
    "check",
    "match",
    "parse",
    "load",
    "save",
    "send",
    "receive",
    "connect",
    "handle",
    "return",
    "raise",
    "catch",
    "throw",
    "true",
    "false",
    "null",
    "empty",
    "current",
    "previous",
    "next",
    "last",
    "most",
    "many",
    "much",
    "such",
    "own",
    "well",
    "even",
    "still",
    "just",
    "now",
    "here",
    "very",
    "often",
    "usually",
    "instead",
    "either",
    "otherwise",
    "although",
    "since",
    "until",
    "unless",
    "whether",
    "about",
    "between",
    "through",
    "under",
    "against",
    "during",
    "across",
    "along",
    "around",
    "behind",
    "beyond",
    "per",
    "via",
];

/// Syllables of made-up words.
const SYLLABLES: &[&str] = &[
    "ka", "ter", "lin", "mo", "rex", "dat", "ful", "sta", "pro", "vi", "no", "gra", "tor", "mi",
    "sen", "lo", "qua", "bri", "del", "fa", "cor", "um", "ex", "tal", "ne", "shi", "pan", "ro",
    "vel", "tu", "zen", "ar", "bo", "cli", "dro", "fen", "gu", "hal", "ix", "jo", "kel", "mar",
    "nix", "op", "pel", "ris", "sul", "tav", "ur", "vox", "wen", "yl", "zo", "ber", "cas", "dun",
    "esk", "for",
];

/// Endings of made-up words (the empty one most often).
const ENDINGS: &[&str] = &[
    "", "", "", "", "", "s", "ed", "ing", "er", "ion", "able", "ity", "ize", "ment", "ous",
];

/// A made-up word for `id`: two to four syllables and an ending, longer
/// for rarer ranks (as real rare words are).
fn made_up(id: u64, rare: bool) -> String {
    let mut h = splitmix64(id ^ 0x005E_ED0F_AB1E);
    let syllables = 2 + (h & 1) as usize + usize::from(rare);
    h >>= 1;
    let mut word = String::with_capacity(12);
    for _ in 0..syllables {
        word.push_str(SYLLABLES[(h % SYLLABLES.len() as u64) as usize]);
        h /= SYLLABLES.len() as u64;
    }
    word.push_str(ENDINGS[(h % ENDINGS.len() as u64) as usize]);
    word
}

/// The general word of `rank` (1-based).
fn general_word(rank: u64) -> String {
    match COMMON.get(rank as usize - 1) {
        Some(word) => (*word).to_string(),
        None => made_up(rank, rank > 10_000),
    }
}

/// A rank in `1..=ranks` drawn from a Zipf law of exponent `s`, by
/// inverting its continuous approximation.
fn zipf<R: Draw>(rng: &mut R, ranks: f64, s: f64) -> u64 {
    let u = rng.unit();
    let r = if (s - 1.0).abs() < 1e-9 {
        ranks.powf(u)
    } else {
        let a = 1.0 - s;
        ((ranks.powf(a) - 1.0) * u + 1.0).powf(1.0 / a)
    };
    (r as u64).clamp(1, ranks as u64)
}

/// The subjects a post's topic words come from: its problem and its stack.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Topics {
    pub problem: usize,
    pub stack: usize,
}

impl Topics {
    /// The problem or the stack, one in two, as a number that tells them
    /// apart.
    fn either<R: Draw>(self, rng: &mut R) -> u64 {
        if rng.ratio(1, 2) {
            self.problem as u64
        } else {
            (1 << 16) | self.stack as u64
        }
    }
}

/// One word of prose.
fn word<R: Draw>(rng: &mut R, topics: Topics) -> String {
    let u = rng.unit();
    if u < TAIL_SHARE {
        tail_word(rng)
    } else if u < TAIL_SHARE + TOPIC_SHARE {
        topic_word(rng, topics)
    } else {
        general_word(zipf(rng, VOCABULARY, ZIPF))
    }
}

/// A word of the post's problem or stack.
fn topic_word<R: Draw>(rng: &mut R, topics: Topics) -> String {
    let subject = topics.either(rng);
    let rank = zipf(rng, TOPIC_WORDS, 1.0);
    made_up((1 << 40) | (subject << 20) | rank, false)
}

/// A word from the unbounded tail: an identifier, a version, a number, a
/// made-up name.
fn tail_word<R: Draw>(rng: &mut R) -> String {
    let rank = ((1.0 - rng.unit()).powf(-1.0 / (TAIL_EXPONENT - 1.0))).min(1e15) as u64;
    let id = (1 << 50) | rank;
    match splitmix64(id) % 6 {
        0 => format!("{}_{}", made_up(id, false), made_up(id ^ 1, false)),
        1 => format!("{}{}", made_up(id, false), rank % 1000),
        2 => format!("v{}.{}.{}", rank % 7, (rank / 7) % 31, (rank / 217) % 60),
        3 => format!("0x{:x}", splitmix64(id) >> 40),
        _ => made_up(id, true),
    }
}

/// Appends a paragraph of `sentences` sentences of prose.
pub(crate) fn paragraph<R: Draw>(out: &mut String, rng: &mut R, topics: Topics, sentences: u32) {
    for s in 0..sentences {
        if s > 0 {
            out.push(' ');
        }
        let words = rng.between(7, 22);
        for w in 0..words {
            let mut word = word(rng, topics);
            if w == 0 {
                capitalize(&mut word);
            } else {
                out.push(' ');
            }
            out.push_str(&word);
            if w + 1 < words && rng.ratio(1, 14) {
                out.push(',');
            }
        }
        out.push('.');
    }
}

fn capitalize(word: &mut String) {
    if let Some(first) = word.get(..1) {
        let upper = first.to_ascii_uppercase();
        word.replace_range(..1, &upper);
    }
}

/// An identifier as code spells it: snake_case, camelCase or a single
/// word. Identifiers are ranked per topic like words (a subject's code
/// names the same few functions and settings again and again): the parts
/// of the identifier of a rank are a function of the rank.
pub(crate) fn identifier<R: Draw>(rng: &mut R, topics: Topics, camel: bool) -> String {
    let subject = topics.either(rng);
    let rank = zipf(rng, IDENTIFIERS, 1.0);
    let mut parts = Prng::new((subject << 32) | rank, 0, 0x0001_DE17);
    let count = parts.between(1, 3);
    let mut id = String::with_capacity(24);
    for p in 0..count {
        let mut part = if parts.ratio(1, 2) {
            topic_word(&mut parts, topics)
        } else {
            general_word(30 + zipf(&mut parts, 3_000.0, 1.0))
        };
        if p > 0 {
            if camel {
                capitalize(&mut part);
            } else {
                id.push('_');
            }
        }
        id.push_str(&part);
    }
    id
}

/// Appends a fenced code block of 3–10 lines in `language`, made of
/// identifiers, tool names and numbers. Lines are not indented: the text
/// form of a post does not keep a line's leading spaces.
pub(crate) fn code_block<R: Draw>(
    out: &mut String,
    rng: &mut R,
    topics: Topics,
    language: &str,
    tool: &str,
) {
    let camel = matches!(
        language,
        "javascript" | "typescript" | "java" | "kotlin" | "swift" | "dart" | "csharp" | "go"
    );
    out.push_str("```");
    out.push_str(language);
    for _ in 0..rng.between(3, 10) {
        out.push('\n');
        let a = identifier(rng, topics, camel);
        let b = identifier(rng, topics, camel);
        let c = identifier(rng, topics, camel);
        let n = rng.below(1000);
        let line = match (language, rng.below(3)) {
            ("python", 0) => format!("{a} = {b}({c}, timeout={n})"),
            ("python", 1) => format!("def {a}({b}, {c}=None):"),
            ("python", _) => format!("return {b}.{c}({a})"),
            ("rust", 0) => format!("let {a} = {b}::{c}(&config)?;"),
            ("rust", 1) => format!("fn {a}({b}: &str) -> Result<usize> {{"),
            ("rust", _) => format!("{b}.{c}({n})"),
            ("go", 0) => format!("{a}, err := {b}.{c}(ctx, {n})"),
            ("go", 1) => "if err != nil {".to_string(),
            ("go", _) => format!("return {a}, fmt.Errorf(\"{b}: %w\", err)"),
            ("sql", 0) => format!("SELECT {a}, {b} FROM {c} WHERE {a} > {n};"),
            ("sql", 1) => format!("CREATE INDEX {a}_idx ON {b} ({c});"),
            ("sql", _) => format!("UPDATE {c} SET {a} = {n} WHERE {b} IS NULL;"),
            ("yaml" | "json" | "hcl" | "nginx", 0) => format!("{a}: {b}"),
            ("yaml" | "json" | "hcl" | "nginx", 1) => format!("{c}: {n}"),
            ("yaml" | "json" | "hcl" | "nginx", _) => format!("- {b}_{c}"),
            ("bash", 0) => format!("$ {tool} {a} --{b} {n}"),
            ("bash", 1) => format!("export {}={c}", a.to_ascii_uppercase()),
            ("bash", _) => format!("$ {tool} {c}"),
            (_, 0) => format!("const {a} = await {b}.{c}({n});"),
            (_, 1) => format!("function {a}({b}) {{"),
            (_, _) => format!("return {c}({b}, {n});"),
        };
        out.push_str(&line);
    }
    out.push_str("\n```");
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn ranks_follow_zipf() {
        let mut rng = Prng::new(1, 2, 3);
        let mut counts: HashMap<u64, u32> = HashMap::new();
        for _ in 0..200_000 {
            *counts.entry(zipf(&mut rng, VOCABULARY, ZIPF)).or_default() += 1;
        }
        // Rank 1 is about twice as frequent as rank 2, and far more than
        // rank 100; every rank stays in range.
        let (r1, r2, r100) = (
            counts[&1],
            counts[&2],
            counts.get(&100).copied().unwrap_or(0),
        );
        assert!(r1 > r2 * 3 / 2 && r1 < r2 * 3, "{r1} {r2}");
        assert!(r1 > 30 * r100, "{r1} {r100}");
        assert!(counts.keys().all(|&r| (1..=VOCABULARY as u64).contains(&r)));
    }

    #[test]
    fn a_rank_always_gives_the_same_word() {
        assert_eq!(general_word(1), "the");
        assert_eq!(general_word(70_000), general_word(70_000));
        assert_ne!(general_word(70_000), general_word(70_001));
        assert!(made_up(5, true).len() >= 6);
    }

    #[test]
    fn code_blocks_are_fenced_and_in_the_language() {
        let mut rng = Prng::new(1, 2, 3);
        let topics = Topics {
            problem: 1,
            stack: 2,
        };
        let mut out = String::new();
        code_block(&mut out, &mut rng, topics, "rust", "cargo");
        assert!(
            out.starts_with("```rust\n") && out.ends_with("\n```"),
            "{out}"
        );
        assert!(out.lines().count() >= 5);
    }
}
