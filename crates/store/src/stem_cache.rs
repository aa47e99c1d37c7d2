//! The table behind the stem cache (see [`crate::analysis`]): the stems of
//! the words a thread has met, and their counts for the vocabulary.
//!
//! An indexing thread looks up every word it meets here, and on real writing
//! the long tail of rare words makes most of those lookups cache misses: a
//! `perf` of `index` put ~6% of all samples on the two loads of a general
//! hash table's lookup, its control bytes and then the entry. In this table
//! a word's entry is one cache line that holds the word, its stem, its counts
//! and a tag of its hash, so a lookup reads one line, and
//! [`StemCache::prefetch`] asks for that line while earlier words are still
//! being indexed.

use compact_str::CompactString;
use std::hash::BuildHasher;

/// A word's stem (`None`: the word is its own stem), and the word's count
/// in the vocabulary being counted on this thread.
#[derive(Default)]
pub(crate) struct CachedStem {
    pub stem: Option<CompactString>,
    /// The document that last recorded the word (see
    /// `analysis::DocumentVocabulary::generation`).
    pub recorded_in: u32,
    /// The segment vocabulary that counts the word (see
    /// `analysis::DocumentVocabulary::segment`) ...
    pub counted_in: u32,
    /// ... and how many of its documents recorded the word since the cache
    /// last started over.
    pub docs: u32,
    /// The high half of the word's hash with its lowest bit set; 0 in an
    /// empty slot. Kept here, in the padding beside the counts, so an
    /// entry is 64 bytes.
    tag: u32,
}

impl CachedStem {
    /// A word's entry, with its stem and no counts yet.
    pub fn new(stem: Option<CompactString>) -> CachedStem {
        CachedStem {
            stem,
            ..CachedStem::default()
        }
    }
}

/// One slot: the word (inline up to 24 bytes, nearly all words) and its
/// entry, a cache line together.
#[derive(Default)]
#[repr(align(64))]
struct Slot {
    word: CompactString,
    cached: CachedStem,
}

/// A word's hash, as the table places it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct WordHash(u64);

impl WordHash {
    /// The hash of `word`.
    #[inline]
    pub fn of(word: &str) -> WordHash {
        WordHash(rustc_hash::FxBuildHasher.hash_one(word.as_bytes()))
    }

    fn tag(self) -> u32 {
        (self.0 >> 32) as u32 | 1
    }
}

/// Whether `a` and `b` are the same bytes: for the short words the cache
/// holds, a few overlapping word-sized compares instead of a call to
/// `memcmp` (with it, `memcmp` went from 2.6% to 5.5% of `index`'s
/// samples).
#[inline]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    fn at<const N: usize>(s: &[u8], from: usize) -> [u8; N] {
        s[from..from + N].try_into().expect("N bytes")
    }
    let n = a.len();
    if n != b.len() {
        return false;
    }
    match n {
        0 => true,
        1 => a[0] == b[0],
        2..=3 => at::<2>(a, 0) == at::<2>(b, 0) && at::<2>(a, n - 2) == at::<2>(b, n - 2),
        4..=7 => at::<4>(a, 0) == at::<4>(b, 0) && at::<4>(a, n - 4) == at::<4>(b, n - 4),
        8..=16 => at::<8>(a, 0) == at::<8>(b, 0) && at::<8>(a, n - 8) == at::<8>(b, n - 8),
        _ => a == b,
    }
}

/// Open addressing with linear probing; the capacity a power of two, kept
/// under 7/8 full.
pub(crate) struct StemCache {
    slots: Box<[Slot]>,
    len: usize,
}

/// Slots of a new table (query threads keep a small one).
const INITIAL_SLOTS: usize = 1024;

impl Default for StemCache {
    fn default() -> Self {
        StemCache::with_slots(INITIAL_SLOTS)
    }
}

impl StemCache {
    fn with_slots(slots: usize) -> StemCache {
        debug_assert!(slots.is_power_of_two());
        StemCache {
            slots: (0..slots).map(|_| Slot::default()).collect(),
            len: 0,
        }
    }

    /// Words held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Slots for `words` words at most 7/8 full.
    fn slots_for(words: usize) -> usize {
        (words.saturating_mul(8) / 7 + 1).next_power_of_two()
    }

    /// Makes room for `words` words in all, so the table is not grown (each
    /// growth moves every entry into fresh memory) until it holds more.
    pub fn reserve(&mut self, words: usize) {
        let slots = Self::slots_for(words);
        if slots > self.slots.len() {
            self.resize(slots);
        }
    }

    fn resize(&mut self, slots: usize) {
        let old = std::mem::replace(self, StemCache::with_slots(slots));
        for slot in old.slots.into_vec() {
            if slot.cached.tag != 0 {
                let at = self.free_slot(WordHash::of(&slot.word));
                self.slots[at] = slot;
                self.len += 1;
            }
        }
    }

    #[inline]
    fn home(&self, hash: WordHash) -> usize {
        hash.0 as usize & (self.slots.len() - 1)
    }

    /// Asks the processor for the line where `hash`'s word starts to be
    /// looked for, without waiting for it.
    #[inline]
    pub fn prefetch(&self, hash: WordHash) {
        let slot = &self.slots[self.home(hash)];
        #[cfg(target_arch = "x86_64")]
        // SAFETY: a prefetch is a hint: it reads nothing into the program
        // and cannot fault; the pointer is to a live slot anyway.
        unsafe {
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            _mm_prefetch::<_MM_HINT_T0>((slot as *const Slot).cast());
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = slot;
    }

    /// The entry of `word`, whose hash is `hash`.
    #[inline]
    pub fn get_mut(&mut self, hash: WordHash, word: &str) -> Option<&mut CachedStem> {
        let (tag, mask) = (hash.tag(), self.slots.len() - 1);
        let mut at = self.home(hash);
        loop {
            let slot = &self.slots[at];
            if slot.cached.tag == 0 {
                return None;
            }
            if slot.cached.tag == tag && same_bytes(slot.word.as_bytes(), word.as_bytes()) {
                return Some(&mut self.slots[at].cached);
            }
            at = (at + 1) & mask;
        }
    }

    /// Adds `word`, which the table does not hold, with its entry.
    pub fn insert(&mut self, hash: WordHash, word: &str, cached: CachedStem) -> &mut CachedStem {
        if Self::slots_for(self.len + 1) > self.slots.len() {
            self.resize(self.slots.len() * 2);
        }
        let at = self.free_slot(hash);
        self.slots[at] = Slot {
            word: CompactString::from(word),
            cached: CachedStem {
                tag: hash.tag(),
                ..cached
            },
        };
        self.len += 1;
        &mut self.slots[at].cached
    }

    /// The first empty slot from `hash`'s home on.
    fn free_slot(&self, hash: WordHash) -> usize {
        let mask = self.slots.len() - 1;
        let mut at = self.home(hash);
        while self.slots[at].cached.tag != 0 {
            at = (at + 1) & mask;
        }
        at
    }

    /// The words held, with their entries.
    pub fn iter(&self) -> impl Iterator<Item = (&CompactString, &CachedStem)> {
        self.slots
            .iter()
            .filter(|slot| slot.cached.tag != 0)
            .map(|slot| (&slot.word, &slot.cached))
    }

    /// Empties the table, handing each word and its entry to `take`.
    pub fn drain(&mut self, mut take: impl FnMut(CompactString, CachedStem)) {
        for slot in self.slots.iter_mut().filter(|slot| slot.cached.tag != 0) {
            let Slot { word, cached } = std::mem::take(slot);
            take(word, cached);
        }
        self.len = 0;
    }

    /// Empties the table.
    pub fn clear(&mut self) {
        self.drain(|_, _| {});
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn same_bytes_tells_every_length_apart() {
        for n in 0..40 {
            let a: Vec<u8> = (0..n as u8).map(|i| b'a' + i % 26).collect();
            assert!(same_bytes(&a, &a.clone()), "{n}");
            for at in 0..n {
                let mut b = a.clone();
                b[at] = b'#';
                assert!(!same_bytes(&a, &b), "{n} {at}");
            }
            assert!(!same_bytes(&a, &a[..n.saturating_sub(1)]) || n == 0);
        }
    }

    #[test]
    fn an_entry_is_one_cache_line() {
        assert_eq!(std::mem::size_of::<Slot>(), 64);
    }

    #[test]
    fn it_holds_what_a_map_holds_through_growth_and_draining() {
        let mut cache = StemCache::default();
        let mut map = HashMap::new();
        // Enough words to grow the table several times; words that collide
        // in a small table's slots, and words past the inline length.
        let words: Vec<String> = (0..20_000)
            .map(|n| match n % 3 {
                0 => format!("w{n}"),
                1 => format!("a-rather-long-identifier-{n}-of-a-program"),
                _ => format!("{}", n * 7919),
            })
            .collect();
        for (n, word) in words.iter().enumerate().chain(words.iter().enumerate()) {
            let hash = WordHash::of(word);
            cache.prefetch(hash);
            match cache.get_mut(hash, word) {
                Some(cached) => cached.docs += 1,
                None => {
                    let stem = (n % 2 == 0).then(|| CompactString::from(&word[..1]));
                    cache.insert(hash, word, CachedStem::new(stem)).docs = 1;
                }
            }
            *map.entry(word.clone()).or_insert(0) += 1;
            assert_eq!(cache.len(), map.len());
        }
        let held: HashMap<String, u32> = cache
            .iter()
            .map(|(word, cached)| (word.to_string(), cached.docs))
            .collect();
        assert_eq!(held, map);
        let mut drained = HashMap::new();
        cache.drain(|word, cached| {
            drained.insert(word.to_string(), cached.docs);
        });
        assert_eq!(drained, map);
        assert_eq!(cache.len(), 0);
        assert!(cache.get_mut(WordHash::of("w0"), "w0").is_none());
    }

    #[test]
    fn reserving_makes_room_without_losing_words() {
        let mut cache = StemCache::default();
        let hash = WordHash::of("kept");
        cache.insert(hash, "kept", CachedStem::new(Some("kep".into())));
        cache.reserve(100_000);
        assert_eq!(cache.slots.len(), 131_072);
        let kept = cache.get_mut(hash, "kept").expect("still held");
        assert_eq!(kept.stem.as_deref(), Some("kep"));
    }
}
