//! The index pages mapped into this process, and giving them back.
//!
//! Postings, term dictionaries, fast fields and stored posts are read
//! through memory maps (see [`crate::directory`]). Every page a search
//! touches stays in the process's resident set until its mapping goes, so
//! a server on a large index grows its resident memory with every word
//! ever searched and every post returned, up to the size of the index,
//! though the pages are the kernel's page cache either way. [`release`]
//! drops this process's mappings of those pages (`madvise(MADV_DONTNEED)`):
//! the next read maps a page back from the page cache (a minor fault), or
//! reads it from disk if the kernel has reclaimed it meanwhile — which
//! unmapped page cache lets it do first. Linux only; elsewhere nothing is
//! measured or released.

use std::io;
use std::path::Path;

/// The bytes of file-backed memory resident in this process (`RssFile`:
/// the mapped index pages, the binary and its libraries); `None` where the
/// system does not tell.
pub fn resident_file_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    kilobytes(&status, "RssFile:")
}

/// The bytes of this process's mappings of files under `root` that are
/// resident (`/proc/self/smaps`); 0 where the system does not tell.
pub fn resident_bytes_under(root: &Path) -> io::Result<u64> {
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
        return Ok(0);
    };
    let root = root.canonicalize()?;
    let mut total = 0;
    let mut counting = false;
    for line in smaps.lines() {
        if let Some(mapping) = Mapping::parse(line) {
            counting = mapping.is_under(&root);
        } else if counting {
            total += kilobytes(line, "Rss:").unwrap_or(0);
        }
    }
    Ok(total)
}

/// What [`release`] drops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pages {
    /// The pages that grow with what is searched: postings, positions and
    /// vocabularies (`.idx`, `.pos`, `.words`), read a word at a time (a
    /// vocabulary when a word's typos or completions are first looked
    /// for), and the document store (`.store`), a block per hit; term
    /// dictionaries, columns and norms, which every search reads, stay.
    Searched,
    /// The pages of every index file.
    All,
}

impl Pages {
    fn covers(self, path: &str) -> bool {
        match self {
            Pages::All => true,
            Pages::Searched => [".idx", ".pos", ".words", ".store"]
                .iter()
                .any(|extension| path.ends_with(extension)),
        }
    }
}

/// Drops the `pages` of this process's read-only mappings of the files
/// under `root` from its resident set, keeping the mappings (see the
/// module documentation); the bytes of mappings advised.
pub fn release(root: &Path, pages: Pages) -> io::Result<u64> {
    let maps = match std::fs::read_to_string("/proc/self/maps") {
        Ok(maps) => maps,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let root = root.canonicalize()?;
    let mut released = 0;
    for mapping in maps.lines().filter_map(Mapping::parse) {
        if !mapping.is_under(&root) || mapping.writable || !pages.covers(mapping.path) {
            continue;
        }
        advise_dont_need(mapping.start, mapping.end - mapping.start)?;
        released += (mapping.end - mapping.start) as u64;
    }
    Ok(released)
}

#[cfg(target_os = "linux")]
fn advise_dont_need(start: usize, len: usize) -> io::Result<()> {
    // SAFETY: the range is a whole mapping of this process (from
    // /proc/self/maps), read-only and backed by an index file that is never
    // written once made: dropping its pages only makes the next read fault
    // them in again from the file, with the same bytes. Any slice over them
    // that tantivy holds reads exactly what it read before.
    let done = unsafe { libc::madvise(start as *mut libc::c_void, len, libc::MADV_DONTNEED) };
    if done == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn advise_dont_need(_start: usize, _len: usize) -> io::Result<()> {
    Ok(())
}

/// The value in kB of the `key` line of a `/proc` status text, in bytes.
fn kilobytes(text: &str, key: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with(key))?;
    let kb: u64 = line[key.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

/// A line of `/proc/self/maps` (or a mapping's first line in `smaps`):
/// `start-end perms offset dev inode path`.
struct Mapping<'a> {
    start: usize,
    end: usize,
    writable: bool,
    path: &'a str,
}

impl<'a> Mapping<'a> {
    fn parse(line: &'a str) -> Option<Mapping<'a>> {
        let mut parts = line.splitn(6, ' ');
        let (start, end) = parts.next()?.split_once('-')?;
        let start = usize::from_str_radix(start, 16).ok()?;
        let end = usize::from_str_radix(end, 16).ok()?;
        let perms = parts.next()?;
        if perms.len() != 4 {
            return None;
        }
        let path = parts.nth(3).unwrap_or("").trim_start();
        Some(Mapping {
            start,
            end,
            writable: perms.as_bytes()[1] == b'w',
            path: path.strip_suffix(" (deleted)").unwrap_or(path),
        })
    }

    fn is_under(&self, root: &Path) -> bool {
        self.path.starts_with('/') && Path::new(self.path).starts_with(root)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_lines_are_read() {
        let m = Mapping::parse(
            "7f3a1c000000-7f3a1c200000 r--s 00000000 fd:01 1234                       /srv/my index/abc.idx (deleted)",
        )
        .unwrap();
        assert_eq!(
            (m.start, m.end, m.writable),
            (0x7f3a1c000000, 0x7f3a1c200000, false)
        );
        assert_eq!(m.path, "/srv/my index/abc.idx");
        assert!(m.is_under(Path::new("/srv/my index")));
        assert!(!m.is_under(Path::new("/srv/my")));
        let anon = Mapping::parse("7ffd1000-7ffd2000 rw-p 00000000 00:00 0 ").unwrap();
        assert!(anon.writable && anon.path.is_empty());
        assert!(Mapping::parse("Rss:                 128 kB").is_none());
        assert_eq!(
            kilobytes("Name:\tx\nRssFile:\t  2048 kB\n", "RssFile:"),
            Some(2 << 20)
        );
    }

    #[test]
    fn postings_and_stored_posts_are_what_grows_with_searching() {
        for file in ["a.idx", "a.pos", "a.words", "a.store"] {
            assert!(Pages::Searched.covers(&format!("/srv/ix/{file}")), "{file}");
        }
        for file in ["a.term", "a.fast", "a.fieldnorm", "meta.json"] {
            assert!(
                !Pages::Searched.covers(&format!("/srv/ix/{file}")),
                "{file}"
            );
            assert!(Pages::All.covers(&format!("/srv/ix/{file}")), "{file}");
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn released_pages_leave_the_resident_set_and_read_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("segment.idx");
        let bytes: Vec<u8> = (0..(4u32 << 20)).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &bytes).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        // SAFETY: a private temporary file, not changed while mapped.
        let map = unsafe { memmap2::Mmap::map(&file) }.unwrap();
        let sum = |m: &[u8]| m.iter().map(|&b| b as u64).sum::<u64>();
        let before = sum(&map);
        assert!(resident_bytes_under(dir.path()).unwrap() >= 2 << 20);
        // Not postings: kept.
        let other = dir.path().join("segment.term");
        std::fs::write(&other, [1u8; 8192]).unwrap();
        let other_map =
            unsafe { memmap2::Mmap::map(&std::fs::File::open(&other).unwrap()) }.unwrap();
        assert_eq!(sum(&other_map), 8192);
        assert!(release(dir.path(), Pages::Searched).unwrap() >= 4 << 20);
        assert!(resident_bytes_under(dir.path()).unwrap() >= 8192);
        assert!(release(dir.path(), Pages::All).unwrap() >= (4 << 20) + 8192);
        assert!(resident_bytes_under(dir.path()).unwrap() < 1 << 20);
        assert_eq!(sum(&map), before);
        assert!(resident_file_bytes().unwrap() > 0);
    }
}
