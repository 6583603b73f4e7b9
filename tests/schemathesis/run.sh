#!/usr/bin/env bash
# schemathesis (property-based tests generated from the OpenAPI document)
# against a roster server, with every check, a fixed seed and a bounded
# number of examples per operation, so a run is repeatable and takes a
# minute or two.
#
#   tests/schemathesis/run.sh [ROSTER_BIN] [memory|postgres]
#
# Storage is memory, or with `postgres` a fresh database (made and dropped
# here) on the server of TEST_DATABASE_URL (default: the machine's,
# postgres://postgres@127.0.0.1:5432/test). schemathesis is installed
# at a pinned version into target/schemathesis-venv on first use (PyPI).
# The routes that end the caller's own sessions (logout, a password change,
# revoking a session) each run first with a user of their own, then
# everything else with an administrator, so that no run loses its token to
# another.
set -euo pipefail
cd "$(dirname "$0")/../.."
here=tests/schemathesis
BIN=${1:-target/debug/roster}
STORAGE=${2:-memory}
ST_VERSION=4.32.5
EXAMPLES=${ST_EXAMPLES:-25}
SEED=${ST_SEED:-20261202}
VENV=${ST_VENV:-target/schemathesis-venv}
[ -x "$BIN" ] || { echo "no roster binary at $BIN (cargo build first)" >&2; exit 2; }
if ! "$VENV/bin/st" --version 2>/dev/null | grep -q "$ST_VERSION"; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q "schemathesis==$ST_VERSION"
fi

DATABASE_URL=
if [ "$STORAGE" = postgres ]; then
  server_url=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}
  server_url=${server_url%%\?*}
  admin_url=${server_url%/*}/postgres
  database=schemathesis_$$
  psql -q "$admin_url" -c "CREATE DATABASE $database" >/dev/null
  DATABASE_URL=${server_url%/*}/$database
fi
drop_database() {
  [ -n "$DATABASE_URL" ] && psql -q "$admin_url" -c "DROP DATABASE IF EXISTS $database WITH (FORCE)" >/dev/null
  return 0
}

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base=http://127.0.0.1:$port
admin=schemathesis-admin@example.com
log=$(mktemp)
# The rate limits are lifted far above what one run sends: a 429 is a
# documented answer, but a run that mostly meets them tests nothing else.
env -i PATH="$PATH" HOME="$HOME" ROSTER_BIND=127.0.0.1:$port ROSTER_ADMIN_EMAILS=$admin \
  ROSTER_RATE_LIMIT_AUTH=1000000/60 ROSTER_RATE_LIMIT_API=1000000/60 ROSTER_RATE_LIMIT_LOGIN_ACCOUNT=1000000/60 \
  ${DATABASE_URL:+DATABASE_URL="$DATABASE_URL"} ROSTER_LOG=warn "$BIN" serve >"$log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -f "$log"; drop_database' EXIT
for _ in $(seq 1 100); do curl -sf "$base/health/live" >/dev/null && break; sleep 0.1; done
curl -sf "$base/health/live" >/dev/null || { cat "$log" >&2; exit 1; }

token() { # email -> a new user's access token
  python3 - "$base" "$1" <<'PY'
import json, sys, urllib.request
body = {"email": sys.argv[2], "password": "schemathesis pass phrase", "displayName": "Schemathesis"}
req = urllib.request.Request(sys.argv[1] + "/api/v1/auth/register", method="POST",
                             data=json.dumps(body).encode(), headers={"content-type": "application/json"})
print(json.loads(urllib.request.urlopen(req).read())["data"]["accessToken"])
PY
}
ending=(auth.logout auth.password auth.sessions.revoke)
run() { # token, selection...
  local token=$1; shift
  "$VENV/bin/st" --config-file "$here/schemathesis.toml" run "$base/openapi.json" \
    -H "Authorization: Bearer $token" --checks all -n "$EXAMPLES" --seed "$SEED" \
    --no-color "$@"
}
status=0
others=()
for operation in "${ending[@]}"; do
  run "$(token "schemathesis-$operation@example.com")" --include-operation-id "$operation" || status=1
  others+=(--exclude-operation-id "$operation")
done
run "$(token $admin)" "${others[@]}" || status=1
exit $status
