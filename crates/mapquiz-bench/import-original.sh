#!/usr/bin/env bash
# Measures `mapquiz import-original` at the size the switch-over issue names: 100,000 players, 300,000 friend
# rows and 1,000,000 solo games, into a fresh SQLite file and a fresh PostgreSQL database, then a second run
# over the same data (everything already imported). Writes benchmarks/import-<backend>.json (the import's own
# report) and benchmarks/import-original.txt (time and peak RSS from /usr/bin/time -v).
#
# Needs PostgreSQL (PG_ADMIN_URL, default postgres://postgres@127.0.0.1:5432/test) for the original and the
# PostgreSQL target. USERS, PAIRS, REQUESTS, SCORES change the size; BACKENDS="sqlite postgres" the targets.
set -euo pipefail
cd "$(dirname "$0")/../.."
PG_ADMIN_URL=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/test}
USERS=${USERS:-100000}
PAIRS=${PAIRS:-150000}
REQUESTS=${REQUESTS:-20000}
SCORES=${SCORES:-1000000}
BACKENDS=${BACKENDS:-"sqlite postgres"}
OUT=${OUT:-benchmarks}
base=${PG_ADMIN_URL%/*}
source_db=mapquiz_import_source
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cargo build --release -p mapquiz-server --bin mapquiz
bin=target/release/mapquiz

echo "== the original: $USERS players, $PAIRS pairs, $REQUESTS requests, $SCORES games"
psql -q "$PG_ADMIN_URL" -c "DROP DATABASE IF EXISTS $source_db" -c "CREATE DATABASE $source_db"
psql -q "$base/$source_db" -f crates/mapquiz-server/tests/api/import/original_schema.sql
start=$(date +%s.%N)
psql -q "$base/$source_db" -v users="$USERS" -v pairs="$PAIRS" -v requests="$REQUESTS" -v scores="$SCORES" \
    -f crates/mapquiz-bench/import/fill-original.sql
echo "filled in $(echo "$(date +%s.%N) - $start" | bc) s"
psql -qAt "$base/$source_db" -c "SELECT 'user ' || count(*) FROM \"user\" UNION ALL SELECT 'friend ' || count(*) FROM friend
    UNION ALL SELECT 'game_score ' || count(*) FROM game_score UNION ALL SELECT 'session ' || count(*) FROM session
    UNION ALL SELECT 'friend_request ' || count(*) FROM friend_request" | tee "$work/sizes"

summary="$OUT/import-original.txt"
{
    echo "# mapquiz import-original, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores"
    echo "# original: $(paste -sd, "$work/sizes")"
} > "$summary"

for backend in $BACKENDS; do
    case $backend in
        sqlite) target="sqlite://$work/mapquiz.db" ;;
        postgres)
            psql -q "$PG_ADMIN_URL" -c "DROP DATABASE IF EXISTS mapquiz_import_target" -c "CREATE DATABASE mapquiz_import_target"
            target="$base/mapquiz_import_target" ;;
    esac
    for run in first second; do
        echo "== $backend, $run run"
        DATABASE_URL=$target /usr/bin/time -v -o "$work/time" "$bin" import-original --from "$base/$source_db" \
            --accept-skips --report "$OUT/import-$backend-$run.json" > "$work/out" 2> "$work/err" || {
            cat "$work/err"; exit 1; }
        cat "$work/out"
        elapsed=$(grep 'Elapsed (wall clock)' "$work/time" | awk '{print $NF}')
        rss=$(grep 'Maximum resident set size' "$work/time" | awk '{print $NF}')
        line="$backend $run run: wall $elapsed, peak RSS $((rss / 1024)) MiB"
        echo "$line" | tee -a "$summary"
    done
    if [ "$backend" = sqlite ]; then
        echo "sqlite file: $(du -sh "$work"/mapquiz.db* | awk '{print $1}' | paste -sd+)" | tee -a "$summary"
    else
        psql -q "$PG_ADMIN_URL" -c "DROP DATABASE IF EXISTS mapquiz_import_target"
    fi
done
psql -q "$PG_ADMIN_URL" -c "DROP DATABASE IF EXISTS $source_db"
