//! The meta-score inputs of a post as the index stores them: its four score
//! parts and its popularity packed into one fast-field value, written by
//! the indexer and read by the ranking at every match.

/// View count at which popularity reaches 1 (log-scaled below it).
pub const POPULARITY_SATURATION: f64 = 1_000_000.0;

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

/// Log-scaled popularity in [0, 1].
pub fn popularity(views: u64) -> f64 {
    ((views as f64).ln_1p() / POPULARITY_SATURATION.ln_1p()).min(1.0)
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
}
