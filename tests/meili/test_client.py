"""The real `meilisearch` Python client against postsearch's /meili API,
checked field by field against /api/search for the same query.

Usage: python3 tests/meili/test_client.py http://127.0.0.1:PORT/meili
"""

import json
import sys
import urllib.parse
import urllib.request

import meilisearch
from meilisearch.errors import MeilisearchApiError

MEILI = sys.argv[1].rstrip("/")
BASE = MEILI.rsplit("/meili", 1)[0]
passed = 0


def check(cond, msg):
    global passed
    if not cond:
        raise AssertionError(msg)
    passed += 1


def api(params):
    url = BASE + "/api/search?" + urllib.parse.urlencode(params)
    with urllib.request.urlopen(url) as r:
        return json.load(r)


def same_hits(res, ref, what):
    ids = [h["id"] for h in res["hits"]]
    want = [h["id"] for h in ref["hits"]]
    check(ids == want, f"{what}: ids {ids} != {want}")


client = meilisearch.Client(MEILI)
check(client.health() == {"status": "available"}, "health")
check(client.is_healthy(), "is_healthy")
check("pkgVersion" in client.get_version(), "version")
index = client.index("posts")
info = client.get_index("posts")
check(info.uid == "posts" and info.primary_key == "id", "get_index")
check("stack" in index.get_filterable_attributes(), "filterable attributes")
check("view_count" in index.get_sortable_attributes(), "sortable attributes")
check(index.get_settings()["filterableAttributes"], "settings")
stats = index.get_stats()
check(stats.number_of_documents > 0, "stats")
try:
    client.get_index("nope")
    check(False, "unknown index must fail")
except MeilisearchApiError as e:
    check(e.code == "index_not_found" and e.status_code == 404, f"index_not_found: {e}")

# q, limit/offset.
res = index.search("docker")
ref = api([("q", "docker"), ("prefix", "true"), ("limit", "20")])
check(res["estimatedTotalHits"] == ref["total"], "total")
check(res["limit"] == 20 and res["offset"] == 0, "default page")
same_hits(res, ref, "q")
res = index.search("docker", {"limit": 5, "offset": 5})
ref = api([("q", "docker"), ("prefix", "true"), ("limit", "5"), ("offset", "5")])
same_hits(res, ref, "offset")

# Documents: a hit is the stored post, plus top-level score parts.
doc = index.get_document(res["hits"][0]["id"])
check(doc.id == res["hits"][0]["id"], "get_document")
post = json.load(urllib.request.urlopen(BASE + "/api/posts/" + urllib.parse.quote(doc.id)))
check(res["hits"][0]["title"] == post["title"], "hit fields are the post's")
if "score" in post and "quality" in post["score"]:
    check(res["hits"][0]["quality"] == post["score"]["quality"], "quality at the top level")
try:
    index.get_document("no-such-post")
    check(False, "missing document must fail")
except MeilisearchApiError as e:
    check(e.code == "document_not_found", f"document_not_found: {e}")

# Filters, in both forms; facets. refinementList shape (OR within stack).
facets = ["stack", "tools", "difficulty", "quality"]
res = index.search(
    "",
    {
        "filter": [['stack = "django"', "stack = flask"], ["difficulty = beginner"]],
        "facets": facets,
        "limit": 10,
    },
)
ref = api(
    [
        ("q", 'difficulty:"beginner"'),
        ("facet", "stack:django"),
        ("facet", "stack:flask"),
        ("limit", "10"),
    ]
)
check(res["estimatedTotalHits"] == ref["total"] and ref["total"] > 0, "array filter total")
same_hits(res, ref, "array filter")
dist = res["facetDistribution"]
# Meilisearch counts within the filtered set: for fields without an OR
# group, that is /api/search's count.
for v, n in ref["facets"]["tools"].items():
    check(dist["tools"].get(v, 0) == n, f"tools {v}")
check(dist["difficulty"] == {"beginner": ref["total"]}, f"difficulty {dist['difficulty']}")
# For the OR-grouped field, a selected value counts as /api/search's
# (disjunctive) count; every other value counts the posts that also have
# one of the selected values, which /api/search gives as a total.
for v, n in dist["stack"].items():
    if v in ("django", "flask"):
        check(n == ref["facets"]["stack"][v], f"stack {v}")
    else:
        r = api(
            [
                ("q", f'difficulty:"beginner" stack:"{v}"'),
                ("facet", "stack:django"),
                ("facet", "stack:flask"),
                ("limit", "0"),
            ]
        )
        check(n == r["total"], f"stack {v}: {n} vs {r['total']}")
q_stats = res["facetStats"]["quality"]
qualities = [int(k) for k in dist["quality"]]
check(q_stats["min"] == min(qualities) and q_stats["max"] == max(qualities), "facetStats")
check(sum(dist["quality"].values()) <= ref["total"], "quality counts")

# The same filter as a string, with NOT, a range and IN.
res = index.search(
    "cache",
    {
        "filter": "(stack = django OR stack = flask) AND NOT difficulty = advanced AND quality 50 TO 90",
        "facets": ["tools"],
    },
)
ref = api(
    [
        ("q", '-difficulty:"advanced" quality:50..90 cache'),
        ("prefix", "true"),
        ("facet", "stack:django"),
        ("facet", "stack:flask"),
        ("limit", "20"),
    ]
)
check(res["estimatedTotalHits"] == ref["total"], "string filter total")
same_hits(res, ref, "string filter")
check(res["facetDistribution"]["tools"] == ref["facets"]["tools"], "string filter tools")
res = index.search("", {"filter": "stack IN [django, flask] AND quality >= 80", "limit": 5})
ref = api([("q", "quality:>=80"), ("facet", "stack:django"), ("facet", "stack:flask"), ("limit", "5")])
same_hits(res, ref, "IN")

# Sort and the page form.
res = index.search("", {"sort": ["view_count:desc"], "hitsPerPage": 7, "page": 3})
ref = api([("q", ""), ("sort", "views"), ("limit", "7"), ("offset", "14")])
same_hits(res, ref, "sort + page")
check(res["totalHits"] == ref["total"], "totalHits")
check(res["totalPages"] == -(-ref["total"] // 7) and res["page"] == 3 and res["hitsPerPage"] == 7, "pages")
views = [h.get("view_count", 0) for h in res["hits"]]
check(views == sorted(views, reverse=True), "views descending")
for s, ours in [("quality:desc", "quality"), ("last_reviewed:desc", "newest")]:
    same_hits(index.search("", {"sort": [s], "limit": 5}), api([("sort", ours), ("limit", "5")]), s)

# Highlighting, cropping, retrieval, ranking score.
res = index.search(
    "docker",
    {
        "attributesToHighlight": ["title"],
        "highlightPreTag": "[[",
        "highlightPostTag": "]]",
        "attributesToCrop": ["body:12"],
        "cropMarker": "~",
        "attributesToRetrieve": ["id", "title", "body"],
        "showRankingScore": True,
        "limit": 3,
    },
)
ref = api([("q", "docker"), ("prefix", "true"), ("limit", "3")])
for hit, r in zip(res["hits"], ref["hits"]):
    check(set(hit) == {"id", "title", "body", "_formatted", "_rankingScore"}, f"retrieved {set(hit)}")
    f = hit["_formatted"]
    check("[[" in f["title"] and "<mark>" not in f["title"], f"title tags {f['title']}")
    check(f["title"].replace("[[", "").replace("]]", "") == hit["title"], "formatted title is raw text")
    want = r["title_html"].replace("<mark>", "[[").replace("</mark>", "]]")
    check(f["title"] == want.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&#39;", "'"), "title marks = /api/search marks")
    check(len(f["body"]) < len(hit["body"]) and "~" in f["body"], "cropped body")
    check(0 < hit["_rankingScore"] < 1, "ranking score")
scores = [h["_rankingScore"] for h in res["hits"]]
check(scores == sorted(scores, reverse=True), "ranking scores descend")

# matchingStrategy.
for strat, mode in [("all", "all"), ("frequency", "any"), ("last", "auto")]:
    res = index.search("docker kubernetes helm", {"matchingStrategy": strat, "limit": 5})
    ref = api([("q", "docker kubernetes helm"), ("prefix", "true"), ("match", mode), ("limit", "5")])
    check(res["estimatedTotalHits"] == ref["total"], f"matchingStrategy {strat}")
    same_hits(res, ref, strat)

# multi-search, as instant-meilisearch calls it.
multi = client.multi_search(
    [
        {"indexUid": "posts", "q": "docker", "limit": 3},
        {"indexUid": "posts", "q": "", "facets": ["stack"], "limit": 0},
    ]
)
check(len(multi["results"]) == 2 and multi["results"][0]["indexUid"] == "posts", "multi-search")
same_hits(multi["results"][0], api([("q", "docker"), ("prefix", "true"), ("limit", "3")]), "multi 0")
check(multi["results"][1]["facetDistribution"]["stack"] == api([("limit", "0")])["facets"]["stack"], "multi 1 facets")

# Errors: Meilisearch codes, not silence.
for params, code in [
    ({"sort": ["title:asc"]}, "invalid_search_sort"),
    ({"sort": ["view_count:asc"]}, "invalid_search_sort"),
    ({"filter": "stack = django OR difficulty = beginner"}, "invalid_search_filter"),
    ({"filter": "colour = red"}, "invalid_search_filter"),
    ({"filter": "stack = "}, "invalid_search_filter"),
    ({"facets": ["title"]}, "invalid_search_facets"),
    ({"showMatchesPosition": True}, "invalid_search_show_matches_position"),
    ({"distinct": "stack"}, "invalid_search_distinct"),
    ({"colour": "red"}, "bad_request"),
    ({"limit": 5000}, "invalid_search_limit"),
]:
    try:
        index.search("x", params)
        check(False, f"{params} must fail")
    except MeilisearchApiError as e:
        check(e.code == code and e.status_code == 400, f"{params}: {e.code} {e}")
        check(e.link and e.type == "invalid_request", "error shape")
for call in [
    lambda: index.add_documents([{"id": "x", "title": "t"}]),
    lambda: index.delete_document("x"),
    lambda: index.update_filterable_attributes(["title"]),
    lambda: client.create_index("other"),
]:
    try:
        call()
        check(False, "writes must fail")
    except MeilisearchApiError as e:
        # 501 on routes postsearch does not have; 405 (with Allow) on the
        # ones it reads on. Either way the message says where writes go.
        check((e.code, e.status_code) in [("not_implemented", 501), ("method_not_allowed", 405)]
              and "/api/posts" in e.message, f"write: {e}")

# GET search with the parameters in the query string.
url = MEILI + "/indexes/posts/search?" + urllib.parse.urlencode(
    {"q": "docker", "limit": 4, "filter": "stack = infrastructure", "facets": "stack,tools"}
)
with urllib.request.urlopen(url) as r:
    res = json.load(r)
ref = api([("q", 'stack:"infrastructure" docker'), ("prefix", "true"), ("limit", "4")])
same_hits(res, ref, "GET search")
check(res["facetDistribution"]["tools"] == ref["facets"]["tools"], "GET facets")

print(f"meilisearch {meilisearch.version.qualified_version() if hasattr(meilisearch.version, 'qualified_version') else ''} client: {passed} passed, 0 failed")
