#!/usr/bin/env bash
# The catalog's latency while slow requests hold the whole storage pool, beside
# /health/live in the same run (issue 14, point 3). PostgreSQL at 127.0.0.1:5432
# (user postgres), no Redis; run from the project root after
# `cargo build --release`. Needs wrk, curl, psql, python3.
set -u
DB=roster_p99
psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" >/dev/null
URL="postgres://postgres@127.0.0.1:5432/$DB"
PORT=18777
DATABASE_URL=$URL ROSTER_DATABASE_POOL=4 ROSTER_BIND=127.0.0.1:$PORT ROSTER_LOG=error \
  ROSTER_RATE_LIMIT_API=100000000/60 ROSTER_RATE_LIMIT_AUTH=100000000/60 \
  target/release/roster >/tmp/p99-server.log 2>&1 &
SERVER=$!
for i in $(seq 50); do curl -sf http://127.0.0.1:$PORT/health/live >/dev/null && break; sleep 0.2; done
B=http://127.0.0.1:$PORT/api/v1
TOKEN=$(curl -s $B/auth/register -H 'content-type: application/json' -d '{"email":"p99@example.com","password":"correct horse battery staple","displayName":"P"}' | python3 -c 'import sys,json; print(json.load(sys.stdin)["data"]["accessToken"])')
measure() {
  for path in /health/live /api/v1/catalog/classes "/api/v1/catalog/items?perPage=20&search=dungeon"; do
    printf '%-50s ' "$path"
    wrk -t1 -c4 -d8s --latency "http://127.0.0.1:$PORT$path" | awk '/^ +50%/{p50=$2} /^ +99%/{p99=$2} /Requests\/sec/{r=$2} /Non-2xx/{n=$NF} END{printf "p50 %s p99 %s %s req/s non-2xx %s\n", p50, p99, r, (n==""?0:n)}'
  done
}
echo "== pool free"; measure
# Lock the characters table; 40 character lists then take every pool connection and wait.
psql -h 127.0.0.1 -U postgres -d $DB -c "BEGIN; LOCK TABLE characters IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(40); ROLLBACK;" >/dev/null 2>&1 &
LOCKER=$!
sleep 0.5
for i in $(seq 40); do curl -s -o /dev/null -m 60 -H "authorization: Bearer $TOKEN" $B/characters & done
sleep 1
echo "== pool exhausted: $(psql -h 127.0.0.1 -U postgres -d $DB -tAc "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type='Lock'") requests waiting on the lock"
measure
kill $LOCKER 2>/dev/null; wait $LOCKER 2>/dev/null
kill $SERVER; wait 2>/dev/null
