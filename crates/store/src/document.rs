//! The tantivy document of a post: the post itself, its texts handed to the
//! indexer where they lie instead of being copied into a `TantivyDocument`.
//!
//! tantivy indexes any type that implements its `Document` trait. Copying a
//! ~4 KB post into a `TantivyDocument` (twice over: once for the fields, once
//! for the vocabulary) cost ~8% of indexing, half of it page faults on the
//! copies' fresh memory.

use crate::analysis;
use crate::in_flight::Ticket;
use crate::meta::MetaInputs;
use crate::post::Post;
use crate::schema::Fields;
use crate::values::{facet_value, parse_iso_date};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tantivy::schema::document::{Document, ReferenceValue, ReferenceValueLeaf, Value};
use tantivy::schema::Field;
use tantivy::DateTime;

/// A post ready to index: the post, its JSON as stored, and the values
/// derived from it.
#[derive(Debug)]
pub struct PostDocument {
    fields: Arc<Fields>,
    /// Boxed: tantivy's document channel holds 10,000 batches of four
    /// documents, each slot as large as four documents; with the post
    /// inline (1 KB) that was 47 MB, zeroed by the kernel at every commit
    /// and copied on every send.
    post: Box<Post>,
    json: String,
    fingerprint: u64,
    meta_inputs: u64,
    /// Facet values, normalized (see [`facet_value`]).
    facets: Vec<(Field, String)>,
    last_reviewed: Option<DateTime>,
    /// Whether the recording of this document's vocabulary has begun.
    vocabulary_begun: AtomicBool,
    /// Counts the document out of the writer's documents in flight when
    /// tantivy drops it, indexed.
    in_flight: Option<Ticket>,
}

impl PostDocument {
    /// The document of `post`, whose stored JSON is `json`.
    pub fn new(fields: Arc<Fields>, post: Post, json: String, fingerprint: u64) -> PostDocument {
        let mut facets = Vec::new();
        let mut facet = |field: Field, value: &str| {
            let v = facet_value(value);
            if !v.is_empty() {
                facets.push((field, v));
            }
        };
        for (field, values) in [(fields.stack, &post.stack), (fields.tools, &post.tools)] {
            for v in values.iter().flatten() {
                facet(field, v);
            }
        }
        if let Some(v) = &post.difficulty {
            facet(fields.difficulty, v);
        }
        if let Some(v) = &post.code_language {
            facet(fields.code_language, v);
        }
        if let Some(p) = post.problem() {
            facet(fields.problem, p);
        }
        let last_reviewed = post
            .revision
            .as_ref()
            .and_then(|r| r.last_reviewed.as_deref())
            .and_then(parse_iso_date);
        PostDocument {
            meta_inputs: MetaInputs::of(&post).pack(),
            fields,
            post: Box::new(post),
            json,
            fingerprint,
            facets,
            last_reviewed,
            vocabulary_begun: AtomicBool::new(false),
            in_flight: None,
        }
    }

    /// The document, counted in flight until it is dropped.
    pub fn in_flight(mut self, ticket: Ticket) -> PostDocument {
        self.in_flight = Some(ticket);
        self
    }

    /// The post's stack and tool names: words of its vocabulary.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        [&self.post.stack, &self.post.tools]
            .into_iter()
            .flatten()
            .flatten()
            .map(String::as_str)
    }

    /// Every (field, value) pair of the document, in the order tantivy
    /// indexes them within a field (a field's values keep this order).
    /// The first call is the inverted index's, on the indexing thread, which
    /// analyzes the texts next: it starts recording the document's
    /// vocabulary, which the vocabulary plugin takes after (tantivy's fast
    /// field and store writers call again in between).
    fn values(&self) -> Vec<(Field, PostValue<'_>)> {
        if !self.vocabulary_begun.swap(true, Ordering::Relaxed) {
            analysis::begin_document_vocabulary();
        }
        let f = &*self.fields;
        let p = &self.post;
        let mut out = Vec::with_capacity(32);
        out.push((f.id, PostValue::Str(&p.id)));
        out.push((f.title, PostValue::Str(&p.title)));
        for (field, value) in [
            (f.summary, &p.summary),
            (f.topic, &p.topic),
            (f.brief, &p.brief),
            (f.body, &p.body),
        ] {
            if let Some(v) = value {
                out.push((field, PostValue::Str(v)));
            }
        }
        for item in p.checklist.iter().flatten() {
            out.push((f.checklist, PostValue::Str(item)));
        }
        for (field, v) in &self.facets {
            out.push((*field, PostValue::Str(v)));
        }
        if let Some(h) = &p.hash {
            out.push((f.hash, PostValue::Str(h)));
        }
        out.push((f.meta_inputs, PostValue::U64(self.meta_inputs)));
        if let Some(score) = &p.score {
            for (field, v) in [
                (f.quality, score.quality),
                (f.freshness, score.freshness),
                (f.depth, score.depth),
                (f.clarity, score.clarity),
            ] {
                if let Some(v) = v {
                    out.push((field, PostValue::U64(v)));
                }
            }
        }
        if let Some(v) = p.view_count {
            out.push((f.view_count, PostValue::U64(v)));
        }
        if let Some(v) = p.reading_time {
            out.push((f.reading_time, PostValue::U64(v)));
        }
        if let Some(d) = self.last_reviewed {
            out.push((f.last_reviewed, PostValue::Date(d)));
        }
        out.push((f.fingerprint, PostValue::U64(self.fingerprint)));
        out.push((f.source, PostValue::Str(&self.json)));
        out
    }
}

impl Document for PostDocument {
    type Value<'a> = PostValue<'a>;
    type FieldsValuesIter<'a> = std::vec::IntoIter<(Field, PostValue<'a>)>;

    fn iter_fields_and_values(&self) -> Self::FieldsValuesIter<'_> {
        self.values().into_iter()
    }
}

/// One value of a [`PostDocument`], borrowed from it.
#[derive(Debug, Clone, Copy)]
pub enum PostValue<'a> {
    Str(&'a str),
    U64(u64),
    Date(DateTime),
}

impl<'a> Value<'a> for PostValue<'a> {
    type ArrayIter = std::iter::Empty<PostValue<'a>>;
    type ObjectIter = std::iter::Empty<(&'a str, PostValue<'a>)>;

    #[inline]
    fn as_value(&self) -> ReferenceValue<'a, Self> {
        ReferenceValue::Leaf(match *self {
            PostValue::Str(s) => ReferenceValueLeaf::Str(s),
            PostValue::U64(v) => ReferenceValueLeaf::U64(v),
            PostValue::Date(d) => ReferenceValueLeaf::Date(d),
        })
    }
}
