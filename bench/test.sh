#!/usr/bin/env bash
# `kiln test` against `dbt test` on the generated 1,000-model project: 500 marts, each with a
# `unique` and a `not_null` test (1,000 generic tests), on the same PostgreSQL server.
#
#   bench/test.sh                    Kiln only
#   KILN_BENCH_DBT=1 bench/test.sh   also dbt-core (installed from PyPI into /tmp)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
kiln="$PWD/target/release/kiln"
work=/tmp/kiln-bench-test
rm -rf "$work"
mkdir -p "$work/server"
printf 'name: bench_server\nprofile: server\n' > "$work/server/project.yml"
printf 'server:\n  outputs:\n    dev:\n      type: postgres\n      managed: true\n      data_dir: %s/server/pg\n' "$work" > "$work/server/profiles.yml"
"$kiln" local start --project-dir "$work/server" >/dev/null
trap '"$kiln" local destroy --project-dir "$work/server" >/dev/null 2>&1 || true' EXIT
port=$(cat "$work/server/pg/port")
psql -X -q -h 127.0.0.1 -p "$port" -U kiln -d kiln -c "create schema raw; do \$\$ begin for i in 0..249 loop
  execute format('create table raw.table_%s as select g as id, g %% 50 as customer_id, g * 10 as amount_cents,
    timestamp ''2021-01-01'' + g * interval ''1 hour'' as created_at from generate_series(1, 200) g', i);
  end loop; end \$\$;"
python3 bench/generate_project.py "$work/project" 1000 >/dev/null
cd "$work/project"
export BENCH_PG_HOST=127.0.0.1 BENCH_PG_PORT=$port BENCH_PG_USER=kiln BENCH_PG_DBNAME=kiln
"$kiln" run --threads 4 >/dev/null
tests=$("$kiln" ls --resource-type test | wc -l)
seconds() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1 || true; e=$(date +%s.%N); echo "$e - $s" | bc; }
"$kiln" test --threads 4 >/dev/null 2>&1 || true
printf '%-28s %10s\n' "command ($tests tests)" seconds
printf '%-28s %10s\n' "kiln test --threads 4" "$(seconds "$kiln" test --threads 4)"
if [ "${KILN_BENCH_DBT:-0}" = 1 ]; then
    venv=/tmp/kiln-bench-dbt-venv
    if [ ! -x "$venv/bin/dbt" ]; then
        python3 -m venv "$venv"
        "$venv/bin/pip" install --quiet "dbt-core~=1.11.0" "dbt-postgres~=1.11.0"
    fi
    "$venv/bin/dbt" test --threads 4 --profiles-dir . >/dev/null 2>&1 || true
    printf '%-28s %10s\n' "dbt test --threads 4" "$(seconds "$venv/bin/dbt" test --threads 4 --profiles-dir .)"
fi
