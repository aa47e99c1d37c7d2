#!/usr/bin/env python3
"""Do queries written with an abbreviation find the posts that use the full
form? Two measures against a running server, with its own synonym rules
(read from /meili/indexes/posts/settings/synonyms):

1. Matches: for each abbreviation the rules expand (`k8s` -> `kubernetes`)
   whose full form some post uses, the share of the posts that have a full
   form but not the abbreviation that the abbreviation alone finds
   (synonyms on), against the same with synonyms off (0 by construction).
2. Known item: posts whose title holds a full form; the title is searched
   with the full form replaced by the abbreviation (`deploying kubernetes
   operators` -> `deploying k8s operators`). The share found in the top N
   (the post, or a post with the same title), synonyms on vs off.

    scripts/synonym_share.py --posts POSTS.jsonl --url http://127.0.0.1:7700 [--n 200] [--top 10]

Standard library only.
"""
import argparse
import json
import random
import re
import urllib.parse
import urllib.request


def get(base, path, params=None):
    url = base + path + ("?" + urllib.parse.urlencode(params) if params else "")
    with urllib.request.urlopen(url, timeout=60) as r:
        return json.load(r)


def total(base, q, synonyms, match="auto"):
    return get(base, "/api/search", {
        "q": q, "limit": 0, "facets": "false", "snippets": "false",
        "typos": "false", "synonyms": str(synonyms).lower(), "match": match,
    })["total"]


def quoted(form):
    return f'"{form}"' if " " in form else form


def abbreviations(rules):
    """The rules whose words typed are shorter than each form they find."""
    out = {}
    for typed, forms in rules.items():
        longer = [f for f in forms if len(f) > len(typed)]
        if longer and len(longer) == len(forms):
            out[typed] = longer
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--posts", required=True)
    ap.add_argument("--url", required=True)
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--top", type=int, default=10)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    base = args.url.rstrip("/")
    rules = abbreviations(get(base, "/meili/indexes/posts/settings/synonyms"))

    # 1. Matches.
    found = wanted = 0
    used = []
    for abbr, forms in sorted(rules.items()):
        off = total(base, abbr, False)
        if " " in abbr:
            # Words typed: all of them must match (not as a phrase), so the
            # posts wanted are those with the form but not all the words.
            if len(forms) != 1:
                continue
            form = quoted(forms[0])
            only = total(base, form, False) - total(base, f"{form} {abbr}", False, "all")
        else:
            union = total(base, " ".join([abbr] + [quoted(f) for f in forms]), False, "any")
            only = union - off
        if only <= 0:
            continue
        on = total(base, abbr, True)
        found += on - off
        wanted += only
        used.append(f"{abbr}:{only}")
    print(f"matches: {len(used)} abbreviations whose full form is used "
          f"({', '.join(used)})")
    if wanted:
        print(f"  posts with a full form only, found by the abbreviation: "
              f"{found}/{wanted} = {found / wanted:.3f} (synonyms off: 0.000)")

    # 2. Known item.
    with open(args.posts) as f:
        posts = [json.loads(line) for line in f if line.strip()]
    patterns = []
    for abbr, forms in rules.items():
        for form in forms:
            patterns.append((re.compile(r"\b" + re.escape(form) + r"\b", re.I), abbr))
    cases = []
    for post in posts:
        title = post.get("title", "")
        for pattern, abbr in patterns:
            if pattern.search(title):
                cases.append((post, pattern.sub(abbr, title, count=1)))
                break
    rng = random.Random(args.seed)
    sample = rng.sample(cases, min(args.n, len(cases)))
    if not sample:
        print("known item: no title holds a full form")
        return
    shares = {}
    for synonyms in (True, False):
        hit = 0
        for post, q in sample:
            hits = get(base, "/api/search", {
                "q": " ".join(q.split()[:32]), "limit": args.top, "facets": "false",
                "snippets": "false", "synonyms": str(synonyms).lower(),
            })["hits"]
            title = post["title"].strip().lower()
            if any(h["id"] == post["id"] or h["title"].strip().lower() == title for h in hits):
                hit += 1
        shares[synonyms] = hit / len(sample)
    print(f"known item: {len(sample)} of {len(cases)} titles with a full form, "
          f"searched with the abbreviation: top {args.top} "
          f"synonyms on {shares[True]:.3f}, off {shares[False]:.3f}")
    for post, q in sample[:3]:
        print(f"  e.g. {post['title']!r} -> {q!r}")


if __name__ == "__main__":
    main()
