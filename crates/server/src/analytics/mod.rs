//! Search analytics, private and bounded (docs/analytics.md): what readers
//! search for, how often it finds nothing, and (when turned on) which
//! searches lead to a click.
//!
//! Each search records its normalized query, how many posts it found and
//! its day (UTC): no address, no header, no identifier, no time finer than
//! the day. Searches are counted in memory (a map per day behind one
//! mutex, held for a few map operations) and written to the analytics
//! folder every `analytics.flush_secs` and at shutdown, never on the
//! request path.
//!
//! **Keystrokes.** Search-as-you-type sends a prefix search per keystroke
//! ("k", "ku", "kub"...). A prefix search is held back for
//! [`TYPING_WINDOW_SECS`]: if a search that extends it (its normalized
//! query starts with this one and is longer, or is the same query searched
//! without `prefix`) comes within that time, the held one was a keystroke
//! on the way and is dropped; else it is counted. A prefix search that
//! arrives when a held one already extends it (an answer that came late)
//! is dropped too. So only the queries a reader stopped at are counted.

pub mod store;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use store::{Day, DayAgg};

/// Seconds a prefix search is held back, waiting for a search extending it.
pub const TYPING_WINDOW_SECS: u64 = 2;

/// Most prefix searches held back at once; past it, they are counted at
/// once (as if their window had passed).
const MAX_PENDING: usize = 10_000;

/// `[analytics]` in `postsearch.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AnalyticsConfig {
    /// Record searches (`serve --no-analytics` turns it off).
    pub enabled: bool,
    /// The analytics folder; empty: `<index dir>.analytics` beside the
    /// index folder (never inside it: the index folder may be read-only,
    /// replaced by a rebuild or overwritten by a shipment).
    pub dir: PathBuf,
    /// Days kept (today included); older day files are deleted.
    pub retention_days: u32,
    /// Distinct queries kept a day; the searches of further ones are
    /// counted in the day's `other` tally.
    pub max_queries_per_day: usize,
    /// Longest normalized query kept, in characters (longer ones are cut).
    pub max_query_chars: usize,
    /// Seconds between writes of the counts to the folder.
    pub flush_secs: u64,
    /// Accept `POST /api/analytics/click` (the widget's `data-clicks`).
    pub clicks: bool,
    /// Bearer token of `GET /api/analytics`; empty: `server.write_token`.
    pub token: String,
}

impl Default for AnalyticsConfig {
    fn default() -> Self {
        AnalyticsConfig {
            enabled: true,
            dir: PathBuf::new(),
            retention_days: 90,
            max_queries_per_day: 1000,
            max_query_chars: 100,
            flush_secs: 5,
            clicks: false,
            token: String::new(),
        }
    }
}

impl AnalyticsConfig {
    /// The analytics folder of the index in `index_dir`: `dir`, or
    /// `<index_dir>.analytics` beside it.
    pub fn folder(&self, index_dir: &Path) -> PathBuf {
        if !self.dir.as_os_str().is_empty() {
            return self.dir.clone();
        }
        let name = index_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "index".into());
        let folder = format!("{name}.analytics");
        match index_dir.parent() {
            Some(p) => p.join(folder),
            None => PathBuf::from(folder),
        }
    }

    /// The first day kept when today is `today`.
    pub fn first_kept(&self, today: Day) -> Day {
        today - Day::from(self.retention_days.max(1)) + 1
    }
}

/// `q` as it is counted: lower case, every run of white space (and
/// control characters) one space, trimmed, at most `max_chars`
/// characters.
pub fn normalize(q: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(q.len().min(max_chars * 4));
    let mut chars = 0;
    let mut space = false;
    for c in q.chars() {
        if c.is_whitespace() || c.is_control() {
            space = !out.is_empty();
            continue;
        }
        for lc in c.to_lowercase() {
            if space {
                if chars + 1 >= max_chars {
                    return out;
                }
                out.push(' ');
                chars += 1;
                space = false;
            }
            if chars >= max_chars {
                return out;
            }
            out.push(lc);
            chars += 1;
        }
    }
    out
}

/// A prefix search held back (see the module documentation).
#[derive(Debug, Clone, Copy, Default)]
struct Pending {
    searches: u64,
    zero: u64,
    /// The posts the latest one found.
    hits: u64,
    /// When it was last searched (seconds since the epoch).
    last: u64,
}

/// What the recorder holds between writes.
#[derive(Debug, Default)]
struct Inner {
    /// The days counted since the last write of each, or read back.
    days: BTreeMap<Day, Held>,
    /// Prefix searches held back, by normalized query.
    pending: BTreeMap<String, Pending>,
}

#[derive(Debug, Default)]
struct Held {
    agg: DayAgg,
    /// The day's file has been read into `agg` (or there was none).
    merged: bool,
    /// Counted since the last write.
    dirty: bool,
}

impl Inner {
    fn day(&mut self, day: Day) -> &mut Held {
        self.days.entry(day).or_default()
    }

    /// Removes the held search of `q`: dropped if its window is still open
    /// at `now` (it was a keystroke on the way), else counted.
    fn take(&mut self, q: &str, now: u64, cap: usize) {
        if let Some(p) = self.pending.remove(q) {
            if p.last + TYPING_WINDOW_SECS < now {
                self.count(q, p, cap);
            }
        }
    }

    /// Counts a held search on its day.
    fn count(&mut self, q: &str, p: Pending, cap: usize) {
        let held = self.day(store::day_of(p.last));
        held.agg.search(q, p.searches, p.zero, p.hits, cap);
        held.dirty = true;
    }

    /// Counts held-back searches last seen before `before` (all with
    /// `None`).
    fn release(&mut self, before: Option<u64>, cap: usize) {
        let due: Vec<String> = self
            .pending
            .iter()
            .filter(|(_, p)| before.is_none_or(|t| p.last < t))
            .map(|(q, _)| q.clone())
            .collect();
        for q in due {
            let p = self.pending.remove(&q).expect("listed");
            self.count(&q, p, cap);
        }
    }
}

/// Counts searches and clicks of one server and writes them to its
/// analytics folder.
#[derive(Debug)]
pub struct Recorder {
    dir: PathBuf,
    config: AnalyticsConfig,
    inner: Mutex<Inner>,
    /// An exclusive lock on the folder (one server writes a folder).
    _lock: Option<std::fs::File>,
}

impl Recorder {
    /// A recorder writing to `dir`, created if missing and locked for this
    /// process. Fails when the folder cannot be made or written, or when
    /// another server holds it.
    pub fn open(dir: PathBuf, config: AnalyticsConfig) -> std::io::Result<Recorder> {
        std::fs::create_dir_all(&dir)?;
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(".lock"))?;
        #[cfg(unix)]
        {
            use std::os::unix::io::AsRawFd;
            // SAFETY: flock on a descriptor we own.
            if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::WouldBlock,
                    format!("{} is in use by another server", dir.display()),
                ));
            }
        }
        // Today's counts of an earlier run are read now, so that a click on
        // a query searched before the restart finds it. (Another day's
        // file is merged in when that day is first written; an unreadable
        // one is set aside then.)
        let mut inner = Inner::default();
        let today = store::today();
        if let Ok(file) = store::read_day(&dir, today) {
            let held = inner.day(today);
            held.agg = file.unwrap_or_default();
            held.merged = true;
        }
        Ok(Recorder {
            dir,
            config,
            inner: Mutex::new(inner),
            _lock: Some(lock),
        })
    }

    /// A recorder that writes nowhere until flushed into `dir` (tests).
    #[cfg(test)]
    fn unlocked(dir: PathBuf, config: AnalyticsConfig) -> Recorder {
        Recorder {
            dir,
            config,
            inner: Mutex::new(Inner::default()),
            _lock: None,
        }
    }

    /// The folder written to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The configuration.
    pub fn config(&self) -> &AnalyticsConfig {
        &self.config
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while counting leaves counts, not broken invariants.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a search of `q` that found `total` posts; `prefix`: a
    /// search-as-you-type search (see the module documentation).
    pub fn search(&self, q: &str, total: u64, prefix: bool) {
        self.search_at(q, total, prefix, store::now_secs());
    }

    /// [`Recorder::search`] at `now` (seconds since the epoch).
    pub fn search_at(&self, q: &str, total: u64, prefix: bool, now: u64) {
        let q = normalize(q, self.config.max_query_chars);
        if q.is_empty() {
            return; // browsing everything is not a search
        }
        let zero = u64::from(total == 0);
        let cap = self.config.max_queries_per_day;
        let mut inner = self.lock();
        // Held searches this one extends were keystrokes on the way to it.
        // (Each prefix of q at a character boundary; q is short.)
        for (i, _) in q.char_indices().skip(1) {
            inner.take(&q[..i], now, cap);
        }
        if !prefix {
            inner.take(&q, now, cap);
            let held = inner.day(store::day_of(now));
            held.agg.search(&q, 1, zero, total, cap);
            held.dirty = true;
            return;
        }
        // A held search extending this one: this one came late.
        let extended = inner
            .pending
            .range::<str, _>((
                std::ops::Bound::Excluded(q.as_str()),
                std::ops::Bound::Unbounded,
            ))
            .next()
            .is_some_and(|(held, p)| held.starts_with(&q) && p.last + TYPING_WINDOW_SECS >= now);
        if extended {
            return;
        }
        if inner.pending.len() >= MAX_PENDING && !inner.pending.contains_key(&q) {
            inner.release(None, cap);
        }
        // The same query searched after its window: the earlier one counts.
        if inner
            .pending
            .get(&q)
            .is_some_and(|p| p.last + TYPING_WINDOW_SECS < now)
        {
            inner.take(&q, now, cap);
        }
        let p = inner.pending.entry(q).or_default();
        p.searches += 1;
        p.zero += zero;
        p.hits = total;
        p.last = now;
    }

    /// Counts a click on a hit of `q` (today's tally of `q`, else today's
    /// `other`).
    pub fn click(&self, q: &str) {
        self.click_at(q, store::now_secs());
    }

    /// [`Recorder::click`] at `now`.
    pub fn click_at(&self, q: &str, now: u64) {
        let q = normalize(q, self.config.max_query_chars);
        let mut inner = self.lock();
        // The search clicked on may still be held back: count it first.
        if let Some(p) = inner.pending.remove(&q) {
            inner.count(&q, p, self.config.max_queries_per_day);
        }
        let held = inner.day(store::day_of(now));
        held.agg.click(&q);
        held.dirty = true;
    }

    /// Writes the days counted since the last write (the held-back searches
    /// whose window has passed first; all of them with `all`), merging
    /// each day's file of an earlier run in first, then deletes the days
    /// past the retention. Errors are logged; the counts stay in memory
    /// and are written next time.
    pub fn flush(&self, all: bool) {
        self.flush_at(all, store::now_secs());
    }

    /// [`Recorder::flush`] at `now`.
    pub fn flush_at(&self, all: bool, now: u64) {
        let cap = self.config.max_queries_per_day;
        let today = store::day_of(now);
        let first_kept = self.config.first_kept(today);
        // Days whose file was not read yet: read outside the lock.
        let unread: Vec<Day> = {
            let mut inner = self.lock();
            let before = (!all).then(|| now.saturating_sub(TYPING_WINDOW_SECS));
            inner.release(before, cap);
            inner
                .days
                .iter()
                .filter(|(_, h)| h.dirty && !h.merged)
                .map(|(d, _)| *d)
                .collect()
        };
        let mut read = Vec::new();
        for day in unread {
            match store::read_day(&self.dir, day) {
                Ok(file) => read.push((day, file)),
                Err(why) => {
                    // Kept aside for a look; this day's counts start afresh.
                    let path = store::day_path(&self.dir, day);
                    let aside = path.with_extension("json.corrupt");
                    let moved = std::fs::rename(&path, &aside).is_ok();
                    tracing::warn!(
                        "analytics: skipping an unreadable day file: {why}{}",
                        if moved {
                            format!(" (moved to {})", aside.display())
                        } else {
                            String::new()
                        }
                    );
                    read.push((day, None));
                }
            }
        }
        let to_write: Vec<(Day, DayAgg)> = {
            let mut inner = self.lock();
            for (day, file) in read {
                let held = inner.day(day);
                if let Some(file) = file {
                    held.agg.merge(&file, cap);
                }
                held.merged = true;
            }
            inner
                .days
                .iter_mut()
                .filter(|(d, h)| h.dirty && h.merged && **d >= first_kept)
                .map(|(d, h)| {
                    h.dirty = false;
                    (*d, h.agg.clone())
                })
                .collect()
        };
        let mut failed = Vec::new();
        for (day, agg) in to_write {
            if let Err(e) = store::write_day(&self.dir, day, &agg) {
                tracing::warn!(
                    "analytics: cannot write {}: {e}; will try again",
                    store::day_path(&self.dir, day).display()
                );
                failed.push(day);
            }
        }
        {
            let mut inner = self.lock();
            for day in failed {
                inner.day(day).dirty = true;
            }
            // Days gone past (written, before yesterday) leave memory.
            inner
                .days
                .retain(|d, h| *d >= first_kept && (h.dirty || *d >= today - 1));
        }
        store::remove_old_days(&self.dir, first_kept);
    }

    /// The report of the days `range` covers: the files, with the counts
    /// not written yet (held-back searches whose window passed included).
    pub fn report(&self, range: store::ReportRange, recording: bool) -> store::Report {
        self.report_at(range, recording, store::now_secs())
    }

    /// [`Recorder::report`] at `now`.
    pub fn report_at(&self, range: store::ReportRange, recording: bool, now: u64) -> store::Report {
        let cap = self.config.max_queries_per_day;
        let (mut days, skipped) = store::read_days(&self.dir, range.from, range.to);
        for (name, why) in &skipped {
            tracing::warn!("analytics: skipping {name}: {why}");
        }
        {
            let mut inner = self.lock();
            inner.release(Some(now.saturating_sub(TYPING_WINDOW_SECS)), cap);
            for (day, held) in &inner.days {
                if *day < range.from || *day > range.to {
                    continue;
                }
                if held.merged {
                    days.insert(*day, held.agg.clone());
                } else {
                    days.entry(*day).or_default().merge(&held.agg, cap);
                }
            }
        }
        store::report(&days, range, recording, self.config.clicks, &skipped)
    }
}

/// The days a report covers when it is asked for the last `days` days
/// and/or the days `since` a day (both: the days in both), until `today`
/// (the last 7 days when neither is given; at most [`MAX_REPORT_DAYS`]).
pub fn report_range(
    today: Day,
    days: Option<u32>,
    since: Option<Day>,
    limit: usize,
) -> store::ReportRange {
    let last = |n: u32| today - Day::from(n.max(1)) + 1;
    let from = match (since, days) {
        // Both: the days that are in both.
        (Some(day), Some(n)) => day.min(today).max(last(n)),
        (Some(day), None) => day.min(today),
        (None, Some(n)) => last(n),
        (None, None) => last(7),
    }
    .max(last(MAX_REPORT_DAYS));
    store::ReportRange {
        from,
        to: today,
        limit,
    }
}

/// Days covered by a report at most (about ten years).
pub const MAX_REPORT_DAYS: u32 = 3660;

/// Queries listed in a report at most.
pub const MAX_REPORT_LIMIT: usize = 1000;

/// The queries of `day` held in memory (tests).
#[cfg(test)]
fn held_queries(r: &Recorder, day: Day) -> std::collections::BTreeSet<String> {
    r.lock()
        .days
        .get(&day)
        .map(|h| h.agg.queries.keys().cloned().collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    const T0: u64 = 20_000 * 86_400 + 3600; // 2024-10-04 01:00 UTC

    fn config() -> AnalyticsConfig {
        AnalyticsConfig {
            max_queries_per_day: 3,
            ..AnalyticsConfig::default()
        }
    }

    fn range(limit: usize) -> store::ReportRange {
        report_range(store::day_of(T0), Some(7), None, limit)
    }

    #[test]
    fn queries_are_normalized() {
        assert_eq!(
            normalize("  Kubernetes   ROLLOUT\t\n", 100),
            "kubernetes rollout"
        );
        assert_eq!(normalize("ÉCOLE\u{0}x", 100), "école x");
        assert_eq!(normalize("abcdef", 3), "abc");
        // A cut never ends on a space, nor in the middle of a character.
        assert_eq!(normalize("ab cdef", 3), "ab");
        assert_eq!(normalize("ééééé", 2), "éé");
        assert_eq!(normalize(" \t ", 10), "");
        // Capital letters that lower to two characters count as two.
        assert_eq!(normalize("İx", 100).chars().count(), 3);
    }

    #[test]
    fn the_analytics_folder_is_beside_the_index_unless_set() {
        let c = AnalyticsConfig::default();
        assert_eq!(
            c.folder(Path::new("index")),
            PathBuf::from("index.analytics")
        );
        assert_eq!(
            c.folder(Path::new("/srv/ix/")),
            PathBuf::from("/srv/ix.analytics")
        );
        let set = AnalyticsConfig {
            dir: "/var/lib/a".into(),
            ..c
        };
        assert_eq!(set.folder(Path::new("index")), PathBuf::from("/var/lib/a"));
    }

    #[test]
    fn keystrokes_count_once_as_the_query_typed() {
        let dir = tempfile::tempdir().unwrap();
        let r = Recorder::unlocked(dir.path().into(), config());
        // Typed as you go, a keystroke a few hundred ms apart.
        for (i, q) in ["k", "ku", "kub", "kube", "kubernetes"].iter().enumerate() {
            r.search_at(q, 10 - i as u64, true, T0 + i as u64 / 3);
        }
        // A late answer of a shorter prefix changes nothing.
        r.search_at("kub", 5, true, T0 + 2);
        // The same query typed again after a pause is a second search.
        r.search_at("kubernetes", 4, true, T0 + 30);
        // Typed, then submitted (Enter): one search, the submitted one.
        r.search_at("hel", 0, true, T0 + 40);
        r.search_at("helm", 3, false, T0 + 41);
        // A pause, then more words: both counted.
        r.search_at("rust", 3, true, T0 + 50);
        r.search_at("rust async", 0, true, T0 + 60);
        r.flush_at(false, T0 + 100);
        let report = r.report_at(range(10), true, T0 + 100);
        let top: Vec<(&str, u64, u64)> = report
            .top_queries
            .iter()
            .map(|q| (q.q.as_str(), q.searches, q.zero_results))
            .collect();
        assert_eq!(top, [("kubernetes", 2, 0), ("helm", 1, 0), ("rust", 1, 0),]);
        // The posts the latest search of the query found.
        assert_eq!(report.top_queries[0].hits, 4);
        // Over the cap of 3 queries: "rust async" went to other.
        assert_eq!(report.totals.searches, 5);
        assert_eq!(report.totals.other_searches, 1);
        assert_eq!(report.totals.zero_results, 1);
    }

    #[test]
    fn held_searches_wait_for_their_window_and_shutdown_counts_them() {
        let dir = tempfile::tempdir().unwrap();
        let r = Recorder::unlocked(dir.path().into(), config());
        let day = store::day_of(T0);
        r.search_at("docker", 3, true, T0);
        r.flush_at(false, T0 + 1);
        assert!(held_queries(&r, day).is_empty(), "still in its window");
        assert_eq!(store::read_day(dir.path(), day).unwrap(), None);
        r.flush_at(false, T0 + 3);
        assert_eq!(
            held_queries(&r, day),
            BTreeSet::from(["docker".to_string()])
        );
        r.search_at("podman", 0, true, T0 + 4);
        r.flush_at(true, T0 + 4); // shutdown: nothing is held back
        let file = store::read_day(dir.path(), day).unwrap().unwrap();
        assert_eq!(file.queries["podman"].zero_results, 1);
        assert_eq!(file.totals().searches, 2);
    }

    #[test]
    fn counts_survive_a_restart_and_add_up() {
        let dir = tempfile::tempdir().unwrap();
        let day = store::day_of(T0);
        for run in 0..2 {
            let r = Recorder::open(dir.path().into(), config()).unwrap();
            r.search_at("grpc", 1, false, T0 + run);
            r.search_at("nothing here", 0, false, T0 + run);
            r.click_at("grpc", T0 + run);
            r.flush_at(true, T0 + run);
        }
        let agg = store::read_day(dir.path(), day).unwrap().unwrap();
        assert_eq!(agg.queries["grpc"].searches, 2);
        assert_eq!(agg.queries["grpc"].clicks, 2);
        assert_eq!(agg.queries["nothing here"].zero_results, 2);
        let r = Recorder::open(dir.path().into(), config()).unwrap();
        // A second server on the same folder is refused.
        assert!(Recorder::open(dir.path().into(), config()).is_err());
        // Unwritten counts are in the report, added to the file's.
        r.search_at("grpc", 1, false, T0 + 5);
        let report = r.report_at(range(10), true, T0 + 5);
        assert_eq!(report.top_queries[0].searches, 3);
        assert_eq!(report.top_queries[0].click_through_rate, 0.6667);
    }

    #[test]
    fn a_corrupt_day_file_is_skipped_and_replaced_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let day = store::day_of(T0);
        std::fs::write(store::day_path(dir.path(), day), "{not json").unwrap();
        let r = Recorder::unlocked(dir.path().into(), config());
        let report = r.report_at(range(10), true, T0);
        assert_eq!(
            report.skipped_files,
            [format!("{}.json", store::day_name(day))]
        );
        r.search_at("ok", 1, false, T0);
        r.flush_at(true, T0);
        let agg = store::read_day(dir.path(), day).unwrap().unwrap();
        assert_eq!(agg.totals().searches, 1);
    }

    #[test]
    fn flushing_deletes_days_past_the_retention() {
        let dir = tempfile::tempdir().unwrap();
        let r = Recorder::unlocked(
            dir.path().into(),
            AnalyticsConfig {
                retention_days: 3,
                ..config()
            },
        );
        for back in 0..6u64 {
            r.search_at("x", 1, false, T0 - back * 86_400);
        }
        r.flush_at(true, T0);
        let today = store::day_of(T0);
        assert_eq!(
            store::days_on_disk(dir.path()),
            [today - 2, today - 1, today]
        );
        // Days past the retention left memory too.
        assert_eq!(r.lock().days.len(), 2);
    }

    #[test]
    fn report_ranges() {
        let r = report_range(100, Some(7), None, 5);
        assert_eq!((r.from, r.to), (94, 100));
        let r = report_range(100, None, Some(98), 5);
        assert_eq!((r.from, r.to), (98, 100));
        let r = report_range(100, None, Some(200), 5);
        assert_eq!((r.from, r.to), (100, 100));
        let r = report_range(100, Some(3), Some(90), 5);
        assert_eq!((r.from, r.to), (98, 100));
        let r = report_range(100, Some(30), Some(90), 5);
        assert_eq!((r.from, r.to), (90, 100));
        let r = report_range(100, Some(0), None, 5);
        assert_eq!((r.from, r.to), (100, 100));
        // At most MAX_REPORT_DAYS days, however far back `since` is.
        let r = report_range(10_000, None, Some(-700_000), 5);
        assert_eq!(r.to - r.from + 1, Day::from(MAX_REPORT_DAYS));
    }
}
