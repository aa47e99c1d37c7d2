//! Query-string parsing: every parameter checked, every error naming the
//! parameter at fault.

use postsearch_engine::facets::parse_selection;
use postsearch_engine::{Error, Limits, Result, SearchRequest};

/// The `(name, value)` pairs of a raw query string.
pub fn pairs(raw: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(raw.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn number<T: std::str::FromStr>(name: &str, value: &str, what: &str) -> Result<T> {
    value
        .trim()
        .parse()
        .map_err(|_| Error::bad_request(name, format!("{name} must be {what}, got {value:?}")))
}

fn boolean(name: &str, value: &str) -> Result<bool> {
    match value.trim() {
        "" | "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(Error::bad_request(
            name,
            format!("{name} must be true or false, got {value:?}"),
        )),
    }
}

/// `limit`, checked against the engine's limits.
pub fn limit(value: &str, limits: &Limits) -> Result<usize> {
    let n: usize = number("limit", value, "a whole number")?;
    limits.check_limit(n)?;
    Ok(n)
}

/// A `/api/search` query string as a [`SearchRequest`], checked against
/// the engine's `limits` as each parameter is read (a long `q` is refused
/// before the rest is parsed).
pub fn search_request(raw: &str, limits: &Limits) -> Result<SearchRequest> {
    let mut req = SearchRequest::default();
    let mut facet_params = 0;
    for (name, value) in pairs(raw) {
        match name.as_str() {
            "q" => {
                limits.check_query(&value)?;
                req.q = value;
            }
            "facet" => {
                facet_params += 1;
                limits.check_facets("facet", facet_params)?;
                let (field, v) = parse_selection(&value)?;
                req.facets.entry(field).or_default().push(v);
            }
            "sort" => {
                req.sort = value
                    .parse()
                    .map_err(|e: String| Error::bad_request("sort", e))?
            }
            "match" => {
                req.match_mode = value
                    .parse()
                    .map_err(|e: String| Error::bad_request("match", e))?
            }
            "limit" => req.limit = limit(&value, limits)?,
            "offset" => {
                let n: usize = number("offset", &value, "a whole number")?;
                limits.check_offset(n)?;
                req.offset = n;
            }
            "prefix" => req.prefix = boolean("prefix", &value)?,
            "explain" => req.explain = boolean("explain", &value)?,
            "typos" => req.typos = boolean("typos", &value)?,
            "synonyms" => req.synonyms = boolean("synonyms", &value)?,
            "distinct" => {
                req.distinct = match value.as_str() {
                    "" | "none" => None,
                    v => Some(
                        v.parse()
                            .map_err(|e: String| Error::bad_request("distinct", e))?,
                    ),
                }
            }
            "facets" => req.with_facets = boolean("facets", &value)?,
            "snippets" => req.with_snippets = boolean("snippets", &value)?,
            "meta_weight" => {
                let w: f64 = number("meta_weight", &value, "a number")?;
                limits.check_meta_weight(w)?;
                req.meta_weight = Some(w as f32);
            }
            other => return Err(unknown(other)),
        }
    }
    Ok(req)
}

/// Values shown by a facet search unless `limit` says otherwise.
pub const DEFAULT_FACET_HITS: usize = 10;

/// A `/api/facets/{field}/search` query string: `q` is what was typed in
/// the facet's box, `limit` the values wanted; the search whose matches
/// are counted is given as `/api/search` gives it, with its text in
/// `query` (`query`, `facet`, `match`, `prefix`, `typos`, `synonyms`,
/// `meta_weight`).
pub fn facet_search_request(raw: &str, limits: &Limits) -> Result<(SearchRequest, String, usize)> {
    let mut typed = String::new();
    let mut limit = DEFAULT_FACET_HITS;
    let mut search = Vec::new();
    for (name, value) in pairs(raw) {
        match name.as_str() {
            "q" => {
                limits.check_query(&value)?;
                typed = value;
            }
            "limit" => limit = number("limit", &value, "a whole number")?,
            "query" => search.push(("q".to_string(), value)),
            "facet" | "match" | "prefix" | "typos" | "synonyms" | "meta_weight" => {
                search.push((name, value))
            }
            other => return Err(unknown(other)),
        }
    }
    let raw_search = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(search)
        .finish();
    Ok((search_request(&raw_search, limits)?, typed, limit))
}

/// The error of a parameter this route does not take.
pub fn unknown(name: &str) -> Error {
    let shown: String = name.chars().take(64).collect();
    Error::bad_request(shown.clone(), format!("unknown parameter {shown:?}"))
}

/// The parameters of `GET /api/analytics`: the last `days` days and/or
/// the days `since` a date (`YYYY-MM-DD`; both: the days in both);
/// `limit` queries in each list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnalyticsParams {
    pub days: Option<u32>,
    pub since: Option<i64>,
    pub limit: usize,
}

/// `GET /api/analytics`'s query string (see [`AnalyticsParams`]).
pub fn analytics_params(raw: &str) -> Result<AnalyticsParams> {
    use crate::analytics::{store, MAX_REPORT_DAYS, MAX_REPORT_LIMIT};
    let mut p = AnalyticsParams {
        days: None,
        since: None,
        limit: 20,
    };
    for (name, value) in pairs(raw) {
        match name.as_str() {
            "days" => {
                let n: u32 = number("days", &value, "a whole number of days")?;
                if n == 0 || n > MAX_REPORT_DAYS {
                    return Err(Error::bad_request(
                        "days",
                        format!("days must be 1 to {MAX_REPORT_DAYS}, got {n}"),
                    ));
                }
                p.days = Some(n);
            }
            "since" => {
                let day = store::parse_day(value.trim()).ok_or_else(|| {
                    Error::bad_request(
                        "since",
                        format!("since must be a date YYYY-MM-DD, got {value:?}"),
                    )
                })?;
                p.since = Some(day);
            }
            "limit" => {
                let n: usize = number("limit", &value, "a whole number")?;
                if n > MAX_REPORT_LIMIT {
                    return Err(Error::bad_request(
                        "limit",
                        format!("limit must be 0 to {MAX_REPORT_LIMIT}, got {n}"),
                    ));
                }
                p.limit = n;
            }
            other => return Err(unknown(other)),
        }
    }
    Ok(p)
}

/// `limit` alone (similar, suggest), with a default; other parameters
/// besides `allowed` are errors.
pub fn limit_only(
    raw: &str,
    default: usize,
    allowed: &[&str],
    limits: &Limits,
) -> Result<(usize, Vec<(String, String)>)> {
    let mut n = default;
    let mut rest = Vec::new();
    for (name, value) in pairs(raw) {
        if name == "limit" {
            n = limit(&value, limits)?;
        } else if allowed.contains(&name.as_str()) {
            rest.push((name, value));
        } else {
            return Err(unknown(&name));
        }
    }
    Ok((n, rest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use postsearch_engine::{MatchMode, Sort};

    fn param_of(raw: &str) -> String {
        match search_request(raw, &Limits::default()) {
            Err(Error::BadRequest { param, .. }) => param,
            other => panic!("{raw}: {other:?}"),
        }
    }

    #[test]
    fn parses_every_parameter() {
        let r = search_request(
            "q=n%2B1+queries&facet=stack:python&facet=stack%3Adjango&facet=difficulty=beginner&sort=views&limit=5&offset=10&match=any&prefix=true&explain=1&meta_weight=0",
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(r.q, "n+1 queries");
        assert_eq!(r.facets["stack"], ["python", "django"]);
        assert_eq!(r.facets["difficulty"], ["beginner"]);
        assert_eq!(r.sort, Sort::Views);
        assert_eq!((r.limit, r.offset), (5, 10));
        assert_eq!(r.match_mode, MatchMode::Any);
        assert!(r.prefix && r.explain);
        assert_eq!(r.meta_weight, Some(0.0));
    }

    #[test]
    fn bad_values_name_their_parameter() {
        assert_eq!(param_of("sort=sideways"), "sort");
        assert_eq!(param_of("offset=-1"), "offset");
        assert_eq!(param_of("limit=abc"), "limit");
        assert_eq!(param_of("limit=101"), "limit");
        assert_eq!(param_of("offset=10001"), "offset");
        assert_eq!(param_of("match=most"), "match");
        assert_eq!(param_of("prefix=maybe"), "prefix");
        assert_eq!(param_of("meta_weight=NaN"), "meta_weight");
        assert_eq!(param_of("facet=nothing"), "facet");
        assert_eq!(param_of("colour=red"), "colour");
        assert_eq!(param_of(&format!("q={}", "a".repeat(1025))), "q");
        assert_eq!(param_of(&"facet=stack:x&".repeat(65)), "facet");
    }
}
