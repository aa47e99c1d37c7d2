#!/usr/bin/env python3
"""Indexing and query figures for postsearch and its peers, in one run, with
interleaved rounds (docs/performance.md gives the method and the tables).

    scripts/performance.py --corpus /tmp/real100k --corpus /tmp/gen100k \\
        --work /tmp/perf --rounds 3 --md perf.md

Each corpus is a folder with posts.jsonl and queries.tsv (kind<TAB>query:
../shared/bench/realposts.py writes both; for `postsearch generate` output,
scripts/make_queries.py writes the queries). Each round, for each corpus, in
a rotating order: SQLite FTS5 and tantivy-py index the posts (through
../shared/bench/peers.py) and postsearch indexes them into a fresh folder,
each under /usr/bin/time -v (posts/s, CPU seconds and peak RSS); then the
queries run on one thread: tantivy-py's bare AND top-10 with exact count
(peers.py variant `and`), postsearch's default answer (facets, typos, synonyms,
snippets) and postsearch bare (no facets, snippets, typos or synonyms;
every word required), both with `postsearch bench` in-process,
POSTSEARCH_INDEX_SEARCH_THREADS=1. The tables give the medians of the
rounds. Needs: a release build (--bin), python3 with tantivy==0.27.0,
/usr/bin/time, and peers.py (--peers; it lives outside the repository, in
../shared/bench, and the script says so when it is missing).
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
# realposts.py kind -> postsearch bench kind
KINDS = {"title": "title", "keywords": "keyword", "phrase": "phrase", "typo": "misspelt",
         "prefix": "prefix", "question": "question", "rare": "rare"}
BARE = "facets=false&snippets=false&typos=false&synonyms=false&match=all"


def timed(cmd, env=None):
    """Runs cmd under /usr/bin/time -v: (stdout, wall seconds, peak RSS MiB,
    CPU seconds: user + system, the whole process's)."""
    t0 = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-v"] + cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit(f"failed ({p.returncode}): {' '.join(cmd)}\n{p.stderr[-2000:]}")
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)
    cpu = [re.search(rf"{what} time \(seconds\): ([0-9.]+)", p.stderr) for what in ("User", "System")]
    cpu_s = sum(float(m.group(1)) for m in cpu) if all(cpu) else float("nan")
    return p.stdout, wall, int(rss.group(1)) / 1024 if rss else float("nan"), cpu_s


def bench_file(queries_tsv, out, bare):
    """queries.tsv -> a `postsearch bench` query file, @KIND-labelled."""
    with open(queries_tsv, encoding="utf-8") as f, open(out, "w", encoding="utf-8") as w:
        for line in f:
            kind, _, q = line.rstrip("\n").partition("\t")
            q = q.replace("?", " ").replace("#", " ").strip()
            if kind not in KINDS or not q:
                continue
            params = ["prefix=true"] if kind == "prefix" else []
            if bare:
                params.append(BARE)
            w.write(f"@{KINDS[kind]} {q}" + ("?" + "&".join(params) if params else "") + "\n")


def count_posts(path):
    with open(path, "rb") as f:
        return sum(1 for line in f if line.strip())


def index_round(args, corpus, work, posts):
    out = {}
    jsonl = os.path.join(corpus, "posts.jsonl")
    for engine in ("fts5", "tantivy"):
        dest = os.path.join(work, engine)
        shutil.rmtree(dest, ignore_errors=True)
        stdout, wall, rss, cpu_s = timed([sys.executable, args.peers, "index", engine,
                                          "--corpus", jsonl, "--index", dest])
        info = json.loads(stdout.strip().splitlines()[-1])
        out[engine] = {"posts_s": info["docs_per_s"], "rss_mib": rss,
                       "mib": info["index_bytes"] / 2**20, "cpu_s": cpu_s}
    dest = os.path.join(work, "postsearch")
    shutil.rmtree(dest, ignore_errors=True)
    _, wall, rss, cpu_s = timed([args.bin, "--index", dest, "index", jsonl])
    out["postsearch"] = {"posts_s": posts / wall, "rss_mib": rss, "mib": dir_mib(dest),
                         "cpu_s": cpu_s}
    return out


def dir_mib(path):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs) / 2**20


def query_round(args, corpus, work):
    out = {}
    stdout, _, _, _ = timed([sys.executable, args.peers, "query", "tantivy", "--index",
                             os.path.join(work, "tantivy"), "--queries",
                             os.path.join(corpus, "queries.tsv"), "--variants", "and", "--passes", "2"])
    v = json.loads(stdout.strip().splitlines()[-1])["variants"]["and"]
    out["tantivy-py"] = {"overall": (v["p50_ms"], v["p99_ms"]),
                         "kinds": {KINDS.get(k, k): s["p50_ms"] for k, s in v["per_kind"].items()}}
    env = dict(os.environ, POSTSEARCH_INDEX_SEARCH_THREADS="1")
    for name, bare in (("default", False), ("bare", True)):
        qfile = os.path.join(work, f"queries-{name}.txt")
        bench_file(os.path.join(corpus, "queries.tsv"), qfile, bare)
        stdout, _, _, _ = timed([args.bin, "--index", os.path.join(work, "postsearch"), "bench",
                                 "--queries", qfile, "--duration", str(args.duration), "--json"],
                                env=env)
        b = json.loads(stdout)
        out[name] = {"overall": (b["overall"]["p50_ms"], b["overall"]["p99_ms"]),
                     "kinds": {k: s["p50_ms"] for k, s in b["kinds"].items()}}
    return out


def cpu_model():
    """The processor's model name, as /proc/cpuinfo gives it: the ratios to
    the peers move with it (docs/performance.md, "Results")."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "processor unknown"


def spread(xs):
    """The range of the rounds' values, as 1.60–1.77×."""
    xs = [x for x in xs if x == x]
    return f"{min(xs):.2f}–{max(xs):.2f}×" if xs else "n/a"


def med(xs):
    xs = [x for x in xs if x == x]
    return statistics.median(xs) if xs else float("nan")


def table(name, posts, idx_rounds, q_rounds):
    lines = [f"### {name} ({posts:,} posts; medians of {len(idx_rounds)} rounds)", "",
             "| indexing | posts/s | CPU s (user + system) | peak RSS MiB | index MiB |",
             "|---|--:|--:|--:|--:|"]
    for eng in ("postsearch", "fts5", "tantivy"):
        label = {"fts5": "SQLite FTS5", "tantivy": "tantivy-py"}.get(eng, eng)
        lines.append(f"| {label} | {med([r[eng]['posts_s'] for r in idx_rounds]):,.0f} | "
                     f"{med([r[eng].get('cpu_s', float('nan')) for r in idx_rounds]):.2f} | "
                     f"{med([r[eng]['rss_mib'] for r in idx_rounds]):,.0f} | "
                     f"{med([r[eng]['mib'] for r in idx_rounds]):,.0f} |")
    ratios = [(r["postsearch"]["posts_s"] / r["fts5"]["posts_s"],
               r["postsearch"]["posts_s"] / r["tantivy"]["posts_s"]) for r in idx_rounds]
    lines += ["", f"postsearch / FTS5: {med([a for a, _ in ratios]):.2f}×, "
              f"postsearch / tantivy-py: {med([b for _, b in ratios]):.2f}× (medians of the rounds' ratios; "
              f"rounds {spread([a for a, _ in ratios])} and {spread([b for _, b in ratios])}). "
              "CPU s: the whole process's, a peer's Python start included; "
              "less moved by a neighbour's load than posts/s.", ""]
    lines += ["| query kind, p50 ms, one thread | default answer | bare | tantivy-py bare AND top-10 |",
              "|---|--:|--:|--:|"]
    for kind in ["title", "keyword", "phrase", "misspelt", "prefix", "question", "rare"]:
        cells = [med([r[e]["kinds"].get(kind, float("nan")) for r in q_rounds])
                 for e in ("default", "bare", "tantivy-py")]
        lines.append(f"| {kind} | " + " | ".join(f"{c:.3f}" for c in cells) + " |")
    for i, what in enumerate(("p50", "p99")):
        cells = [med([r[e]["overall"][i] for r in q_rounds]) for e in ("default", "bare", "tantivy-py")]
        lines.append(f"| **overall {what}** | " + " | ".join(f"{c:.3f}" for c in cells) + " |")
    for i, what in enumerate(("p50", "p99")):
        rs = [r["default"]["overall"][i] / r["tantivy-py"]["overall"][i] for r in q_rounds]
        lines.append(f"\ndefault answer / tantivy-py, overall {what}: {med(rs):.2f}× "
                     f"(rounds: {', '.join(f'{x:.2f}' for x in rs)})")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", action="append", required=True, help="DIR with posts.jsonl and queries.tsv")
    ap.add_argument("--work", required=True, help="scratch folder for the indexes")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=float, default=8, help="seconds per postsearch bench run")
    ap.add_argument("--bin", default=os.path.join(ROOT, "target/release/postsearch"))
    ap.add_argument("--peers", default=os.path.join(ROOT, "../shared/bench/peers.py"))
    ap.add_argument("--md", help="write the tables here too")
    ap.add_argument("--json", help="write every round's figures here")
    args = ap.parse_args()
    if not os.path.exists(args.peers):
        sys.exit(f"peers.py not found at {args.peers}: it is outside the repository "
                 "(../shared/bench); pass --peers PATH")
    if not os.path.exists(args.bin):
        sys.exit(f"{args.bin} not found: cargo build --release first")
    corpora = [(c, os.path.join(args.work, os.path.basename(c.rstrip("/"))),
                count_posts(os.path.join(c, "posts.jsonl"))) for c in args.corpus]
    results = {c: {"index": [], "query": []} for c, _, _ in corpora}
    for rnd in range(args.rounds):
        order = corpora[rnd % len(corpora):] + corpora[:rnd % len(corpora)]
        for corpus, work, posts in order:
            os.makedirs(work, exist_ok=True)
            print(f"round {rnd + 1}: {corpus}", file=sys.stderr)
            results[corpus]["index"].append(index_round(args, corpus, work, posts))
            results[corpus]["query"].append(query_round(args, corpus, work))
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    md = f"Measured {stamp}, commit {commit}, {os.cpu_count()} cores ({cpu_model()}).\n\n" + "\n".join(
        table(c, posts, results[c]["index"], results[c]["query"]) for c, _, posts in corpora)
    print(md)
    if args.md:
        with open(args.md, "w") as f:
            f.write(md)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
