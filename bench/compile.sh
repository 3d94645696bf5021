#!/usr/bin/env bash
# Parse and compile time and peak memory of Kiln on generated projects of N models, and
# optionally of dbt-core on the same projects.
#
#   bench/compile.sh [N ...]          default: 1000 10000
#   KILN_BENCH_DBT=1 bench/compile.sh  also runs `dbt parse` (dbt-core from PyPI in /tmp)
#
# Each figure is the median of RUNS runs (default 5) after one warm-up run, with the target
# directory left in place between runs, as when a user compiles again after an edit. The cold
# compile (after `kiln clean`) is measured beside a plain loop writing the same files after the
# same clean (bench/write_compiled.py): creating 20,000 files right after deleting them costs
# the file system about as much as Kiln's whole compile, and that line shows how much.
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
    # Cold: right after `kiln clean` (a fresh checkout, CI). Beside it, the same files written
    # by a plain loop right after the same clean: what the file system alone costs.
    saved=$(mktemp -d)
    cp -r "$dir/target/compiled/." "$saved"
    cold=() floor=()
    for _ in $(seq "$runs"); do
        (cd "$dir" && "$kiln" clean >/dev/null 2>&1 && sync)
        report=$(mktemp)
        (cd "$dir" && /usr/bin/time -o "$report" -f '%e %M' "$kiln" compile >/dev/null 2>&1)
        cold+=("$(tail -1 "$report" | cut -d' ' -f1)")
        rm -f "$report"
        (cd "$dir" && "$kiln" clean >/dev/null 2>&1 && sync)
        floor+=("$(python3 bench/write_compiled.py "$saved" "$dir/target/compiled")")
    done
    rm -rf "$saved"
    median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
    printf '%-8s %-14s %10s %12s\n' "$n" "compile cold" "$(median "${cold[@]}")" "-"
    printf '%-8s %-14s %10s %12s\n' "$n" "files, a loop" "$(median "${floor[@]}")" "-"
    if [ "${KILN_BENCH_DBT:-0}" = 1 ]; then
        read -r t m < <(cd "$dir" && runs=$(( runs < 3 ? runs : 3 )) measure "$dir" "$venv/bin/dbt" parse --no-partial-parse --profiles-dir .)
        printf '%-8s %-14s %10s %12s\n' "$n" "dbt parse" "$t" "$m"
    fi
done
