//! The analytics folder on disk: one JSON file per day (`YYYY-MM-DD.json`,
//! UTC), written whole to a temporary file and renamed over the old one;
//! days older than the retention deleted; the report read from the files.
//! A file that cannot be read or parsed is reported and skipped, never a
//! failure of the whole.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// The version of the day files' format.
pub const FORMAT_VERSION: u32 = 1;

/// A day, as days since 1970-01-01 (UTC).
pub type Day = i64;

/// The day of `unix_secs` (UTC).
pub fn day_of(unix_secs: u64) -> Day {
    (unix_secs / 86_400) as Day
}

/// Today (UTC) by the system clock.
pub fn today() -> Day {
    day_of(now_secs())
}

/// Seconds since the epoch by the system clock.
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `YYYY-MM-DD` of a day (the proleptic Gregorian calendar).
pub fn day_name(day: Day) -> String {
    // Howard Hinnant's civil_from_days.
    let z = day + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// The day named `YYYY-MM-DD`, if it is one (a real date, years 0000–9999).
pub fn parse_day(name: &str) -> Option<Day> {
    let b = name.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let s = &name[r];
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    // Howard Hinnant's days_from_civil.
    let yy = if m <= 2 { y - 1 } else { y };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let day = era * 146_097 + doe - 719_468;
    // 2026-02-31 is no date: it must name itself.
    (day_name(day) == name).then_some(day)
}

/// Searches, searches with no result and clicks: of a query, a day, or
/// the queries over the day's cap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Tally {
    pub searches: u64,
    pub zero_results: u64,
    pub clicks: u64,
    /// A query's: the posts its latest search found (0, and not written,
    /// for a day's totals and `other`).
    #[serde(skip_serializing_if = "is_zero")]
    pub hits: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Tally {
    /// Adds `newer`'s counts; its `hits` are the latest when it has
    /// searches.
    fn add(&mut self, newer: &Tally) {
        self.searches += newer.searches;
        self.zero_results += newer.zero_results;
        self.clicks += newer.clicks;
        if newer.searches > 0 {
            self.hits = newer.hits;
        }
    }

    /// Adds `older`'s counts, keeping this one's `hits` when it has
    /// searches.
    fn add_older(&mut self, older: &Tally) {
        let (hits, had) = (self.hits, self.searches > 0);
        self.add(older);
        if had {
            self.hits = hits;
        }
    }
}

/// One day's aggregate: at most `cap` distinct queries, the rest in
/// `other`, so that the day's totals stay right.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DayAgg {
    pub queries: HashMap<String, Tally>,
    pub other: Tally,
}

impl DayAgg {
    /// Counts `searches` searches of `q` (`zero` of them found nothing;
    /// the latest found `hits` posts). A query that is new once the day
    /// holds `cap` queries goes to `other`.
    pub fn search(&mut self, q: &str, searches: u64, zero: u64, hits: u64, cap: usize) {
        let t = Tally {
            searches,
            zero_results: zero,
            clicks: 0,
            hits,
        };
        self.add(q, &t, cap);
    }

    /// Counts a click on a hit of `q`: on the query's own tally if the day
    /// holds it, else in `other` (a click never adds a query).
    pub fn click(&mut self, q: &str) {
        match self.queries.get_mut(q) {
            Some(t) => t.clicks += 1,
            None => self.other.clicks += 1,
        }
    }

    fn add(&mut self, q: &str, t: &Tally, cap: usize) {
        if let Some(mine) = self.queries.get_mut(q) {
            mine.add(t);
        } else if self.queries.len() < cap {
            self.queries.insert(q.to_string(), *t);
        } else {
            self.other.add(t);
            self.other.hits = 0;
        }
    }

    /// Adds `other` (the same day counted elsewhere: a file of an earlier
    /// run) into this one, within `cap`.
    pub fn merge(&mut self, other: &DayAgg, cap: usize) {
        // The larger counts first, so the cap keeps the queries that matter.
        let mut theirs: Vec<(&String, &Tally)> = other.queries.iter().collect();
        theirs.sort_by(|a, b| b.1.searches.cmp(&a.1.searches).then(a.0.cmp(b.0)));
        for (q, t) in theirs {
            match self.queries.get_mut(q.as_str()) {
                Some(mine) => mine.add_older(t),
                None => self.add(q, t, cap),
            }
        }
        self.other.add(&other.other);
        self.other.hits = 0;
    }

    /// The day's totals (its queries and `other`).
    pub fn totals(&self) -> Tally {
        let mut sum = self.other;
        for t in self.queries.values() {
            sum.add(t);
        }
        sum.hits = 0;
        sum
    }

    /// The day as its file's JSON.
    pub fn to_file(&self, day: Day) -> DayFile {
        let mut queries: Vec<QueryTally> = self
            .queries
            .iter()
            .map(|(q, t)| QueryTally {
                q: q.clone(),
                tally: *t,
            })
            .collect();
        queries.sort_by(|a, b| {
            b.tally
                .searches
                .cmp(&a.tally.searches)
                .then_with(|| a.q.cmp(&b.q))
        });
        DayFile {
            version: FORMAT_VERSION,
            day: day_name(day),
            totals: self.totals(),
            other: self.other,
            queries,
        }
    }
}

/// A query and its counts, in a day file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueryTally {
    pub q: String,
    #[serde(flatten)]
    pub tally: Tally,
}

/// The JSON of a day file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DayFile {
    pub version: u32,
    pub day: String,
    /// The day's totals (the queries' and `other`'s); recomputed on read.
    pub totals: Tally,
    /// The searches and clicks of the queries over the day's cap.
    pub other: Tally,
    /// The queries, most searched first.
    pub queries: Vec<QueryTally>,
}

impl DayFile {
    /// Back into an aggregate (its `totals` are the sum of its parts).
    pub fn into_agg(self) -> DayAgg {
        let mut agg = DayAgg {
            other: self.other,
            ..DayAgg::default()
        };
        for qt in self.queries {
            match agg.queries.get_mut(&qt.q) {
                Some(t) => t.add(&qt.tally),
                None => {
                    agg.queries.insert(qt.q, qt.tally);
                }
            }
        }
        agg
    }
}

/// The file of `day` in `dir`.
pub fn day_path(dir: &Path, day: Day) -> PathBuf {
    dir.join(format!("{}.json", day_name(day)))
}

/// Writes `agg` as the file of `day`, atomically: a temporary file in the
/// same folder, flushed, then renamed over the old one.
pub fn write_day(dir: &Path, day: Day, agg: &DayAgg) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let path = day_path(dir, day);
    let tmp = dir.join(format!(
        ".{}.json.tmp-{}",
        day_name(day),
        std::process::id()
    ));
    let json = serde_json::to_vec_pretty(&agg.to_file(day)).map_err(std::io::Error::other)?;
    let result = (|| {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&json)?;
        f.write_all(b"\n")?;
        f.sync_all()?;
        std::fs::rename(&tmp, &path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Reads the file of `day`: `Ok(None)` when there is none; an error
/// (unreadable, not JSON of the format, another day's) says why.
pub fn read_day(dir: &Path, day: Day) -> Result<Option<DayAgg>, String> {
    let path = day_path(dir, day);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let file: DayFile =
        serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    if file.version != FORMAT_VERSION {
        return Err(format!(
            "{}: format version {} (this postsearch reads {FORMAT_VERSION})",
            path.display(),
            file.version
        ));
    }
    if file.day != day_name(day) {
        return Err(format!("{}: holds the day {}", path.display(), file.day));
    }
    Ok(Some(file.into_agg()))
}

/// The days that have a file in `dir`, in order (none when `dir` is
/// missing).
pub fn days_on_disk(dir: &Path) -> Vec<Day> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut days: Vec<Day> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            parse_day(name.strip_suffix(".json")?)
        })
        .collect();
    days.sort_unstable();
    days
}

/// Deletes the files of the days before `first_kept`, and temporary files
/// a killed process left (not this process's own); returns the days
/// deleted.
pub fn remove_old_days(dir: &Path, first_kept: Day) -> Vec<Day> {
    let mut removed = Vec::new();
    for day in days_on_disk(dir) {
        if day < first_kept && std::fs::remove_file(day_path(dir, day)).is_ok() {
            removed.push(day);
        }
    }
    if let Ok(entries) = std::fs::read_dir(dir) {
        let ours = format!(".tmp-{}", std::process::id());
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') && name.contains(".json.tmp-") && !name.ends_with(&ours) {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    removed
}

/// Days `from..=to` read from `dir`, with the files that could not be read
/// (`(file name, why)`), skipped.
pub fn read_days(dir: &Path, from: Day, to: Day) -> (BTreeMap<Day, DayAgg>, Vec<(String, String)>) {
    let mut days = BTreeMap::new();
    let mut skipped = Vec::new();
    for day in days_on_disk(dir) {
        if day < from || day > to {
            continue;
        }
        match read_day(dir, day) {
            Ok(Some(agg)) => {
                days.insert(day, agg);
            }
            Ok(None) => {}
            Err(why) => skipped.push((format!("{}.json", day_name(day)), why)),
        }
    }
    (days, skipped)
}

/// What a report covers and how long its lists are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportRange {
    /// The first day.
    pub from: Day,
    /// The last day (today).
    pub to: Day,
    /// Queries in each list.
    pub limit: usize,
}

/// The analytics report: `GET /api/analytics` and `postsearch analytics
/// --json` (docs/analytics.md has the shape).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The first day covered (`YYYY-MM-DD`, UTC).
    pub from: String,
    /// The last day covered.
    pub to: String,
    /// Whether this server records searches now (the CLI: the setting).
    pub recording: bool,
    /// Whether clicks are recorded.
    pub clicks_recorded: bool,
    pub totals: Totals,
    /// Every day of the range, oldest first (days without a file count 0).
    pub days: Vec<DayReport>,
    /// The most searched queries.
    pub top_queries: Vec<QueryReport>,
    /// The queries that most often found nothing.
    pub top_zero_result_queries: Vec<QueryReport>,
    /// Day files that could not be read (skipped; the reason is logged).
    pub skipped_files: Vec<String>,
}

/// The totals of a report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Totals {
    pub searches: u64,
    pub zero_results: u64,
    /// zero_results / searches (0 with no search).
    pub zero_result_rate: f64,
    pub clicks: u64,
    /// clicks / searches (0 with no search).
    pub click_through_rate: f64,
    /// Distinct queries recorded (over the days, each once).
    pub distinct_queries: u64,
    /// Searches of queries over a day's cap, counted without their text.
    pub other_searches: u64,
}

/// One day of a report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DayReport {
    pub day: String,
    pub searches: u64,
    pub zero_results: u64,
    pub zero_result_rate: f64,
    pub clicks: u64,
}

/// One query of a report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueryReport {
    pub q: String,
    pub searches: u64,
    pub zero_results: u64,
    /// The posts its latest search in the range found.
    pub hits: u64,
    pub clicks: u64,
    pub click_through_rate: f64,
}

fn rate(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        // Four decimals: a rate, not a measurement.
        ((part as f64 / whole as f64) * 10_000.0).round() / 10_000.0
    }
}

/// The report of `days` (already limited to the range).
pub fn report(
    days: &BTreeMap<Day, DayAgg>,
    range: ReportRange,
    recording: bool,
    clicks_recorded: bool,
    skipped: &[(String, String)],
) -> Report {
    let mut per_query: HashMap<&str, Tally> = HashMap::new();
    let mut totals = Tally::default();
    let mut other = 0;
    let mut day_list = Vec::new();
    for day in range.from..=range.to {
        let t = days.get(&day).map(DayAgg::totals).unwrap_or_default();
        if let Some(agg) = days.get(&day) {
            for (q, qt) in &agg.queries {
                per_query.entry(q).or_default().add(qt);
            }
            other += agg.other.searches;
        }
        totals.add(&t);
        day_list.push(DayReport {
            day: day_name(day),
            searches: t.searches,
            zero_results: t.zero_results,
            zero_result_rate: rate(t.zero_results, t.searches),
            clicks: t.clicks,
        });
    }
    let query = |(q, t): (&str, Tally)| QueryReport {
        q: q.to_string(),
        searches: t.searches,
        zero_results: t.zero_results,
        hits: t.hits,
        clicks: t.clicks,
        click_through_rate: rate(t.clicks, t.searches),
    };
    let mut top: Vec<(&str, Tally)> = per_query.iter().map(|(q, t)| (*q, *t)).collect();
    top.sort_by(|a, b| b.1.searches.cmp(&a.1.searches).then(a.0.cmp(b.0)));
    let top_queries = top.iter().take(range.limit).copied().map(query).collect();
    let mut zero: Vec<(&str, Tally)> = top
        .iter()
        .filter(|(_, t)| t.zero_results > 0)
        .copied()
        .collect();
    zero.sort_by(|a, b| {
        b.1.zero_results
            .cmp(&a.1.zero_results)
            .then(b.1.searches.cmp(&a.1.searches))
            .then(a.0.cmp(b.0))
    });
    let top_zero_result_queries = zero.into_iter().take(range.limit).map(query).collect();
    Report {
        from: day_name(range.from),
        to: day_name(range.to),
        recording,
        clicks_recorded,
        totals: Totals {
            searches: totals.searches,
            zero_results: totals.zero_results,
            zero_result_rate: rate(totals.zero_results, totals.searches),
            clicks: totals.clicks,
            click_through_rate: rate(totals.clicks, totals.searches),
            distinct_queries: per_query.len() as u64,
            other_searches: other,
        },
        days: day_list,
        top_queries,
        top_zero_result_queries,
        skipped_files: skipped.iter().map(|(name, _)| name.clone()).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_names_round_trip_and_bad_dates_are_refused() {
        assert_eq!(day_name(0), "1970-01-01");
        assert_eq!(parse_day("1970-01-01"), Some(0));
        assert_eq!(day_name(20_427), "2025-12-05");
        for day in [0, 59, 60, 365, 10_956, 11_016, 20_427, 2_932_896] {
            assert_eq!(parse_day(&day_name(day)), Some(day), "{day}");
        }
        assert_eq!(
            parse_day("2024-02-29").map(day_name).as_deref(),
            Some("2024-02-29")
        );
        assert_eq!(parse_day("1969-12-31"), Some(-1));
        assert_eq!(
            parse_day("0000-03-01").map(day_name).as_deref(),
            Some("0000-03-01")
        );
        for bad in [
            "2025-02-29",
            "2025-13-01",
            "2025-00-10",
            "2025-1-01",
            "25-01-01xx",
            "2025-01-+1",
            "",
        ] {
            assert_eq!(parse_day(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_cap_counts_new_queries_in_other_and_totals_stay_right() {
        let mut agg = DayAgg::default();
        agg.search("a", 1, 0, 7, 2);
        agg.search("b", 1, 1, 0, 2);
        agg.search("c", 3, 3, 0, 2); // over the cap
        agg.search("a", 1, 0, 7, 2); // known: still counted on its own
        agg.click("a");
        agg.click("c"); // not held: other
        assert_eq!(agg.queries.len(), 2);
        assert_eq!(agg.queries["a"].searches, 2);
        assert_eq!(agg.queries["a"].clicks, 1);
        assert_eq!(
            agg.other,
            Tally {
                searches: 3,
                zero_results: 3,
                clicks: 1,
                hits: 0
            }
        );
        assert_eq!(
            agg.totals(),
            Tally {
                searches: 6,
                zero_results: 4,
                clicks: 2,
                hits: 0
            }
        );
        // Merging within the cap: the file's known queries add up, its new
        // ones go to other.
        let mut older = DayAgg::default();
        older.search("b", 2, 0, 7, 10);
        older.search("z", 5, 0, 7, 10);
        let before = agg.totals().searches;
        agg.merge(&older, 2);
        assert_eq!(agg.queries["b"].searches, 3);
        // The file is older: the hits of the latest search are kept.
        assert_eq!(agg.queries["b"].hits, 0);
        assert_eq!(agg.queries["a"].hits, 7);
        assert_eq!(agg.other.searches, 8);
        assert_eq!(agg.totals().searches, before + 7);
    }

    #[test]
    fn a_day_file_round_trips_and_corrupt_files_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let mut agg = DayAgg::default();
        agg.search("kubernetes", 2, 0, 7, 10);
        agg.search("naïve \"quotes\"", 1, 1, 0, 10);
        write_day(dir.path(), 100, &agg).unwrap();
        assert_eq!(read_day(dir.path(), 100).unwrap(), Some(agg.clone()));
        // No temporary file is left behind.
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["1970-04-11.json"]);
        // A truncated file, a file of another format, another day's file.
        std::fs::write(day_path(dir.path(), 101), "{\"version\":1,\"day\":").unwrap();
        std::fs::write(day_path(dir.path(), 102), "[1,2,3]").unwrap();
        std::fs::copy(day_path(dir.path(), 100), day_path(dir.path(), 103)).unwrap();
        std::fs::write(dir.path().join("notes.json"), "x").unwrap();
        let (days, skipped) = read_days(dir.path(), 0, 1000);
        assert_eq!(days.keys().copied().collect::<Vec<_>>(), [100]);
        let names: Vec<&str> = skipped.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            ["1970-04-12.json", "1970-04-13.json", "1970-04-14.json"]
        );
        assert!(
            skipped[2].1.contains("holds the day 1970-04-11"),
            "{skipped:?}"
        );
        let r = report(
            &days,
            ReportRange {
                from: 99,
                to: 101,
                limit: 10,
            },
            true,
            false,
            &skipped,
        );
        assert_eq!(r.totals.searches, 3);
        assert_eq!(r.skipped_files.len(), 3);
        assert_eq!(r.days.len(), 3);
        assert_eq!(r.days[1].zero_result_rate, 0.3333);
    }

    #[test]
    fn retention_deletes_the_days_before_the_first_kept() {
        let dir = tempfile::tempdir().unwrap();
        for day in [10, 11, 12, 13] {
            write_day(dir.path(), day, &DayAgg::default()).unwrap();
        }
        std::fs::write(dir.path().join(".1970-01-12.json.tmp-1"), "x").unwrap();
        std::fs::write(dir.path().join("keep.txt"), "x").unwrap();
        assert_eq!(remove_old_days(dir.path(), 12), [10, 11]);
        assert_eq!(days_on_disk(dir.path()), [12, 13]);
        assert!(!dir.path().join(".1970-01-12.json.tmp-1").exists());
        assert!(dir.path().join("keep.txt").exists());
    }

    #[test]
    fn the_report_ranks_queries_and_rates_days() {
        let mut days = BTreeMap::new();
        let mut d1 = DayAgg::default();
        d1.search("rust", 3, 0, 7, 10);
        d1.search("cobol", 1, 1, 0, 10);
        d1.click("rust");
        let mut d2 = DayAgg::default();
        d2.search("rust", 1, 0, 9, 10);
        d2.search("fortran", 2, 2, 0, 10);
        d2.search("cobol", 1, 1, 0, 10);
        days.insert(5, d1);
        days.insert(7, d2);
        let r = report(
            &days,
            ReportRange {
                from: 5,
                to: 7,
                limit: 2,
            },
            true,
            true,
            &[],
        );
        assert_eq!(r.totals.searches, 8);
        assert_eq!(r.totals.zero_results, 4);
        assert_eq!(r.totals.zero_result_rate, 0.5);
        assert_eq!(r.totals.distinct_queries, 3);
        let top: Vec<(&str, u64)> = r
            .top_queries
            .iter()
            .map(|q| (q.q.as_str(), q.searches))
            .collect();
        assert_eq!(top, [("rust", 4), ("cobol", 2)]);
        assert_eq!(r.top_queries[0].click_through_rate, 0.25);
        // The hits of the latest day's search.
        assert_eq!(r.top_queries[0].hits, 9);
        let zero: Vec<&str> = r
            .top_zero_result_queries
            .iter()
            .map(|q| q.q.as_str())
            .collect();
        assert_eq!(zero, ["cobol", "fortran"]);
        let per_day: Vec<u64> = r.days.iter().map(|d| d.searches).collect();
        assert_eq!(per_day, [4, 0, 4]);
        assert_eq!(r.days[2].zero_result_rate, 0.75);
    }
}
