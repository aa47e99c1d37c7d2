#!/usr/bin/env python3
"""The meta blend, measured: for each meta_weight, over the top 10 of each
query (two-word queries drawn from the posts' titles), how often a post
ranks above one with a higher text score (the meta score lifted it), and,
among pairs whose text scores are within 5%, how often the one with the
higher meta score ranks first. Asks a running server (`explain=true`).

    scripts/meta_sweep.py --posts POSTS.jsonl --url http://127.0.0.1:7700 [--n 200] [--seed 1]

Standard library only.
"""
import argparse
import json
import random
import urllib.parse
import urllib.request


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--posts", required=True)
    ap.add_argument("--url", required=True)
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--weights", default="0,0.25,0.5,1,2")
    args = ap.parse_args()
    with open(args.posts) as f:
        titles = [json.loads(line)["title"] for line in f if line.strip()]
    rng = random.Random(args.seed)
    queries = []
    for t in rng.sample(titles, args.n):
        words = [w for w in t.lower().split() if len(w) > 3]
        if len(words) >= 2:
            queries.append(" ".join(rng.sample(words, 2)))
    print("| meta_weight | pairs | lifted over a higher text score | near ties ordered by meta |")
    print("|--:|--:|--:|--:|")
    for w in args.weights.split(","):
        pairs = lifted = ties = by_meta = 0
        for q in queries:
            url = args.url + "/api/search?" + urllib.parse.urlencode(
                {"q": q, "limit": 10, "explain": "true", "facets": "false",
                 "snippets": "false", "meta_weight": w})
            with urllib.request.urlopen(url, timeout=30) as r:
                hits = json.load(r)["hits"]
            parts = [(h["explain"]["text"], h["explain"]["meta"]) for h in hits]
            for i in range(len(parts)):
                for j in range(i + 1, len(parts)):
                    (ti, mi), (tj, mj) = parts[i], parts[j]
                    pairs += 1
                    lifted += ti < tj
                    if max(ti, tj) > 0 and abs(ti - tj) <= 0.05 * max(ti, tj) and mi != mj:
                        ties += 1
                        by_meta += mi > mj
        print(f"| {w} | {pairs} | {lifted / max(pairs, 1):.3f} | "
              f"{by_meta / max(ties, 1):.3f} (of {ties}) |")


if __name__ == "__main__":
    main()
