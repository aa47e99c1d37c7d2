//! Helpers shared by the collector's test modules.

use super::SearchCollector;
use crate::ranking::RankingConfig;
use crate::types::Sort;

/// A collector of the best `k` by relevance with every facet counted
/// (the search box's), over the columns a search opens.
pub(super) fn counting(k: usize) -> SearchCollector {
    SearchCollector {
        columns: Vec::new(),
        k,
        sort: Sort::Relevance,
        meta_weight: 0.3,
        ranking: RankingConfig::default(),
        with_facets: true,
        selections: Vec::new(),
        excluded: Vec::new(),
        top_only: false,
        distinct: None,
        floor: Default::default(),
    }
}
