#!/usr/bin/env python3
"""How a `postsearch serve` holds up under hostile requests.

For each attack a fresh server is started on a private temp directory as cwd
(so the peak RSS, VmHWM, is that attack's own), and the script records:

  * per attacker request: HTTP status, error code from the JSON body
    (`error.code`, or Meilisearch's top-level `code`), answer bytes and
    seconds to answer;
  * probes: `GET /api/search?q=python` fired every 0.5 s while the attack
    runs (each in its own thread, so a stuck probe does not delay the next);
  * "CPU seconds after the answer": server utime+stime once it has been
    idle for 1.5 s (polled every 100 ms, capped at 40 s) minus the CPU at
    the attack's last answer -- work the server keeps doing for a client
    that already has its answer;
  * VmHWM (MB), number of 5xx answers (attacker + probes), and how long the
    server takes to exit after SIGTERM ("shutdown seconds", SIGKILL at 30 s).

Attacks: phrase250, multi50, facets10k, tags100k, zeros16m, zeros16m_posts,
filter33, longword, emptyfilter, crop_huge, slowloris, write_timeout; then a
`load` phase: 8 "normal" closed-loop searchers alone, then together with 4
closed-loop attackers sending the heaviest requests.

Writes (zeros16m_posts, write_timeout) run against a `cp -a` copy of the
index, so the given index is never modified.

Run:

    python3 scripts/attacks.py --bin target/release/postsearch --index /tmp/i100k \\
        --out /tmp/attacks.json [--port 7790] [--only phrase250,slowloris,load] \\
        [--load-seconds 30]

Standard library only.
"""
import argparse
import http.client
import json
import os
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse

HOST = "127.0.0.1"
TOKEN = "secret"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PHRASE250 = '"' + " ".join(["the"] * 250) + '"'
MEILI_SEARCH = "/meili/indexes/posts/search"
PROBE_PATH = "/api/search?q=python"
KEEP_BODY_BYTES = 8 << 20  # answers larger than this are counted, not kept
WORDS = [
    "python", "docker", "cache", "index", "thread", "memory", "kubernetes",
    "rust", "query", "error", "database", "latency", "deploy", "test",
    "logging", "security", "api", "migration", "performance", "queue",
    "postgres", "redis", "django", "react", "network", "timeout", "build",
    "monitoring", "schema", "config",
]


# --------------------------------------------------------------------------
# HTTP


def http_request(port, method, path, body=None, headers=None, timeout=60.0,
                 total_timeout=None, on_sent=None):
    """One request on a fresh connection. Returns (record, parsed JSON or None).

    `timeout` bounds every socket operation; `total_timeout` (default
    4 × timeout) bounds reading the whole answer. The record has status,
    code, bytes, seconds and, on failure, error."""
    total_timeout = total_timeout or 4 * timeout
    rec = {"status": None, "code": None, "bytes": 0, "seconds": None}
    doc = None
    t0 = time.monotonic()
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    kept = []
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        hdrs = dict(headers or {})
        if body is not None:
            hdrs.setdefault("Content-Type", "application/json")
            hdrs["Content-Length"] = str(len(body))
        for k, v in hdrs.items():
            conn.putheader(k, v)
        conn.endheaders()
        if body is not None:
            try:
                view = memoryview(body)
                for i in range(0, len(body), 1 << 20):
                    conn.send(view[i:i + (1 << 20)])
            except (BrokenPipeError, ConnectionResetError) as e:
                # the server may answer (413, 400...) before reading it all
                rec["send_error"] = repr(e)
        if on_sent:
            on_sent()
        resp = conn.getresponse()
        rec["status"] = resp.status
        ctype = resp.getheader("Content-Type", "") or ""
        size = 0
        while True:
            chunk = resp.read(1 << 20)
            if not chunk:
                break
            size += len(chunk)
            if size <= KEEP_BODY_BYTES:
                kept.append(chunk)
            if time.monotonic() - t0 > total_timeout:
                rec["error"] = "answer still streaming after %.0f s" % total_timeout
                break
        rec["bytes"] = size
        if size <= KEEP_BODY_BYTES and "json" in ctype:
            try:
                doc = json.loads(b"".join(kept))
            except ValueError:
                doc = None
        if isinstance(doc, dict):
            err = doc.get("error")
            if isinstance(err, dict) and "code" in err:
                rec["code"] = err["code"]
                rec["message"] = str(err.get("message", ""))[:300]
            elif isinstance(doc.get("code"), str):
                rec["code"] = doc["code"]
                rec["message"] = str(doc.get("message", ""))[:300]
    except Exception as e:  # timeouts, refused, reset...
        rec["error"] = repr(e)
    finally:
        conn.close()
        rec["seconds"] = round(time.monotonic() - t0, 4)
    return rec, doc


def meili_search(port, payload, timeout=60.0, **kw):
    return http_request(port, "POST", MEILI_SEARCH, json.dumps(payload).encode(),
                        timeout=timeout, **kw)


def write_headers(ctype="application/json"):
    return {"Authorization": "Bearer " + TOKEN, "Content-Type": ctype}


# --------------------------------------------------------------------------
# Server process


class Server:
    """A `postsearch serve` child process with /proc readings."""

    def __init__(self, binary, index, port, workdir, env=None):
        self.binary, self.index, self.port = binary, index, port
        self.extra_env = env or {}
        self.workdir = workdir
        self.proc = None
        self.log_path = os.path.join(workdir, "server-%d.log" % time.time_ns())
        self.shutdown_seconds = None
        self.last_wait_capped = None

    def start(self, health_timeout=120.0):
        env = {k: v for k, v in os.environ.items() if not k.startswith("POSTSEARCH_")}
        env["POSTSEARCH_SERVER_ADDR"] = "%s:%d" % (HOST, self.port)
        env["POSTSEARCH_SERVER_WRITE_TOKEN"] = TOKEN
        env.update(self.extra_env)
        env.pop("RUST_LOG", None)
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [self.binary, "--index", self.index, "serve"],
            env=env, cwd=self.workdir, stdout=self.log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + health_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("server exited with %s: %s" % (self.proc.returncode, self.log_tail()))
            rec, _ = http_request(self.port, "GET", "/healthz", timeout=2.0)
            if rec["status"] == 200:
                return
            time.sleep(0.1)
        raise RuntimeError("server not healthy after %.0f s: %s" % (health_timeout, self.log_tail()))

    def log_tail(self, n=1500):
        try:
            with open(self.log_path, "rb") as f:
                return f.read()[-n:].decode("utf-8", "replace")
        except OSError:
            return ""

    def cpu(self):
        """utime + stime in seconds."""
        with open("/proc/%d/stat" % self.proc.pid) as f:
            stat = f.read()
        fields = stat[stat.rindex(")") + 2:].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK  # fields 14, 15

    def vmhwm_mb(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
        return None

    def wait_cpu_idle(self, quiet=1.5, cap=40.0, since=None):
        """Polls CPU every 100 ms until it has not grown for `quiet` s.

        Returns (CPU seconds, when CPU last grew, in seconds after `since`
        -- default: the start of the wait)."""
        start = time.monotonic()
        since = start if since is None else since
        last, last_change = self.cpu(), start
        self.last_wait_capped = True
        while time.monotonic() - start < cap:
            time.sleep(0.1)
            now_cpu = self.cpu()
            if now_cpu > last:
                last, last_change = now_cpu, time.monotonic()
            elif time.monotonic() - last_change >= quiet:
                self.last_wait_capped = False
                break
        return last, round(last_change - since, 2)

    def send_sigterm(self):
        self.proc.send_signal(signal.SIGTERM)
        return time.monotonic()

    def wait_exit(self, t_term, cap=30.0):
        """Seconds from SIGTERM at `t_term` to exit; SIGKILL after `cap`."""
        try:
            self.proc.wait(timeout=max(0.0, cap - (time.monotonic() - t_term)))
            self.shutdown_seconds = round(time.monotonic() - t_term, 3)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self.shutdown_seconds = None  # did not exit by itself
        return self.shutdown_seconds

    def stop(self, cap=30.0):
        if self.proc is None or self.proc.poll() is not None:
            return self.shutdown_seconds
        return self.wait_exit(self.send_sigterm(), cap)

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if getattr(self, "log", None):
            self.log.close()


# --------------------------------------------------------------------------
# Probes


class Prober:
    """Fires GET /api/search?q=python every `interval` s, one thread each."""

    def __init__(self, port, interval=0.5, timeout=30.0):
        self.port, self.interval, self.timeout = port, interval, timeout
        self.results = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = []
        self._ticker = threading.Thread(target=self._tick, daemon=True)
        self.t0 = None

    def _probe(self, at):
        rec, _ = http_request(self.port, "GET", PROBE_PATH, timeout=self.timeout,
                              total_timeout=self.timeout)
        rec["at"] = round(at, 2)
        with self._lock:
            self.results.append(rec)

    def _tick(self):
        n = 0
        while not self._stop.is_set():
            at = time.monotonic() - self.t0
            t = threading.Thread(target=self._probe, args=(at,), daemon=True)
            t.start()
            self._threads.append(t)
            n += 1
            self._stop.wait(max(0.0, self.t0 + n * self.interval - time.monotonic()))

    def start(self):
        self.t0 = time.monotonic()
        self._ticker.start()
        return self

    def halt(self):
        """Stops firing new probes; those in flight go on."""
        self._stop.set()
        if self._ticker.is_alive():
            self._ticker.join()

    def stop(self):
        """Stops firing and waits for the probes in flight."""
        self.halt()
        for t in self._threads:
            t.join(self.timeout + 5)
        with self._lock:
            return sorted(self.results, key=lambda r: r["at"])


def pct(values, p):
    if not values:
        return None
    values = sorted(values)
    k = min(len(values) - 1, max(0, int(round(p / 100.0 * len(values) + 0.5)) - 1))
    return values[k]


def summarize_probes(probes):
    lat = [p["seconds"] for p in probes if p["status"] == 200]
    statuses = {}
    for p in probes:
        key = str(p["status"]) if p["status"] is not None else "error"
        statuses[key] = statuses.get(key, 0) + 1
    return {
        "count": len(probes),
        "statuses": statuses,
        "ok_p50_s": round(statistics.median(lat), 4) if lat else None,
        "ok_max_s": round(max(lat), 4) if lat else None,
        "max_s": round(max(p["seconds"] for p in probes), 4) if probes else None,
    }


def run_parallel(fns):
    """Runs callables in threads; returns their results in order."""
    out = [None] * len(fns)

    def wrap(i, f):
        try:
            out[i] = f()
        except Exception as e:
            out[i] = ({"status": None, "error": repr(e), "bytes": 0, "seconds": None}, None)

    threads = [threading.Thread(target=wrap, args=(i, f), daemon=True) for i, f in enumerate(fns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


# --------------------------------------------------------------------------
# Request shapes (shared by the attacks and the load phase)


def req_phrase250(port, timeout=120.0):
    path = "/api/search?q=" + urllib.parse.quote(PHRASE250)
    return http_request(port, "GET", path, timeout=timeout)


def req_multi50(port, timeout=120.0):
    body = {"queries": [{"indexUid": "posts", "q": PHRASE250} for _ in range(50)]}
    return http_request(port, "POST", "/meili/multi-search", json.dumps(body).encode(),
                        timeout=timeout)


def req_facets10k(port, timeout=120.0):
    return meili_search(port, {"q": "", "facets": ["stack"] * 10000}, timeout=timeout)


def req_tags100k(port, timeout=120.0):
    return meili_search(port, {
        "q": "python", "attributesToHighlight": ["*"],
        "highlightPreTag": "<" * 100000, "highlightPostTag": ">" * 100000, "limit": 20,
    }, timeout=timeout)


def zeros_body(target=16_000_000):
    n = (target - 1) // 2  # "[" + "0," * (n-1) + "0]"
    return b"[" + b"0," * (n - 1) + b"0]"


# --------------------------------------------------------------------------
# Attacks. Each takes a context and returns a dict with "requests" (the
# attacker's records) plus anything specific.


def attack_phrase250(ctx):
    rec, doc = req_phrase250(ctx.port)
    return {"requests": [rec], "total": (doc or {}).get("total")}


def attack_multi50(ctx):
    res = run_parallel([lambda: req_multi50(ctx.port)] * 2)
    return {"requests": [r for r, _ in res]}


def attack_facets10k(ctx):
    rec, _ = req_facets10k(ctx.port)
    return {"requests": [rec]}


def attack_tags100k(ctx):
    rec, _ = req_tags100k(ctx.port)
    return {"requests": [rec]}


def _zeros_with_healthz(ctx, path, headers):
    body = zeros_body()
    health = []
    sent = threading.Event()

    def healthz():
        sent.wait(180)
        for _ in range(5):
            rec, _ = http_request(ctx.port, "GET", "/healthz", timeout=30.0)
            rec["at"] = round(time.monotonic() - t0, 3)
            health.append(rec)
            time.sleep(0.1)

    h = threading.Thread(target=healthz, daemon=True)
    h.start()
    t0 = time.monotonic()
    rec, _ = http_request(ctx.port, "POST", path, body, headers=headers, timeout=120.0,
                          on_sent=sent.set)
    sent.set()
    h.join(200)
    ctx.extra_5xx += sum(1 for r in health if (r["status"] or 0) >= 500)
    return {
        "requests": [rec], "body_bytes": len(body), "healthz": health,
        "healthz_max_s": max((r["seconds"] for r in health), default=None),
        "healthz_during_request": sum(1 for r in health if r["at"] <= rec["seconds"]),
    }


def attack_zeros16m(ctx):
    return _zeros_with_healthz(ctx, MEILI_SEARCH, {"Content-Type": "application/json"})


def attack_zeros16m_posts(ctx):
    return _zeros_with_healthz(ctx, "/api/posts", write_headers())


def attack_filter33(ctx):
    cond = " AND ".join(['difficulty != "nonexistent"'] * 32 + ["stack = django"])
    rec, doc = meili_search(ctx.port, {"q": "", "filter": cond, "limit": 0})
    ref, ref_doc = meili_search(ctx.port, {"q": "", "filter": "stack = django", "limit": 0})
    hits = (doc or {}).get("estimatedTotalHits")
    ref_hits = (ref_doc or {}).get("estimatedTotalHits")
    return {"requests": [rec], "estimatedTotalHits": hits, "reference_hits": ref_hits,
            "reference": ref, "same_as_reference": hits == ref_hits}


def attack_longword(ctx):
    word = ("0123456789abcdef" * 4)[:60]
    rec, doc = http_request(ctx.port, "GET", "/api/search?q=" + word, timeout=120.0)
    total = (doc or {}).get("total")
    return {"requests": [rec], "total": total, "matches_nothing": total == 0}


def attack_emptyfilter(ctx):
    rec, doc = meili_search(ctx.port, {"q": "", "filter": 'stack = ""', "limit": 0})
    return {"requests": [rec], "estimatedTotalHits": (doc or {}).get("estimatedTotalHits")}


def attack_crop_huge(ctx):
    rec, doc = meili_search(ctx.port, {"q": "python", "attributesToCrop": ["body"],
                                       "cropLength": 2305843009213693953}, timeout=120.0)
    return {"requests": [rec], "estimatedTotalHits": (doc or {}).get("estimatedTotalHits")}


def attack_slowloris(ctx, n_conns=260, probe_seconds=12.0):
    """Trickles 1 body byte a second on `n_conns` connections, probes for
    `probe_seconds`, then SIGTERMs the server while trickling goes on."""
    body = (b'{"q":"python"}').ljust(100, b" ")
    head = ("POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
            "Content-Length: %d\r\n\r\n" % (MEILI_SEARCH, HOST, ctx.port, len(body))).encode()
    t0 = time.monotonic()
    conns = []  # dicts: sock, sent, status, closed_at, answered_at, bytes
    for _ in range(n_conns):
        c = {"sent": 0, "status": None, "closed_at": None, "answered_at": None,
             "bytes": 0, "error": None, "buf": b""}
        try:
            s = socket.create_connection((HOST, ctx.port), timeout=5.0)
            s.sendall(head)
            s.setblocking(False)
            c["sock"] = s
        except OSError as e:
            c["sock"], c["error"], c["closed_at"] = None, "connect: " + repr(e), 0.0
        conns.append(c)
    connect_s = round(time.monotonic() - t0, 3)
    stop = threading.Event()

    def close(c, why=None):
        if c["sock"] is not None:
            try:
                c["sock"].close()
            except OSError:
                pass
            c["sock"] = None
            c["closed_at"] = round(time.monotonic() - t0, 2)
            if why and not c["error"]:
                c["error"] = why

    def pump_reads(wait):
        live = [c for c in conns if c["sock"] is not None]
        if not live:
            time.sleep(wait)
            return
        r, _, _ = select.select([c["sock"] for c in live], [], [], wait)
        by_sock = {c["sock"]: c for c in live}
        for s in r:
            c = by_sock[s]
            try:
                data = s.recv(65536)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError as e:
                close(c, "recv: " + repr(e))
                continue
            if not data:
                close(c, None if c["status"] else "closed without answer")
                continue
            c["bytes"] += len(data)
            if c["status"] is None:
                c["buf"] += data
                line = c["buf"].split(b"\r\n", 1)[0]
                if b"\r\n" in c["buf"]:
                    try:
                        c["status"] = int(line.split()[1])
                    except (IndexError, ValueError):
                        c["status"] = -1
                    c["answered_at"] = round(time.monotonic() - t0, 2)

    def trickle():
        while not stop.is_set():
            tick = time.monotonic()
            for c in conns:
                # an attacker that never reads: keep trickling after an answer
                if c["sock"] is not None and c["sent"] < len(body):
                    try:
                        c["sock"].send(body[c["sent"]:c["sent"] + 1])
                        c["sent"] += 1
                    except (BlockingIOError, InterruptedError):
                        pass
                    except OSError as e:
                        close(c, "send: " + repr(e))
            while not stop.is_set() and time.monotonic() - tick < 1.0:
                pump_reads(min(0.1, max(0.0, 1.0 - (time.monotonic() - tick))))

    tr = threading.Thread(target=trickle, daemon=True)
    tr.start()
    time.sleep(probe_seconds)
    ctx.cpu_at_last_answer = ctx.server.cpu()
    probes = ctx.prober.stop()
    ctx.prober = None
    ctx.probes = probes
    ctx.vmhwm_mb = ctx.server.vmhwm_mb()
    open_at_term = sum(1 for c in conns if c["sock"] is not None)
    t_term = ctx.server.send_sigterm()
    shutdown = ctx.server.wait_exit(t_term, cap=30.0)
    stop.set()
    tr.join(10)
    for c in conns:
        close(c)
    requests = []
    for c in conns:
        requests.append({"status": c["status"], "code": None, "bytes": c["bytes"],
                         "seconds": c["answered_at"], "closed_at": c["closed_at"],
                         "body_bytes_sent": c["sent"], "error": c["error"]})
    statuses = {}
    for r in requests:
        k = str(r["status"]) if r["status"] is not None else "no answer"
        statuses[k] = statuses.get(k, 0) + 1
    answered = [r["seconds"] for r in requests if r["seconds"] is not None]
    return {
        "requests": requests, "connect_seconds": connect_s, "connection_statuses": statuses,
        "first_answer_s": min(answered) if answered else None,
        "open_at_sigterm": open_at_term, "shutdown_seconds": shutdown,
        "shutdown_note": "SIGTERM sent %.1f s in, trickling continued" % probe_seconds,
        "self_stopped": True,
    }


def attack_write_timeout(ctx, n_posts=200_000):
    lines = ['{"id":"wt-%d","title":"write timeout post %d","body":"small body %d"}' % (i, i, i)
             for i in range(n_posts)]
    body = ("\n".join(lines) + "\n").encode()
    rec, doc = http_request(ctx.port, "POST", "/api/posts", body,
                            headers=write_headers("application/x-ndjson"), timeout=300.0)
    ctx.cpu_at_last_answer = ctx.server.cpu()
    ctx.t_last_answer = time.monotonic()
    ctx.prober.halt()  # probes would keep the CPU from looking idle
    ctx.cpu_idle_override = ctx.server.wait_cpu_idle(cap=120.0, since=ctx.t_last_answer)
    last, _ = http_request(ctx.port, "GET", "/api/posts/wt-%d" % (n_posts - 1), timeout=30.0)
    first, _ = http_request(ctx.port, "GET", "/api/posts/wt-0", timeout=30.0)
    search, sdoc = http_request(ctx.port, "GET", "/api/search?q=%22write+timeout+post%22&limit=1",
                                timeout=30.0)
    applied = last["status"] == 200 or first["status"] == 200
    return {
        "requests": [rec], "body_bytes": len(body), "answer": doc if rec["bytes"] < 4096 else None,
        "lookup_last_status": last["status"], "lookup_first_status": first["status"],
        "search_total_after": (sdoc or {}).get("total"),
        # were the posts there once the server was idle? (meaningful as
        # "despite the answer" when the answer was not a 200)
        "applied_after_answer": applied,
        "answer_was_failure": rec["status"] != 200,
    }


# Attacks run against a server with other limits: the big write under a
# 1 s time limit, so that the write takes longer than the limit.
SERVER_ENV = {"write_timeout": {"POSTSEARCH_LIMITS_REQUEST_TIMEOUT_MS": "1000"}}

ATTACKS = [
    ("phrase250", attack_phrase250, False),
    ("multi50", attack_multi50, False),
    ("facets10k", attack_facets10k, False),
    ("tags100k", attack_tags100k, False),
    ("zeros16m", attack_zeros16m, False),
    ("zeros16m_posts", attack_zeros16m_posts, True),
    ("filter33", attack_filter33, False),
    ("longword", attack_longword, False),
    ("emptyfilter", attack_emptyfilter, False),
    ("crop_huge", attack_crop_huge, False),
    ("slowloris", attack_slowloris, False),
    ("write_timeout", attack_write_timeout, True),
]


# --------------------------------------------------------------------------
# Runner


class Ctx:
    def __init__(self, port, server, prober):
        self.port, self.server, self.prober = port, server, prober
        self.cpu_at_last_answer = None
        self.t_last_answer = None
        self.cpu_idle_override = None
        self.probes = None
        self.vmhwm_mb = None
        self.extra_5xx = 0


def copy_index(index, workdir):
    dst = os.path.join(workdir, "index-copy")
    subprocess.run(["cp", "-a", index, dst], check=True)
    return dst


def run_attack(name, fn, writable, args, workdir):
    out = {"name": name}
    index = args.index
    copy = None
    server = None
    prober = None
    try:
        if writable:
            copy = index = copy_index(args.index, workdir)
        server = Server(args.bin, index, args.port, workdir, SERVER_ENV.get(name))
        server.start()
        cpu0 = server.cpu()
        out["cpu_baseline_s"] = cpu0
        prober = Prober(args.port).start()
        ctx = Ctx(args.port, server, prober)
        t0 = time.monotonic()
        try:
            result = fn(ctx)
        finally:
            if ctx.prober is not None:
                if ctx.cpu_at_last_answer is None:
                    ctx.cpu_at_last_answer = server.cpu()
                    ctx.t_last_answer = time.monotonic()
                ctx.prober.halt()
        out["attack_seconds"] = round(time.monotonic() - t0, 3)
        out.update({k: v for k, v in result.items() if k != "self_stopped"})
        cpu_last = ctx.cpu_at_last_answer
        if result.get("self_stopped"):
            out["cpu_after_answer_s"] = None
            out["cpu_during_attack_s"] = round(cpu_last - cpu0, 2)
            out["vmhwm_mb"] = ctx.vmhwm_mb
        else:
            if ctx.cpu_idle_override:
                cpu_end, waited = ctx.cpu_idle_override
            else:
                cpu_end, waited = server.wait_cpu_idle(since=ctx.t_last_answer)
            if ctx.prober is not None:
                ctx.probes = ctx.prober.stop()
            out["cpu_during_attack_s"] = round(cpu_last - cpu0, 2)
            out["cpu_after_answer_s"] = round(cpu_end - cpu_last, 2)
            out["cpu_busy_until_s_after_answer"] = waited
            out["cpu_still_busy_at_cap"] = server.last_wait_capped
            out["vmhwm_mb"] = server.vmhwm_mb()
            out["shutdown_seconds"] = server.stop()
        out["probes"] = summarize_probes(ctx.probes)
        out["probe_records"] = ctx.probes
        fivexx = sum(1 for r in out["requests"] if (r.get("status") or 0) >= 500)
        fivexx += sum(1 for p in ctx.probes if (p["status"] or 0) >= 500)
        out["count_5xx"] = fivexx + ctx.extra_5xx
    except Exception as e:
        out["exception"] = repr(e)
        out["traceback"] = traceback.format_exc()
        if prober is not None and not prober._stop.is_set():
            try:
                prober.stop()
            except Exception:
                pass
    finally:
        if server is not None:
            out["server_exit_code"] = server.proc.poll() if server.proc else None
            server.kill()
            out["server_log_tail"] = server.log_tail(600)
        if copy:
            shutil.rmtree(copy, ignore_errors=True)
    return out


# --------------------------------------------------------------------------
# Load phase


def closed_loop(port, n_threads, seconds, make_request, stop_at):
    """n_threads each sending make_request(i) back to back until stop_at."""
    recs = []
    lock = threading.Lock()

    def worker(w):
        i = w
        while time.monotonic() < stop_at:
            kind, rec = make_request(i)
            rec = {"kind": kind, "status": rec["status"], "code": rec["code"],
                   "seconds": rec["seconds"], "bytes": rec["bytes"]}
            with lock:
                recs.append(rec)
            i += n_threads

    threads = [threading.Thread(target=worker, args=(w,), daemon=True) for w in range(n_threads)]
    for t in threads:
        t.start()
    return threads, recs


def normal_request(port):
    def make(i):
        word = WORDS[i % len(WORDS)]
        rec, _ = http_request(port, "GET", "/api/search?q=" + word, timeout=60.0)
        return "normal", rec
    return make


PHRASE32 = '"' + " ".join(["the"] * 32) + '"'
# 32 common words: the most terms one query may hold.
WORDS32 = ("the and for with that this from when what how why use using error python "
           "data file code server time test build run config memory cache query index "
           "thread docker deploy async")


def req_multi64_phrase32(port, timeout=120.0):
    body = {"queries": [{"indexUid": "posts", "q": PHRASE32} for _ in range(64)]}
    return http_request(port, "POST", "/meili/multi-search", json.dumps(body).encode(),
                        timeout=timeout)


def req_meili_heavy(port, timeout=120.0):
    return meili_search(port, {
        "q": WORDS32, "facets": ["*"], "attributesToHighlight": ["*"],
        "highlightPreTag": "<" * 256, "highlightPostTag": ">" * 256,
        "attributesToCrop": ["body"], "cropLength": 1000, "limit": 100,
    }, timeout=timeout)


def req_api_heavy(port, timeout=120.0):
    path = "/api/search?limit=100&prefix=true&q=" + urllib.parse.quote(WORDS32)
    return http_request(port, "GET", path, timeout=timeout)


def req_phrase32(port, timeout=120.0):
    return http_request(port, "GET", "/api/search?q=" + urllib.parse.quote(PHRASE32),
                        timeout=timeout)


# The attacker's requests in the load phase. `over-limits`: the heaviest
# requests of the first measurement (the new limits refuse them at once).
# `within-limits`: the heaviest requests the new default limits still
# accept, which every version runs in full (a fair before/after).
MIXES = {
    "over-limits": [("phrase250", req_phrase250), ("multi50", req_multi50),
                    ("facets10k", req_facets10k), ("tags100k", req_tags100k)],
    "within-limits": [("multi64_phrase32", req_multi64_phrase32),
                      ("meili_heavy", req_meili_heavy), ("api_heavy", req_api_heavy),
                      ("phrase32", req_phrase32)],
}
MIX = "over-limits"


def attacker_request(port):
    shapes = MIXES[MIX]

    def make(i):
        kind, f = shapes[i % len(shapes)]
        rec, _ = f(port, timeout=120.0)
        return kind, rec
    return make


def summarize_load(recs):
    """Latency percentiles are over the 200 answers only."""
    lat = [r["seconds"] for r in recs if r["status"] == 200]
    codes = {}
    for r in recs:
        if r["code"]:
            codes[r["code"]] = codes.get(r["code"], 0) + 1
    statuses = {}
    for r in recs:
        k = str(r["status"]) if r["status"] is not None else "error"
        statuses[k] = statuses.get(k, 0) + 1
    return {
        "count": len(recs),
        "ok": len(lat),
        "p50_s": round(pct(lat, 50), 4) if lat else None,
        "p99_s": round(pct(lat, 99), 4) if lat else None,
        "max_s": round(max(lat), 4) if lat else None,
        "count_503": statuses.get("503", 0),
        "count_other_non200": sum(v for k, v in statuses.items() if k not in ("200", "503")),
        "statuses": statuses,
        "codes": codes,
    }


def run_load(args, workdir):
    out = {"name": "load", "seconds_each": args.load_seconds}
    server = Server(args.bin, args.index, args.port, workdir)
    try:
        server.start()
        secs = args.load_seconds
        cpu0 = server.cpu()
        stop_at = time.monotonic() + secs
        threads, recs = closed_loop(args.port, 8, secs, normal_request(args.port), stop_at)
        for t in threads:
            t.join()
        out["normal_alone"] = summarize_load(recs)
        out["cpu_normal_alone_s"] = round(server.cpu() - cpu0, 2)
        server.wait_cpu_idle()

        cpu1 = server.cpu()
        stop_at = time.monotonic() + secs
        n_threads, n_recs = closed_loop(args.port, 8, secs, normal_request(args.port), stop_at)
        a_threads, a_recs = closed_loop(args.port, 4, secs, attacker_request(args.port), stop_at)
        for t in n_threads:
            t.join()
        normal_done = time.monotonic()
        for t in a_threads:
            t.join()
        out["attackers_tail_s"] = round(time.monotonic() - normal_done, 2)
        out["normal_with_attackers"] = summarize_load(n_recs)
        by_kind = {}
        for r in a_recs:
            by_kind.setdefault(r["kind"], []).append(r)
        out["attacker"] = summarize_load(a_recs)
        out["attacker"]["by_kind"] = {k: summarize_load(v) for k, v in by_kind.items()}
        cpu_last, t_last = server.cpu(), time.monotonic()
        cpu_end, waited = server.wait_cpu_idle(since=t_last)
        out["cpu_busy_until_s_after_answer"] = waited
        out["cpu_still_busy_at_cap"] = server.last_wait_capped
        out["cpu_with_attackers_s"] = round(cpu_last - cpu1, 2)
        out["cpu_after_answer_s"] = round(cpu_end - cpu_last, 2)
        out["vmhwm_mb"] = server.vmhwm_mb()
        out["shutdown_seconds"] = server.stop()
    except Exception as e:
        out["exception"] = repr(e)
        out["traceback"] = traceback.format_exc()
    finally:
        server.kill()
        out["server_log_tail"] = server.log_tail(600)
    return out


# --------------------------------------------------------------------------
# Report


def fmt(v, nd=2):
    if v is None:
        return "-"
    if isinstance(v, float):
        return ("%%.%df" % nd) % v
    return str(v)


def short_statuses(requests):
    counts = {}
    for r in requests:
        k = str(r.get("status")) if r.get("status") is not None else "ERR"
        if r.get("code"):
            k += ":" + r["code"]
        counts[k] = counts.get(k, 0) + 1
    return " ".join("%s%s" % (k, "×%d" % v if v > 1 else "") for k, v in sorted(counts.items()))


def note_for(r):
    n = r["name"]
    if "exception" in r:
        return "EXCEPTION " + r["exception"][:60]
    if n in ("phrase250",):
        return "total=%s" % fmt(r.get("total"))
    if n in ("zeros16m", "zeros16m_posts"):
        return "healthz max %s s (%s during req)" % (fmt(r.get("healthz_max_s"), 3),
                                                    r.get("healthz_during_request"))
    if n == "filter33":
        return "hits=%s vs %s alone" % (r.get("estimatedTotalHits"), r.get("reference_hits"))
    if n == "longword":
        return "total=%s" % r.get("total")
    if n in ("emptyfilter", "crop_huge"):
        return "estimatedTotalHits=%s" % r.get("estimatedTotalHits")
    if n == "slowloris":
        return "conns %s; open at TERM %s" % (
            " ".join("%s×%d" % kv for kv in sorted(r.get("connection_statuses", {}).items())),
            r.get("open_at_sigterm"))
    if n == "write_timeout":
        return "applied_after_answer=%s (answer %s)" % (r.get("applied_after_answer"),
                                                       short_statuses(r.get("requests", [])))
    return ""


def print_table(results):
    head = ("attack", "attacker answers", "ans s", "ans MB", "probe p50/max s", "probe st",
            "CPU after", "HWM MB", "5xx", "stop s", "notes")
    rows = [head]
    for r in results:
        if r["name"] == "load":
            continue
        reqs = r.get("requests", [])
        secs = [q["seconds"] for q in reqs if q.get("seconds") is not None]
        mb = sum(q.get("bytes") or 0 for q in reqs) / 1e6
        pr = r.get("probes", {})
        rows.append((
            r["name"],
            short_statuses(reqs) if r["name"] != "slowloris" else "%d conns" % len(reqs),
            fmt(max(secs) if secs else None),
            fmt(mb, 2),
            "%s/%s" % (fmt(pr.get("ok_p50_s"), 3), fmt(pr.get("max_s"), 2)),
            " ".join("%s×%d" % kv for kv in sorted(pr.get("statuses", {}).items())),
            (">=" if r.get("cpu_still_busy_at_cap") else "") + fmt(r.get("cpu_after_answer_s")),
            fmt(r.get("vmhwm_mb"), 0),
            fmt(r.get("count_5xx")),
            fmt(r.get("shutdown_seconds")),
            note_for(r),
        ))
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(head))]
    for j, row in enumerate(rows):
        print("  ".join(str(c).ljust(widths[i]) for i, c in enumerate(row)).rstrip())
        if j == 0:
            print("  ".join("-" * w for w in widths))
    for r in results:
        if r["name"] != "load":
            continue
        print()
        if "exception" in r:
            print("load: EXCEPTION", r["exception"])
            continue
        print("load (%s s each)          count   p50 s    p99 s    503  other-non200" % r["seconds_each"])
        for label, key in (("normal alone", "normal_alone"),
                           ("normal + 4 attackers", "normal_with_attackers"),
                           ("attackers", "attacker")):
            s = r.get(key) or {}
            print("  %-22s %6s  %7s  %7s  %5s  %s" % (label, s.get("count"), fmt(s.get("p50_s"), 4),
                                                   fmt(s.get("p99_s"), 4), s.get("count_503"),
                                                   s.get("count_other_non200")))
        a = r.get("attacker") or {}
        for kind, s in sorted((a.get("by_kind") or {}).items()):
            print("    attacker %-11s statuses %s" % (kind, s["statuses"]))
        if a.get("codes"):
            print("    attacker error codes:", a["codes"])
        codes = (r.get("normal_with_attackers") or {}).get("codes")
        if codes:
            print("    normal error codes (with attackers):", codes)
        print("  CPU after answer %s%s s (busy until %s s after), VmHWM %s MB, shutdown %s s" % (
            ">=" if r.get("cpu_still_busy_at_cap") else "", fmt(r.get("cpu_after_answer_s")),
            fmt(r.get("cpu_busy_until_s_after_answer")), fmt(r.get("vmhwm_mb"), 0), fmt(r.get("shutdown_seconds"))))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", required=True, help="postsearch binary")
    ap.add_argument("--index", required=True, help="index directory (never written to)")
    ap.add_argument("--port", type=int, default=7790)
    ap.add_argument("--out", default="attacks.json")
    ap.add_argument("--only", default="", help="comma-separated attack names (and/or `load`)")
    ap.add_argument("--load-seconds", type=float, default=30.0)
    ap.add_argument("--mix", default="over-limits", choices=sorted(MIXES),
                    help="the attacker's requests in the load phase")
    args = ap.parse_args()
    global MIX
    MIX = args.mix
    args.bin = os.path.abspath(args.bin)
    args.index = os.path.abspath(args.index)
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    known = {n for n, _, _ in ATTACKS} | {"load"}
    if only - known:
        ap.error("unknown names: %s (known: %s)" % (", ".join(sorted(only - known)),
                                                    ", ".join(sorted(known))))

    results = []
    meta = {"bin": args.bin, "index": args.index, "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="attacks-") as workdir:
        for name, fn, writable in ATTACKS:
            if only and name not in only:
                continue
            print("== %s" % name, file=sys.stderr, flush=True)
            results.append(run_attack(name, fn, writable, args, workdir))
            r = results[-1]
            print("   %s" % (r.get("exception") or "%s; probes %s; CPU after %s s" % (
                short_statuses(r.get("requests", []))[:120],
                r.get("probes", {}).get("statuses"), r.get("cpu_after_answer_s"))),
                file=sys.stderr, flush=True)
            time.sleep(0.5)
        if not only or "load" in only:
            print("== load", file=sys.stderr, flush=True)
            results.append(run_load(args, workdir))
    with open(args.out, "w") as f:
        json.dump({"meta": meta, "results": {r["name"]: r for r in results}}, f, indent=1)
    print_table(results)
    print("\nCPU after = server CPU seconds from the last answer until idle for 1.5 s"
          " ('>=': still busy at the 40 s cap); probe p50 over 200s; stop s = SIGTERM to exit.")
    print("written", args.out)


if __name__ == "__main__":
    main()
