//! Relevance evaluation on a BEIR-style test collection (`corpus.jsonl`,
//! `queries.jsonl`, `qrels.tsv`): nDCG@10 and Recall@100, with trec_eval's
//! conventions (mean over every judged query; no hits scores 0).

use postsearch_engine::{Engine, RankingConfig, SearchRequest};
use postsearch_store::error::{Error, Result};
use postsearch_store::index::PostIndex;
use postsearch_store::indexer::{Writer, WriterOptions};
use postsearch_store::post::Post;
use serde::Deserialize;
use std::collections::{HashMap, HashSet};
use std::io::BufRead;
use std::path::Path;

#[derive(Deserialize)]
struct Doc {
    #[serde(rename = "_id")]
    id: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    text: String,
}

#[derive(Deserialize)]
struct Query {
    #[serde(rename = "_id")]
    id: String,
    text: String,
}

/// The result of an evaluation.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EvalReport {
    pub documents: usize,
    pub queries: usize,
    pub ndcg_at_10: f64,
    pub recall_at_100: f64,
    /// Mean milliseconds per query.
    pub mean_query_ms: f64,
}

fn lines(path: &Path) -> Result<Vec<String>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    std::io::BufReader::new(file)
        .lines()
        .map(|l| l.map_err(|e| Error::io(path, e)))
        .filter(|l| l.as_ref().map_or(true, |l| !l.trim().is_empty()))
        .collect()
}

fn parse<T: serde::de::DeserializeOwned>(path: &Path, n: usize, line: &str) -> Result<T> {
    serde_json::from_str(line)
        .map_err(|e| Error::bad_request("collection", format!("{}:{}: {e}", path.display(), n + 1)))
}

/// Indexes the collection in `dir` (documents as posts: `_id` → id,
/// title, text → body) into memory and runs every judged query with
/// `request` as the template (its `q` and `limit` are replaced).
pub fn evaluate(
    dir: &Path,
    ranking: RankingConfig,
    template: &SearchRequest,
) -> Result<EvalReport> {
    let index = PostIndex::create_in_ram()?;
    let mut writer = Writer::new(&index, WriterOptions::default())?;
    let corpus = dir.join("corpus.jsonl");
    let mut documents = 0;
    for (n, line) in lines(&corpus)?.iter().enumerate() {
        let doc: Doc = parse(&corpus, n, line)?;
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
    let qrels_path = dir.join("qrels.tsv");
    let mut qrels: HashMap<String, HashSet<String>> = HashMap::new();
    for line in lines(&qrels_path)?.iter().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() >= 3 && cols[2].trim().parse::<f64>().unwrap_or(0.0) > 0.0 {
            qrels
                .entry(cols[0].to_string())
                .or_default()
                .insert(cols[1].to_string());
        }
    }
    let engine = Engine::new(index, ranking);
    let queries_path = dir.join("queries.jsonl");
    let (mut ndcg, mut recall, mut n, mut millis) = (0.0, 0.0, 0usize, 0.0);
    for (i, line) in lines(&queries_path)?.iter().enumerate() {
        let q: Query = parse(&queries_path, i, line)?;
        let Some(relevant) = qrels.get(&q.id) else {
            continue;
        };
        let req = SearchRequest {
            q: q.text
                .chars()
                .take(postsearch_engine::MAX_QUERY_BYTES / 4)
                .collect(),
            limit: 100,
            ..template.clone()
        };
        let resp = engine.search(&req)?;
        millis += resp.took_ms;
        let ranked: Vec<&str> = resp.hits.iter().map(|h| h.id.as_str()).collect();
        ndcg += ndcg_at(&ranked, relevant, 10);
        recall += ranked
            .iter()
            .take(100)
            .filter(|id| relevant.contains(**id))
            .count() as f64
            / relevant.len() as f64;
        n += 1;
    }
    let n_f = n.max(1) as f64;
    Ok(EvalReport {
        documents,
        queries: n,
        ndcg_at_10: ndcg / n_f,
        recall_at_100: recall / n_f,
        mean_query_ms: millis / n_f,
    })
}

/// nDCG@k with binary relevance.
pub fn ndcg_at(ranked: &[&str], relevant: &HashSet<String>, k: usize) -> f64 {
    let gain = |i: usize| 1.0 / ((i + 2) as f64).log2();
    let dcg: f64 = ranked
        .iter()
        .take(k)
        .enumerate()
        .filter(|(_, id)| relevant.contains(**id))
        .map(|(i, _)| gain(i))
        .sum();
    let ideal: f64 = (0..relevant.len().min(k)).map(gain).sum();
    if ideal == 0.0 {
        0.0
    } else {
        dcg / ideal
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ndcg_of_a_perfect_and_an_empty_ranking() {
        let rel: HashSet<String> = ["a".to_string(), "b".to_string()].into();
        assert!((ndcg_at(&["a", "b", "c"], &rel, 10) - 1.0).abs() < 1e-12);
        assert_eq!(ndcg_at(&["c", "d"], &rel, 10), 0.0);
        let half = ndcg_at(&["c", "a"], &rel, 10);
        assert!(half > 0.0 && half < 1.0);
    }
}
