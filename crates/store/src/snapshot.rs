//! A consistent copy of an index's last commit, to ship to read-only
//! replicas (docs/deploy.md).
//!
//! tantivy never changes a file once written: a commit is a new `meta.json`
//! naming the segments it holds, and the files of segments no commit needs
//! any more are deleted by the writer's clean-up. That clean-up runs only
//! while it holds the index's meta lock, so a snapshot takes the lock,
//! reads `meta.json`, and hard-links (or, across file systems, copies) the
//! files of the segments it names. Writers and servers of the source go on
//! meanwhile; at worst a clean-up is put off to the next commit. The copy
//! is built in a hidden folder beside the destination and renamed into
//! place whole.

use crate::error::{Error, Result};
use crate::index::PostIndex;
use std::collections::BTreeSet;
use std::path::Path;
use tantivy::directory::{Directory, MmapDirectory, META_LOCK};

/// What a snapshot copied.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Snapshot {
    /// Documents in the copied commit.
    pub documents: u64,
    /// Segments of the commit.
    pub segments: usize,
    /// Files hard-linked (same file system: no bytes copied).
    pub linked: usize,
    /// Files copied.
    pub copied: usize,
    /// Bytes of the files (linked or copied).
    pub bytes: u64,
}

impl std::fmt::Display for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} documents in {} segments: {} files linked, {} copied ({:.1} MB)",
            self.documents,
            self.segments,
            self.linked,
            self.copied,
            self.bytes as f64 / 1e6
        )
    }
}

/// Copies the last commit of the index in `src` to `dest`, which must not
/// exist or be an empty folder (see the module documentation).
pub fn snapshot(src: &Path, dest: &Path) -> Result<Snapshot> {
    if !PostIndex::exists(src) {
        return Err(Error::Config(format!(
            "{}: no index here to snapshot",
            src.display()
        )));
    }
    if dest.exists() {
        let empty = std::fs::read_dir(dest)
            .map_err(|e| Error::io(dest, e))?
            .next()
            .is_none();
        if !empty {
            return Err(Error::Config(format!(
                "{}: the snapshot's destination must not exist or be empty",
                dest.display()
            )));
        }
    }
    let tmp = crate::rebuild::sibling(dest, "snapshot");
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    }
    std::fs::create_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    let copied = copy_commit(src, &tmp);
    let mut snap = match copied {
        Ok(snap) => snap,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
    };
    if dest.exists() {
        std::fs::remove_dir(dest).map_err(|e| Error::io(dest, e))?;
    }
    std::fs::rename(&tmp, dest).map_err(|e| Error::io(dest, e))?;
    let index = PostIndex::open(dest)?;
    snap.documents = index.searcher().num_docs();
    Ok(snap)
}

/// Links or copies the files of `src`'s last commit into `to`, under the
/// meta lock.
fn copy_commit(src: &Path, to: &Path) -> Result<Snapshot> {
    let directory = MmapDirectory::open(src).map_err(|e| Error::Index {
        path: src.into(),
        cause: e.into(),
    })?;
    let _lock = directory
        .acquire_lock(&META_LOCK)
        .map_err(|e| Error::Config(format!("{}: cannot take the meta lock: {e}", src.display())))?;
    let meta =
        std::fs::read(src.join("meta.json")).map_err(|e| Error::io(src.join("meta.json"), e))?;
    let segments = segment_ids(&meta)
        .map_err(|e| Error::Config(format!("{}: unreadable meta.json: {e}", src.display())))?;
    let mut snap = Snapshot {
        documents: 0,
        segments: segments.len(),
        linked: 0,
        copied: 0,
        bytes: 0,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(src).map_err(|e| Error::io(src, e))? {
        let entry = entry.map_err(|e| Error::io(src, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !crate::directory::segment_of_file(&name).is_some_and(|id| segments.contains(id)) {
            continue;
        }
        let (from, into) = (entry.path(), to.join(&name));
        snap.bytes += entry.metadata().map_err(|e| Error::io(&from, e))?.len();
        if std::fs::hard_link(&from, &into).is_ok() {
            snap.linked += 1;
        } else {
            std::fs::copy(&from, &into).map_err(|e| Error::io(&from, e))?;
            snap.copied += 1;
        }
        files.push(name);
    }
    files.push("meta.json".into());
    std::fs::write(to.join("meta.json"), &meta).map_err(|e| Error::io(to.join("meta.json"), e))?;
    // The files the copy's own clean-up may delete one day: its own.
    let managed = serde_json::to_vec(&files).expect("a list of names");
    std::fs::write(to.join(".managed.json"), managed)
        .map_err(|e| Error::io(to.join(".managed.json"), e))?;
    Ok(snap)
}

/// The ids of the segments `meta.json` names, as their files start
/// (32 hex digits, no dashes).
fn segment_ids(meta: &[u8]) -> std::result::Result<BTreeSet<String>, String> {
    let value: serde_json::Value = serde_json::from_slice(meta).map_err(|e| e.to_string())?;
    let segments = value["segments"].as_array().ok_or("no `segments` list")?;
    segments
        .iter()
        .map(|s| {
            s["segment_id"]
                .as_str()
                .map(|id| id.replace('-', "").to_ascii_lowercase())
                .ok_or_else(|| "a segment without `segment_id`".to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indexer::{Writer, WriterOptions};

    fn index_of(dir: &Path, ids: std::ops::Range<usize>) {
        let index = PostIndex::open_or_create(dir).unwrap();
        let mut w = Writer::new(&index, WriterOptions::default()).unwrap();
        for i in ids {
            let post: crate::post::Post =
                serde_json::from_str(&format!("{{\"id\":\"p{i}\",\"title\":\"post {i}\"}}"))
                    .unwrap();
            w.upsert(post).unwrap();
        }
        w.finish().unwrap();
    }

    #[test]
    fn a_snapshot_is_the_last_commit_and_opens_as_an_index() {
        let tmp = tempfile::tempdir().unwrap();
        let (src, dest) = (tmp.path().join("src"), tmp.path().join("snap"));
        index_of(&src, 0..50);
        index_of(&src, 50..80);
        let snap = snapshot(&src, &dest).unwrap();
        assert_eq!(snap.documents, 80);
        let segment_files = std::fs::read_dir(&dest)
            .unwrap()
            .filter(|e| {
                let name = e.as_ref().unwrap().file_name();
                let name = name.to_string_lossy();
                !name.starts_with('.') && name != "meta.json"
            })
            .count();
        assert_eq!(snap.linked + snap.copied, segment_files);
        let copy = PostIndex::open(&dest).unwrap();
        assert_eq!(copy.get("p79").unwrap().id, "p79");
        // The source goes on; the snapshot does not change.
        index_of(&src, 80..90);
        assert_eq!(PostIndex::open(&dest).unwrap().searcher().num_docs(), 80);
        // A destination with files in it is refused.
        let err = snapshot(&src, &dest).unwrap_err();
        assert!(
            err.to_string().contains("must not exist or be empty"),
            "{err}"
        );
        assert!(snapshot(&tmp.path().join("none"), &tmp.path().join("x")).is_err());
    }

    #[test]
    fn snapshots_taken_while_a_writer_commits_and_merges_are_whole_commits() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        index_of(&src, 0..10);
        let writer = {
            let src = src.clone();
            std::thread::spawn(move || {
                let index = PostIndex::open_or_create(&src).unwrap();
                let mut w = Writer::new(&index, WriterOptions::default()).unwrap();
                for batch in 1..40 {
                    for i in batch * 10..batch * 10 + 10 {
                        let json = format!("{{\"id\":\"p{i}\",\"title\":\"post {i}\"}}");
                        w.upsert(serde_json::from_str(&json).unwrap()).unwrap();
                    }
                    w.commit().unwrap();
                }
                w.finish().unwrap();
            })
        };
        let mut taken = 0;
        while !writer.is_finished() || taken < 3 {
            let dest = tmp.path().join(format!("snap{taken}"));
            let snap = snapshot(&src, &dest).unwrap();
            assert!(snap.documents.is_multiple_of(10), "{snap}");
            let copy = PostIndex::open(&dest).unwrap();
            let last = snap.documents - 1;
            assert_eq!(
                copy.get(&format!("p{last}")).unwrap().id,
                format!("p{last}")
            );
            taken += 1;
        }
        writer.join().unwrap();
    }
}
