//! Meilisearch filter expressions: a small recursive-descent parser for the
//! string form (`stack = django AND quality >= 80`), the nested-array form
//! (`[["stack = django", "stack = flask"], "difficulty = beginner"]`: inner
//! arrays OR, outer AND), and the translation of the result into what
//! [`postsearch_engine::Engine`] evaluates.
//!
//! Grammar (keywords in any case):
//!
//! ```text
//! expr      = and ("OR" and)*
//! and       = not ("AND" not)*
//! not       = "NOT" not | "(" expr ")" | condition
//! condition = attr ("=" | "!=" | ">" | ">=" | "<" | "<=") value
//!           | attr value "TO" value
//!           | attr ["NOT"] "IN" "[" value ("," value)* [","] "]"
//!           | attr ["NOT"] "EXISTS"
//!           | attr "IS" ["NOT"] ("NULL" | "EMPTY")
//! attr, value = bare word | "double quoted" | 'single quoted' (\ escapes)
//! ```
//!
//! Translation ([`translate`]): the filter must be a conjunction whose
//! members postsearch can evaluate:
//! - an OR of equalities on one facet field (`stack = a OR stack = b`,
//!   `stack IN [a, b]`, the refinementList shape) becomes a facet selection
//!   (`SearchRequest.facets`) — or a typed filter when it has a single
//!   value;
//! - `=`, `!=`, `NOT`, `IN`, `NOT IN` on facet fields and `=`, `!=`, `>`,
//!   `>=`, `<`, `<=`, `TO`, `EXISTS` on numeric fields become typed filters
//!   ([`Filter`], kept or excluded: `SearchRequest.filters` and
//!   `excluded_filters`), never query text, so any value can be filtered
//!   on and no condition is lost to the query's clause cap;
//! - anything else (OR across different fields or over ranges, `NOT` of a
//!   conjunction, `IS NULL` / `IS EMPTY`, `EXISTS` on a facet field) is a
//!   400 `invalid_search_filter` that says so.

use postsearch_engine::Filter;
use postsearch_store::schema::FACET_FIELDS;
use std::collections::BTreeMap;
use std::ops::Bound;

/// Deepest nesting of parentheses / NOT accepted.
pub const MAX_DEPTH: usize = 64;
/// Longest filter expression, in bytes.
pub const MAX_FILTER_BYTES: usize = 8192;

/// A filter expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    Cond { attr: String, op: Op },
}

/// The comparison of a condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Eq(String),
    Ne(String),
    Gt(String),
    Ge(String),
    Lt(String),
    Le(String),
    To(String, String),
    In(Vec<String>),
    Exists,
    IsNull,
    IsEmpty,
}

/// Why a filter was refused; the message is shown to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError(pub String);

type R<T> = Result<T, FilterError>;

fn err<T>(msg: impl Into<String>) -> R<T> {
    Err(FilterError(msg.into()))
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    /// A bare word (may be a keyword) or a quoted string (never a keyword).
    Word(String, bool),
    Op(&'static str),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
}

fn lex(s: &str) -> R<Vec<Tok>> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                out.push(Tok::LParen);
                i += 1
            }
            ')' => {
                out.push(Tok::RParen);
                i += 1
            }
            '[' => {
                out.push(Tok::LBracket);
                i += 1
            }
            ']' => {
                out.push(Tok::RBracket);
                i += 1
            }
            ',' => {
                out.push(Tok::Comma);
                i += 1
            }
            '=' => {
                out.push(Tok::Op("="));
                i += 1
            }
            '!' if chars.get(i + 1) == Some(&'=') => {
                out.push(Tok::Op("!="));
                i += 2
            }
            '>' | '<' => {
                let eq = chars.get(i + 1) == Some(&'=');
                out.push(Tok::Op(match (c, eq) {
                    ('>', true) => ">=",
                    ('>', false) => ">",
                    ('<', true) => "<=",
                    _ => "<",
                }));
                i += if eq { 2 } else { 1 };
            }
            '"' | '\'' => {
                let quote = c;
                let mut v = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return err(format!("unclosed quote {quote} in the filter")),
                        Some('\\') if i + 1 < chars.len() => {
                            v.push(chars[i + 1]);
                            i += 2;
                        }
                        Some(&q) if q == quote => {
                            i += 1;
                            break;
                        }
                        Some(&ch) => {
                            v.push(ch);
                            i += 1;
                        }
                    }
                }
                out.push(Tok::Word(v, true));
            }
            '!' => return err("`!` must be followed by `=` (use NOT to negate)"),
            _ => {
                let mut v = String::new();
                while i < chars.len() {
                    let ch = chars[i];
                    if ch.is_whitespace() || "()[],=!<>\"'".contains(ch) {
                        break;
                    }
                    v.push(ch);
                    i += 1;
                }
                out.push(Tok::Word(v, false));
            }
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(w, false)) if w.eq_ignore_ascii_case(kw))
    }

    fn keyword_at(&self, offset: usize, kw: &str) -> bool {
        matches!(self.toks.get(self.pos + offset), Some(Tok::Word(w, false)) if w.eq_ignore_ascii_case(kw))
    }

    fn describe(&self) -> String {
        match self.peek() {
            None => "the end of the filter".into(),
            Some(Tok::Word(w, _)) => format!("`{w}`"),
            Some(Tok::Op(o)) => format!("`{o}`"),
            Some(Tok::LParen) => "`(`".into(),
            Some(Tok::RParen) => "`)`".into(),
            Some(Tok::LBracket) => "`[`".into(),
            Some(Tok::RBracket) => "`]`".into(),
            Some(Tok::Comma) => "`,`".into(),
        }
    }

    fn expr(&mut self) -> R<Expr> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return err(format!(
                "the filter is nested deeper than {MAX_DEPTH} levels"
            ));
        }
        let mut parts = vec![self.and()?];
        while self.keyword("OR") {
            self.pos += 1;
            parts.push(self.and()?);
        }
        self.depth -= 1;
        Ok(if parts.len() == 1 {
            parts.pop().expect("one part")
        } else {
            Expr::Or(parts)
        })
    }

    fn and(&mut self) -> R<Expr> {
        let mut parts = vec![self.not()?];
        while self.keyword("AND") {
            self.pos += 1;
            parts.push(self.not()?);
        }
        Ok(if parts.len() == 1 {
            parts.pop().expect("one part")
        } else {
            Expr::And(parts)
        })
    }

    fn not(&mut self) -> R<Expr> {
        if self.keyword("NOT") {
            self.pos += 1;
            self.depth += 1;
            if self.depth > MAX_DEPTH {
                return err(format!(
                    "the filter is nested deeper than {MAX_DEPTH} levels"
                ));
            }
            let inner = self.not()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(inner)));
        }
        if self.peek() == Some(&Tok::LParen) {
            self.pos += 1;
            let e = self.expr()?;
            if self.peek() != Some(&Tok::RParen) {
                return err(format!("expected `)`, found {}", self.describe()));
            }
            self.pos += 1;
            return Ok(e);
        }
        self.condition()
    }

    fn word(&mut self, what: &str) -> R<String> {
        match self.peek() {
            Some(Tok::Word(w, quoted)) => {
                if !quoted && w.is_empty() {
                    return err(format!("expected {what}, found {}", self.describe()));
                }
                let w = w.clone();
                self.pos += 1;
                Ok(w)
            }
            _ => err(format!("expected {what}, found {}", self.describe())),
        }
    }

    fn condition(&mut self) -> R<Expr> {
        if matches!(self.peek(), Some(Tok::Word(w, false)) if ["AND", "OR", "TO", "IN"].iter().any(|k| w.eq_ignore_ascii_case(k)))
        {
            return err(format!("expected an attribute, found {}", self.describe()));
        }
        let attr = self.word("an attribute")?;
        let op = match self.peek().cloned() {
            Some(Tok::Op(o)) => {
                self.pos += 1;
                let v = self.word(&format!("a value after `{attr} {o}`"))?;
                match o {
                    "=" => Op::Eq(v),
                    "!=" => Op::Ne(v),
                    ">" => Op::Gt(v),
                    ">=" => Op::Ge(v),
                    "<" => Op::Lt(v),
                    _ => Op::Le(v),
                }
            }
            Some(Tok::Word(w, false)) if w.eq_ignore_ascii_case("EXISTS") => {
                self.pos += 1;
                Op::Exists
            }
            Some(Tok::Word(w, false)) if w.eq_ignore_ascii_case("IN") => {
                self.pos += 1;
                Op::In(self.list()?)
            }
            Some(Tok::Word(w, false)) if w.eq_ignore_ascii_case("NOT") => {
                if self.keyword_at(1, "IN") {
                    self.pos += 2;
                    return Ok(Expr::Not(Box::new(Expr::Cond {
                        attr,
                        op: Op::In(self.list()?),
                    })));
                }
                if self.keyword_at(1, "EXISTS") {
                    self.pos += 2;
                    return Ok(Expr::Not(Box::new(Expr::Cond {
                        attr,
                        op: Op::Exists,
                    })));
                }
                return err(format!(
                    "expected IN or EXISTS after `{attr} NOT`, found {}",
                    match self.toks.get(self.pos + 1) {
                        Some(Tok::Word(w, _)) => format!("`{w}`"),
                        Some(_) => "a symbol".into(),
                        None => "the end of the filter".into(),
                    }
                ));
            }
            Some(Tok::Word(w, false)) if w.eq_ignore_ascii_case("IS") => {
                self.pos += 1;
                let negated = self.keyword("NOT");
                if negated {
                    self.pos += 1;
                }
                let op = if self.keyword("NULL") {
                    Op::IsNull
                } else if self.keyword("EMPTY") {
                    Op::IsEmpty
                } else {
                    return err(format!(
                        "expected NULL or EMPTY after `{attr} IS`, found {}",
                        self.describe()
                    ));
                };
                self.pos += 1;
                let c = Expr::Cond { attr, op };
                return Ok(if negated { Expr::Not(Box::new(c)) } else { c });
            }
            Some(Tok::Word(_, _)) => {
                let from = self.word("a value")?;
                if !self.keyword("TO") {
                    return err(format!(
                        "expected `TO` after `{attr} {from}`, found {}",
                        self.describe()
                    ));
                }
                self.pos += 1;
                let to = self.word(&format!("a value after `{attr} {from} TO`"))?;
                Op::To(from, to)
            }
            _ => {
                return err(format!(
                    "expected an operator (=, !=, >, >=, <, <=, TO, IN, EXISTS, IS) after `{attr}`, found {}",
                    self.describe()
                ))
            }
        };
        Ok(Expr::Cond { attr, op })
    }

    fn list(&mut self) -> R<Vec<String>> {
        if self.peek() != Some(&Tok::LBracket) {
            return err(format!("expected `[` after IN, found {}", self.describe()));
        }
        self.pos += 1;
        let mut values = Vec::new();
        loop {
            if self.peek() == Some(&Tok::RBracket) {
                self.pos += 1;
                return Ok(values);
            }
            values.push(self.word("a value in the IN list")?);
            match self.peek() {
                Some(Tok::Comma) => self.pos += 1,
                Some(Tok::RBracket) => {}
                _ => return err(format!("expected `,` or `]`, found {}", self.describe())),
            }
        }
    }
}

/// Parses the string form of a filter.
pub fn parse(s: &str) -> R<Expr> {
    if s.len() > MAX_FILTER_BYTES {
        return err(format!(
            "the filter is {} bytes long; the limit is {MAX_FILTER_BYTES}",
            s.len()
        ));
    }
    let toks = lex(s)?;
    if toks.is_empty() {
        return Ok(Expr::And(Vec::new()));
    }
    let mut p = Parser {
        toks,
        pos: 0,
        depth: 0,
    };
    let e = p.expr()?;
    if p.pos < p.toks.len() {
        return err(format!(
            "unexpected {} in the filter (missing AND / OR?)",
            p.describe()
        ));
    }
    Ok(e)
}

/// Parses the JSON form: a string, or an array of strings and arrays of
/// strings (outer AND, inner OR). `null` is no filter.
pub fn from_json(v: &serde_json::Value) -> R<Expr> {
    use serde_json::Value;
    match v {
        Value::Null => Ok(Expr::And(Vec::new())),
        Value::String(s) => parse(s),
        Value::Array(items) => {
            let mut and = Vec::new();
            for item in items {
                match item {
                    Value::String(s) => and.push(parse(s)?),
                    Value::Array(inner) => {
                        let mut or = Vec::new();
                        for x in inner {
                            match x {
                                Value::String(s) => or.push(parse(s)?),
                                _ => return err(
                                    "an inner filter array may only hold strings (at most two levels of arrays)",
                                ),
                            }
                        }
                        and.push(Expr::Or(or));
                    }
                    _ => return err("a filter array may only hold strings and arrays of strings"),
                }
            }
            Ok(Expr::And(and))
        }
        _ => err("the filter must be a string or an array of strings and arrays of strings"),
    }
}

/// The numeric fields that can be filtered (the Meilisearch names are the
/// schema's).
pub const NUMERIC_ATTRS: [&str; 6] = postsearch_store::schema::NUMERIC_FIELDS;

/// Every filterable attribute, in the order the settings list them: the
/// schema's facet fields, then its numeric fields.
pub const FILTERABLE: [&str; 10] = {
    let facets = postsearch_store::schema::FACET_FIELDS;
    let mut out = [""; 10];
    let mut i = 0;
    while i < out.len() {
        out[i] = if i < facets.len() {
            facets[i]
        } else {
            NUMERIC_ATTRS[i - facets.len()]
        };
        i += 1;
    }
    out
};

/// An attribute's canonical name (`score.quality` is `quality`).
pub fn canonical_attr(attr: &str) -> &str {
    attr.strip_prefix("score.").unwrap_or(attr)
}

/// What a filter becomes for the engine: typed, never query text.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    /// Disjunctive facet selections (field → values, OR within a field).
    pub facets: BTreeMap<String, Vec<String>>,
    /// Filters every hit satisfies (ANDed).
    pub filters: Vec<Filter>,
    /// Filters no hit satisfies.
    pub excluded: Vec<Filter>,
}

impl Plan {
    fn push(&mut self, (negated, filter): Term) {
        if negated {
            self.excluded.push(filter);
        } else {
            self.filters.push(filter);
        }
    }
}

/// A condition and whether it is negated.
type Term = (bool, Filter);

/// A range that matches nothing (`stack IN []`).
fn nothing() -> Filter {
    Filter::Range {
        field: "quality".into(),
        lower: Bound::Included(1),
        upper: Bound::Included(0),
    }
}

enum Kind {
    Facet,
    Numeric,
}

fn kind(attr: &str) -> R<(Kind, &'static str)> {
    let a = canonical_attr(attr);
    if let Some(f) = FACET_FIELDS.iter().find(|f| **f == a) {
        return Ok((Kind::Facet, f));
    }
    if let Some(f) = NUMERIC_ATTRS.iter().find(|f| **f == a) {
        return Ok((Kind::Numeric, f));
    }
    err(format!(
        "Attribute `{attr}` is not filterable. Available filterable attributes are: `{}`.",
        FILTERABLE.join(", ")
    ))
}

/// `field = value` (or `!=`, `negated`); an empty value is refused, as
/// the engine refuses it (no post has one, so it is a mistake).
fn facet_term(field: &str, value: &str, negated: bool) -> R<Term> {
    match Filter::facet(field, value) {
        Ok(filter) => Ok((negated, filter)),
        Err(e) => err(e.0),
    }
}

fn number(field: &str, v: &str) -> R<f64> {
    match v.trim().parse::<f64>() {
        Ok(n) if n.is_finite() => Ok(n),
        _ => err(format!(
            "`{field}` is numeric: expected a number, got `{v}`"
        )),
    }
}

/// A numeric condition as a range over whole numbers.
fn numeric_term(field: &str, op: &Op, negated: bool) -> R<Term> {
    // Inclusive whole-number bounds; `None` upper = unbounded; an empty
    // range (lower > upper) matches nothing.
    let (lo, hi): (u64, Option<u64>) = match op {
        Op::Eq(v) | Op::Ne(v) => {
            let n = number(field, v)?;
            if n < 0.0 || n.fract() != 0.0 {
                (1, Some(0))
            } else {
                (n as u64, Some(n as u64))
            }
        }
        Op::Gt(v) => (ceil_above(number(field, v)?, true), None),
        Op::Ge(v) => (ceil_above(number(field, v)?, false), None),
        Op::Lt(v) => floor_below(number(field, v)?, true),
        Op::Le(v) => floor_below(number(field, v)?, false),
        Op::To(a, b) => {
            let lo = ceil_above(number(field, a)?, false);
            let (_, hi) = floor_below(number(field, b)?, false);
            (lo, hi)
        }
        Op::Exists => (0, None),
        Op::In(_) | Op::IsNull | Op::IsEmpty => {
            return err(format!(
                "`{field}`: this operator is not supported on numeric attributes by postsearch"
            ))
        }
    };
    let negated = negated ^ matches!(op, Op::Ne(_));
    let upper = match hi {
        None => Bound::Unbounded,
        Some(hi) => Bound::Included(hi),
    };
    Ok((
        negated,
        Filter::Range {
            field: field.into(),
            lower: Bound::Included(lo),
            upper,
        },
    ))
}

/// The least whole number above (or at, unless `strict`) `n`, at least 0.
fn ceil_above(n: f64, strict: bool) -> u64 {
    let c = if strict && n.fract() == 0.0 {
        n + 1.0
    } else {
        n.ceil()
    };
    if c <= 0.0 {
        0
    } else if c >= u64::MAX as f64 {
        u64::MAX
    } else {
        c as u64
    }
}

/// `(0, Some(largest whole number below or at n))`, or an empty range.
fn floor_below(n: f64, strict: bool) -> (u64, Option<u64>) {
    let f = if strict && n.fract() == 0.0 {
        n - 1.0
    } else {
        n.floor()
    };
    if f < 0.0 {
        (1, Some(0))
    } else if f >= u64::MAX as f64 {
        (0, None)
    } else {
        (0, Some(f as u64))
    }
}

/// Flattens nested ANDs.
fn conjuncts(e: Expr, out: &mut Vec<Expr>) {
    match e {
        Expr::And(parts) => parts.into_iter().for_each(|p| conjuncts(p, out)),
        Expr::Or(mut parts) if parts.len() == 1 => conjuncts(parts.pop().expect("one"), out),
        e => out.push(e),
    }
}

/// Flattens nested ORs.
fn disjuncts(e: Expr, out: &mut Vec<Expr>) {
    match e {
        Expr::Or(parts) => parts.into_iter().for_each(|p| disjuncts(p, out)),
        Expr::And(mut parts) if parts.len() == 1 => disjuncts(parts.pop().expect("one"), out),
        e => out.push(e),
    }
}

/// The (field, values) of an OR of equalities on one facet field, if `e`
/// is one.
fn facet_or_group(e: &Expr) -> R<Option<(&'static str, Vec<String>)>> {
    let mut parts = Vec::new();
    disjuncts(e.clone(), &mut parts);
    let mut field: Option<&'static str> = None;
    let mut values = Vec::new();
    for p in &parts {
        let Expr::Cond { attr, op } = p else {
            return Ok(None);
        };
        let (k, f) = kind(attr)?;
        if !matches!(k, Kind::Facet) {
            return Ok(None);
        }
        match op {
            Op::Eq(v) => values.push(v.clone()),
            Op::In(vs) => values.extend(vs.iter().cloned()),
            _ => return Ok(None),
        }
        match field {
            None => field = Some(f),
            Some(prev) if prev != f => {
                return err(format!(
                    "postsearch cannot evaluate OR across different attributes (`{prev}` and `{f}`); OR is supported between values of one facet attribute (`stack = a OR stack = b`)"
                ))
            }
            _ => {}
        }
    }
    Ok(field.map(|f| (f, values)))
}

/// Terms for a negated expression (`NOT x`): conditions and ORs of
/// conditions (De Morgan) can be negated, conjunctions cannot.
fn negated_terms(e: Expr, out: &mut Plan) -> R<()> {
    match e {
        Expr::Not(inner) => positive_terms(*inner, out),
        Expr::Cond { attr, op } => {
            let (k, f) = kind(&attr)?;
            match (k, op) {
                (Kind::Facet, Op::Eq(v)) => out.push(facet_term(f, &v, true)?),
                (Kind::Facet, Op::Ne(v)) => out.push(facet_term(f, &v, false)?),
                (Kind::Facet, Op::In(vs)) => {
                    for v in vs {
                        out.push(facet_term(f, &v, true)?);
                    }
                }
                (Kind::Facet, _) => {
                    return err(format!(
                        "`{f}`: only =, !=, IN and NOT IN are supported on facet attributes by postsearch"
                    ))
                }
                (Kind::Numeric, op) => out.push(numeric_term(f, &op, true)?),
            }
            Ok(())
        }
        Expr::Or(parts) => {
            for p in parts {
                negated_terms(p, out)?;
            }
            Ok(())
        }
        Expr::And(mut parts) if parts.len() == 1 => negated_terms(parts.pop().expect("one"), out),
        Expr::And(parts) if parts.is_empty() => err("NOT of an empty filter matches nothing"),
        Expr::And(_) => err(
            "postsearch cannot evaluate NOT of a conjunction (`NOT (a AND b)` is an OR of negations)",
        ),
    }
}

/// Terms for one conjunct that is not a facet OR-group.
fn positive_terms(e: Expr, out: &mut Plan) -> R<()> {
    match e {
        Expr::Not(inner) => negated_terms(*inner, out),
        Expr::Cond { attr, op } => {
            let (k, f) = kind(&attr)?;
            match (k, op) {
                (Kind::Facet, Op::Eq(v)) => out.push(facet_term(f, &v, false)?),
                (Kind::Facet, Op::Ne(v)) => out.push(facet_term(f, &v, true)?),
                (Kind::Facet, Op::Exists) => {
                    return err(format!(
                        "`{f} EXISTS` is not supported by postsearch on facet attributes"
                    ))
                }
                (_, Op::IsNull | Op::IsEmpty) => {
                    return err(format!("`{f}`: IS NULL / IS EMPTY are not supported by postsearch"))
                }
                (Kind::Facet, _) => {
                    return err(format!(
                        "`{f}`: only =, !=, IN and NOT IN are supported on facet attributes by postsearch"
                    ))
                }
                (Kind::Numeric, op) => out.push(numeric_term(f, &op, false)?),
            }
            Ok(())
        }
        Expr::And(parts) => {
            for p in parts {
                positive_terms(p, out)?;
            }
            Ok(())
        }
        Expr::Or(_) => err(
            "postsearch can only evaluate OR between `=` / IN conditions on one facet attribute (e.g. `stack = django OR stack = flask`)",
        ),
    }
}

/// Translates a filter into facet selections and query-language filters
/// (see the module documentation).
pub fn translate(e: Expr) -> R<Plan> {
    let mut parts = Vec::new();
    conjuncts(e, &mut parts);
    let mut plan = Plan::default();
    for part in parts {
        if let Some((field, values)) = facet_or_group(&part)? {
            let mut values: Vec<String> = values
                .iter()
                .map(|v| postsearch_store::values::facet_value(v))
                .collect();
            values.sort();
            values.dedup();
            if values.iter().any(String::is_empty) {
                return err(format!(
                    "a filter on `{field}` needs a value (got an empty one)"
                ));
            }
            if values.is_empty() {
                // `stack IN []` matches nothing.
                plan.filters.push(nothing());
            } else if values.len() == 1 || plan.facets.contains_key(field) {
                if values.len() > 1 {
                    return err(format!(
                        "postsearch can evaluate only one OR group per facet attribute (`{field}` has two)"
                    ));
                }
                plan.push(facet_term(field, &values[0], false)?);
            } else {
                plan.facets.insert(field.to_string(), values);
            }
            continue;
        }
        positive_terms(part, &mut plan)?;
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn cond(attr: &str, op: Op) -> Expr {
        Expr::Cond {
            attr: attr.into(),
            op,
        }
    }

    #[test]
    fn parses_the_grammar() {
        let eq = |a: &str, v: &str| cond(a, Op::Eq(v.into()));
        let table: Vec<(&str, Expr)> = vec![
            ("stack = django", eq("stack", "django")),
            ("stack=django", eq("stack", "django")),
            (
                r#"stack = "python services""#,
                eq("stack", "python services"),
            ),
            (r#""stack"="django""#, eq("stack", "django")),
            (r"stack = 'it\'s'", eq("stack", "it's")),
            ("stack != php", cond("stack", Op::Ne("php".into()))),
            ("quality > 80", cond("quality", Op::Gt("80".into()))),
            ("quality >= 80", cond("quality", Op::Ge("80".into()))),
            ("quality<80", cond("quality", Op::Lt("80".into()))),
            ("quality <= 80.5", cond("quality", Op::Le("80.5".into()))),
            (
                "quality 70 TO 90",
                cond("quality", Op::To("70".into(), "90".into())),
            ),
            (
                "stack IN [django, 'flask', \"fast api\"]",
                cond(
                    "stack",
                    Op::In(vec!["django".into(), "flask".into(), "fast api".into()]),
                ),
            ),
            (
                "stack NOT IN [php]",
                Expr::Not(Box::new(cond("stack", Op::In(vec!["php".into()])))),
            ),
            ("quality EXISTS", cond("quality", Op::Exists)),
            (
                "quality NOT EXISTS",
                Expr::Not(Box::new(cond("quality", Op::Exists))),
            ),
            ("tools IS NULL", cond("tools", Op::IsNull)),
            (
                "tools IS NOT EMPTY",
                Expr::Not(Box::new(cond("tools", Op::IsEmpty))),
            ),
            (
                "a = 1 AND b = 2 OR c = 3",
                Expr::Or(vec![
                    Expr::And(vec![eq("a", "1"), eq("b", "2")]),
                    eq("c", "3"),
                ]),
            ),
            (
                "a = 1 and (b = 2 or c = 3)",
                Expr::And(vec![
                    eq("a", "1"),
                    Expr::Or(vec![eq("b", "2"), eq("c", "3")]),
                ]),
            ),
            (
                "NOT NOT a = 1",
                Expr::Not(Box::new(Expr::Not(Box::new(eq("a", "1"))))),
            ),
            ("", Expr::And(vec![])),
        ];
        for (src, want) in table {
            assert_eq!(parse(src), Ok(want), "{src}");
        }
    }

    #[test]
    fn malformed_filters_are_errors() {
        for src in [
            "stack",
            "stack =",
            "= django",
            "stack = django AND",
            "stack = django OR OR stack = flask",
            "(stack = django",
            "stack = django)",
            "stack = \"open",
            "stack IN django",
            "stack IN [django",
            "stack IN [a b]",
            "quality 70 TO",
            "quality 70 90",
            "stack ! django",
            "stack NOT django",
            "tools IS something",
            "a = 1 b = 2",
            "AND",
            &"(".repeat(200),
            &format!("{}a = 1{}", "(".repeat(100), ")".repeat(100)),
            &"NOT ".repeat(200),
        ] {
            assert!(parse(src).is_err(), "{src:?} parsed");
        }
    }

    fn plan(v: serde_json::Value) -> R<Plan> {
        translate(from_json(&v)?)
    }

    /// A plan's filters in the query language's notation (kept, then
    /// excluded with `-`), to read the assertions.
    fn terms(p: &Plan) -> Vec<String> {
        let show = |negated: bool, f: &Filter| {
            let sign = if negated { "-" } else { "" };
            match f {
                Filter::Facet { field, value } => format!("{sign}{field}:\"{value}\""),
                Filter::Range {
                    field,
                    lower: Bound::Included(lo),
                    upper,
                } => {
                    let range = match upper {
                        Bound::Unbounded => format!(">={lo}"),
                        Bound::Included(hi) if hi < lo => "1..0".to_string(),
                        Bound::Included(hi) if hi == lo => format!("={lo}"),
                        Bound::Included(hi) => format!("{lo}..{hi}"),
                        Bound::Excluded(_) => unreachable!("translate makes inclusive ranges"),
                    };
                    format!("{sign}{field}:{range}")
                }
                Filter::Range { .. } => unreachable!("translate makes inclusive lower bounds"),
            }
        };
        p.filters
            .iter()
            .map(|f| show(false, f))
            .chain(p.excluded.iter().map(|f| show(true, f)))
            .collect()
    }

    #[test]
    fn refinement_list_shape_maps_to_facets() {
        let p = plan(json!([
            ["stack=\"django\"", "stack=\"flask\""],
            ["difficulty=\"beginner\""]
        ]))
        .unwrap();
        assert_eq!(p.facets["stack"], ["django", "flask"]);
        assert_eq!(terms(&p), [r#"difficulty:"beginner""#]);
        let p = plan(json!("stack IN [Django, flask] AND tools = pytest")).unwrap();
        assert_eq!(p.facets["stack"], ["django", "flask"]);
        assert_eq!(terms(&p), [r#"tools:"pytest""#]);
    }

    #[test]
    fn other_expressions_map_to_typed_filters() {
        let t = |v: serde_json::Value| terms(&plan(v).unwrap());
        assert_eq!(t(json!("stack != php")), [r#"-stack:"php""#]);
        assert_eq!(t(json!("NOT stack = php")), [r#"-stack:"php""#]);
        assert_eq!(
            t(json!("NOT (stack = php OR tools = composer)")),
            [r#"-stack:"php""#, r#"-tools:"composer""#]
        );
        assert_eq!(
            t(json!("stack NOT IN [php, ruby]")),
            [r#"-stack:"php""#, r#"-stack:"ruby""#]
        );
        assert_eq!(t(json!("quality >= 80")), ["quality:>=80"]);
        assert_eq!(t(json!("quality > 80")), ["quality:>=81"]);
        assert_eq!(t(json!("quality > 79.5")), ["quality:>=80"]);
        assert_eq!(t(json!("quality < 80")), ["quality:0..79"]);
        assert_eq!(t(json!("quality <= 80")), ["quality:0..80"]);
        assert_eq!(t(json!("quality < 0")), ["quality:1..0"]);
        assert_eq!(t(json!("quality 70 TO 90")), ["quality:70..90"]);
        assert_eq!(t(json!("quality = 75")), ["quality:=75"]);
        assert_eq!(t(json!("quality != 75")), ["-quality:=75"]);
        assert_eq!(t(json!("NOT quality >= 50")), ["-quality:>=50"]);
        assert_eq!(t(json!("score.quality EXISTS")), ["quality:>=0"]);
        assert_eq!(t(json!("view_count NOT EXISTS")), ["-view_count:>=0"]);
        assert_eq!(
            t(json!(["quality >= 50", "\"quality\"<=90"])),
            ["quality:>=50", "quality:0..90"]
        );
        assert_eq!(
            t(json!("stack = django AND stack = python")),
            [r#"stack:"django""#, r#"stack:"python""#]
        );
        assert_eq!(
            t(json!(r#"stack = "Python Services""#)),
            [r#"stack:"python services""#]
        );
        // Values are never written as query text, so quotes need no escaping.
        assert_eq!(
            t(json!(r#"stack = "say \"hi\"" AND stack != 'a"b'"#)),
            [r#"stack:"say "hi"""#, r#"-stack:"a"b""#]
        );
        assert_eq!(t(json!("stack IN []")), ["quality:1..0"]);
        assert_eq!(plan(json!(null)).unwrap(), Plan::default());
        assert_eq!(plan(json!([])).unwrap(), Plan::default());
    }

    #[test]
    fn inexpressible_filters_are_explained() {
        for v in [
            json!("stack = django OR difficulty = beginner"),
            json!([["stack = django", "difficulty = beginner"]]),
            json!("quality < 50 OR quality > 90"),
            json!("NOT (stack = django AND tools = pytest)"),
            json!("stack EXISTS"),
            json!("tools IS EMPTY"),
            json!("stack > django"),
            json!("colour = red"),
            json!("quality >= lots"),
            json!([["stack = a", "stack = b"], ["stack = c", "stack = d"]]),
            json!([[["stack = a"]]]),
            json!(42),
            json!([1]),
        ] {
            assert!(plan(v.clone()).is_err(), "{v}");
        }
        let e = plan(json!("colour = red")).unwrap_err();
        assert!(e.0.contains("not filterable"), "{e:?}");
    }

    fn value() -> impl Strategy<Value = String> {
        // A bare word that is a keyword (`is`, `to`...) is not a value: it
        // must be quoted, as in Meilisearch.
        let bare = "[a-z]{1,8}".prop_filter("a keyword", |w| {
            ![
                "to", "and", "or", "not", "exists", "in", "is", "null", "empty",
            ]
            .contains(&w.as_str())
        });
        prop_oneof![
            bare,
            "[0-9]{1,3}",
            "\"[a-z ]{0,8}\"",
            Just("'x y'".to_string())
        ]
    }

    fn attr() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("stack".to_string()),
            Just("tools".to_string()),
            Just("difficulty".to_string()),
            Just("quality".to_string()),
            Just("view_count".to_string()),
            Just("colour".to_string()),
        ]
    }

    fn condition() -> impl Strategy<Value = String> {
        (
            attr(),
            prop_oneof![
                Just("="),
                Just("!="),
                Just(">"),
                Just(">="),
                Just("<"),
                Just("<="),
                Just("TO"),
                Just("IN"),
                Just("EXISTS"),
                Just("IS NULL")
            ],
            value(),
            value(),
        )
            .prop_map(|(a, op, v, w)| match op {
                "TO" => format!("{a} {v} TO {w}"),
                "IN" => format!("{a} IN [{v}, {w}]"),
                "EXISTS" | "IS NULL" => format!("{a} {op}"),
                _ => format!("{a} {op} {v}"),
            })
    }

    fn expression() -> impl Strategy<Value = String> {
        condition().prop_recursive(4, 24, 3, |inner| {
            prop_oneof![
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} AND {b}")),
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} OR {b}")),
                inner.clone().prop_map(|a| format!("NOT {a}")),
                inner.prop_map(|a| format!("({a})")),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        /// Well-formed expressions always parse; translating them either
        /// succeeds or gives a message, never a panic.
        #[test]
        fn well_formed_expressions_parse(src in expression()) {
            let e = parse(&src);
            prop_assert!(e.is_ok(), "{src}: {e:?}");
            match translate(e.unwrap()) {
                Ok(p) => {
                    for f in p.filters.iter().chain(&p.excluded) {
                        // Every filter is one the engine accepts.
                        prop_assert!(f.normalized().is_ok(), "{f:?}");
                    }
                }
                Err(FilterError(m)) => prop_assert!(!m.is_empty()),
            }
        }

        /// Single conditions on filterable fields with sane values translate.
        #[test]
        fn simple_conditions_translate(
            f in prop_oneof![Just("stack"), Just("tools"), Just("difficulty")],
            v in "[a-z]{1,8}",
            n in 0u64..1000,
        ) {
            let p = plan(json!(format!("{f} = {v} AND quality >= {n}"))).unwrap();
            prop_assert_eq!(terms(&p), vec![format!("{f}:\"{v}\""), format!("quality:>={n}")]);
        }

        /// Arbitrary text (mutated well-formed expressions or noise) gives a
        /// result or an error, never a panic.
        #[test]
        fn arbitrary_input_never_panics(
            src in expression(),
            cut in 0usize..200,
            noise in "[ a-z0-9=!<>()\\[\\],\"'\\\\]{0,40}",
        ) {
            let cut = src.char_indices().map(|(i, _)| i).nth(cut).unwrap_or(src.len());
            for s in [format!("{}{}", &src[..cut], noise), noise.clone()] {
                if let Ok(e) = parse(&s) {
                    let _ = translate(e);
                }
            }
        }
    }
}
