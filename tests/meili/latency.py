"""Latency of /meili/multi-search vs /api/search for the same queries, one
keep-alive connection, requests interleaved so both see the same machine
state. Usage: python3 tests/meili/latency.py http://127.0.0.1:PORT [N]
(run against a release build: `cargo run --release -- serve`)."""

import http.client
import json
import sys
import time
import urllib.parse

base = urllib.parse.urlparse(sys.argv[1])
N = int(sys.argv[2]) if len(sys.argv) > 2 else 500
QUERIES = [
    "docker", "n+1 queries", "kubernetes rollout", "slow tests", "memory leaks",
    "cache invalidation", "django", "terraform state", "ci pipelines", "deploy",
]
conn = http.client.HTTPConnection(base.hostname, base.port)


def get(path):
    t = time.perf_counter()
    conn.request("GET", path)
    r = conn.getresponse()
    body = r.read()
    assert r.status == 200, (path, r.status, body[:200])
    return time.perf_counter() - t


def post(path, obj):
    data = json.dumps(obj)
    t = time.perf_counter()
    conn.request("POST", path, body=data, headers={"content-type": "application/json"})
    r = conn.getresponse()
    body = r.read()
    assert r.status == 200, (path, r.status, body[:200])
    return time.perf_counter() - t


FACETS = ["stack", "tools", "difficulty", "code_language"]
# The fields of an /api/search hit, for answers of the same size.
HIT_FIELDS = ["id", "title", "stack", "tools", "difficulty", "code_language", "view_count",
              "topic", "last_reviewed", "quality", "freshness", "depth", "clarity"]


def api_hits(q):
    return "/api/search?" + urllib.parse.urlencode(
        {"q": q, "prefix": "true", "limit": 20, "facets": "false", "snippets": "false"})


SCENARIOS = {
    # Hits only; Meilisearch's default answer carries whole documents
    # (bodies included, ~8x the bytes of an /api/search answer).
    "hits, whole documents": (api_hits, lambda q: {"q": q, "limit": 20}),
    # Hits only, the same fields as an /api/search hit.
    "hits, same fields": (
        api_hits, lambda q: {"q": q, "limit": 20, "attributesToRetrieve": HIT_FIELDS}),
    # /api/search's default work: hits, the four string facets, a
    # highlighted title and a body snippet.
    "facets + highlight": (
        lambda q: "/api/search?" + urllib.parse.urlencode({"q": q, "prefix": "true", "limit": 20}),
        lambda q: {"q": q, "limit": 20, "facets": FACETS, "attributesToRetrieve": HIT_FIELDS + ["body"],
                   "attributesToHighlight": ["title"], "attributesToCrop": ["body"], "cropLength": 24},
    ),
}


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))] * 1000


for name, (api, meili) in SCENARIOS.items():
    for q in QUERIES[:3]:  # warm-up
        get(api(q))
        post("/meili/multi-search", {"queries": [{"indexUid": "posts", **meili(q)}]})
    a, m = [], []
    for i in range(N):
        q = QUERIES[i % len(QUERIES)]
        a.append(get(api(q)))
        m.append(post("/meili/multi-search", {"queries": [{"indexUid": "posts", **meili(q)}]}))
    pa50, pa99, pm50, pm99 = pct(a, 50), pct(a, 99), pct(m, 50), pct(m, 99)
    print(f"{name:22} /api/search          p50 {pa50:6.3f} ms  p99 {pa99:6.3f} ms  (n={N})")
    print(f"{name:22} /meili/multi-search  p50 {pm50:6.3f} ms  p99 {pm99:6.3f} ms  "
          f"(p50 {100 * (pm50 / pa50 - 1):+.1f}%, p99 {100 * (pm99 / pa99 - 1):+.1f}%)")
