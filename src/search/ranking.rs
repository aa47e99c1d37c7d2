//! Ranking: `final = text × (1 + w_meta × meta)`, where `meta ∈ [0, 1]` is a
//! weighted mean of the post's score parts and its popularity.

use serde::{Deserialize, Serialize};
use tantivy::columnar::Column;
use tantivy::{DocId, SegmentReader};

/// View count at which popularity reaches 1 (log-scaled below it).
pub const POPULARITY_SATURATION: f64 = 1_000_000.0;

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
    /// BM25 boost of the title over the body.
    pub title_boost: f64,
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
            title_boost: 1.5,
        }
    }
}

impl RankingConfig {
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
            ("title_boost", self.title_boost),
        ];
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
    parts: [(Column<u64>, f64); 4],
    /// Popularity in millionths (see `indexer::POPULARITY_SCALE`).
    popularity: Column<u64>,
    popularity_weight: f64,
}

impl MetaColumns {
    /// Opens the columns of one segment.
    pub fn open(segment: &SegmentReader, cfg: &RankingConfig) -> tantivy::Result<MetaColumns> {
        let ff = segment.fast_fields();
        Ok(MetaColumns {
            parts: [
                (ff.u64("quality")?, cfg.quality),
                (ff.u64("freshness")?, cfg.freshness),
                (ff.u64("depth")?, cfg.depth),
                (ff.u64("clarity")?, cfg.clarity),
            ],
            popularity: ff.u64("popularity")?,
            popularity_weight: cfg.popularity,
        })
    }

    /// The four score parts of `doc` (quality, freshness, depth, clarity).
    #[inline]
    pub fn parts(&self, doc: DocId) -> [Option<u64>; 4] {
        [
            self.parts[0].0.first(doc),
            self.parts[1].0.first(doc),
            self.parts[2].0.first(doc),
            self.parts[3].0.first(doc),
        ]
    }

    /// The meta score in [0, 1] of `doc`, whose score parts are `parts`;
    /// parts the post lacks do not count (the weights of the others are
    /// renormalized); no parts at all → 0.
    #[inline]
    pub fn meta_from(&self, parts: &[Option<u64>; 4], doc: DocId) -> f32 {
        let mut sum = 0.0;
        let mut weight = 0.0;
        for (value, (_, w)) in parts.iter().zip(&self.parts) {
            if let Some(v) = value {
                sum += w * ((*v).min(100) as f64 / 100.0);
                weight += w;
            }
        }
        if let Some(v) = self.popularity.first(doc) {
            sum += self.popularity_weight * (v as f64 / crate::indexer::POPULARITY_SCALE);
            weight += self.popularity_weight;
        }
        if weight > 0.0 {
            (sum / weight) as f32
        } else {
            0.0
        }
    }

    /// The meta score of `doc` in [0, 1].
    pub fn meta(&self, doc: DocId) -> f32 {
        self.meta_from(&self.parts(doc), doc)
    }
}

/// Log-scaled popularity in [0, 1].
pub fn popularity(views: u64) -> f64 {
    ((views as f64).ln_1p() / POPULARITY_SATURATION.ln_1p()).min(1.0)
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
    fn popularity_is_log_scaled_and_capped() {
        assert_eq!(popularity(0), 0.0);
        assert!((popularity(1_000_000) - 1.0).abs() < 1e-9);
        assert_eq!(popularity(50_000_000), 1.0);
        assert!(popularity(1000) > 0.49 && popularity(1000) < 0.51);
    }

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
