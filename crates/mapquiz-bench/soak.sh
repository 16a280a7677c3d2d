#!/usr/bin/env bash
# The soak of RELIABILITY.md: the release server on SQLite and on a fresh PostgreSQL database, each under
# `mapquiz-bench soak` (lobbies, friends and the HTTP mix together) for SOAK_DURATION; writes
# benchmarks/soak-sqlite.{json,svg,log} and benchmarks/soak-postgres.{json,svg,log} (at the repository's root).
# Both run at the same time by default (two servers on two ports: 2 × 30 minutes in 30 minutes of wall time);
# SEQUENTIAL=1 runs them one after the other, BACKENDS="sqlite" runs one.
#
#   crates/mapquiz-bench/soak.sh                        # 30 minutes, both backends at once
#   SOAK_DURATION=2m BACKENDS=sqlite crates/mapquiz-bench/soak.sh
#
# Settings (environment): SOAK_DURATION (30m), SOAK_LOBBY_IDLE_TTL_MS (300000), SOAK_SEED (`mapquiz seed-demo`
# arguments run on the fresh database first, e.g. "--players 30000 --scores 300000": a database of a real size,
# whose caches fill during the warm-up; default none), BACKENDS ("sqlite postgres"), SEQUENTIAL (0), SOAK_ARGS (more
# `mapquiz-bench soak` arguments, e.g. "--rate 50"), PG_ADMIN_URL (default
# postgres://postgres@127.0.0.1:5432/postgres; the database mapquiz_soak is dropped and created there), OUT
# (benchmarks), PORT_BASE (3200: SQLite on it, PostgreSQL on the next). Exits non-zero when a soak failed.
set -euo pipefail
cd "$(dirname "$0")/../.."

SOAK_DURATION=${SOAK_DURATION:-30m}
BACKENDS=${BACKENDS:-"sqlite postgres"}
SEQUENTIAL=${SEQUENTIAL:-0}
SOAK_ARGS=${SOAK_ARGS:-}
SOAK_SEED=${SOAK_SEED:-}
PG_ADMIN_URL=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
PG_SOAK_URL=${PG_ADMIN_URL%/*}/mapquiz_soak
OUT=${OUT:-benchmarks}
PORT_BASE=${PORT_BASE:-3200}

mkdir -p "$OUT"
work=$(mktemp -d /tmp/mapquiz-soak.XXXXXX)
server_pids=()
cleanup() {
  for pid in "${server_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${server_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

cargo build --release --locked -p mapquiz-server -p mapquiz-bench
cp target/release/mapquiz target/release/mapquiz-bench "$work/"

port_of() { if [ "$1" = sqlite ]; then echo "$PORT_BASE"; else echo $((PORT_BASE + 1)); fi; }

# The server's settings for a backend, exported into the current (sub)shell.
server_env() { # backend port
  # Cheap hashing and no per-client limits: sign-up cost and abuse limits are not what a soak watches.
  # A lobby nobody is connected to stays in memory for lobby_idle_ttl (30 minutes by default), so a soak no
  # longer than that only ever sees the retained lobbies pile up: 5 minutes lets the run show the plateau.
  export MAPQUIZ_ARGON2_MEMORY_KIB=1024 MAPQUIZ_ARGON2_ITERATIONS=1 MAPQUIZ_RATE_LIMIT_ENABLED=false \
    MAPQUIZ_WS_RATE_MAX=1000000 MAPQUIZ_WS_ABUSE_MAX=1000000 MAPQUIZ_LOBBY_FAIR_PLAY_FLOOR_MS=100 \
    MAPQUIZ_LOBBY_IDLE_TTL_MS=${SOAK_LOBBY_IDLE_TTL_MS:-300000} PORT=$2 RUST_LOG=${RUST_LOG:-warn}
  if [ "$1" = postgres ]; then export DATABASE_URL=$PG_SOAK_URL; fi
}

# Starts the server for a backend in the background; its pid in $server_pid.
start_server() { # backend
  local backend=$1 port dir="$work/server-$1"
  port=$(port_of "$backend")
  mkdir -p "$dir"
  if [ "$backend" = postgres ]; then
    psql "$PG_ADMIN_URL" -qc 'DROP DATABASE IF EXISTS mapquiz_soak WITH (FORCE)' -c 'CREATE DATABASE mapquiz_soak'
  fi
  (
    cd "$dir"
    server_env "$backend" "$port"
    if [ -n "$SOAK_SEED" ]; then
      # shellcheck disable=SC2086 # SOAK_SEED is a list of arguments
      "$work/mapquiz" seed-demo $SOAK_SEED >"$dir/seed.log" 2>&1
    fi
    exec "$work/mapquiz" serve >"$dir/log" 2>&1
  ) &
  server_pid=$!
  server_pids+=("$server_pid")
  # Ten seconds to start, or up to an hour when the database is seeded first.
  local tries=100
  if [ -n "$SOAK_SEED" ]; then tries=36000; fi
  for _ in $(seq 1 "$tries"); do
    curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && return 0
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "the $backend server did not start; its log:" >&2
  cat "$dir/log" >&2
  return 1
}

# Runs one soak against a started server; its output in $OUT/soak-<backend>.log.
soak() { # backend server-pid
  local backend=$1 pid=$2
  # shellcheck disable=SC2086 # SOAK_ARGS is a list of arguments
  "$work/mapquiz-bench" soak --url "http://127.0.0.1:$(port_of "$backend")" --duration "$SOAK_DURATION" \
    --server-pid "$pid" --json "$OUT/soak-$backend.json" --svg "$OUT/soak-$backend.svg" $SOAK_ARGS \
    >"$OUT/soak-$backend.log" 2>&1
}

# The soak's summary: from its first line to the end of the log.
failed=0
if [ "$SEQUENTIAL" = 1 ]; then
  for backend in $BACKENDS; do
    start_server "$backend"
    echo "== soak on $backend for $SOAK_DURATION (server pid $server_pid)"
    soak "$backend" "$server_pid" || failed=1
    sed -n '/^== soak:/,$p' "$OUT/soak-$backend.log"
  done
else
  declare -A runs
  for backend in $BACKENDS; do
    start_server "$backend"
    echo "== soak on $backend for $SOAK_DURATION (server pid $server_pid)"
    soak "$backend" "$server_pid" &
    runs[$backend]=$!
  done
  for backend in $BACKENDS; do
    wait "${runs[$backend]}" || failed=1
    echo "== $backend"
    sed -n '/^== soak:/,$p' "$OUT/soak-$backend.log"
  done
fi
if [ "$failed" = 1 ]; then
  echo "== a soak FAILED (see the checks above and $OUT/soak-*.log)" >&2
  exit 1
fi
echo "== soaks passed: $OUT/soak-*.{json,svg,log}"
