//! The query language (docs/DESIGN.md): words, `"quoted phrases"`, `-exclusions`,
//! `field:value` filters on the facet fields, `quality:>=80` comparisons on
//! the numeric fields, and `title:word` to search one text field.
//!
//! Parsing never fails on odd input — unbalanced quotes, stray operators,
//! punctuation and control characters are read as sensibly as possible. The
//! only errors are values that cannot mean anything: `quality:>=lots`.

use postsearch_store::schema::{FACET_FIELDS, TEXT_FIELDS};
use postsearch_store::values::facet_value;
use std::ops::Bound;

/// A text clause: one word or a phrase, optionally in one text field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextClause {
    pub text: String,
    /// True for a `"quoted phrase"`.
    pub phrase: bool,
    /// Restricts the clause to one text field (`title:word`).
    pub field: Option<String>,
}

/// A filter on a facet or numeric field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    /// `stack:"python services"` — an exact (normalized) facet value.
    Facet { field: String, value: String },
    /// `quality:>=80`, `views:100..1000`.
    Range {
        field: String,
        lower: Bound<u64>,
        upper: Bound<u64>,
    },
}

impl Filter {
    /// `field` has exactly `value` (normalized as the index holds it).
    /// `field` must be a facet field, and `value` not be empty or blank:
    /// no post has an empty facet value, so a filter on one is a mistake
    /// (it is refused rather than read as no filter at all).
    pub fn facet(field: &str, value: &str) -> Result<Filter, QueryError> {
        let canonical = facet_field(field)
            .ok_or_else(|| QueryError(format!("`{field}` is not a facet field")))?;
        let value = facet_value(value);
        if value.is_empty() {
            return Err(QueryError(format!(
                "a filter on `{canonical}` needs a value (got an empty one)"
            )));
        }
        Ok(Filter::Facet {
            field: canonical.into(),
            value,
        })
    }

    /// `field` is within `lower..upper`; `field` must be a numeric field
    /// (`views` is `view_count`).
    pub fn range(field: &str, lower: Bound<u64>, upper: Bound<u64>) -> Result<Filter, QueryError> {
        let canonical = numeric_field(field)
            .ok_or_else(|| QueryError(format!("`{field}` is not a numeric field")))?;
        Ok(Filter::Range {
            field: canonical.into(),
            lower,
            upper,
        })
    }

    /// This filter with its field checked and its value normalized, as
    /// [`Filter::facet`] and [`Filter::range`] make them.
    pub fn normalized(&self) -> Result<Filter, QueryError> {
        match self {
            Filter::Facet { field, value } => Filter::facet(field, value),
            Filter::Range {
                field,
                lower,
                upper,
            } => Filter::range(field, *lower, *upper),
        }
    }
}

/// A parsed query.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedQuery {
    /// Text that must (or, with match=any, may) match.
    pub clauses: Vec<TextClause>,
    /// Text that must not match (`-word`, `-"a phrase"`).
    pub excluded: Vec<TextClause>,
    /// Filters every hit satisfies.
    pub filters: Vec<Filter>,
    /// Filters no hit satisfies (`-stack:php`).
    pub excluded_filters: Vec<Filter>,
}

/// A query value that cannot be understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError(pub String);

impl std::fmt::Display for QueryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Canonical name of a numeric field, accepting `views` for `view_count`.
pub fn numeric_field(name: &str) -> Option<&'static str> {
    match name {
        "quality" => Some("quality"),
        "freshness" => Some("freshness"),
        "depth" => Some("depth"),
        "clarity" => Some("clarity"),
        "views" | "view_count" => Some("view_count"),
        "reading_time" => Some("reading_time"),
        _ => None,
    }
}

fn text_field(name: &str) -> Option<&'static str> {
    TEXT_FIELDS.iter().map(|(n, _)| *n).find(|n| *n == name)
}

fn facet_field(name: &str) -> Option<&'static str> {
    FACET_FIELDS.iter().copied().find(|n| *n == name)
}

/// Parses `q`. See the module documentation for the language.
pub fn parse(q: &str) -> Result<ParsedQuery, QueryError> {
    let chars: Vec<char> = q
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let mut out = ParsedQuery::default();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_whitespace() {
            i += 1;
            continue;
        }
        let mut negated = false;
        while i < chars.len() && (chars[i] == '-' || chars[i] == '+') {
            negated |= chars[i] == '-';
            i += 1;
        }
        if i >= chars.len() || chars[i].is_whitespace() {
            continue; // a stray operator
        }
        let (token, quoted, next) = read_token(&chars, i);
        i = next;
        let item = interpret(&token, quoted)?;
        let Some(item) = item else { continue };
        match (item, negated) {
            (Item::Text(c), false) => out.clauses.push(c),
            (Item::Text(c), true) => out.excluded.push(c),
            (Item::Filter(f), false) => out.filters.push(f),
            (Item::Filter(f), true) => out.excluded_filters.push(f),
        }
    }
    Ok(out)
}

enum Item {
    Text(TextClause),
    Filter(Filter),
}

/// Reads one token from `start`: a quoted phrase, or a bare token that may
/// carry `field:` and a quoted value. Returns (token, quoted, next index).
/// An unbalanced quote runs to the end of the query.
fn read_token(chars: &[char], start: usize) -> (String, bool, usize) {
    let mut i = start;
    if chars[i] == '"' {
        i += 1;
        let from = i;
        while i < chars.len() && chars[i] != '"' {
            i += 1;
        }
        let token: String = chars[from..i].iter().collect();
        return (token, true, (i + 1).min(chars.len()));
    }
    let mut token = String::new();
    while i < chars.len() && !chars[i].is_whitespace() {
        if chars[i] == '"' && token.ends_with(':') {
            // field:"quoted value"
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                token.push(chars[i]);
                i += 1;
            }
            return (token, false, (i + 1).min(chars.len()));
        }
        token.push(chars[i]);
        i += 1;
    }
    (token, false, i)
}

fn interpret(token: &str, quoted: bool) -> Result<Option<Item>, QueryError> {
    if quoted {
        return Ok(text_item(token, true, None));
    }
    if let Some((name, value)) = token.split_once(':') {
        let name_l = name.to_ascii_lowercase();
        if let Some(field) = facet_field(&name_l) {
            let value = facet_value(value);
            if value.is_empty() {
                return Ok(None);
            }
            return Ok(Some(Item::Filter(Filter::Facet {
                field: field.into(),
                value,
            })));
        }
        if let Some(field) = numeric_field(&name_l) {
            let (lower, upper) = parse_comparison(field, value)?;
            return Ok(Some(Item::Filter(Filter::Range {
                field: field.into(),
                lower,
                upper,
            })));
        }
        if let Some(field) = text_field(&name_l) {
            return Ok(text_item(value, value.contains(' '), Some(field)));
        }
    }
    Ok(text_item(token, false, None))
}

fn text_item(text: &str, phrase: bool, field: Option<&str>) -> Option<Item> {
    if !text.chars().any(char::is_alphanumeric) {
        return None;
    }
    Some(Item::Text(TextClause {
        text: text.to_string(),
        phrase,
        field: field.map(str::to_string),
    }))
}

/// `>=80`, `>80`, `<=80`, `<80`, `=80`, `80`, `80..90` (inclusive).
fn parse_comparison(field: &str, value: &str) -> Result<(Bound<u64>, Bound<u64>), QueryError> {
    let num = |s: &str| -> Result<u64, QueryError> {
        s.trim().parse::<u64>().map_err(|_| {
            QueryError(format!(
                "{field}: expected a whole number, a comparison (>=80) or a range (70..90), got {value:?}"
            ))
        })
    };
    use Bound::*;
    Ok(if let Some(v) = value.strip_prefix(">=") {
        (Included(num(v)?), Unbounded)
    } else if let Some(v) = value.strip_prefix("<=") {
        (Unbounded, Included(num(v)?))
    } else if let Some(v) = value.strip_prefix('>') {
        (Excluded(num(v)?), Unbounded)
    } else if let Some(v) = value.strip_prefix('<') {
        (Unbounded, Excluded(num(v)?))
    } else if let Some((a, b)) = value.split_once("..") {
        (Included(num(a)?), Included(num(b)?))
    } else {
        let v = num(value.strip_prefix('=').unwrap_or(value))?;
        (Included(v), Included(v))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use Bound::*;

    fn word(t: &str) -> TextClause {
        TextClause {
            text: t.into(),
            phrase: false,
            field: None,
        }
    }

    #[test]
    fn words_phrases_and_exclusions() {
        let q = parse(r#"n+1 "query cache" -django -"slow tests""#).unwrap();
        assert_eq!(q.clauses.len(), 2);
        assert_eq!(q.clauses[0], word("n+1"));
        assert!(q.clauses[1].phrase);
        assert_eq!(q.excluded.len(), 2);
        assert_eq!(q.excluded[0], word("django"));
        assert!(q.excluded[1].phrase);
    }

    #[test]
    fn facet_filters_take_quoted_values() {
        let q = parse(r#"stack:"Python Services" tools:pytest -difficulty:advanced"#).unwrap();
        assert_eq!(
            q.filters,
            vec![
                Filter::Facet {
                    field: "stack".into(),
                    value: "python services".into()
                },
                Filter::Facet {
                    field: "tools".into(),
                    value: "pytest".into()
                }
            ]
        );
        assert_eq!(q.excluded_filters.len(), 1);
        assert!(q.clauses.is_empty());
    }

    #[test]
    fn numeric_comparisons() {
        let r = |s: &str| match &parse(s).unwrap().filters[0] {
            Filter::Range { lower, upper, .. } => (*lower, *upper),
            f => panic!("{f:?}"),
        };
        assert_eq!(r("quality:>=80"), (Included(80), Unbounded));
        assert_eq!(r("quality:>80"), (Excluded(80), Unbounded));
        assert_eq!(r("depth:<=5"), (Unbounded, Included(5)));
        assert_eq!(r("views:<10"), (Unbounded, Excluded(10)));
        assert_eq!(r("clarity:70..90"), (Included(70), Included(90)));
        assert_eq!(r("freshness:=3"), (Included(3), Included(3)));
        assert!(parse("quality:>=lots").is_err());
    }

    #[test]
    fn text_field_restriction() {
        let q = parse("title:kubernetes").unwrap();
        assert_eq!(q.clauses[0].field.as_deref(), Some("title"));
    }

    #[test]
    fn unknown_fields_are_words() {
        let q = parse("error: http://example.com").unwrap();
        assert_eq!(q.clauses.len(), 2);
        assert_eq!(q.clauses[0].text, "error:");
    }

    #[test]
    fn odd_input_is_read_sensibly() {
        assert_eq!(parse("").unwrap(), ParsedQuery::default());
        assert_eq!(parse("   - + -- ").unwrap(), ParsedQuery::default());
        assert_eq!(parse("!!!???...").unwrap(), ParsedQuery::default());
        let q = parse("\"unbalanced quote").unwrap();
        assert_eq!(q.clauses[0].text, "unbalanced quote");
        let q = parse("a\u{0}b\u{7}c").unwrap();
        assert_eq!(q.clauses.len(), 3);
        let q = parse("stack:").unwrap();
        assert!(q.filters.is_empty());
    }

    #[test]
    fn every_clause_is_kept_for_the_limits_to_judge() {
        let q = parse(&"word ".repeat(500)).unwrap();
        assert_eq!(q.clauses.len(), 500);
    }

    #[test]
    fn an_empty_facet_value_is_refused() {
        assert!(Filter::facet("stack", "").is_err());
        assert!(Filter::facet("stack", "  ").is_err());
        assert!(Filter::facet("stack", "django").is_ok());
    }
}
