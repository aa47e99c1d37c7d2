#!/usr/bin/env python3
"""A search-box query mix drawn from a corpus's titles, for peers.py and
`postsearch bench --queries`:

    python3 scripts/make_queries.py CORPUS/posts.jsonl 2000 > CORPUS/queries.tsv

One `kind<TAB>query` line each: 1-3 word keyword queries (kind `k1`..`k3`)
and two-word phrases (`phrase`), taken from random titles (seeded).
"""
import json
import random
import sys

STOP = {"a", "an", "the", "in", "of", "for", "to", "with", "and", "on", "how", "we", "from", "when", "what", "is", "at", "by", "our"}


def main():
    path, n = sys.argv[1], int(sys.argv[2])
    rng = random.Random(42)
    titles = []
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f):
            if i >= 20000:
                break
            titles.append(json.loads(line)["title"])
    for _ in range(n):
        words = [w for w in rng.choice(titles).split() if w not in STOP and w.isalnum()]
        if len(words) < 2:
            continue
        kind = rng.choice(["k1", "k2", "k3", "phrase"])
        if kind == "phrase":
            i = rng.randrange(len(words) - 1)
            q = '"%s %s"' % (words[i], words[i + 1])
        else:
            q = " ".join(rng.sample(words, min(len(words), int(kind[1]))))
        print(f"{kind}\t{q}")


if __name__ == "__main__":
    main()
