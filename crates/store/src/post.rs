//! The post record: the one shape both input formats parse to (docs/FORMAT.md).
//!
//! Only `id` and `title` are required. Every other field is optional and is
//! left out of the JSON when absent, so a post round-trips as it came in.
//! Unknown fields are kept in `extra` and written back unchanged.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One technical post, as docs/FORMAT.md describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Post {
    /// Unique key; in the text form it is `payload.source id`.
    pub id: String,
    /// Required, non-empty.
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// `"<problem> / <stack>"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outline: Option<IndexMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brief: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub difficulty: Option<String>,
    /// Minutes.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "whole_number"
    )]
    pub reading_time: Option<u64>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "whole_number"
    )]
    pub view_count: Option<u64>,
    /// The meta score inputs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<Score>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<Revision>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// Content hash: two posts with the same hash are exact duplicates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flags: Option<IndexMap<String, bool>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checklist: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entities: Option<Vec<Entity>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<Payload>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<Vec<String>>,
    /// Fields this version does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The four parts of a post's meta score, each an integer 0–100.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Score {
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "whole_number"
    )]
    pub quality: Option<u64>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "whole_number"
    )]
    pub freshness: Option<u64>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "whole_number"
    )]
    pub depth: Option<u64>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "whole_number"
    )]
    pub clarity: Option<u64>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Editorial state of a post.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Revision {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// ISO date, `YYYY-MM-DD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_reviewed: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A named entity mentioned by the post (`{name, type}`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Entity {
    #[serde(default)]
    pub name: String,
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Where the post came from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Payload {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "whole_number"
    )]
    pub paragraphs: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenario: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "whole_number"
    )]
    pub seed: Option<u64>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Post {
    /// The top-level keys of a post's JSON, in serialization order
    /// (unknown keys in `extra` come after them).
    pub const KEYS: [&'static str; 22] = [
        "id",
        "title",
        "body",
        "topic",
        "summary",
        "outline",
        "brief",
        "stack",
        "tools",
        "code_language",
        "difficulty",
        "reading_time",
        "view_count",
        "score",
        "revision",
        "reference",
        "hash",
        "flags",
        "checklist",
        "entities",
        "payload",
        "notes",
    ];

    /// A post with only the required fields set.
    pub fn new(id: impl Into<String>, title: impl Into<String>) -> Post {
        Post {
            id: id.into(),
            title: title.into(),
            body: None,
            topic: None,
            summary: None,
            outline: None,
            brief: None,
            stack: None,
            tools: None,
            code_language: None,
            difficulty: None,
            reading_time: None,
            view_count: None,
            score: None,
            revision: None,
            reference: None,
            hash: None,
            flags: None,
            checklist: None,
            entities: None,
            payload: None,
            notes: None,
            extra: Map::new(),
        }
    }

    /// Checks the invariants serde cannot: a non-blank id and title.
    pub fn validate(&self) -> Result<(), String> {
        if self.id.trim().is_empty() {
            return Err("post has no id".into());
        }
        if self.title.trim().is_empty() {
            return Err("post has no title".into());
        }
        if self.id.len() > 512 {
            return Err(format!("id is {} bytes long (limit 512)", self.id.len()));
        }
        Ok(())
    }

    /// The problem the post addresses: `outline.problem`, else the part of
    /// `topic` before ` / `.
    pub fn problem(&self) -> Option<&str> {
        if let Some(p) = self.outline.as_ref().and_then(|o| o.get("problem")) {
            return Some(p.as_str());
        }
        self.topic
            .as_deref()
            .map(|t| t.split(" / ").next().unwrap_or(t).trim())
            .filter(|p| !p.is_empty())
    }

    /// The texts of the full-text fields: title, summary, topic, brief,
    /// body and checklist items, those present.
    pub fn texts(&self) -> impl Iterator<Item = &str> {
        let fields = [&self.summary, &self.topic, &self.brief, &self.body];
        std::iter::once(self.title.as_str())
            .chain(fields.into_iter().flatten().map(String::as_str))
            .chain(self.checklist.iter().flatten().map(String::as_str))
    }

    /// The post as one line of JSON (the docs/FORMAT.md schema).
    pub fn to_json_line(&self) -> String {
        // Sized for the post at once: grown from serde_json's 128 bytes by
        // doubling, a real post's ~2 KB took five reallocations and copies.
        let mut out = Vec::with_capacity(self.json_size_hint());
        serde_json::to_writer(&mut out, self).expect("a Post always serializes");
        // SAFETY: serde_json's serializer writes only valid UTF-8 (its own
        // `to_string` takes the bytes unchecked the same way).
        unsafe { String::from_utf8_unchecked(out) }
    }

    /// About the length of the post's JSON line: its texts, an eighth
    /// more for escapes, and room for the keys and the other values.
    fn json_size_hint(&self) -> usize {
        let texts: usize = [&self.body, &self.summary, &self.topic, &self.brief]
            .into_iter()
            .flatten()
            .map(String::len)
            .sum::<usize>()
            + self.title.len();
        texts + texts / 8 + 512
    }
}

/// A whole number of a post (a count, a score part), also when it is
/// written with a fraction of zero (`12.0`): JSON Schema's `integer`, and
/// what JSON from some languages looks like. A real fraction, a negative
/// number or text is an error.
fn whole_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    use serde::de::{Error, Unexpected, Visitor};
    struct Whole;
    impl<'de> Visitor<'de> for Whole {
        type Value = Option<u64>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("u64")
        }
        fn visit_u64<E: Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_i64<E: Error>(self, v: i64) -> Result<Self::Value, E> {
            u64::try_from(v)
                .map(Some)
                .map_err(|_| E::invalid_value(Unexpected::Signed(v), &self))
        }
        fn visit_f64<E: Error>(self, v: f64) -> Result<Self::Value, E> {
            if v.fract() == 0.0 && (0.0..18_446_744_073_709_551_616.0).contains(&v) {
                Ok(Some(v as u64))
            } else {
                Err(E::invalid_value(Unexpected::Float(v), &self))
            }
        }
        fn visit_none<E: Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D2: serde::Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_any(Whole)
        }
    }
    d.deserialize_option(Whole)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_optional_fields_stay_absent() {
        let p: Post = serde_json::from_str(r#"{"id":"a","title":"t"}"#).unwrap();
        assert_eq!(p.to_json_line(), r#"{"id":"a","title":"t"}"#);
    }

    #[test]
    fn the_json_line_is_serde_jsons_whatever_its_size() {
        // Posts whose JSON fits the size hint, outgrows it (escapes, and a
        // long tools list the hint does not count) or is mostly multi-byte
        // text.
        let mut posts: Vec<Post> = (0..20).map(|n| crate::generated_post(3, n)).collect();
        let mut escaped = Post::new("e", "quotes \"and\" \\ slashes");
        escaped.body = Some("\n\t\u{1}\"".repeat(500));
        escaped.tools = Some((0..400).map(|i| format!("tool-{i}")).collect());
        posts.push(escaped);
        let mut unicode = Post::new("u", "déploiement");
        unicode.summary = Some("развертывание 🚀 ".repeat(100));
        posts.push(unicode);
        for p in &posts {
            let line = p.to_json_line();
            assert_eq!(line, serde_json::to_string(p).unwrap());
            assert_eq!(&serde_json::from_str::<Post>(&line).unwrap(), p);
        }
    }

    #[test]
    fn unknown_fields_are_kept() {
        let src = r#"{"id":"a","title":"t","score":{"quality":3,"zeal":9},"lang":"en"}"#;
        let p: Post = serde_json::from_str(src).unwrap();
        let back: Value = serde_json::from_str(&p.to_json_line()).unwrap();
        let orig: Value = serde_json::from_str(src).unwrap();
        assert_eq!(back, orig);
    }

    #[test]
    fn problem_prefers_outline_then_topic() {
        let mut p = Post::new("a", "t");
        p.topic = Some("n+1 queries / django".into());
        assert_eq!(p.problem(), Some("n+1 queries"));
        p.outline = Some(IndexMap::from([("problem".into(), "slow builds".into())]));
        assert_eq!(p.problem(), Some("slow builds"));
    }

    #[test]
    fn blank_id_or_title_is_invalid() {
        assert!(Post::new(" ", "t").validate().is_err());
        assert!(Post::new("a", "").validate().is_err());
        assert!(Post::new("a", "t").validate().is_ok());
    }

    #[test]
    fn whole_numbers_may_be_written_with_a_zero_fraction() {
        let p: Post = serde_json::from_str(
            r#"{"id":"a","title":"t","view_count":12.0,"reading_time":null,"score":{"quality":80.0}}"#,
        )
        .unwrap();
        assert_eq!(p.view_count, Some(12));
        assert_eq!(p.reading_time, None);
        assert_eq!(p.score.unwrap().quality, Some(80));
        for bad in [r#"1.5"#, "-1", r#""x""#, "1e30"] {
            let json = format!(r#"{{"id":"a","title":"t","view_count":{bad}}}"#);
            assert!(serde_json::from_str::<Post>(&json).is_err(), "{bad}");
        }
    }
}
