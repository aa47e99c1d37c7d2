#!/usr/bin/env python3
"""A search-box query mix drawn from a corpus, for peers.py, `postsearch bench`
and scripts/performance.py:

    python3 scripts/make_queries.py CORPUS/posts.jsonl 2000 > CORPUS/queries.tsv

One `kind<TAB>query` line each, in equal shares of the kinds of
../shared/bench/realposts.py, drawn (seeded) from the first 20,000 posts:

- title: 2-4 words of a post's title, in order;
- keywords: 2-3 content words of one post's body;
- phrase: two consecutive content words of a body, quoted;
- typo: a keywords query with one word of 5+ letters misspelt (a letter
  dropped, doubled or swapped with the next);
- prefix: a body word and the first 3-5 letters of the word after it
  (sent with prefix=true, as a search-as-you-type box sends it);
- question: "how do i" / "why does" / ... and 3-5 words of a body (5-8 words);
- rare: a word of 6+ letters found in at most 3 posts.
"""
import collections
import json
import random
import re
import sys

WORD = re.compile(r"[a-z][a-z0-9_]+")
STOP = set("""a an the in of for to with and on how we from when what is at by our or
it as be are this that can if you which will not but its these their there
so then than any all some each into also has have was were do does""".split())
OPENERS = ["how do i", "why does", "what is the best way to", "how can i", "when should i"]
KINDS = ["title", "keywords", "phrase", "typo", "prefix", "question", "rare"]


def words(text):
    return WORD.findall(text.lower())


def content(ws):
    return [w for w in ws if w not in STOP and len(w) > 2]


def misspell(rng, w):
    i = rng.randrange(1, len(w) - 1)
    how = rng.randrange(3)
    if how == 0:
        return w[:i] + w[i + 1:]
    if how == 1:
        return w[:i] + w[i] + w[i:]
    return w[:i] + w[i + 1] + w[i] + w[i + 2:]


def main():
    path, n = sys.argv[1], int(sys.argv[2])
    rng = random.Random(42)
    posts = []
    df = collections.Counter()
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f):
            if i >= 20000:
                break
            p = json.loads(line)
            body = words(p.get("body") or "")
            posts.append((words(p.get("title", "")), body))
            df.update(set(body))
    rare = sorted(w for w, c in df.items() if c <= 3 and len(w) >= 6 and not w[0].isdigit())
    out = 0
    while out < n:
        kind = KINDS[out % len(KINDS)]
        title, body = rng.choice(posts)
        cbody = content(body)
        q = None
        if kind == "title":
            t = [w for w in title if w not in STOP]
            if len(t) >= 2:
                k = rng.randint(2, min(4, len(t)))
                i = rng.randrange(len(t) - k + 1)
                q = " ".join(t[i:i + k])
        elif kind in ("keywords", "typo") and len(cbody) >= 3:
            picked = rng.sample(cbody, rng.randint(2, 3))
            if kind == "typo":
                long = [i for i, w in enumerate(picked) if len(w) >= 5]
                if not long:
                    continue
                i = rng.choice(long)
                picked[i] = misspell(rng, picked[i])
            q = " ".join(picked)
        elif kind in ("phrase", "prefix") and len(body) >= 2:
            i = rng.randrange(len(body) - 1)
            a, b = body[i], body[i + 1]
            if a in STOP or b in STOP or len(b) < 4:
                continue
            q = f'"{a} {b}"' if kind == "phrase" else f"{a} {b[:rng.randint(3, min(5, len(b) - 1))]}"
        elif kind == "question" and len(cbody) >= 5:
            k = rng.randint(3, 5)
            i = rng.randrange(len(cbody) - k + 1)
            q = rng.choice(OPENERS) + " " + " ".join(cbody[i:i + k])
            q = " ".join(q.split()[:8])
        elif kind == "rare" and rare:
            q = rng.choice(rare)
        if q:
            print(f"{kind}\t{q}")
            out += 1


if __name__ == "__main__":
    main()
