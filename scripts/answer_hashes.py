#!/usr/bin/env python3
"""Answer hashes: proof that a change (a refactor) left the HTTP answers as
they were.

Starts `postsearch serve` on a free port over an already built index, sends
a fixed set of requests drawn deterministically from the corpus (searches
with their variants, suggest, posts, similar, facets, the Meilisearch API
and some bad requests), and hashes each answer's status and normalised body:
timing fields are dropped and floats rounded to 5 significant digits; hit
order and everything else stay as answered. Standard library only.

    python3 scripts/answer_hashes.py --bin target/release/postsearch \\
        --index /tmp/ix --corpus /tmp/corpus/posts.jsonl --out hashes.txt

`--out` gets one `HASH  REQUEST` line per request; the overall hash (sha256
over those lines) is printed last on stdout. Run it with the binary before
and after the change on the same corpus and compare; `diff` the --out files
(and the optional --bodies dumps) to find the requests that differ.
"""
import argparse
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

TIMING_KEYS = {"took_ms", "processingTimeMs"}
FIXED_QUERIES = ["kubernetes", "docker compose", '"connection pool"', "python -django",
                 "stack:python quality:>=70", "views:100..10000 cache", "and", "with", ""]
SEARCH_VARIANTS = ["", "&facet=stack:python", "&facet=difficulty:beginner&sort=views",
                   "&match=any&limit=20&offset=5", "&typos=false&snippets=false",
                   "&explain=true", "&meta_weight=0"]
MEILI_FILTERS = ["stack = python", "stack IN [python, django] AND difficulty = beginner",
                 "quality >= 70 AND NOT stack = php",
                 [["stack = python", "stack = go"], "quality 50 TO 90"], "view_count > 1000"]
# Proxies must not see requests to 127.0.0.1.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def read_corpus(path, step=300, titles=12, ids=15):
    """Every `step`-th post's title (the first `titles` of them) and ids
    spread over the file."""
    with open(path, encoding="utf-8") as f:
        posts = [json.loads(line) for line in f if line.strip()]
    picked = [p["title"] for p in posts[::step][:titles]]
    spread = [p["id"] for p in posts[:: max(1, len(posts) // ids)][:ids]]
    return picked, spread


def typo(word):
    """`word` with its middle letter replaced by the next one in the alphabet."""
    i = len(word) // 2
    c = word[i]
    new = chr((ord(c) - ord("a") + 1) % 26 + ord("a")) if "a" <= c <= "z" else "x"
    return word[:i] + new + word[i + 1:]


def title_queries(title):
    """The five queries of one title: (query, extra parameters)."""
    words = title.split()
    long_words = [w for w in words if len(w) >= 4 and w.isalpha()] or words
    second = words[1] if len(words) > 1 else words[0]
    typo_word = max(long_words, key=len)
    return [
        (title, ""),
        (" ".join(long_words[:2]), ""),
        (f"{words[0]} {second[:3]}", "&prefix=true"),
        (typo(typo_word) if len(typo_word) >= 5 else typo_word, ""),
        ('"%s"' % " ".join(words[1:3] if len(words) > 2 else words[:2]), ""),
    ]


def unique(items):
    seen, out = set(), []
    for item in items:
        key = json.dumps(item, sort_keys=True)
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


def build_requests(titles, ids):
    """[(method, path, body or None)], in a fixed order."""
    queries = unique([q for t in titles for q in title_queries(t)] + [(q, "") for q in FIXED_QUERIES])
    reqs = []
    for q, extra in queries:
        for variant in SEARCH_VARIANTS:
            reqs.append(("GET", f"/api/search?q={urllib.parse.quote(q, safe='')}{extra}{variant}", None))
    words = [w for t in titles for w in t.split() if len(w) >= 5 and w.isalpha()]
    prefixes = unique([w[: 3 + i % 3] for i, w in enumerate(words)])[:15]
    reqs += [("GET", f"/api/suggest?q={urllib.parse.quote(p)}", None) for p in prefixes]
    reqs.append(("GET", "/api/suggest?q=kub&limit=10", None))
    for pid in ids + ["no-such-post"]:
        reqs.append(("GET", f"/api/posts/{urllib.parse.quote(pid)}", None))
        reqs.append(("GET", f"/api/posts/{urllib.parse.quote(pid)}/similar?limit=5", None))
    reqs.append(("GET", "/api/facets", None))

    search = "/meili/indexes/posts/search"
    plain = [q for q, extra in queries if not extra]
    bodies = [{"q": q} for q in plain[:20]]
    for f in MEILI_FILTERS:
        bodies += [{"q": "", "filter": f}, {"q": "cache", "filter": f}]
    bodies += [
        {"q": "docker", "facets": ["stack", "difficulty", "quality"]},
        {"q": "", "facets": ["stack", "difficulty", "quality"], "filter": "stack = python"},
        {"q": "cache", "attributesToHighlight": ["title"], "attributesToCrop": ["body"]},
        {"q": "cache", "sort": ["view_count:desc"]},
        {"q": "cache", "hitsPerPage": 5, "page": 2},
        {"q": "kubernetes", "showRankingScore": True, "limit": 5},
    ]
    reqs += [("POST", search, b) for b in bodies]
    reqs.append(("POST", "/meili/multi-search", {"queries": [
        {"indexUid": "posts", "q": "kubernetes"},
        {"indexUid": "posts", "q": "cache", "filter": "stack = python", "limit": 3},
        {"indexUid": "posts", "q": plain[0], "facets": ["difficulty"]},
    ]}))

    # Bad requests: their answers are behaviour too.
    reqs += [("GET", p, None) for p in [
        "/api/search?limit=1000", "/api/search?offset=99999", "/api/search?meta_weight=500",
        "/api/search?q=" + "x" * 2000, "/api/search?bogus=1", "/api/nowhere"]]
    reqs += [("POST", search, {"q": "cache", "limit": 1000}),
             ("POST", search, {"q": "cache", "filter": "colour = red"}),
             ("POST", "/meili/indexes/nope/search", {"q": "cache"})]
    return reqs


def strip_and_round(value):
    """`value` without timing fields, floats to 5 significant digits."""
    if isinstance(value, dict):
        return {k: strip_and_round(v) for k, v in value.items()
                if not (k in TIMING_KEYS or k.endswith("_ms") or "took" in k.lower())}
    if isinstance(value, list):
        return [strip_and_round(v) for v in value]
    if isinstance(value, float):
        return float(f"{value:.5g}")
    return value


def normalise(body):
    try:
        value = json.loads(body)
    except ValueError:
        return body
    return json.dumps(strip_and_round(value), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode()


def fetch(base, method, path, body=None, timeout=60):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with OPENER.open(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(binary, index, workdir):
    """The server process and its base URL, once /healthz answers 200."""
    port = free_port()
    # No postsearch.toml from the working directory, no POSTSEARCH_* settings.
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSTSEARCH_")}
    # No analytics folder beside the index (they change no answer; a binary
    # older than analytics warns about the variable and serves).
    env["POSTSEARCH_ANALYTICS_ENABLED"] = "false"
    log = open(os.path.join(workdir, "server.log"), "wb")
    proc = subprocess.Popen([binary, "serve", "--index", index, "--addr", f"127.0.0.1:{port}"],
                            cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            if fetch(base, "GET", "/healthz", timeout=2)[0] == 200:
                return proc, base
        except OSError:
            pass
        time.sleep(0.1)
    stop_server(proc)
    with open(os.path.join(workdir, "server.log"), errors="replace") as f:
        sys.exit(f"the server did not become healthy:\n{f.read()[-4000:]}")


def stop_server(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", required=True, help="the postsearch binary")
    ap.add_argument("--index", required=True, help="an index built from --corpus")
    ap.add_argument("--corpus", required=True, help="the posts.jsonl the index was built from")
    ap.add_argument("--out", required=True, help="per-request `HASH  REQUEST` lines")
    ap.add_argument("--bodies", help="also write each normalised answer here (for diffing)")
    args = ap.parse_args()

    titles, ids = read_corpus(args.corpus)
    requests = build_requests(titles, ids)
    lines, bodies, failed = [], [], 0
    with tempfile.TemporaryDirectory(prefix="answer_hashes.") as workdir:
        proc, base = start_server(os.path.abspath(args.bin), os.path.abspath(args.index), workdir)
        try:
            for method, path, body in requests:
                status, raw = fetch(base, method, path, body)
                failed += status != 200
                answer = f"{status}\n".encode() + normalise(raw)
                request = f"{method} {path}" + ("" if body is None else " " + json.dumps(body, sort_keys=True))
                lines.append(f"{hashlib.sha256(answer).hexdigest()}  {request}\n")
                bodies.append(f"{request}\n{answer.decode('utf-8', 'replace')}\n\n")
        finally:
            stop_server(proc)
    with open(args.out, "w", encoding="utf-8") as f:
        f.writelines(lines)
    if args.bodies:
        with open(args.bodies, "w", encoding="utf-8") as f:
            f.writelines(bodies)
    overall = hashlib.sha256("".join(lines).encode()).hexdigest()
    print(f"{len(lines)} requests, {failed} answered non-200", file=sys.stderr)
    print(overall)


if __name__ == "__main__":
    main()
