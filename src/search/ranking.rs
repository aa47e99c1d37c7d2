//! Ranking: `final = text × (1 + w_meta × meta)`, where `meta ∈ [0, 1]` is a
//! weighted mean of the post's score parts and its popularity.

use serde::{Deserialize, Serialize};
use tantivy::columnar::Column;
use tantivy::DocId;

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

/// What the meta score of a post is computed from: its four score parts
/// (quality, freshness, depth, clarity; each 0–100) and its popularity (in
/// millionths), any of them possibly missing. Stored packed in one fast
/// field so that a match costs one read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MetaInputs {
    pub parts: [Option<u64>; 4],
    pub popularity: Option<u64>,
}

/// Popularity is stored in millionths.
pub const POPULARITY_SCALE: f64 = 1_000_000.0;

/// Packed layout: part `i` in bits `8i..8i+8` (capped at 255), its
/// presence in bit `32 + i`; popularity in bits `36..56`, its presence in
/// bit 56.
const PART_BITS: u32 = 8;
const PRESENT: u32 = 32;
const POPULARITY_SHIFT: u32 = 36;
const POPULARITY_PRESENT: u32 = 56;

impl MetaInputs {
    /// The inputs of a post.
    pub fn of(post: &crate::post::Post) -> MetaInputs {
        let s = post.score.clone().unwrap_or_default();
        MetaInputs {
            parts: [s.quality, s.freshness, s.depth, s.clarity],
            popularity: post
                .view_count
                .map(|v| (popularity(v) * POPULARITY_SCALE).round() as u64),
        }
    }

    /// The packed value.
    pub fn pack(&self) -> u64 {
        let mut packed = 0;
        for (i, part) in self.parts.iter().enumerate() {
            if let Some(v) = part {
                packed |= (*v).min(255) << (PART_BITS * i as u32);
                packed |= 1 << (PRESENT + i as u32);
            }
        }
        if let Some(p) = self.popularity {
            packed |= p.min(POPULARITY_SCALE as u64) << POPULARITY_SHIFT;
            packed |= 1 << POPULARITY_PRESENT;
        }
        packed
    }

    /// The inputs of a packed value.
    #[inline]
    pub fn unpack(packed: u64) -> MetaInputs {
        let mut parts = [None; 4];
        for (i, part) in parts.iter_mut().enumerate() {
            if packed & (1 << (PRESENT + i as u32)) != 0 {
                *part = Some((packed >> (PART_BITS * i as u32)) & 0xff);
            }
        }
        let popularity = (packed & (1 << POPULARITY_PRESENT) != 0)
            .then_some((packed >> POPULARITY_SHIFT) & ((1 << 20) - 1));
        MetaInputs { parts, popularity }
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
    fn meta_inputs_pack_and_unpack() {
        let cases = [
            MetaInputs::default(),
            MetaInputs {
                parts: [Some(0), None, Some(100), Some(300)],
                popularity: Some(1_000_000),
            },
            MetaInputs {
                parts: [None, Some(55), None, None],
                popularity: Some(0),
            },
        ];
        for c in cases {
            let mut expected = c;
            expected.parts[3] = c.parts[3].map(|v| v.min(255));
            assert_eq!(MetaInputs::unpack(c.pack()), expected);
        }
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
