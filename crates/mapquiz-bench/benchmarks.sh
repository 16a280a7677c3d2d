#!/usr/bin/env bash
# Runs every scenario of BENCHMARKS.md on this machine and writes its JSON summaries and SVG plots into
# benchmarks/ (at the repository's root): the release server on SQLite and on PostgreSQL, the machine's
# ceilings in the same run (a bare axum handler, pgbench's SELECT 1), sockets, lobbies, pushes and the
# original maintenance plan's Artillery test.
#
#   crates/mapquiz-bench/benchmarks.sh              # everything (about 20 minutes)
#   ONLY="http ceiling" crates/mapquiz-bench/benchmarks.sh
#
# Settings (environment): PG_ADMIN_URL (default postgres://postgres@127.0.0.1:5432/postgres), SECS (20),
# CONNS (50), ARTILLERY_SECS (300), SOCKETS (19800), OUT (benchmarks). Run it on a quiet machine: the server,
# the database and the load generator share its cores, and anything else running shows in the figures.
set -euo pipefail
cd "$(dirname "$0")/../.."

PG_ADMIN_URL=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
PG_BENCH_URL=${PG_ADMIN_URL%/*}/mapquiz_bench
SECS=${SECS:-20}
CONNS=${CONNS:-50}
ARTILLERY_SECS=${ARTILLERY_SECS:-300}
SOCKETS=${SOCKETS:-19800}
OUT=${OUT:-benchmarks}
ONLY=${ONLY:-"http ceiling artillery ws lobbies friends"}
PORT=3100
CEILING_PORT=3900

mkdir -p "$OUT"
work=$(mktemp -d /tmp/mapquiz-bench.XXXXXX)
trap 'stop_server; kill "${ceiling_pid:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT

# 20,000 sockets need as many descriptors on each side, and a few hundred more.
ulimit -Hn 200000 2>/dev/null || true
ulimit -n "$(ulimit -Hn)"

cargo build --release --locked -p mapquiz-server -p mapquiz-bench
cp target/release/mapquiz target/release/mapquiz-bench "$work/"
bench="$work/mapquiz-bench"

wants() { [[ " $ONLY " == *" $1 "* ]]; }

server_pid=
start_server() { # database-url-or-empty log-name
  local dir="$work/server-$2"
  mkdir -p "$dir"
  (
    cd "$dir"
    export MAPQUIZ_ARGON2_MEMORY_KIB=1024 MAPQUIZ_ARGON2_ITERATIONS=1 MAPQUIZ_RATE_LIMIT_ENABLED=false \
      MAPQUIZ_WS_RATE_MAX=1000000 MAPQUIZ_WS_ABUSE_MAX=1000000 MAPQUIZ_LOBBY_FAIR_PLAY_FLOOR_MS=100 \
      PORT=$PORT RUST_LOG=${RUST_LOG:-info}
    if [ -n "$1" ]; then export DATABASE_URL=$1; fi
    exec "$work/mapquiz" serve >"$dir/log" 2>&1
  ) &
  server_pid=$!
  for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "the server did not start; its log:" >&2
  cat "$dir/log" >&2
  return 1
}

stop_server() {
  if [ -n "${server_pid:-}" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=
  fi
}

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
anon_kib() { awk '/^RssAnon:/ {print $2}' "/proc/$1/status"; }

fresh_pg() {
  psql "$PG_ADMIN_URL" -qc 'DROP DATABASE IF EXISTS mapquiz_bench WITH (FORCE)' -c 'CREATE DATABASE mapquiz_bench'
}

http_runs() { # backend
  local backend=$1 url=http://127.0.0.1:$PORT
  echo "== idle: RSS $(rss_kib "$server_pid") KiB (anonymous $(anon_kib "$server_pid") KiB)" | tee "$OUT/idle-$backend.txt"
  for round in 1 2; do
    for mix in livez health get-session history stats leaderboard post-score; do
      echo "== $backend round $round: $mix"
      "$bench" http --url "$url" --mix "$mix=1" -c "$CONNS" -d "$SECS" --server-pid "$server_pid" \
        --json "$OUT/http-$backend-$mix.json" --svg "$OUT/http-$backend-$mix.svg"
    done
    sleep 10
    echo "== after round $round, 10 s idle: RSS $(rss_kib "$server_pid") KiB (anonymous $(anon_kib "$server_pid") KiB)" \
      | tee -a "$OUT/idle-$backend.txt"
  done
}

if wants http; then
  start_server "" sqlite
  http_runs sqlite
  stop_server
  fresh_pg
  start_server "$PG_BENCH_URL" postgres
  http_runs postgres
  stop_server
fi

if wants ceiling; then
  echo "== ceiling: a bare axum handler"
  "$bench" ceiling --port "$CEILING_PORT" &
  ceiling_pid=$!
  sleep 1
  "$bench" http --url "http://127.0.0.1:$CEILING_PORT" --mix livez=1 -c "$CONNS" -d "$SECS" \
    --server-pid "$ceiling_pid" --json "$OUT/ceiling-axum.json" --svg "$OUT/ceiling-axum.svg"
  kill "$ceiling_pid"
  ceiling_pid=
  echo "== ceiling: pgbench SELECT 1, $CONNS clients"
  echo 'SELECT 1;' >"$work/select1.sql"
  pgbench -n -c "$CONNS" -j 2 -T "$SECS" -f "$work/select1.sql" "$PG_ADMIN_URL" | tee "$OUT/ceiling-pgbench.txt"
fi

if wants artillery; then
  fresh_pg
  start_server "$PG_BENCH_URL" artillery
  "$bench" artillery --url "http://127.0.0.1:$PORT" --arrival-rate 20 -d "$ARTILLERY_SECS" --users 100 \
    --server-pid "$server_pid" --json "$OUT/artillery.json" --svg "$OUT/artillery.svg"
  # The same visits offered at the plan's published 500 requests/s (125 arrivals/s × 4 requests).
  "$bench" artillery --url "http://127.0.0.1:$PORT" --arrival-rate 125 -d 60 --users 100 \
    --server-pid "$server_pid" --json "$OUT/artillery-500rps.json" --svg "$OUT/artillery-500rps.svg"
  stop_server
fi

if wants ws; then
  # Two bench processes of half the sockets each: a process may hold at most `ulimit -Hn` descriptors (20,000
  # on this machine, not raisable here), and the server needs a few beyond its sockets. The second one
  # reports: its RSS per socket is the growth from the first half's sockets to all of them.
  half=$((SOCKETS / 2))
  start_server "" ws
  "$bench" ws-connect --url "http://127.0.0.1:$PORT" --sockets "$half" --sockets-per-user 10 --source-ips 4 \
    --hold-secs 60 >"$work/ws-first-half.txt" 2>&1 &
  first=$!
  # The first half is open once the server counts its sockets.
  until [ "$(curl -fs "http://127.0.0.1:$PORT/health/detailed" | grep -o '"wsConnections":[0-9]*' | cut -d: -f2)" \
    = "$half" ]; do
    kill -0 "$first" 2>/dev/null || { cat "$work/ws-first-half.txt" >&2; exit 1; }
    sleep 1
  done
  sleep 2
  "$bench" ws-connect --url "http://127.0.0.1:$PORT" --sockets "$half" --sockets-per-user 10 --source-ips 4 \
    --hold-secs 5 --server-pid "$server_pid" --json "$OUT/ws-connect.json" --svg "$OUT/ws-connect.svg"
  cat "$work/ws-first-half.txt"
  kill "$first" 2>/dev/null || true
  wait "$first" 2>/dev/null || true
  stop_server
fi

if wants lobbies; then
  for backend in sqlite postgres; do
    if [ "$backend" = postgres ]; then fresh_pg; start_server "$PG_BENCH_URL" lobbies-pg; else start_server "" lobbies; fi
    "$bench" lobbies --url "http://127.0.0.1:$PORT" -l 1000 -p 4 -t 500 --region Europe --server-pid "$server_pid" \
      --json "$OUT/lobbies-$backend.json" --svg "$OUT/lobbies-$backend.svg"
    stop_server
  done
fi

if wants friends; then
  start_server "" friends
  "$bench" friends --kind both --sender-url "http://127.0.0.1:$PORT" --receiver-url "http://127.0.0.1:$PORT" \
    --pairs 10 --rounds 200 --server-pid "$server_pid" --json "$OUT/friends.json" --svg "$OUT/friends.svg"
  stop_server
fi
echo "== done: $OUT"
