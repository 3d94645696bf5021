#!/usr/bin/env bash
# `kiln test` against `dbt test` on the generated 1,000-model project: 500 marts, each with a
# `unique` and a `not_null` test (1,000 generic tests), on the same PostgreSQL server.
#
#   bench/test.sh                    Kiln only
#   KILN_BENCH_DBT=1 bench/test.sh   also dbt-core (installed from PyPI into /tmp)
set -euo pipefail
cd "$(dirname "$0")/.."
work=/tmp/kiln-bench-test
. bench/server.sh
psql -X -q -h 127.0.0.1 -p "$port" -U kiln -d kiln -c "create schema raw; do \$\$ begin for i in 0..249 loop
  execute format('create table raw.table_%s as select g as id, g %% 50 as customer_id, g * 10 as amount_cents,
    timestamp ''2021-01-01'' + g * interval ''1 hour'' as created_at from generate_series(1, 200) g', i);
  end loop; end \$\$;"
python3 bench/generate_project.py "$work/project" 1000 >/dev/null
cd "$work/project"
export BENCH_PG_HOST=127.0.0.1 BENCH_PG_PORT=$port BENCH_PG_USER=kiln BENCH_PG_DBNAME=kiln BENCH_PG_PASSWORD="$PGPASSWORD"
"$kiln" run --threads 4 >/dev/null
tests=$("$kiln" ls --resource-type test | wc -l)
"$kiln" test --threads 4 >/dev/null 2>&1 || true
printf '%-28s %10s\n' "command ($tests tests)" seconds
printf '%-28s %10s\n' "kiln test --threads 4" "$(seconds "$kiln" test --threads 4)"
if [ "${KILN_BENCH_DBT:-0}" = 1 ]; then
    "$venv/bin/dbt" test --threads 4 --profiles-dir . >/dev/null 2>&1 || true
    printf '%-28s %10s\n' "dbt test --threads 4" "$(seconds "$venv/bin/dbt" test --threads 4 --profiles-dir .)"
fi
