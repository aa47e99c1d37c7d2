//! Building an index anew without putting the one in place at risk: the
//! new index is built in a sibling folder while the old one stays locked
//! for writers (and keeps serving), then the two are exchanged in one step.
//! A failed import leaves the old index as it was; a folder that holds
//! anything but an index is never written into or deleted.

use crate::error::{Error, Result};
use crate::index::PostIndex;
use crate::indexer::{import_paths, ImportSummary, WriterOptions};
use crate::ingest::{ReadItem, ReadOptions};
use std::path::{Path, PathBuf};
use tantivy::Directory;

/// Files a folder may hold and still be taken for an empty index folder
/// (the repository's `index/` keeps a `.gitkeep`).
const KEPT: [&str; 1] = [".gitkeep"];

/// Whether `dir` is missing, an index, or holds nothing but [`KEPT`] files
/// and the files of an index whose creation was cut short: a folder
/// postsearch may write an index into.
pub fn may_hold_an_index(dir: &Path) -> Result<bool> {
    if !dir.exists() || PostIndex::exists(dir) {
        return Ok(true);
    }
    let mut entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    Ok(entries.all(|e| {
        e.is_ok_and(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            KEPT.contains(&name.as_str()) || is_index_file(&name)
        })
    }))
}

/// Whether `name` is a file tantivy writes in an index folder: its meta
/// and lock files, a segment's files (`<32 hex digits>.<ext>`, deletes
/// `<32 hex>.<opstamp>.del`) and its atomic writes' temporary files.
fn is_index_file(name: &str) -> bool {
    if matches!(
        name,
        "meta.json" | ".managed.json" | ".tantivy-meta.lock" | ".tantivy-writer.lock"
    ) || name.starts_with(".tmp")
    {
        return true;
    }
    let (stem, _) = name.split_once('.').unwrap_or((name, ""));
    stem.len() == 32 && stem.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The refusal to write an index into `dir`.
pub fn not_an_index(dir: &Path) -> Error {
    Error::Config(format!(
        "{} holds files that are not a postsearch index; not writing an index into it (choose an empty or new folder)",
        dir.display()
    ))
}

/// Builds the index of `paths` anew in `dir` (see the module
/// documentation). The old index, if any, is replaced only when the import
/// succeeded; its writer lock is held meanwhile, so a concurrent import is
/// refused rather than lost.
pub fn rebuild_paths(
    dir: &Path,
    paths: &[PathBuf],
    read_opts: &ReadOptions,
    writer_opts: WriterOptions,
    on_item: &mut dyn FnMut(&ReadItem),
) -> Result<ImportSummary> {
    if !may_hold_an_index(dir)? {
        return Err(not_an_index(dir));
    }
    let old = if PostIndex::exists(dir) {
        Some(PostIndex::open_to_replace(dir)?)
    } else {
        None
    };
    let _lock = match &old {
        Some(index) => Some(
            writer_opts
                .lock_wait
                .retry(|| {
                    Ok(index
                        .directory()
                        .acquire_lock(&tantivy::directory::INDEX_WRITER_LOCK)?)
                })
                .map_err(|e| {
                    Error::Config(format!(
                        "{}: {}; not rebuilding it",
                        dir.display(),
                        crate::error::plain(&e)
                    ))
                })?,
        ),
        None => None,
    };
    remove_dead_rebuilds(dir);
    let fresh = sibling(dir, "rebuild");
    if fresh.exists() {
        // Left by a rebuild that died: ours by its name, never served.
        std::fs::remove_dir_all(&fresh).map_err(|e| Error::io(&fresh, e))?;
    }
    let built = (|| {
        let index = PostIndex::open_or_create(&fresh)?;
        let summary = import_paths(&index, paths, read_opts, writer_opts, on_item)?;
        for kept in KEPT {
            if dir.join(kept).is_file() {
                std::fs::copy(dir.join(kept), fresh.join(kept))
                    .map_err(|e| Error::io(dir.join(kept), e))?;
            }
        }
        Ok(summary)
    })();
    let summary = match built {
        Ok(summary) => summary,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&fresh);
            return Err(e);
        }
    };
    drop(old);
    if dir.exists() {
        exchange(&fresh, dir)?;
        // `fresh` now holds the old index.
        std::fs::remove_dir_all(&fresh).map_err(|e| Error::io(&fresh, e))?;
    } else {
        std::fs::rename(&fresh, dir).map_err(|e| Error::io(dir, e))?;
    }
    Ok(summary)
}

/// Removes the folders that rebuilds of `dir` killed before their end left
/// beside it (named after a process that no longer runs; never served).
/// We hold the index's writer lock, so no live rebuild of `dir` can be
/// writing one; failing to remove one only leaves it for the next time.
fn remove_dead_rebuilds(dir: &Path) {
    let fresh = sibling(dir, "rebuild");
    let (Some(parent), Some(ours)) = (fresh.parent(), fresh.file_name()) else {
        return;
    };
    let ours = ours.to_string_lossy();
    let Some((prefix, _)) = ours.rsplit_once('-') else {
        return;
    };
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix('-'))
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        let alive = Path::new("/proc").join(pid.to_string()).exists();
        if !alive && pid != std::process::id() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// A hidden folder beside `dir`, named after it, `what` and this process.
pub(crate) fn sibling(dir: &Path, what: &str) -> PathBuf {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "index".into());
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    parent.join(format!(".{name}.{what}-{}", std::process::id()))
}

/// Exchanges two folders in one step (Linux `renameat2(RENAME_EXCHANGE)`):
/// a reader of `b` sees the old folder or the new one, never neither.
#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let ca = CString::new(a.as_os_str().as_bytes()).map_err(|e| Error::io(a, e.into()))?;
    let cb = CString::new(b.as_os_str().as_bytes()).map_err(|e| Error::io(b, e.into()))?;
    // SAFETY: two valid NUL-terminated paths; the call only renames.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            ca.as_ptr(),
            libc::AT_FDCWD,
            cb.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(Error::io(b, std::io::Error::last_os_error()))
    }
}

/// Exchanges two folders with two renames (no atomic exchange here).
#[cfg(not(target_os = "linux"))]
fn exchange(a: &Path, b: &Path) -> Result<()> {
    let aside = sibling(b, "old");
    std::fs::rename(b, &aside).map_err(|e| Error::io(b, e))?;
    std::fs::rename(a, b).map_err(|e| Error::io(b, e))?;
    std::fs::rename(&aside, a).map_err(|e| Error::io(a, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indexer::LockWait;
    use std::time::Duration;

    fn post(id: &str) -> String {
        format!("{{\"id\":\"{id}\",\"title\":\"title of {id}\"}}\n")
    }

    fn docs(dir: &Path) -> u64 {
        let index = PostIndex::open(dir).unwrap();
        index.reload().unwrap();
        index.searcher().num_docs()
    }

    fn rebuild(dir: &Path, file: &Path) -> Result<ImportSummary> {
        rebuild_waiting(dir, file, Duration::ZERO)
    }

    /// A rebuild that waits up to `wait` for another writer's lock.
    fn rebuild_waiting(dir: &Path, file: &Path, wait: Duration) -> Result<ImportSummary> {
        rebuild_paths(
            dir,
            &[file.to_path_buf()],
            &ReadOptions::default(),
            WriterOptions {
                lock_wait: LockWait::up_to(wait),
                ..WriterOptions::default()
            },
            &mut |_| {},
        )
    }

    #[test]
    fn a_rebuild_replaces_the_index_only_when_it_succeeds() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("ix");
        let (one, two) = (tmp.path().join("one.jsonl"), tmp.path().join("two.jsonl"));
        std::fs::write(&one, post("a")).unwrap();
        std::fs::write(&two, format!("{}{}", post("b"), post("c"))).unwrap();
        rebuild(&dir, &one).unwrap();
        assert_eq!(docs(&dir), 1);
        // A missing input: an error, and the old index as it was.
        assert!(rebuild(&dir, &tmp.path().join("missing.jsonl")).is_err());
        assert_eq!(docs(&dir), 1);
        rebuild(&dir, &two).unwrap();
        assert_eq!(docs(&dir), 2);
        // Nothing left beside it.
        let names: Vec<String> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().all(|n| !n.starts_with('.')), "{names:?}");
    }

    #[test]
    fn a_folder_of_other_files_is_refused_and_left_alone() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("mine");
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("notes.txt"), "mine").unwrap();
        let file = tmp.path().join("p.jsonl");
        std::fs::write(&file, post("a")).unwrap();
        let err = rebuild(&dir, &file).unwrap_err().to_string();
        assert!(err.contains("not a postsearch index"), "{err}");
        assert_eq!(
            std::fs::read_to_string(dir.join("notes.txt")).unwrap(),
            "mine"
        );
        assert!(dir.join("sub").is_dir());
        // A folder with only a .gitkeep is an empty index folder; it keeps it.
        let kept = tmp.path().join("kept");
        std::fs::create_dir_all(&kept).unwrap();
        std::fs::write(kept.join(".gitkeep"), "").unwrap();
        rebuild(&kept, &file).unwrap();
        assert!(kept.join(".gitkeep").is_file());
        assert_eq!(docs(&kept), 1);
    }

    #[test]
    fn the_files_of_an_index_cut_short_are_an_index_folder() {
        let tmp = tempfile::tempdir().unwrap();
        for name in [
            ".tantivy-writer.lock",
            ".managed.json",
            "0123456789abcdef0123456789abcdef.idx",
            ".tmpAbC12",
        ] {
            std::fs::write(tmp.path().join(name), "").unwrap();
        }
        assert!(may_hold_an_index(tmp.path()).unwrap());
        std::fs::write(tmp.path().join("0123.idx"), "").unwrap();
        assert!(!may_hold_an_index(tmp.path()).unwrap());
    }

    #[test]
    fn a_rebuild_is_refused_while_another_writer_holds_the_index() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("ix");
        let file = tmp.path().join("p.jsonl");
        std::fs::write(&file, post("a")).unwrap();
        rebuild(&dir, &file).unwrap();
        let index = PostIndex::open_or_create(&dir).unwrap();
        let writer = crate::indexer::Writer::new(&index, WriterOptions::default()).unwrap();
        let started = std::time::Instant::now();
        let err = rebuild_waiting(&dir, &file, Duration::from_millis(300))
            .unwrap_err()
            .to_string();
        assert!(err.contains("another process is writing"), "{err}");
        assert!(err.contains("not rebuilding it"), "{err}");
        assert!(started.elapsed() >= Duration::from_millis(300), "it waited");
        // Let go while the rebuild waits: it goes on.
        let letting_go = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            drop(writer);
        });
        rebuild_waiting(&dir, &file, Duration::from_secs(30)).unwrap();
        letting_go.join().unwrap();
    }
}
