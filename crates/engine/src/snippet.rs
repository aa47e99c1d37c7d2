//! Snippets and highlighting: the matched words of a text wrapped in
//! `<mark>…</mark>`, everything else HTML-escaped.
//!
//! Cheaper than re-analyzing the whole body: each word is first checked
//! against the first letters of the query's terms, and only the few that
//! could match go through the analyzer (lowercase, fold, stem).

use postsearch_store::analysis::{
    ascii_bytes_among, ascii_word_at, is_ascii_word_start, text_analyzer, word_byte_starts_where,
    Pieces,
};
use rustc_hash::FxHashMap;
use std::collections::BTreeSet;
use tantivy::tokenizer::TextAnalyzer;

/// Most distinct words a [`Highlighter`] remembers.
const MAX_SEEN_WORDS: usize = 50_000;

/// Characters no word starts with (UAX #29: quotes, dashes, the ellipsis
/// and the no-break space break before a letter after them; the curly
/// apostrophes join letters only between two of them).
const NEVER_WORD_START: [char; 8] = [
    '\u{2018}', '\u{2019}', '\u{201C}', '\u{201D}', '\u{2013}', '\u{2014}', '\u{2026}', '\u{A0}',
];

/// Target length of a snippet, in characters.
pub const SNIPPET_CHARS: usize = 160;

/// Most distinct first letters a scan looks for eight bytes at a time (a
/// few operations each); with more, every word start is looked at. (With
/// eight, the long queries of generated posts, whose letters start most
/// of their words, scanned slower than by looking at every start.)
const FIRST_LETTERS_AT_ONCE: usize = 4;

/// Finds and marks the words of a text that match a query's terms.
pub struct Highlighter {
    terms: BTreeSet<String>,
    /// The bytes a word that may match starts with: the first bytes of the
    /// terms in both cases, ASCII only (stemming keeps a word's first
    /// letter; a word starting with another byte always goes through the
    /// analyzer).
    start_bytes: [bool; 256],
    /// The first two bytes a word that may match starts with, lowercased
    /// (see [`Pairs`]).
    pairs: Pairs,
    /// The terms' first bytes, each repeated eight times, when they are
    /// at most [`FIRST_LETTERS_AT_ONCE`] ASCII letters and digits: what
    /// the scan looks for among the word starts of eight bytes at once
    /// (see [`ascii_bytes_among`]), and how many; else none.
    first_letters: ([u64; FIRST_LETTERS_AT_ONCE], usize),
    analyzer: TextAnalyzer,
    /// Words already analyzed, and the term each matched: the texts of one
    /// answer share most of their words.
    seen: FxHashMap<Box<str>, Option<usize>>,
}

/// The pairs of first bytes, lowercased, that an ASCII word may start with
/// to be one of a set of terms once analyzed. Lowercasing, folding and
/// stemming keep a word's first two letters, so most words starting with
/// a term's first letter are told apart without the analyzer: in a long
/// body, that letter starts a word in ten, and the analyzer costs more
/// than the rest of the snippet. The stemmer's exceptions that change the
/// second letter (`dying` → `die`, `lying`, `tying`) are taken in; a
/// one-letter term, or a term or word whose second byte is not ASCII,
/// leaves the word to the analyzer.
struct Pairs {
    /// Bit `first * 256 + second` set for each allowed pair.
    bits: Box<[u64; 1024]>,
    /// First bytes after which any second byte is allowed.
    any_second: [bool; 256],
}

impl Pairs {
    fn of(terms: &BTreeSet<String>) -> Pairs {
        let mut pairs = Pairs {
            bits: Box::new([0; 1024]),
            any_second: [false; 256],
        };
        for t in terms {
            match *t.as_bytes() {
                [a, b, ..] if a < 128 && b < 128 => {
                    let (a, b) = (a.to_ascii_lowercase(), b.to_ascii_lowercase());
                    pairs.set(a, b);
                    // `dying`, `lying`, `tying` stem to `die`, `lie`, `tie`.
                    if b == b'i' && matches!(a, b'd' | b'l' | b't') {
                        pairs.set(a, b'y');
                    }
                }
                [a, ..] if a < 128 => pairs.any_second[a.to_ascii_lowercase() as usize] = true,
                _ => {}
            }
        }
        pairs
    }

    fn set(&mut self, a: u8, b: u8) {
        let bit = a as usize * 256 + b as usize;
        self.bits[bit / 64] |= 1 << (bit % 64);
    }

    /// Whether the word starting at byte `at` of ASCII `bytes` may be one
    /// of the terms, by its first two bytes ([`Pairs::may_match`] of the
    /// word, read before the word is: a one-letter word is followed by a
    /// byte outside it or by nothing, and may only be a one-letter term,
    /// whose letter allows any second byte).
    #[inline]
    fn may_start(&self, bytes: &[u8], at: usize) -> bool {
        match bytes.get(at + 1) {
            Some(&b) => self.allows(bytes[at], b),
            None => self.any_second[bytes[at].to_ascii_lowercase() as usize],
        }
    }

    /// Whether `word` (starting with an ASCII byte) may be one of the terms.
    #[inline]
    fn may_match(&self, word: &[u8]) -> bool {
        let [a, b, ..] = *word else {
            return true;
        };
        a >= 128 || b >= 128 || self.allows(a, b)
    }

    /// Whether a word may start with ASCII bytes `a` then `b`, any case.
    #[inline]
    fn allows(&self, a: u8, b: u8) -> bool {
        let a = a.to_ascii_lowercase();
        let bit = a as usize * 256 + b.to_ascii_lowercase() as usize;
        self.any_second[a as usize] || self.bits[bit / 64] & (1 << (bit % 64)) != 0
    }
}

/// A matched word: byte range in the text and the term it matched.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Match {
    from: usize,
    to: usize,
    term: usize,
}

impl Highlighter {
    /// A highlighter for these analyzed terms.
    pub fn new(terms: &BTreeSet<String>) -> Highlighter {
        let mut start_bytes = [false; 256];
        for t in terms {
            if let Some(&b) = t.as_bytes().first() {
                if b < 128 {
                    start_bytes[b.to_ascii_lowercase() as usize] = true;
                    start_bytes[b.to_ascii_uppercase() as usize] = true;
                }
            }
        }
        let mut firsts: Vec<u8> = terms
            .iter()
            .filter_map(|t| t.as_bytes().first())
            .map(u8::to_ascii_lowercase)
            .collect();
        firsts.sort_unstable();
        firsts.dedup();
        let mut first_letters = ([0; FIRST_LETTERS_AT_ONCE], 0);
        if firsts.len() <= FIRST_LETTERS_AT_ONCE && firsts.iter().all(u8::is_ascii_alphanumeric) {
            for (slot, &b) in first_letters.0.iter_mut().zip(&firsts) {
                *slot = u64::from_le_bytes([b; 8]);
            }
            first_letters.1 = firsts.len();
        }
        Highlighter {
            terms: terms.clone(),
            start_bytes,
            pairs: Pairs::of(terms),
            first_letters,
            analyzer: text_analyzer(),
            seen: FxHashMap::default(),
        }
    }

    fn term_index(&mut self, word: &str) -> Option<usize> {
        let first = word.as_bytes()[0];
        if first < 128 && !self.start_bytes[first as usize] {
            return None;
        }
        if !self.pairs.may_match(word.as_bytes()) {
            return None;
        }
        if let Some(known) = self.seen.get(word) {
            return *known;
        }
        let term = self.analyzed_term_index(word);
        if self.seen.len() < MAX_SEEN_WORDS {
            self.seen.insert(word.into(), term);
        }
        term
    }

    /// The term `word` is, once analyzed (lowercased, folded, stemmed).
    fn analyzed_term_index(&mut self, word: &str) -> Option<usize> {
        let mut stream = self.analyzer.token_stream(word);
        stream
            .next()
            .and_then(|token| self.terms.iter().position(|t| *t == token.text))
    }

    fn matches(&mut self, text: &str) -> Vec<Match> {
        if self.terms.is_empty() {
            return Vec::new();
        }
        let mut out = Vec::new();
        // ASCII pieces (most of real text, between its few dashes, quotes
        // and accents) are skimmed: only words starting with a term's
        // first two letters can match, so the scan goes from word start
        // to word start and reads only those words. The pieces around
        // other characters go through the segmenter.
        for (piece, ascii) in Pieces::new(text) {
            if !ascii {
                let piece_text = &text[piece.clone()];
                if !self.piece_may_match(piece_text) {
                    continue;
                }
                for (at, word) in postsearch_store::analysis::words(piece_text) {
                    if let Some(term) = self.term_index(word) {
                        let from = piece.start + at;
                        out.push(Match {
                            from,
                            to: from + word.len(),
                            term,
                        });
                    }
                }
                continue;
            }
            let text = &text[..piece.end];
            let bytes = text.as_bytes();
            let mut pos = piece.start;
            // A word starts where a word byte follows another byte: those
            // places are found eight bytes at a time, with the terms' first
            // letters (when they are few), and only those are looked at.
            let (letters, n) = self.first_letters;
            let keep = |chunk: u64| {
                if n == 0 {
                    0xFF
                } else {
                    ascii_bytes_among(chunk, &letters[..n])
                }
            };
            for at in word_byte_starts_where(bytes, piece.start, keep) {
                if at < pos
                    || !self.start_bytes[bytes[at] as usize]
                    || !is_ascii_word_start(bytes, at)
                    || !self.pairs.may_start(bytes, at)
                {
                    continue;
                }
                let word = ascii_word_at(text, at);
                if let Some(term) = self.term_index(word) {
                    out.push(Match {
                        from: at,
                        to: at + word.len(),
                        term,
                    });
                }
                pos = at + word.len();
            }
        }
        out
    }

    /// Whether a piece of text holding characters other than ASCII may
    /// hold a word that matches, without segmenting it: a word whose first
    /// byte is ASCII matches only if that byte starts a term (see
    /// [`Highlighter::term_index`]), and no word starts with the quotes,
    /// dashes, ellipsis or no-break space of [`NEVER_WORD_START`]. Real
    /// writing's pieces are mostly a curly apostrophe or quote among
    /// ASCII (`We’ll`, `“cache”`), and Unicode segmentation costs more
    /// than this look at their bytes.
    fn piece_may_match(&self, piece: &str) -> bool {
        piece.chars().any(|c| match c.is_ascii() {
            true => self.start_bytes[c as usize],
            false => !NEVER_WORD_START.contains(&c),
        })
    }

    /// The whole text, escaped, with every matched word marked.
    pub fn highlight(&mut self, text: &str) -> String {
        self.highlight_marked(text, &Marks::HTML)
    }

    /// The whole text with every matched word between `marks`' tags.
    pub fn highlight_marked(&mut self, text: &str, marks: &Marks) -> String {
        let matches = self.matches(text);
        let mut out = String::with_capacity(text.len() + 32);
        render(&mut out, text, 0, text.len(), &matches, marks);
        out
    }

    /// About [`SNIPPET_CHARS`] characters of `text` around its best match
    /// (the window with the most distinct terms), escaped and marked; the
    /// start of the text when nothing matches. `…` marks a cut.
    pub fn snippet(&mut self, text: &str) -> String {
        self.snippet_within(text, SNIPPET_CHARS, &Marks::HTML)
    }

    /// [`Highlighter::snippet`] of about `budget` characters (at least 40),
    /// written with `marks`.
    pub fn snippet_within(&mut self, text: &str, budget: usize, marks: &Marks) -> String {
        let matches = self.matches(text);
        let budget = budget.max(40);
        let (mut from, mut to) = match best_window(&matches, budget) {
            Some(start) => {
                let lead = 40.min(matches[start].from);
                let from = matches[start].from - lead;
                (from, from + budget)
            }
            None => (0, budget),
        };
        if to >= text.len() {
            to = text.len();
            from = from.min(to.saturating_sub(budget));
        }
        let from = word_start(text, from);
        let to = word_end(text, to);
        let mut out = String::with_capacity(budget + 64);
        if from > 0 {
            out.push_str(marks.cut);
        }
        render(&mut out, text, from, to, &matches, marks);
        if to < text.len() {
            out.push_str(marks.cut);
        }
        out
    }
}

/// How marked text is written: the tags around a match, whether the rest
/// is HTML-escaped, and what marks a cut. Newlines become spaces either
/// way, so a snippet is one line.
#[derive(Debug, Clone, Copy)]
pub struct Marks<'a> {
    pub pre: &'a str,
    pub post: &'a str,
    pub html: bool,
    pub cut: &'a str,
}

impl Marks<'static> {
    /// HTML: `<mark>` tags, everything else escaped, `…` for cuts.
    pub const HTML: Marks<'static> = Marks {
        pre: "<mark>",
        post: "</mark>",
        html: true,
        cut: "…",
    };
}

/// The index of the match that starts the window (of `budget` bytes) with
/// the most distinct terms, then the most matches; the earliest wins ties.
fn best_window(matches: &[Match], budget: usize) -> Option<usize> {
    let mut best: Option<(usize, usize, usize)> = None; // (distinct, count, start)
    for (i, m) in matches.iter().enumerate() {
        let end = m.from + budget.saturating_sub(40);
        let mut seen: Vec<usize> = Vec::new();
        let mut count = 0;
        for n in matches[i..].iter().take_while(|n| n.to <= end) {
            count += 1;
            if !seen.contains(&n.term) {
                seen.push(n.term);
            }
        }
        let score = (seen.len(), count);
        if best.is_none_or(|(d, c, _)| score > (d, c)) {
            best = Some((score.0, score.1, i));
        }
    }
    best.map(|(_, _, i)| i)
}

/// Moves `pos` back to the start of the word it falls in.
fn word_start(text: &str, pos: usize) -> usize {
    let mut pos = pos.min(text.len());
    while !text.is_char_boundary(pos) {
        pos -= 1;
    }
    match text[..pos].rfind(char::is_whitespace) {
        Some(ws) if pos - ws < 20 => ws + text[ws..].chars().next().map_or(1, char::len_utf8),
        _ if pos < 20 => 0,
        _ => pos,
    }
}

/// Moves `pos` forward to the end of the word it falls in.
fn word_end(text: &str, pos: usize) -> usize {
    let mut pos = pos.min(text.len());
    while !text.is_char_boundary(pos) {
        pos += 1;
    }
    match text[pos..].find(char::is_whitespace) {
        Some(ws) if ws < 20 => pos + ws,
        _ => pos,
    }
}

/// Writes `text[from..to]` with the matches inside it marked.
fn render(out: &mut String, text: &str, from: usize, to: usize, matches: &[Match], marks: &Marks) {
    let plain = |out: &mut String, s: &str| match marks.html {
        true => escape_into(out, s),
        false => one_line_into(out, s),
    };
    let mut pos = from;
    for m in matches.iter().filter(|m| m.from >= from && m.to <= to) {
        plain(out, &text[pos..m.from]);
        out.push_str(marks.pre);
        plain(out, &text[m.from..m.to]);
        out.push_str(marks.post);
        pos = m.to;
    }
    plain(out, &text[pos..to]);
}

/// HTML-escapes `s` onto `out`; newlines become spaces.
pub fn escape_into(out: &mut String, s: &str) {
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let with = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&#39;",
            b'\n' | b'\r' => " ",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        out.push_str(with);
        start = i + 1;
    }
    out.push_str(&s[start..]);
}

/// `s` onto `out` with newlines as spaces.
fn one_line_into(out: &mut String, s: &str) {
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        if b == b'\n' || b == b'\r' {
            out.push_str(&s[start..i]);
            out.push(' ');
            start = i + 1;
        }
    }
    out.push_str(&s[start..]);
}

/// `s` HTML-escaped.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    escape_into(&mut out, s);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use postsearch_store::analysis::terms;

    fn hl(query: &str) -> Highlighter {
        Highlighter::new(&terms(query).into_iter().collect())
    }

    #[test]
    fn marks_stemmed_matches_and_escapes_the_rest() {
        let mut h = hl("deploying");
        assert_eq!(
            h.highlight("<b>Deployments</b> & deploy"),
            "&lt;b&gt;<mark>Deployments</mark>&lt;/b&gt; &amp; <mark>deploy</mark>"
        );
    }

    #[test]
    fn script_tags_come_back_inert() {
        let mut h = hl("alert");
        let out = h.snippet("<script>alert('x')</script> more text");
        assert!(!out.contains("<script>"));
        assert!(out.contains("&lt;script&gt;<mark>alert</mark>"));
    }

    #[test]
    fn snippet_centers_on_the_densest_match() {
        let filler = "lorem ipsum dolor sit amet ".repeat(20);
        let text = format!("{filler} cache once {filler} cache invalidation here {filler}");
        let out = hl("cache invalidation").snippet(&text);
        assert!(
            out.contains("<mark>cache</mark> <mark>invalidation</mark>"),
            "{out}"
        );
        assert!(out.starts_with('…') && out.ends_with('…'));
        let plain = out.replace("<mark>", "").replace("</mark>", "");
        assert!(
            plain.chars().count() <= SNIPPET_CHARS + 45,
            "{}",
            plain.len()
        );
    }

    #[test]
    fn matches_equal_the_matches_of_every_word() {
        use proptest::prelude::*;
        let words = [
            "Deploy",
            "deployments",
            "cache",
            "e.g",
            "1.6.7",
            "n+1",
            "it's",
            "_x",
            "Cached",
            "re-deploy",
            "k8s",
            "::",
            "a.b",
            "1,000",
            "CACHE",
            "deploy's",
            "x",
            "c",
            "café",
            "Cachés",
            "naïve",
            "日本語",
            "e\u{301}",
            "Dying",
            "lying",
            "ties",
            "skies",
            "i",
            "It's",
            "x's",
            "o'reilly",
            "dé",
            "We’ll",
            "’tis",
            "1’000",
            "‘quoted’",
            "Café’s",
            "Éclair",
            "éclairs",
        ];
        let seps = [
            " ", ", ", ".", "\n", "(", "-", "'", ":", "", " — ", "“", "” ", "\u{301}", "\u{200d}",
            "\u{a0}", "’", "‘", " – ", "…", "’s ",
        ];
        let strategy = (
            proptest::collection::vec((0..words.len(), 0..seps.len()), 0..30),
            proptest::sample::select(vec![
                "deploy",
                "cache",
                "deploy cache e.g",
                "k8s 1.6.7",
                "x c",
                "cafe cache",
                "naive deploy",
                "die lie tie",
                "sky i",
                "it x",
                "o'reilly de",
                "well tis",
                "we ll s",
                "quoted cafe",
                "1 000",
                "eclair",
            ]),
        );
        let mut runner = proptest::test_runner::TestRunner::new(proptest::test_runner::Config {
            cases: 2000,
            ..Default::default()
        });
        runner
            .run(&strategy, |(parts, query)| {
                let text: String = parts
                    .iter()
                    .map(|&(w, s)| format!("{}{}", words[w], seps[s]))
                    .collect();
                let mut fast = hl(query);
                let mut slow = hl(query);
                // The reference analyzes every word: no first-letter or
                // first-pair shortcut.
                let every: Vec<Match> = postsearch_store::analysis::words(&text)
                    .filter_map(|(from, word)| {
                        slow.analyzed_term_index(word).map(|term| Match {
                            from,
                            to: from + word.len(),
                            term,
                        })
                    })
                    .collect();
                prop_assert_eq!(fast.matches(&text), every, "{:?} in {:?}", query, text);
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn no_match_gives_the_start() {
        let out = hl("zebra").snippet("short text about caching");
        assert_eq!(out, "short text about caching");
    }

    #[test]
    fn multibyte_text_is_cut_on_char_boundaries() {
        let text = "é".repeat(300) + " cache " + &"ü".repeat(300);
        let out = hl("cache").snippet(&text);
        assert!(out.contains("<mark>cache</mark>"));
    }
}
