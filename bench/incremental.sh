#!/usr/bin/env bash
# Document 003's claim (incremental 2 s vs full refresh 15 s) on the analytics project's SaaS
# models with at least 10 million raw events: kiln-datagen writes the raw data at a large scale
# outside the repository, `kiln seed` loads it the same way as the committed seeds, and then,
# RUNS times:
#   1. the last day of events (and of signups) is held back, the SaaS models are rebuilt with
#      --full-refresh (timed: "full refresh");
#   2. the day is added back and the same models run again (timed: "incremental");
# and once at the end the incremental result is compared with a full refresh of the same data.
# Per-model times come from target/run_results.json.
#
#   bench/incremental.sh            scale 660 (about 10.2 million events)
#   SCALE=100 RUNS=1 bench/incremental.sh
#   KEEP_SERVER=1 bench/incremental.sh   leaves the server and its data running afterwards
set -euo pipefail
cd "$(dirname "$0")/.."
work=/tmp/kiln-bench-incremental
scale=${SCALE:-660}
runs=${RUNS:-3}
. bench/server.sh
cargo build --release --quiet -p kiln-datagen

project="$work/project"
mkdir -p "$project/tests"
cp project.yml profiles.yml sources.yml "$project/"
cp -r models macros seeds "$project/"
cp -r tests/data "$project/tests/"
rm -rf "$project/seeds/raw_saas"
target/release/kiln-datagen --out "$project/seeds" --scale "$scale" --only saas
export KILN_PG_DIR="$work/server/pg" KILN_PG_DBNAME=kiln
k() { "$kiln" "$@" --project-dir "$project"; }
# Wall seconds of `kiln run ARGS`; a failed run stops the benchmark (its time would mean nothing).
run_seconds() {
    local s e
    s=$(date +%s.%N)
    if ! k run "$@" > "$work/last_run.log" 2>&1; then
        echo "kiln run $* failed:" >&2
        tail -20 "$work/last_run.log" >&2
        exit 1
    fi
    e=$(date +%s.%N)
    echo "$e - $s" | bc
}
psql_cmd() { PGOPTIONS="-c client_min_messages=warning" psql -X -q -A -t -h 127.0.0.1 -p "$port" -U kiln -d kiln "$@"; }
saas="path:models/staging/saas+"

echo "loading the seeds (kiln seed)..."
load=$(seconds k seed)
events=$(psql_cmd -c "select count(*) from raw_saas.events")
echo "  $events raw events loaded in ${load}s"
k run -s "$saas" --full-refresh >/dev/null 2>&1 # warm the cache

hold_back() {
    psql_cmd -c "
      drop table if exists public.last_day_users, public.last_day_events;
      create table public.last_day_users as select * from raw_saas.users where signup_date = '2024-12-31';
      create table public.last_day_events as select * from raw_saas.events where event_date = '2024-12-31';
      delete from raw_saas.events where event_date = '2024-12-31';
      delete from raw_saas.users where signup_date = '2024-12-31';
      analyze raw_saas.events; analyze raw_saas.users;"
}
add_back() {
    psql_cmd -c "
      insert into raw_saas.users select * from public.last_day_users;
      insert into raw_saas.events select * from public.last_day_events;"
}
model_times() { # the run_results.json of the last run -> "model=seconds ..."
    python3 -c '
import json, sys
results = json.load(open(sys.argv[1]))["results"]
wanted = ("int_funnel_steps", "int_user_engagement", "int_feature_usage", "int_user_activity",
          "fct_acquisition_funnel", "fct_engagement_cohorts", "dim_user_health")
print(" ".join("%s=%.2f" % (r["unique_id"].split(".")[-1], r["execution_time"])
               for r in results if r["unique_id"].split(".")[-1] in wanted))' "$project/target/run_results.json"
}
marts() {
    psql_cmd -c "select f::text from analytics.fct_acquisition_funnel f order by cohort_month" \
             -c "select e::text from analytics.fct_engagement_cohorts e order by cohort_month, activity_month" \
             -c "select md5(string_agg(h::text, '|' order by user_id)) from analytics.dim_user_health h"
}

day_events=$(psql_cmd -c "select count(*) from raw_saas.events where event_date = '2024-12-31'")
echo "one day: $day_events events"
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ratio() { echo "scale=3; $1 / $2" | bc; }
measure() { # label, selection...: RUNS x (hold back, full refresh, add back, incremental)
    local label=$1 full incremental full_times=() incremental_times=()
    shift
    for run in $(seq "$runs"); do
        hold_back
        full=$(run_seconds -s "$@" --full-refresh)
        local full_models; full_models=$(model_times)
        add_back
        incremental=$(run_seconds -s "$@")
        echo "  $label, run $run: full refresh ${full}s ($full_models); incremental ${incremental}s ($(model_times))"
        full_times+=("$full") incremental_times+=("$incremental")
    done
    full=$(median "${full_times[@]}")
    incremental=$(median "${incremental_times[@]}")
    echo "$label: median full refresh ${full}s, incremental ${incremental}s, ratio $(ratio "$incremental" "$full")"
}
# The two incremental marts with what they are built from (the incremental intermediates
# int_funnel_steps and int_user_engagement, the staging views).
measure "incremental marts" +fct_acquisition_funnel +fct_engagement_cohorts
# All ten SaaS models (dim_user_health is a view on the stored int_user_activity).
measure "all SaaS models" "$saas"

after_incremental=$(marts)
k run -s "$saas" --full-refresh >/dev/null 2>&1
if [ "$after_incremental" = "$(marts)" ]; then
    echo "the incremental marts equal a full refresh of the same data"
else
    echo "MISMATCH: the incremental marts differ from a full refresh" >&2
    exit 1
fi
