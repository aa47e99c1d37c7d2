//! The JSON forms: one post per `.json` file (or an array), and JSONL.

use super::{read_reader_jsonl, ReadItem, ReadOptions, Rejection, SourcedPost};
use crate::post::Post;
use serde::Deserialize;
use serde_json::Value;

/// Parses a whole JSON document holding one post or an array of posts.
pub fn parse_json_document(bytes: &[u8], path: &str, sink: &mut dyn FnMut(ReadItem)) {
    let bytes = strip_bom(bytes);
    let start = skip_ws(bytes, 0);
    match bytes.get(start) {
        None => sink(Err(Rejection::new(path, 0, "empty file"))),
        Some(b'[') => parse_array(bytes, start, path, sink),
        Some(_) => parse_single(bytes, start, path, sink),
    }
}

/// Parses a request body that is either a JSON array/object or JSONL.
pub fn parse_body(bytes: &[u8], name: &str, opts: &ReadOptions, sink: &mut dyn FnMut(ReadItem)) {
    let trimmed = strip_bom(bytes);
    let start = skip_ws(trimmed, 0);
    match trimmed.get(start) {
        None => sink(Err(Rejection::new(name, 0, "empty body"))),
        Some(b'[') => parse_json_document(bytes, name, sink),
        Some(b'{') if is_single_value(&trimmed[start..]) => parse_json_document(bytes, name, sink),
        Some(_) => read_reader_jsonl(&mut &bytes[..], name, opts, sink),
    }
}

/// Turns one JSON value into a valid post, or the reason it is not one.
/// A type error names the field (`view_count: invalid type: ...`).
pub(crate) fn value_to_post(value: Value) -> Result<Post, String> {
    let post: Post = serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = message(e.inner());
        if path == "." {
            inner
        } else {
            format!("{path}: {inner}")
        }
    })?;
    post.validate()?;
    Ok(post)
}

/// A serde_json error message without its ` at line L column C` suffix.
pub(crate) fn message(e: &serde_json::Error) -> String {
    let full = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    match full.strip_suffix(&suffix) {
        Some(msg) => msg.to_string(),
        None => full,
    }
}

/// Parses one JSONL line (`line` is its 1-based number) into an item.
pub(crate) fn parse_jsonl_line(text: &str, path: &str, line: usize) -> ReadItem {
    // The common case, a valid post, straight into the struct; anything
    // else goes the slower way through a `Value`, which names what is wrong
    // (and accepts what a `Value` accepts, such as a repeated key).
    if let Ok(post) = serde_json::from_str::<Post>(text) {
        if post.validate().is_ok() {
            return Ok(SourcedPost {
                post,
                path: path.to_string(),
                line,
            });
        }
    }
    let value: Value = serde_json::from_str(text).map_err(|e| {
        let reason = format!("not valid JSON: {} (column {})", message(&e), e.column());
        Rejection::new(path, line, reason)
    })?;
    sourced(value, path, line, "")
}

/// A post from `value`, or its rejection at `line` (reason after `prefix`).
fn sourced(value: Value, path: &str, line: usize, prefix: &str) -> ReadItem {
    match value_to_post(value) {
        Ok(post) => Ok(SourcedPost {
            post,
            path: path.to_string(),
            line,
        }),
        Err(reason) => Err(Rejection::new(path, line, format!("{prefix}{reason}"))),
    }
}

/// A document holding a single post (an object).
fn parse_single(bytes: &[u8], start: usize, path: &str, sink: &mut dyn FnMut(ReadItem)) {
    let line = 1 + count_newlines(&bytes[..start]);
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = Value::deserialize(&mut de).and_then(|v| de.end().map(|()| v));
    let item = match value {
        Err(e) => Err(Rejection::new(
            path,
            e.line(),
            format!("invalid JSON: {}", message(&e)),
        )),
        Ok(v) if !v.is_object() => Err(Rejection::new(
            path,
            line,
            format!(
                "expected a post object or an array of posts, got {}",
                kind(&v)
            ),
        )),
        Ok(v) => sourced(v, path, line, ""),
    };
    sink(item);
}

/// A document holding an array of posts; each element is reported at the
/// line where it starts. A syntax error ends the array.
fn parse_array(bytes: &[u8], start: usize, path: &str, sink: &mut dyn FnMut(ReadItem)) {
    let mut lines = LineCounter::default();
    let mut pos = skip_ws(bytes, start + 1);
    if bytes.get(pos) == Some(&b']') {
        return expect_end(bytes, pos + 1, path, &mut lines, sink);
    }
    for n in 1.. {
        pos = skip_ws(bytes, pos);
        let line = lines.line_at(bytes, pos);
        let mut stream = serde_json::Deserializer::from_slice(&bytes[pos..]).into_iter::<Value>();
        match stream.next() {
            Some(Ok(v)) => sink(sourced(v, path, line, &format!("post #{n}: "))),
            Some(Err(e)) => {
                let at = line + e.line().saturating_sub(1);
                // Go on at the next element when the broken one can be
                // stepped over (its brackets balance): one bad post does
                // not take the rest of the array with it.
                let (next, tail) = match skip_element(bytes, pos) {
                    Skip::Next(next) => (Some(next), ""),
                    Skip::End(end) => {
                        let reason = format!("post #{n}: invalid JSON: {}", message(&e));
                        sink(Err(Rejection::new(path, at, reason)));
                        return expect_end(bytes, end + 1, path, &mut lines, sink);
                    }
                    Skip::Eof => (
                        None,
                        "; the array is not well-formed from here, so no post after it could be read",
                    ),
                };
                let reason = format!("post #{n}: invalid JSON: {}{tail}", message(&e));
                sink(Err(Rejection::new(path, at, reason)));
                match next {
                    Some(next) => {
                        pos = next;
                        continue;
                    }
                    None => return,
                }
            }
            None => {
                let reason = format!("post #{n}: unexpected end of file in the array");
                return sink(Err(Rejection::new(path, line, reason)));
            }
        }
        pos = skip_ws(bytes, pos + stream.byte_offset());
        match bytes.get(pos) {
            Some(b',') => pos += 1,
            Some(b']') => return expect_end(bytes, pos + 1, path, &mut lines, sink),
            _ => {
                let line = lines.line_at(bytes, pos);
                let reason = format!("expected `,` or `]` after post #{n}");
                return sink(Err(Rejection::new(path, line, reason)));
            }
        }
    }
}

/// Where an array goes on after a broken element that starts at `pos`.
enum Skip {
    /// The next element starts at this offset (after the `,`).
    Next(usize),
    /// The array's `]` is at this offset.
    End(usize),
    /// The brackets never balance: the rest cannot be read.
    Eof,
}

/// Steps over the element at `pos`, counting brackets outside strings.
fn skip_element(bytes: &[u8], pos: usize) -> Skip {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for (i, &b) in bytes.iter().enumerate().skip(pos) {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => depth += 1,
            b']' if depth == 0 => return Skip::End(i),
            b'}' | b']' => depth = depth.saturating_sub(1),
            b',' if depth == 0 => return Skip::Next(i + 1),
            _ => {}
        }
    }
    Skip::Eof
}

/// Rejects anything but whitespace after the closing `]`.
fn expect_end(
    bytes: &[u8],
    pos: usize,
    path: &str,
    lines: &mut LineCounter,
    sink: &mut dyn FnMut(ReadItem),
) {
    let pos = skip_ws(bytes, pos);
    if pos < bytes.len() {
        let line = lines.line_at(bytes, pos);
        sink(Err(Rejection::new(
            path,
            line,
            "trailing characters after the array",
        )));
    }
}

/// Whether `bytes` is exactly one JSON value (and whitespace).
fn is_single_value(bytes: &[u8]) -> bool {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    serde::de::IgnoredAny::deserialize(&mut de).is_ok() && de.end().is_ok()
}

/// Counts lines incrementally over increasing offsets.
#[derive(Default)]
struct LineCounter {
    offset: usize,
    newlines: usize,
}

impl LineCounter {
    /// The 1-based line of byte `pos` (never before the last one asked).
    fn line_at(&mut self, bytes: &[u8], pos: usize) -> usize {
        let pos = pos.min(bytes.len());
        if pos > self.offset {
            self.newlines += count_newlines(&bytes[self.offset..pos]);
            self.offset = pos;
        }
        self.newlines + 1
    }
}

fn count_newlines(bytes: &[u8]) -> usize {
    bytes.iter().filter(|b| **b == b'\n').count()
}

fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)
}

/// The first non-whitespace offset at or after `pos`.
fn skip_ws(bytes: &[u8], pos: usize) -> usize {
    let rest = bytes.get(pos..).unwrap_or_default();
    pos + rest.iter().take_while(|b| b.is_ascii_whitespace()).count()
}

/// The JSON type of `v`, for messages.
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `f` and collects what it hands to the sink.
    fn collect(f: impl FnOnce(&mut dyn FnMut(ReadItem))) -> Vec<ReadItem> {
        let mut items = Vec::new();
        f(&mut |item| items.push(item));
        items
    }

    fn ids(items: &[ReadItem]) -> Vec<(String, usize)> {
        items
            .iter()
            .filter_map(|i| i.as_ref().ok())
            .map(|p| (p.post.id.clone(), p.line))
            .collect()
    }

    fn rejections(items: &[ReadItem]) -> Vec<String> {
        let errs = items.iter().filter_map(|i| i.as_ref().err());
        errs.map(|r| r.to_string()).collect()
    }

    fn doc(text: &str) -> Vec<ReadItem> {
        collect(|sink| parse_json_document(text.as_bytes(), "d.json", sink))
    }

    fn jsonl(text: &[u8], opts: &ReadOptions) -> Vec<ReadItem> {
        collect(|sink| read_reader_jsonl(&mut &text[..], "l.jsonl", opts, sink))
    }

    #[test]
    fn seed_json_is_a_post() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/seed/000_8e5299e8999edf12.expected.json"
        );
        let items = collect(|sink| parse_json_document(&std::fs::read(path).unwrap(), "s", sink));
        assert_eq!(ids(&items), [("alphanode-013989".to_string(), 1)]);
    }

    #[test]
    fn single_object_and_array() {
        let items = doc("\u{feff}\n {\"id\":\"a\",\"title\":\"t\"}\n");
        assert_eq!(ids(&items), [("a".to_string(), 2)]);
        let items = doc("[\n {\"id\":\"a\",\"title\":\"t\"},\n {\"id\":\"b\",\"title\":\"\"},\n {\"id\":\"c\",\n  \"title\":\"t\"}\n]");
        assert_eq!(ids(&items), [("a".to_string(), 2), ("c".to_string(), 4)]);
        assert_eq!(rejections(&items), ["d.json:3: post #2: post has no title"]);
        assert!(doc("[ ]").is_empty());
    }

    #[test]
    fn document_errors_name_a_line() {
        assert_eq!(rejections(&doc("  \n")), ["d.json:0: empty file"]);
        let r = rejections(&doc(
            "{\"id\":\"a\",\n\"title\":\"t\",\n\"view_count\":\"x\"}",
        ));
        assert_eq!(
            r,
            ["d.json:1: view_count: invalid type: string \"x\", expected u64"]
        );
        let r = rejections(&doc("{\"title\":\"t\"}"));
        assert_eq!(r, ["d.json:1: missing field `id`"]);
        let r = rejections(&doc("{\"id\":\"a\",\n\"title\":\"t\",,}"));
        assert_eq!(r.len(), 1);
        assert!(r[0].starts_with("d.json:2: invalid JSON"), "{r:?}");
        let r = rejections(&doc("[{\"id\":\"a\",\"title\":\"t\"},\n{\"id\":\n}]"));
        assert!(r[0].starts_with("d.json:3: post #2: invalid JSON"), "{r:?}");
        let r = rejections(&doc("[{\"id\":\"a\",\"title\":\"t\"}\n{}]"));
        assert_eq!(r, ["d.json:2: expected `,` or `]` after post #1"]);
        let r = rejections(&doc("42"));
        assert_eq!(
            r,
            ["d.json:1: expected a post object or an array of posts, got a number"]
        );
        let r = rejections(&doc(
            "{\"id\":\"a\",\"title\":\"t\",\"score\":{\"depth\":-1}}",
        ));
        assert!(
            r[0].starts_with("d.json:1: score.depth: invalid value"),
            "{r:?}"
        );
    }

    #[test]
    fn jsonl_bad_line_in_the_middle() {
        let text =
            b"{\"id\":\"a\",\"title\":\"t\"}\r\n\n  \nnot json\n{\"id\":\"b\",\"title\":\"t\"}";
        let items = jsonl(text, &ReadOptions::default());
        assert_eq!(ids(&items), [("a".to_string(), 1), ("b".to_string(), 5)]);
        let r = rejections(&items);
        assert_eq!(r.len(), 1);
        assert!(r[0].starts_with("l.jsonl:4: not valid JSON"), "{r:?}");
    }

    #[test]
    fn jsonl_long_line_is_skipped_and_the_next_read() {
        let opts = ReadOptions {
            max_line_bytes: 64,
            ..ReadOptions::default()
        };
        let long = format!("{{\"id\":\"x\",\"title\":\"{}\"}}", "y".repeat(10_000));
        let text =
            format!("{{\"id\":\"a\",\"title\":\"t\"}}\n{long}\n{{\"id\":\"b\",\"title\":\"t\"}}\n");
        // A tiny buffer makes the reader see the long line in many chunks.
        let mut reader = std::io::BufReader::with_capacity(16, text.as_bytes());
        let items = collect(|sink| read_reader_jsonl(&mut reader, "l.jsonl", &opts, sink));
        assert_eq!(ids(&items), [("a".to_string(), 1), ("b".to_string(), 3)]);
        let r = rejections(&items);
        assert_eq!(
            r,
            [format!(
                "l.jsonl:2: line is {} bytes, over the limit of 64",
                long.len()
            )]
        );
    }

    #[test]
    fn jsonl_invalid_utf8_and_bad_types() {
        let text =
            b"{\"id\":\"a\",\"title\":\"\xff\"}\n{\"id\":\"b\",\"title\":\"t\",\"tools\":[1]}\n";
        let r = rejections(&jsonl(text, &ReadOptions::default()));
        assert_eq!(r[0], "l.jsonl:1: invalid UTF-8 at column 20");
        assert_eq!(
            r[1],
            "l.jsonl:2: tools[0]: invalid type: integer `1`, expected a string"
        );
    }

    #[test]
    fn body_forms() {
        let opts = ReadOptions::default();
        let body = |b: &str| collect(|sink| parse_body(b.as_bytes(), "body", &opts, sink));
        let pretty = "{\n  \"id\": \"a\",\n  \"title\": \"t\"\n}\n";
        assert_eq!(ids(&body(pretty)), [("a".to_string(), 1)]);
        let lines = "{\"id\":\"a\",\"title\":\"t\"}\n{\"id\":\"b\",\"title\":\"t\"}\n";
        assert_eq!(
            ids(&body(lines)),
            [("a".to_string(), 1), ("b".to_string(), 2)]
        );
        let array = " [{\"id\":\"a\",\"title\":\"t\"}]";
        assert_eq!(ids(&body(array)), [("a".to_string(), 1)]);
        assert_eq!(rejections(&body(" \n")), ["body:0: empty body"]);
    }

    #[test]
    fn the_direct_parse_equals_the_parse_through_a_value() {
        let mut lines: Vec<String> = (0..50)
            .map(|n| crate::generated_post(3, n).to_json_line())
            .collect();
        lines.push(r#"{"id":"a","title":"t","id":"b","extra":{"k":[1,2]}}"#.into());
        lines.push(r#"{"id":"a","title":"t","score":{"quality":7,"other":1}}"#.into());
        lines.push(r#"{"id":" ","title":"t"}"#.into());
        for (n, text) in lines.iter().enumerate() {
            let direct = parse_jsonl_line(text, "l.jsonl", n + 1);
            let value: Value = serde_json::from_str(text).unwrap();
            let through = value_to_post(value);
            match (direct, through) {
                (Ok(d), Ok(t)) => assert_eq!(d.post, t, "line {n}"),
                (Err(d), Err(t)) => assert!(d.reason.ends_with(&t), "line {n}: {d} / {t}"),
                (d, t) => panic!("line {n}: {d:?} vs {t:?}"),
            }
        }
    }

    #[test]
    fn a_broken_post_in_an_array_does_not_take_the_rest_with_it() {
        let p = |id: &str| format!("{{\"id\":\"{id}\",\"title\":\"t {id}\"}}");
        // #2 has a syntax error; #3 and #4 are read all the same.
        let text = format!(
            "[\n{},\n{{\"id\":\"b\" \"title\":1}},\n{},\n{}\n]\n",
            p("a"),
            p("c"),
            p("d")
        );
        let items = doc(&text);
        assert_eq!(
            ids(&items),
            [
                ("a".to_string(), 2),
                ("c".to_string(), 4),
                ("d".to_string(), 5)
            ]
        );
        let errs = rejections(&items);
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(
            errs[0].starts_with("d.json:3: post #2: invalid JSON"),
            "{errs:?}"
        );
        // The broken post is the last one: the array still ends well.
        let text = format!("[{}, {{\"id\": }}]", p("a"));
        let items = doc(&text);
        assert_eq!(ids(&items).len(), 1);
        assert_eq!(rejections(&items).len(), 1, "{:?}", rejections(&items));
        // Unbalanced brackets: what follows cannot be read, and that is said.
        let text = format!("[{}, {{\"id\": [1, {}]", p("a"), p("c"));
        let errs = rejections(&doc(&text));
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(
            errs[0].contains("no post after it could be read"),
            "{errs:?}"
        );
    }
}
