#!/usr/bin/env python3
"""Known-item search: does a post's own title, its words shuffled and its
longest word misspelt (one letter dropped), find it (or a post with the same
title) in the top 3 of a running server?

    scripts/known_item.py --posts POSTS.jsonl --url http://127.0.0.1:7700 [--n 200] [--seed 1]

Prints the share found. Standard library only.
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
    ap.add_argument("--top", type=int, default=3)
    ap.add_argument("--typos", default="true", choices=["true", "false"])
    args = ap.parse_args()
    with open(args.posts) as f:
        posts = [json.loads(line) for line in f if line.strip()]
    rng = random.Random(args.seed)
    sample = rng.sample(posts, min(args.n, len(posts)))
    found = 0
    for post in sample:
        words = post["title"].split()
        rng.shuffle(words)
        longest = max(range(len(words)), key=lambda i: len(words[i]))
        w = words[longest]
        if len(w) >= 5:
            cut = rng.randrange(1, len(w) - 1)
            words[longest] = w[:cut] + w[cut + 1:]
        q = " ".join(words[:32])
        url = args.url + "/api/search?" + urllib.parse.urlencode(
            {"q": q, "limit": args.top, "facets": "false", "snippets": "false",
             "typos": args.typos})
        with urllib.request.urlopen(url, timeout=30) as r:
            hits = json.load(r)["hits"]
        title = post["title"].strip().lower()
        if any(h["id"] == post["id"] or h["title"].strip().lower() == title for h in hits):
            found += 1
    print(f"{found}/{len(sample)} = {found / len(sample):.3f} found in the top {args.top}")


if __name__ == "__main__":
    main()
