#!/usr/bin/env python3
"""Live writes: a server taking writes while it answers searches.

Starts `postsearch serve` with a write token on a free port, over a copy of
an index (`--index`) or an index built from the corpus, then for
`--seconds`: one client upserts `--batch` random posts of the corpus per
`POST /api/posts` (titles changed, so every one is an update), and
`--clients` clients send misspelt words and unfinished words with
`prefix=true`, which read each segment's vocabulary. With `--updates N`,
the first N posts of the corpus are first updated in bodies of 1,000 (the
old copies left deleted in the index's segments, which the server purges
in the background). Prints the writes (count, p50 / p99 / max ms), the
searches, every answer that was not 200, the server log's errors and
purges, the segments and deleted posts the index holds at the end and the
server's resident memory before and after (Linux).
Standard library only.

    python3 scripts/live_writes.py --bin target/release/postsearch \\
        --corpus data/sample.jsonl --seconds 40

Exits 1 when any answer was not 200.
"""
import argparse
import http.client
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

QUERIES = [
    "q=" + urllib.parse.quote("kubernets deploy"),
    "q=deploymnet",
    "q=kube&prefix=true",
    "q=databse",
    "q=conta&prefix=true",
    "q=" + urllib.parse.quote("helm chrts"),
    "q=pythn",
]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", required=True)
    ap.add_argument("--corpus", required=True, help="JSONL posts to write (the first 3,000)")
    ap.add_argument("--index", help="index to copy and serve (default: built from --corpus)")
    ap.add_argument("--seconds", type=float, default=40)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--batch", type=int, default=40)
    ap.add_argument("--updates", type=int, default=0,
                    help="posts of the corpus updated first, 1,000 per body")
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="live-writes-")
    ix = os.path.join(work, "ix")
    config = os.path.join(work, "postsearch.toml")
    with open(config, "w") as f:
        f.write('[server]\nwrite_token = "live-writes"\n')
    with open(args.corpus) as f:
        posts = [json.loads(line) for _, line in zip(range(max(3000, args.updates)), f)
                 if line.strip()]
    if args.index:
        shutil.copytree(args.index, ix)
    else:
        subprocess.run([args.bin, "--index", ix, "index", args.corpus], capture_output=True, check=True)
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    log_path = os.path.join(work, "serve.log")
    server = subprocess.Popen(
        [args.bin, "--index", ix, "serve", "--addr", f"127.0.0.1:{port}",
         "--config", config, "--no-analytics"],
        stdout=open(log_path, "w"), stderr=subprocess.STDOUT)
    try:
        for _ in range(300):
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                c.request("GET", "/healthz")
                if c.getresponse().status == 200:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        else:
            sys.exit("the server did not start: " + open(log_path).read()[-2000:])
        rss_before = memory(server.pid)
        if args.updates:
            started = time.time()
            update(port, posts[:args.updates])
            print(f"updated {args.updates} posts in {time.time() - started:.1f} s")
        result = run(port, posts[:3000], args)
        rss_after = memory(server.pid)
    finally:
        server.terminate()
        server.wait()
    segments = len([f for f in os.listdir(ix) if f.endswith(".words")])
    stats = json.loads(subprocess.run([args.bin, "--index", ix, "stats", "--json"],
                                      capture_output=True, check=True, text=True).stdout)
    errors = sum(1 for line in open(log_path) if "ERROR" in line)
    for line in open(log_path):
        if "purge" in line:
            print(line.rstrip().split("  ", 1)[-1])
    shutil.rmtree(work, ignore_errors=True)
    w = sorted(result["write_s"])
    ms = lambda q: 1000 * w[min(len(w) - 1, int(len(w) * q))] if w else 0.0
    print(f"writes {len(w)} (p50 {ms(0.5):.1f} ms, p99 {ms(0.99):.1f}, max {1000 * w[-1] if w else 0:.1f}); "
          f"searches {result['searches']}; not 200: {len(result['bad'])}; "
          f"log errors {errors}; segments at the end {segments}, "
          f"deleted posts in them {stats['deleted']}; "
          f"server RSS {rss_before[0]} -> {rss_after[0]} MiB (peak {rss_after[1]})")
    for status, body in result["bad"][:5]:
        print(f"  {status}: {body[:200]!r}")
    sys.exit(1 if result["bad"] else 0)


def memory(pid):
    """The process's resident and peak resident memory, MiB."""
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            name, _, value = line.partition(":")
            fields[name] = value.split()
    return int(fields["VmRSS"][0]) // 1024, int(fields["VmHWM"][0]) // 1024


def update(port, posts):
    """Updates `posts` (their titles changed), 1,000 per body."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    for at in range(0, len(posts), 1000):
        body = "\n".join(json.dumps({**p, "title": f"{p['title']} updated"})
                         for p in posts[at:at + 1000])
        c.request("POST", "/api/posts", body, {
            "Authorization": "Bearer live-writes", "Content-Type": "application/x-ndjson"})
        r = c.getresponse()
        text = r.read()
        if r.status != 200:
            sys.exit(f"an update answered {r.status}: {text[:300]!r}")


def run(port, posts, args):
    stop = time.time() + args.seconds
    lock = threading.Lock()
    result = {"write_s": [], "searches": 0, "bad": []}

    def writer():
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        rng = random.Random(7)
        version = 0
        while time.time() < stop:
            version += 1
            batch = rng.sample(posts, min(args.batch, len(posts)))
            body = "\n".join(json.dumps({**p, "title": f"{p['title']} rev{version}"}) for p in batch)
            started = time.time()
            c.request("POST", "/api/posts", body, {
                "Authorization": "Bearer live-writes", "Content-Type": "application/x-ndjson"})
            r = c.getresponse()
            text = r.read()
            with lock:
                result["write_s"].append(time.time() - started)
                if r.status != 200:
                    result["bad"].append((r.status, text))

    def searcher(n):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while time.time() < stop:
            c.request("GET", "/api/search?" + QUERIES[n % len(QUERIES)])
            n += 1
            r = c.getresponse()
            text = r.read()
            with lock:
                result["searches"] += 1
                if r.status != 200:
                    result["bad"].append((r.status, text))

    threads = [threading.Thread(target=writer)]
    threads += [threading.Thread(target=searcher, args=(i,)) for i in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return result


if __name__ == "__main__":
    main()
