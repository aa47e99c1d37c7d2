//! Meilisearch search parameters → [`SearchRequest`], and the engine's
//! answer → Meilisearch's search answer.

use super::filter::{self, canonical_attr, Plan, FILTERABLE, NUMERIC_ATTRS};
use super::{MResult, MeiliError, SORTABLE};
use postsearch_engine::snippet::{Highlighter, Marks};
use postsearch_engine::{Engine, Filter, Hit, Limits, MatchMode, SearchRequest, Sort};
use postsearch_store::stored::StoredPost;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::time::Instant;

/// Most values listed per facet in `facetDistribution`.
pub const MAX_VALUES_PER_FACET: usize = 100;
/// How `facetDistribution` orders (and so picks) a facet's values, as the
/// settings' `faceting.sortFacetValuesBy` says for every facet (`"*"`):
/// `count`, the most frequent first (ties by value), so the values shown
/// are the most frequent ones.
pub const SORT_FACET_VALUES_BY: &str = "count";

/// The values of one facet as `facetDistribution` lists them: the
/// non-zero counts, most frequent first (ties in `counts`' order: by
/// value), at most [`MAX_VALUES_PER_FACET`].
pub fn top_values<K: Clone>(counts: &BTreeMap<K, u64>) -> Vec<(K, u64)> {
    let mut values: Vec<(K, u64)> = counts
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(v, n)| (v.clone(), *n))
        .collect();
    // A stable sort: equal counts keep the map's order (by value).
    values.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    values.truncate(MAX_VALUES_PER_FACET);
    values
}
/// Meilisearch's default page size.
pub const DEFAULT_LIMIT: usize = 20;
/// `_rankingScore = score / (score + RANKING_SCORE_HALF)`.
pub const RANKING_SCORE_HALF: f64 = 10.0;
/// Characters per word when `cropLength` (in words) becomes a snippet
/// length (in characters).
const CHARS_PER_WORD: usize = 7;

/// The parameters this layer understands.
const KNOWN: [&str; 18] = [
    "q",
    "offset",
    "limit",
    "page",
    "hitsPerPage",
    "filter",
    "facets",
    "sort",
    "attributesToRetrieve",
    "attributesToHighlight",
    "highlightPreTag",
    "highlightPostTag",
    "attributesToCrop",
    "cropLength",
    "cropMarker",
    "matchingStrategy",
    "showRankingScore",
    "distinct",
];

/// Meilisearch's error code for a parameter (`hitsPerPage` →
/// `invalid_search_hits_per_page`).
fn code_of(param: &str) -> String {
    let mut snake = String::new();
    for c in param.chars() {
        if c.is_ascii_uppercase() {
            snake.push('_');
            snake.push(c.to_ascii_lowercase());
        } else {
            snake.push(c);
        }
    }
    format!("invalid_search_{snake}")
}

fn invalid(param: &str, msg: impl std::fmt::Display) -> MeiliError {
    MeiliError::bad(
        code_of(param),
        format!("Invalid value at `.{param}`: {msg}"),
    )
}

/// The parsed parameters of one search.
#[derive(Debug, Clone)]
pub struct Params {
    pub q: String,
    pub offset: usize,
    pub limit: usize,
    /// `(page, hitsPerPage)` when the page form was asked for.
    pub page: Option<(usize, usize)>,
    pub plan: Plan,
    pub facets: Option<Vec<String>>,
    pub sort: Sort,
    pub retrieve: Option<Vec<String>>,
    pub highlight: Vec<String>,
    pub pre: String,
    pub post: String,
    /// Attribute → crop length in words.
    pub crop: Vec<(String, usize)>,
    pub crop_marker: String,
    pub matching: MatchMode,
    pub ranking_score: bool,
    /// One hit per duplicate group (`distinct: "hash"`).
    pub distinct: Option<postsearch_engine::Distinct>,
}

fn usize_of(name: &str, v: &Value) -> MResult<usize> {
    // A whole number written with a fraction (`12.0`) is a whole number
    // (as JSON Schema's `integer` says).
    let whole = || {
        v.as_f64()
            .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f < u64::MAX as f64)
            .map(|f| f as u64)
    };
    v.as_u64()
        .or_else(whole)
        .map(|n| n as usize)
        .ok_or_else(|| {
            invalid(
                name,
                format!("expected a positive integer, but found `{v}`."),
            )
        })
}

fn string_of(name: &str, v: &Value) -> MResult<String> {
    v.as_str()
        .map(str::to_string)
        .ok_or_else(|| invalid(name, format!("expected a string, but found `{v}`.")))
}

/// A limit's refusal as the parameter's Meilisearch error.
fn within(name: &str, checked: postsearch_engine::Result<()>) -> MResult<()> {
    checked.map_err(|e| invalid(name, format!("{e}.")))
}

/// A highlight tag or crop marker, within `limits.max_tag_bytes`.
fn tag_of(name: &str, v: &Value, limits: &Limits) -> MResult<String> {
    let tag = string_of(name, v)?;
    within(name, limits.check_tag(name, &tag))?;
    Ok(tag)
}

fn bool_of(name: &str, v: &Value) -> MResult<bool> {
    v.as_bool()
        .ok_or_else(|| invalid(name, format!("expected a boolean, but found `{v}`.")))
}

fn list_of(name: &str, v: &Value) -> MResult<Option<Vec<String>>> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(vec![s.clone()])),
        Value::Array(items) => items
            .iter()
            .map(|x| {
                x.as_str().map(str::to_string).ok_or_else(|| {
                    invalid(name, format!("expected an array of strings, found `{x}`."))
                })
            })
            .collect::<MResult<Vec<_>>>()
            .map(Some),
        _ => Err(invalid(
            name,
            format!("expected an array of strings, but found `{v}`."),
        )),
    }
}

/// Parameters accepted only with their neutral value.
fn neutral(name: &str, v: &Value) -> Option<bool> {
    Some(match name {
        "showMatchesPosition"
        | "showRankingScoreDetails"
        | "retrieveVectors"
        | "showPerformanceDetails" => v.is_null() || v == &Value::Bool(false),
        "locales" => v.is_null() || v.as_array().is_some_and(|a| a.is_empty()),
        "attributesToSearchOn" => v.is_null() || v == &json!(["*"]),
        "rankingScoreThreshold" | "hybrid" | "vector" | "media" | "personalize" => v.is_null(),
        _ => return None,
    })
}

/// Parses the parameters of a search body (or of a multi-search query,
/// without its `indexUid`).
pub fn parse_params(obj: Map<String, Value>, limits: &Limits) -> MResult<Params> {
    let mut p = Params {
        q: String::new(),
        offset: 0,
        limit: DEFAULT_LIMIT,
        page: None,
        plan: Plan::default(),
        facets: None,
        sort: Sort::Relevance,
        retrieve: None,
        highlight: Vec::new(),
        pre: "<em>".into(),
        post: "</em>".into(),
        crop: Vec::new(),
        crop_marker: "…".into(),
        matching: MatchMode::Auto,
        ranking_score: false,
        distinct: None,
    };
    let (mut page, mut hits_per_page) = (None, None);
    let mut crop_attrs: Vec<String> = Vec::new();
    let mut crop_length = 10;
    for (name, v) in &obj {
        let n = name.as_str();
        match n {
            "q" => {
                p.q = match v {
                    Value::Null => String::new(),
                    _ => string_of(n, v)?,
                };
                if p.q.len() > limits.max_query_bytes {
                    return Err(invalid(
                        n,
                        format!(
                            "the query is {} bytes long; postsearch's limit is {}.",
                            p.q.len(),
                            limits.max_query_bytes
                        ),
                    ));
                }
            }
            "offset" => p.offset = usize_of(n, v)?,
            "limit" => p.limit = usize_of(n, v)?,
            "page" => page = Some(usize_of(n, v)?),
            "hitsPerPage" => hits_per_page = Some(usize_of(n, v)?),
            "filter" => {
                let expr = filter::from_json(v)
                    .map_err(|e| MeiliError::bad("invalid_search_filter", e.0))?;
                p.plan = filter::translate(expr)
                    .map_err(|e| MeiliError::bad("invalid_search_filter", e.0))?;
            }
            "facets" => {
                p.facets = match list_of(n, v)? {
                    None => None,
                    Some(list) => {
                        within(n, limits.check_facets(n, list.len()))?;
                        let mut out: Vec<String> = Vec::new();
                        for f in list {
                            if f == "*" {
                                out.extend(FILTERABLE.iter().map(|s| s.to_string()));
                            } else if FILTERABLE.contains(&canonical_attr(&f)) {
                                out.push(f);
                            } else {
                                return Err(MeiliError::bad(
                                    "invalid_search_facets",
                                    format!(
                                        "Invalid facet distribution, attribute `{f}` is not filterable. The available filterable attributes are `{}`.",
                                        FILTERABLE.join(", ")
                                    ),
                                ));
                            }
                        }
                        let mut seen = std::collections::HashSet::new();
                        out.retain(|f| seen.insert(f.clone()));
                        Some(out)
                    }
                }
            }
            "sort" => {
                let list = list_of(n, v)?.unwrap_or_default();
                p.sort = sort_of(&list)?;
            }
            "attributesToRetrieve" => p.retrieve = list_of(n, v)?,
            "attributesToHighlight" => p.highlight = list_of(n, v)?.unwrap_or_default(),
            "highlightPreTag" => p.pre = tag_of(n, v, limits)?,
            "highlightPostTag" => p.post = tag_of(n, v, limits)?,
            "attributesToCrop" => crop_attrs = list_of(n, v)?.unwrap_or_default(),
            "cropLength" => {
                crop_length = usize_of(n, v)?;
                within(n, limits.check_crop(n, crop_length))?;
            }
            "cropMarker" => p.crop_marker = tag_of(n, v, limits)?,
            "matchingStrategy" => {
                p.matching = match v.as_str() {
                    Some("last") => MatchMode::Auto,
                    Some("all") => MatchMode::All,
                    Some("frequency") => MatchMode::Any,
                    _ => {
                        return Err(invalid(
                            n,
                            format!("Unknown value `{v}`: expected one of `last`, `all`, `frequency`."),
                        ))
                    }
                }
            }
            "showRankingScore" => p.ranking_score = bool_of(n, v)?,
            "distinct" => {
                p.distinct = match v {
                    Value::Null => None,
                    Value::String(s) if s == "hash" => Some(postsearch_engine::Distinct::Hash),
                    _ => {
                        return Err(MeiliError::bad(
                            "invalid_search_distinct",
                            format!("Invalid value at `.distinct`: postsearch makes results distinct by `hash` only (copies of one post), got `{v}`."),
                        ))
                    }
                }
            }
            other => match neutral(other, v) {
                Some(true) => {}
                Some(false) => {
                    return Err(MeiliError::bad(
                        code_of(other),
                        format!("Invalid value at `.{other}`: postsearch does not support `{other}` (only its default value)."),
                    ))
                }
                None => {
                    return Err(MeiliError::bad(
                        "bad_request",
                        format!(
                            "Unknown field `{other}`: expected one of `{}`.",
                            KNOWN.join("`, `")
                        ),
                    ))
                }
            },
        }
    }
    for a in crop_attrs {
        match a.split_once(':') {
            Some((attr, len)) => {
                let len = len.parse().map_err(|_| {
                    invalid("attributesToCrop", format!("bad crop length in `{a}`."))
                })?;
                within(
                    "attributesToCrop",
                    limits.check_crop("attributesToCrop", len),
                )?;
                p.crop.push((attr.to_string(), len));
            }
            None => p.crop.push((a, crop_length)),
        }
    }
    if page.is_some() || hits_per_page.is_some() {
        let page = page.unwrap_or(1);
        let hpp = hits_per_page.unwrap_or(DEFAULT_LIMIT);
        p.page = Some((page, hpp));
        if page == 0 {
            p.limit = 0;
            p.offset = 0;
        } else {
            p.limit = hpp;
            p.offset = (page - 1).saturating_mul(hpp);
        }
    }
    let lim_name = if p.page.is_some() {
        "hitsPerPage"
    } else {
        "limit"
    };
    if p.limit > limits.max_limit {
        return Err(invalid(
            lim_name,
            format!(
                "postsearch returns at most {} hits per request, got {}.",
                limits.max_limit, p.limit
            ),
        ));
    }
    if p.offset > limits.max_offset {
        if p.page.is_none() {
            return Err(invalid(
                "offset",
                format!(
                    "postsearch pages at most {} hits deep, got an offset of {}.",
                    limits.max_offset, p.offset
                ),
            ));
        }
        // A page past the deepest one has no hits (as in Meilisearch); the
        // totals are still counted.
        (p.limit, p.offset) = (0, 0);
    }
    Ok(p)
}

fn sort_of(list: &[String]) -> MResult<Sort> {
    let err = |m: String| MeiliError::bad("invalid_search_sort", m);
    match list {
        [] => Ok(Sort::Relevance),
        [one] => {
            let (attr, dir) = one.rsplit_once(':').ok_or_else(|| {
                err(format!(
                    "Invalid syntax for the sort parameter: expected expression ending by `:asc` or `:desc`, found `{one}`."
                ))
            })?;
            let attr = canonical_attr(attr.trim());
            if !SORTABLE.contains(&attr) {
                return Err(err(format!(
                    "Attribute `{attr}` is not sortable. Available sortable attributes are: `{}`.",
                    SORTABLE.join(", ")
                )));
            }
            match (attr, dir.trim()) {
                ("view_count", "desc") => Ok(Sort::Views),
                ("quality", "desc") => Ok(Sort::Quality),
                ("last_reviewed", "desc") => Ok(Sort::Newest),
                (_, "asc") => Err(err(format!(
                    "postsearch sorts `{attr}` in descending order only (`{attr}:desc`)."
                ))),
                _ => Err(err(format!(
                    "Invalid syntax for the sort parameter: expected expression ending by `:asc` or `:desc`, found `{one}`."
                ))),
            }
        }
        _ => Err(err(
            "postsearch sorts by one attribute at a time; several sort criteria are not supported."
                .into(),
        )),
    }
}

/// The search parameters of a `GET .../search` query string, as the JSON
/// object a POST would carry.
pub fn params_from_query(raw: &str) -> MResult<Map<String, Value>> {
    let mut obj = Map::new();
    for (k, v) in crate::params::pairs(raw) {
        let value = match k.as_str() {
            "offset" | "limit" | "page" | "hitsPerPage" | "cropLength" => {
                match v.trim().parse::<u64>() {
                    Ok(n) => json!(n),
                    Err(_) => {
                        return Err(invalid(
                            &k,
                            format!("could not parse `{v}` as a positive integer"),
                        ))
                    }
                }
            }
            "showRankingScore"
            | "showMatchesPosition"
            | "showRankingScoreDetails"
            | "retrieveVectors"
            | "showPerformanceDetails" => match v.trim() {
                "true" => json!(true),
                "false" => json!(false),
                _ => return Err(invalid(&k, format!("could not parse `{v}` as a boolean"))),
            },
            "attributesToRetrieve"
            | "attributesToHighlight"
            | "attributesToCrop"
            | "facets"
            | "sort"
            | "attributesToSearchOn" => json!(v
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()),
            _ => json!(v),
        };
        obj.insert(k, value);
    }
    Ok(obj)
}

/// The queries of a multi-search body, checked against our index uid.
pub fn multi_search_queries(
    body: Value,
    uid: &str,
    limits: &Limits,
) -> MResult<Vec<Map<String, Value>>> {
    let Value::Object(mut obj) = body else {
        return Err(MeiliError::bad(
            "bad_request",
            "the multi-search body must be a JSON object",
        ));
    };
    match obj.remove("federation") {
        None | Some(Value::Null) => {}
        Some(_) => {
            return Err(MeiliError::bad(
                "invalid_multi_search_federation",
                "postsearch does not support federated multi-search (`federation` must be null).",
            ))
        }
    }
    let queries = match obj.remove("queries") {
        Some(Value::Array(q)) => q,
        _ => {
            return Err(MeiliError::bad(
                "bad_request",
                "Missing field `queries` (an array of search queries).",
            ))
        }
    };
    if let Some(other) = obj.keys().next() {
        return Err(MeiliError::bad(
            "bad_request",
            format!("Unknown field `{other}`: expected one of `queries`, `federation`."),
        ));
    }
    limits
        .check_multi_search(queries.len())
        .map_err(|e| MeiliError::bad("invalid_multi_search_queries", format!("{e}.")))?;
    let mut out = Vec::with_capacity(queries.len());
    for (i, q) in queries.into_iter().enumerate() {
        let Value::Object(mut q) = q else {
            return Err(MeiliError::bad(
                "bad_request",
                format!("Inside `.queries[{i}]`: a query must be a JSON object."),
            ));
        };
        match q.get("indexUid") {
            Some(Value::String(u)) if u == uid => {}
            Some(Value::String(u)) => {
                return Err(MeiliError::new(
                    hyper::StatusCode::NOT_FOUND,
                    "index_not_found",
                    format!("Inside `.queries[{i}]`: Index `{u}` not found."),
                ))
            }
            _ => {
                return Err(MeiliError::bad(
                    "missing_index_uid",
                    format!("Inside `.queries[{i}]`: Missing field `indexUid`."),
                ))
            }
        }
        q.remove("indexUid");
        match q.remove("federationOptions") {
            None | Some(Value::Null) => {}
            Some(_) => {
                return Err(MeiliError::bad(
                    "invalid_multi_search_federation_options",
                    format!(
                    "Inside `.queries[{i}]`: `federationOptions` is not supported by postsearch."
                ),
                ))
            }
        }
        out.push(q);
    }
    Ok(out)
}

/// The score parts and review date, which a Meilisearch document carries
/// at the top level (`quality`, `freshness`, `depth`, `clarity`,
/// `last_reviewed`) so they can be filtered, sorted and shown under the
/// names the settings list.
const DERIVED: [&str; 5] = ["quality", "freshness", "depth", "clarity", "last_reviewed"];

/// The values of the derived attributes, in [`DERIVED`] order.
type Derived = [Option<Value>; 5];

/// The derived attributes of a hit (decoded with it, nothing to parse).
fn derived_of_hit(hit: &Hit) -> Derived {
    let p = &hit.score_parts;
    [
        p.quality.map(Value::from),
        p.freshness.map(Value::from),
        p.depth.map(Value::from),
        p.clarity.map(Value::from),
        hit.last_reviewed.clone().map(Value::from),
    ]
}

/// The derived attributes of a stored post, decoded from it.
fn derived_of_stored(stored: &StoredPost) -> Derived {
    let Ok(post) = stored.hit_post(false) else {
        return Derived::default();
    };
    let s = post.score.unwrap_or_default();
    [
        s.quality.map(Value::from),
        s.freshness.map(Value::from),
        s.depth.map(Value::from),
        s.clarity.map(Value::from),
        post.revision.and_then(|r| r.last_reviewed).map(Value::from),
    ]
}

/// One attribute of a document: stored JSON copied as it is, or a value
/// derived from it.
enum Attr<'a> {
    Raw(&'a str),
    Derived(Value),
}

impl Attr<'_> {
    fn write(&self, out: &mut Vec<u8>) {
        match self {
            Attr::Raw(raw) => out.extend_from_slice(raw.as_bytes()),
            Attr::Derived(v) => write_json(out, v),
        }
    }
}

/// The attributes of the document of `stored` limited to `fields` (`None`
/// or `*` = all, in stored order, the derived ones last; otherwise in the
/// order asked, each once); `derived` are its derived attributes.
/// Keys of a hit that the answer writes itself: a post's own fields of
/// these names are left out (else the hit would hold the key twice).
const RESERVED: [&str; 2] = ["_formatted", "_rankingScore"];

fn attributes<'a>(
    stored: &'a StoredPost,
    fields: Option<&[String]>,
    mut derived: Derived,
) -> Vec<(&'a str, Attr<'a>)> {
    let mut out: Vec<(&str, Attr)> = Vec::new();
    match fields.filter(|f| !f.iter().any(|x| x == "*")) {
        None => {
            for (name, raw) in stored.fields() {
                if !DERIVED.contains(&name) && !RESERVED.contains(&name) {
                    out.push((name, Attr::Raw(raw)));
                }
            }
            for (name, value) in DERIVED.into_iter().zip(derived) {
                match value {
                    Some(v) => out.push((name, Attr::Derived(v))),
                    None => {
                        if let Some(raw) = stored.raw(name) {
                            out.push((name, Attr::Raw(raw)));
                        }
                    }
                }
            }
        }
        Some(fields) => {
            for name in fields {
                if out.iter().any(|(n, _)| n == name) || RESERVED.contains(&name.as_str()) {
                    continue;
                }
                // Names are borrowed from the derived list or the stored
                // post, so the attributes outlive `fields`.
                if let Some(i) = DERIVED.iter().position(|d| d == name) {
                    if let Some(v) = derived[i].take() {
                        out.push((DERIVED[i], Attr::Derived(v)));
                        continue;
                    }
                }
                if let Some((key, raw)) = stored.field(name) {
                    out.push((key, Attr::Raw(raw)));
                }
            }
        }
    }
    out
}

/// The Meilisearch document of a stored post limited to `fields` (`None` or
/// `*` = all), as JSON.
pub fn write_document(out: &mut Vec<u8>, stored: &StoredPost, fields: Option<&[String]>) {
    let attrs = attributes(stored, fields, derived_of_stored(stored));
    write_object(out, &attrs, |out, _, a| a.write(out));
}

/// `{"name": value, ...}` over `attrs`, each value written by `value`.
fn write_object<'a>(
    out: &mut Vec<u8>,
    attrs: &[(&'a str, Attr<'a>)],
    mut value: impl FnMut(&mut Vec<u8>, &str, &Attr),
) {
    out.push(b'{');
    for (i, (name, a)) in attrs.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_key(out, name);
        value(out, name, a);
    }
    out.push(b'}');
}

fn write_key(out: &mut Vec<u8>, name: &str) {
    write_json(out, name);
    out.push(b':');
}

fn write_json<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, v: &T) {
    // Writing to a Vec fails only for values that are not JSON (maps with
    // non-string keys), which none of ours are.
    let _ = serde_json::to_writer(&mut *out, v);
}

/// The engine's request for the parameters `p`, counting the string facets
/// among `facets`.
pub(super) fn request(p: &Params, facets: &[String]) -> SearchRequest {
    SearchRequest {
        q: p.q.clone(),
        facets: p.plan.facets.clone(),
        filters: p.plan.filters.clone(),
        excluded_filters: p.plan.excluded.clone(),
        sort: p.sort,
        limit: p.limit,
        offset: p.offset,
        match_mode: p.matching,
        prefix: !p.q.is_empty() && !p.q.ends_with(char::is_whitespace),
        with_facets: facets
            .iter()
            .any(|f| postsearch_store::schema::FACET_FIELDS.contains(&canonical_attr(f))),
        // `_formatted` is cut here, from the attributes asked for.
        with_snippets: false,
        distinct: p.distinct,
        ..SearchRequest::default()
    }
}

/// What a search was, for the analytics: its query, how many posts it
/// found, whether it was a search-as-you-type search, and whether it asked
/// for the first page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Searched {
    pub q: String,
    pub total: u64,
    pub prefix: bool,
    pub first_page: bool,
}

/// Runs one search and writes its answer as JSON; `index_uid` is added to
/// the answer (multi-search).
pub fn run(
    engine: &Engine,
    limits: &Limits,
    obj: Map<String, Value>,
    index_uid: Option<&str>,
    out: &mut Vec<u8>,
) -> MResult<Searched> {
    let started = Instant::now();
    let p = parse_params(obj, limits)?;
    let formatted = !p.highlight.is_empty() || !p.crop.is_empty();
    let facets = p.facets.clone().unwrap_or_default();
    let req = request(&p, &facets);
    let detailed = engine.search_detailed(&req).map_err(MeiliError::from)?;
    let resp = &detailed.response;
    let facet_maps = match p.facets {
        Some(_) => Some(facet_answer(engine, &p, &req, resp, &facets)?),
        None => None,
    };

    out.push(b'{');
    if let Some(uid) = index_uid {
        write_key(out, "indexUid");
        write_json(out, uid);
        out.push(b',');
    }
    write_key(out, "hits");
    out.push(b'[');
    let mut highlighter = formatted.then(|| Highlighter::new(&detailed.terms));
    for (i, (hit, stored)) in resp.hits.iter().zip(&detailed.posts).enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let attrs = attributes(stored, p.retrieve.as_deref(), derived_of_hit(hit));
        out.push(b'{');
        for (name, a) in &attrs {
            write_key(out, name);
            a.write(out);
            out.push(b',');
        }
        if let Some(h) = highlighter.as_mut() {
            write_key(out, "_formatted");
            write_object(out, &attrs, |out, name, a| {
                format_value(out, &p, name, a, h)
            });
            out.push(b',');
        }
        if p.ranking_score {
            let s = hit.score.max(0.0) as f64;
            write_key(out, "_rankingScore");
            write_json(out, &(s / (s + RANKING_SCORE_HALF)));
            out.push(b',');
        }
        if out.last() == Some(&b',') {
            out.pop();
        }
        out.push(b'}');
    }
    out.extend_from_slice(b"],");
    write_key(out, "query");
    write_json(out, &p.q);
    match p.page {
        Some((page, hpp)) => {
            let pages = if hpp == 0 {
                0
            } else {
                resp.total.div_ceil(hpp as u64)
            };
            for (k, v) in [
                ("hitsPerPage", hpp as u64),
                ("page", page as u64),
                ("totalPages", pages),
                ("totalHits", resp.total),
            ] {
                out.push(b',');
                write_key(out, k);
                write_json(out, &v);
            }
        }
        None => {
            for (k, v) in [
                ("limit", p.limit as u64),
                ("offset", p.offset as u64),
                ("estimatedTotalHits", resp.total),
            ] {
                out.push(b',');
                write_key(out, k);
                write_json(out, &v);
            }
        }
    }
    if let Some((dist, stats)) = facet_maps {
        out.push(b',');
        write_key(out, "facetDistribution");
        write_json(out, &dist);
        out.push(b',');
        write_key(out, "facetStats");
        write_json(out, &stats);
    }
    out.push(b',');
    write_key(out, "processingTimeMs");
    write_json(out, &(started.elapsed().as_millis() as u64));
    out.push(b'}');
    Ok(Searched {
        total: resp.total,
        prefix: req.prefix,
        first_page: req.offset == 0,
        q: p.q,
    })
}

fn wants(list: &[String], attr: &str) -> bool {
    list.iter().any(|a| a == "*" || a == attr)
}

/// Writes the `_formatted` value of one attribute: strings highlighted
/// and/or cropped, lists of strings highlighted, the rest unchanged.
fn format_value(out: &mut Vec<u8>, p: &Params, attr: &str, a: &Attr, h: &mut Highlighter) {
    let highlight = wants(&p.highlight, attr);
    let crop = p
        .crop
        .iter()
        .find(|(a, _)| a == "*" || a == attr)
        .map(|(_, n)| *n);
    if !highlight && crop.is_none() {
        return a.write(out);
    }
    let marks = Marks {
        pre: if highlight { &p.pre } else { "" },
        post: if highlight { &p.post } else { "" },
        html: false,
        cut: &p.crop_marker,
    };
    let text = |s: &str, h: &mut Highlighter| -> String {
        match crop {
            Some(words) => {
                let chars = words.max(1).saturating_mul(CHARS_PER_WORD);
                h.snippet_within(s, chars, &marks)
            }
            None => h.highlight_marked(s, &marks),
        }
    };
    let decoded;
    let value = match a {
        Attr::Raw(raw) if raw.starts_with('"') || (highlight && raw.starts_with('[')) => {
            match serde_json::from_str::<Value>(raw) {
                Ok(v) => {
                    decoded = v;
                    &decoded
                }
                Err(_) => return a.write(out),
            }
        }
        Attr::Raw(_) => return a.write(out),
        Attr::Derived(v) => v,
    };
    match value {
        Value::String(s) => write_json(out, &text(s, h)),
        Value::Array(items) if highlight => {
            out.push(b'[');
            for (i, x) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                match x {
                    Value::String(s) => write_json(out, &h.highlight_marked(s, &marks)),
                    other => write_json(out, other),
                }
            }
            out.push(b']');
        }
        other => write_json(out, other),
    }
}

/// `facetDistribution` and `facetStats` as Meilisearch counts them: over
/// the matches of the whole filter.
fn facet_answer(
    engine: &Engine,
    p: &Params,
    req: &SearchRequest,
    resp: &postsearch_engine::SearchResponse,
    facets: &[String],
) -> MResult<(Map<String, Value>, Map<String, Value>)> {
    let mut dist = Map::new();
    let mut stats = Map::new();
    let numeric: Vec<&str> = facets
        .iter()
        .map(|f| canonical_attr(f))
        .filter_map(|f| NUMERIC_ATTRS.iter().copied().find(|n| *n == f))
        .collect();
    let numeric_counts = if numeric.is_empty() {
        BTreeMap::new()
    } else {
        engine.numeric_counts(req, resp.relaxed, &numeric)?
    };
    for name in facets {
        let attr = canonical_attr(name);
        if let Some(counts) = numeric_counts.get(attr) {
            let m: Map<String, Value> = top_values(counts)
                .into_iter()
                .map(|(v, n)| (v.to_string(), json!(n)))
                .collect();
            dist.insert(name.clone(), Value::Object(m));
            if let (Some((min, _)), Some((max, _))) = (counts.iter().next(), counts.iter().last()) {
                stats.insert(
                    name.clone(),
                    json!({"min": *min as f64, "max": *max as f64}),
                );
            }
            continue;
        }
        let counts = string_counts(engine, p, req, resp, attr)?;
        let m: Map<String, Value> = top_values(&counts)
            .into_iter()
            .map(|(v, n)| (v, json!(n)))
            .collect();
        dist.insert(name.clone(), Value::Object(m));
    }
    Ok((dist, stats))
}

/// The counts of the values of string facet `attr` as Meilisearch counts
/// them: over the matches of the whole filter, the attribute's own
/// selection included (the engine's are disjunctive).
pub(super) fn string_counts(
    engine: &Engine,
    p: &Params,
    req: &SearchRequest,
    resp: &postsearch_engine::SearchResponse,
    attr: &str,
) -> MResult<BTreeMap<String, u64>> {
    let mut counts: BTreeMap<String, u64> = resp.facets.get(attr).cloned().unwrap_or_default();
    if let Some(selected) = p.plan.facets.get(attr) {
        // The engine's counts of a selected field are disjunctive
        // (they ignore the field's own selection); Meilisearch counts
        // within the filtered set. For a selected value both agree; for
        // any other value v, count(F=v ∧ F∈S) = count(F=v) −
        // count(F=v ∧ F∉S), the latter from one more query.
        if matches!(attr, "difficulty" | "code_language") {
            // Single-valued: a post in S has no other value.
            counts.retain(|v, _| selected.contains(v));
        } else if counts.keys().any(|v| !selected.contains(v)) {
            let mut plan = p.plan.clone();
            plan.facets.remove(attr);
            for v in selected {
                plan.excluded.push(Filter::Facet {
                    field: attr.to_string(),
                    value: v.clone(),
                });
            }
            let outside = SearchRequest {
                facets: plan.facets,
                filters: plan.filters,
                excluded_filters: plan.excluded,
                limit: 0,
                offset: 0,
                with_snippets: false,
                with_facets: true,
                ..req.clone()
            };
            let other = engine.search(&outside)?;
            let sub = other.facets.get(attr).cloned().unwrap_or_default();
            for (v, n) in counts.iter_mut() {
                if !selected.contains(v) {
                    *n = n.saturating_sub(sub.get(v).copied().unwrap_or(0));
                }
            }
        }
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(v: Value) -> MResult<Params> {
        let Value::Object(m) = v else { panic!() };
        parse_params(m, &Limits::default())
    }

    #[test]
    fn parameters_are_checked() {
        let p = params(json!({"q": "x", "page": 2, "hitsPerPage": 5})).unwrap();
        assert_eq!((p.offset, p.limit, p.page), (5, 5, Some((2, 5))));
        let p = params(json!({"sort": ["view_count:desc"], "matchingStrategy": "all"})).unwrap();
        assert_eq!((p.sort, p.matching), (Sort::Views, MatchMode::All));
        let p =
            params(json!({"attributesToCrop": ["body:5", "summary"], "cropLength": 3})).unwrap();
        assert_eq!(
            p.crop,
            [("body".to_string(), 5), ("summary".to_string(), 3)]
        );
        let code = |v: Value| params(v).unwrap_err().code;
        assert_eq!(code(json!({"colour": 1})), "bad_request");
        assert_eq!(code(json!({"limit": "x"})), "invalid_search_limit");
        assert_eq!(code(json!({"limit": 1000})), "invalid_search_limit");
        assert_eq!(
            code(json!({"hitsPerPage": -1})),
            "invalid_search_hits_per_page"
        );
        assert_eq!(code(json!({"sort": ["title:asc"]})), "invalid_search_sort");
        assert_eq!(
            code(json!({"sort": ["quality:asc"]})),
            "invalid_search_sort"
        );
        assert_eq!(code(json!({"facets": ["title"]})), "invalid_search_facets");
        assert_eq!(code(json!({"filter": "a = "})), "invalid_search_filter");
        assert_eq!(
            code(json!({"showMatchesPosition": true})),
            "invalid_search_show_matches_position"
        );
        assert_eq!(
            code(json!({"distinct": "stack"})),
            "invalid_search_distinct"
        );
        assert_eq!(
            code(json!({"matchingStrategy": "most"})),
            "invalid_search_matching_strategy"
        );
        assert!(
            params(json!({"showMatchesPosition": false, "attributesToSearchOn": ["*"]})).is_ok()
        );
    }

    #[test]
    fn facet_values_most_frequent_first_at_most_the_maximum() {
        let counts: BTreeMap<String, u64> = [("a", 1), ("b", 5), ("c", 0), ("d", 5), ("e", 2)]
            .into_iter()
            .map(|(v, n)| (v.to_string(), n))
            .collect();
        let top = top_values(&counts);
        let order: Vec<(&str, u64)> = top.iter().map(|(v, n)| (v.as_str(), *n)).collect();
        assert_eq!(order, [("b", 5), ("d", 5), ("e", 2), ("a", 1)]);
        let many: BTreeMap<u64, u64> = (0..250).map(|v| (v, v % 7)).collect();
        let top = top_values(&many);
        assert_eq!(top.len(), MAX_VALUES_PER_FACET);
        assert!(top.windows(2).all(|w| w[0].1 >= w[1].1));
        let least = top.last().unwrap().1;
        let listed: std::collections::BTreeSet<u64> = top.iter().map(|(v, _)| *v).collect();
        assert!(many.iter().all(|(v, n)| listed.contains(v) || *n <= least));
        assert_eq!(top[0], (6, 6), "ties by value");
        assert_eq!(SORT_FACET_VALUES_BY, "count");
    }

    #[test]
    fn query_strings_become_parameters() {
        let m =
            params_from_query("q=a+b&limit=5&facets=stack,tools&showRankingScore=true").unwrap();
        assert_eq!(m["limit"], json!(5));
        assert_eq!(m["facets"], json!(["stack", "tools"]));
        assert!(params_from_query("limit=x").is_err());
    }
}
