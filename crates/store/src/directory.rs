//! The index directory: tantivy's memory-mapped directory, except that
//! positions when searching, and the document store when importing, are
//! read with positioned reads (`pread`), and that files being written are
//! handed to the kernel's writeback as they grow (`WrittenBack`).
//!
//! Positions are read by phrase queries only, a word's whole list at a
//! time; mapped, every list a phrase ever touched stayed in the resident
//! set, while a copy lives for one query (short lists, a page or two, stay
//! mapped). Postings, term dictionaries, fast fields and the document
//! store are mapped: a query reads them in place, and a server drops the
//! mapped pages it keeps past a budget ([`crate::mapped`]), the store's
//! among the first. A large read of positions (those of a word in most
//! posts) goes through the mapping rather than the heap.
//!
//! The store was read by `pread` too, a block per hit, to keep the blocks
//! queries returned out of the resident set (most of a 1M-post index is
//! its store), before the server bounded its mapped pages. Mapped, a hit
//! costs no system call and no copy: realposts.py 100k, default answers in
//! process, one thread, p50 0.507 → 0.469 ms (medians of 5 interleaved
//! rounds); 1M posts served under 32 connections, 87–93 searches/s and
//! VmHWM 213–217 MiB against 93 searches/s and 207–209 MiB. An import
//! keeps reading the store's blocks by `pread`, as before: its merges read
//! every block of the segments they merge, which mapped would all join its
//! resident set, and it has no watcher to give them back.
//!
//! For searching, the mappings are advised as random access: the kernel
//! then maps the pages a query touches, not the read-ahead around them (an
//! import keeps the default advice: its merges read segments in order).
//! Measured on 1M posts (32 connections, 60 s of the built-in mix):
//! resident set 633 MiB with tantivy's stock directory, 476 MiB with the
//! store read by `pread`, 371 MiB with random advice as well; throughput
//! and cold-cache latency unchanged within noise. Later, with 7 segments:
//! 297–300 MiB with positions mapped (83 MiB of it positions), 260–264 MiB
//! with positions read by `pread`; search-box and phrase latency unchanged
//! within noise.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::ops::{Range, RangeInclusive};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tantivy::directory::error::{DeleteError, LockError, OpenReadError, OpenWriteError};
use tantivy::directory::{
    Advice, AntiCallToken, Directory, DirectoryLock, FileHandle, Lock, MmapDirectory, OwnedBytes,
    TerminatingWrite, WatchCallback, WatchHandle, WritePtr, META_LOCK,
};
use tantivy::HasLen;

/// An import's reads of the store larger than this use the memory map, not
/// the heap: its skip index, a merge copying a segment's whole store, the
/// block of a very large post. Blocks of ordinary posts are a few KB.
const LARGEST_STORE_READ: usize = 256 << 10;

/// Reads of positions outside this range use the memory map: short lists
/// touch a page or two, and a system call would cost more than it saves;
/// the lists of the few words in nearly every post (`the`) would cost more
/// to copy than to map. Bounds what a phrase query holds on the heap.
const POSITIONS_HEAP_READS: RangeInclusive<usize> = (16 << 10)..=(4 << 20);

/// The id of the segment a file of the index folder belongs to: its name's
/// stem when that is a segment id (32 hex digits, as `uuid_string` writes
/// it), as in `<id>.store`; `None` for `meta.json` and other files.
pub(crate) fn segment_of_file(name: &str) -> Option<&str> {
    let stem = name.split('.').next().unwrap_or("");
    (stem.len() == 32 && stem.bytes().all(|b| b.is_ascii_hexdigit())).then_some(stem)
}

/// An index directory on disk; see the module documentation.
#[derive(Clone, Debug)]
pub struct IndexDirectory {
    root: PathBuf,
    mmap: MmapDirectory,
    /// Searching: positions by `pread`, the store mapped. Importing:
    /// positions mapped (merges read every list in order), the store's
    /// blocks by `pread` (a merge reads every block of the segments it
    /// merges).
    searching: bool,
}

impl IndexDirectory {
    /// Opens the existing directory `root` for searching: mappings advised
    /// random, positions read by `pread`.
    pub fn open(root: &Path) -> tantivy::Result<IndexDirectory> {
        Self::with_advice(root, Advice::Random, true)
    }

    /// Opens the existing directory `root` for an import: merges read
    /// whole segments in order, which read-ahead serves best.
    pub fn open_for_import(root: &Path) -> tantivy::Result<IndexDirectory> {
        Self::with_advice(root, Advice::Normal, false)
    }

    fn with_advice(
        root: &Path,
        advice: Advice,
        searching: bool,
    ) -> tantivy::Result<IndexDirectory> {
        Ok(IndexDirectory {
            root: root.to_path_buf(),
            mmap: MmapDirectory::open_with_madvice(root, advice)?,
            searching,
        })
    }

    /// The sizes of the reads of `path` made with `pread`, if any are.
    fn heap_reads(&self, path: &Path) -> Option<RangeInclusive<usize>> {
        match path.extension()?.to_str()? {
            "pos" if self.searching => Some(POSITIONS_HEAP_READS),
            "store" if !self.searching => Some(0..=LARGEST_STORE_READ),
            _ => None,
        }
    }
}

impl Directory for IndexDirectory {
    fn get_file_handle(&self, path: &Path) -> Result<Arc<dyn FileHandle>, OpenReadError> {
        let Some(heap_reads) = self.heap_reads(path) else {
            return self.mmap.get_file_handle(path);
        };
        let file = File::open(self.root.join(path)).map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                OpenReadError::FileDoesNotExist(path.to_path_buf())
            } else {
                OpenReadError::wrap_io_error(e, path.to_path_buf())
            }
        })?;
        let len = file
            .metadata()
            .map_err(|e| OpenReadError::wrap_io_error(e, path.to_path_buf()))?
            .len() as usize;
        Ok(Arc::new(PositionedFile {
            file,
            len,
            heap_reads,
            path: path.to_path_buf(),
            mmap: self.mmap.clone(),
            mapped: Mutex::new(None),
        }))
    }

    fn delete(&self, path: &Path) -> Result<(), DeleteError> {
        self.mmap.delete(path)
    }

    fn exists(&self, path: &Path) -> Result<bool, OpenReadError> {
        self.mmap.exists(path)
    }

    /// As tantivy's directory opens a file to write, with its bytes handed
    /// to the kernel's writeback as they come (`WrittenBack`).
    fn open_write(&self, path: &Path) -> Result<WritePtr, OpenWriteError> {
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(self.root.join(path))
            .map_err(|e| {
                if e.kind() == io::ErrorKind::AlreadyExists {
                    OpenWriteError::FileAlreadyExists(path.to_path_buf())
                } else {
                    OpenWriteError::wrap_io_error(e, path.to_path_buf())
                }
            })?;
        Ok(BufWriter::new(Box::new(WrittenBack::new(file))))
    }

    fn atomic_read(&self, path: &Path) -> Result<Vec<u8>, OpenReadError> {
        self.mmap.atomic_read(path)
    }

    fn atomic_write(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        self.mmap.atomic_write(path, data)
    }

    fn sync_directory(&self) -> io::Result<()> {
        self.mmap.sync_directory()
    }

    fn acquire_lock(&self, lock: &Lock) -> Result<DirectoryLock, LockError> {
        match self.mmap.acquire_lock(lock) {
            // The meta lock only keeps a writer's clean-up from deleting the
            // files a reader is opening. Where it cannot even be created (a
            // read-only volume), no writer of this folder runs on this
            // side, and readers go without it.
            Err(LockError::IoError(_)) if lock.filepath == META_LOCK.filepath => {
                Ok(DirectoryLock::from(Box::new(())))
            }
            other => other,
        }
    }

    fn watch(&self, callback: WatchCallback) -> tantivy::Result<WatchHandle> {
        self.mmap.watch(callback)
    }
}

/// A file read with positioned reads into owned buffers; large reads go
/// through the directory's memory map.
struct PositionedFile {
    file: File,
    len: usize,
    /// Sizes of the reads made with `pread`; others use the mapping.
    heap_reads: RangeInclusive<usize>,
    path: PathBuf,
    mmap: MmapDirectory,
    mapped: Mutex<Option<Arc<dyn FileHandle>>>,
}

impl PositionedFile {
    fn mapped(&self) -> io::Result<Arc<dyn FileHandle>> {
        let mut mapped = self.mapped.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(handle) = mapped.as_ref() {
            return Ok(handle.clone());
        }
        let handle = self
            .mmap
            .get_file_handle(&self.path)
            .map_err(|e| io::Error::other(e.to_string()))?;
        *mapped = Some(handle.clone());
        Ok(handle)
    }
}

impl fmt::Debug for PositionedFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PositionedFile({:?}, {} bytes)", self.path, self.len)
    }
}

impl HasLen for PositionedFile {
    fn len(&self) -> usize {
        self.len
    }
}

impl FileHandle for PositionedFile {
    fn read_bytes(&self, range: Range<usize>) -> io::Result<OwnedBytes> {
        if !self.heap_reads.contains(&range.len()) {
            return self.mapped()?.read_bytes(range);
        }
        let mut buf = vec![0u8; range.len()];
        read_exact_at(&self.file, &mut buf, range.start as u64)?;
        Ok(OwnedBytes::new(buf))
    }
}

/// Bytes a file being written gathers before the kernel is asked to start
/// writing them out (see [`WrittenBack`]).
const WRITEBACK_EVERY: u64 = 8 << 20;

/// A file being written whose bytes the kernel is asked to start writing
/// out every [`WRITEBACK_EVERY`] bytes, without waiting for them (Linux's
/// `sync_file_range`, as RocksDB's `bytes_per_sync` does). Left to the
/// kernel, an import's segments (190 MiB for realposts.py 100k) stay dirty
/// in the page cache until each file's `fsync` as the commit ends, which
/// then waits for all of them while the cores have nothing else to do.
/// Durability is as before: a finished file is synced, and the commit
/// syncs the folder.
struct WrittenBack {
    file: File,
    written: u64,
    /// Where the bytes not yet handed to the writeback start.
    unsent: u64,
}

impl WrittenBack {
    fn new(file: File) -> WrittenBack {
        WrittenBack {
            file,
            written: 0,
            unsent: 0,
        }
    }
}

impl Write for WrittenBack {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.written += n as u64;
        if self.written - self.unsent >= WRITEBACK_EVERY {
            start_writeback(&self.file, self.unsent, self.written - self.unsent);
            self.unsent = self.written;
        }
        Ok(n)
    }

    /// Every write went to the file already (as in tantivy's directory).
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl TerminatingWrite for WrittenBack {
    fn terminate_ref(&mut self, _: AntiCallToken) -> io::Result<()> {
        self.file.flush()?;
        self.file.sync_data()
    }
}

/// Asks the kernel to start writing out `len` bytes of `file` from
/// `offset`, and returns without waiting. A refusal changes nothing: the
/// file's final sync writes whatever is left.
#[cfg(target_os = "linux")]
fn start_writeback(file: &File, offset: u64, len: u64) {
    use std::os::unix::io::AsRawFd;
    let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else {
        return;
    };
    // SAFETY: the descriptor is the open file's; the call starts the
    // writeback of its range and touches no memory of this process.
    unsafe {
        libc::sync_file_range(file.as_raw_fd(), offset, len, libc::SYNC_FILE_RANGE_WRITE);
    }
}

#[cfg(not(target_os = "linux"))]
fn start_writeback(_: &File, _: u64, _: u64) {}

#[cfg(unix)]
fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(windows)]
fn read_exact_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match file.seek_read(buf, offset)? {
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            n => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use tantivy::directory::TerminatingWrite;

    #[test]
    fn a_segment_file_is_told_by_its_stem() {
        let id = "0123456789abcdef0123456789abcdef";
        assert_eq!(segment_of_file(&format!("{id}.store")), Some(id));
        assert_eq!(segment_of_file(&format!("{id}.1.del")), Some(id));
        assert_eq!(segment_of_file("meta.json"), None);
        assert_eq!(segment_of_file(".managed.json"), None);
        assert_eq!(
            segment_of_file("0123456789abcdef0123456789abcdeg.idx"),
            None
        );
    }

    fn write(dir: &IndexDirectory, name: &str, data: &[u8]) {
        let mut w = dir.open_write(Path::new(name)).unwrap();
        w.write_all(data).unwrap();
        w.terminate().unwrap();
    }

    fn read_by_pread(dir: &IndexDirectory, name: &str) -> bool {
        format!("{:?}", dir.get_file_handle(Path::new(name)).unwrap()).starts_with("PositionedFile")
    }

    #[test]
    fn files_read_by_pread_give_the_same_bytes_as_mapped_files() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = IndexDirectory::open(tmp.path()).unwrap();
        let data: Vec<u8> = (0..POSITIONS_HEAP_READS.end() + 4096)
            .map(|i| (i * 31 % 251) as u8)
            .collect();
        for name in ["a.store", "a.pos", "a.idx"] {
            write(&dir, name, &data);
        }
        let mapped = dir.open_read(Path::new("a.idx")).unwrap();
        let n = data.len();
        let ranges = [
            0..0,
            0..10,
            1000..9000,
            7..LARGEST_STORE_READ + 7,
            5..POSITIONS_HEAP_READS.start() + 5,
            5..POSITIONS_HEAP_READS.end() + 5,
            0..n,
        ];
        // Positions when searching, the store when importing.
        let import = IndexDirectory::open_for_import(tmp.path()).unwrap();
        for (dir, name) in [(&dir, "a.pos"), (&import, "a.store")] {
            assert!(read_by_pread(dir, name), "{name}");
            let file = dir.open_read(Path::new(name)).unwrap();
            assert_eq!(file.len(), n);
            for range in ranges.clone() {
                let a = file.slice(range.clone()).read_bytes().unwrap();
                let b = mapped.slice(range.clone()).read_bytes().unwrap();
                assert_eq!(a.as_slice(), &data[range.clone()]);
                assert_eq!(a.as_slice(), b.as_slice());
            }
        }
        assert!(!read_by_pread(&dir, "a.idx"));
        assert!(!read_by_pread(&dir, "a.store"));
    }

    #[test]
    fn imports_map_positions_and_read_the_store() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = IndexDirectory::open_for_import(tmp.path()).unwrap();
        write(&dir, "a.pos", b"positions");
        write(&dir, "a.store", b"store");
        assert!(!read_by_pread(&dir, "a.pos"));
        assert!(read_by_pread(&dir, "a.store"));
    }

    #[test]
    fn a_file_written_past_several_writebacks_reads_back_whole() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = IndexDirectory::open_for_import(tmp.path()).unwrap();
        let len = 2 * WRITEBACK_EVERY as usize + 12_345;
        let data: Vec<u8> = (0..len).map(|i| (i * 7 % 253) as u8).collect();
        let mut w = dir.open_write(Path::new("a.store")).unwrap();
        // Uneven pieces, some larger than the writer's buffer.
        for piece in data.chunks(100_003) {
            w.write_all(piece).unwrap();
        }
        w.terminate().unwrap();
        assert_eq!(std::fs::read(tmp.path().join("a.store")).unwrap(), data);
        assert!(matches!(
            dir.open_write(Path::new("a.store")),
            Err(OpenWriteError::FileAlreadyExists(_))
        ));
    }

    #[test]
    fn a_missing_store_is_reported_as_missing() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = IndexDirectory::open(tmp.path()).unwrap();
        assert!(matches!(
            dir.open_read(Path::new("nope.store")),
            Err(OpenReadError::FileDoesNotExist(_))
        ));
    }
}
