//! Value normal forms shared by writing and reading: a facet value as the
//! index holds it, and a date as a timestamp. The schema, the query
//! language, facet counts, numeric filters, similar posts and `/meili` all
//! compare against what these functions produce.

use tantivy::DateTime;

/// The normalized form of a facet value: trimmed and lowercased, so that
/// `Python` and `python` are one value.
pub fn facet_value(v: &str) -> String {
    v.trim().to_lowercase()
}

/// Parses `YYYY-MM-DD` (a longer ISO timestamp is cut to its date).
pub fn parse_iso_date(s: &str) -> Option<DateTime> {
    let s = s.get(..10)?;
    let mut parts = s.split('-');
    let year: i32 = parts.next()?.parse().ok()?;
    let month: u8 = parts.next()?.parse().ok()?;
    let day: u8 = parts.next()?.parse().ok()?;
    let month = tantivy::time::Month::try_from(month).ok()?;
    let date = tantivy::time::Date::from_calendar_date(year, month, day).ok()?;
    let secs = date.midnight().assume_utc().unix_timestamp();
    Some(DateTime::from_timestamp_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates_parse() {
        let d = parse_iso_date("2018-08-25").unwrap();
        assert_eq!(d.into_timestamp_secs(), 1_535_155_200);
        assert!(parse_iso_date("2018-13-01").is_none());
        assert!(parse_iso_date("soon").is_none());
    }

    #[test]
    fn facet_values_are_trimmed_and_lowercased() {
        assert_eq!(facet_value("  Python "), "python");
    }
}
