#!/usr/bin/env python3
"""Word statistics of post corpora, to compare generated text with real text.

    scripts/corpus_stats.py CORPUS.jsonl [CORPUS.jsonl ...] [--first N] [--md]

For each corpus (posts.jsonl, one post a line), over the first N posts
(default: all), counts the words of titles and bodies as the index splits
them (runs of ASCII letters, digits and '_', lower-cased) and prints: posts,
words per post, distinct words, the share of them used once (hapax
legomena), the most frequent word and its share of all words, the Zipf
exponent fitted on ranks 10-1000, the Heaps exponent (growth of the
vocabulary between the first half and all of the posts), and the share of
posts with a code block (a line starting with ```).
"""
import argparse
import collections
import json
import math
import re

WORD = re.compile(r"[a-z0-9_]+")


def stats(path, first):
    counts = collections.Counter()
    posts = tokens = with_code = 0
    half_distinct = None
    lines = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if first and posts >= first:
                break
            if line.strip():
                lines.append(line)
                posts += 1
    for i, line in enumerate(lines):
        if i == len(lines) // 2:
            half_distinct, half_tokens = len(counts), tokens
        post = json.loads(line)
        body = post.get("body") or ""
        if "\n```" in "\n" + body:
            with_code += 1
        words = WORD.findall((post.get("title", "") + "\n" + body).lower())
        counts.update(words)
        tokens += len(words)
    distinct = len(counts)
    hapax = sum(1 for c in counts.values() if c == 1)
    top_word, top_count = counts.most_common(1)[0]
    ranked = [c for _, c in counts.most_common(1000)]
    xs = [math.log(r) for r in range(10, len(ranked) + 1)]
    ys = [math.log(ranked[r - 1]) for r in range(10, len(ranked) + 1)]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    heaps = math.log(distinct / half_distinct) / math.log(tokens / half_tokens)
    return {
        "posts": posts,
        "words per post": round(tokens / posts),
        "distinct words": distinct,
        "used once": f"{hapax / distinct:.0%}",
        "top word": f"{top_word} {top_count / tokens:.1%}",
        "Zipf exponent (ranks 10-1000)": round(-slope, 2),
        "Heaps exponent": round(heaps, 2),
        "posts with code": f"{with_code / posts:.0%}",
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpora", nargs="+", metavar="CORPUS.jsonl")
    ap.add_argument("--first", type=int, default=0, help="only the first N posts")
    ap.add_argument("--md", action="store_true", help="a markdown table")
    args = ap.parse_args()
    rows = [(p, stats(p, args.first)) for p in args.corpora]
    if args.md:
        keys = list(rows[0][1])
        print("| | " + " | ".join(p for p, _ in rows) + " |")
        print("|---|" + "--:|" * len(rows))
        for k in keys:
            print(f"| {k} | " + " | ".join(str(r[k]) for _, r in rows) + " |")
    else:
        for p, r in rows:
            print(p)
            for k, v in r.items():
                print(f"  {k}: {v}")


if __name__ == "__main__":
    main()
