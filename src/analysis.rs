//! Text analysis: a tokenizer on Unicode word boundaries (UAX #29) followed by
//! lowercasing, ASCII folding and English stemming, registered with tantivy
//! under [`TEXT_ANALYZER`] and used for every full-text field.
//!
//! Queries go through the same analyzer, so `FastAPI's`, `fastapi` and
//! `FASTAPI` all meet the same term.

use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RemoveLongFilter, Stemmer, TextAnalyzer, Token,
    TokenStream, Tokenizer,
};
use tantivy::Index;
use unicode_segmentation::UnicodeSegmentation;

/// The analyzer of the full-text fields: words, lowercased, folded, stemmed.
pub const TEXT_ANALYZER: &str = "post_text";
/// The same without stemming: for completions, which must show real words.
pub const WORDS_ANALYZER: &str = "post_words";

/// Words longer than this many bytes are dropped (base64 blobs, hashes).
const MAX_TOKEN_BYTES: usize = 40;

/// Splits text on UAX #29 word boundaries, keeping only words that contain a
/// letter or digit (so punctuation and emoji are not tokens).
#[derive(Clone, Default)]
pub struct WordTokenizer {
    token: Token,
}

/// The token stream of [`WordTokenizer`].
pub struct WordTokenStream<'a> {
    words: unicode_segmentation::UWordBoundIndices<'a>,
    token: &'a mut Token,
}

impl Tokenizer for WordTokenizer {
    type TokenStream<'a> = WordTokenStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> WordTokenStream<'a> {
        self.token.reset();
        WordTokenStream {
            words: text.split_word_bound_indices(),
            token: &mut self.token,
        }
    }
}

impl TokenStream for WordTokenStream<'_> {
    fn advance(&mut self) -> bool {
        for (offset, word) in self.words.by_ref() {
            if !word.chars().any(char::is_alphanumeric) {
                continue;
            }
            self.token.text.clear();
            self.token.text.push_str(word);
            self.token.offset_from = offset;
            self.token.offset_to = offset + word.len();
            self.token.position = self.token.position.wrapping_add(1);
            return true;
        }
        false
    }

    fn token(&self) -> &Token {
        self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        self.token
    }
}

/// The full-text analyzer: words, lowercased, ASCII-folded, English-stemmed.
pub fn text_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(WordTokenizer::default())
        .filter(RemoveLongFilter::limit(MAX_TOKEN_BYTES))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .filter(Stemmer::new(Language::English))
        .build()
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
        let blob = "a".repeat(60);
        assert_eq!(words(&format!("x {blob} y")), ["x", "y"]);
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
