#!/usr/bin/env python3
"""Similar posts, measured: of the top 5 similar posts of N random posts,
the share that have the source's problem (the outline's `problem`, else the
topic's part before " / "), its main stack (the first), either, and the
same topic. Asks a running server.

    scripts/similar_share.py --posts POSTS.jsonl --url http://127.0.0.1:7700 [--n 200] [--seed 1]

Standard library only.
"""
import argparse
import json
import random
import urllib.parse
import urllib.request


def problem(post):
    outline = post.get("outline") or {}
    if outline.get("problem"):
        return outline["problem"]
    topic = (post.get("topic") or "").split(" / ")[0].strip()
    return topic or None


def main_stack(post):
    stack = post.get("stack") or []
    return stack[0] if stack else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--posts", required=True)
    ap.add_argument("--url", required=True)
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    with open(args.posts) as f:
        posts = {p["id"]: p for p in (json.loads(line) for line in f if line.strip())}
    rng = random.Random(args.seed)
    sources = rng.sample(sorted(posts), min(args.n, len(posts)))
    counts = {"results": 0, "problem": 0, "stack": 0, "either": 0, "topic": 0}
    for sid in sources:
        src = posts[sid]
        url = f"{args.url}/api/posts/{urllib.parse.quote(sid, safe='')}/similar?limit=5"
        with urllib.request.urlopen(url, timeout=30) as r:
            hits = json.load(r)["hits"]
        for h in hits:
            other = posts.get(h["id"], {})
            same_problem = problem(src) is not None and problem(other) == problem(src)
            same_stack = main_stack(src) is not None and main_stack(other) == main_stack(src)
            counts["results"] += 1
            counts["problem"] += same_problem
            counts["stack"] += same_stack
            counts["either"] += same_problem or same_stack
            counts["topic"] += bool(src.get("topic")) and other.get("topic") == src.get("topic")
    n = max(counts["results"], 1)
    print(f"{len(sources)} sources, {counts['results']} similar posts: "
          f"same problem {counts['problem'] / n:.3f}, same main stack {counts['stack'] / n:.3f}, "
          f"either {counts['either'] / n:.3f}, same topic {counts['topic'] / n:.3f}")


if __name__ == "__main__":
    main()
