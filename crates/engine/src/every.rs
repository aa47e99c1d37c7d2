//! Test support: every match of a query with its score, collected as a
//! search collects them.

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::query::{Query, Weight};
use tantivy::{DocAddress, DocId, Score, Searcher, SegmentReader};

/// Every match with its score, visited as a search visits them
/// (`Weight::for_each`), or, with a threshold, as a pruning search does.
struct Every(Option<Score>);
struct EverySegment(u32, Vec<(DocAddress, Score)>);

impl Collector for Every {
    type Fruit = Vec<(DocAddress, Score)>;
    type Child = EverySegment;
    fn for_segment(&self, ord: u32, _: &SegmentReader) -> tantivy::Result<EverySegment> {
        Ok(EverySegment(ord, Vec::new()))
    }
    fn requires_scoring(&self) -> bool {
        true
    }
    fn merge_fruits(&self, fruits: Vec<Self::Fruit>) -> tantivy::Result<Self::Fruit> {
        Ok(fruits.concat())
    }
    fn collect_segment(
        &self,
        weight: &dyn Weight,
        ord: u32,
        reader: &SegmentReader,
    ) -> tantivy::Result<Self::Fruit> {
        let mut seg = self.for_segment(ord, reader)?;
        match self.0 {
            None => weight.for_each(reader, &mut |doc, score| seg.collect(doc, score))?,
            Some(threshold) => weight.for_each_pruning(0.0, reader, &mut |doc, score| {
                seg.collect(doc, score);
                threshold
            })?,
        }
        Ok(seg.harvest())
    }
}

impl SegmentCollector for EverySegment {
    type Fruit = Vec<(DocAddress, Score)>;
    fn collect(&mut self, doc: DocId, score: Score) {
        self.1.push((DocAddress::new(self.0, doc), score));
    }
    fn harvest(self) -> Self::Fruit {
        self.1
    }
}

/// Every match of `query` with its score, in segment and document order;
/// with `pruning`, as a search skipping scores at or under it would see them
/// (a segment's first match always comes: the threshold starts at 0).
pub fn matches(
    searcher: &Searcher,
    query: &dyn Query,
    pruning: Option<Score>,
) -> Vec<(DocAddress, Score)> {
    searcher.search(query, &Every(pruning)).unwrap()
}
