//! Writing to the index: upsert by id, delete, and atomic commits.
//!
//! An upsert deletes the id's term and adds the new document in the same
//! commit, so a reader sees either the old post or the new one, never both
//! and never neither. A post whose JSON is byte-for-byte what the index
//! already holds (same fingerprint) is left alone and reported unchanged.

use crate::document::PostDocument;
use crate::error::{is_lock_busy, Error, Result};
use crate::in_flight::InFlight;
use crate::index::PostIndex;
use crate::ingest::json::parse_body;
use crate::ingest::{read_paths, ReadItem, ReadOptions, Rejection, Skipped};
use crate::post::Post;
use crate::schema::Fields;
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tantivy::index::{SegmentId, SegmentMeta};
use tantivy::indexer::NoMergePolicy;
use tantivy::{FutureResult, IndexWriter, Term};

/// Default memory budget of the writer, split over its threads.
pub const DEFAULT_WRITER_BUDGET: usize = 256 << 20;
/// The least memory budget of an indexing thread (tantivy wants 15 MB).
const MIN_THREAD_BUDGET: usize = 16 << 20;
/// Posts between two commits in a long import: a crash loses at most these,
/// and re-running the import finishes the job.
pub const DEFAULT_COMMIT_EVERY: usize = 100_000;
/// How long a writer waits for the index's write lock by default. A server
/// taking writes holds it for each write (tens of milliseconds) and while
/// it rewrites a segment of deleted posts (seconds; 16-29 s for a segment
/// of 250,000 posts): an import or delete started meanwhile gets it after.
pub const DEFAULT_LOCK_WAIT: Duration = Duration::from_secs(60);
/// How often a writer waiting for the lock tries again.
const LOCK_RETRY: Duration = Duration::from_millis(10);
/// How long a writer waits for the lock before telling [`LockWait::notice`].
pub const LOCK_NOTICE_AFTER: Duration = Duration::from_secs(1);

/// How a writer waits for the index's write lock while another process
/// holds it.
#[derive(Debug, Clone, Copy)]
pub struct LockWait {
    /// How long before failing.
    pub limit: Duration,
    /// Called once, when the wait passes [`LOCK_NOTICE_AFTER`], with
    /// `limit`: the CLI says on stderr what it is waiting for.
    pub notice: Option<fn(Duration)>,
}

impl LockWait {
    /// A wait of up to `limit`, silent.
    pub fn up_to(limit: Duration) -> LockWait {
        LockWait {
            limit,
            notice: None,
        }
    }

    /// Calls `take` until it takes the lock or fails otherwise, for up to
    /// `limit`; its last answer.
    pub fn retry<T>(&self, mut take: impl FnMut() -> tantivy::Result<T>) -> tantivy::Result<T> {
        let waiting = Instant::now();
        let mut noticed = false;
        loop {
            match take() {
                Err(ref e) if is_lock_busy(e) && waiting.elapsed() < self.limit => {
                    if !noticed && waiting.elapsed() >= LOCK_NOTICE_AFTER {
                        noticed = true;
                        if let Some(notice) = self.notice {
                            notice(self.limit);
                        }
                    }
                    std::thread::sleep(LOCK_RETRY)
                }
                taken => return taken,
            }
        }
    }
}

impl Default for LockWait {
    fn default() -> Self {
        LockWait::up_to(DEFAULT_LOCK_WAIT)
    }
}

/// What an upsert did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Added,
    Updated,
    Unchanged,
}

/// Counts of one import, plus every post that was rejected.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportSummary {
    pub added: u64,
    pub updated: u64,
    pub unchanged: u64,
    /// The first [`MAX_LISTED_REJECTIONS`] rejections (every one goes past
    /// the import's `on_item` as it happens).
    pub rejected: Vec<RejectedPost>,
    /// Every rejection, listed or not.
    pub rejected_count: u64,
    /// What the walk of folders skipped.
    #[serde(skip_serializing_if = "Skipped::is_empty")]
    pub skipped: Skipped,
    /// Why the segments were not tidied after the last commit (another
    /// process held the lock): the posts are in, a later import tidies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub untidied: Option<String>,
}

/// Most rejections an [`ImportSummary`] lists: a file of millions of bad
/// lines is reported line by line as it is read, not kept in memory.
pub const MAX_LISTED_REJECTIONS: usize = 1000;

/// A rejection as reported in summaries and HTTP answers.
#[derive(Debug, Clone, Serialize)]
pub struct RejectedPost {
    pub path: String,
    pub line: usize,
    pub reason: String,
}

impl From<Rejection> for RejectedPost {
    fn from(r: Rejection) -> Self {
        RejectedPost {
            path: r.path,
            line: r.line,
            reason: r.reason,
        }
    }
}

impl std::fmt::Display for RejectedPost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.path, self.line, self.reason)
    }
}

impl ImportSummary {
    /// Posts read: indexed (in any way) plus rejected.
    pub fn read(&self) -> u64 {
        self.added + self.updated + self.unchanged + self.rejected_count
    }

    /// Records a rejection (listed if fewer than [`MAX_LISTED_REJECTIONS`]
    /// are).
    pub fn reject(&mut self, rejection: RejectedPost) {
        self.rejected_count += 1;
        if self.rejected.len() < MAX_LISTED_REJECTIONS {
            self.rejected.push(rejection);
        }
    }

    /// Records the outcome of one upsert.
    pub fn count(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Added => self.added += 1,
            Outcome::Updated => self.updated += 1,
            Outcome::Unchanged => self.unchanged += 1,
        }
    }
}

impl std::fmt::Display for ImportSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} added, {} updated, {} unchanged, {} rejected",
            self.added, self.updated, self.unchanged, self.rejected_count
        )
    }
}

/// Options of a writer.
#[derive(Debug, Clone)]
pub struct WriterOptions {
    /// Total memory budget of the indexing threads, in bytes.
    pub budget_bytes: usize,
    /// Indexing threads (0: one per core, at most 4).
    pub threads: usize,
    /// Commit after this many changed posts.
    pub commit_every: usize,
    /// How to wait for the index's write lock while another process holds
    /// it (see [`DEFAULT_LOCK_WAIT`]).
    pub lock_wait: LockWait,
}

impl WriterOptions {
    /// One indexing thread: each commit writes one segment, its posts in
    /// the order they came (tests, and work that wants few segments).
    pub fn one_thread() -> WriterOptions {
        WriterOptions {
            threads: 1,
            ..WriterOptions::default()
        }
    }
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            budget_bytes: DEFAULT_WRITER_BUDGET,
            threads: 0,
            commit_every: DEFAULT_COMMIT_EVERY,
            lock_wait: LockWait::default(),
        }
    }
}

/// A writer on a [`PostIndex`]: upserts and deletes, committed atomically.
pub struct Writer {
    index: PostIndex,
    writer: IndexWriter<PostDocument>,
    fields: Arc<Fields>,
    /// Fingerprints of posts changed since the last commit (not yet visible
    /// to the searcher), so a repeated id in one batch is judged correctly.
    pending: HashMap<String, Option<u64>>,
    /// Changes committed so far by this writer.
    committed: u64,
    opts: WriterOptions,
    /// Posts handed to tantivy and not indexed yet.
    in_flight: Arc<InFlight>,
}

impl Writer {
    /// Opens the index's single writer; fails if another process holds it
    /// past `opts.lock_wait`.
    pub fn new(index: &PostIndex, opts: WriterOptions) -> Result<Writer> {
        let threads = if opts.threads == 0 {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
                .min(4)
        } else {
            opts.threads
        };
        let budget = opts.budget_bytes.max(threads * MIN_THREAD_BUDGET);
        let writer = opts
            .lock_wait
            .retry(|| index.index().writer_with_num_threads(threads, budget))
            .map_err(|e| writer_error(index, e))?;
        // Holding the lock, no other writer commits: the searcher, reloaded
        // now, tells which ids the index holds until this writer commits.
        index.reload()?;
        Ok(Writer {
            index: index.clone(),
            writer,
            fields: Arc::new(index.fields().clone()),
            pending: HashMap::new(),
            committed: 0,
            opts,
            in_flight: InFlight::new(),
        })
    }

    /// Adds the post, replaces the post with its id, or leaves an identical
    /// one alone. Visible after [`Writer::commit`].
    pub fn upsert(&mut self, post: Post) -> Result<Outcome> {
        let json = post.to_json_line();
        let fingerprint = xxhash_rust::xxh3::xxh3_64(json.as_bytes());
        let previous = match self.pending.get(&post.id) {
            Some(state) => *state,
            None => {
                let searcher = self.index.searcher();
                self.index
                    .locate(&searcher, &post.id)?
                    .map(|l| l.fingerprint)
            }
        };
        let outcome = match previous {
            Some(fp) if fp == fingerprint => return Ok(Outcome::Unchanged),
            Some(_) => Outcome::Updated,
            None => Outcome::Added,
        };
        if outcome == Outcome::Updated {
            // Only a post the index or this batch holds needs deleting: a
            // delete costs a query built now and run on every new segment.
            self.writer
                .delete_term(Term::from_field_text(self.fields.id, &post.id));
        }
        self.pending.insert(post.id.clone(), Some(fingerprint));
        let ticket = self.in_flight.enter();
        let doc = PostDocument::new(self.fields.clone(), post, json, fingerprint).in_flight(ticket);
        if let Err(e) = self.writer.add_document(doc) {
            return Err(self.cause_of(e));
        }
        if self.pending.len() >= self.opts.commit_every {
            self.commit()?;
        }
        Ok(outcome)
    }

    /// Deletes post `id`; returns whether it existed.
    pub fn delete(&mut self, id: &str) -> Result<bool> {
        let existed = match self.pending.get(id) {
            Some(state) => state.is_some(),
            None => {
                let searcher = self.index.searcher();
                self.index.locate(&searcher, id)?.is_some()
            }
        };
        self.writer
            .delete_term(Term::from_field_text(self.index.fields().id, id));
        self.pending.insert(id.to_string(), None);
        Ok(existed)
    }

    /// The cause of a failed `add_document`. tantivy answers only "an
    /// index writer was killed" when an indexing thread stopped on an
    /// error (the disk full, a read-only volume): the thread's own error,
    /// which names the OS cause, comes out when the threads are joined to
    /// prepare a commit (which is then abandoned: nothing is committed).
    fn cause_of(&mut self, e: tantivy::TantivyError) -> Error {
        match self.writer.prepare_commit() {
            Err(cause) => cause.into(),
            Ok(prepared) => {
                let _ = prepared.abort();
                e.into()
            }
        }
    }

    /// Makes every change so far durable and visible, atomically.
    pub fn commit(&mut self) -> Result<()> {
        // The commit records how its text was analyzed (see
        // `PostIndex::open`).
        let mut prepared = self.writer.prepare_commit()?;
        prepared.set_payload(&crate::index::commit_payload());
        prepared.commit()?;
        self.index.reload()?;
        self.committed += self.pending.len() as u64;
        self.pending.clear();
        Ok(())
    }

    /// The writer, merging only the segments [`Writer::merge`] is given:
    /// its commits start no merge of tantivy's (and a test that reads the
    /// segments its commits wrote reads them all, none merged away).
    pub fn merging_only_when_asked(self) -> Writer {
        self.writer.set_merge_policy(Box::new(NoMergePolicy));
        self
    }

    /// Starts merging `segments` (of the last commit, none being merged)
    /// into one; one segment alone is rewritten without its deleted posts.
    /// Commits may go on meanwhile; the merged segment replaces them in the
    /// index's commit as the merge ends, which the result tells.
    pub fn merge(&mut self, segments: &[SegmentId]) -> FutureResult<Option<SegmentMeta>> {
        self.writer.merge(segments)
    }

    /// Changes committed so far by this writer.
    pub fn committed(&self) -> u64 {
        self.committed
    }

    /// Commits, then waits for background merges to finish. A commit that
    /// fails abandons the changes (see [`Writer::abandon`]).
    pub fn finish(mut self) -> Result<()> {
        if let Err(e) = self.commit() {
            self.abandon();
            return Err(e);
        }
        self.wait_for_merges()
    }

    /// Waits for the merges this writer's commits started, then closes it.
    /// Dropped at once, a writer cancels them: an index written a few posts
    /// at a time, each write with a writer of its own (a server's), gained
    /// a segment per write. Commits stand whatever the merges do; a merge
    /// that fails leaves its segments as they were (tantivy logs it).
    pub fn wait_for_merges(self) -> Result<()> {
        Ok(self.writer.wait_merging_threads()?)
    }

    /// Drops every change since the last commit, and the files their
    /// segments had written: an import that failed (a full disk) or was
    /// stopped leaves the folder as its last commit left it, rather than
    /// holding its unfinished segments until the next commit collects them
    /// (on a full disk, the next import would start without that room).
    /// Best effort: what cannot be deleted now is collected then.
    ///
    /// tantivy keeps the files of every segment whose meta is still alive
    /// in the process, and a segment of the rolled-back writer can stay
    /// referenced for a moment by its background tasks: the collection is
    /// tried again, for up to a second, while files of segments no commit
    /// holds are left.
    pub fn abandon(mut self) {
        if self.writer.rollback().is_err() {
            return;
        }
        for attempt in 1..=ABANDON_TRIES {
            let _ = self.writer.garbage_collect_files().wait();
            if attempt == ABANDON_TRIES || !self.holds_uncommitted_files() {
                return;
            }
            std::thread::sleep(ABANDON_RETRY);
        }
    }

    /// Whether the folder holds files of segments that no commit holds.
    fn holds_uncommitted_files(&self) -> bool {
        let index = self.index.index();
        let Ok(committed) = index.searchable_segment_ids() else {
            return false;
        };
        let committed: HashSet<String> = committed.iter().map(|id| id.uuid_string()).collect();
        index.directory().list_managed_files().iter().any(|path| {
            crate::directory::segment_of_file(&path.to_string_lossy())
                .is_some_and(|segment| !committed.contains(segment))
        })
    }

    /// Changes not committed yet.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }
}

/// Upserts with `writer` every post that `read` hands to its sink;
/// rejections are kept in the summary. `on_item` sees each post or
/// rejection as it goes (for a progress bar). A failed write stops the
/// import and is returned; committing is the caller's. The one import loop
/// behind [`import_paths`] and [`write_body`].
pub fn upsert_all(
    writer: &mut Writer,
    read: impl FnOnce(&mut dyn FnMut(ReadItem)) -> Result<()>,
    on_item: &mut dyn FnMut(&ReadItem),
) -> Result<ImportSummary> {
    let mut summary = ImportSummary::default();
    let mut failure = None;
    read(&mut |item| {
        if failure.is_some() {
            return;
        }
        on_item(&item);
        match item {
            Ok(sourced) => match writer.upsert(sourced.post) {
                Ok(outcome) => summary.count(outcome),
                Err(e) => failure = Some(e),
            },
            Err(rejection) => summary.reject(rejection.into()),
        }
    })?;
    match failure {
        Some(e) => Err(e),
        None => Ok(summary),
    }
}

/// Reads every post under `paths` and upserts it (see [`upsert_all`]);
/// commits at the end (and every `commit_every` changes), then waits for
/// merges.
pub fn import_paths(
    index: &PostIndex,
    paths: &[PathBuf],
    read_opts: &ReadOptions,
    writer_opts: WriterOptions,
    on_item: &mut dyn FnMut(&ReadItem),
) -> Result<ImportSummary> {
    let lock_wait = writer_opts.lock_wait;
    let mut writer = Writer::new(index, writer_opts)?;
    let mut skipped = Skipped::default();
    let read = upsert_all(
        &mut writer,
        |sink| {
            skipped = read_paths(paths, read_opts, sink)?;
            Ok(())
        },
        on_item,
    )
    .and_then(|summary| {
        if read_opts.stopped() {
            // Stopped (Ctrl-C): what was read since the last commit is
            // dropped, whole; earlier commits stay.
            return Err(Error::Interrupted(format!(
                "by Ctrl-C: {} changed posts were committed before; the {} read since the last commit were not",
                writer.committed(),
                writer.pending()
            )));
        }
        Ok(ImportSummary { skipped, ..summary })
    });
    let summary = match read {
        Ok(summary) => summary,
        Err(e) => {
            writer.abandon();
            return Err(e);
        }
    };
    writer.finish()?;
    // The posts are committed: a tidy that cannot be done now (another
    // process took the lock) is said, and left to the next import.
    let untidied = tidy_segments(index, lock_wait).err().map(|e| e.to_string());
    Ok(ImportSummary {
        untidied,
        ..summary
    })
}

/// The error of a writer that could not be opened on `index` (its path
/// named: another process may hold the lock).
fn writer_error(index: &PostIndex, e: tantivy::TantivyError) -> Error {
    match index.path() {
        Some(p) => Error::Index {
            path: p.into(),
            cause: e,
        },
        None => Error::Tantivy(e),
    }
}

/// How often, and how far apart, [`Writer::abandon`] collects the files of
/// the segments it dropped.
const ABANDON_TRIES: usize = 20;
const ABANDON_RETRY: Duration = Duration::from_millis(50);

/// Segments holding less than 1/`SMALL_SEGMENT_SHARE` of an index's posts
/// are small: [`tidy_segments`] makes one of them.
const SMALL_SEGMENT_SHARE: u64 = 8;

/// A segment whose deleted posts are at least this share of it is rewritten
/// without them (see [`segments_to_purge`]).
pub const PURGE_DELETED_SHARE: f64 = 0.2;
/// ... if they are also at least this share of the index's posts: a small
/// segment's few deleted posts cost little, and tantivy's merges drop them
/// as they merge it with others.
const PURGE_MIN_INDEX_SHARE: f64 = 0.01;

/// The segments of `index`'s last commit worth rewriting without their
/// deleted posts.
///
/// An update deletes the post's old copy where it was and adds the new one
/// to a new segment. tantivy merges segments of a size together, never a
/// segment for its deletes alone, so the large segments of a bulk import
/// keep the old copies of every post updated since: they take disk and
/// memory, every search walks past them, and they still count in the
/// words' document frequencies (BM25). Rewriting such a segment drops
/// them; [`tidy_segments`] (after an import) and the server (after its
/// writes) do.
pub fn segments_to_purge(index: &PostIndex) -> Result<ToPurge> {
    let metas = index.index().searchable_segment_metas()?;
    let found = purge_candidates(&metas);
    Ok(ToPurge {
        segments: found.iter().map(|m| m.id()).collect(),
        deleted: found.iter().map(|m| u64::from(m.num_deleted_docs())).sum(),
    })
}

/// The segments [`segments_to_purge`] names, and the deleted posts they
/// hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToPurge {
    pub segments: Vec<SegmentId>,
    pub deleted: u64,
}

fn purge_candidates(metas: &[SegmentMeta]) -> Vec<&SegmentMeta> {
    let alive: u64 = metas.iter().map(|m| u64::from(m.num_docs())).sum();
    metas
        .iter()
        .filter(|m| {
            let deleted = f64::from(m.num_deleted_docs());
            deleted > 0.0
                && deleted >= PURGE_DELETED_SHARE * f64::from(m.max_doc())
                && deleted >= PURGE_MIN_INDEX_SHARE * alive as f64
        })
        .collect()
}

/// What [`tidy_segments`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tidied {
    /// Small segments merged into one (0 or at least 2).
    pub merged: usize,
    /// Segments rewritten without their deleted posts.
    pub purged: usize,
    /// Deleted posts dropped from the folder by both.
    pub dropped: u64,
}

/// Merges the index's small segments into one, if it has two or more, and
/// rewrites each segment that [`segments_to_purge`] names without its
/// deleted posts. A bulk import ends with it: tantivy's merge policy leaves
/// up to seven segments at each size (a 1M-post import left 12, 8 of them
/// under 34,000 posts), and a search pays for each segment: its columns
/// opened, its terms looked up, its pages mapped (docs/performance.md has
/// the measurements). The index's write lock is waited for up to
/// `lock_wait` (a server may be taking writes).
pub fn tidy_segments(index: &PostIndex, lock_wait: LockWait) -> Result<Tidied> {
    if tidy_plan(index)?.is_none() {
        return Ok(Tidied::default());
    }
    let mut writer = Writer::new(
        index,
        WriterOptions {
            budget_bytes: MIN_THREAD_BUDGET,
            threads: 1,
            lock_wait,
            ..WriterOptions::default()
        },
    )?
    .merging_only_when_asked();
    // Planned again holding the lock: a server's writes may have merged
    // some of those segments while this waited for it.
    let Some(plan) = tidy_plan(index)? else {
        writer.wait_for_merges()?;
        return Ok(Tidied::default());
    };
    if !plan.small.is_empty() {
        writer.merge(&plan.small).wait()?;
    }
    for segment in &plan.purge {
        writer.merge(std::slice::from_ref(segment)).wait()?;
    }
    writer.wait_for_merges()?;
    index.reload()?;
    Ok(Tidied {
        merged: plan.small.len(),
        purged: plan.purge.len(),
        dropped: plan.dropped,
    })
}

/// What [`tidy_segments`] merges: the small segments (two or more, or
/// none) and those to purge, with the deleted posts they hold.
struct TidyPlan {
    small: Vec<SegmentId>,
    purge: Vec<SegmentId>,
    dropped: u64,
}

/// The plan for `index`'s last commit; `None` when there is nothing to do.
fn tidy_plan(index: &PostIndex) -> Result<Option<TidyPlan>> {
    // Only ids leave this function: tantivy deletes a merged segment's
    // files as the merge ends, but not while a meta of its is alive.
    let metas = index.index().searchable_segment_metas()?;
    let total: u64 = metas.iter().map(|m| u64::from(m.num_docs())).sum();
    let mut small: Vec<SegmentId> = metas
        .iter()
        .filter(|m| u64::from(m.num_docs()) * SMALL_SEGMENT_SHARE < total)
        .map(|m| m.id())
        .collect();
    if small.len() < 2 {
        small.clear();
    }
    let purge: Vec<SegmentId> = purge_candidates(&metas)
        .into_iter()
        .map(|m| m.id())
        .filter(|id| !small.contains(id))
        .collect();
    if small.is_empty() && purge.is_empty() {
        return Ok(None);
    }
    let dropped = metas
        .iter()
        .filter(|m| small.contains(&m.id()) || purge.contains(&m.id()))
        .map(|m| u64::from(m.num_deleted_docs()))
        .sum();
    Ok(Some(TidyPlan {
        small,
        purge,
        dropped,
    }))
}

/// Upserts every post of a JSON / JSON array / JSON lines body with
/// `writer` (see [`upsert_all`]), then commits; rejections name `name` and
/// the line. On failure nothing is committed, and the writer should be
/// abandoned ([`Writer::abandon`]).
pub fn write_body(writer: &mut Writer, bytes: &[u8], name: &str) -> Result<ImportSummary> {
    let summary = upsert_all(
        writer,
        |sink| {
            parse_body(bytes, name, &ReadOptions::default(), sink);
            Ok(())
        },
        &mut |_| {},
    )?;
    writer.commit()?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(id: &str, body: &str) -> Post {
        let mut p = Post::new(id, format!("title of {id}"));
        p.body = Some(body.into());
        p
    }

    #[test]
    fn reimporting_the_same_post_is_unchanged() {
        let index = PostIndex::create_in_ram().unwrap();
        let mut w = Writer::new(&index, WriterOptions::default()).unwrap();
        assert_eq!(w.upsert(post("a", "x")).unwrap(), Outcome::Added);
        w.commit().unwrap();
        assert_eq!(w.upsert(post("a", "x")).unwrap(), Outcome::Unchanged);
        assert_eq!(w.upsert(post("a", "y")).unwrap(), Outcome::Updated);
        w.commit().unwrap();
        assert_eq!(index.searcher().num_docs(), 1);
        assert_eq!(index.get("a").unwrap().body.as_deref(), Some("y"));
    }

    #[test]
    fn a_repeated_id_in_one_batch_keeps_the_last() {
        let index = PostIndex::create_in_ram().unwrap();
        let mut w = Writer::new(&index, WriterOptions::default()).unwrap();
        assert_eq!(w.upsert(post("a", "1")).unwrap(), Outcome::Added);
        assert_eq!(w.upsert(post("a", "1")).unwrap(), Outcome::Unchanged);
        assert_eq!(w.upsert(post("a", "2")).unwrap(), Outcome::Updated);
        w.commit().unwrap();
        assert_eq!(index.searcher().num_docs(), 1);
        assert_eq!(index.get("a").unwrap().body.as_deref(), Some("2"));
    }

    #[test]
    fn a_writer_sees_what_another_process_committed_before_it() {
        let dir = tempfile::tempdir().unwrap();
        // A server's handle, opened before another process's import.
        let server = PostIndex::open_or_create(dir.path()).unwrap();
        {
            let other = PostIndex::open(dir.path()).unwrap();
            let mut w = Writer::new(&other, WriterOptions::default()).unwrap();
            w.upsert(post("a", "x")).unwrap();
            w.commit().unwrap();
        }
        let mut w = Writer::new(&server, WriterOptions::default()).unwrap();
        assert_eq!(w.upsert(post("a", "y")).unwrap(), Outcome::Updated);
        w.commit().unwrap();
        assert_eq!(server.searcher().num_docs(), 1);
        assert_eq!(server.get("a").unwrap().body.as_deref(), Some("y"));
    }

    /// A server writes each request with a writer of its own: the merges a
    /// commit starts must finish before that writer goes, or every write
    /// leaves a segment behind (90 segments after 150 writes of 40 posts).
    #[test]
    fn writes_a_few_posts_at_a_time_keep_the_segments_few() {
        let index = PostIndex::create_in_ram().unwrap();
        let opts = WriterOptions {
            threads: 1,
            ..WriterOptions::default()
        };
        for write in 0..24 {
            let body: Vec<String> = (0..3)
                .map(|n| {
                    let post = post(&format!("p{write}-{n}"), "a few words");
                    serde_json::to_string(&post).unwrap()
                })
                .collect();
            let bytes = body.join("\n");
            // As the server writes: a writer per write, closed once the
            // merges its commit started are done.
            let mut writer = Writer::new(&index, opts.clone()).unwrap();
            let summary = write_body(&mut writer, bytes.as_bytes(), "body").unwrap();
            writer.wait_for_merges().unwrap();
            assert_eq!(summary.added, 3);
        }
        let searcher = index.searcher();
        assert_eq!(searcher.num_docs(), 72);
        // tantivy's merge policy merges 8 segments of a size into one.
        let segments = searcher.segment_readers().len();
        assert!(segments < 8, "{segments} segments after 24 writes");
    }

    #[test]
    fn the_small_segments_are_merged_into_one() {
        let dir = tempfile::tempdir().unwrap();
        let index = PostIndex::open_or_create(dir.path()).unwrap();
        let opts = WriterOptions::one_thread();
        let mut w = Writer::new(&index, opts).unwrap();
        // Segments of 84, 13, 2 and 1 posts: two are under 1/8 of 100.
        let mut n = 0;
        for size in [84, 13, 2, 1] {
            for _ in 0..size {
                w.upsert(post(&format!("p{n}"), &format!("word{n} common")))
                    .unwrap();
                n += 1;
            }
            w.commit().unwrap();
        }
        drop(w);
        let sizes = |index: &PostIndex| {
            let mut sizes: Vec<u32> = index
                .searcher()
                .segment_readers()
                .iter()
                .map(|s| s.num_docs())
                .collect();
            sizes.sort();
            sizes
        };
        assert_eq!(sizes(&index), [1, 2, 13, 84]);
        let tidied = tidy_segments(&index, LockWait::up_to(Duration::ZERO)).unwrap();
        assert_eq!((tidied.merged, tidied.purged), (2, 0));
        assert_eq!(sizes(&index), [3, 13, 84]);
        // The merged segments' files are gone from the folder.
        let mut on_disk: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| {
                let name = e.unwrap().file_name().to_string_lossy().into_owned();
                crate::directory::segment_of_file(&name).map(str::to_string)
            })
            .collect();
        on_disk.sort();
        on_disk.dedup();
        let mut living: Vec<String> = index
            .searcher()
            .segment_readers()
            .iter()
            .map(|s| s.segment_id().uuid_string())
            .collect();
        living.sort();
        assert_eq!(on_disk, living);
        assert_eq!(
            tidy_segments(&index, LockWait::up_to(Duration::ZERO)).unwrap(),
            Tidied::default()
        );
        assert_eq!(
            index.get("p99").unwrap().body.as_deref(),
            Some("word99 common")
        );
        let words: u32 = index
            .searcher()
            .segment_readers()
            .iter()
            .map(|s| {
                let d = crate::vocabulary::dictionary(s).unwrap();
                d.get("common").unwrap().map_or(0, |t| t.doc_freq)
            })
            .sum();
        assert_eq!(words, 100);
    }

    /// Updates leave their old copies deleted in the segment they were in;
    /// a segment holding many is rewritten without them.
    #[test]
    fn a_segment_with_many_deleted_posts_is_rewritten_without_them() {
        let dir = tempfile::tempdir().unwrap();
        let index = PostIndex::open_or_create(dir.path()).unwrap();
        let mut w = Writer::new(&index, WriterOptions::one_thread())
            .unwrap()
            .merging_only_when_asked();
        for n in 0..200 {
            w.upsert(post(&format!("p{n}"), &format!("word{n} common")))
                .unwrap();
        }
        w.commit().unwrap();
        // 30 updated: 15% of the first segment, not yet worth a rewrite.
        let update = |w: &mut Writer, ids: std::ops::Range<usize>| {
            for n in ids {
                w.upsert(post(&format!("p{n}"), &format!("word{n} changed")))
                    .unwrap();
            }
            w.commit().unwrap();
        };
        update(&mut w, 0..30);
        assert_eq!(segments_to_purge(&index).unwrap(), ToPurge::default());
        // 50 updated: 25%.
        update(&mut w, 30..50);
        let purge = segments_to_purge(&index).unwrap();
        assert_eq!((purge.segments.len(), purge.deleted), (1, 50));
        let purge = purge.segments;
        drop(w);
        let deleted = |index: &PostIndex| crate::index::deleted_posts(&index.searcher());
        assert_eq!(deleted(&index), 50);
        let tidied = tidy_segments(&index, LockWait::up_to(Duration::ZERO)).unwrap();
        // The first segment rewritten; the updates' two segments (30 and
        // 20 posts) are not both small (under 1/8 of the index).
        assert_eq!(
            tidied,
            Tidied {
                merged: 0,
                purged: 1,
                dropped: 50
            }
        );
        assert_eq!(deleted(&index), 0);
        assert!(!index
            .searcher()
            .segment_readers()
            .iter()
            .any(|s| s.segment_id() == purge[0]));
        assert_eq!(index.searcher().num_docs(), 200);
        assert_eq!(
            index.get("p10").unwrap().body.as_deref(),
            Some("word10 changed")
        );
        assert_eq!(
            index.get("p150").unwrap().body.as_deref(),
            Some("word150 common")
        );
        assert_eq!(segments_to_purge(&index).unwrap(), ToPurge::default());
    }

    /// A few deleted posts of a small segment are left to tantivy's merges.
    #[test]
    fn a_purge_needs_a_fifth_of_the_segment_and_a_hundredth_of_the_index() {
        let meta = |index: &tantivy::Index, max_doc: u32, deleted: u32| {
            let meta = index.new_segment_meta(SegmentId::generate_random(), max_doc);
            match deleted {
                0 => meta,
                d => meta.with_delete_meta(d, 0),
            }
        };
        let index = tantivy::Index::create_in_ram(crate::schema::build_schema());
        let big = meta(&index, 10_000, 2_000);
        let young = meta(&index, 100, 50);
        let slightly = meta(&index, 10_000, 1_999);
        let whole = meta(&index, 5_000, 0);
        let metas = [big.clone(), young, slightly, whole];
        let found: Vec<SegmentId> = purge_candidates(&metas).iter().map(|m| m.id()).collect();
        assert_eq!(found, [big.id()]);
        // Half of a 1,000-post index deleted in its only segment.
        let alone = meta(&index, 1_000, 500);
        let found = purge_candidates(std::slice::from_ref(&alone));
        assert_eq!(found[0].id(), alone.id());
    }

    #[test]
    fn delete_removes_and_reports_existence() {
        let index = PostIndex::create_in_ram().unwrap();
        let mut w = Writer::new(&index, WriterOptions::default()).unwrap();
        w.upsert(post("a", "x")).unwrap();
        w.commit().unwrap();
        assert!(w.delete("a").unwrap());
        assert!(!w.delete("nope").unwrap());
        w.commit().unwrap();
        assert_eq!(index.searcher().num_docs(), 0);
        assert!(matches!(index.get("a"), Err(Error::NotFound(_))));
    }

    #[test]
    fn uncommitted_changes_are_lost_and_the_last_commit_survives() {
        let dir = tempfile::tempdir().unwrap();
        {
            let index = PostIndex::open_or_create(dir.path()).unwrap();
            let mut w = Writer::new(&index, WriterOptions::default()).unwrap();
            w.upsert(post("a", "x")).unwrap();
            w.commit().unwrap();
            w.upsert(post("b", "y")).unwrap();
            w.upsert(post("a", "changed")).unwrap();
            // Dropped without a commit: what a crash before commit leaves.
        }
        let index = PostIndex::open(dir.path()).unwrap();
        index.reload().unwrap();
        assert_eq!(index.searcher().num_docs(), 1);
        assert_eq!(index.get("a").unwrap().body.as_deref(), Some("x"));
    }
}
