//! Text analysis: a tokenizer on Unicode word boundaries (UAX #29) followed by
//! lowercasing, ASCII folding and English stemming, registered with tantivy
//! under [`TEXT_ANALYZER`] and used for every full-text field.
//!
//! Queries go through the same analyzer, so `FastAPI's`, `fastapi` and
//! `FASTAPI` all meet the same term.
//!
//! Four shortcuts keep indexing fast without changing a single token: ASCII
//! text is split by a hand-written scanner that implements the UAX #29 rules
//! that can apply to ASCII, eight bytes classified at a time (a property
//! test checks it against `unicode-segmentation`); the full-text analyzer
//! does in one token stream what a chain of tantivy's filters would (a test
//! checks it against that chain); stems are cached per thread, since a
//! corpus repeats the same few thousand words, in a table whose lines are
//! asked for a few words ahead (see [`TextTokenizer`]); and the unstemmed
//! vocabulary of a post is counted while its fields are analyzed rather
//! than analyzed again (see [`begin_segment_vocabulary`]).

use crate::stem_cache::{CachedStem, StemCache, WordHash};
use compact_str::CompactString;
use tantivy::tokenizer::{
    AsciiFoldingFilter, LowerCaser, RawTokenizer, RemoveLongFilter, TextAnalyzer, Token,
    TokenStream, Tokenizer,
};
use tantivy::Index;
use unicode_segmentation::UnicodeSegmentation;

/// The analyzer of the full-text fields: words, lowercased, folded, stemmed.
pub const TEXT_ANALYZER: &str = "post_text";
/// The same without stemming: for completions, which must show real words.
pub const WORDS_ANALYZER: &str = "post_words";

/// Words of this many bytes or more are not indexed: past a hash or a long
/// identifier, a "word" is a blob (base64 data). A query word that long is
/// searched and matches nothing (tantivy's own limit is 65,530).
pub const MAX_WORD_BYTES: usize = 255;
const MAX_TOKEN_BYTES: usize = MAX_WORD_BYTES;

/// The longest word of `text`, split as the indexer splits it (before
/// long words are dropped).
pub fn longest_word(text: &str) -> Option<&str> {
    let mut tokenizer = WordTokenizer::default();
    let mut stream = tokenizer.token_stream(text);
    let mut longest: Option<(usize, usize)> = None;
    while let Some(t) = stream.next() {
        let len = t.offset_to - t.offset_from;
        if longest.is_none_or(|(from, to)| to - from < len) {
            longest = Some((t.offset_from, t.offset_to));
        }
    }
    longest.map(|(from, to)| &text[from..to])
}

/// The number of words of `text`, split as the indexer splits it.
pub fn word_count(text: &str) -> usize {
    let mut tokenizer = WordTokenizer::default();
    let mut stream = tokenizer.token_stream(text);
    let mut n = 0;
    while stream.advance() {
        n += 1;
    }
    n
}

/// Splits text on UAX #29 word boundaries, keeping only words that contain a
/// letter or digit (so punctuation and emoji are not tokens).
#[derive(Clone, Default)]
pub struct WordTokenizer {
    token: Token,
}

/// The token stream of [`WordTokenizer`].
pub struct WordTokenStream<'a> {
    words: Words<'a>,
    token: &'a mut Token,
}

/// Word boundaries: the ASCII scanner, or, for text that is not all
/// ASCII, [`MixedWords`].
enum Words<'a> {
    Ascii(AsciiWords<'a>),
    Mixed(MixedWords<'a>),
}

impl<'a> Iterator for Words<'a> {
    type Item = (usize, &'a str);

    #[inline]
    fn next(&mut self) -> Option<(usize, &'a str)> {
        match self {
            Words::Ascii(w) => w.next(),
            Words::Mixed(w) => w.next(),
        }
    }
}

/// Words of text that is not all ASCII: the text is cut into [`Pieces`],
/// the ASCII pieces go to the ASCII scanner and only the pieces around
/// other characters to the UAX #29 segmenter. The words are those the
/// segmenter gives on the whole text (a property test checks it); real
/// documentation is mostly ASCII with a few dashes, quotes or accents,
/// which would otherwise send every byte through the segmenter.
struct MixedWords<'a> {
    text: &'a str,
    pieces: Pieces<'a>,
    piece: Piece<'a>,
}

enum Piece<'a> {
    Ascii(AsciiWords<'a>),
    Unicode(usize, unicode_segmentation::UWordBoundIndices<'a>),
    Done,
}

impl<'a> MixedWords<'a> {
    fn new(text: &'a str) -> MixedWords<'a> {
        MixedWords {
            text,
            pieces: Pieces::new(text),
            piece: Piece::Done,
        }
    }
}

impl<'a> Iterator for MixedWords<'a> {
    type Item = (usize, &'a str);

    fn next(&mut self) -> Option<(usize, &'a str)> {
        loop {
            let found = match &mut self.piece {
                Piece::Ascii(words) => words.next(),
                Piece::Unicode(base, words) => words
                    .by_ref()
                    .find(|(_, word)| word.chars().any(char::is_alphanumeric))
                    .map(|(at, word)| (*base + at, word)),
                Piece::Done => None,
            };
            if found.is_some() {
                return found;
            }
            self.piece = match self.pieces.next() {
                Some((range, true)) => Piece::Ascii(AsciiWords {
                    text: &self.text[..range.end],
                    pos: range.start,
                }),
                Some((range, false)) => {
                    Piece::Unicode(range.start, self.text[range].split_word_bound_indices())
                }
                None => {
                    self.piece = Piece::Done;
                    return None;
                }
            };
        }
    }
}

/// A text cut where UAX #29 always breaks and no rule looks across (after
/// ASCII whitespace, before an ASCII byte) into pieces, each with whether
/// it is all ASCII: the words of the text are those of its ASCII pieces,
/// by the ASCII scanner ([`ascii_word_at`], [`AsciiWords`]), and those the
/// segmenter finds in the other pieces (each a run of ASCII around other
/// characters, up to the next cut).
pub struct Pieces<'a> {
    bytes: &'a [u8],
    /// Start of the next piece.
    next: usize,
}

impl<'a> Pieces<'a> {
    /// The pieces of `text`.
    pub fn new(text: &'a str) -> Pieces<'a> {
        Pieces {
            bytes: text.as_bytes(),
            next: 0,
        }
    }

    /// Where a piece may start: after ASCII whitespace, at an ASCII byte.
    fn cut_at(bytes: &[u8], at: usize) -> bool {
        bytes[at - 1].is_ascii_whitespace() && bytes[at].is_ascii()
    }
}

impl Iterator for Pieces<'_> {
    type Item = (std::ops::Range<usize>, bool);

    fn next(&mut self) -> Option<(std::ops::Range<usize>, bool)> {
        let bytes = self.bytes;
        let from = self.next;
        if from >= bytes.len() {
            return None;
        }
        let Some(other) = first_non_ascii(bytes, from) else {
            self.next = bytes.len();
            return Some((from..bytes.len(), true));
        };
        // The ASCII run before the first other character, up to the last
        // cut in it.
        if let Some(cut) = (from + 1..other).rev().find(|&at| Self::cut_at(bytes, at)) {
            self.next = cut;
            return Some((from..cut, true));
        }
        // A piece holding other characters: up to the next cut after them.
        let end = (other + 1..bytes.len())
            .find(|&at| Self::cut_at(bytes, at))
            .unwrap_or(bytes.len());
        self.next = end;
        Some((from..end, false))
    }
}

/// Where the first byte of `bytes` from `from` on that is not ASCII is:
/// sixteen bytes at a time (`is_ascii` tests a word at once), real text
/// being mostly ASCII.
fn first_non_ascii(bytes: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    while let Some(chunk) = bytes.get(at..at + 16) {
        if !chunk.is_ascii() {
            break;
        }
        at += 16;
    }
    bytes[at..]
        .iter()
        .position(|b| !b.is_ascii())
        .map(|skip| at + skip)
}

/// Splits text into words with a letter or digit.
pub fn words(text: &str) -> impl Iterator<Item = (usize, &str)> {
    words_of(text)
}

fn words_of(text: &str) -> Words<'_> {
    if text.is_ascii() {
        Words::Ascii(AsciiWords { text, pos: 0 })
    } else {
        Words::Mixed(MixedWords::new(text))
    }
}

impl Tokenizer for WordTokenizer {
    type TokenStream<'a> = WordTokenStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> WordTokenStream<'a> {
        self.token.reset();
        WordTokenStream {
            words: words_of(text),
            token: &mut self.token,
        }
    }
}

impl TokenStream for WordTokenStream<'_> {
    fn advance(&mut self) -> bool {
        let Some((offset, word)) = self.words.next() else {
            return false;
        };
        self.token.text.clear();
        self.token.text.push_str(word);
        self.token.offset_from = offset;
        self.token.offset_to = offset + word.len();
        self.token.position = self.token.position.wrapping_add(1);
        true
    }

    fn token(&self) -> &Token {
        self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        self.token
    }
}

/// The word scanner for ASCII text. In ASCII, UAX #29 keeps together runs
/// of letters, digits and `_` (WB5, WB8–WB10, WB13a/b); a letter run across
/// one `:`, `.` or `'` followed by a letter (WB6/WB7: `e.g`, `fastapi's`);
/// and a digit run across one `,`, `;`, `.` or `'` followed by a digit
/// (WB11/WB12: `1,000`, `1.6.7`). Everything else is a boundary.
pub struct AsciiWords<'a> {
    text: &'a str,
    pos: usize,
}

#[inline]
fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Bit `i` set where byte `i` of `chunk`, all ASCII, is a word byte (a
/// letter, a digit or `_`): eight bytes classified at once in a `u64`,
/// without a branch per byte.
#[inline]
fn word_byte_mask(chunk: [u8; 8]) -> u32 {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    const fn each(b: u8) -> u64 {
        u64::from_le_bytes([b; 8])
    }
    let x = u64::from_le_bytes(chunk);
    // For bytes under 0x80, adding 0x80 - lo sets a byte's high bit when it
    // is at least lo, and adding 0x7f - hi when it is over hi; no carry
    // crosses into the next byte.
    let within = |x: u64, lo: u8, hi: u8| (x + each(0x80 - lo)) & !(x + each(0x7f - hi));
    let digit = within(x, b'0', b'9');
    let letter = within(x | each(0x20), b'a', b'z');
    let underscore = within(x, b'_', b'_');
    let high = (digit | letter | underscore) & HIGH;
    // Byte i's high bit to bit i: each lands on its own bit of the top byte.
    ((high >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56) as u32
}

/// The first byte of ASCII `bytes` from `from` on that is a word byte
/// (`word`) or is not one (`!word`), if any.
#[inline]
fn next_word_byte(bytes: &[u8], mut from: usize, word: bool) -> Option<usize> {
    let flip = if word { 0 } else { 0xFF };
    while let Some(chunk) = bytes.get(from..from + 8) {
        let found = word_byte_mask(chunk.try_into().expect("8 bytes")) ^ flip;
        if found != 0 {
            return Some(from + found.trailing_zeros() as usize);
        }
        from += 8;
    }
    let rest = bytes.get(from..)?;
    rest.iter()
        .position(|&b| is_word_byte(b) == word)
        .map(|at| from + at)
}

impl<'a> Iterator for AsciiWords<'a> {
    type Item = (usize, &'a str);

    fn next(&mut self) -> Option<(usize, &'a str)> {
        let bytes = self.text.as_bytes();
        loop {
            let Some(start) = next_word_byte(bytes, self.pos, true) else {
                self.pos = bytes.len();
                return None;
            };
            let mut end = next_word_byte(bytes, start + 1, false).unwrap_or(bytes.len());
            let mut joined = false;
            while end + 1 < bytes.len() && matches!(bytes[end], b':' | b'.' | b'\'' | b',' | b';') {
                let (prev, mid, next) = (bytes[end - 1], bytes[end], bytes[end + 1]);
                let letters = prev.is_ascii_alphabetic()
                    && next.is_ascii_alphabetic()
                    && matches!(mid, b':' | b'.' | b'\'');
                let digits = prev.is_ascii_digit()
                    && next.is_ascii_digit()
                    && matches!(mid, b',' | b';' | b'.' | b'\'');
                if !(letters || digits) {
                    break;
                }
                joined = true;
                end = next_word_byte(bytes, end + 2, false).unwrap_or(bytes.len());
            }
            self.pos = end;
            // A run of `_` alone is not a word; a join is between letters
            // or digits.
            if joined || bytes[start..end].iter().any(|&b| b != b'_') {
                return Some((start, &self.text[start..end]));
            }
        }
    }
}

/// Whether `AsciiWords` starts a word at byte `at` of ASCII `bytes`: a
/// letter or digit not continuing a run (a word byte, or a joining `.` `:`
/// `'` between letters or `,` `;` `.` `'` between digits, just before it).
pub fn is_ascii_word_start(bytes: &[u8], at: usize) -> bool {
    let b = bytes[at];
    if !b.is_ascii_alphanumeric() {
        return false;
    }
    if at == 0 {
        return true;
    }
    let mid = bytes[at - 1];
    if is_word_byte(mid) {
        return false;
    }
    if at < 2 {
        return true;
    }
    let prev = bytes[at - 2];
    let letters =
        prev.is_ascii_alphabetic() && b.is_ascii_alphabetic() && matches!(mid, b':' | b'.' | b'\'');
    let digits =
        prev.is_ascii_digit() && b.is_ascii_digit() && matches!(mid, b',' | b';' | b'.' | b'\'');
    !(letters || digits)
}

/// The word `AsciiWords` yields from a word start `at` of ASCII `text`
/// (see [`is_ascii_word_start`]).
pub fn ascii_word_at(text: &str, at: usize) -> &str {
    let mut words = AsciiWords { text, pos: at };
    words.next().map_or("", |(_, word)| word)
}

/// The bytes of ASCII `bytes` from `from` on where a word byte (a letter,
/// a digit or `_`) follows a byte that is not one, or starts `bytes` — a
/// superset of the [`is_ascii_word_start`]s, found eight bytes at a time
/// — that `keep` keeps: given eight bytes of `bytes` as a little-endian
/// `u64` (zeros past its end), `keep` says by bit `i` whether a start at
/// byte `i` may be returned (`|_| 0xFF`: all). What a scan for the words
/// that may match a query skims a text by (see [`ascii_bytes_among`]).
pub fn word_byte_starts_where<F: Fn(u64) -> u32>(
    bytes: &[u8],
    from: usize,
    keep: F,
) -> WordByteStarts<'_, F> {
    WordByteStarts {
        bytes,
        next: from,
        starts: 0,
        base: from,
        after_word: from > 0 && bytes.get(from - 1).is_some_and(|&b| is_word_byte(b)),
        keep,
    }
}

/// The iterator of [`word_byte_starts_where`].
pub struct WordByteStarts<'a, F> {
    bytes: &'a [u8],
    /// Where the next chunk of eight bytes starts.
    next: usize,
    /// Bit `i`: a start at `base + i`, not yet returned.
    starts: u32,
    base: usize,
    /// Whether the byte before `next` is a word byte.
    after_word: bool,
    keep: F,
}

impl<F: Fn(u64) -> u32> Iterator for WordByteStarts<'_, F> {
    type Item = usize;

    #[inline]
    fn next(&mut self) -> Option<usize> {
        while self.starts == 0 {
            let at = self.next;
            let (chunk, len) = match self.bytes.get(at..at + 8) {
                Some(chunk) => (chunk.try_into().expect("8 bytes"), 8),
                None => {
                    let rest = self.bytes.get(at..).filter(|r| !r.is_empty())?;
                    let mut chunk = [0; 8];
                    chunk[..rest.len()].copy_from_slice(rest);
                    (chunk, rest.len())
                }
            };
            let words = word_byte_mask(chunk);
            let starts = words & !(words << 1 | u32::from(self.after_word));
            self.after_word = words & 1 << (len - 1) != 0;
            self.starts = if starts == 0 {
                0
            } else {
                starts & (self.keep)(u64::from_le_bytes(chunk))
            };
            self.base = at;
            self.next = at + len;
        }
        let i = self.starts.trailing_zeros() as usize;
        self.starts &= self.starts - 1;
        Some(self.base + i)
    }
}

/// Bit `i` set where byte `i` of `chunk` (eight bytes, little-endian) is
/// one of `lowercase`'s ASCII letters and digits in either case; each of
/// `lowercase` is a byte repeated eight times (`u64::from_le_bytes([b;
/// 8])`). Bytes that are neither letters nor digits may be set too (a
/// control byte is a digit once `0x20` is added), which a filter of word
/// starts (letters or digits: see [`word_byte_starts_where`]) never sees.
#[inline]
pub fn ascii_bytes_among(chunk: u64, lowercase: &[u64]) -> u32 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let x = chunk | 0x2020_2020_2020_2020;
    let mut equal = 0;
    for &b in lowercase {
        // A byte of `t` is zero where `x`'s equals `b`'s: its high bit
        // stays clear through the add, which carries into no other byte.
        let t = x ^ b;
        equal |= !(((t & LOW7) + LOW7) | t) & HIGH;
    }
    ((equal >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56) as u32
}

/// The full-text analyzer in one token stream: words (as [`WordTokenizer`]
/// splits them), those of [`MAX_WORD_BYTES`] or more dropped, lowercased,
/// ASCII-folded and English-stemmed — the tokens of tantivy's
/// `RemoveLongFilter`, `LowerCaser` and `AsciiFoldingFilter` after our word
/// tokenizer, stemmed (a test checks it against that chain).
///
/// Every word of every post goes through it, so it does each word's work in
/// one place: a chain of filters copied and scanned each word once per
/// filter. Stems are cached per thread (shared by every analyzer the
/// thread runs: the indexing threads across segments, a search thread
/// across queries), since a corpus repeats a few thousand words and
/// stemming would be half the cost of indexing otherwise; and the stream
/// reads seven words ahead of the one it returns, asking for each one's
/// line of the cache as it reads it (the `stem_cache` module), so by the
/// time a word is looked up its entry is on its way from memory.
#[derive(Clone)]
pub struct TextTokenizer {
    token: Token,
    /// The words read ahead, kept between texts.
    ahead: [Ahead; READ_AHEAD + 1],
    /// Lowercases and folds a word that is not all ASCII, as tantivy does;
    /// made for the first such word (queries build an analyzer per clause,
    /// and most texts are ASCII).
    fold: Option<TextAnalyzer>,
}

impl Default for TextTokenizer {
    fn default() -> Self {
        TextTokenizer {
            token: Token::default(),
            ahead: std::array::from_fn(|_| Ahead::default()),
            fold: None,
        }
    }
}

/// A word read ahead: lowercased and folded, not yet stemmed.
#[derive(Clone)]
struct Ahead {
    text: String,
    hash: WordHash,
    /// Where the word is in the text (its folded form may be longer).
    offset: usize,
    end: usize,
    position: usize,
}

impl Default for Ahead {
    fn default() -> Self {
        Ahead {
            text: String::new(),
            hash: WordHash::of(""),
            offset: 0,
            end: 0,
            position: 0,
        }
    }
}

/// Words a [`TextTokenStream`] reads ahead of the one it returns.
const READ_AHEAD: usize = 7;

/// Most words a thread's stem cache remembers before it starts over.
const STEM_CACHE_WORDS: usize = 100_000;

/// The token stream of [`TextTokenizer`].
pub struct TextTokenStream<'a> {
    words: Words<'a>,
    /// The position of the last word read (long ones too).
    position: usize,
    words_done: bool,
    token: &'a mut Token,
    /// The words read, in a ring: `returned` is the one [`TokenStream::token`]
    /// gives (before the first word, the slot before the ring's first),
    /// `waiting` the number read after it.
    ahead: &'a mut [Ahead; READ_AHEAD + 1],
    returned: usize,
    waiting: usize,
    fold: &'a mut Option<TextAnalyzer>,
}

impl Tokenizer for TextTokenizer {
    type TokenStream<'a> = TextTokenStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> TextTokenStream<'a> {
        self.token.reset();
        TextTokenStream {
            words: words_of(text),
            position: usize::MAX,
            words_done: false,
            token: &mut self.token,
            ahead: &mut self.ahead,
            returned: READ_AHEAD,
            waiting: 0,
            fold: &mut self.fold,
        }
    }
}

/// What one thread's analyzers share: the stem cache and the vocabulary of
/// the document and of the segment the thread is indexing.
#[derive(Default)]
struct ThreadAnalysis {
    /// Words up to 24 bytes (nearly all) are held in the table itself: a
    /// lookup reads no other memory.
    stems: StemCache,
    vocabulary: DocumentVocabulary,
}

/// The words (lowercased and folded, before stemming) that the full-text
/// analyzer meets while [`begin_document_vocabulary`] records, counted once
/// per document for the segment [`begin_segment_vocabulary`] began.
#[derive(Default)]
struct DocumentVocabulary {
    recording: bool,
    /// Tells this document's recordings in `CachedStem::recorded_in` from
    /// earlier ones.
    generation: u32,
    /// Tells this segment's entries (`CachedStem::counted_in`) from
    /// earlier segments' (0: no segment is counted).
    segment: u32,
    /// The segment's words the stem cache held when it last started over,
    /// and how many of its documents held each until then; a word met
    /// again after that is counted anew in the cache, and the counts are
    /// added up when the segment's vocabulary is taken.
    words: Vec<(CompactString, u32)>,
    /// Memory held by `words`, roughly.
    bytes: usize,
}

/// Memory an entry of `DocumentVocabulary::words` takes beside a long
/// word's bytes.
const WORD_ENTRY_BYTES: usize = 32;

impl DocumentVocabulary {
    #[inline]
    fn record(&mut self, word: &str, stem: &mut CachedStem) {
        if !self.recording || stem.recorded_in == self.generation {
            return;
        }
        stem.recorded_in = self.generation;
        if stem.counted_in == self.segment {
            stem.docs += 1;
        } else {
            stem.counted_in = self.segment;
            stem.docs = 1;
            self.bytes += WORD_ENTRY_BYTES + word.len();
        }
    }
}

/// Empties the stem cache, keeping the counts of the segment being counted.
fn start_over(stems: &mut StemCache, vocabulary: &mut DocumentVocabulary) {
    let segment = vocabulary.segment;
    stems.drain(|word, cached| {
        if segment != 0 && cached.counted_in == segment {
            vocabulary.words.push((word, cached.docs));
        }
    });
}

thread_local! {
    static STEMMER: frostem::Stemmer = frostem::Stemmer::new(frostem::Algorithm::English);
    static ANALYSIS: std::cell::RefCell<ThreadAnalysis> =
        std::cell::RefCell::new(ThreadAnalysis::default());
}

impl TextTokenStream<'_> {
    /// Reads words until [`READ_AHEAD`] wait after the returned one, each
    /// one's stem cache line asked for.
    fn read_ahead(&mut self) {
        while self.waiting < READ_AHEAD && !self.words_done {
            let Some((offset, word)) = self.words.next() else {
                self.words_done = true;
                break;
            };
            self.position = self.position.wrapping_add(1);
            if word.len() >= MAX_TOKEN_BYTES {
                continue;
            }
            let at = (self.returned + 1 + self.waiting) % (READ_AHEAD + 1);
            let ahead = &mut self.ahead[at];
            ahead.text.clear();
            if word.is_ascii() {
                ahead.text.push_str(word);
                ahead.text.make_ascii_lowercase();
            } else {
                let fold = self.fold.get_or_insert_with(|| {
                    TextAnalyzer::builder(RawTokenizer::default())
                        .filter(LowerCaser)
                        .filter(AsciiFoldingFilter)
                        .build()
                });
                let mut folded = fold.token_stream(word);
                if folded.advance() {
                    std::mem::swap(&mut ahead.text, &mut folded.token_mut().text);
                }
            }
            ahead.hash = WordHash::of(&ahead.text);
            ahead.offset = offset;
            ahead.end = offset + word.len();
            ahead.position = self.position;
            let hash = ahead.hash;
            ANALYSIS.with(|analysis| analysis.borrow().stems.prefetch(hash));
            self.waiting += 1;
        }
    }
}

impl TokenStream for TextTokenStream<'_> {
    fn advance(&mut self) -> bool {
        self.read_ahead();
        if self.waiting == 0 {
            return false;
        }
        self.returned = (self.returned + 1) % (READ_AHEAD + 1);
        self.waiting -= 1;
        let ahead = &mut self.ahead[self.returned];
        let token = &mut *self.token;
        token.offset_from = ahead.offset;
        token.offset_to = ahead.end;
        token.position = ahead.position;
        ANALYSIS.with(|analysis| {
            let ThreadAnalysis { stems, vocabulary } = &mut *analysis.borrow_mut();
            let word = ahead.text.as_str();
            let cached = match stems.get_mut(ahead.hash, word) {
                Some(cached) => cached,
                None => {
                    // While a document is recorded, its recordings live in
                    // the cache: it starts over between documents.
                    if stems.len() >= STEM_CACHE_WORDS && !vocabulary.recording {
                        start_over(stems, vocabulary);
                    }
                    let stem = STEMMER.with(|s| {
                        let stem = s.stem(word);
                        (*stem != *word).then(|| CompactString::from(&*stem))
                    });
                    stems.insert(ahead.hash, word, CachedStem::new(stem))
                }
            };
            vocabulary.record(word, cached);
            match &cached.stem {
                Some(stem) => {
                    token.text.clear();
                    token.text.push_str(stem);
                }
                None => std::mem::swap(&mut token.text, &mut ahead.text),
            }
        });
        true
    }

    fn token(&self) -> &Token {
        self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        self.token
    }
}

/// Starts counting, on this thread, the vocabulary of a segment: the words
/// that documents recorded from now on hold (see [`crate::vocabulary`]).
/// Returns the ticket that [`take_segment_vocabulary`] asks for.
///
/// Indexing a post would analyze every text twice otherwise: stemmed for its
/// fields, unstemmed for the vocabulary (typos, completions); and each word
/// would be looked up twice, in the stem cache and in a table of counts.
/// tantivy writes a segment on one thread, and analyzes a document's texts
/// on it before handing the document to the vocabulary plugin, so the stem
/// cache's entry of a word keeps its place in the segment's counts, and a
/// document's words are counted as they are stemmed.
pub fn begin_segment_vocabulary() -> u32 {
    ANALYSIS.with(|analysis| {
        let ThreadAnalysis { stems, vocabulary } = &mut *analysis.borrow_mut();
        vocabulary.segment = vocabulary.segment.wrapping_add(1);
        if vocabulary.segment == 0 {
            // Wrapped: a cached word may carry any segment.
            stems.clear();
            vocabulary.segment = 1;
        }
        // An indexing thread fills the cache to its bound: sized for it at
        // once, it is never rehashed on the way (each growth copied every
        // entry into fresh memory, ~2% of an import of real writing).
        // Query threads never count a segment, and keep a small cache.
        stems.reserve(STEM_CACHE_WORDS.saturating_sub(stems.len()));
        vocabulary.words = Vec::new();
        vocabulary.bytes = 0;
        vocabulary.segment
    })
}

/// Starts recording, on this thread, the words of one document: each word
/// the full-text analyzer meets until [`end_document_vocabulary`] is
/// counted once for the segment being counted.
pub fn begin_document_vocabulary() {
    ANALYSIS.with(|analysis| {
        let ThreadAnalysis { stems, vocabulary } = &mut *analysis.borrow_mut();
        vocabulary.recording = vocabulary.segment != 0;
        vocabulary.generation = vocabulary.generation.wrapping_add(1);
        if vocabulary.generation == 0 || stems.len() >= STEM_CACHE_WORDS {
            // Wrapped (a cached word may carry any generation), or full.
            start_over(stems, vocabulary);
            vocabulary.generation = 1;
        }
    });
}

/// Stops recording the document's words.
pub fn end_document_vocabulary() {
    ANALYSIS.with(|analysis| analysis.borrow_mut().vocabulary.recording = false);
}

/// Memory held by the counts of segment `ticket` on this thread.
pub fn segment_vocabulary_bytes(ticket: u32) -> usize {
    ANALYSIS.with(|analysis| {
        let v = &analysis.borrow().vocabulary;
        if v.segment == ticket {
            v.bytes
        } else {
            0
        }
    })
}

/// The words of segment `ticket` with how many of its documents hold each,
/// in byte order; `None` if this thread counts another segment now.
pub fn take_segment_vocabulary(ticket: u32) -> Option<Vec<(CompactString, u32)>> {
    ANALYSIS.with(|analysis| {
        let ThreadAnalysis {
            stems,
            vocabulary: v,
        } = &mut *analysis.borrow_mut();
        if v.segment != ticket {
            return None;
        }
        v.segment = v.segment.wrapping_add(1).max(1);
        v.recording = false;
        v.bytes = 0;
        let mut words = std::mem::take(&mut v.words);
        words.extend(
            stems
                .iter()
                .filter(|(_, cached)| cached.counted_in == ticket)
                .map(|(word, cached)| (word.clone(), cached.docs)),
        );
        words.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        words.dedup_by(|later, kept| {
            let same = later.0 == kept.0;
            if same {
                kept.1 += later.1;
            }
            same
        });
        Some(words)
    })
}

/// The full-text analyzer: words, lowercased, ASCII-folded, English-stemmed.
pub fn text_analyzer() -> TextAnalyzer {
    TextAnalyzer::from(TextTokenizer::default())
}

/// Text that shows how the analyzers split, fold and stem: see
/// [`fingerprint`].
const FINGERPRINT_PROBE: &str = "Deploying Kubernetes' pods: n+1 queries, e-mail, C++ & \
    Node.js — CAFÉ naïve Über running runs ran 3.14 v1.2.3 foo_bar camelCase \
    日本語のテキスト données ÆSIR straße don't 10,000 #hashtag @user https://x.io/a?b=c";

/// A fingerprint of how text is analyzed: the terms the analyzers make of
/// a probe text (tokenizer, folding, stemming) and the limits on words,
/// hashed. An index records the fingerprint it was built with; a change of
/// analysis changes it, so queries are never analyzed unlike the index.
pub fn fingerprint() -> String {
    let mut all = String::new();
    for mut analyzer in [text_analyzer(), words_analyzer()] {
        for (t, from, to) in tokens(&mut analyzer, FINGERPRINT_PROBE) {
            all.push_str(&format!("{t}@{from}-{to};"));
        }
        all.push('|');
    }
    all.push_str(&format!("{MAX_WORD_BYTES}/{MAX_TOKEN_BYTES}"));
    format!("v1-{:016x}", xxhash_rust::xxh3::xxh3_64(all.as_bytes()))
}

/// The completion analyzer: as [`text_analyzer`] without stemming.
pub fn words_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(WordTokenizer::default())
        .filter(RemoveLongFilter::limit(MAX_TOKEN_BYTES))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .build()
}

/// Registers both analyzers on an index; needed on every opened index.
pub fn register(index: &Index) {
    index.tokenizers().register(TEXT_ANALYZER, text_analyzer());
    index
        .tokenizers()
        .register(WORDS_ANALYZER, words_analyzer());
}

/// The tokens of `text` under `analyzer`, with their byte offsets.
pub fn tokens(analyzer: &mut TextAnalyzer, text: &str) -> Vec<(String, usize, usize)> {
    let mut stream = analyzer.token_stream(text);
    let mut out = Vec::new();
    while let Some(t) = stream.next() {
        out.push((t.text.clone(), t.offset_from, t.offset_to));
    }
    out
}

/// The terms of `text` under the full-text analyzer.
pub fn terms(text: &str) -> Vec<String> {
    tokens(&mut text_analyzer(), text)
        .into_iter()
        .map(|(t, _, _)| t)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        tokens(&mut words_analyzer(), text)
            .into_iter()
            .map(|(t, _, _)| t)
            .collect()
    }

    #[test]
    fn long_words_are_indexed_up_to_the_limit_and_measured() {
        let hash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        assert_eq!(terms(&format!("sha {hash}")), ["sha", hash]);
        let blob = "a".repeat(MAX_WORD_BYTES + 1);
        assert_eq!(terms(&format!("x {blob}")), ["x"]);
        assert_eq!(longest_word(&format!("x {blob} y")), Some(blob.as_str()));
        assert_eq!(longest_word("  "), None);
        assert_eq!(word_count("the the, the!"), 3);
    }

    #[test]
    fn possessive_is_stemmed_away() {
        assert_eq!(terms("FastAPI's"), ["fastapi"]);
        assert_eq!(terms("FastAPI"), terms("fastapi's"));
    }

    #[test]
    fn plus_and_hyphen_split_words() {
        assert_eq!(terms("n+1"), ["n", "1"]);
        assert_eq!(terms("e-mail"), ["e", "mail"]);
    }

    #[test]
    fn accents_fold_to_ascii() {
        assert_eq!(words("Déjà vu"), ["deja", "vu"]);
        assert_eq!(terms("CAFÉ"), terms("cafe"));
    }

    #[test]
    fn version_numbers_stay_whole() {
        assert_eq!(terms("1.6.7"), ["1.6.7"]);
        assert_eq!(terms("k8s"), ["k8s"]);
    }

    #[test]
    fn english_words_are_stemmed() {
        assert_eq!(terms("deployments deploying"), ["deploy", "deploy"]);
        assert_eq!(words("deployments"), ["deployments"]);
    }

    #[test]
    fn cjk_text_gives_tokens() {
        // UAX #29 makes each Han ideograph a word; kana runs stay together.
        assert_eq!(words("検索エンジン"), ["検", "索", "エンジン"]);
        assert_eq!(words("全文搜索"), ["全", "文", "搜", "索"]);
    }

    #[test]
    fn emoji_and_punctuation_are_not_tokens() {
        assert_eq!(words("🚀 ship it!! 🔥"), ["ship", "it"]);
        assert!(words("&&& --- ...").is_empty());
    }

    #[test]
    fn offsets_point_into_the_original_text() {
        let text = "Déjà vu, FastAPI's";
        for (_, from, to) in tokens(&mut text_analyzer(), text) {
            assert!(text.is_char_boundary(from) && text.is_char_boundary(to));
        }
        let toks = tokens(&mut text_analyzer(), text);
        assert_eq!(&text[toks[2].1..toks[2].2], "FastAPI's");
    }

    #[test]
    fn overlong_tokens_are_dropped() {
        let blob = "a".repeat(MAX_WORD_BYTES + 1);
        assert_eq!(words(&format!("x {blob} y")), ["x", "y"]);
    }

    /// Runs `check` on `cases` random strings of up to `max_len`
    /// characters drawn from `alphabet`.
    fn for_random_texts(
        alphabet: &str,
        max_len: usize,
        cases: u32,
        check: impl Fn(&str) -> Result<(), proptest::test_runner::TestCaseError>,
    ) {
        use proptest::prelude::*;
        let strategy = proptest::collection::vec(
            proptest::sample::select(alphabet.chars().collect::<Vec<_>>()),
            0..max_len,
        )
        .prop_map(|v| v.into_iter().collect::<String>());
        let mut runner = proptest::test_runner::TestRunner::new(proptest::test_runner::Config {
            cases,
            ..Default::default()
        });
        runner.run(&strategy, |text| check(&text)).unwrap();
    }

    /// The words UAX #29 gives on the whole of `text`.
    fn segmenter_words(text: &str) -> Vec<(usize, &str)> {
        text.split_word_bound_indices()
            .filter(|(_, w)| w.chars().any(char::is_alphanumeric))
            .collect()
    }

    const ASCII_ALPHABET: &str = "ab9Z_ .,;:'\"-+/\n\tx1()";

    /// The ASCII scanner gives exactly the words UAX #29 gives.
    #[test]
    fn word_starts_and_words_at_them_agree_with_the_scanner() {
        for_random_texts(ASCII_ALPHABET, 24, 4000, |text| {
            let scanned: Vec<_> = AsciiWords { text, pos: 0 }
                .filter(|(_, w)| w.as_bytes()[0].is_ascii_alphanumeric())
                .collect();
            let bytes = text.as_bytes();
            let started: Vec<_> = (0..bytes.len())
                .filter(|&at| is_ascii_word_start(bytes, at))
                .map(|at| (at, ascii_word_at(text, at)))
                .collect();
            proptest::prop_assert_eq!(scanned, started, "text {:?}", text);
            Ok(())
        });
    }

    /// Every ASCII byte, at every place of a chunk, is classified as
    /// `is_word_byte` classifies it.
    #[test]
    fn the_word_byte_mask_classifies_every_ascii_byte() {
        for b in 0u8..128 {
            for at in 0..8 {
                let mut chunk = [b'a'; 8];
                chunk[at] = b;
                let mask = word_byte_mask(chunk);
                assert_eq!(
                    mask & (1 << at) != 0,
                    is_word_byte(b),
                    "byte {b:#x} at {at}"
                );
                assert_eq!(mask | (1 << at), 0xFF, "byte {b:#x} at {at}");
            }
        }
    }

    #[test]
    fn word_byte_starts_are_where_a_word_byte_follows_another_byte() {
        for_random_texts(ASCII_ALPHABET, 40, 4000, |text| {
            let bytes = text.as_bytes();
            for from in [0, 1, 7, 9].into_iter().filter(|&f| f <= bytes.len()) {
                let expected: Vec<usize> = (from..bytes.len())
                    .filter(|&at| {
                        is_word_byte(bytes[at]) && (at == 0 || !is_word_byte(bytes[at - 1]))
                    })
                    .collect();
                let got: Vec<usize> = word_byte_starts_where(bytes, from, |_| 0xFF).collect();
                proptest::prop_assert_eq!(&got, &expected, "text {:?} from {}", text, from);
                for at in (from..bytes.len()).filter(|&at| is_ascii_word_start(bytes, at)) {
                    proptest::prop_assert!(got.contains(&at), "{:?} at {}", text, at);
                }
            }
            Ok(())
        });
    }

    #[test]
    fn ascii_bytes_among_finds_letters_in_either_case_and_digits() {
        let set: Vec<u64> = b"d7x".iter().map(|&b| u64::from_le_bytes([b; 8])).collect();
        for b in 0u8..128 {
            for at in 0..8 {
                let mut chunk = [b'q'; 8];
                chunk[at] = b;
                let mask = ascii_bytes_among(u64::from_le_bytes(chunk), &set);
                assert_eq!(mask & !(1 << at), 0, "byte {b:#x} at {at}");
                if b.is_ascii_alphanumeric() {
                    let among = matches!(b.to_ascii_lowercase(), b'd' | b'7' | b'x');
                    assert_eq!(mask == 1 << at, among, "byte {b:#x} at {at}");
                }
            }
        }
        assert_eq!(ascii_bytes_among(u64::from_le_bytes(*b"qqqqqqqq"), &[]), 0);
    }

    #[test]
    fn ascii_scanner_agrees_with_unicode_segmentation() {
        for_random_texts(ASCII_ALPHABET, 24, 4000, |text| {
            let fast: Vec<_> = AsciiWords { text, pos: 0 }.collect();
            proptest::prop_assert_eq!(fast, segmenter_words(text), "text {:?}", text);
            Ok(())
        });
        for text in [
            "e.g. a:b 1,000 1.6.7 fastapi's n+1 a..b 1.a a.1 x_1 _ __a",
            "end. start",
            "'quoted'",
        ] {
            let fast: Vec<_> = AsciiWords { text, pos: 0 }.collect();
            assert_eq!(fast, segmenter_words(text), "{text:?}");
        }
    }

    /// Mixed text split in pieces gives the words UAX #29 gives on the
    /// whole text.
    #[test]
    fn mixed_text_pieces_agree_with_unicode_segmentation() {
        let alphabet = "ab9Z_ .,;:'\"-+/\n\tx1()é—’中\u{301}\u{200d}🚀ñ\u{a0}\r";
        for_random_texts(alphabet, 40, 20_000, |text| {
            let mixed: Vec<_> = MixedWords::new(text).collect();
            proptest::prop_assert_eq!(mixed, segmenter_words(text), "text {:?}", text);
            Ok(())
        });
        for text in [
            "plain ascii — then more\nline two’s end",
            "café au lait",
            " \u{301}a b",
            "—",
            "x \u{a0}y z",
        ] {
            let mixed: Vec<_> = MixedWords::new(text).collect();
            assert_eq!(mixed, segmenter_words(text), "{text:?}");
        }
    }

    #[test]
    fn cached_stems_equal_fresh_stems() {
        let mut a = text_analyzer();
        let text = "running runs ran deployments deployment caching cached";
        let first = tokens(&mut a, text);
        let second = tokens(&mut a, text);
        assert_eq!(first, second);
        assert_eq!(terms("running deployments"), ["run", "deploy"]);
    }

    /// What the text analyzer does in one stream, as a chain: tantivy's
    /// filters after our word tokenizer, each word stemmed afresh.
    fn chained_tokens(text: &str) -> Vec<(String, usize, usize, usize)> {
        let mut chain = TextAnalyzer::builder(WordTokenizer::default())
            .filter(RemoveLongFilter::limit(MAX_TOKEN_BYTES))
            .filter(LowerCaser)
            .filter(AsciiFoldingFilter)
            .build();
        let stemmer = frostem::Stemmer::new(frostem::Algorithm::English);
        let mut stream = chain.token_stream(text);
        let mut out = Vec::new();
        while let Some(t) = stream.next() {
            let stem = stemmer.stem(&t.text).to_string();
            out.push((stem, t.offset_from, t.offset_to, t.position));
        }
        out
    }

    fn analyzed_tokens(
        analyzer: &mut TextAnalyzer,
        text: &str,
    ) -> Vec<(String, usize, usize, usize)> {
        let mut stream = analyzer.token_stream(text);
        let mut out = Vec::new();
        while let Some(t) = stream.next() {
            out.push((t.text.clone(), t.offset_from, t.offset_to, t.position));
        }
        out
    }

    /// The one-stream analyzer gives the chain's tokens, offsets and
    /// positions, on texts short and long (longer than it reads ahead), with
    /// dropped long words, capitals, accents and other scripts, the second
    /// time (stems from the cache) as the first.
    #[test]
    fn the_text_analyzer_is_the_chain_of_filters() {
        let alphabet = "ab9Z_ .,;:'\"-+/\n\tx1()éÉ—’中ßİﬁ\u{301}🚀ñ\u{a0}ÆstrasseRunningES";
        for_random_texts(alphabet, 60, 5_000, |text| {
            let chained = chained_tokens(text);
            let mut analyzer = text_analyzer();
            for _ in 0..2 {
                let ours = analyzed_tokens(&mut analyzer, text);
                proptest::prop_assert_eq!(&ours, &chained, "text {:?}", text);
            }
            Ok(())
        });
        let mut analyzer = text_analyzer();
        let long = "x".repeat(MAX_TOKEN_BYTES);
        let short = "y".repeat(MAX_TOKEN_BYTES - 1);
        let texts = [
            format!("a {long} b {short} c É{short} d"),
            FINGERPRINT_PROBE.to_string(),
            FINGERPRINT_PROBE.repeat(3),
            crate::generated_post(7, 3)
                .body
                .expect("a generated post has a body"),
        ];
        for text in &texts {
            assert_eq!(analyzed_tokens(&mut analyzer, text), chained_tokens(text));
        }
    }

    #[test]
    fn positions_are_consecutive() {
        let mut a = text_analyzer();
        let mut s = a.token_stream("one, two; three");
        let mut pos = Vec::new();
        while let Some(t) = s.next() {
            pos.push(t.position);
        }
        assert_eq!(pos, [0, 1, 2]);
    }
}
