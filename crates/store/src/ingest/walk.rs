//! Walking paths (files, directories, `-` for stdin) and dispatching each
//! file to the reader for its format.

use super::{json, text, ReadItem, Rejection, SourcedPost};
use serde::Serialize;
use std::fs::File;
use std::io::{BufRead, BufReader, ErrorKind, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use walkdir::WalkDir;

/// The format of one input file, chosen by its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `.txt`: one post in the text form.
    Text,
    /// `.json`: one post (or an array of posts).
    Json,
    /// `.jsonl` / `.ndjson`: one post per line.
    Jsonl,
}

impl Format {
    /// The format for `path`'s extension (case-insensitive), if any.
    pub fn from_path(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "txt" => Some(Format::Text),
            "json" => Some(Format::Json),
            "jsonl" | "ndjson" => Some(Format::Jsonl),
            _ => None,
        }
    }
}

/// Limits that keep a hostile input from exhausting memory.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// Largest `.txt` / `.json` file read whole (they are one post each).
    pub max_file_bytes: u64,
    /// Longest JSONL line; a longer one is rejected without being buffered.
    pub max_line_bytes: usize,
    /// Set to stop reading (Ctrl-C): the walk ends at the next file or
    /// line, and [`ReadOptions::stopped`] says so.
    pub stop: Option<Arc<AtomicBool>>,
    /// Counts the bytes of input read so far (a progress bar's position;
    /// see [`input_bytes`] for the total).
    pub bytes_read: Option<Arc<AtomicU64>>,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            max_file_bytes: 16 << 20,
            max_line_bytes: 16 << 20,
            stop: None,
            bytes_read: None,
        }
    }
}

impl ReadOptions {
    fn count(&self, n: u64) {
        if let Some(c) = &self.bytes_read {
            c.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Whether reading was asked to stop.
    pub fn stopped(&self) -> bool {
        self.stop
            .as_ref()
            .is_some_and(|s| s.load(Ordering::Relaxed))
    }
}

/// What a walk of folders passed over without reading (files of other
/// types aside, which are not posts), reported in one line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// Symbolic links to folders, and links that lead nowhere.
    pub links: u64,
    /// FIFOs, sockets and devices.
    pub special: u64,
    /// Hidden files and folders (names starting with `.`).
    pub hidden: u64,
    /// Folders holding an index (the one written to, or any other).
    pub index_folders: u64,
}

impl Skipped {
    /// Whether nothing was skipped.
    pub fn is_empty(&self) -> bool {
        *self == Skipped::default()
    }
}

impl std::fmt::Display for Skipped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = [
            (self.links, "symbolic link(s) to folders or to nothing"),
            (self.special, "FIFO(s), socket(s) or device(s)"),
            (self.hidden, "hidden file(s) or folder(s)"),
            (self.index_folders, "index folder(s)"),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
        write!(f, "skipped {}", parts.join(", "))
    }
}

/// Whether `dir` holds a tantivy index (its files are never posts): a
/// committed one with tantivy's list of its files.
fn holds_index(dir: &Path) -> bool {
    crate::index::PostIndex::exists(dir) && dir.join(".managed.json").is_file()
}

/// Reads every post under `paths` and hands each one, or its rejection, to
/// `sink`; returns what the walk of folders skipped. Fails only when a path
/// does not exist or cannot be listed; all paths are checked before
/// anything is read. A path named explicitly that is not a regular file or
/// a folder (a FIFO, `/dev/zero`) is a rejection, not read.
pub fn read_paths(
    paths: &[PathBuf],
    opts: &ReadOptions,
    sink: &mut dyn FnMut(ReadItem),
) -> crate::Result<Skipped> {
    for path in paths.iter().filter(|p| !is_stdin(p)) {
        std::fs::metadata(path).map_err(|e| crate::Error::io(path, e))?;
    }
    let mut skipped = Skipped::default();
    for path in paths {
        if opts.stopped() {
            break;
        }
        if is_stdin(path) {
            read_reader_jsonl(&mut std::io::stdin().lock(), "-", opts, sink);
        } else if path.is_dir() {
            read_dir(path, opts, sink, &mut skipped)?;
        } else if std::fs::metadata(path).is_ok_and(|m| m.is_file()) {
            read_file(path, opts, sink);
        } else {
            let reason = "not a regular file (a FIFO, a socket or a device); not read";
            sink(Err(Rejection::new(path.display().to_string(), 0, reason)));
        }
    }
    Ok(skipped)
}

fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// Reads the post files under `dir`, recursively, in file-name order.
/// Files of other types are passed over; hidden entries, index folders,
/// links to folders or to nothing, and special files are skipped and
/// counted in `skipped`; an unreadable entry is a rejection.
fn read_dir(
    dir: &Path,
    opts: &ReadOptions,
    sink: &mut dyn FnMut(ReadItem),
    skipped: &mut Skipped,
) -> crate::Result<()> {
    let mut files = |path: &Path, sink: &mut dyn FnMut(ReadItem)| read_file(path, opts, sink);
    walk_dir(dir, opts, sink, skipped, &mut files)
}

/// What [`walk_dir`] does with each post file (and where its posts go).
type OnFile<'a> = dyn FnMut(&Path, &mut dyn FnMut(ReadItem)) + 'a;

/// Hands each post file under `dir` to `file` (see [`read_dir`]).
fn walk_dir(
    dir: &Path,
    opts: &ReadOptions,
    sink: &mut dyn FnMut(ReadItem),
    skipped: &mut Skipped,
    file: &mut OnFile,
) -> crate::Result<()> {
    let mut walk = WalkDir::new(dir).sort_by_file_name().into_iter();
    while let Some(entry) = walk.next() {
        if opts.stopped() {
            break;
        }
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) if e.depth() == 0 => return Err(crate::Error::io(dir, e.into())),
            Err(e) => {
                let at = e.path().unwrap_or(dir).display().to_string();
                sink(Err(Rejection::new(at, 0, format!("cannot read: {e}"))));
                continue;
            }
        };
        let path = entry.path();
        let kind = entry.file_type();
        if entry.depth() > 0 && entry.file_name().to_string_lossy().starts_with('.') {
            skipped.hidden += 1;
            if kind.is_dir() {
                walk.skip_current_dir();
            }
            continue;
        }
        if kind.is_dir() {
            if holds_index(path) {
                skipped.index_folders += 1;
                walk.skip_current_dir();
            }
            continue;
        }
        let is_file = if kind.is_symlink() {
            let target = std::fs::metadata(path);
            if !target.as_ref().is_ok_and(|m| m.is_file()) {
                skipped.links += 1;
                continue;
            }
            true
        } else {
            kind.is_file()
        };
        if !is_file {
            skipped.special += 1;
        } else if Format::from_path(path).is_some() {
            file(path, sink);
        }
    }
    Ok(())
}

/// The bytes [`read_paths`] would read from `paths`: the sizes of the post
/// files it would find. `None` when one of them is stdin (no size known).
pub fn input_bytes(paths: &[PathBuf]) -> Option<u64> {
    let mut total = 0;
    let opts = ReadOptions::default();
    for path in paths {
        if is_stdin(path) {
            return None;
        }
        if path.is_dir() {
            let mut size = |p: &Path, _: &mut dyn FnMut(ReadItem)| {
                total += std::fs::metadata(p).map_or(0, |m| m.len());
            };
            let _ = walk_dir(path, &opts, &mut |_| {}, &mut Skipped::default(), &mut size);
        } else {
            total += std::fs::metadata(path).map_or(0, |m| m.len());
        }
    }
    Some(total)
}

/// A reader that counts the bytes it reads into [`ReadOptions::bytes_read`].
struct Counted<'a, R> {
    inner: R,
    opts: &'a ReadOptions,
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.opts.count(n as u64);
        Ok(n)
    }
}

/// Reads one file in the format its extension names.
fn read_file(path: &Path, opts: &ReadOptions, sink: &mut dyn FnMut(ReadItem)) {
    let name = path.display().to_string();
    let Some(format) = Format::from_path(path) else {
        let reason = "unsupported file type (expected .txt, .json, .jsonl or .ndjson)";
        return sink(Err(Rejection::new(name, 0, reason)));
    };
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) => return sink(Err(Rejection::new(name, 0, format!("cannot read: {e}")))),
    };
    if format == Format::Jsonl {
        let counted = Counted { inner: file, opts };
        let mut reader = BufReader::with_capacity(64 << 10, counted);
        return read_reader_jsonl(&mut reader, &name, opts, sink);
    }
    let bytes = match read_limited(file, opts.max_file_bytes) {
        Ok(bytes) => bytes,
        Err(reason) => return sink(Err(Rejection::new(name, 0, reason))),
    };
    opts.count(bytes.len() as u64);
    match format {
        Format::Text => text::parse_all(&bytes, &name, &mut |parsed| {
            sink(parsed.map(|(post, line)| SourcedPost {
                post,
                path: name.clone(),
                line,
            }))
        }),
        _ => json::parse_json_document(&bytes, &name, sink),
    }
}

/// Reads a whole file of at most `max` bytes, checking its size first.
fn read_limited(file: File, max: u64) -> Result<Vec<u8>, String> {
    let over = |n: u64| format!("file is {n} bytes, over the limit of {max}");
    let len = file
        .metadata()
        .map_err(|e| format!("cannot read: {e}"))?
        .len();
    if len > max {
        return Err(over(len));
    }
    let mut bytes = Vec::with_capacity(len as usize);
    let read = file.take(max + 1).read_to_end(&mut bytes);
    read.map_err(|e| format!("cannot read: {e}"))?;
    if bytes.len() as u64 > max {
        return Err(format!("file is over the limit of {max} bytes"));
    }
    Ok(bytes)
}

/// What [`read_line_limited`] found.
enum LineRead {
    /// A line (possibly empty) is in the buffer.
    Line,
    /// A line of this many bytes was skipped: it is over the limit.
    TooLong(u64),
    /// End of input.
    Eof,
}

/// Reads one line (without its `\n`) into `buf`, buffering at most `max`
/// bytes: a longer line is consumed in chunks and reported as too long.
fn read_line_limited(
    reader: &mut dyn BufRead,
    buf: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<LineRead> {
    buf.clear();
    let mut total: u64 = 0;
    let mut too_long = false;
    loop {
        let chunk = match reader.fill_buf() {
            Ok(chunk) => chunk,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            return Ok(match (total, too_long) {
                (0, _) => LineRead::Eof,
                (n, true) => LineRead::TooLong(n),
                _ => LineRead::Line,
            });
        }
        let newline = chunk.iter().position(|b| *b == b'\n');
        let part = &chunk[..newline.unwrap_or(chunk.len())];
        total += part.len() as u64;
        if !too_long && buf.len() + part.len() > max {
            too_long = true;
            buf.clear();
            buf.shrink_to(max.min(1 << 20));
        } else if !too_long {
            buf.extend_from_slice(part);
        }
        let used = part.len() + usize::from(newline.is_some());
        reader.consume(used);
        if newline.is_some() {
            return Ok(if too_long {
                LineRead::TooLong(total)
            } else {
                LineRead::Line
            });
        }
    }
}

/// Reads JSONL from any reader (stdin, an HTTP body), naming it `path` in
/// rejections: one post per line, blank lines skipped.
pub fn read_reader_jsonl(
    reader: &mut dyn BufRead,
    path: &str,
    opts: &ReadOptions,
    sink: &mut dyn FnMut(ReadItem),
) {
    let mut buf = Vec::new();
    for line in 1.. {
        if opts.stopped() {
            break;
        }
        match read_line_limited(reader, &mut buf, opts.max_line_bytes) {
            Ok(LineRead::Eof) => break,
            Ok(LineRead::Line) => jsonl_line(&buf, path, line, sink),
            Ok(LineRead::TooLong(n)) => {
                let max = opts.max_line_bytes;
                let reason = format!("line is {n} bytes, over the limit of {max}");
                sink(Err(Rejection::new(path, line, reason)));
            }
            Err(e) => {
                sink(Err(Rejection::new(path, line, format!("read error: {e}"))));
                break;
            }
        }
    }
}

/// Hands one JSONL line to `sink`, unless it is blank.
fn jsonl_line(bytes: &[u8], path: &str, line: usize, sink: &mut dyn FnMut(ReadItem)) {
    let mut bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
    if line == 1 {
        bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    }
    match std::str::from_utf8(bytes) {
        Err(e) => {
            let at = e.valid_up_to() + 1;
            let reason = format!("invalid UTF-8 at column {at}");
            sink(Err(Rejection::new(path, line, reason)));
        }
        Ok(text) if text.trim().is_empty() => {}
        Ok(text) => sink(json::parse_jsonl_line(text, path, line)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    /// Reads `paths`, returning the posts' `(id, file name, line)` and the
    /// rejections as `file name:line: reason`.
    fn read(paths: &[PathBuf], opts: &ReadOptions) -> (Vec<(String, String, usize)>, Vec<String>) {
        let (mut posts, mut errs) = (Vec::new(), Vec::new());
        let name = |p: &str| {
            Path::new(p)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        };
        read_paths(paths, opts, &mut |item| match item {
            Ok(p) => posts.push((p.post.id, name(&p.path), p.line)),
            Err(r) => errs.push(format!("{}:{}: {}", name(&r.path), r.line, r.reason)),
        })
        .unwrap();
        (posts, errs)
    }

    fn malformed_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/malformed")
    }

    #[test]
    fn malformed_fixtures_match_expected() {
        let dir = malformed_dir();
        let (posts, errs) = read(std::slice::from_ref(&dir), &ReadOptions::default());
        let expected = fs::read_to_string(dir.join("EXPECTED.list")).unwrap();
        assert_eq!(errs, expected.lines().collect::<Vec<_>>());
        let mut ids: Vec<_> = posts.iter().map(|p| p.0.as_str()).collect();
        ids.sort();
        let want: Vec<String> = (1..=6).map(|n| format!("fixture-good-{n}")).collect();
        assert_eq!(ids, want);
    }

    #[test]
    fn directory_mix_is_walked_in_name_order() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        fs::create_dir_all(root.join("b_sub/deeper")).unwrap();
        let post = |id: &str| format!("{{\"id\":\"{id}\",\"title\":\"t\"}}");
        fs::write(root.join("a.json"), post("a")).unwrap();
        fs::write(
            root.join("b_sub/deeper/c.ndjson"),
            format!("{}\n{}\n", post("c1"), post("c2")),
        )
        .unwrap();
        fs::write(root.join("b_sub/b.JSONL"), post("b")).unwrap();
        fs::copy(malformed_dir().join("good_1.txt"), root.join("d.txt")).unwrap();
        fs::write(root.join("e.json"), "").unwrap();
        fs::write(root.join("notes.md"), "ignored").unwrap();
        fs::write(root.join("big.txt"), "x".repeat(600)).unwrap();
        let opts = ReadOptions {
            max_file_bytes: 500,
            ..ReadOptions::default()
        };
        let (posts, errs) = read(&[root.to_path_buf()], &opts);
        let ids: Vec<_> = posts.iter().map(|p| (p.0.as_str(), p.2)).collect();
        let d = "fixture-good-1";
        assert_eq!(ids, [("a", 1), ("b", 1), ("c1", 1), ("c2", 2), (d, 1)]);
        assert_eq!(
            errs,
            [
                "big.txt:0: file is 600 bytes, over the limit of 500",
                "e.json:0: empty file"
            ]
        );
    }

    #[test]
    fn missing_path_fails_before_reading_anything() {
        let tmp = tempfile::tempdir().unwrap();
        let good = malformed_dir().join("good_1.txt");
        let missing = tmp.path().join("nope.txt");
        let mut seen = 0;
        let res = read_paths(
            &[good, missing.clone()],
            &ReadOptions::default(),
            &mut |_| seen += 1,
        );
        let err = res.unwrap_err();
        assert!(
            matches!(&err, crate::Error::Io { path, .. } if *path == missing),
            "{err}"
        );
        assert_eq!(seen, 0);
    }

    #[test]
    fn explicit_files_and_unsupported_types() {
        let tmp = tempfile::tempdir().unwrap();
        let md = tmp.path().join("x.md");
        fs::write(&md, "# hi").unwrap();
        let good = malformed_dir().join("good.jsonl");
        let (posts, errs) = read(&[md, good], &ReadOptions::default());
        assert_eq!(posts.len(), 2);
        assert_eq!(
            errs,
            ["x.md:0: unsupported file type (expected .txt, .json, .jsonl or .ndjson)"]
        );
    }

    #[test]
    fn format_from_extension() {
        assert_eq!(Format::from_path(Path::new("a/b.TXT")), Some(Format::Text));
        assert_eq!(
            Format::from_path(Path::new("b.ndjson")),
            Some(Format::Jsonl)
        );
        assert_eq!(Format::from_path(Path::new("b.json")), Some(Format::Json));
        assert_eq!(Format::from_path(Path::new("README")), None);
    }
}
