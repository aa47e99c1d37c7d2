//! The tantivy schema of the post index and typed handles to its fields.

use crate::analysis::TEXT_ANALYZER;
use tantivy::schema::{
    DateOptions, Field, IndexRecordOption, NumericOptions, Schema, TextFieldIndexing, TextOptions,
    FAST, STORED, STRING,
};

/// The full-text fields, in the order they are searched, with their default
/// BM25 boosts (the title counts most).
pub const TEXT_FIELDS: [(&str, f32); 6] = [
    ("title", 1.5),
    ("summary", 1.5),
    ("topic", 1.5),
    ("brief", 1.0),
    ("checklist", 1.0),
    ("body", 1.0),
];

/// Facet fields with string values: counted and filterable.
pub const FACET_FIELDS: [&str; 4] = ["stack", "tools", "difficulty", "code_language"];

/// The four score parts: numeric facets (range buckets) and meta-score inputs.
pub const SCORE_FIELDS: [&str; 4] = ["quality", "freshness", "depth", "clarity"];

/// Other numeric fast fields that queries can compare (`views:>1000`).
pub const NUMERIC_FIELDS: [&str; 6] = [
    "quality",
    "freshness",
    "depth",
    "clarity",
    "view_count",
    "reading_time",
];

/// Handles to every field of the post schema.
#[derive(Debug, Clone)]
pub struct Fields {
    pub id: Field,
    pub title: Field,
    pub summary: Field,
    pub topic: Field,
    pub brief: Field,
    pub checklist: Field,
    pub body: Field,
    pub stack: Field,
    pub tools: Field,
    pub difficulty: Field,
    pub code_language: Field,
    /// The post's problem (`outline.problem` or the topic's first part).
    pub problem: Field,
    pub hash: Field,
    pub quality: Field,
    pub freshness: Field,
    pub depth: Field,
    pub clarity: Field,
    pub view_count: Field,
    pub reading_time: Field,
    pub last_reviewed: Field,
    /// The meta-score inputs of a post packed in one value (score parts
    /// and popularity; see `ranking::MetaInputs`): one read per match.
    pub meta_inputs: Field,
    /// xxh3 of the post's JSON: tells an unchanged re-import from a change.
    pub fingerprint: Field,
    /// The whole post as JSON, returned as it came in.
    pub source: Field,
}

/// Builds the schema of a new index.
pub fn build_schema() -> Schema {
    let mut b = Schema::builder();
    let text = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(TEXT_ANALYZER)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    let numeric = NumericOptions::default().set_indexed().set_fast();
    b.add_text_field("id", STRING | FAST);
    for (name, _) in TEXT_FIELDS {
        b.add_text_field(name, text.clone());
    }
    for name in FACET_FIELDS {
        b.add_text_field(name, STRING | FAST);
    }
    b.add_text_field("problem", STRING | FAST);
    b.add_text_field("hash", STRING | FAST);
    for name in NUMERIC_FIELDS {
        b.add_u64_field(name, numeric.clone());
    }
    b.add_date_field(
        "last_reviewed",
        DateOptions::default().set_indexed().set_fast(),
    );
    b.add_u64_field("meta_inputs", FAST);
    b.add_u64_field("fingerprint", FAST);
    // The whole post as JSON text: stored as a string, which tantivy reads
    // back in one copy (stored bytes are read a byte at a time).
    b.add_text_field("post_json", STORED);
    b.build()
}

impl Fields {
    /// Resolves the handles in `schema`; fails if the index was built by an
    /// incompatible version.
    pub fn new(schema: &Schema) -> tantivy::Result<Fields> {
        let f = |name: &str| schema.get_field(name);
        Ok(Fields {
            id: f("id")?,
            title: f("title")?,
            summary: f("summary")?,
            topic: f("topic")?,
            brief: f("brief")?,
            checklist: f("checklist")?,
            body: f("body")?,
            stack: f("stack")?,
            tools: f("tools")?,
            difficulty: f("difficulty")?,
            code_language: f("code_language")?,
            problem: f("problem")?,
            hash: f("hash")?,
            quality: f("quality")?,
            freshness: f("freshness")?,
            depth: f("depth")?,
            clarity: f("clarity")?,
            view_count: f("view_count")?,
            reading_time: f("reading_time")?,
            last_reviewed: f("last_reviewed")?,
            meta_inputs: f("meta_inputs")?,
            fingerprint: f("fingerprint")?,
            source: f("post_json")?,
        })
    }

    /// The full-text fields with their boosts.
    pub fn text_fields(&self) -> [(Field, f32); 6] {
        [
            (self.title, TEXT_FIELDS[0].1),
            (self.summary, TEXT_FIELDS[1].1),
            (self.topic, TEXT_FIELDS[2].1),
            (self.brief, TEXT_FIELDS[3].1),
            (self.checklist, TEXT_FIELDS[4].1),
            (self.body, TEXT_FIELDS[5].1),
        ]
    }

    /// The handle of a string facet field by name.
    pub fn facet(&self, name: &str) -> Option<Field> {
        match name {
            "stack" => Some(self.stack),
            "tools" => Some(self.tools),
            "difficulty" => Some(self.difficulty),
            "code_language" => Some(self.code_language),
            _ => None,
        }
    }

    /// The handle of a numeric field by name.
    pub fn numeric(&self, name: &str) -> Option<Field> {
        match name {
            "quality" => Some(self.quality),
            "freshness" => Some(self.freshness),
            "depth" => Some(self.depth),
            "clarity" => Some(self.clarity),
            "view_count" | "views" => Some(self.view_count),
            "reading_time" => Some(self.reading_time),
            _ => None,
        }
    }
}
