//! Facts about the index remembered for one searcher generation: what a
//! commit can change is forgotten when a searcher of a newer generation
//! asks, and a full cache starts over.

use rustc_hash::FxHashMap;
use std::hash::Hash;
use std::sync::Mutex;

/// Values by key for one searcher generation, at most `CAPACITY` of them.
pub struct GenerationCache<K, V, const CAPACITY: usize> {
    inner: Mutex<Entries<K, V>>,
}

struct Entries<K, V> {
    generation: u64,
    map: FxHashMap<K, V>,
}

impl<K, V, const CAPACITY: usize> Default for GenerationCache<K, V, CAPACITY> {
    fn default() -> Self {
        GenerationCache {
            inner: Mutex::new(Entries {
                generation: 0,
                map: FxHashMap::default(),
            }),
        }
    }
}

impl<K: Eq + Hash, V: Clone, const CAPACITY: usize> GenerationCache<K, V, CAPACITY> {
    /// The remembered value of each of `keys` in searcher `generation`.
    pub fn get_all<'a>(&self, generation: u64, keys: impl Iterator<Item = &'a K>) -> Vec<Option<V>>
    where
        K: 'a,
    {
        let entries = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        keys.map(|k| {
            (entries.generation == generation)
                .then(|| entries.map.get(k).cloned())
                .flatten()
        })
        .collect()
    }

    /// Remembers `found` for searcher `generation`.
    pub fn insert_all(&self, generation: u64, found: Vec<(K, V)>) {
        if found.is_empty() {
            return;
        }
        let mut entries = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if entries.generation != generation || entries.map.len() + found.len() > CAPACITY {
            entries.map.clear();
            entries.generation = generation;
        }
        entries.map.extend(found);
    }

    /// The value of `key` in searcher `generation`, computed (outside the
    /// lock) when not remembered.
    pub fn get_or(
        &self,
        generation: u64,
        key: K,
        compute: impl FnOnce() -> tantivy::Result<V>,
    ) -> tantivy::Result<V> {
        if let Some(Some(value)) = self.get_all(generation, std::iter::once(&key)).pop() {
            return Ok(value);
        }
        let value = compute()?;
        self.insert_all(generation, vec![(key, value.clone())]);
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_last_one_generation_and_a_full_cache_starts_over() {
        let cache: GenerationCache<u32, u32, 3> = GenerationCache::default();
        let computed = std::cell::Cell::new(0);
        let get = |generation, key: u32| {
            cache
                .get_or(generation, key, || {
                    computed.set(computed.get() + 1);
                    Ok(key * 10)
                })
                .unwrap()
        };
        assert_eq!(get(1, 1), 10);
        assert_eq!(get(1, 1), 10);
        assert_eq!(computed.get(), 1);
        get(2, 1); // a newer generation
        assert_eq!(computed.get(), 2);
        get(2, 2);
        get(2, 3);
        get(2, 4); // full: starts over
        get(2, 1);
        assert_eq!(computed.get(), 6);
        assert_eq!(
            cache.get_all(2, [4, 1, 2].iter()),
            vec![Some(40), Some(10), None]
        );
        assert_eq!(cache.get_all(1, [4].iter()), vec![None]);
    }
}
