#!/usr/bin/env bash
# `kiln seed` of the SaaS events CSV (about 10.2 million rows at scale 660) against psql's
# `\copy` of the same file into a table of the same column types, on the same managed
# PostgreSQL instance, RUNS times each; peak memory of Kiln from /usr/bin/time.
# Kiln reads the file once to infer the column types (as dbt does), then streams it to COPY
# inside the transaction that swaps the new table in; psql only copies.
#
#   bench/seed.sh                  scale 660
#   SCALE=100 RUNS=1 bench/seed.sh
set -euo pipefail
cd "$(dirname "$0")/.."
work=/tmp/kiln-bench-seed
scale=${SCALE:-660}
runs=${RUNS:-3}
. bench/server.sh
kiln=${KILN:-$kiln} # KILN=/path/to/kiln measures another build (a before/after comparison)
cargo build --release --quiet -p kiln-datagen

project="$work/project"
mkdir -p "$project/seeds"
target/release/kiln-datagen --out "$work/data" --scale "$scale" --only saas >/dev/null
csv="$project/seeds/saas_events.csv"
mv "$work/data/raw_saas/saas_events.csv" "$csv"
printf 'name: bench_seed\nprofile: bench\n' > "$project/project.yml"
bench_profile "$project/profiles.yml" bench_seed 1
psql_cmd() { PGOPTIONS="-c client_min_messages=warning" psql -X -q -A -t -h 127.0.0.1 -p "$port" -U kiln -d kiln "$@"; }
echo "file: $(du -m "$csv" | cut -f1) MiB, $(($(wc -l < "$csv") - 1)) rows"

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
kiln_times=() psql_times=() peaks=()
for run in $(seq "$runs"); do
    /usr/bin/time -f "%e %M" -o "$work/time" "$kiln" seed --project-dir "$project" >/dev/null
    read -r seconds peak < "$work/time"
    kiln_times+=("$seconds") peaks+=("$((peak / 1024))")
    # The same column types as Kiln's table, created and filled in one transaction as Kiln does.
    columns=$(psql_cmd -c "select string_agg(quote_ident(attname) || ' ' || format_type(atttypid, atttypmod), ', ' order by attnum)
      from pg_attribute where attrelid = 'bench_seed.saas_events'::regclass and attnum > 0 and not attisdropped")
    start=$(date +%s.%N)
    psql_cmd -c "drop table if exists bench_seed.psql_copy" \
        -c "begin" -c "create table bench_seed.psql_copy ($columns)" \
        -c "\\copy bench_seed.psql_copy from '$csv' (format csv, header true)" -c "commit"
    psql_times+=("$(printf "%.2f" "$(echo "$(date +%s.%N) - $start" | bc)")")
    echo "  run $run: kiln seed ${seconds}s (peak $((peak / 1024)) MiB), psql \\copy ${psql_times[-1]}s"
done
rows=$(psql_cmd -c "select (select count(*) from bench_seed.saas_events) = (select count(*) from bench_seed.psql_copy)")
[ "$rows" = t ] || { echo "MISMATCH: the tables hold different row counts" >&2; exit 1; }
kiln_median=$(median "${kiln_times[@]}") psql_median=$(median "${psql_times[@]}")
echo "kiln seed: median ${kiln_median}s, peak $(median "${peaks[@]}") MiB"
echo "psql \\copy: median ${psql_median}s"
echo "ratio: $(echo "scale=2; $kiln_median / $psql_median" | bc)"
