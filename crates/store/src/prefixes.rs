//! The words a typed prefix completes to, most frequent first, from a
//! segment's vocabulary.
//!
//! A short prefix (`s`, `co`, `con`) starts thousands of words in real
//! writing, and a vocabulary is sorted by bytes, not by frequency: the
//! first few thousand entries of the range of `s` hold `scripting` but not
//! `see`, `so` or `some`. So every prefix of up to [`TABLE_PREFIX_CHARS`]
//! characters that starts more than [`MAX_SCAN`] words keeps its [`KEEP`]
//! most frequent ones in a [`PrefixTable`]; any other prefix's range is
//! short enough to read whole.
//!
//! The vocabulary plugin writes a segment's table beside its vocabulary
//! (`<segment>.prefixes`) as it writes the words, in one pass; a segment
//! written before the table existed gets one built from its vocabulary
//! when first searched. [`PrefixTables`] keeps each segment's table while
//! the segment is searched.

use crate::plugin_files::SegmentFiles;
use crate::vocabulary::Vocabulary;
use rustc_hash::FxHashMap;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{self, Write};
use std::sync::{Arc, Mutex};
use tantivy::directory::error::OpenReadError;
use tantivy::directory::{FileSlice, TerminatingWrite};
use tantivy::index::{SegmentComponent, SegmentId};
use tantivy::termdict::TermDictionary;
use tantivy::{Searcher, Segment};

/// Words a prefix may start and still be read from the vocabulary whole.
pub const MAX_SCAN: usize = 2_000;
/// Most frequent words a table keeps for a prefix that starts more.
pub const KEEP: usize = 32;
/// Longest prefix, in characters, a table keeps words for. A longer prefix
/// of over [`MAX_SCAN`] words is answered with its first [`MAX_SCAN`].
pub const TABLE_PREFIX_CHARS: usize = 6;

/// The extension of a segment's prefix table file.
pub const EXTENSION: &str = "prefixes";

const MAGIC: &[u8; 4] = b"PSPX";
const VERSION: u32 = 1;

pub(crate) fn component() -> SegmentComponent {
    SegmentComponent::Custom(EXTENSION.to_string())
}

/// Each long prefix's most frequent words, as (term ordinal in the
/// vocabulary, post count), most frequent first.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct PrefixTable {
    buckets: FxHashMap<Box<str>, Box<[(u32, u32)]>>,
}

type Top = BinaryHeap<Reverse<(u32, Reverse<u32>)>>;

/// Words under one prefix while the vocabulary goes by.
struct Bucket {
    /// The prefix's length in bytes.
    end: usize,
    words: usize,
    /// The most frequent so far, as (post count, ordinal): the least on
    /// top, and of equal counts the word sorting last.
    top: Top,
}

impl Bucket {
    fn add(&mut self, count: u32, ord: u32) {
        self.words += 1;
        let least = self.top.peek().map(|Reverse((n, _))| *n);
        if self.top.len() < KEEP || least.is_some_and(|least| count > least) {
            self.top.push(Reverse((count, Reverse(ord))));
            if self.top.len() > KEEP {
                self.top.pop();
            }
        }
    }
}

/// Builds a [`PrefixTable`] from a vocabulary's words given in byte order.
#[derive(Default)]
pub struct PrefixTableBuilder {
    table: PrefixTable,
    /// The open bucket of each prefix length, shortest first: a prefix's
    /// words come one after the other, and its bucket closes at the first
    /// word not starting with it.
    open: Vec<Bucket>,
    spare: Vec<Top>,
    previous: Vec<u8>,
    ord: u32,
}

impl PrefixTableBuilder {
    /// Adds the next word of the vocabulary (the `ord`-th, from 0, in byte
    /// order), held by `count` posts. A word that is not UTF-8 only counts
    /// for the ordinals.
    pub fn add(&mut self, bytes: &[u8], count: u32) {
        let ord = self.ord;
        self.ord += 1;
        let Ok(word) = std::str::from_utf8(bytes) else {
            return;
        };
        let shared = bytes
            .iter()
            .zip(&self.previous)
            .take_while(|(a, b)| a == b)
            .count();
        while self.open.last().is_some_and(|b| b.end > shared) {
            let bucket = self.open.pop().expect("an open bucket");
            self.close(bucket);
        }
        let ends = word
            .char_indices()
            .skip(1)
            .map(|(i, _)| i)
            .chain([word.len()])
            .take(TABLE_PREFIX_CHARS);
        for end in ends.skip(self.open.len()) {
            let top = self.spare.pop().unwrap_or_default();
            self.open.push(Bucket { end, words: 0, top });
        }
        for bucket in &mut self.open {
            bucket.add(count, ord);
        }
        self.previous.clear();
        self.previous.extend_from_slice(bytes);
    }

    fn close(&mut self, mut bucket: Bucket) {
        if bucket.words > MAX_SCAN {
            if let Ok(prefix) = std::str::from_utf8(&self.previous[..bucket.end]) {
                let mut words: Vec<(u32, u32)> = bucket
                    .top
                    .drain()
                    .map(|Reverse((count, Reverse(ord)))| (ord, count))
                    .collect();
                words.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
                self.table.buckets.insert(prefix.into(), words.into());
            }
        }
        bucket.top.clear();
        self.spare.push(bucket.top);
    }

    /// The table of the words added.
    pub fn finish(mut self) -> PrefixTable {
        while let Some(bucket) = self.open.pop() {
            self.close(bucket);
        }
        self.table
    }
}

impl PrefixTable {
    /// The table of `vocabulary`, read whole.
    pub fn of_vocabulary(vocabulary: &TermDictionary) -> io::Result<PrefixTable> {
        let mut builder = PrefixTableBuilder::default();
        let mut stream = vocabulary.stream()?;
        while stream.advance() {
            builder.add(stream.key(), stream.value().doc_freq);
        }
        Ok(builder.finish())
    }

    /// The table of `segment` read from `file` (its `.prefixes` file, or
    /// the error opening it gave), or built from its vocabulary when the
    /// segment has none (written by an earlier version).
    pub fn of_file(
        segment: SegmentId,
        file: Result<FileSlice, OpenReadError>,
        vocabulary: &TermDictionary,
    ) -> tantivy::Result<PrefixTable> {
        let read = match file {
            Err(OpenReadError::FileDoesNotExist(_)) => {
                return Ok(PrefixTable::of_vocabulary(vocabulary)?)
            }
            opened => opened.map_err(|e| e.to_string()).and_then(|file| {
                let bytes = file.read_bytes().map_err(|e| e.to_string())?;
                PrefixTable::from_bytes(bytes.as_slice()).map_err(|e| e.to_string())
            }),
        };
        read.map_err(|e| {
            tantivy::TantivyError::InternalError(format!(
                "{}.{EXTENSION}: {e}; rebuild the index from the posts: \
                 `postsearch index --rebuild PATH`",
                segment.uuid_string()
            ))
        })
    }

    /// The words of `vocabulary` (the one this table was made from)
    /// starting with `prefix`, with their post counts: every one, or the
    /// [`KEEP`] most frequent when there are more than [`MAX_SCAN`].
    pub fn completions(
        &self,
        vocabulary: &TermDictionary,
        prefix: &str,
    ) -> io::Result<Vec<(String, u64)>> {
        if let Some(words) = self.buckets.get(prefix) {
            let mut found = Vec::with_capacity(words.len());
            let mut bytes = Vec::new();
            for &(ord, count) in words.iter() {
                if vocabulary.ord_to_term(ord.into(), &mut bytes)? {
                    if let Ok(word) = std::str::from_utf8(&bytes) {
                        found.push((word.to_string(), count.into()));
                    }
                }
            }
            return Ok(found);
        }
        let mut range = vocabulary.range().ge(prefix.as_bytes());
        if let Some(upper) = prefix_upper_bound(prefix) {
            range = range.lt(upper);
        }
        let mut stream = range.into_stream()?;
        let mut found = Vec::new();
        while found.len() < MAX_SCAN && stream.advance() {
            if let Ok(word) = std::str::from_utf8(stream.key()) {
                found.push((word.to_string(), stream.value().doc_freq.into()));
            }
        }
        Ok(found)
    }

    /// Whether `prefix` keeps a list (it starts over [`MAX_SCAN`] words).
    pub fn completions_kept(&self, prefix: &str) -> bool {
        self.buckets.contains_key(prefix)
    }

    /// How many prefixes keep a list.
    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    /// Whether no prefix keeps a list (a small vocabulary).
    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }

    /// Writes the table as `segment`'s.
    pub fn write(&self, segment: &Segment) -> tantivy::Result<()> {
        let mut write = segment.open_write(component())?;
        write.write_all(&self.to_bytes())?;
        write.flush()?;
        write.terminate()?;
        Ok(())
    }

    /// The file's bytes: the magic, the version, the number of prefixes,
    /// then each prefix (its length in a byte, its bytes, its number of
    /// words in a byte, and each word's ordinal and count), little-endian.
    fn to_bytes(&self) -> Vec<u8> {
        let mut prefixes: Vec<_> = self.buckets.iter().collect();
        prefixes.sort();
        let mut out = Vec::new();
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&(prefixes.len() as u32).to_le_bytes());
        for (prefix, words) in prefixes {
            out.push(prefix.len() as u8);
            out.extend_from_slice(prefix.as_bytes());
            out.push(words.len() as u8);
            for (ord, count) in words.iter() {
                out.extend_from_slice(&ord.to_le_bytes());
                out.extend_from_slice(&count.to_le_bytes());
            }
        }
        out
    }

    fn from_bytes(mut bytes: &[u8]) -> io::Result<PrefixTable> {
        let bad = |what: &str| {
            io::Error::new(io::ErrorKind::InvalidData, format!("prefix table: {what}"))
        };
        fn take<'a>(bytes: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
            let (head, rest) = bytes.split_at_checked(n)?;
            *bytes = rest;
            Some(head)
        }
        let u32_of = |b: &[u8]| u32::from_le_bytes(b.try_into().expect("4 bytes"));
        if take(&mut bytes, 4) != Some(MAGIC.as_slice()) {
            return Err(bad("not a prefix table"));
        }
        let version = take(&mut bytes, 4)
            .map(u32_of)
            .ok_or_else(|| bad("cut short"))?;
        if version != VERSION {
            return Err(bad(&format!(
                "version {version}, this build reads {VERSION}"
            )));
        }
        let n = take(&mut bytes, 4)
            .map(u32_of)
            .ok_or_else(|| bad("cut short"))?;
        let mut table = PrefixTable::default();
        for _ in 0..n {
            let len = take(&mut bytes, 1).ok_or_else(|| bad("cut short"))?[0] as usize;
            let prefix = take(&mut bytes, len).ok_or_else(|| bad("cut short"))?;
            let prefix = std::str::from_utf8(prefix).map_err(|_| bad("a prefix not UTF-8"))?;
            let count = take(&mut bytes, 1).ok_or_else(|| bad("cut short"))?[0] as usize;
            let words = take(&mut bytes, count * 8).ok_or_else(|| bad("cut short"))?;
            let words: Box<[(u32, u32)]> = words
                .chunks_exact(8)
                .map(|w| (u32_of(&w[..4]), u32_of(&w[4..])))
                .collect();
            table.buckets.insert(prefix.into(), words);
        }
        if !bytes.is_empty() {
            return Err(bad("bytes after the last prefix"));
        }
        Ok(table)
    }
}

/// The [`PrefixTable`] of each segment, read (or built) when a search first
/// needs it and kept while the segment is in the newest searcher seen.
#[derive(Default)]
pub struct PrefixTables {
    inner: Mutex<Kept>,
}

#[derive(Default)]
struct Kept {
    generation: u64,
    tables: FxHashMap<SegmentId, Arc<PrefixTable>>,
}

impl PrefixTables {
    /// The table of each of `searcher`'s segments, in their order;
    /// `files` and `vocabularies` are the segments', in the same order.
    pub fn of(
        &self,
        searcher: &Searcher,
        files: &[SegmentFiles],
        vocabularies: &[Vocabulary],
    ) -> tantivy::Result<Vec<Arc<PrefixTable>>> {
        let ids: Vec<SegmentId> = files.iter().map(|f| f.segment).collect();
        let known: Vec<Option<Arc<PrefixTable>>> = {
            let kept = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            ids.iter().map(|id| kept.tables.get(id).cloned()).collect()
        };
        let mut tables = Vec::with_capacity(ids.len());
        let mut made = Vec::new();
        for ((files, known), vocabulary) in files.iter().zip(known).zip(vocabularies) {
            let table = match known {
                Some(table) => table,
                None => {
                    let file = files.prefixes.clone();
                    let table = PrefixTable::of_file(files.segment, file, &vocabulary.dictionary)?;
                    let table = Arc::new(table);
                    made.push((files.segment, table.clone()));
                    table
                }
            };
            tables.push(table);
        }
        let generation = searcher.generation().generation_id();
        let mut kept = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if generation > kept.generation {
            // Segments merged away or deleted are no longer searched.
            kept.generation = generation;
            kept.tables.retain(|id, _| ids.contains(id));
        }
        kept.tables.extend(made);
        Ok(tables)
    }
}

/// The smallest byte string greater than every string starting with `p`.
fn prefix_upper_bound(p: &str) -> Option<Vec<u8>> {
    let mut bytes = p.as_bytes().to_vec();
    while let Some(last) = bytes.pop() {
        if last < 0xff {
            bytes.push(last + 1);
            return Some(bytes);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use tantivy::postings::TermInfo;
    use tantivy::termdict::TermDictionaryBuilder;

    fn dictionary(words: &[(String, u32)]) -> TermDictionary {
        let mut words = words.to_vec();
        words.sort();
        let mut builder = TermDictionaryBuilder::create(Vec::new()).unwrap();
        for (word, count) in &words {
            let info = TermInfo {
                doc_freq: *count,
                postings_range: 0..0,
                positions_range: 0..0,
            };
            builder.insert(word.as_bytes(), &info).unwrap();
        }
        let bytes = builder.finish().unwrap();
        TermDictionary::open(tantivy::directory::FileSlice::from(bytes)).unwrap()
    }

    fn pairs(words: &[(&str, u64)]) -> Vec<(String, u64)> {
        words.iter().map(|(w, n)| (w.to_string(), *n)).collect()
    }

    #[test]
    fn prefix_bound_is_the_next_string() {
        assert_eq!(prefix_upper_bound("ab").unwrap(), b"ac");
        assert_eq!(prefix_upper_bound("a\u{7f}").unwrap(), b"a\x80");
    }

    #[test]
    fn a_long_range_keeps_its_most_frequent_words_wherever_they_sort() {
        // 3,000 rare words sort before `see`, `so` and `some`.
        let mut words: Vec<(String, u32)> = (0..3_000).map(|i| (format!("sa{i:04}"), 1)).collect();
        for (w, n) in [
            ("see", 50),
            ("so", 40),
            ("some", 30),
            ("s", 60),
            ("tree", 9),
        ] {
            words.push((w.to_string(), n));
        }
        let vocabulary = dictionary(&words);
        let table = PrefixTable::of_vocabulary(&vocabulary).unwrap();
        let s = table.completions(&vocabulary, "s").unwrap();
        assert_eq!(s.len(), KEEP);
        assert_eq!(
            s[..5],
            pairs(&[
                ("s", 60),
                ("see", 50),
                ("so", 40),
                ("some", 30),
                ("sa0000", 1)
            ])
        );
        // `sa` starts 3,000 words: a list; `se` one: read from the range.
        assert_eq!(table.completions(&vocabulary, "sa").unwrap().len(), KEEP);
        assert_eq!(
            table.completions(&vocabulary, "se").unwrap(),
            pairs(&[("see", 50)])
        );
        assert_eq!(
            table.completions(&vocabulary, "t").unwrap(),
            pairs(&[("tree", 9)])
        );
        assert!(table.completions(&vocabulary, "x").unwrap().is_empty());
        // `s` and `sa` (`sa0`, `sa1`, `sa2` start 1,000 words each).
        assert_eq!(table.len(), 2);
    }

    #[test]
    fn prefixes_are_cut_at_characters_not_bytes() {
        let mut words: Vec<(String, u32)> = (0..2_500).map(|i| (format!("été{i:04}"), 1)).collect();
        words.push(("étés".to_string(), 7));
        let vocabulary = dictionary(&words);
        let table = PrefixTable::of_vocabulary(&vocabulary).unwrap();
        for prefix in ["é", "ét", "été"] {
            let found = table.completions(&vocabulary, prefix).unwrap();
            assert_eq!(found.len(), KEEP, "{prefix}");
            assert_eq!(found[0], ("étés".to_string(), 7), "{prefix}");
        }
        assert_eq!(table.len(), 3);
    }

    #[test]
    fn a_table_reads_back_as_written_and_a_damaged_one_is_refused() {
        let words: Vec<(String, u32)> = (0..5_000)
            .map(|i| (format!("w{i:05}"), (i % 97) as u32 + 1))
            .collect();
        let table = PrefixTable::of_vocabulary(&dictionary(&words)).unwrap();
        assert!(!table.is_empty());
        let bytes = table.to_bytes();
        assert_eq!(PrefixTable::from_bytes(&bytes).unwrap(), table);
        for cut in [0, 3, 11, bytes.len() - 1] {
            assert!(PrefixTable::from_bytes(&bytes[..cut]).is_err(), "{cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(PrefixTable::from_bytes(&longer).is_err());
    }
}
