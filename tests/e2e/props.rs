//! Property tests with a fixed case budget (they run in CI; the fuzz targets
//! in `fuzz/` explore the same entry points for longer, by hand).
//!
//! - arbitrary bytes / strings into the four parsing entry points: no panic;
//! - random valid posts round-trip through JSONL and through the text form;
//! - end to end: random posts indexed by the real binary come back whole from
//!   `GET /api/posts/{id}` of the real server.

use crate::common::{get, run, stderr, stdout, Server};
use indexmap::IndexMap;
use postsearch_engine::Limits;
use postsearch_engine::{Engine, SearchRequest};
use postsearch_server::params;
use postsearch_store::index::PostIndex;
use postsearch_store::indexer::{Writer, WriterOptions};
use postsearch_store::ingest::{json, read_reader_jsonl, text, ReadItem, ReadOptions};
use postsearch_store::post::{Entity, Payload, Revision, Score};
use postsearch_store::Post;
use proptest::collection::{btree_set, vec};
use proptest::option;
use proptest::prelude::*;
use std::sync::OnceLock;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------
// Arbitrary input: never a panic.

/// Bytes that look a little like the inputs (so the parsers get past their
/// first checks) mixed with anything at all.
fn noisy_bytes() -> impl Strategy<Value = Vec<u8>> {
    let pieces = prop_oneof![
        vec(any::<u8>(), 0..16),
        Just(b"alphanode post meta\n".to_vec()),
        Just(b"Similar Posts\n".to_vec()),
        Just(b"payload\n  \xE2\x80\xA2 source id: x\n".to_vec()),
        Just(b"  \xE2\x80\xA2 ".to_vec()),
        Just(b"score\n  \xE2\x80\xA2 quality: 9\n".to_vec()),
        Just(b"{\"id\":\"a\",\"title\":\"t\"}".to_vec()),
        Just(b"[".to_vec()),
        Just(b"]".to_vec()),
        Just(b",".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\xEF\xBB\xBF".to_vec()),
        "\\PC{0,8}".prop_map(|s| s.into_bytes()),
    ];
    vec(pieces, 0..12).prop_map(|v| v.concat())
}

fn noisy_query() -> impl Strategy<Value = String> {
    let pieces = prop_oneof![
        "\\PC{0,6}",
        "[a-z]{1,10}",
        Just("\"".to_string()),
        Just("-".to_string()),
        Just(" ".to_string()),
        Just("quality:>=".to_string()),
        Just("views:10..".to_string()),
        Just("depth:..".to_string()),
        Just("stack:".to_string()),
        Just("title:".to_string()),
        Just("=".to_string()),
        Just("&".to_string()),
        Just("%".to_string()),
        Just("facet=stack:".to_string()),
        Just("q=".to_string()),
        Just("limit=".to_string()),
        Just("offset=".to_string()),
    ];
    vec(pieces, 0..12).prop_map(|v| v.concat())
}

/// A small in-RAM index for running queries.
fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let index = PostIndex::create_in_ram().unwrap();
        let mut w = Writer::new(&index, WriterOptions::one_thread()).unwrap();
        for (i, title) in [
            "fixing n+1 queries in django",
            "kubernetes rollout with helm",
            "rust lifetimes explained",
            "Ünïcödé 日本語 search",
        ]
        .iter()
        .enumerate()
        {
            let mut p = Post::new(format!("p{i}"), *title);
            p.body = Some(format!("{title} body text deployment"));
            p.stack = Some(vec!["python".into(), "rust".into()]);
            p.view_count = Some(i as u64 * 100);
            p.score = Some(Score {
                quality: Some(50 + i as u64 * 10),
                ..Score::default()
            });
            w.upsert(p).unwrap();
        }
        w.commit().unwrap();
        Engine::new(index, Default::default())
    })
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn text_parse_never_panics(bytes in noisy_bytes()) {
        if let Ok(post) = text::parse(&bytes, "p.txt") {
            prop_assert!(post.validate().is_ok());
        }
    }

    #[test]
    fn json_body_never_panics(bytes in noisy_bytes()) {
        json::parse_body(&bytes, "body", &ReadOptions::default(), &mut |item| {
            if let Ok(p) = item {
                assert!(p.post.validate().is_ok());
            }
        });
    }

    #[test]
    fn queries_never_panic(q in noisy_query(), prefix in any::<bool>(), typos in any::<bool>()) {
        let _ = postsearch_engine::query::parse(&q);
        let req = SearchRequest { q, prefix, typos, ..SearchRequest::default() };
        let _ = engine().search(&req);
    }

    #[test]
    fn http_params_never_panic(raw in noisy_query()) {
        let limits = Limits::default();
        let _ = params::search_request(&raw, &limits);
        let _ = params::limit_only(&raw, 5, &["q"], &limits);
    }
}

// ---------------------------------------------------------------------------
// Random valid posts.
//
// What the text form can carry constrains the generator (the JSON form
// carries anything, so JSONL would round-trip a wider set):
// - text values are single lines without leading/trailing whitespace (the
//   parser trims every line) and without `:` (`name: value` items split at
//   the first `: `); words come from an alphabet with Unicode letters but no
//   whitespace, `•`, `|` or `:`, so no line can read as a marker, a bullet
//   or a meta key;
// - a body is one or more paragraphs of one or more non-blank lines (an
//   empty body writes nothing and reads back absent);
// - `payload.source_id` is always the id (the text form keys a post by it)
//   and `payload` is always present (`to_text` always writes it);
// - `score` and `revision` have only their known parts, and there are no
//   unknown (`extra`) fields: the text form has no place for them;
// - flag names are snake_case (written with spaces, read back with `_`);
// - an entity has a non-empty name and type.

fn word() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9éüßøñçЖжλπ日本語東京+#./_()'\"\\-]{1,10}"
}

fn line() -> impl Strategy<Value = String> {
    vec(word(), 1..6).prop_map(|w| w.join(" "))
}

fn ident() -> impl Strategy<Value = String> {
    "[a-z]{1,6}(_[a-z]{1,6})?"
}

fn body() -> impl Strategy<Value = String> {
    vec(vec(line(), 1..4).prop_map(|l| l.join("\n")), 1..4).prop_map(|p| p.join("\n\n"))
}

fn score() -> impl Strategy<Value = Score> {
    (
        option::of(0u64..=100),
        option::of(0u64..=100),
        option::of(0u64..=100),
        option::of(any::<u64>()),
    )
        .prop_map(|(quality, freshness, depth, clarity)| Score {
            quality,
            freshness,
            depth,
            clarity,
            ..Score::default()
        })
}

fn revision() -> impl Strategy<Value = Revision> {
    (
        option::of(word()),
        option::of("[0-9]{1,2}\\.[0-9]{1,2}"),
        option::of("20[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])"),
    )
        .prop_map(|(status, version, last_reviewed)| Revision {
            status,
            version,
            last_reviewed,
            ..Revision::default()
        })
}

fn entity() -> impl Strategy<Value = Entity> {
    (line(), word()).prop_map(|(name, kind)| Entity {
        name,
        kind,
        ..Entity::default()
    })
}

fn payload_rest(
) -> impl Strategy<Value = (Option<String>, Option<u64>, Option<String>, Option<u64>)> {
    (
        option::of(word()),
        option::of(any::<u64>()),
        option::of(line()),
        option::of(any::<u64>()),
    )
}

/// A valid post whose id is `id`.
fn post_with_id(id: String) -> impl Strategy<Value = Post> {
    let texts = (
        line(),
        option::of(body()),
        option::of(line()),
        option::of(line()),
        option::of(line()),
        option::of(vec((ident(), line()), 0..4)),
    );
    let lists = (
        option::of(vec(line(), 0..4)),
        option::of(vec(word(), 0..4)),
        option::of(vec(line(), 0..4)),
        option::of(vec(line(), 0..3)),
        option::of(vec(entity(), 0..3)),
    );
    let scalars = (
        option::of(word()),
        option::of(prop_oneof![
            Just("beginner".to_string()),
            Just("intermediate".to_string()),
            Just("advanced".to_string()),
            word()
        ]),
        option::of(any::<u64>()),
        option::of(any::<u64>()),
        option::of(score()),
        option::of(revision()),
        option::of(word()),
        option::of("[0-9a-f]{16}"),
        option::of(vec((ident(), any::<bool>()), 0..4)),
    );
    (texts, lists, scalars, payload_rest()).prop_map(move |(t, l, s, pay)| {
        let mut p = Post::new(id.clone(), t.0);
        p.body = t.1;
        p.topic = t.2;
        p.summary = t.3;
        p.brief = t.4;
        p.outline = t.5.map(|v| v.into_iter().collect::<IndexMap<_, _>>());
        p.stack = l.0;
        p.tools = l.1;
        p.checklist = l.2;
        p.notes = l.3;
        p.entities = l.4;
        p.code_language = s.0;
        p.difficulty = s.1;
        p.reading_time = s.2;
        p.view_count = s.3;
        p.score = s.4;
        p.revision = s.5;
        p.reference = s.6;
        p.hash = s.7;
        p.flags = s.8.map(|v| v.into_iter().collect::<IndexMap<_, _>>());
        p.payload = Some(Payload {
            source_id: Some(id.clone()),
            generator: pay.0,
            paragraphs: pay.1,
            scenario: pay.2,
            seed: pay.3,
            ..Payload::default()
        });
        p
    })
}

/// `n` valid posts with unique ids.
fn posts(n: std::ops::Range<usize>) -> impl Strategy<Value = Vec<Post>> {
    btree_set("[a-z0-9][a-z0-9._-]{0,15}", n)
        .prop_flat_map(|ids| ids.into_iter().map(post_with_id).collect::<Vec<_>>())
}

fn read_jsonl(bytes: &[u8]) -> Vec<ReadItem> {
    let mut items = Vec::new();
    read_reader_jsonl(
        &mut &bytes[..],
        "p.jsonl",
        &ReadOptions::default(),
        &mut |i| items.push(i),
    );
    items
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn valid_posts_round_trip_through_jsonl(posts in posts(1..8)) {
        let file: String = posts.iter().map(|p| p.to_json_line() + "\n").collect();
        let back: Vec<Post> = read_jsonl(file.as_bytes())
            .into_iter()
            .map(|i| i.map(|s| s.post).map_err(|r| r.to_string()))
            .collect::<Result<_, _>>()
            .map_err(TestCaseError::fail)?;
        prop_assert_eq!(back, posts);
    }

    #[test]
    fn valid_posts_round_trip_through_the_text_form(posts in posts(1..4)) {
        for post in &posts {
            let written = text::to_text(post);
            let back = text::parse(written.as_bytes(), "p.txt")
                .map_err(|r| TestCaseError::fail(format!("{r}\n{written}")))?;
            prop_assert_eq!(&back, post, "{}", written);
        }
    }
}

// ---------------------------------------------------------------------------
// End to end: the real binary indexes, the real server answers.

proptest! {
    #![proptest_config(config(2))]

    #[test]
    fn indexed_posts_come_back_whole_from_the_server(
        posts in posts(40..50),
        bad_lines in vec(prop_oneof![
            Just("{\"id\":\"x\",\"title\":\"\"}".to_string()),
            Just("{\"title\":\"no id\"}".to_string()),
            Just("{not json".to_string()),
            Just("{\"id\":\"v\",\"title\":\"t\",\"view_count\":-1}".to_string()),
        ], 0..5),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("posts.jsonl");
        let mut lines: Vec<String> = posts.iter().map(Post::to_json_line).collect();
        // Bad lines spread through the file.
        for (i, bad) in bad_lines.iter().enumerate() {
            let at = (i * 7).min(lines.len());
            lines.insert(at, bad.clone());
        }
        std::fs::write(&file, lines.join("\n") + "\n").unwrap();
        let index = tempfile::tempdir().unwrap();
        let out = run(index.path(), &["index", "--json", file.to_str().unwrap()]);
        let code = out.status.code();
        let expected_code = if bad_lines.is_empty() { 0 } else { 2 };
        prop_assert_eq!(code, Some(expected_code), "{}", stderr(&out));
        let summary: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
        let added = summary["added"].as_u64().unwrap();
        let rejected = summary["rejected"].as_array().unwrap().len();
        prop_assert_eq!(added as usize, posts.len());
        prop_assert_eq!(rejected, bad_lines.len());
        prop_assert_eq!(added as usize + rejected, lines.len());

        let server = Server::start_on(index, &[]);
        for post in &posts {
            let (status, body) = get(&server.url(&format!("/api/posts/{}", post.id)));
            prop_assert_eq!(status, 200, "{}: {}", post.id, body);
            let back: Post = serde_json::from_value(body).unwrap();
            prop_assert_eq!(&back, post);
        }
        let (_, ready) = get(&server.url("/readyz"));
        prop_assert_eq!(ready["documents"].as_u64(), Some(posts.len() as u64));
    }
}
