//! The files the vocabulary plugin writes beside each segment's own
//! (`<segment>.words`, `<segment>.prefixes`), opened as the reader loads a
//! searcher generation, before any search sees it.
//!
//! tantivy opens a segment's own files when its reader loads the segment,
//! under the lock that keeps the index's garbage collection out, and a file
//! once opened stays readable after it is deleted. The plugin's files are
//! not tantivy's to open: opened at a generation's first typo or prefix
//! query, as they were, a merge ending in between (which deletes the files
//! of the segments it merged) made that query fail with `FileDoesNotExist`
//! until the reader loaded the next generation. [`PluginFiles`] is a
//! tantivy [`Warmer`]: the reader calls it with each new generation before
//! handing it out, and it keeps that generation's files open while any of
//! its searchers lives.

use crate::{prefixes, vocabulary};
use rustc_hash::FxHashMap;
use std::sync::{Arc, Mutex};
use tantivy::directory::error::OpenReadError;
use tantivy::directory::FileSlice;
use tantivy::index::SegmentId;
use tantivy::{Index, Searcher, SearcherGeneration, SegmentReader, Warmer};

/// A segment's plugin files, each opened or the error opening it gave.
#[derive(Clone)]
pub struct SegmentFiles {
    /// The segment.
    pub segment: SegmentId,
    /// Its vocabulary (see [`vocabulary`]).
    pub words: Result<FileSlice, OpenReadError>,
    /// Its prefix table (see [`prefixes`]); a segment written before the
    /// tables existed has none.
    pub prefixes: Result<FileSlice, OpenReadError>,
}

/// The plugin files of each live searcher generation, in its segments'
/// order.
#[derive(Default)]
pub struct PluginFiles {
    generations: Mutex<FxHashMap<u64, Arc<[SegmentFiles]>>>,
}

impl PluginFiles {
    /// The plugin files of `searcher`'s segments, in their order: those
    /// opened when its generation was loaded, or opened now for a searcher
    /// of a reader this does not warm.
    pub fn of(&self, searcher: &Searcher) -> tantivy::Result<Arc<[SegmentFiles]>> {
        let generation = searcher.generation().generation_id();
        if let Some(files) = self.lock().get(&generation) {
            return Ok(files.clone());
        }
        open_all(searcher)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FxHashMap<u64, Arc<[SegmentFiles]>>> {
        self.generations.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Warmer for PluginFiles {
    /// Opens the new generation's files. Fails with `FileDoesNotExist` when
    /// a segment's vocabulary is gone because the segment was merged away
    /// since the reader opened it: the generation is already out of date,
    /// and the reader keeps the one before (see [`crate::index::PostIndex::reload`]).
    fn warm(&self, searcher: &Searcher) -> tantivy::Result<()> {
        let files = open_all(searcher)?;
        let generation = searcher.generation().generation_id();
        self.lock().insert(generation, files);
        Ok(())
    }

    fn garbage_collect(&self, live: &[&SearcherGeneration]) {
        self.lock()
            .retain(|generation, _| live.iter().any(|g| g.generation_id() == *generation));
    }
}

fn open_all(searcher: &Searcher) -> tantivy::Result<Arc<[SegmentFiles]>> {
    searcher
        .segment_readers()
        .iter()
        .map(|segment| open(searcher.index(), segment))
        .collect()
}

fn open(index: &Index, segment: &SegmentReader) -> tantivy::Result<SegmentFiles> {
    let words = segment.open_read(vocabulary::component());
    let prefixes = segment.open_read(prefixes::component());
    if let Err(missing @ OpenReadError::FileDoesNotExist(_)) = &words {
        if !index
            .searchable_segment_ids()?
            .contains(&segment.segment_id())
        {
            return Err(missing.clone().into());
        }
    }
    Ok(SegmentFiles {
        segment: segment.segment_id(),
        words,
        prefixes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::PostIndex;
    use crate::indexer::{Writer, WriterOptions};
    use crate::vocabulary::Vocabulary;
    use crate::{document::PostDocument, generated_post};
    use tantivy::TantivyError;

    fn gone<T>(opened: tantivy::Result<T>) -> bool {
        matches!(
            opened,
            Err(TantivyError::OpenReadError(
                OpenReadError::FileDoesNotExist(_)
            ))
        )
    }

    /// The words of each vocabulary in `files`.
    fn words(files: &[SegmentFiles]) -> Vec<usize> {
        files
            .iter()
            .map(|f| {
                let vocabulary = Vocabulary::of_file(f.segment, f.words.clone().unwrap()).unwrap();
                assert!(f.prefixes.is_ok());
                vocabulary.dictionary.num_terms()
            })
            .collect()
    }

    #[test]
    fn a_generation_keeps_its_files_after_a_merge_deletes_them() {
        let index = PostIndex::create_in_ram().unwrap();
        let mut w = Writer::new(&index, WriterOptions::one_thread())
            .unwrap()
            .merging_only_when_asked();
        for n in 0..60 {
            w.upsert(generated_post(5, n)).unwrap();
            if n % 20 == 19 {
                w.commit().unwrap();
            }
        }
        drop(w);
        let before = index.searcher();
        assert_eq!(before.segment_readers().len(), 3);

        let mut raw: tantivy::IndexWriter<PostDocument> =
            index.index().writer_with_num_threads(1, 20 << 20).unwrap();
        let ids = index.index().searchable_segment_ids().unwrap();
        raw.merge(&ids).wait().unwrap();
        raw.garbage_collect_files().wait().unwrap();
        raw.wait_merging_threads().unwrap();

        // The merged segments' files are gone: opened now, at the
        // generation's first typo or prefix query, they could not be.
        for segment in before.segment_readers() {
            assert!(gone(Vocabulary::open(segment)));
        }
        // Opened as the generation was loaded, they still read.
        let files = index.plugin_files().of(&before).unwrap();
        assert_eq!(files.len(), 3);
        assert!(
            words(&files).iter().all(|&n| n > 100),
            "{:?}",
            words(&files)
        );
        // A generation whose segments were merged away before it was
        // warmed is refused, and the reader loads the newer one.
        assert!(gone(PluginFiles::default().warm(&before)));
        index.reload().unwrap();
        let after = index.searcher();
        assert_eq!(after.segment_readers().len(), 1);
        let merged = words(&index.plugin_files().of(&after).unwrap());
        assert!(merged[0] > words(&files)[0], "{merged:?}");

        // Generations no searcher holds are let go.
        drop(before);
        let live = [after.generation()];
        index.plugin_files().garbage_collect(&live);
        assert_eq!(index.plugin_files().lock().len(), 1);
    }
}
