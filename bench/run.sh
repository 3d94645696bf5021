#!/usr/bin/env bash
# `kiln run --threads 4` against dbt-core's `dbt run --threads 4`, on the same PostgreSQL server
# (a managed local instance started for the benchmark) and the same generated projects:
#   views:  1,000 trivial views
#   tables: 200 tables, each aggregating a 1,000,000-row input table
# Kiln's overhead per model is measured against the warehouse's own work, two ways, both with
# one thread and psql replaying SQL in one session: the same 1,000 views created with plain
# `create or replace view` (what a naive tool would send), and the same atomic swap Kiln sends
# (begin, lock, create the temporary view, rename the old one away, rename the new one in, drop,
# commit, in one message per view) without Kiln's catalog query for dependent views.
#
#   bench/run.sh                 Kiln only
#   KILN_BENCH_DBT=1 bench/run.sh  also dbt-core (installed from PyPI into /tmp)
set -euo pipefail
cd "$(dirname "$0")/.."
work=/tmp/kiln-bench-run
. bench/server.sh
kiln=${KILN:-$kiln} # KILN=/path/to/kiln measures another build (a before/after comparison)
psql_cmd() { psql -X -q -h 127.0.0.1 -p "$port" -U kiln -d kiln "$@"; }
psql_cmd -c "drop schema if exists raw cascade; create schema raw;
  create table raw.events as select g as id, g % 5000 as user_id, (g % 997) * 1.5 as amount,
  timestamp '2024-01-01' + (g % 525600) * interval '1 minute' as at from generate_series(1, 1000000) g;
  analyze raw.events;"

write_project() { # dir, kind
    local dir=$1 kind=$2
    mkdir -p "$dir/models"
    cat > "$dir/dbt_project.yml" <<YML
name: bench_$kind
version: "1.0.0"
config-version: 2
profile: bench
models:
  bench_$kind:
    +materialized: $([ "$kind" = views ] && echo view || echo table)
YML
    bench_profile "$dir/profiles.yml" "bench_$kind" 4
    cat > "$dir/models/sources.yml" <<YML
version: 2
sources:
  - name: raw
    tables:
      - name: events
YML
    if [ "$kind" = views ]; then
        for i in $(seq 0 999); do echo "select $i as id, 'view $i' as label" > "$dir/models/view_$i.sql"; done
    else
        for i in $(seq 0 199); do
            echo "select user_id, count(*) as events, sum(amount) as amount from {{ source('raw', 'events') }} where id % 200 = $i group by user_id" > "$dir/models/table_$i.sql"
        done
    fi
}

printf '%-8s %-26s %10s\n' project command seconds
for kind in views tables; do
    dir="$work/$kind"
    write_project "$dir" "$kind"
    (cd "$dir" && "$kiln" run --threads 4 >/dev/null 2>&1)  # warm-up: relations exist, as in a nightly run
    t=$(cd "$dir" && seconds "$kiln" run --threads 4)
    printf '%-8s %-26s %10s\n' "$kind" "kiln run --threads 4" "$t"
    if [ "$kind" = views ]; then
        t1=$(cd "$dir" && seconds "$kiln" run --threads 1)
        printf '%-8s %-26s %10s\n' "$kind" "kiln run --threads 1" "$t1"
        for i in $(seq 0 999); do echo "create or replace view bench_views.view_$i as (select $i as id, 'view $i' as label);"; done > "$work/plain.sql"
        tp=$(seconds psql_cmd -f "$work/plain.sql")
        printf '%-8s %-26s %10s\n' "$kind" "psql create or replace" "$tp"
        printf 'kiln overhead per model beyond create or replace (1 thread): %s ms\n' "$(echo "scale=2; ($t1 - $tp) * 1000 / 1000" | bc)"
        for i in $(seq 0 999); do
            v="bench_views.view_$i"
            # `\;` keeps psql from splitting the line: one message per view, as Kiln sends it.
            echo "begin \; select pg_advisory_xact_lock(hashtext('$v')) \; create view bench_views.view_${i}__swap as (select $i as id, 'view $i' as label) \; alter view $v rename to view_${i}__old \; alter view bench_views.view_${i}__swap rename to view_$i \; drop view bench_views.view_${i}__old \; commit;"
        done > "$work/swap.sql"
        ts=$(seconds psql_cmd -f "$work/swap.sql")
        printf '%-8s %-26s %10s\n' "$kind" "psql same swap sequence" "$ts"
        printf 'kiln overhead per model beyond the SQL it sends (1 thread): %s ms\n' "$(echo "scale=2; ($t1 - $ts) * 1000 / 1000" | bc)"
        printf 'kiln / psql same swap sequence (1 thread): %s\n' "$(echo "scale=2; $t1 / $ts" | bc)"
    fi
    if [ "${KILN_BENCH_DBT:-0}" = 1 ]; then
        (cd "$dir" && "$venv/bin/dbt" run --threads 4 --profiles-dir . >/dev/null 2>&1) || true
        t=$(cd "$dir" && seconds "$venv/bin/dbt" run --threads 4 --profiles-dir .)
        printf '%-8s %-26s %10s\n' "$kind" "dbt run --threads 4" "$t"
    fi
done
