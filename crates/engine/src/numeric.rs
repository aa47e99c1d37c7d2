//! Value counts of numeric fields over the matches of a search (what a
//! Meilisearch `facetDistribution` / `facetStats` of a numeric attribute
//! needs): the same query as [`Engine::search`], with the facet selections
//! applied as filters, counted by a small collector over the fast fields.

use super::build::{build, Combine, Context, Expansion};
use super::{Engine, SearchRequest};
use postsearch_store::error::{Error, Result};
use postsearch_store::schema::NUMERIC_FIELDS;
use std::collections::BTreeMap;
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::Column;
use tantivy::query::{BooleanQuery, Occur, Query, TermQuery};
use tantivy::schema::IndexRecordOption;
use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader, Term};

/// Field → value → number of matches with that value.
pub type NumericCounts = BTreeMap<String, BTreeMap<u64, u64>>;

impl Engine {
    /// Counts the values of the numeric `fields` over the matches of `req`
    /// (its facet selections included). `relaxed` repeats the any-word
    /// fallback that [`Engine::search`] reported for the same request.
    pub fn numeric_counts(
        &self,
        req: &SearchRequest,
        relaxed: bool,
        fields: &[&str],
    ) -> Result<NumericCounts> {
        let _busy = self.busy();
        for f in fields {
            if !NUMERIC_FIELDS.contains(f) {
                return Err(Error::bad_request(
                    "facets",
                    format!("{f:?} is not a numeric field"),
                ));
            }
        }
        let parsed = super::parse_request(req, &self.limits)?;
        let combine = if relaxed {
            Combine::Any
        } else {
            super::combine_of(req.match_mode, parsed.clauses.len())
        };
        let searcher = self.index.searcher();
        let rules = self.synonyms();
        let built = build(
            &parsed,
            combine,
            Expansion {
                typos: req.typos,
                prefix: req.prefix,
            },
            &Context {
                fields: self.index.fields(),
                ranking: &self.ranking,
                searcher: &searcher,
                cache: &self.expansions,
                synonyms: if req.synonyms {
                    &rules
                } else {
                    &crate::synonyms::NONE
                },
            },
        )?;
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, built.query)];
        for (field, values) in &req.facets {
            let handle = self.index.fields().facet(field).ok_or_else(|| {
                Error::bad_request("facet", format!("unknown facet field {field:?}"))
            })?;
            let any: Vec<Box<dyn Query>> = values
                .iter()
                .map(|v| {
                    Box::new(TermQuery::new(
                        Term::from_field_text(handle, &postsearch_store::values::facet_value(v)),
                        IndexRecordOption::Basic,
                    )) as Box<dyn Query>
                })
                .collect();
            clauses.push((Occur::Must, Box::new(BooleanQuery::union(any))));
        }
        let q = BooleanQuery::new(clauses);
        let collector = NumericCollector {
            fields: fields.iter().map(|f| f.to_string()).collect(),
        };
        let counts = self.collect(&searcher, &q, &collector)?;
        Ok(fields.iter().map(|f| f.to_string()).zip(counts).collect())
    }
}

struct NumericCollector {
    fields: Vec<String>,
}

struct NumericSegment {
    cols: Vec<Column<u64>>,
    counts: Vec<BTreeMap<u64, u64>>,
}

impl Collector for NumericCollector {
    type Fruit = Vec<BTreeMap<u64, u64>>;
    type Child = NumericSegment;

    fn for_segment(
        &self,
        _: SegmentOrdinal,
        segment: &SegmentReader,
    ) -> tantivy::Result<Self::Child> {
        let ff = segment.fast_fields();
        let cols = self
            .fields
            .iter()
            .map(|f| ff.u64(f))
            .collect::<tantivy::Result<Vec<_>>>()?;
        Ok(NumericSegment {
            counts: vec![BTreeMap::new(); cols.len()],
            cols,
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Self::Fruit>) -> tantivy::Result<Self::Fruit> {
        let mut out = vec![BTreeMap::new(); self.fields.len()];
        for fruit in fruits {
            for (into, from) in out.iter_mut().zip(fruit) {
                for (v, n) in from {
                    *into.entry(v).or_default() += n;
                }
            }
        }
        Ok(out)
    }
}

impl SegmentCollector for NumericSegment {
    type Fruit = Vec<BTreeMap<u64, u64>>;

    fn collect(&mut self, doc: DocId, _: Score) {
        for (col, counts) in self.cols.iter().zip(self.counts.iter_mut()) {
            if let Some(v) = col.first(doc) {
                *counts.entry(v).or_default() += 1;
            }
        }
    }

    fn harvest(self) -> Self::Fruit {
        self.counts
    }
}
