//! The text form of a post (a page dump; docs/FORMAT.md §2): parsing and writing.

use super::Rejection;
use crate::post::{Entity, Payload, Post, Revision, Score};

/// The line that separates the body from the meta keys.
pub const META_MARKER: &str = "alphanode post meta";
/// The line that ends the record (the page's related-posts box).
pub const END_MARKER: &str = "Similar Posts";

/// Writes a post in the text form. [`parse`] of the result gives back the
/// same post, except for fields the text form cannot carry (unknown ones).
pub fn to_text(post: &Post) -> String {
    let mut out = String::with_capacity(4096);
    out.push_str("| |\n\n");
    out.push_str(&post.title);
    out.push_str("\n\n");
    if let Some(body) = &post.body {
        for block in body.split("\n\n") {
            if block.contains('\n') {
                for line in block.lines() {
                    out.push_str("  • ");
                    out.push_str(line);
                    out.push('\n');
                }
            } else {
                out.push_str(block);
                out.push('\n');
            }
            out.push('\n');
        }
    }
    out.push_str(META_MARKER);
    out.push_str("\n\n");
    let glued = |out: &mut String, key: &str, value: &Option<String>| {
        if let Some(v) = value {
            out.push_str(key);
            out.push_str(v);
            out.push('\n');
        }
    };
    let list = |out: &mut String, key: &str, items: &Option<Vec<String>>| {
        if let Some(items) = items {
            out.push_str(key);
            out.push('\n');
            for item in items {
                out.push_str("  • ");
                out.push_str(item);
                out.push('\n');
            }
        }
    };
    let pairs = |out: &mut String, key: &str, items: &[(String, String)]| {
        out.push_str(key);
        out.push('\n');
        for (k, v) in items {
            out.push_str("  • ");
            out.push_str(k);
            out.push_str(": ");
            out.push_str(v);
            out.push('\n');
        }
    };
    glued(&mut out, "topic", &post.topic);
    glued(&mut out, "summary", &post.summary);
    if let Some(outline) = &post.outline {
        let items: Vec<_> = outline
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        pairs(&mut out, "ai outline", &items);
    }
    glued(&mut out, "ai brief", &post.brief);
    list(&mut out, "stack", &post.stack);
    list(&mut out, "tools", &post.tools);
    glued(&mut out, "code language", &post.code_language);
    glued(&mut out, "difficulty", &post.difficulty);
    glued(
        &mut out,
        "reading time",
        &post.reading_time.map(|n| n.to_string()),
    );
    glued(
        &mut out,
        "view count",
        &post.view_count.map(|n| n.to_string()),
    );
    if let Some(score) = &post.score {
        let items: Vec<_> = [
            ("quality", score.quality),
            ("freshness", score.freshness),
            ("depth", score.depth),
            ("clarity", score.clarity),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k.to_string(), v.to_string())))
        .collect();
        pairs(&mut out, "score", &items);
    }
    if let Some(rev) = &post.revision {
        let items: Vec<_> = [
            ("status", &rev.status),
            ("version", &rev.version),
            ("last reviewed", &rev.last_reviewed),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| (k.to_string(), v.clone())))
        .collect();
        pairs(&mut out, "revision", &items);
    }
    glued(&mut out, "reference", &post.reference);
    glued(&mut out, "hash", &post.hash);
    if let Some(flags) = &post.flags {
        let items: Vec<_> = flags
            .iter()
            .map(|(k, v)| (k.replace('_', " "), if *v { "1" } else { "0" }.to_string()))
            .collect();
        pairs(&mut out, "flags", &items);
    }
    list(&mut out, "checklist", &post.checklist);
    if let Some(entities) = &post.entities {
        out.push_str("entities\n");
        for e in entities {
            out.push_str("    • name: ");
            out.push_str(&e.name);
            out.push_str("\n    • type: ");
            out.push_str(&e.kind);
            out.push('\n');
        }
    }
    // The text form keys a post by `payload.source id`, so it is always
    // written, and always as the post's id.
    let p = post.payload.clone().unwrap_or_default();
    let items: Vec<_> = [
        ("source id", Some(post.id.clone())),
        ("generator", p.generator),
        ("paragraphs", p.paragraphs.map(|n| n.to_string())),
        ("scenario", p.scenario),
        ("seed", p.seed.map(|n| n.to_string())),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.map(|v| (k.to_string(), v)))
    .collect();
    pairs(&mut out, "payload", &items);
    list(&mut out, "notes", &post.notes);
    out.push('\n');
    out.push_str(END_MARKER);
    out
}

/// Parses one post in the text form. `path` names the file in the rejection.
pub fn parse(bytes: &[u8], path: &str) -> Result<Post, Rejection> {
    parse_text(decode(bytes, path)?, path, 0)
}

/// Parses every post of a file in the text form: each ends with its
/// `Similar Posts` line, and the last may lack it. Each post (with the
/// 1-based line it starts on) or rejection goes to `sink`; text after the
/// last `Similar Posts` that is not a post is a rejection with its line,
/// never dropped in silence.
pub fn parse_all(bytes: &[u8], path: &str, sink: &mut dyn FnMut(Result<(Post, usize), Rejection>)) {
    let text = match decode(bytes, path) {
        Ok(text) => text,
        Err(r) => return sink(Err(r)),
    };
    let lines: Vec<&str> = text.split('\n').collect();
    let mut start = 0;
    for (i, line) in lines.iter().enumerate() {
        let last = i + 1 == lines.len();
        if line.trim() != END_MARKER && !last {
            continue;
        }
        let part = &lines[start..=i];
        if part.iter().any(|l| !l.trim().is_empty()) {
            // The post's own first line (blank lines before it skipped).
            let first = start + part.iter().position(|l| !l.trim().is_empty()).unwrap_or(0);
            let result = parse_text(&part.join("\n"), path, start);
            sink(result.map(|post| (post, first + 1)));
        }
        start = i + 1;
    }
}

/// Parses one post from its text (already decoded) that starts after the
/// first `offset` lines of its file: every line number, in a rejection or
/// in its message, is counted in the file.
fn parse_text(text: &str, path: &str, offset: usize) -> Result<Post, Rejection> {
    let lines: Vec<&str> = text.split('\n').map(str::trim_end).collect();
    let last = offset
        + lines
            .iter()
            .rposition(|l| !l.is_empty())
            .map_or(0, |i| i + 1);
    let Some(marker) = lines.iter().position(|l| l.trim() == META_MARKER) else {
        let reason = format!("truncated file: no `{META_MARKER}` line");
        return Err(Rejection::new(path, last, reason));
    };
    let (title, title_line, body) = parse_head(&lines[..marker]);
    let mut post = Post::new("", title);
    post.body = body;
    let id_line = Meta::new(&mut post, path, offset).parse(&lines, marker + 1)?;
    let Some(id_line) = id_line else {
        let reason = "truncated file: the meta has no `payload` › `source id`";
        return Err(Rejection::new(path, last, reason));
    };
    if let Err(reason) = post.validate() {
        let line = if post.id.trim().is_empty() || post.id.len() > 512 {
            id_line
        } else {
            offset + title_line.unwrap_or(marker + 1)
        };
        return Err(Rejection::new(path, line, reason));
    }
    Ok(post)
}

/// Checks the bytes are non-empty UTF-8 and strips a BOM.
fn decode<'a>(bytes: &'a [u8], path: &str) -> Result<&'a str, Rejection> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let at = e.valid_up_to();
        let line = 1 + bytes[..at].iter().filter(|b| **b == b'\n').count();
        Rejection::new(path, line, format!("invalid UTF-8 at byte offset {at}"))
    })?;
    if text.trim().is_empty() {
        return Err(Rejection::new(path, 0, "empty file"));
    }
    Ok(text)
}

/// The text of a `•` item line, or `None` if the line is not an item.
fn item_text(line: &str) -> Option<&str> {
    line.trim().strip_prefix('\u{2022}').map(str::trim)
}

/// Splits the part before the meta marker into the title (with its 1-based
/// line) and the body.
fn parse_head(lines: &[&str]) -> (String, Option<usize>, Option<String>) {
    let mut rest = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .peekable();
    if rest.peek().is_some_and(|(_, l)| l.trim() == "| |") {
        rest.next();
    }
    let Some((title_idx, title)) = rest.next() else {
        return (String::new(), None, None);
    };
    let body = parse_body(&lines[title_idx + 1..]);
    (title.trim().to_string(), Some(title_idx + 1), body)
}

/// Joins the body's blocks by a blank line and a block's lines by `\n`,
/// dropping bullet marks and indentation.
fn parse_body(lines: &[&str]) -> Option<String> {
    let blocks: Vec<String> = lines
        .split(|l| l.trim().is_empty())
        .filter(|b| !b.is_empty())
        .map(|b| {
            b.iter()
                .map(|l| item_text(l).unwrap_or_else(|| l.trim()))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .collect();
    (!blocks.is_empty()).then(|| blocks.join("\n\n"))
}

/// The meta keys, longest first so a key never shadows a longer one.
const KEYS: [&str; 19] = [
    "code language",
    "reading time",
    "ai outline",
    "difficulty",
    "view count",
    "checklist",
    "reference",
    "ai brief",
    "entities",
    "revision",
    "payload",
    "summary",
    "flags",
    "notes",
    "score",
    "stack",
    "tools",
    "topic",
    "hash",
];

/// Keys whose value is given by `•` items on the following lines.
const BLOCK_KEYS: [&str; 10] = [
    "ai outline",
    "checklist",
    "entities",
    "revision",
    "payload",
    "flags",
    "notes",
    "score",
    "stack",
    "tools",
];

/// The fields of the `name: value` blocks that take no others (post.rs
/// `Score`, `Revision`, `Payload`), as the text form writes them. An item
/// naming another field is misfiled (most often: the key line of the block
/// it belongs to is missing), so it is an error, not an unknown field kept.
const SCORE_FIELDS: [&str; 4] = ["quality", "freshness", "depth", "clarity"];
const REVISION_FIELDS: [&str; 3] = ["status", "version", "last reviewed"];
const PAYLOAD_FIELDS: [&str; 5] = ["source id", "generator", "paragraphs", "scenario", "seed"];

/// The state of the meta section parser.
struct Meta<'p> {
    post: &'p mut Post,
    path: &'p str,
    /// The block key the next `•` items belong to.
    open: Option<&'static str>,
    /// The indentation of the open block's first item: an item indented
    /// deeper is misfiled (the items of `entities` are indented deeper
    /// than the others, so they land there when their key line is missing).
    indent: Option<usize>,
    /// The line of `payload` › `source id`, once seen.
    id_line: Option<usize>,
    /// The lines of the file before the post's first.
    offset: usize,
    /// Each meta key given so far, with its line: a key given twice is an
    /// error, never a silent replacement of the first value.
    seen: Vec<(&'static str, usize)>,
    /// The names of the open block's `name: value` items so far, as they
    /// are stored, with their lines (`entities` repeats its names by design).
    names: Vec<(String, usize)>,
    /// The current line, 1-based, counted in the file.
    line: usize,
}

impl<'p> Meta<'p> {
    fn new(post: &'p mut Post, path: &'p str, offset: usize) -> Meta<'p> {
        Meta {
            post,
            path,
            open: None,
            indent: None,
            id_line: None,
            offset,
            seen: Vec::new(),
            names: Vec::new(),
            line: 0,
        }
    }

    fn reject(&self, reason: impl Into<String>) -> Rejection {
        Rejection::new(self.path, self.line, reason)
    }

    /// Parses the meta lines from index `start` to `Similar Posts`;
    /// returns the line of the post's id, if any.
    fn parse(mut self, lines: &[&str], start: usize) -> Result<Option<usize>, Rejection> {
        for (idx, raw) in lines.iter().enumerate().skip(start) {
            self.line = self.offset + idx + 1;
            let line = raw.trim();
            if line == END_MARKER {
                break;
            }
            if line.is_empty() {
                continue;
            }
            match item_text(line) {
                Some(item) => self.item(item, raw.len() - raw.trim_start().len())?,
                None => self.key_line(line)?,
            }
        }
        Ok(self.id_line)
    }

    /// A line starting with a meta key, its value glued to it.
    fn key_line(&mut self, line: &str) -> Result<(), Rejection> {
        let Some((key, value)) = KEYS
            .iter()
            .find_map(|k| line.strip_prefix(k).map(|v| (*k, v.trim())))
        else {
            return Err(self.reject(format!("unknown meta key: {:?}", short(line))));
        };
        let block = BLOCK_KEYS.contains(&key);
        if block && !value.is_empty() {
            return Err(self.reject(format!("unknown meta key: {:?}", short(line))));
        }
        if let Some((_, first)) = self.seen.iter().find(|(k, _)| *k == key) {
            return Err(self.reject(format!("`{key}` given twice (first at line {first})")));
        }
        self.seen.push((key, self.line));
        if block {
            self.open = Some(key);
            self.indent = None;
            self.names.clear();
            self.open_block(key);
            return Ok(());
        }
        self.open = None;
        self.scalar(key, value)
    }

    /// Sets a scalar field from its glued value.
    fn scalar(&mut self, key: &str, value: &str) -> Result<(), Rejection> {
        let text = Some(value.to_string());
        match key {
            "topic" => self.post.topic = text,
            "summary" => self.post.summary = text,
            "ai brief" => self.post.brief = text,
            "code language" => self.post.code_language = text,
            "difficulty" => self.post.difficulty = text,
            "reference" => self.post.reference = text,
            "hash" => self.post.hash = text,
            "reading time" => self.post.reading_time = Some(self.uint(key, value)?),
            "view count" => self.post.view_count = Some(self.uint(key, value)?),
            _ => unreachable!("every scalar key is handled"),
        }
        Ok(())
    }

    /// Starts the (empty) value of a block key.
    fn open_block(&mut self, key: &str) {
        let p = &mut *self.post;
        match key {
            "ai outline" => p.outline = Some(Default::default()),
            "stack" => p.stack = Some(Vec::new()),
            "tools" => p.tools = Some(Vec::new()),
            "checklist" => p.checklist = Some(Vec::new()),
            "notes" => p.notes = Some(Vec::new()),
            "entities" => p.entities = Some(Vec::new()),
            "score" => p.score = Some(Score::default()),
            "revision" => p.revision = Some(Revision::default()),
            "flags" => p.flags = Some(Default::default()),
            "payload" => p.payload = Some(Payload::default()),
            _ => unreachable!("every block key is handled"),
        }
    }

    /// A `•` item of the open block key, indented by `indent` bytes.
    fn item(&mut self, item: &str, indent: usize) -> Result<(), Rejection> {
        let Some(key) = self.open else {
            let reason = format!("`•` item with no list key before it: {:?}", short(item));
            return Err(self.reject(reason));
        };
        match self.indent {
            Some(first) if indent > first => {
                let reason = format!(
                    "misfiled item under `{key}`: indented deeper than its items above, \
                     got {:?} (is a key line missing?)",
                    short(item)
                );
                return Err(self.reject(reason));
            }
            Some(_) => {}
            None => self.indent = Some(indent),
        }
        let p = &mut *self.post;
        let list = match key {
            "stack" => p.stack.as_mut(),
            "tools" => p.tools.as_mut(),
            "checklist" => p.checklist.as_mut(),
            "notes" => p.notes.as_mut(),
            _ => None,
        };
        if let Some(list) = list {
            if split_pair(item).is_some() {
                let reason = format!(
                    "misfiled item under `{key}`: expected a plain item, got a `name: value` \
                     pair {:?} (is a key line missing?)",
                    short(item)
                );
                return Err(self.reject(reason));
            }
            list.push(item.to_string());
            return Ok(());
        }
        let Some((name, value)) = split_pair(item) else {
            let reason =
                format!("malformed item under `{key}`: expected `name: value`, got {item:?}");
            return Err(self.reject(reason));
        };
        self.pair(key, name, value)
    }

    /// A `name: value` item of the block key `key`.
    fn pair(&mut self, key: &str, name: &str, value: &str) -> Result<(), Rejection> {
        if key != "entities" {
            // The outline keeps its names as written, the others in snake_case.
            let stored = if key == "ai outline" {
                name.to_string()
            } else {
                snake(name)
            };
            if let Some((_, first)) = self.names.iter().find(|(n, _)| *n == stored) {
                let reason = format!(
                    "`{key}` › {:?} given twice (first at line {first})",
                    short(name)
                );
                return Err(self.reject(reason));
            }
            self.names.push((stored, self.line));
        }
        match key {
            "ai outline" => {
                let outline = self.post.outline.get_or_insert_with(Default::default);
                outline.insert(name.to_string(), value.to_string());
            }
            "flags" => {
                let flag = self.flag(name, value)?;
                let flags = self.post.flags.get_or_insert_with(Default::default);
                flags.insert(snake(name), flag);
            }
            "entities" => self.entity(name, value)?,
            "score" => self.score(name, value)?,
            "revision" => self.revision(name, value)?,
            "payload" => self.payload(name, value)?,
            _ => unreachable!("every pair key is handled"),
        }
        Ok(())
    }

    /// A `name: X` or `type: Y` item of `entities`.
    fn entity(&mut self, name: &str, value: &str) -> Result<(), Rejection> {
        let entities = self.post.entities.get_or_insert_with(Vec::new);
        match name {
            "name" => entities.push(Entity {
                name: value.to_string(),
                ..Entity::default()
            }),
            "type" => match entities.last_mut() {
                Some(e) if e.kind.is_empty() => e.kind = value.to_string(),
                _ => return Err(self.reject("entities: `type` item with no `name` item before it")),
            },
            _ => {
                let reason = format!("entities: expected a `name` or `type` item, got {name:?}");
                return Err(self.reject(reason));
            }
        }
        Ok(())
    }

    /// A `score` part: an unsigned integer.
    fn score(&mut self, name: &str, value: &str) -> Result<(), Rejection> {
        let field = self.field("score", &SCORE_FIELDS, name)?;
        let n = Some(self.uint(&format!("score {name}"), value)?);
        let score = self.post.score.get_or_insert_with(Score::default);
        match field {
            "quality" => score.quality = n,
            "freshness" => score.freshness = n,
            "depth" => score.depth = n,
            "clarity" => score.clarity = n,
            _ => unreachable!("every score field is handled"),
        }
        Ok(())
    }

    /// A `revision` item.
    fn revision(&mut self, name: &str, value: &str) -> Result<(), Rejection> {
        let field = self.field("revision", &REVISION_FIELDS, name)?;
        let rev = self.post.revision.get_or_insert_with(Revision::default);
        let v = Some(value.to_string());
        match field {
            "status" => rev.status = v,
            "version" => rev.version = v,
            "last reviewed" => rev.last_reviewed = v,
            _ => unreachable!("every revision field is handled"),
        }
        Ok(())
    }

    /// A `payload` item; `source id` is the post's id.
    fn payload(&mut self, name: &str, value: &str) -> Result<(), Rejection> {
        let field = self.field("payload", &PAYLOAD_FIELDS, name)?;
        let int = match field {
            "paragraphs" | "seed" => Some(self.uint(&format!("payload {name}"), value)?),
            _ => None,
        };
        if field == "source id" {
            self.id_line = Some(self.line);
            self.post.id = value.to_string();
        }
        let payload = self.post.payload.get_or_insert_with(Payload::default);
        let v = Some(value.to_string());
        match field {
            "source id" => payload.source_id = v,
            "generator" => payload.generator = v,
            "scenario" => payload.scenario = v,
            "paragraphs" => payload.paragraphs = int,
            "seed" => payload.seed = int,
            _ => unreachable!("every payload field is handled"),
        }
        Ok(())
    }

    /// The field of `fields` (those of the block `key`) that `name` names,
    /// written with spaces or `_`; any other name is a misfiled item.
    fn field(
        &self,
        key: &str,
        fields: &[&'static str],
        name: &str,
    ) -> Result<&'static str, Rejection> {
        let wanted = snake(name);
        match fields.iter().find(|f| snake(f) == wanted) {
            Some(field) => Ok(field),
            None => Err(self.reject(format!(
                "misfiled item under `{key}`: {:?} is not one of its fields ({}) \
                 (is a key line missing?)",
                short(name),
                fields.join(", ")
            ))),
        }
    }

    /// A flag value: `0`, `1`, `true` or `false`.
    fn flag(&self, name: &str, value: &str) -> Result<bool, Rejection> {
        match value.to_ascii_lowercase().as_str() {
            "1" | "true" => Ok(true),
            "0" | "false" => Ok(false),
            _ => Err(self.reject(format!(
                "flags {name}: expected 0, 1, true or false, got {value:?}"
            ))),
        }
    }

    /// An unsigned integer value of `key`.
    fn uint(&self, key: &str, value: &str) -> Result<u64, Rejection> {
        value.parse().map_err(|_| {
            self.reject(format!(
                "{key}: expected an unsigned integer, got {value:?}"
            ))
        })
    }
}

/// Splits `name: value` (or `name:` with an empty value).
fn split_pair(item: &str) -> Option<(&str, &str)> {
    let (name, value) = match item.split_once(": ") {
        Some(pair) => pair,
        None => (item.strip_suffix(':')?, ""),
    };
    let name = name.trim();
    (!name.is_empty()).then_some((name, value.trim()))
}

/// `last reviewed` → `last_reviewed`.
fn snake(name: &str) -> String {
    name.trim().replace(' ', "_")
}

/// The first 60 characters of `s`, for messages.
fn short(s: &str) -> String {
    match s.char_indices().nth(60) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use indexmap::IndexMap;
    use serde_json::Value;

    const SEED: &str = "000_8e5299e8999edf12";

    fn fixture(rel: &str) -> Vec<u8> {
        let path = format!("{}/../../tests/fixtures/{rel}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn seed_text() -> String {
        String::from_utf8(fixture(&format!("seed/{SEED}.txt"))).unwrap()
    }

    fn seed_expected() -> Value {
        serde_json::from_slice(&fixture(&format!("seed/{SEED}.expected.json"))).unwrap()
    }

    fn as_value(post: &Post) -> Value {
        serde_json::to_value(post).unwrap()
    }

    fn err(text: &str) -> Rejection {
        parse(text.as_bytes(), "f.txt").expect_err("should be rejected")
    }

    /// A minimal valid post with `meta` lines after the marker.
    fn with_meta(meta: &str) -> String {
        format!("| |\n\ntitle\n\nbody\n\nalphanode post meta\n\n{meta}payload\n  • source id: x-1\n\nSimilar Posts")
    }

    #[test]
    fn keys_are_longest_first() {
        assert!(KEYS.windows(2).all(|w| w[0].len() >= w[1].len()));
        assert!(BLOCK_KEYS.iter().all(|k| KEYS.contains(k)));
    }

    #[test]
    fn seed_parses_to_expected_json() {
        let post = parse(seed_text().as_bytes(), "seed.txt").unwrap();
        assert_eq!(as_value(&post), seed_expected());
    }

    #[test]
    fn crlf_bom_and_trailing_blanks_parse_the_same() {
        let crlf: String = seed_text()
            .lines()
            .map(|l| format!("{l}  \t\r\n"))
            .collect();
        let messy = format!("\u{feff}{crlf}\r\n\r\n   \r\n");
        let post = parse(messy.as_bytes(), "seed.txt").unwrap();
        assert_eq!(as_value(&post), seed_expected());
    }

    #[test]
    fn missing_optional_sections_stay_absent() {
        let text = "minimal title\nalphanode post meta\npayload\n  • source id: m-1\n";
        let post = parse(text.as_bytes(), "m.txt").unwrap();
        let mut want = Post::new("m-1", "minimal title");
        want.payload = Some(Payload {
            source_id: Some("m-1".into()),
            ..Payload::default()
        });
        assert_eq!(post, want);
    }

    #[test]
    fn unicode_title_and_body() {
        let text = "| |\n\n日本語のタイトル 🚀 café\n\nnaïve body — 中文 ✅\n\n  • élément 🎉\n  • 二\n\nalphanode post meta\ntopicрусский / ąę\npayload\n  • source id: u-1\nSimilar Posts";
        let post = parse(text.as_bytes(), "u.txt").unwrap();
        assert_eq!(post.title, "日本語のタイトル 🚀 café");
        assert_eq!(
            post.body.as_deref(),
            Some("naïve body — 中文 ✅\n\nélément 🎉\n二")
        );
        assert_eq!(post.topic.as_deref(), Some("русский / ąę"));
    }

    /// The line of the rejection of `meta`, checking its reason names the
    /// block the item was misfiled under and the item.
    fn misfiled(meta: &str, key: &str, item: &str) -> usize {
        let r = err(&with_meta(meta));
        let under = format!("misfiled item under `{key}`: ");
        assert!(r.reason.starts_with(&under), "{}", r.reason);
        assert!(r.reason.contains(item), "{}", r.reason);
        r.line
    }

    #[test]
    fn pairs_under_a_list_key_are_misfiled() {
        // `tools` takes plain values: an entity pair there lost its key line.
        let meta = "stack\n  • python\ntools\n  • git\n  • name: python\n  • type: stack\n";
        assert_eq!(misfiled(meta, "tools", "\"name: python\""), 13);
        // Even as the first item, at any indentation.
        assert_eq!(
            misfiled("notes\n    • name: rust\n", "notes", "name: rust"),
            10
        );
        assert_eq!(
            misfiled("checklist\n  • seed: 4\n", "checklist", "seed: 4"),
            10
        );
    }

    #[test]
    fn plain_items_under_a_pairs_key_are_rejected() {
        // `revision` takes `name: value` items: `tools` lost its key line.
        let r = err(&with_meta("revision\n  • status: live\n  • fastapi\n"));
        assert_eq!(r.line, 11);
        assert!(r.reason.contains("under `revision`"), "{}", r.reason);
        assert!(r.reason.contains("\"fastapi\""), "{}", r.reason);
    }

    #[test]
    fn fields_a_block_does_not_know_are_misfiled() {
        // `revision` lost its key line: its fields land in `score`.
        let meta = "score\n  • quality: 76\n  • last reviewed: 2024-01-01\n";
        assert_eq!(misfiled(meta, "score", "\"last reviewed\""), 11);
        let meta = "revision\n  • status: live\n  • has images: 0\n";
        assert_eq!(misfiled(meta, "revision", "\"has images\""), 11);
        assert_eq!(
            misfiled("revision\n  • editor: ann\n", "revision", "editor"),
            10
        );
        let meta = "payload\n  • source id: x-0\n  • quality: 5\n";
        assert_eq!(misfiled(meta, "payload", "\"quality\""), 11);
        // Every known field is taken, written with spaces or `_`.
        let meta = "score\n  • quality: 1\n  • freshness: 2\n  • depth: 3\n  • clarity: 4\n\
                    revision\n  • status: s\n  • version: 1.0\n  • last_reviewed: 2024-01-01\n";
        let post = parse(with_meta(meta).as_bytes(), "f.txt").unwrap();
        assert_eq!(post.score.unwrap().clarity, Some(4));
        assert_eq!(
            post.revision.unwrap().last_reviewed.as_deref(),
            Some("2024-01-01")
        );
        let text = "t\nalphanode post meta\npayload\n  • source_id: a\n  • generator: g\n  \
                    • paragraphs: 2\n  • scenario: s\n  • seed: 3\n";
        let payload = parse(text.as_bytes(), "f.txt").unwrap().payload.unwrap();
        assert_eq!(
            (payload.source_id.as_deref(), payload.seed),
            (Some("a"), Some(3))
        );
    }

    #[test]
    fn items_indented_deeper_than_their_block_are_misfiled() {
        // `entities` lost its key line: its deeper items land in `checklist`.
        let meta = "checklist\n  • one\n    • name: rust\n    • type: stack\n";
        assert_eq!(misfiled(meta, "checklist", "deeper"), 11);
        let meta = "ai outline\n  • context: c\n    • name: rust\n";
        assert_eq!(misfiled(meta, "ai outline", "\"name: rust\""), 11);
        let meta = "stack\n  • rust\n      • cargo\n";
        assert_eq!(misfiled(meta, "stack", "\"cargo\""), 11);
        // A block's own items set its indentation: `entities` is written
        // deeper than the others (as in the seed), and any level is taken.
        let meta = "entities\n    • name: rust\n    • type: stack\nstack\n• a\n• b\n";
        let post = parse(with_meta(meta).as_bytes(), "f.txt").unwrap();
        assert_eq!(post.entities.unwrap()[0].kind, "stack");
        assert_eq!(post.stack.unwrap(), ["a", "b"]);
    }

    #[test]
    fn a_misfiled_item_in_a_later_post_names_its_line_in_the_file() {
        let a = to_text(&Post::new("a", "title a"));
        let n = a.lines().count();
        let mut p = Post::new("b", "title b");
        p.stack = Some(vec!["rust".into()]);
        let b = to_text(&p).replace("  • rust\n", "  • rust\n    • name: rust\n");
        let at = n + b.lines().position(|l| l.ends_with("name: rust")).unwrap() + 1;
        let got = parse_file(&format!("{a}\n{b}"));
        let err = got[1].clone().unwrap_err();
        assert!(
            err.starts_with(&format!("{at}:misfiled item under `stack`")),
            "{err}"
        );
    }

    #[test]
    fn unknown_meta_key_names_its_line() {
        let r = err(&with_meta("topicok\nauthorbob\n"));
        assert_eq!(
            (r.line, r.reason.as_str()),
            (10, "unknown meta key: \"authorbob\"")
        );
        assert_eq!(r.to_string(), "f.txt:10: unknown meta key: \"authorbob\"");
        assert_eq!(err(&with_meta("stackpython\n")).line, 9);
    }

    #[test]
    fn malformed_bullets_name_their_line() {
        let r = err(&with_meta("score\n  • quality 76\n"));
        assert_eq!(r.line, 10);
        assert!(r.reason.contains("expected `name: value`"), "{}", r.reason);
        let r = err(&with_meta("topicx\n  • stray\n"));
        assert_eq!(r.line, 10);
        assert!(r.reason.contains("no list key"), "{}", r.reason);
        let r = err(&with_meta("entities\n    • name: a\n    • kind: b\n"));
        assert_eq!(r.line, 11);
        assert!(r.reason.contains("`name` or `type`"), "{}", r.reason);
        let r = err(&with_meta("entities\n    • type: b\n"));
        assert_eq!(r.line, 10);
    }

    #[test]
    fn a_key_given_twice_names_both_lines() {
        // A second `payload` would change the post's id.
        let r = err(&with_meta("payload\n  • source id: x-0\n"));
        assert_eq!(
            (r.line, r.reason.as_str()),
            (11, "`payload` given twice (first at line 9)")
        );
        let meta = "score\n  • quality: 1\nrevision\n  • status: a\nscore\n  • depth: 2\n";
        let r = err(&with_meta(meta));
        assert_eq!(
            (r.line, r.reason.as_str()),
            (13, "`score` given twice (first at line 9)")
        );
        for key in [
            "revision",
            "ai outline",
            "stack",
            "tools",
            "entities",
            "flags",
        ] {
            let r = err(&with_meta(&format!("{key}\ntopicx\n{key}\n")));
            let want = format!("`{key}` given twice (first at line 9)");
            assert_eq!((r.line, r.reason), (11, want));
        }
        // Glued keys too, even with the same value.
        let r = err(&with_meta("difficultyeasy\ntopicx\ndifficultyeasy\n"));
        assert_eq!(
            (r.line, r.reason.as_str()),
            (11, "`difficulty` given twice (first at line 9)")
        );
        let r = err(&with_meta("view count1\nview count2\n"));
        assert_eq!(r.line, 10);
        assert!(
            r.reason.starts_with("`view count` given twice"),
            "{}",
            r.reason
        );
    }

    #[test]
    fn a_repeat_in_a_later_post_names_lines_of_the_file() {
        let mut p = Post::new("a", "title a");
        p.difficulty = Some("easy".into());
        let a = to_text(&p);
        let n = a.lines().count();
        let b = to_text(&Post::new("b", "title b")).replace("payload\n", "payload\npayload\n");
        let at = n + b.lines().position(|l| l == "payload").unwrap() + 1;
        let got = parse_file(&format!("{a}\n{b}"));
        assert_eq!(got[0], Ok(("a".into(), 1)));
        let want = format!("{}:`payload` given twice (first at line {at})", at + 1);
        assert_eq!(got[1], Err(want));
    }

    #[test]
    fn a_name_given_twice_in_a_block_names_both_lines() {
        let meta = "score\n  • quality: 1\n  • depth: 2\n  • quality: 3\n";
        let r = err(&with_meta(meta));
        assert_eq!(
            (r.line, r.reason.as_str()),
            (12, "`score` › \"quality\" given twice (first at line 10)")
        );
        // Flags are compared as stored: `has images` is `has_images`.
        let r = err(&with_meta("flags\n  • has images: 1\n  • has_images: 0\n"));
        assert_eq!(r.line, 11);
        assert!(
            r.reason.starts_with("`flags` › \"has_images\" given twice"),
            "{}",
            r.reason
        );
        let r = err(&with_meta("ai outline\n  • context: a\n  • context: b\n"));
        assert_eq!(r.line, 11);
        assert!(
            r.reason.starts_with("`ai outline` › \"context\""),
            "{}",
            r.reason
        );
        let r = err("t\nalphanode post meta\npayload\n  • source id: a\n  • source id: b\n");
        assert_eq!(r.line, 5);
        // Entities repeat `name` and `type`; outline names differ as written.
        let meta = "entities\n    • name: a\n    • type: x\n    • name: b\n    • type: y\n\
                    ai outline\n  • a b: 1\n  • a_b: 2\n";
        let post = parse(with_meta(meta).as_bytes(), "f.txt").unwrap();
        assert_eq!(post.entities.unwrap().len(), 2);
        assert_eq!(post.outline.unwrap().len(), 2);
    }

    #[test]
    fn non_integers_name_key_and_value() {
        let r = err(&with_meta("view countmany\n"));
        assert_eq!(r.line, 9);
        assert_eq!(
            r.reason,
            "view count: expected an unsigned integer, got \"many\""
        );
        let r = err(&with_meta("score\n  • depth: -3\n"));
        assert_eq!(
            (r.line, r.reason.as_str()),
            (10, "score depth: expected an unsigned integer, got \"-3\"")
        );
        let r = err(&with_meta("payload\n  • seed: 1.5\n"));
        assert!(r.reason.starts_with("payload seed:"), "{}", r.reason);
    }

    #[test]
    fn bad_flag_value_is_rejected() {
        let r = err(&with_meta("flags\n  • has images: yes\n"));
        assert_eq!(r.line, 10);
        assert!(r.reason.contains("\"yes\""), "{}", r.reason);
        let ok = parse(with_meta("flags\n  • a b: true\n").as_bytes(), "f").unwrap();
        assert!(ok.flags.unwrap()["a_b"]);
    }

    #[test]
    fn invalid_utf8_names_the_line_of_the_bad_byte() {
        let mut bytes = b"title\n\nbody\nmore \xff\xfe here\n".to_vec();
        bytes.extend_from_slice(b"alphanode post meta\n");
        let r = parse(&bytes, "f.txt").unwrap_err();
        assert_eq!(r.line, 4);
        assert!(r.reason.starts_with("invalid UTF-8"), "{}", r.reason);
    }

    #[test]
    fn empty_and_truncated_files() {
        for empty in ["", "\u{feff}", " \n\r\n"] {
            let r = parse(empty.as_bytes(), "e.txt").unwrap_err();
            assert_eq!((r.line, r.reason.as_str()), (0, "empty file"));
        }
        let r = err("title\n\nbody that stops\n");
        assert_eq!(r.line, 3);
        assert!(r.reason.starts_with("truncated file"), "{}", r.reason);
        let r = err("title\n\nbody\n\nalphanode post meta\ntopicx\n");
        assert_eq!(r.line, 6);
        assert!(r.reason.contains("source id"), "{}", r.reason);
    }

    #[test]
    fn blank_id_or_title_is_rejected() {
        let r = err("title\nalphanode post meta\npayload\n  • source id:\n");
        assert_eq!((r.line, r.reason.as_str()), (4, "post has no id"));
        let r = err("| |\n\nalphanode post meta\npayload\n  • source id: a\n");
        assert_eq!((r.line, r.reason.as_str()), (3, "post has no title"));
    }

    fn full_post() -> Post {
        let mut p = Post::new("rt-1", "Round trip: ünïcödé 🦀");
        p.body = Some("intro paragraph\n\nheading\n\nfirst item\nsecond item\n\nend".into());
        p.topic = Some("slow builds / rust".into());
        p.summary = Some("a summary".into());
        p.outline = Some(IndexMap::from([
            ("context".to_string(), "ctx".to_string()),
            (
                "recommended action".to_string(),
                "measure: then act".to_string(),
            ),
        ]));
        p.brief = Some("brief".into());
        p.stack = Some(vec!["rust".into(), "cargo".into()]);
        p.tools = Some(vec![]);
        p.code_language = Some("rust".into());
        p.difficulty = Some("expert".into());
        p.reading_time = Some(3);
        p.view_count = Some(0);
        p.score = Some(Score {
            quality: Some(1),
            depth: Some(100),
            ..Score::default()
        });
        p.revision = Some(Revision {
            status: Some("live".into()),
            last_reviewed: Some("2024-01-02".into()),
            ..Revision::default()
        });
        p.reference = Some("ref".into());
        p.hash = Some("abc".into());
        p.flags = Some(IndexMap::from([
            ("has_images".into(), true),
            ("x".into(), false),
        ]));
        p.checklist = Some(vec!["one".into()]);
        p.entities = Some(vec![Entity {
            name: "rust".into(),
            kind: "stack".into(),
            ..Entity::default()
        }]);
        p.payload = Some(Payload {
            source_id: Some("rt-1".into()),
            generator: Some("gen".into()),
            paragraphs: Some(4),
            scenario: None,
            seed: Some(7),
            ..Payload::default()
        });
        p.notes = Some(vec!["note • with bullet inside".into()]);
        p
    }

    #[test]
    fn to_text_round_trips() {
        let mut minimal = Post::new("rt-2", "only a title");
        minimal.payload = Some(Payload {
            source_id: Some("rt-2".into()),
            ..Payload::default()
        });
        let mut list_body = minimal.clone();
        list_body.body = Some("a\nb\nc".into());
        let seed = parse(seed_text().as_bytes(), "s").unwrap();
        for post in [full_post(), minimal, list_body, seed] {
            let text = to_text(&post);
            let back = parse(text.as_bytes(), "rt.txt").unwrap_or_else(|r| panic!("{r}\n{text}"));
            assert_eq!(back, post, "{text}");
        }
    }

    fn parse_file(text: &str) -> Vec<Result<(String, usize), String>> {
        let mut out = Vec::new();
        parse_all(text.as_bytes(), "f.txt", &mut |r| {
            out.push(
                r.map(|(p, line)| (p.id, line))
                    .map_err(|r| format!("{}:{}", r.line, r.reason)),
            )
        });
        out
    }

    #[test]
    fn every_post_of_a_file_is_read_or_reported() {
        let post = |id: &str| {
            let mut p = Post::new(id, format!("title of {id}"));
            p.body = Some("a body".into());
            to_text(&p)
        };
        let (a, b) = (post("a"), post("b"));
        let lines_of_a = a.lines().count();
        // Two posts: both, each with the line it starts on.
        let got = parse_file(&format!("{a}\n{b}\n"));
        assert_eq!(got, [Ok(("a".into(), 1)), Ok(("b".into(), lines_of_a + 1))]);
        // Blank lines between them change nothing but the line.
        let got = parse_file(&format!("{a}\n\n\n{b}"));
        assert_eq!(got[1], Ok(("b".into(), lines_of_a + 3)));
        // Text after the last post that is not a post: a rejection at its line.
        let got = parse_file(&format!("{a}\nstray words\n"));
        assert_eq!(got[0], Ok(("a".into(), 1)));
        let err = got[1].clone().unwrap_err();
        assert!(err.starts_with(&format!("{}:", lines_of_a + 1)), "{err}");
        // A bad second post is reported at its own lines; the first is kept.
        let bad = b.replace("source id: b", "source id:");
        let got = parse_file(&format!("{a}\n{bad}"));
        assert_eq!(got[0], Ok(("a".into(), 1)));
        let err = got[1].clone().unwrap_err();
        let line: usize = err.split(':').next().unwrap().parse().unwrap();
        assert!(line > lines_of_a, "{err}");
        // One post, as before.
        assert_eq!(parse_file(&a), [Ok(("a".into(), 1))]);
    }
}
