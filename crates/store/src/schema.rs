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
///
/// The numeric and date fields, `hash` and `problem` are columns only:
/// range filters, sorts, numeric facets, duplicates and similar posts read
/// their columns, and nothing looks their values up in the term index.
/// Indexing them there as well cost ~8% of `index`'s CPU time on real
/// writing (a term per post and field, `view_count`'s and `hash`'s nearly
/// all distinct, each with its own postings and dictionary entry) and 40%
/// of the term dictionaries' bytes (docs/performance.md).
pub fn build_schema() -> Schema {
    schema_of(Values::ColumnsOnly)
}

/// The schema of indexes built before the values above became columns
/// only: the same fields, those values in the term index as well. Such an
/// index is opened, searched and written to as it is (its new segments
/// keep its schema); `index --rebuild` brings it to [`build_schema`].
pub fn schema_with_indexed_values() -> Schema {
    schema_of(Values::AlsoIndexed)
}

/// Whether an index of `schema` is one this version reads and writes.
pub fn is_known(schema: &Schema) -> bool {
    *schema == build_schema() || *schema == schema_with_indexed_values()
}

/// Where the numeric, date, `hash` and `problem` values go.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Values {
    ColumnsOnly,
    AlsoIndexed,
}

fn schema_of(values: Values) -> Schema {
    let indexed = values == Values::AlsoIndexed;
    let mut b = Schema::builder();
    let text = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(TEXT_ANALYZER)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    let column_string = if indexed { STRING | FAST } else { FAST.into() };
    let mut numeric = NumericOptions::default().set_fast();
    let mut date = DateOptions::default().set_fast();
    if indexed {
        numeric = numeric.set_indexed();
        date = date.set_indexed();
    }
    b.add_text_field("id", STRING | FAST);
    for (name, _) in TEXT_FIELDS {
        b.add_text_field(name, text.clone());
    }
    for name in FACET_FIELDS {
        b.add_text_field(name, STRING | FAST);
    }
    b.add_text_field("problem", column_string.clone());
    b.add_text_field("hash", column_string);
    for name in NUMERIC_FIELDS {
        b.add_u64_field(name, numeric.clone());
    }
    b.add_date_field("last_reviewed", date);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether only columns hold `name`'s values in new indexes.
    fn columns_only(name: &str) -> bool {
        NUMERIC_FIELDS.contains(&name) || ["last_reviewed", "hash", "problem"].contains(&name)
    }

    #[test]
    fn values_read_from_columns_are_not_in_the_term_index_of_new_indexes() {
        let (new, old) = (build_schema(), schema_with_indexed_values());
        assert_eq!(new.num_fields(), old.num_fields());
        for ((field, entry), (_, before)) in new.fields().zip(old.fields()) {
            assert_eq!(entry.name(), before.name());
            assert!(entry.is_fast() == before.is_fast(), "{}", entry.name());
            if columns_only(entry.name()) {
                assert!(entry.is_fast(), "{}", entry.name());
                assert!(
                    !entry.is_indexed() && before.is_indexed(),
                    "{}",
                    entry.name()
                );
            } else {
                assert_eq!(entry, before, "{}", entry.name());
            }
            assert_eq!(new.get_field_name(field), entry.name());
        }
        assert!(is_known(&new) && is_known(&old));
        let mut another = Schema::builder();
        another.add_text_field("title", crate::schema::STRING);
        assert!(!is_known(&another.build()));
    }
}
