#!/usr/bin/env bash
# Property-based tests of the HTTP API against its OpenAPI description
# (schemathesis, https://schemathesis.readthedocs.io).
#
#   scripts/schemathesis.sh [POSTSEARCH_BINARY]     (default target/release/postsearch)
#
# Builds an index of data/sample.jsonl in a temporary directory, serves it on a
# free port with a write token, and runs every schemathesis check against the
# document the server serves at /openapi.json (docs/openapi.json when that
# answers 404). Exits non-zero on any failure; the server is always stopped.
#
# Needs curl and schemathesis 4 (`python3 -m pip install schemathesis`; with
# Python 3.11, 3.12+ avoids a CPython `ast` SystemError inside hypothesis when
# running with several workers). Environment: SCHEMATHESIS (the command),
# ST_MAX_TIME (seconds, default 150), ST_WORKERS (default 2), ST_SEED.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$root/target/release/postsearch}
[ -x "$bin" ] || { echo "no postsearch binary at $bin (cargo build --release)" >&2; exit 2; }
bin=$(realpath "$bin")
st=${SCHEMATHESIS:-schemathesis}
token=st-$RANDOM$RANDOM
tmp=$(mktemp -d)
server=""
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# A small index, and a free port.
"$bin" --index "$tmp/index" index "$root/data/sample.jsonl" >"$tmp/index.log" 2>&1 || { cat "$tmp/index.log"; exit 1; }
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base=http://127.0.0.1:$port

# Serve from the temporary directory, so no ./postsearch.toml is read.
# Clicks on (they are off by default), so that POST /api/analytics/click is
# exercised, not only refused; GET /api/analytics takes the write token.
(cd "$tmp" && POSTSEARCH_SERVER_WRITE_TOKEN=$token POSTSEARCH_ANALYTICS_CLICKS=true exec "$bin" serve --index "$tmp/index" --addr "127.0.0.1:$port") >"$tmp/server.log" 2>&1 &
server=$!
for _ in $(seq 100); do
  curl -sf "$base/healthz" >/dev/null && break
  kill -0 "$server" 2>/dev/null || { cat "$tmp/server.log"; exit 1; }
  sleep 0.1
done
curl -sf "$base/healthz" >/dev/null || { echo "the server did not answer /healthz" >&2; exit 1; }

# The document the server serves, or the repository's when it serves none.
spec=$tmp/openapi.json
exclude=()
case $(curl -s -o "$spec" -w '%{http_code}' "$base/openapi.json") in
  200) ;;
  404) cp "$root/docs/openapi.json" "$spec"; exclude=(--exclude-path /openapi.json) ;;
  *) echo "GET /openapi.json failed" >&2; exit 1 ;;
esac

# JSONL bodies of POST /api/posts (application/x-ndjson) are sent as text.
cat >"$tmp/hooks.py" <<'EOF'
import json
import schemathesis

@schemathesis.serializer("application/x-ndjson")
def ndjson(ctx, value):
    return value.encode() if isinstance(value, str) else json.dumps(value).encode()
EOF
# Every check runs (schemathesis' default), with these deliberate exceptions:
# POST /api/posts answers 200 to any body and lists the posts it could not
# read in `rejected` (a batch may be partly valid), so schema-violating
# bodies are not refused with a 4xx, and stateful sequences (which follow
# POST /api/posts to the post's own routes) use schema-valid data only.
cat >"$tmp/schemathesis.toml" <<EOF
hooks = "$tmp/hooks.py"

[phases.stateful]
generation.mode = "positive"

[[operations]]
include-path = "/api/posts"
include-method = "POST"
checks.negative_data_rejection.enabled = false

# A Meilisearch filter that is well-formed but that postsearch cannot
# evaluate (two OR groups on one attribute, OR across attributes...) is a
# 400 invalid_search_filter that says why (docs/meilisearch.md); no schema
# can tell those filters apart, so "valid data is accepted" is not checked
# on the operations that take a filter.
[[operations]]
include-path-regex = "^/meili/(indexes/[^/]+/(search|facet-search)|multi-search)$"
checks.positive_data_acceptance.enabled = false

# A query string longer than hyper reads (a request line of ~100 KB) is
# refused with 414 URI Too Long before postsearch sees it; schemathesis
# does not count 414 as a rejection of invalid data.
[[operations]]
include-path-regex = "^/meili/indexes/[^/]+/search$"
include-method = "GET"
checks.negative_data_rejection.enabled = false
EOF

"$st" --config-file "$tmp/schemathesis.toml" run "$spec" \
  --url "$base" \
  -H "Authorization: Bearer $token" \
  --workers "${ST_WORKERS:-2}" \
  --max-examples 100 \
  --max-time "${ST_MAX_TIME:-150}" \
  ${ST_SEED:+--seed "$ST_SEED"} \
  "${exclude[@]}"
