#!/usr/bin/env python3
"""Checks `postsearch eval` against pytrec_eval (trec_eval's own code) on
the same run: every judged query's nDCG@10, Recall@100, MRR@10 and P@5
must agree to 1e-4.

    postsearch eval --queries Q --qrels QRELS [--corpus C] --run-out RUN --json > OURS.json
    scripts/check_eval.py QRELS RUN OURS.json

Needs `pip install pytrec-eval-terrier`. Exits 1 on a disagreement.
"""
import json
import sys

import pytrec_eval


def read_qrels(path):
    qrels = {}
    with open(path) as f:
        for i, line in enumerate(f):
            cols = line.split()
            if not cols:
                continue
            if len(cols) == 3:
                q, d, rel = cols
            elif len(cols) == 4:
                q, _, d, rel = cols
            else:
                sys.exit(f"{path}:{i + 1}: expected 3 or 4 columns")
            try:
                qrels.setdefault(q, {})[d] = int(rel)
            except ValueError:
                if i == 0:
                    continue  # a header
                raise
    return qrels


def read_run(path):
    run = {}
    with open(path) as f:
        for line in f:
            q, _, d, _rank, score, _tag = line.split()
            run.setdefault(q, {})[d] = float(score)
    return run


def top(run, k):
    """Each query's k best, in trec_eval's order (score, then id, descending)."""
    out = {}
    for q, docs in run.items():
        ranked = sorted(docs.items(), key=lambda x: (x[1], x[0]), reverse=True)[:k]
        out[q] = dict(ranked)
    return out


def main():
    qrels_path, run_path, ours_path = sys.argv[1:4]
    qrels, run = read_qrels(qrels_path), read_run(run_path)
    with open(ours_path) as f:
        ours = json.load(f)["configs"][0]["per_query"]
    main_eval = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10", "recall.100", "P.5"})
    rr_eval = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"})
    theirs = main_eval.evaluate(run)
    rr = rr_eval.evaluate(top(run, 10))  # MRR@10: the reciprocal rank within the top 10
    checked, bad = 0, 0
    for q, m in ours.items():
        if q not in theirs:
            # pytrec_eval leaves out queries without a ranking; ours score 0.
            assert all(v == 0 for v in m.values()), (q, m)
            continue
        pairs = [
            ("ndcg_at_10", theirs[q]["ndcg_cut_10"]),
            ("recall_at_100", theirs[q]["recall_100"]),
            ("p_at_5", theirs[q]["P_5"]),
            ("mrr_at_10", rr[q]["recip_rank"]),
        ]
        for name, value in pairs:
            checked += 1
            if abs(m[name] - value) > 1e-4:
                bad += 1
                print(f"{q} {name}: postsearch {m[name]:.6f}, pytrec_eval {value:.6f}")
    print(f"{checked} values over {len(ours)} queries compared with pytrec_eval: {bad} disagree")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
