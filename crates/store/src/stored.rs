//! A post as the index stores it: its JSON text, with the position of each
//! top-level field found in one pass. Answers that show a few fields
//! decode only those; answers that show whole documents copy the stored
//! text as it is, without building a [`Post`] or a JSON tree.

use crate::post::{Post, Revision, Score};
use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

/// The stored JSON of one post and where each top-level field's value is.
#[derive(Debug, Clone)]
pub struct StoredPost {
    json: String,
    fields: Vec<(Cow<'static, str>, Range<usize>)>,
}

/// A top-level object read as (key, raw value) pairs.
struct Entries<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de> Deserialize<'de> for Entries<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Key<'a>(Cow<'a, str>);
        impl<'de> Deserialize<'de> for Key<'de> {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct KeyVisitor;
                impl<'de> Visitor<'de> for KeyVisitor {
                    type Value = Key<'de>;
                    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                        f.write_str("a field name")
                    }
                    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                        Ok(Key(Cow::Borrowed(v)))
                    }
                    fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                        Ok(Key(Cow::Owned(v.to_string())))
                    }
                }
                d.deserialize_str(KeyVisitor)
            }
        }
        struct EntriesVisitor;
        impl<'de> Visitor<'de> for EntriesVisitor {
            type Value = Entries<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a post object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries<'de>, A::Error> {
                let mut out = Vec::with_capacity(Post::KEYS.len());
                while let Some(Key(k)) = map.next_key()? {
                    let v: &'de RawValue = map.next_value()?;
                    out.push((k, v));
                }
                Ok(Entries(out))
            }
        }
        d.deserialize_map(EntriesVisitor)
    }
}

impl StoredPost {
    /// Finds the top-level fields of a stored post's JSON.
    pub fn parse(json: String) -> serde_json::Result<StoredPost> {
        let Entries(entries) = serde_json::from_str(&json)?;
        let base = json.as_ptr() as usize;
        let fields = entries
            .into_iter()
            .map(|(k, v)| {
                // Stored under a post's own key names, keys need no copy.
                let start = v.get().as_ptr() as usize - base;
                let key = match Post::KEYS.iter().find(|known| **known == k) {
                    Some(known) => Cow::Borrowed(*known),
                    None => Cow::Owned(k.into_owned()),
                };
                (key, start..start + v.get().len())
            })
            .collect();
        Ok(StoredPost { json, fields })
    }

    /// The whole stored JSON object.
    pub fn json(&self) -> &str {
        &self.json
    }

    /// The top-level fields in stored order: name and raw JSON value.
    pub fn fields(&self) -> impl Iterator<Item = (&str, &str)> {
        self.fields
            .iter()
            .map(|(k, r)| (k.as_ref(), &self.json[r.clone()]))
    }

    /// The raw JSON value of the field `name`.
    pub fn raw(&self, name: &str) -> Option<&str> {
        self.field(name).map(|(_, raw)| raw)
    }

    /// The field `name`: its stored name and raw JSON value.
    pub fn field(&self, name: &str) -> Option<(&str, &str)> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(k, r)| (k.as_ref(), &self.json[r.clone()]))
    }

    /// The field `name` decoded; `None` when absent or `null`.
    pub fn decode<'a, T: Deserialize<'a>>(&'a self, name: &str) -> serde_json::Result<Option<T>> {
        match self.raw(name) {
            Some(raw) => serde_json::from_str::<Option<T>>(raw),
            None => Ok(None),
        }
    }

    /// The whole post.
    pub fn post(&self) -> serde_json::Result<Post> {
        serde_json::from_str(&self.json)
    }

    /// The fields a search hit shows: id, title, facets, view count,
    /// topic, score parts and review date; with `text` also the body and
    /// summary (for snippets). Other fields stay undecoded.
    pub fn hit_post(&self, text: bool) -> serde_json::Result<Post> {
        let text_field = |name: &str| match text {
            true => self.decode::<String>(name),
            false => Ok(None),
        };
        let id: Option<String> = self.decode("id")?;
        let title: Option<String> = self.decode("title")?;
        Ok(HitFields {
            id,
            title,
            body: text_field("body")?,
            summary: text_field("summary")?,
            topic: self.decode("topic")?,
            stack: self.decode("stack")?,
            tools: self.decode("tools")?,
            code_language: self.decode("code_language")?,
            difficulty: self.decode("difficulty")?,
            view_count: self.decode("view_count")?,
            score: self.decode("score")?,
            revision: self.decode("revision")?,
        }
        .into_post())
    }
}

/// [`StoredPost::hit_post`] of the stored JSON `json`, read in one pass:
/// each field a hit shows decoded as it is met, the others skipped, where
/// locating the fields first and decoding them after reads a post's body
/// twice (a search answer does this for each of its hits). A stored JSON
/// that this does not read (a key written twice) is read as a
/// [`StoredPost`], whose fields are the first of each key.
pub fn hit_post_of(json: String, text: bool) -> serde_json::Result<Post> {
    let read = match text {
        true => serde_json::from_str::<HitFields<String>>(&json).map(HitFields::into_post),
        false => serde_json::from_str::<HitFields<IgnoredAny>>(&json).map(HitFields::into_post),
    };
    match read {
        Ok(post) => Ok(post),
        Err(_) => StoredPost::parse(json)?.hit_post(text),
    }
}

/// The fields of a hit as the stored JSON has them; `T` is `String` for
/// the body and summary when they are shown, `IgnoredAny` when skipped.
#[derive(serde::Deserialize)]
struct HitFields<T> {
    id: Option<String>,
    title: Option<String>,
    body: Option<T>,
    summary: Option<T>,
    topic: Option<String>,
    stack: Option<Vec<String>>,
    tools: Option<Vec<String>>,
    code_language: Option<String>,
    difficulty: Option<String>,
    view_count: Option<u64>,
    score: Option<Parts>,
    revision: Option<Reviewed>,
}

/// The score parts a hit shows.
#[derive(serde::Deserialize)]
struct Parts {
    quality: Option<u64>,
    freshness: Option<u64>,
    depth: Option<u64>,
    clarity: Option<u64>,
}

/// The review date a hit shows.
#[derive(serde::Deserialize)]
struct Reviewed {
    last_reviewed: Option<String>,
}

/// A text field as a hit holds it: `Some` when decoded.
trait HitText {
    fn into_text(self) -> Option<String>;
}

impl HitText for String {
    fn into_text(self) -> Option<String> {
        Some(self)
    }
}

impl HitText for IgnoredAny {
    fn into_text(self) -> Option<String> {
        None
    }
}

impl<T: HitText> HitFields<T> {
    fn into_post(self) -> Post {
        Post {
            body: self.body.and_then(HitText::into_text),
            summary: self.summary.and_then(HitText::into_text),
            topic: self.topic,
            stack: self.stack,
            tools: self.tools,
            code_language: self.code_language,
            difficulty: self.difficulty,
            view_count: self.view_count,
            score: self.score.map(|p| Score {
                quality: p.quality,
                freshness: p.freshness,
                depth: p.depth,
                clarity: p.clarity,
                ..Score::default()
            }),
            revision: self.revision.map(|r| Revision {
                last_reviewed: r.last_reviewed,
                ..Revision::default()
            }),
            ..Post::new(self.id.unwrap_or_default(), self.title.unwrap_or_default())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_found_and_decoded() {
        let json = r#"{"id":"a\"1","title":"T","body":"line\none","stack":["rust","go"],"score":{"quality":90,"x":[1,{"y":2}]},"weird \"key\"":{"n":null},"revision":{"status":"ok","last_reviewed":"2025-01-02"}}"#;
        let s = StoredPost::parse(json.to_string()).unwrap();
        let names: Vec<&str> = s.fields().map(|(k, _)| k).collect();
        assert_eq!(
            names,
            [
                "id",
                "title",
                "body",
                "stack",
                "score",
                "weird \"key\"",
                "revision"
            ]
        );
        assert_eq!(s.raw("stack"), Some(r#"["rust","go"]"#));
        assert_eq!(s.raw("weird \"key\""), Some(r#"{"n":null}"#));
        let hit = s.hit_post(true).unwrap();
        assert_eq!(hit.id, "a\"1");
        assert_eq!(hit.body.as_deref(), Some("line\none"));
        assert_eq!(hit.score.unwrap().quality, Some(90));
        assert_eq!(
            hit.revision.unwrap().last_reviewed.as_deref(),
            Some("2025-01-02")
        );
        assert_eq!(s.hit_post(false).unwrap().body, None);
        assert_eq!(s.post().unwrap().id, "a\"1");
    }

    #[test]
    fn a_hit_read_in_one_pass_is_the_hit_read_through_the_located_fields() {
        let seed = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/seed/000_8e5299e8999edf12.expected.json"
        ))
        .unwrap();
        let mut jsons: Vec<String> = (0..40)
            .map(|n| crate::generated_post(11, n).to_json_line())
            .collect();
        jsons.push(serde_json::from_str::<Post>(&seed).unwrap().to_json_line());
        let written = jsons.len();
        jsons.extend(
            [
                // Escapes in keys and values, unknown fields, nulls, a body
                // missing (the summary shown instead), nested unknowns.
                r#"{"id":"a\"1","title":"T\u00e9","b\u006fdy":"line\none \"q\"","stack":["rust","go"],"score":{"quality":90,"x":[1,{"y":2}]},"weird \"key\"":{"n":null},"revision":{"status":"ok","last_reviewed":"2025-01-02"}}"#,
                r#"{"id":"b","title":"T","body":null,"summary":"s","topic":null,"tools":[],"view_count":7,"revision":{}}"#,
                r#"{"title":"no id","summary":"only","extra":{"body":"not this one"}}"#,
                // A key written twice: the first counts, as located.
                r#"{"id":"c","title":"first","body":"one","title":"second","body":"two"}"#,
            ]
            .map(String::from),
        );
        for json in &jsons[..written] {
            // The posts the index writes are read in one pass, not again
            // through the located fields.
            assert!(serde_json::from_str::<HitFields<String>>(json).is_ok());
            assert!(serde_json::from_str::<HitFields<IgnoredAny>>(json).is_ok());
        }
        for json in jsons {
            for text in [true, false] {
                let located = StoredPost::parse(json.clone())
                    .unwrap()
                    .hit_post(text)
                    .unwrap();
                let one_pass = hit_post_of(json.clone(), text).unwrap();
                assert_eq!(one_pass, located, "{json} (text: {text})");
            }
        }
        let twice = hit_post_of(
            r#"{"id":"c","title":"first","body":"one","title":"second"}"#.into(),
            true,
        )
        .unwrap();
        assert_eq!(
            (twice.title.as_str(), twice.body.as_deref()),
            ("first", Some("one"))
        );
        // A value of the wrong type is an error either way.
        for bad in [r#"{"id":"d","title":"T","view_count":"many"}"#, r#"{"id":"#] {
            assert!(hit_post_of(bad.into(), true).is_err(), "{bad}");
            assert!(StoredPost::parse(bad.into())
                .and_then(|s| s.hit_post(true))
                .is_err());
        }
    }

    #[test]
    fn a_stored_post_round_trips_through_its_fields() {
        let post = crate::generated_post(7, 3);
        let s = StoredPost::parse(serde_json::to_string(&post).unwrap()).unwrap();
        let rebuilt = format!(
            "{{{}}}",
            s.fields()
                .map(|(k, v)| format!("{}:{v}", serde_json::to_string(k).unwrap()))
                .collect::<Vec<_>>()
                .join(",")
        );
        assert_eq!(serde_json::from_str::<Post>(&rebuilt).unwrap(), post);
        let hit = s.hit_post(true).unwrap();
        assert_eq!((hit.body, hit.stack), (post.body, post.stack));
    }
}
