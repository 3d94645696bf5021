#!/usr/bin/env bash
# Parse and compile time and peak memory of Kiln on generated projects of N models, and
# optionally of dbt-core on the same projects.
#
#   bench/compile.sh [N ...]          default: 1000 10000
#   KILN_BENCH_DBT=1 bench/compile.sh  also runs `dbt parse` (dbt-core from PyPI in /tmp)
#
# Each figure is the median of RUNS runs (default 5) after one warm-up run, with the target
# directory left in place between runs, as when a user compiles again after an edit. (Deleting
# target/ between runs would measure ext4 instead of Kiln: after a mass delete, creating files
# in the same directories costs about 1 ms each while ext4 scans for recently deleted inodes.)
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("$@")
[ ${#sizes[@]} -eq 0 ] && sizes=(1000 10000)
runs=${RUNS:-5}
cargo build --release --quiet
kiln="$PWD/target/release/kiln"

# Runs a command RUNS times; prints "median_seconds max_rss_mib".
measure() {
    local dir=$1; shift
    local times=() rss=0
    "$@" >/dev/null 2>&1 || true
    for _ in $(seq "$runs"); do
        local out report
        report=$(mktemp)
        /usr/bin/time -o "$report" -f '%e %M' "$@" >/dev/null 2>&1
        out=$(tail -1 "$report")
        rm -f "$report"
        times+=("${out% *}")
        local kb=${out#* }
        (( kb > rss )) && rss=$kb
    done
    local median
    median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    echo "$median $((rss / 1024))"
}

if [ "${KILN_BENCH_DBT:-0}" = 1 ]; then
    venv=/tmp/kiln-bench-dbt-venv
    if [ ! -x "$venv/bin/dbt" ]; then
        python3 -m venv "$venv"
        "$venv/bin/pip" install --quiet "dbt-core~=1.11.0" "dbt-postgres~=1.11.0"
    fi
fi

printf '%-8s %-14s %10s %12s\n' models command seconds peak_MiB
for n in "${sizes[@]}"; do
    dir=/tmp/kiln-bench-project-$n
    python3 bench/generate_project.py "$dir" "$n" >/dev/null
    (cd "$dir" && "$kiln" parse >/dev/null 2>&1) || { echo "kiln parse failed on $dir"; exit 1; }
    read -r t m < <(cd "$dir" && measure "$dir" "$kiln" parse)
    printf '%-8s %-14s %10s %12s\n' "$n" "kiln parse" "$t" "$m"
    read -r t m < <(cd "$dir" && measure "$dir" "$kiln" compile)
    printf '%-8s %-14s %10s %12s\n' "$n" "kiln compile" "$t" "$m"
    if [ "${KILN_BENCH_DBT:-0}" = 1 ]; then
        read -r t m < <(cd "$dir" && runs=$(( runs < 3 ? runs : 3 )) measure "$dir" "$venv/bin/dbt" parse --no-partial-parse --profiles-dir .)
        printf '%-8s %-14s %10s %12s\n' "$n" "dbt parse" "$t" "$m"
    fi
done
