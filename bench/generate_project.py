#!/usr/bin/env python3
"""Generates a dbt-compatible project of N models for benchmarks.

Layers like a real project: staging views over sources, intermediate models that join two
staging models (some ephemeral), marts that join intermediate models (tables, and every
fifth one incremental with an `is_incremental()` block). Macros, folder configs, vars and schema
YAML with tests on every mart key. The same project loads in Kiln and in dbt-core.

usage: generate_project.py OUT_DIR N_MODELS
"""
import os
import random
import shutil
import sys

out, n = sys.argv[1], int(sys.argv[2])
random.seed(42)
shutil.rmtree(out, ignore_errors=True)
n_staging = max(1, n // 4)
n_intermediate = max(1, n // 4)
n_marts = max(1, n - n_staging - n_intermediate)
folder_size = 100


def write(path, text):
    full = os.path.join(out, path)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "w") as f:
        f.write(text)


write("dbt_project.yml", """\
name: bench
version: "1.0.0"
config-version: 2
profile: bench
model-paths: ["models"]
macro-paths: ["macros"]
vars:
  start_date: "2020-01-01"
models:
  bench:
    staging:
      +materialized: view
      +tags: ["staging"]
    intermediate:
      +materialized: view
    marts:
      +materialized: table
      +schema: marts
""")
write("profiles.yml", """\
bench:
  target: dev
  outputs:
    dev:
      type: postgres
      host: "{{ env_var('BENCH_PG_HOST', 'localhost') }}"
      port: "{{ env_var('BENCH_PG_PORT', '5432') | as_number }}"
      user: "{{ env_var('BENCH_PG_USER', 'postgres') }}"
      password: "{{ env_var('BENCH_PG_PASSWORD', '') }}"
      dbname: "{{ env_var('BENCH_PG_DBNAME', 'bench') }}"
      schema: bench
      threads: 4
""")
write("macros/money.sql", """\
{% macro cents_to_dollars(column_name, scale=2) -%}
    round({{ column_name }} / 100.0, {{ scale }})
{%- endmacro %}
""")
write("macros/dates.sql", """\
{% macro recent_filter(column_name, days=3) -%}
    {{ column_name }} >= (select coalesce(max({{ column_name }}), '1900-01-01') from {{ this }}) - interval '{{ days }} days'
{%- endmacro %}

{% macro since_start(column_name) -%}
    {{ column_name }} >= '{{ var("start_date") }}'
{%- endmacro %}
""")

# Sources: one raw table per staging model.
tables = "\n".join(f"      - name: table_{i}" for i in range(n_staging))
write("models/staging/sources.yml", f"""\
version: 2
sources:
  - name: raw
    schema: raw
    tables:
{tables}
""")


def folder(layer, i):
    return f"models/{layer}/group_{i // folder_size:03d}"


for i in range(n_staging):
    write(f"{folder('staging', i)}/stg_{i}.sql", f"""\
with source as (
    select * from {{{{ source('raw', 'table_{i}') }}}}
)

select
    id,
    customer_id,
    {{{{ cents_to_dollars('amount_cents') }}}} as amount,
    created_at
from source
where {{{{ since_start('created_at') }}}}
""")

for i in range(n_intermediate):
    a, b = random.randrange(n_staging), random.randrange(n_staging)
    config = "{{ config(materialized='ephemeral') }}\n" if i % 10 == 0 else ""
    write(f"{folder('intermediate', i)}/int_{i}.sql", f"""\
{config}select
    a.id,
    a.customer_id,
    a.amount + coalesce(b.amount, 0) as amount,
    a.created_at
from {{{{ ref('stg_{a}') }}}} as a
left join {{{{ ref('stg_{b}') }}}} as b using (id)
""")

for i in range(n_marts):
    parents = random.sample(range(n_intermediate), k=min(3, n_intermediate))
    joins = "\n".join(
        f"left join {{{{ ref('int_{p}') }}}} as p{j} using (id)" for j, p in enumerate(parents[1:], start=1)
    )
    incremental = i % 5 == 0
    config = "{{ config(materialized='incremental', unique_key='id') }}\n" if incremental else ""
    block = "{% if is_incremental() %}\nwhere {{ recent_filter('p0.created_at') }}\n{% endif %}\n" if incremental else ""
    write(f"{folder('marts', i)}/mart_{i}.sql", f"""\
{config}select
    p0.id,
    p0.customer_id,
    p0.amount as amount,
    p0.created_at
from {{{{ ref('int_{parents[0]}') }}}} as p0
{joins}
{block}""")

for g in range((n_marts + folder_size - 1) // folder_size):
    entries = []
    for i in range(g * folder_size, min(n_marts, (g + 1) * folder_size)):
        entries.append(f"""\
  - name: mart_{i}
    description: Mart number {i}.
    columns:
      - name: id
        data_tests:
          - unique
          - not_null""")
    write(f"models/marts/group_{g:03d}/schema.yml", "version: 2\nmodels:\n" + "\n".join(entries) + "\n")

print(f"generated {n} models ({n_staging} staging, {n_intermediate} intermediate, {n_marts} marts) in {out}")
