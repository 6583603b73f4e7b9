#!/usr/bin/env bash
# The two clients a client developer would generate from openapi.json —
# openapi-python-client, and openapi-typescript + openapi-fetch checked by
# `tsc --strict` — generated afresh, unmodified, with no warning, each
# driving the whole API against a roster server on memory storage.
#
#   tests/clients/run.sh [ROSTER_BIN]
#
# The generators are pinned: tests/clients/python/requirements.txt goes into
# target/clients/python-venv (PyPI), tests/clients/typescript's
# package-lock.json into its node_modules with `npm ci` (npm). The generated
# code goes to target/clients/python and tests/clients/typescript/generated
# (git-ignored, with node_modules and build) and is never committed. A
# generator or a tsc that prints a warning fails the run.
set -euo pipefail
cd "$(dirname "$0")/../.."
here=tests/clients
BIN=${1:-target/debug/roster}
OUT=target/clients
VENV=$OUT/python-venv
[ -x "$BIN" ] || { echo "no roster binary at $BIN (cargo build first)" >&2; exit 2; }
mkdir -p "$OUT"

# ---- generators (pinned), and the clients, from the committed document
if ! cmp -s "$here/python/requirements.txt" "$VENV/requirements.txt" 2>/dev/null; then
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q -r "$here/python/requirements.txt"
  cp "$here/python/requirements.txt" "$VENV/requirements.txt"
fi
# fails on a warning: the generator's own message is printed above
quiet() { # label, expected output (a regex), command...
  local label=$1 expected=$2 output; shift 2
  output=$("$@" 2>&1) || { echo "$output" >&2; echo "$label failed" >&2; exit 1; }
  if [ -n "$(grep -Ev "$expected" <<<"$output" || true)" ]; then
    echo "$output" >&2; echo "$label printed a warning (above)" >&2; exit 1
  fi
}
rm -rf "$OUT/python/roster_client"
# the venv's bin on PATH: the generator formats its code with its own ruff
quiet openapi-python-client '^Generating ' env PATH="$PWD/$VENV/bin:$PATH" \
  "$VENV/bin/openapi-python-client" generate --path openapi.json \
  --output-path "$OUT/python/roster_client" --meta none

ts=$here/typescript
( cd "$ts" && npm ci --ignore-scripts --no-audit --no-fund --silent )
rm -rf "$ts/generated" "$ts/build"
quiet openapi-typescript '^(✨ openapi-typescript [0-9.]+|🚀 openapi\.json → .* \[[0-9.]+m?s\])$' \
  "$ts/node_modules/.bin/openapi-typescript" openapi.json -o "$ts/generated/roster.ts"
quiet 'tsc --strict --noEmit' '^$' "$ts/node_modules/.bin/tsc" --strict --noEmit -p "$ts"
quiet tsc '^$' "$ts/node_modules/.bin/tsc" -p "$ts"

# ---- a server on memory storage, on a free port, stopped on exit
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base=http://127.0.0.1:$port
python_admin=python-admin@example.com
typescript_admin=typescript-admin@example.com
log=$(mktemp)
# The rate limits are lifted far above what one run sends: a 429 is a
# documented answer, but a run that mostly meets them tests nothing else.
env -i PATH="$PATH" HOME="$HOME" ROSTER_BIND=127.0.0.1:$port ROSTER_ADMIN_EMAILS=$python_admin,$typescript_admin \
  ROSTER_RATE_LIMIT_AUTH=1000000/60 ROSTER_RATE_LIMIT_API=1000000/60 ROSTER_RATE_LIMIT_LOGIN_ACCOUNT=1000000/60 \
  ROSTER_LOG=warn "$BIN" serve >"$log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 1 100); do curl -sf "$base/health/live" >/dev/null && break; sleep 0.1; done
curl -sf "$base/health/live" >/dev/null || { cat "$log" >&2; exit 1; }

# the clients were generated from the committed document: it must be the one
# served (but for `servers`, which names the address the server listens on)
curl -sf "$base/openapi.json" | python3 -c '
import json, sys
served, committed = json.load(sys.stdin), json.load(open("openapi.json"))
served.pop("servers", None), committed.pop("servers", None)
if served != committed:
    sys.exit("openapi.json differs from what the server serves (regenerate the snapshot)")'

# ---- the flows
status=0
PYTHONPATH="$OUT/python" "$VENV/bin/python" "$here/python/flow.py" "$base" "$python_admin" || status=1
node "$ts/build/flow.js" "$base" "$typescript_admin" || status=1
[ $status = 0 ] || { echo "server log:" >&2; cat "$log" >&2; }
exit $status
