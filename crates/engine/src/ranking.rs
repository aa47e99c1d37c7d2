//! Ranking: `final = text × (1 + w_meta × meta)`, where `meta ∈ [0, 1]` is a
//! weighted mean of the post's score parts and its popularity.

pub use postsearch_store::meta::{popularity, MetaInputs, POPULARITY_SATURATION, POPULARITY_SCALE};
use serde::{Deserialize, Serialize};
use tantivy::columnar::Column;
use tantivy::DocId;

/// Ranking weights (`[ranking]` in `postsearch.toml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RankingConfig {
    /// How much the meta score lifts text relevance; 0 = plain BM25.
    pub meta_weight: f64,
    /// Weight of `score.quality` in the meta score.
    pub quality: f64,
    /// Weight of `score.freshness`.
    pub freshness: f64,
    /// Weight of `score.depth`.
    pub depth: f64,
    /// Weight of `score.clarity`.
    pub clarity: f64,
    /// Weight of popularity, `ln(1 + views) / ln(1 + 10⁶)`, capped at 1.
    pub popularity: f64,
    /// Score multiplier of a typo match against an exact one (< 1).
    pub typo_penalty: f64,
    /// Score multiplier of a prefix completion (< 1).
    pub prefix_penalty: f64,
    /// Score multiplier of a synonym match against the word typed (< 1).
    pub synonym_penalty: f64,
    /// The title's weight: in BM25F's combined term frequency, or (without
    /// `bm25f`) its BM25's boost over the body's.
    pub title_boost: f64,
    /// Score a word once over all the text fields (BM25F: frequencies
    /// weighted by field, then saturated once; see [`crate::combined`])
    /// rather than a BM25 per field, added.
    pub bm25f: bool,
    /// With `bm25f`, the weight of the title's own BM25, added for each
    /// word: a post whose title holds the words typed comes first.
    pub title_match: f64,
    /// A query of more than 3 words (match `auto`) needs at least this share
    /// of them, rounded up (0: any word; relaxed to any word when nothing
    /// matches).
    pub min_should_match: f64,
    /// In a query of more than 3 words (match `auto`), a word whose
    /// postings (title, body and meta, typo variants included) reach this
    /// share of the posts is common: it adds to the score of the posts a
    /// rarer word of the query matched, and matches no post alone (as
    /// Lucene's common-terms query; 0: off). Relaxed to any word when the
    /// rarer words match nothing.
    pub common_word_share: f64,
    /// In a query of more than 3 words (match `auto`), a word whose
    /// postings (counted as for `common_word_share`) reach this share of
    /// the posts (and 1,000) is left out: in nearly every post, it scores
    /// next to nothing and costs a step through its postings for every
    /// match (0: off). A query whose words are all that common keeps them.
    pub stop_word_share: f64,
    /// A query of 4+ words whose words a post's title holds (three in
    /// four or more) adds the title's BM25 of those words again, times
    /// this (0: off): known-item search, a title typed from memory.
    pub title_coverage: f64,
}

impl Default for RankingConfig {
    fn default() -> Self {
        RankingConfig {
            meta_weight: 0.5,
            quality: 0.35,
            freshness: 0.15,
            depth: 0.15,
            clarity: 0.15,
            popularity: 0.2,
            typo_penalty: 0.4,
            prefix_penalty: 0.8,
            synonym_penalty: 0.7,
            title_boost: 1.0,
            bm25f: true,
            title_match: 0.2,
            min_should_match: 0.0,
            common_word_share: 0.2,
            stop_word_share: 0.8,
            title_coverage: 0.4,
        }
    }
}

impl RankingConfig {
    /// Whether `other` weighs the meta score's inputs as this does (so the
    /// same documents get the same meta scores).
    pub fn same_meta_weights(&self, other: &RankingConfig) -> bool {
        let weights = |r: &RankingConfig| {
            [r.quality, r.freshness, r.depth, r.clarity, r.popularity].map(f64::to_bits)
        };
        weights(self) == weights(other)
    }

    /// Checks that weights are finite and non-negative.
    pub fn validate(&self) -> Result<(), String> {
        let all = [
            ("meta_weight", self.meta_weight),
            ("quality", self.quality),
            ("freshness", self.freshness),
            ("depth", self.depth),
            ("clarity", self.clarity),
            ("popularity", self.popularity),
            ("typo_penalty", self.typo_penalty),
            ("prefix_penalty", self.prefix_penalty),
            ("synonym_penalty", self.synonym_penalty),
            ("title_boost", self.title_boost),
            ("title_match", self.title_match),
            ("min_should_match", self.min_should_match),
            ("common_word_share", self.common_word_share),
            ("stop_word_share", self.stop_word_share),
            ("title_coverage", self.title_coverage),
        ];
        if self.min_should_match > 1.0 {
            return Err(format!(
                "ranking.min_should_match is a share of the words, from 0 to 1, got {}",
                self.min_should_match
            ));
        }
        for (name, v) in all {
            if !v.is_finite() || v < 0.0 {
                return Err(format!(
                    "ranking.{name} must be a non-negative number, got {v}"
                ));
            }
        }
        Ok(())
    }
}

/// Per-segment access to the meta-score inputs.
pub struct MetaColumns {
    inputs: Column<u64>,
    weights: [f64; 4],
    popularity_weight: f64,
}

impl MetaColumns {
    /// Reads the packed inputs from `inputs` (the `meta_inputs` column).
    pub fn new(inputs: Column<u64>, cfg: &RankingConfig) -> MetaColumns {
        MetaColumns {
            inputs,
            weights: [cfg.quality, cfg.freshness, cfg.depth, cfg.clarity],
            popularity_weight: cfg.popularity,
        }
    }

    /// The meta-score inputs of `doc`.
    #[inline]
    pub fn inputs(&self, doc: DocId) -> MetaInputs {
        MetaInputs::unpack(self.inputs.first(doc).unwrap_or(0))
    }

    /// The meta score of `doc`.
    #[inline]
    pub fn meta(&self, doc: DocId) -> f32 {
        self.meta_from(&self.inputs(doc))
    }

    /// The meta score in [0, 1] of a post with these inputs; parts the
    /// post lacks do not count (the weights of the others are
    /// renormalized); no inputs at all → 0.
    #[inline]
    pub fn meta_from(&self, inputs: &MetaInputs) -> f32 {
        let mut sum = 0.0;
        let mut weight = 0.0;
        for (value, w) in inputs.parts.iter().zip(&self.weights) {
            if let Some(v) = value {
                sum += w * ((*v).min(100) as f64 / 100.0);
                weight += w;
            }
        }
        if let Some(v) = inputs.popularity {
            sum += self.popularity_weight * (v as f64 / POPULARITY_SCALE);
            weight += self.popularity_weight;
        }
        if weight > 0.0 {
            (sum / weight) as f32
        } else {
            0.0
        }
    }
}

/// The blend of text relevance and meta score.
#[inline]
pub fn blend(text: f32, meta: f32, meta_weight: f32) -> f32 {
    text * (1.0 + meta_weight * meta)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_meta_weight_is_plain_text_score() {
        assert_eq!(blend(3.5, 0.9, 0.0), 3.5);
        assert!(blend(3.5, 0.9, 0.5) > blend(3.5, 0.1, 0.5));
    }

    #[test]
    fn negative_weights_are_rejected() {
        let cfg = RankingConfig {
            quality: -1.0,
            ..RankingConfig::default()
        };
        assert!(cfg.validate().is_err());
        assert!(RankingConfig::default().validate().is_ok());
    }
}
