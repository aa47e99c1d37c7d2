//! The random draws the generator makes, behind one small trait.
//!
//! The templated style draws from ChaCha8 through `rand` 0.8 (its corpora,
//! and every figure measured on them, are a function of that stream). The
//! realistic style draws from [`Prng`], defined here in a few lines, so its
//! corpora do not depend on any version of `rand`.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// A source of the generator's random choices.
pub(crate) trait Draw {
    /// A uniform integer in `0..n` (`n > 0`).
    fn below(&mut self, n: u32) -> u32;
    /// A uniform integer in `lo..=hi`.
    fn between(&mut self, lo: u32, hi: u32) -> u32;
    /// A uniform float in `[0, 1)`.
    fn unit(&mut self) -> f64;
    /// True with probability `p`.
    fn chance(&mut self, p: f64) -> bool;
    /// True with probability `num / den`.
    fn ratio(&mut self, num: u32, den: u32) -> bool;
}

impl Draw for ChaCha8Rng {
    fn below(&mut self, n: u32) -> u32 {
        self.gen_range(0..n)
    }
    fn between(&mut self, lo: u32, hi: u32) -> u32 {
        self.gen_range(lo..=hi)
    }
    fn unit(&mut self) -> f64 {
        self.gen()
    }
    fn chance(&mut self, p: f64) -> bool {
        self.gen_bool(p)
    }
    fn ratio(&mut self, num: u32, den: u32) -> bool {
        self.gen_ratio(num, den)
    }
}

/// SplitMix64 (Steele, Lea and Flood, 2014): a 64-bit state advanced by a
/// constant and mixed on output. Small, fast, and defined here, so a seed
/// gives the same stream whatever crates are in the tree.
#[derive(Debug, Clone)]
pub(crate) struct Prng(u64);

impl Prng {
    /// The stream of post `n` of the corpus `seed`, under `salt`.
    pub(crate) fn new(seed: u64, n: u64, salt: u64) -> Prng {
        Prng(splitmix64(splitmix64(seed ^ salt) ^ n))
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }
}

impl Draw for Prng {
    fn below(&mut self, n: u32) -> u32 {
        // Lemire's multiply-shift: the bias is below n / 2^64.
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u32
    }
    fn between(&mut self, lo: u32, hi: u32) -> u32 {
        lo + self.below(hi - lo + 1)
    }
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
    fn ratio(&mut self, num: u32, den: u32) -> bool {
        self.below(den) < num
    }
}

/// SplitMix64's output function applied to `x + golden gamma`.
pub(crate) fn splitmix64(x: u64) -> u64 {
    mix(x.wrapping_add(0x9E37_79B9_7F4A_7C15))
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stream_is_fixed_by_its_definition() {
        // SplitMix64 seeded with 0 starts with these (the reference values
        // of the algorithm): the stream depends on no crate.
        let mut p = Prng(0);
        assert_eq!(p.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(p.next_u64(), 0x6E78_9E6A_A1B9_65F4);
    }

    #[test]
    fn draws_stay_in_range() {
        let mut p = Prng::new(7, 3, 1);
        for _ in 0..10_000 {
            assert!(p.below(7) < 7);
            assert!((3..=5).contains(&p.between(3, 5)));
            let u = p.unit();
            assert!((0.0..1.0).contains(&u));
        }
        let heads = (0..10_000).filter(|_| p.ratio(1, 4)).count();
        assert!((2_200..2_800).contains(&heads), "{heads}");
    }
}
