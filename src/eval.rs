//! Relevance evaluation against judgments (`postsearch eval`): queries and
//! qrels in the BEIR or TREC formats, a run of the engine over them, and
//! the measures of trec_eval: nDCG@10 (`ndcg_cut_10`), Recall@100
//! (`recall_100`), MRR@10 (the reciprocal rank of the first relevant hit in
//! the top 10) and P@5 (`P_5`).
//!
//! trec_eval's conventions: a ranking is read in decreasing score, ties in
//! decreasing document id; gains are the judged relevance levels (linear);
//! a document is relevant when judged above 0; the means are over every
//! judged query (with a relevant document), a query with no hits scoring 0.

use postsearch_engine::{Engine, SearchRequest};
use postsearch_store::error::{Error, Result};
use postsearch_store::index::PostIndex;
use postsearch_store::indexer::{Writer, WriterOptions};
use postsearch_store::post::Post;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, Write};
use std::path::Path;

/// Judgments: query id → document id → relevance level.
pub type Qrels = BTreeMap<String, HashMap<String, i64>>;

/// A run: query id → (document id, score), best first.
pub type Run = BTreeMap<String, Vec<(String, f64)>>;

/// The measures of one query, or their means.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Measures {
    pub ndcg_at_10: f64,
    pub recall_at_100: f64,
    pub mrr_at_10: f64,
    pub p_at_5: f64,
}

impl Measures {
    fn add(&mut self, m: &Measures) {
        self.ndcg_at_10 += m.ndcg_at_10;
        self.recall_at_100 += m.recall_at_100;
        self.mrr_at_10 += m.mrr_at_10;
        self.p_at_5 += m.p_at_5;
    }

    fn scaled(mut self, by: f64) -> Measures {
        self.ndcg_at_10 *= by;
        self.recall_at_100 *= by;
        self.mrr_at_10 *= by;
        self.p_at_5 *= by;
        self
    }
}

/// The measures of a run against judgments.
#[derive(Debug, Clone, Serialize)]
pub struct Evaluation {
    /// Judged queries (those with a relevant document).
    pub queries: usize,
    /// The means over them.
    pub mean: Measures,
    /// Each judged query's measures.
    pub per_query: BTreeMap<String, Measures>,
}

fn lines(path: &Path) -> Result<Vec<(usize, String)>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut out = Vec::new();
    for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| Error::io(path, e))?;
        if !line.trim().is_empty() {
            out.push((n + 1, line));
        }
    }
    Ok(out)
}

fn bad(path: &Path, line: usize, what: impl std::fmt::Display) -> Error {
    Error::bad_request("eval", format!("{}:{line}: {what}", path.display()))
}

/// Queries from BEIR's JSONL (`{"_id", "text"}`) or a TSV of `id<TAB>text`.
pub fn read_queries(path: &Path) -> Result<Vec<(String, String)>> {
    #[derive(Deserialize)]
    struct Query {
        #[serde(rename = "_id")]
        id: String,
        text: String,
    }
    lines(path)?
        .into_iter()
        .map(|(n, line)| {
            if line.trim_start().starts_with('{') {
                let q: Query = serde_json::from_str(&line).map_err(|e| bad(path, n, e))?;
                Ok((q.id, q.text))
            } else {
                let (id, text) = line
                    .split_once('\t')
                    .ok_or_else(|| bad(path, n, "expected `id<TAB>text` or a JSON object"))?;
                Ok((id.trim().to_string(), text.trim().to_string()))
            }
        })
        .collect()
}

/// Judgments from BEIR's TSV (`query-id corpus-id score`, a header line or
/// not) or TREC's qrels (`query-id iteration corpus-id score`), separated by
/// tabs or spaces.
pub fn read_qrels(path: &Path) -> Result<Qrels> {
    let mut qrels = Qrels::new();
    for (i, (n, line)) in lines(path)?.into_iter().enumerate() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        let (q, d, rel) = match cols.as_slice() {
            [q, d, rel] => (q, d, rel),
            [q, _, d, rel] => (q, d, rel),
            _ => return Err(bad(path, n, "expected 3 (BEIR) or 4 (TREC) columns")),
        };
        let Ok(rel) = rel.parse::<i64>() else {
            if i == 0 {
                continue; // a header
            }
            return Err(bad(
                path,
                n,
                format!("relevance {rel:?} is not a whole number"),
            ));
        };
        qrels
            .entry(q.to_string())
            .or_default()
            .insert(d.to_string(), rel);
    }
    Ok(qrels)
}

/// Indexes a BEIR corpus (`{"_id", "title", "text"}` lines) in memory as
/// posts: `_id` → id, title (the id when there is none), text → body.
pub fn index_corpus(path: &Path) -> Result<(PostIndex, usize)> {
    #[derive(Deserialize)]
    struct Doc {
        #[serde(rename = "_id")]
        id: String,
        #[serde(default)]
        title: String,
        #[serde(default)]
        text: String,
    }
    let index = PostIndex::create_in_ram()?;
    let mut writer = Writer::new(&index, WriterOptions::default())?;
    let mut documents = 0;
    for (n, line) in lines(path)? {
        let doc: Doc = serde_json::from_str(&line).map_err(|e| bad(path, n, e))?;
        let title = if doc.title.trim().is_empty() {
            doc.id.clone()
        } else {
            doc.title
        };
        let mut post = Post::new(doc.id, title);
        post.body = Some(doc.text);
        writer.upsert(post)?;
        documents += 1;
    }
    writer.finish()?;
    Ok((index, documents))
}

/// Runs each judged query through `engine` (the top 100, `template`'s
/// other settings); returns the run and the mean milliseconds per query.
pub fn run(
    engine: &Engine,
    queries: &[(String, String)],
    qrels: &Qrels,
    template: &SearchRequest,
) -> Result<(Run, f64)> {
    let mut run = Run::new();
    let mut millis = 0.0;
    for (id, text) in queries.iter().filter(|(id, _)| qrels.contains_key(id)) {
        let req = SearchRequest {
            q: text.clone(),
            limit: 100,
            ..template.clone()
        };
        let resp = engine.search(&req)?;
        millis += resp.took_ms;
        run.insert(
            id.clone(),
            resp.hits
                .into_iter()
                .map(|h| (h.id, f64::from(h.score)))
                .collect(),
        );
    }
    let mean = millis / run.len().max(1) as f64;
    Ok((run, mean))
}

/// Writes `run` in TREC's format (`qid Q0 docid rank score tag`).
pub fn write_trec_run(run: &Run, out: &mut dyn Write, tag: &str) -> std::io::Result<()> {
    for (q, ranked) in run {
        for (rank, (doc, score)) in ranked.iter().enumerate() {
            writeln!(out, "{q} Q0 {doc} {} {score} {tag}", rank + 1)?;
        }
    }
    Ok(())
}

/// The measures of one query's ranking against its judgments.
pub fn measure(ranked: &[(String, f64)], judged: &HashMap<String, i64>) -> Measures {
    // trec_eval's order: score descending, then document id descending.
    let mut order: Vec<&(String, f64)> = ranked.iter().collect();
    order.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| b.0.cmp(&a.0)));
    let rel = |doc: &str| judged.get(doc).copied().unwrap_or(0).max(0) as f64;
    let relevant = judged.values().filter(|r| **r > 0).count();
    let discount = |i: usize| 1.0 / ((i + 2) as f64).log2();
    let dcg: f64 = order
        .iter()
        .take(10)
        .enumerate()
        .map(|(i, (d, _))| rel(d) * discount(i))
        .sum();
    let mut ideal: Vec<f64> = judged
        .values()
        .filter(|r| **r > 0)
        .map(|r| *r as f64)
        .collect();
    ideal.sort_by(|a, b| b.total_cmp(a));
    let idcg: f64 = ideal
        .iter()
        .take(10)
        .enumerate()
        .map(|(i, g)| g * discount(i))
        .sum();
    let hits_in = |k: usize| order.iter().take(k).filter(|(d, _)| rel(d) > 0.0).count();
    let first = order.iter().take(10).position(|(d, _)| rel(d) > 0.0);
    Measures {
        ndcg_at_10: if idcg > 0.0 { dcg / idcg } else { 0.0 },
        recall_at_100: if relevant > 0 {
            hits_in(100) as f64 / relevant as f64
        } else {
            0.0
        },
        mrr_at_10: first.map_or(0.0, |i| 1.0 / (i + 1) as f64),
        p_at_5: hits_in(5) as f64 / 5.0,
    }
}

/// The measures of `run` against `qrels`, over every judged query.
pub fn evaluate(run: &Run, qrels: &Qrels) -> Evaluation {
    let mut per_query = BTreeMap::new();
    let mut sum = Measures::default();
    for (q, judged) in qrels {
        if !judged.values().any(|r| *r > 0) {
            continue;
        }
        let m = measure(run.get(q).map_or(&[][..], Vec::as_slice), judged);
        sum.add(&m);
        per_query.insert(q.clone(), m);
    }
    let queries = per_query.len();
    Evaluation {
        queries,
        mean: sum.scaled(1.0 / queries.max(1) as f64),
        per_query,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranked(ids: &[&str]) -> Vec<(String, f64)> {
        ids.iter()
            .enumerate()
            .map(|(i, d)| (d.to_string(), 100.0 - i as f64))
            .collect()
    }

    fn judged(pairs: &[(&str, i64)]) -> HashMap<String, i64> {
        pairs.iter().map(|(d, r)| (d.to_string(), *r)).collect()
    }

    #[test]
    fn measures_of_a_hand_computed_case() {
        // Relevant: a (2), b (1); c judged 0. Ranking: x a y b c.
        let j = judged(&[("a", 2), ("b", 1), ("c", 0)]);
        let m = measure(&ranked(&["x", "a", "y", "b", "c"]), &j);
        let dcg = 2.0 / 3f64.log2() + 1.0 / 5f64.log2();
        let idcg = 2.0 / 2f64.log2() + 1.0 / 3f64.log2();
        assert!((m.ndcg_at_10 - dcg / idcg).abs() < 1e-12, "{m:?}");
        assert_eq!(m.recall_at_100, 1.0);
        assert_eq!(m.mrr_at_10, 0.5);
        assert_eq!(m.p_at_5, 0.4);
        // Nothing found: zeros.
        assert_eq!(measure(&[], &j), Measures::default());
    }

    #[test]
    fn ties_are_read_in_decreasing_document_id_as_trec_eval_does() {
        let j = judged(&[("a", 1)]);
        let tied = vec![("a".to_string(), 1.0), ("b".to_string(), 1.0)];
        assert_eq!(measure(&tied, &j).mrr_at_10, 0.5);
    }

    #[test]
    fn means_count_every_judged_query_and_a_missing_run_scores_zero() {
        let mut qrels = Qrels::new();
        qrels.insert("q1".into(), judged(&[("a", 1)]));
        qrels.insert("q2".into(), judged(&[("b", 1)]));
        qrels.insert("q3".into(), judged(&[("c", 0)]));
        let mut run = Run::new();
        run.insert("q1".into(), ranked(&["a"]));
        let e = evaluate(&run, &qrels);
        assert_eq!(e.queries, 2);
        assert_eq!(e.mean.mrr_at_10, 0.5);
    }

    #[test]
    fn beir_and_trec_files_read_alike() {
        let tmp = tempfile::tempdir().unwrap();
        let (beir, trec) = (tmp.path().join("b.tsv"), tmp.path().join("t.txt"));
        std::fs::write(&beir, "query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td2\t0\n").unwrap();
        std::fs::write(&trec, "q1 0 d1 1\nq1 0 d2 0\n").unwrap();
        assert_eq!(read_qrels(&beir).unwrap(), read_qrels(&trec).unwrap());
        let (jsonl, tsv) = (tmp.path().join("q.jsonl"), tmp.path().join("q.tsv"));
        std::fs::write(&jsonl, "{\"_id\":\"q1\",\"text\":\"a b\"}\n").unwrap();
        std::fs::write(&tsv, "q1\ta b\n").unwrap();
        assert_eq!(read_queries(&jsonl).unwrap(), read_queries(&tsv).unwrap());
        std::fs::write(&trec, "q1 0 d1 1\nq1 0 d2 high\n").unwrap();
        assert!(read_qrels(&trec)
            .unwrap_err()
            .to_string()
            .contains("t.txt:2"));
    }
}
