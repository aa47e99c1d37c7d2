//! The vocabulary of a segment: every word its posts hold, unstemmed (as
//! [`analysis::words_analyzer`] splits and folds it), with the number of
//! posts that hold it. Typo tolerance, prefix completion and suggestions
//! search it; nothing else reads it.
//!
//! It is kept by a tantivy segment plugin ([`VocabularyPlugin`]), in a file
//! of its own per segment (`<segment>.words`), as a term dictionary whose
//! entries carry only a document frequency, and beside it the segment's
//! [`crate::prefixes::PrefixTable`] (`<segment>.prefixes`). It used to be
//! an indexed field: tantivy then wrote a posting list per word that
//! nothing ever read, which cost 15% of indexing (realposts.py 100k).
//!
//! tantivy writes a segment on one thread, and analyzes a post's full-text
//! fields before it hands the post to the plugin: the analyzer counts the
//! words as it stems them, in the stem cache's entries
//! ([`analysis::begin_segment_vocabulary`]); the plugin adds the stack and
//! tool names and writes the counts out. A merge adds
//! up the sources' counts and takes away the words of the posts it purges
//! (read back from the stored posts), so a merged segment's vocabulary is
//! that of its live posts, as tantivy's own document frequencies are.

use crate::analysis::{self, words_analyzer};
use crate::document::PostDocument;
use crate::post::Post;
use crate::prefixes::PrefixTableBuilder;
use rustc_hash::FxHashMap;
use std::io::Write;
use std::sync::Arc;
use tantivy::directory::TerminatingWrite;
use tantivy::directory::{FileSlice, OwnedBytes};
use tantivy::index::{SegmentComponent, SegmentId};
use tantivy::plugin::{PluginMergeContext, PluginWriter, PluginWriterContext, SegmentPlugin};
use tantivy::postings::TermInfo;
use tantivy::schema::document::ErasedDocument;
use tantivy::schema::Schema;
use tantivy::termdict::{TermDictionary, TermDictionaryBuilder, TermMerger};
use tantivy::tokenizer::TextAnalyzer;
use tantivy::{DocId, HasLen, Segment, SegmentReader};
use tantivy_fst::raw::{Fst, Node, Transition};
use tantivy_fst::Automaton;

/// The extension of a segment's vocabulary file.
pub const EXTENSION: &str = "words";

pub(crate) fn component() -> SegmentComponent {
    SegmentComponent::Custom(EXTENSION.to_string())
}

/// The vocabulary of `segment`: its words and, as each entry's
/// `doc_freq`, how many of its posts hold the word (deleted posts included
/// until a merge purges them).
pub fn dictionary(segment: &SegmentReader) -> tantivy::Result<TermDictionary> {
    let file = segment.open_read(component())?;
    Ok(TermDictionary::open(file)?)
}

/// A segment's vocabulary opened for search: the term dictionary, and its
/// FST for [`Vocabulary::matching`].
pub struct Vocabulary {
    /// The words and their post counts (see [`dictionary`]).
    pub dictionary: TermDictionary,
    fst: Arc<Fst<OwnedBytes>>,
}

/// The end of a tantivy FST term dictionary file (tantivy 0.27's
/// `fst_termdict` and `termdict::TermDictionary::open`):
/// `[FST][term infos][u64: term infos' length][u32: FST version 1]
/// [u32: dictionary type 1, FST]`.
const DICTIONARY_TAIL: usize = 16;

/// An automaton that may know, in a state, the only byte after which it
/// can still match or go on: [`Vocabulary::matching`] then looks that
/// transition up rather than trying each. Say `Some(b)` only when every
/// other byte leads to a state that neither matches nor can go on (`b`
/// itself may, or may not); `None` (the default) when it cannot tell.
pub trait OneByte: Automaton {
    /// The only byte that may go on from `state`, if the automaton knows it.
    fn one_byte(&self, _state: &Self::State) -> Option<u8> {
        None
    }
}

impl Vocabulary {
    /// Opens the vocabulary of `segment`.
    pub fn open(segment: &SegmentReader) -> tantivy::Result<Vocabulary> {
        Vocabulary::of_file(segment.segment_id(), segment.open_read(component())?)
    }

    /// The vocabulary of `segment` in `file`, its `.words` file.
    pub fn of_file(segment: SegmentId, file: FileSlice) -> tantivy::Result<Vocabulary> {
        let dictionary = TermDictionary::open(file.clone())?;
        let corrupt = |what: &str| {
            tantivy::TantivyError::InternalError(format!(
                "the vocabulary of segment {} {what}",
                segment.uuid_string()
            ))
        };
        if file.len() < DICTIONARY_TAIL {
            return Err(corrupt("is too short"));
        }
        let (main, tail) = file.split_from_end(DICTIONARY_TAIL);
        let tail = tail.read_bytes()?;
        let u32_at =
            |at: usize| u32::from_le_bytes(tail.as_slice()[at..at + 4].try_into().unwrap());
        let infos_len = u64::from_le_bytes(tail.as_slice()[..8].try_into().unwrap());
        if u32_at(8) != 1 || u32_at(12) != 1 {
            return Err(corrupt("is not an FST dictionary of version 1"));
        }
        let infos_len = usize::try_from(infos_len)
            .ok()
            .filter(|&n| n <= main.len())
            .ok_or_else(|| corrupt("gives a length past its end"))?;
        let (fst, _) = main.split_from_end(infos_len);
        let fst =
            Fst::new(fst.read_bytes()?).map_err(|e| corrupt(&format!("has a bad FST: {e}")))?;
        Ok(Vocabulary {
            dictionary,
            fst: Arc::new(fst),
        })
    }

    /// Calls `found` with each word `automaton` matches and its post count,
    /// in byte order: what `dictionary.search(automaton)` streams, in a
    /// fraction of the time for a typo automaton. A stream decodes the node
    /// behind every transition of a node it visits before it asks whether
    /// the automaton can go on; this walk asks first, and where the
    /// automaton names the one byte that can go on ([`OneByte`]), it looks
    /// that transition up instead of reading them all.
    pub fn matching<A>(
        &self,
        automaton: &A,
        found: &mut dyn FnMut(&[u8], u32),
    ) -> tantivy::Result<()>
    where
        A: OneByte,
        A::State: Clone,
    {
        let start = automaton.start();
        let root = self.fst.root();
        if root.is_final() && automaton.is_match(&start) {
            found(&[], self.doc_freq(&[])?);
        }
        Walk {
            vocabulary: self,
            automaton,
            word: Vec::new(),
            found,
        }
        .node(&root, start)
    }

    /// The post count of `word` (its term info, looked up: the wrapper of
    /// tantivy's dictionaries does not read one by ordinal).
    fn doc_freq(&self, word: &[u8]) -> tantivy::Result<u32> {
        Ok(self.dictionary.get(word)?.map_or(0, |info| info.doc_freq))
    }
}

/// A walk of a vocabulary's FST by an automaton (see
/// [`Vocabulary::matching`]): the word so far, and where its matches go.
struct Walk<'a, A> {
    vocabulary: &'a Vocabulary,
    automaton: &'a A,
    word: Vec<u8>,
    found: &'a mut dyn FnMut(&[u8], u32),
}

impl<A> Walk<'_, A>
where
    A: OneByte,
    A::State: Clone,
{
    /// Goes on from `node`, reached in `state`.
    fn node(&mut self, node: &Node, state: A::State) -> tantivy::Result<()> {
        if let Some(byte) = self.automaton.one_byte(&state) {
            if let Some(i) = node.find_input(byte) {
                self.step(node.transition(i), &state)?;
            }
            return Ok(());
        }
        for transition in node.transitions() {
            self.step(transition, &state)?;
        }
        Ok(())
    }

    /// Follows `transition` from a node reached in `state`.
    fn step(&mut self, transition: Transition, state: &A::State) -> tantivy::Result<()> {
        let next = self.automaton.accept(state, transition.inp);
        let (can, is) = (
            self.automaton.can_match(&next),
            self.automaton.is_match(&next),
        );
        if !can && !is {
            return Ok(());
        }
        self.word.push(transition.inp);
        let child = self.vocabulary.fst.node(transition.addr);
        if is && child.is_final() {
            let docs = self.vocabulary.doc_freq(&self.word)?;
            (self.found)(&self.word, docs);
        }
        if can {
            self.node(&child, next)?;
        }
        self.word.pop();
        Ok(())
    }
}

/// The words of `post` its vocabulary holds, each once, sorted: the words of
/// its texts and of its stack and tool names.
pub fn words_of(post: &Post) -> Vec<String> {
    let mut analyzer = words_analyzer();
    let mut words = Vec::new();
    let mut add = |text: &str| {
        let mut stream = analyzer.token_stream(text);
        while let Some(token) = stream.next() {
            words.push(token.text.clone());
        }
    };
    for text in post.texts() {
        add(text);
    }
    for name in [&post.stack, &post.tools].into_iter().flatten().flatten() {
        add(name);
    }
    words.sort_unstable();
    words.dedup();
    words
}

/// The segment plugin that writes and merges vocabularies; registered on
/// every index postsearch creates or opens.
#[derive(Debug, Default, Clone, Copy)]
pub struct VocabularyPlugin;

impl SegmentPlugin for VocabularyPlugin {
    fn extensions(&self) -> &[&str] {
        &[EXTENSION, crate::prefixes::EXTENSION]
    }

    fn create_writer(&self, _ctx: &PluginWriterContext) -> tantivy::Result<Box<dyn PluginWriter>> {
        Ok(Box::new(VocabularyWriter {
            ticket: analysis::begin_segment_vocabulary(),
            names: analysis::text_analyzer(),
        }))
    }

    fn merge(&self, ctx: PluginMergeContext) -> tantivy::Result<()> {
        let dictionaries = ctx
            .readers
            .iter()
            .map(dictionary)
            .collect::<tantivy::Result<Vec<_>>>()?;
        let purged = purged_words(ctx.readers)?;
        let streams = dictionaries
            .iter()
            .map(|d| d.stream())
            .collect::<std::io::Result<Vec<_>>>()?;
        let mut merger = TermMerger::new(streams);
        let mut out = VocabularyFile::create(ctx.target_segment)?;
        while merger.advance() {
            let held: u64 = merger
                .current_segment_ords_and_term_infos()
                .map(|(_, info)| u64::from(info.doc_freq))
                .sum();
            let gone = std::str::from_utf8(merger.key())
                .ok()
                .and_then(|w| purged.get(w))
                .copied()
                .unwrap_or(0);
            let docs = held.saturating_sub(gone);
            if docs > 0 {
                out.insert(merger.key(), docs.min(u64::from(u32::MAX)) as u32)?;
            }
        }
        out.finish()
    }
}

/// How many of the posts each word is in among the posts a merge of
/// `readers` purges (deleted, still stored).
fn purged_words(readers: &[SegmentReader]) -> tantivy::Result<FxHashMap<String, u64>> {
    let mut purged: FxHashMap<String, u64> = FxHashMap::default();
    for reader in readers {
        let Some(alive) = reader.alive_bitset() else {
            continue;
        };
        let store = reader.get_store_reader(1)?;
        for doc in (0..reader.max_doc()).filter(|&d| alive.is_deleted(d)) {
            let json = store.get::<crate::index::StoredJson>(doc)?.source()?;
            let post: Post = serde_json::from_str(&json).map_err(|e| {
                tantivy::TantivyError::InternalError(format!(
                    "a deleted post of segment {} does not parse: {e}",
                    reader.segment_id().uuid_string()
                ))
            })?;
            for word in words_of(&post) {
                *purged.entry(word).or_default() += 1;
            }
        }
    }
    Ok(purged)
}

/// A vocabulary file being written: words in order, with their counts;
/// the segment's prefix table is made as they go by.
struct VocabularyFile {
    builder: TermDictionaryBuilder<tantivy::directory::WritePtr>,
    prefixes: PrefixTableBuilder,
    segment: Segment,
}

impl VocabularyFile {
    fn create(segment: &Segment) -> tantivy::Result<VocabularyFile> {
        let write = segment.open_write(component())?;
        Ok(VocabularyFile {
            builder: TermDictionaryBuilder::create(write)?,
            prefixes: PrefixTableBuilder::default(),
            segment: segment.clone(),
        })
    }

    /// Adds `word`, held by `docs` posts; words come in byte order.
    fn insert(&mut self, word: &[u8], docs: u32) -> tantivy::Result<()> {
        let info = TermInfo {
            doc_freq: docs,
            postings_range: 0..0,
            positions_range: 0..0,
        };
        self.prefixes.add(word, docs);
        Ok(self.builder.insert(word, &info)?)
    }

    fn finish(self) -> tantivy::Result<()> {
        let mut write = self.builder.finish()?;
        write.flush()?;
        write.terminate()?;
        self.prefixes.finish().write(&self.segment)
    }
}

/// Writes the vocabulary of the segment being written: the words were
/// counted on this thread as the documents' texts were analyzed (see
/// [`analysis::begin_segment_vocabulary`]); the writer adds the stack and
/// tool names.
struct VocabularyWriter {
    /// The thread's ticket for this segment's counts.
    ticket: u32,
    /// Analyzes the names, so that they are counted as texts are.
    names: TextAnalyzer,
}

impl PluginWriter for VocabularyWriter {
    fn add_document(
        &mut self,
        _doc_id: DocId,
        doc: &dyn ErasedDocument,
        _schema: &Schema,
    ) -> tantivy::Result<()> {
        if let Some(post) = doc.as_any().downcast_ref::<PostDocument>() {
            for name in post.names() {
                let mut stream = self.names.token_stream(name);
                while stream.advance() {}
            }
        }
        analysis::end_document_vocabulary();
        Ok(())
    }

    fn serialize(
        self: Box<Self>,
        segment: &Segment,
        _doc_id_map: Option<&tantivy::indexer::doc_id_mapping::DocIdMapping>,
    ) -> tantivy::Result<()> {
        let words = analysis::take_segment_vocabulary(self.ticket).ok_or_else(|| {
            tantivy::TantivyError::InternalError(
                "a segment's vocabulary was counted on another thread".into(),
            )
        })?;
        let mut out = VocabularyFile::create(segment)?;
        for (word, docs) in words {
            out.insert(word.as_bytes(), docs)?;
        }
        out.finish()
    }

    fn mem_usage(&self) -> usize {
        analysis::segment_vocabulary_bytes(self.ticket)
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::tokens;
    use crate::index::PostIndex;
    use crate::indexer::{Writer, WriterOptions};
    use crate::prefixes::PrefixTable;
    use std::collections::BTreeMap;
    use tantivy_fst::automaton::{AlwaysMatch, Subsequence};

    // The automata the tests walk with, which name no byte.
    impl OneByte for tantivy::query::DfaWrapper {}
    impl OneByte for AlwaysMatch {}
    impl OneByte for Subsequence<'_> {}

    /// The words of every text of `post`, each once: what its vocabulary
    /// should hold, worked out without the recording.
    fn expected_words(post: &Post) -> Vec<String> {
        let mut texts = vec![post.title.clone()];
        for t in [&post.summary, &post.topic, &post.brief, &post.body] {
            texts.extend(t.clone());
        }
        for list in [&post.checklist, &post.stack, &post.tools] {
            texts.extend(list.iter().flatten().cloned());
        }
        let mut words: Vec<String> = texts
            .iter()
            .flat_map(|t| tokens(&mut words_analyzer(), t))
            .map(|(w, _, _)| w)
            .collect();
        words.sort();
        words.dedup();
        words
    }

    fn posts() -> Vec<Post> {
        let mut posts: Vec<Post> = (0..60).map(|n| crate::generated_post(11, n)).collect();
        // 1,100 words of `zq` each, committed apart: over the prefix
        // table's threshold together, not alone.
        for (n, at, words) in [(0, 10, 0..1_100), (1, 50, 1_100..2_200)] {
            let mut many = Post::new(format!("many{n}"), "Many words");
            many.body = Some(
                words
                    .map(|i| format!("zq{i:04}"))
                    .collect::<Vec<_>>()
                    .join(" "),
            );
            posts.insert(at, many);
        }
        let mut odd = Post::new("odd", "Ünïcode Café: naïve résumé, 東京 and Crème");
        odd.body = Some("Déjà vu — the CAFÉ's crème brûlée; e.g. 1,000 runs".into());
        odd.checklist = Some(vec!["Run it".into(), "run IT again".into()]);
        odd.stack = Some(vec!["Node.js".into(), "Café".into()]);
        posts.push(odd);
        posts
    }

    fn expected(posts: &[Post]) -> BTreeMap<String, u32> {
        let mut expected: BTreeMap<String, u32> = BTreeMap::new();
        for p in posts {
            for w in expected_words(p) {
                *expected.entry(w).or_default() += 1;
            }
        }
        expected
    }

    /// Every segment's vocabulary, summed.
    fn found(index: &PostIndex) -> BTreeMap<String, u32> {
        let mut found: BTreeMap<String, u32> = BTreeMap::new();
        for segment in index.searcher().segment_readers() {
            let dictionary = dictionary(segment).unwrap();
            let mut terms = dictionary.stream().unwrap();
            while terms.advance() {
                let word = String::from_utf8(terms.key().to_vec()).unwrap();
                *found.entry(word).or_default() += terms.value().doc_freq;
            }
        }
        found
    }

    /// A writer of two threads that leaves its segments unmerged: a merge
    /// in the background deleted the files of segments a test was reading
    /// (`a_merge_keeps_the_words_of_the_live_posts_only` failed once in
    /// `.ci/run` opening a merged-away segment's vocabulary), and would
    /// drop the deleted posts the test counts before its own merge.
    fn writer(index: &PostIndex) -> Writer {
        let opts = WriterOptions {
            threads: 2,
            ..WriterOptions::default()
        };
        Writer::new(index, opts).unwrap().merging_only_when_asked()
    }

    #[test]
    fn words_of_a_post_are_those_of_every_text() {
        for p in posts() {
            assert_eq!(words_of(&p), expected_words(&p));
        }
    }

    #[test]
    fn the_vocabulary_holds_the_words_of_every_text() {
        let posts = posts();
        let index = PostIndex::create_in_ram().unwrap();
        let mut w = writer(&index);
        for p in posts.clone() {
            w.upsert(p).unwrap();
        }
        w.commit().unwrap();
        assert!(index.searcher().segment_readers().len() > 1);
        assert_eq!(found(&index), expected(&posts));
        prefix_tables(&index);
    }

    /// What tantivy's stream of `dictionary.search(automaton)` finds.
    fn streamed<A: Automaton>(dictionary: &TermDictionary, automaton: A) -> Vec<(Vec<u8>, u32)>
    where
        A::State: Clone,
    {
        let mut stream = dictionary.search(automaton).into_stream().unwrap();
        let mut found = Vec::new();
        while stream.advance() {
            found.push((stream.key().to_vec(), stream.value().doc_freq));
        }
        found
    }

    /// What [`Vocabulary::matching`] finds.
    fn walked<A: OneByte>(vocabulary: &Vocabulary, automaton: &A) -> Vec<(Vec<u8>, u32)>
    where
        A::State: Clone,
    {
        let mut found = Vec::new();
        vocabulary
            .matching(automaton, &mut |w, n| found.push((w.to_vec(), n)))
            .unwrap();
        found
    }

    /// The words that start with these bytes, telling the walk the next
    /// byte while in them.
    struct Prefix(&'static [u8]);

    impl Automaton for Prefix {
        /// Bytes matched, or `None` once a byte differed.
        type State = Option<usize>;
        fn start(&self) -> Option<usize> {
            Some(0)
        }
        fn is_match(&self, state: &Option<usize>) -> bool {
            state.is_some_and(|n| n >= self.0.len())
        }
        fn can_match(&self, state: &Option<usize>) -> bool {
            state.is_some()
        }
        fn accept(&self, state: &Option<usize>, byte: u8) -> Option<usize> {
            match *state {
                Some(n) if n >= self.0.len() => Some(n),
                Some(n) if self.0[n] == byte => Some(n + 1),
                _ => None,
            }
        }
    }

    impl OneByte for Prefix {
        fn one_byte(&self, state: &Option<usize>) -> Option<u8> {
            state.and_then(|n| self.0.get(n).copied())
        }
    }

    #[test]
    fn a_pruned_walk_finds_what_tantivy_streams() {
        let index = PostIndex::create_in_ram().unwrap();
        let mut w = writer(&index);
        for p in posts() {
            w.upsert(p).unwrap();
        }
        w.commit().unwrap();
        let fuzzy = |word: &str, distance: u8| {
            let term =
                tantivy::Term::from_field_text(tantivy::schema::Field::from_field_id(0), word);
            tantivy::query::FuzzyTermQuery::new(term, distance, true)
                .automaton()
                .unwrap()
        };
        let (mut walks, mut fuzzy_found) = (0, 0);
        for segment in index.searcher().segment_readers() {
            let vocabulary = Vocabulary::open(segment).unwrap();
            let mut check = |expected: Vec<(Vec<u8>, u32)>, found: Vec<(Vec<u8>, u32)>| {
                assert_eq!(found, expected);
                walks += 1;
            };
            let all = walked(&vocabulary, &AlwaysMatch);
            assert!(all.len() > 100, "{}", all.len());
            check(streamed(&vocabulary.dictionary, AlwaysMatch), all);
            for (word, distance) in [
                ("cafe", 1),
                ("zq0150", 1),
                ("zq1150", 2),
                ("creme", 2),
                ("résumé", 1),
                ("again", 1),
            ] {
                let automaton = fuzzy(word, distance);
                let found = walked(&vocabulary, &automaton);
                fuzzy_found += found.len();
                check(
                    streamed(&vocabulary.dictionary, fuzzy(word, distance)),
                    found,
                );
            }
            for prefix in [&b"zq1"[..], b"caf", b"z", b"nothing-starts-so"] {
                let found = walked(&vocabulary, &Prefix(prefix));
                check(streamed(&vocabulary.dictionary, Prefix(prefix)), found);
            }
            // An automaton that can always go on, matching words that hold
            // these letters in order.
            for letters in ["zq11", "cfe"] {
                let automaton = Subsequence::new(letters);
                let found = walked(&vocabulary, &automaton);
                check(
                    streamed(&vocabulary.dictionary, Subsequence::new(letters)),
                    found,
                );
            }
        }
        assert!(walks >= 2 * 13, "{walks}");
        assert!(fuzzy_found >= 10, "{fuzzy_found}");
    }

    #[test]
    fn the_counts_survive_the_stem_cache_starting_over() {
        // More distinct words than a thread's stem cache holds, on one
        // thread: the cache starts over between posts, and words met again
        // get a second entry in the segment's counts.
        let mut posts = Vec::new();
        for n in 0..1_100 {
            let mut p = Post::new(format!("p{n}"), "common words again");
            let unique: Vec<String> = (0..100).map(|i| format!("w{n}x{i}")).collect();
            p.body = Some(format!("{} shared{} common", unique.join(" "), n % 7));
            posts.push(p);
        }
        let index = PostIndex::create_in_ram().unwrap();
        let opts = WriterOptions::one_thread();
        let mut w = Writer::new(&index, opts).unwrap();
        for p in posts.clone() {
            w.upsert(p).unwrap();
        }
        w.commit().unwrap();
        assert_eq!(index.searcher().segment_readers().len(), 1);
        let found = found(&index);
        assert_eq!(found["common"], 1_100);
        assert_eq!(found, expected(&posts));
    }

    #[test]
    fn a_merge_keeps_the_words_of_the_live_posts_only() {
        let mut posts = posts();
        let index = PostIndex::create_in_ram().unwrap();
        let mut w = writer(&index);
        for chunk in posts.chunks(20) {
            for p in chunk {
                w.upsert(p.clone()).unwrap();
            }
            w.commit().unwrap();
        }
        // Changed posts (a delete and an add) and deleted ones.
        for n in [3, 25, 47] {
            posts[n].title = format!("Zyxwv rewritten {n}");
            posts[n].body = Some("entirely qwertyuiop".into());
            w.upsert(posts[n].clone()).unwrap();
        }
        let deleted = [posts[5].id.clone(), posts[62].id.clone()];
        for id in &deleted {
            assert!(w.delete(id).unwrap());
        }
        w.commit().unwrap();
        posts.retain(|p| !deleted.contains(&p.id));
        let stale = found(&index);
        assert_ne!(
            stale,
            expected(&posts),
            "before a merge, deleted posts count"
        );
        drop(w);

        let mut raw: tantivy::IndexWriter<PostDocument> =
            index.index().writer_with_num_threads(1, 20 << 20).unwrap();
        let ids = index.index().searchable_segment_ids().unwrap();
        assert!(ids.len() > 1);
        raw.merge(&ids).wait().unwrap();
        raw.wait_merging_threads().unwrap();
        index.reload().unwrap();
        assert_eq!(index.searcher().segment_readers().len(), 1);
        let merged = found(&index);
        assert_eq!(merged, expected(&posts));
        assert!(merged.contains_key("qwertyuiop") && !merged.contains_key("crème"));
        // The merged segment holds the 2,200 words of `zq`: its prefix
        // table, written by the merge, keeps them.
        let tables = prefix_tables(&index);
        assert!(tables[0].completions_kept("zq"));
    }

    /// Each segment's prefix table as written, checked against one built
    /// from the segment's vocabulary.
    fn prefix_tables(index: &PostIndex) -> Vec<PrefixTable> {
        let searcher = index.searcher();
        searcher
            .segment_readers()
            .iter()
            .map(|segment| {
                let file = segment.open_read(crate::prefixes::component());
                assert!(file.is_ok(), "a segment without a prefix table");
                let vocabulary = dictionary(segment).unwrap();
                let file = segment.open_read(crate::prefixes::component());
                let written =
                    PrefixTable::of_file(segment.segment_id(), file, &vocabulary).unwrap();
                assert_eq!(written, PrefixTable::of_vocabulary(&vocabulary).unwrap());
                written
            })
            .collect()
    }
}
