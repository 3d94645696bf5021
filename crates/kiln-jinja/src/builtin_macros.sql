{#- Kiln's built-in macros, in the `dbt` namespace, as dbt-core defines them. A project
    overrides one by defining a macro of the same name. -#}

{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ default__generate_schema_name(custom_schema_name, node) }}
{%- endmacro %}

{% macro default__generate_schema_name(custom_schema_name, node) -%}
    {%- set default_schema = target.schema -%}
    {%- if custom_schema_name is none -%}
        {{ default_schema }}
    {%- else -%}
        {{ default_schema }}_{{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}

{% macro generate_alias_name(custom_alias_name=none, node=none) -%}
    {{ default__generate_alias_name(custom_alias_name, node) }}
{%- endmacro %}

{% macro default__generate_alias_name(custom_alias_name=none, node=none) -%}
    {%- if custom_alias_name -%}
        {{ custom_alias_name | trim }}
    {%- else -%}
        {{ node.name }}
    {%- endif -%}
{%- endmacro %}

{% macro generate_database_name(custom_database_name=none, node=none) -%}
    {{ default__generate_database_name(custom_database_name, node) }}
{%- endmacro %}

{% macro default__generate_database_name(custom_database_name=none, node=none) -%}
    {%- if custom_database_name is none -%}
        {{ target.database }}
    {%- else -%}
        {{ custom_database_name | trim }}
    {%- endif -%}
{%- endmacro %}

{#- Cross-database macros, dispatched as in dbt-core: `dbt.dateadd(...)` calls
    `postgres__dateadd` on PostgreSQL, else `default__dateadd`. -#}

{% macro dateadd(datepart, interval, from_date_or_timestamp) -%}
    {{ return(adapter.dispatch('dateadd', 'dbt')(datepart, interval, from_date_or_timestamp)) }}
{%- endmacro %}
{% macro default__dateadd(datepart, interval, from_date_or_timestamp) -%}
    dateadd({{ datepart }}, {{ interval }}, {{ from_date_or_timestamp }})
{%- endmacro %}
{#- The whitespace of these macros' output is dbt-postgres' own, so that compiled SQL equals
    dbt's (tests/fixtures/dbt_reference). -#}
{% macro postgres__dateadd(datepart, interval, from_date_or_timestamp) %}

    {{ from_date_or_timestamp }} + ((interval '1 {{ datepart }}') * ({{ interval }}))

{% endmacro %}

{% macro datediff(first_date, second_date, datepart) -%}
    {{ return(adapter.dispatch('datediff', 'dbt')(first_date, second_date, datepart)) }}
{%- endmacro %}
{% macro default__datediff(first_date, second_date, datepart) -%}
    datediff({{ datepart }}, {{ first_date }}, {{ second_date }})
{%- endmacro %}
{% macro postgres__datediff(first_date, second_date, datepart) -%}
    {% if datepart == 'year' %}
        (date_part('year', ({{second_date}})::date) - date_part('year', ({{first_date}})::date))
    {% elif datepart == 'quarter' %}
        ({{ datediff(first_date, second_date, 'year') }} * 4 + date_part('quarter', ({{second_date}})::date) - date_part('quarter', ({{first_date}})::date))
    {% elif datepart == 'month' %}
        ({{ datediff(first_date, second_date, 'year') }} * 12 + date_part('month', ({{second_date}})::date) - date_part('month', ({{first_date}})::date))
    {% elif datepart == 'day' %}
        (({{second_date}})::date - ({{first_date}})::date)
    {% elif datepart == 'week' %}
        ({{ datediff(first_date, second_date, 'day') }} / 7 + case
            when date_part('dow', ({{first_date}})::timestamp) <= date_part('dow', ({{second_date}})::timestamp) then
                case when {{first_date}} <= {{second_date}} then 0 else -1 end
            else
                case when {{first_date}} <= {{second_date}} then 1 else 0 end
        end)
    {% elif datepart == 'hour' %}
        ({{ datediff(first_date, second_date, 'day') }} * 24 + date_part('hour', ({{second_date}})::timestamp) - date_part('hour', ({{first_date}})::timestamp))
    {% elif datepart == 'minute' %}
        ({{ datediff(first_date, second_date, 'hour') }} * 60 + date_part('minute', ({{second_date}})::timestamp) - date_part('minute', ({{first_date}})::timestamp))
    {% elif datepart == 'second' %}
        ({{ datediff(first_date, second_date, 'minute') }} * 60 + floor(date_part('second', ({{second_date}})::timestamp)) - floor(date_part('second', ({{first_date}})::timestamp)))
    {% elif datepart == 'millisecond' %}
        ({{ datediff(first_date, second_date, 'minute') }} * 60000 + floor(date_part('millisecond', ({{second_date}})::timestamp)) - floor(date_part('millisecond', ({{first_date}})::timestamp)))
    {% elif datepart == 'microsecond' %}
        ({{ datediff(first_date, second_date, 'minute') }} * 60000000 + floor(date_part('microsecond', ({{second_date}})::timestamp)) - floor(date_part('microsecond', ({{first_date}})::timestamp)))
    {% else %}
        {{ exceptions.raise_compiler_error("Unsupported datepart for macro datediff in postgres: {!r}".format(datepart)) }}
    {% endif %}
{%- endmacro %}

{% macro date_trunc(datepart, date) -%}
    {{ return(adapter.dispatch('date_trunc', 'dbt')(datepart, date)) }}
{%- endmacro %}
{% macro default__date_trunc(datepart, date) -%}
    date_trunc('{{ datepart }}', {{ date }})
{%- endmacro %}

{% macro last_day(date, datepart) -%}
    {{ return(adapter.dispatch('last_day', 'dbt')(date, datepart)) }}
{%- endmacro %}
{%- macro default_last_day(date, datepart) -%}
    cast(
        {{dbt.dateadd('day', '-1',
        dbt.dateadd(datepart, '1', dbt.date_trunc(datepart, date))
        )}}
        as date)
{%- endmacro -%}
{% macro default__last_day(date, datepart) -%}
    {{dbt.default_last_day(date, datepart)}}
{%- endmacro %}
{% macro postgres__last_day(date, datepart) -%}
    {%- if datepart == 'quarter' -%}
    -- postgres dateadd does not support quarter interval.
    cast(
        {{dbt.dateadd('day', '-1',
        dbt.dateadd('month', '3', dbt.date_trunc(datepart, date))
        )}}
        as date)
    {%- else -%}
    {{dbt.default_last_day(date, datepart)}}
    {%- endif -%}
{%- endmacro %}

{% macro current_timestamp() -%}
    {{ return(adapter.dispatch('current_timestamp', 'dbt')()) }}
{%- endmacro %}
{% macro default__current_timestamp() -%}
    current_timestamp
{%- endmacro %}
{% macro postgres__current_timestamp() -%}
    now()
{%- endmacro %}

{% macro type_string() -%}{{ return(adapter.dispatch('type_string', 'dbt')()) }}{%- endmacro %}
{% macro default__type_string() -%}{{ return(api.Column.translate_type("string")) }}{%- endmacro %}
{% macro type_int() -%}{{ return(adapter.dispatch('type_int', 'dbt')()) }}{%- endmacro %}
{% macro default__type_int() -%}{{ return(api.Column.translate_type("integer")) }}{%- endmacro %}
{% macro type_bigint() -%}{{ return(adapter.dispatch('type_bigint', 'dbt')()) }}{%- endmacro %}
{% macro default__type_bigint() -%}{{ return(api.Column.translate_type("bigint")) }}{%- endmacro %}
{% macro type_numeric() -%}{{ return(adapter.dispatch('type_numeric', 'dbt')()) }}{%- endmacro %}
{% macro default__type_numeric() -%}{{ return(api.Column.numeric_type("numeric", 28, 6)) }}{%- endmacro %}
{% macro type_float() -%}{{ return(adapter.dispatch('type_float', 'dbt')()) }}{%- endmacro %}
{% macro default__type_float() -%}{{ return(api.Column.translate_type("float")) }}{%- endmacro %}
{% macro type_timestamp() -%}{{ return(adapter.dispatch('type_timestamp', 'dbt')()) }}{%- endmacro %}
{% macro default__type_timestamp() -%}{{ return(api.Column.translate_type("timestamp")) }}{%- endmacro %}
{% macro type_boolean() -%}{{ return(adapter.dispatch('type_boolean', 'dbt')()) }}{%- endmacro %}
{% macro default__type_boolean() -%}{{ return(api.Column.translate_type("boolean")) }}{%- endmacro %}

{% macro concat(fields) -%}
    {{ return(adapter.dispatch('concat', 'dbt')(fields)) }}
{%- endmacro %}
{% macro default__concat(fields) -%}
    {{ fields | join(' || ') }}
{%- endmacro %}

{% macro hash(field) -%}
    {{ return(adapter.dispatch('hash', 'dbt')(field)) }}
{%- endmacro %}
{% macro default__hash(field) -%}
    md5(cast({{ field }} as {{ dbt.type_string() }}))
{%- endmacro %}

{% macro split_part(string_text, delimiter_text, part_number) -%}
    {{ return(adapter.dispatch('split_part', 'dbt')(string_text, delimiter_text, part_number)) }}
{%- endmacro %}
{% macro default__split_part(string_text, delimiter_text, part_number) %}

    split_part(
        {{ string_text }},
        {{ delimiter_text }},
        {{ part_number }}
        )

{% endmacro %}
{% macro _split_part_negative(string_text, delimiter_text, part_number) %}

    split_part(
        {{ string_text }},
        {{ delimiter_text }},
          length({{ string_text }})
          - length(
              replace({{ string_text }},  {{ delimiter_text }}, '')
          ) + 2 + {{ part_number }}
        )

{% endmacro %}
{% macro postgres__split_part(string_text, delimiter_text, part_number) %}

  {% if part_number >= 0 %}
    {{ dbt.default__split_part(string_text, delimiter_text, part_number) }}
  {% else %}
    {{ dbt._split_part_negative(string_text, delimiter_text, part_number) }}
  {% endif %}

{% endmacro %}

{% macro listagg(measure, delimiter_text="','", order_by_clause=none, limit_num=none) -%}
    {{ return(adapter.dispatch('listagg', 'dbt')(measure, delimiter_text, order_by_clause, limit_num)) }}
{%- endmacro %}
{% macro default__listagg(measure, delimiter_text, order_by_clause, limit_num) -%}
    {{ return(dbt.postgres__listagg(measure, delimiter_text, order_by_clause, limit_num)) }}
{%- endmacro %}
{% macro postgres__listagg(measure, delimiter_text, order_by_clause, limit_num) -%}

    {% if limit_num -%}
    array_to_string(
        (array_agg(
            {{ measure }}
            {% if order_by_clause -%}
            {{ order_by_clause }}
            {%- endif %}
        ))[1:{{ limit_num }}],
        {{ delimiter_text }}
        )
    {%- else %}
    string_agg(
        {{ measure }},
        {{ delimiter_text }}
        {% if order_by_clause -%}
        {{ order_by_clause }}
        {%- endif %}
        )
    {%- endif %}

{%- endmacro %}

{% macro safe_cast(field, type) -%}
    {{ return(adapter.dispatch('safe_cast', 'dbt')(field, type)) }}
{%- endmacro %}
{% macro default__safe_cast(field, type) %}
    cast({{field}} as {{type}})
{% endmacro %}

{% macro cast(field, type) -%}
    {{ return(adapter.dispatch('cast', 'dbt')(field, type)) }}
{%- endmacro %}
{% macro default__cast(field, type) %}
    cast({{field}} as {{type}})
{% endmacro %}

{% macro any_value(expression) -%}
    {{ return(adapter.dispatch('any_value', 'dbt')(expression)) }}
{%- endmacro %}
{% macro default__any_value(expression) -%}
    any_value({{ expression }})
{%- endmacro %}
{% macro postgres__any_value(expression) -%}
    min({{ expression }})
{%- endmacro %}

{% macro bool_or(expression) -%}
    {{ return(adapter.dispatch('bool_or', 'dbt')(expression)) }}
{%- endmacro %}
{% macro default__bool_or(expression) -%}
    bool_or({{ expression }})
{%- endmacro %}

{% macro cast_bool_to_text(field) %}
  {{ adapter.dispatch('cast_bool_to_text', 'dbt') (field) }}
{% endmacro %}
{% macro default__cast_bool_to_text(field) %}
    cast({{ field }} as {{ api.Column.translate_type('string') }})
{% endmacro %}

{% macro escape_single_quotes(expression) -%}
    {{ return(adapter.dispatch('escape_single_quotes', 'dbt')(expression)) }}
{%- endmacro %}
{% macro default__escape_single_quotes(expression) -%}
    {{ expression | replace("'", "''") }}
{%- endmacro %}

{% macro string_literal(value) -%}
    {{ return(adapter.dispatch('string_literal', 'dbt')(value)) }}
{%- endmacro %}
{% macro default__string_literal(value) -%}
    '{{ value }}'
{%- endmacro %}

{% macro length(expression) -%}
    {{ return(adapter.dispatch('length', 'dbt')(expression)) }}
{%- endmacro %}
{% macro default__length(expression) %}

    length(
        {{ expression }}
    )

{%- endmacro -%}

{% macro position(substring_text, string_text) -%}
    {{ return(adapter.dispatch('position', 'dbt')(substring_text, string_text)) }}
{%- endmacro %}
{% macro default__position(substring_text, string_text) %}

    position(
        {{ substring_text }} in {{ string_text }}
    )

{%- endmacro -%}

{% macro replace(field, old_chars, new_chars) -%}
    {{ return(adapter.dispatch('replace', 'dbt')(field, old_chars, new_chars)) }}
{%- endmacro %}
{% macro default__replace(field, old_chars, new_chars) %}

    replace(
        {{ field }},
        {{ old_chars }},
        {{ new_chars }}
    )


{% endmacro %}

{% macro right(string_text, length_expression) -%}
    {{ return(adapter.dispatch('right', 'dbt')(string_text, length_expression)) }}
{%- endmacro %}
{% macro default__right(string_text, length_expression) %}

    right(
        {{ string_text }},
        {{ length_expression }}
    )

{%- endmacro -%}

{% macro except() -%}{{ return(adapter.dispatch('except', 'dbt')()) }}{%- endmacro %}
{% macro default__except() %}

    except

{% endmacro %}
{% macro intersect() -%}{{ return(adapter.dispatch('intersect', 'dbt')()) }}{%- endmacro %}
{% macro default__intersect() %}

    intersect

{% endmacro %}

{% macro array_construct(inputs=[], data_type=api.Column.translate_type('integer')) -%}
    {{ return(adapter.dispatch('array_construct', 'dbt')(inputs, data_type)) }}
{%- endmacro %}
{#- As dbt: the type is written only for an empty array. -#}
{% macro default__array_construct(inputs, data_type) -%}
    {%- if inputs | length > 0 -%}
        array[ {{ inputs | join(' , ') }} ]
    {%- else -%}
        array[]::{{ data_type }}[]
    {%- endif -%}
{%- endmacro %}

{% macro date(year, month, day) -%}
    {{ return(adapter.dispatch('date', 'dbt')(year, month, day)) }}
{%- endmacro %}
{% macro default__date(year, month, day) -%}
    make_date({{ year }}, {{ month }}, {{ day }})
{%- endmacro %}

{#- Generic data tests, as dbt-core defines them. A project's `{% test unique(...) %}` overrides
    the built-in one. Each returns the failing rows. -#}

{% test unique(model, column_name) %}
    {{ return(adapter.dispatch('test_unique', 'dbt')(model, column_name)) }}
{% endtest %}
{% macro default__test_unique(model, column_name) %}
select
    {{ column_name }} as unique_field,
    count(*) as n_records
from {{ model }}
where {{ column_name }} is not null
group by {{ column_name }}
having count(*) > 1
{% endmacro %}

{% test not_null(model, column_name) %}
    {{ return(adapter.dispatch('test_not_null', 'dbt')(model, column_name)) }}
{% endtest %}
{% macro default__test_not_null(model, column_name) %}
{#- As dbt-core's: the column alone, every column when failures are stored. #}
{% set column_list = '*' if should_store_failures() else column_name %}
select {{ column_list }}
from {{ model }}
where {{ column_name }} is null
{% endmacro %}

{% test accepted_values(model, column_name, values, quote=True) %}
    {{ return(adapter.dispatch('test_accepted_values', 'dbt')(model, column_name, values, quote)) }}
{% endtest %}
{% macro default__test_accepted_values(model, column_name, values, quote=True) %}
with all_values as (
    select
        {{ column_name }} as value_field,
        count(*) as n_records
    from {{ model }}
    group by {{ column_name }}
)
select *
from all_values
where value_field not in (
    {% for value in values -%}
        {% if quote -%}
        '{{ value | string | replace("'", "''") }}'
        {%- else -%}
        {{ value }}
        {%- endif -%}
        {%- if not loop.last -%},{%- endif %}
    {%- endfor %}
)
{% endmacro %}

{% test relationships(model, column_name, to, field) %}
    {{ return(adapter.dispatch('test_relationships', 'dbt')(model, column_name, to, field)) }}
{% endtest %}
{% macro default__test_relationships(model, column_name, to, field) %}
with child as (
    select {{ column_name }} as from_field
    from {{ model }}
    where {{ column_name }} is not null
),

parent as (
    select {{ field }} as to_field
    from {{ to }}
)

select
    from_field
from child
left join parent
    on child.from_field = parent.to_field
where parent.to_field is null
{% endmacro %}

{#- dbt's should_full_refresh / should_store_failures: the node's config, else the flag. -#}
{% macro should_full_refresh() -%}
    {%- set config_full_refresh = config.get('full_refresh') -%}
    {%- if config_full_refresh is none -%}
        {%- set config_full_refresh = flags.FULL_REFRESH -%}
    {%- endif -%}
    {{ return(config_full_refresh) }}
{%- endmacro %}

{% macro should_store_failures() -%}
    {%- set config_store_failures = config.get('store_failures') -%}
    {%- if config_store_failures is none -%}
        {%- set config_store_failures = flags.STORE_FAILURES -%}
    {%- endif -%}
    {{ return(config_store_failures) }}
{%- endmacro %}

{#- Arrays, equality, series and spines, as dbt-core 1.11 renders them on PostgreSQL. -#}
{% macro array_append(array, new_element) -%}
    {{ return(adapter.dispatch('array_append', 'dbt')(array, new_element)) }}
{%- endmacro %}
{% macro default__array_append(array, new_element) -%}
    array_append({{ array }}, {{ new_element }})
{%- endmacro %}

{% macro array_concat(array_1, array_2) -%}
    {{ return(adapter.dispatch('array_concat', 'dbt')(array_1, array_2)) }}
{%- endmacro %}
{% macro default__array_concat(array_1, array_2) -%}
    array_cat({{ array_1 }}, {{ array_2 }})
{%- endmacro %}

{% macro equals(expr1, expr2) -%}
    {{ return(adapter.dispatch('equals', 'dbt')(expr1, expr2)) }}
{%- endmacro %}
{#- dbt 1.11's default (the `enable_truthy_nulls_equals_macro` behaviour flag is off). -#}
{% macro default__equals(expr1, expr2) -%}
    ({{ expr1 }} = {{ expr2 }})
{%- endmacro %}

{% macro generate_schema_name_for_env(custom_schema_name, node) -%}
    {%- if target.name == 'prod' and custom_schema_name is not none -%}
        {{ custom_schema_name | trim }}
    {%- else -%}
        {{ target.schema }}
    {%- endif -%}
{%- endmacro %}

{% macro get_powers_of_two(upper_bound) -%}
    {{ return(adapter.dispatch('get_powers_of_two', 'dbt')(upper_bound)) }}
{%- endmacro %}
{% macro default__get_powers_of_two(upper_bound) -%}
    {%- if upper_bound <= 0 -%}
        {{ exceptions.raise_compiler_error("upper bound must be positive") }}
    {%- endif -%}
    {%- for _ in range(1, 100) -%}
        {%- if upper_bound <= 2 ** loop.index -%}{{ return(loop.index) }}{%- endif -%}
    {%- endfor -%}
{%- endmacro %}

{% macro generate_series(upper_bound) -%}
    {{ return(adapter.dispatch('generate_series', 'dbt')(upper_bound)) }}
{%- endmacro %}
{% macro default__generate_series(upper_bound) -%}
    {%- set n = dbt.get_powers_of_two(upper_bound) %}
    with p as ( select 0 as generated_number union all select 1 ), unioned as (
    select {% for i in range(n) %}p{{ i }}.generated_number * power(2, {{ i }}){% if not loop.last %} + {% endif %}{% endfor %} + 1 as generated_number
    from {% for i in range(n) %}p as p{{ i }}{% if not loop.last %} cross join {% endif %}{% endfor %}
    )
    select * from unioned where generated_number <= {{ upper_bound }} order by generated_number
{%- endmacro %}

{% macro get_intervals_between(start_date, end_date, datepart) -%}
    {{ return(adapter.dispatch('get_intervals_between', 'dbt')(start_date, end_date, datepart)) }}
{%- endmacro %}
{% macro default__get_intervals_between(start_date, end_date, datepart) -%}
    {%- call statement('get_intervals_between', fetch_result=True) -%}
        select {{ dbt.datediff(start_date, end_date, datepart) }}
    {%- endcall -%}
    {%- set value_list = load_result('get_intervals_between') -%}
    {%- if value_list and value_list['data'] -%}
        {{ return((value_list['data'] | map(attribute=0) | list)[0]) }}
    {%- else -%}
        {{ return(1) }}
    {%- endif -%}
{%- endmacro %}

{% macro date_spine(datepart, start_date, end_date) -%}
    {{ return(adapter.dispatch('date_spine', 'dbt')(datepart, start_date, end_date)) }}
{%- endmacro %}
{% macro default__date_spine(datepart, start_date, end_date) -%}
    with rawdata as ( {{ dbt.generate_series(dbt.get_intervals_between(start_date, end_date, datepart)) }} ),
    all_periods as (
        select ( {{ dbt.dateadd(datepart, "row_number() over (order by 1) - 1", start_date) }} ) as date_{{ datepart }}
        from rawdata
    ),
    filtered as ( select * from all_periods where date_{{ datepart }} <= {{ end_date }} )
    select * from filtered
{%- endmacro %}

{#- dbt's relation loaders: the relation as it exists in the warehouse, or none. -#}
{% macro load_cached_relation(relation) -%}
    {{ return(adapter.get_relation(database=relation.database, schema=relation.schema, identifier=relation.identifier)) }}
{%- endmacro %}
{% macro load_relation(relation) -%}
    {{ return(load_cached_relation(relation)) }}
{%- endmacro %}

{#- Relations made from another one (dbt's adapters/relation.sql, PostgreSQL's versions):
    the name is cut so that name and suffix fit PostgreSQL's 63 bytes. -#}
{% macro make_intermediate_relation(base_relation, suffix='__dbt_tmp') -%}
    {{ return(adapter.dispatch('make_intermediate_relation', 'dbt')(base_relation, suffix)) }}
{%- endmacro %}
{% macro postgres__make_intermediate_relation(base_relation, suffix) -%}
    {{ return(postgres__make_relation_with_suffix(base_relation, suffix, dstring=false)) }}
{%- endmacro %}
{% macro make_temp_relation(base_relation, suffix='__dbt_tmp') -%}
    {{ return(adapter.dispatch('make_temp_relation', 'dbt')(base_relation, suffix)) }}
{%- endmacro %}
{% macro postgres__make_temp_relation(base_relation, suffix) -%}
    {%- set relation = postgres__make_relation_with_suffix(base_relation, suffix, dstring=true) -%}
    {{ return(relation.incorporate(path={'schema': none, 'database': none})) }}
{%- endmacro %}
{% macro make_backup_relation(base_relation, backup_relation_type, suffix='__dbt_backup') -%}
    {{ return(adapter.dispatch('make_backup_relation', 'dbt')(base_relation, backup_relation_type, suffix)) }}
{%- endmacro %}
{% macro postgres__make_backup_relation(base_relation, backup_relation_type, suffix) -%}
    {%- set relation = postgres__make_relation_with_suffix(base_relation, suffix, dstring=false) -%}
    {{ return(relation.incorporate(type=backup_relation_type)) }}
{%- endmacro %}
{% macro postgres__make_relation_with_suffix(base_relation, suffix, dstring) -%}
    {%- if dstring -%}
        {%- set suffix = suffix ~ modules.datetime.datetime.now().strftime('%H%M%S%f') -%}
    {%- endif -%}
    {%- if suffix | length > 63 -%}
        {%- do exceptions.raise_compiler_error('Relation suffix is too long (' ~ (suffix | length) ~ ' characters). Maximum length is 63 characters.') -%}
    {%- endif -%}
    {{ return(base_relation.incorporate(path={'identifier': base_relation.identifier[:63 - (suffix | length)] ~ suffix})) }}
{%- endmacro %}

{% macro drop_relation(relation) -%}
    {{ return(adapter.drop_relation(relation)) }}
{%- endmacro %}
{% macro drop_relation_if_exists(relation) -%}
    {%- if relation is not none -%}
        {{ adapter.drop_relation(relation) }}
    {%- endif -%}
{%- endmacro %}
{% macro truncate_relation(relation) -%}
    {{ return(adapter.truncate_relation(relation)) }}
{%- endmacro %}

{#- The same columns as `select_sql`, without reading a row. -#}
{% macro get_empty_subquery_sql(select_sql, select_sql_header=none) -%}
    {{ return(adapter.dispatch('get_empty_subquery_sql', 'dbt')(select_sql, select_sql_header)) }}
{%- endmacro %}
{% macro default__get_empty_subquery_sql(select_sql, select_sql_header=none) %}
    {%- if select_sql_header is not none -%}
    {{ select_sql_header }}
    {%- endif -%}
    select * from (
        {{ select_sql }}
    ) as __dbt_sbq
    where false
    limit 0
{% endmacro %}

{#- Timestamps as dbt-postgres writes them (adapters/timestamps.sql). -#}
{% macro current_timestamp_backcompat() -%}
    {{ return(adapter.dispatch('current_timestamp_backcompat', 'dbt')()) }}
{%- endmacro %}
{% macro postgres__current_timestamp_backcompat() %}
    current_timestamp::{{ type_timestamp() }}
{% endmacro %}
{% macro current_timestamp_in_utc_backcompat() -%}
    {{ return(adapter.dispatch('current_timestamp_in_utc_backcompat', 'dbt')()) }}
{%- endmacro %}
{% macro postgres__current_timestamp_in_utc_backcompat() %}
    (current_timestamp at time zone 'utc')::{{ type_timestamp() }}
{% endmacro %}
{% macro snapshot_get_time() -%}
    {{ adapter.dispatch('snapshot_get_time', 'dbt')() }}
{%- endmacro %}
{% macro postgres__snapshot_get_time() -%}
    {{ current_timestamp() }}::timestamp without time zone
{%- endmacro %}
{% macro py_current_timestring() -%}
    {{ return(modules.datetime.datetime.now().strftime('%Y%m%d%H%M%S%f')) }}
{%- endmacro %}
{% macro get_true_sql() %}
  {{ adapter.dispatch('get_true_sql', 'dbt')() }}
{% endmacro %}
{% macro default__get_true_sql() -%}
    {{ return('TRUE') }}
{%- endmacro %}

{#- The DDL of dbt's materializations, for macros that build relations themselves. Model
    contracts are not applied here (Kiln checks them in its own materializations). -#}
{% macro get_create_table_as_sql(temporary, relation, sql) -%}
    {{ adapter.dispatch('get_create_table_as_sql', 'dbt')(temporary, relation, sql) }}
{%- endmacro %}
{% macro default__get_create_table_as_sql(temporary, relation, sql) -%}
    {{ return(create_table_as(temporary, relation, sql)) }}
{%- endmacro %}
{% macro create_table_as(temporary, relation, compiled_code, language='sql') -%}
  {% if language == "sql" %}
    {{ adapter.dispatch('create_table_as', 'dbt')(temporary, relation, compiled_code)}}
  {% else %}
    {{ exceptions.raise_compiler_error("create_table_as: only SQL models are supported, not " ~ language) }}
  {% endif %}

{%- endmacro %}
{% macro postgres__create_table_as(temporary, relation, sql) -%}
    {%- set unlogged = config.get('unlogged', default=false) -%}
    {%- set sql_header = config.get('sql_header', none) -%}
    {{ sql_header if sql_header is not none }}
    create {% if temporary -%} temporary {%- elif unlogged -%} unlogged {%- endif %} table {{ relation }}
    as (
        {{ sql }}
    );
{%- endmacro %}
{% macro get_create_view_as_sql(relation, sql) -%}
    {{ adapter.dispatch('get_create_view_as_sql', 'dbt')(relation, sql) }}
{%- endmacro %}
{% macro default__get_create_view_as_sql(relation, sql) -%}
    {{ return(create_view_as(relation, sql)) }}
{%- endmacro %}
{% macro create_view_as(relation, sql) -%}
    {{ adapter.dispatch('create_view_as', 'dbt')(relation, sql) }}
{%- endmacro %}
{% macro default__create_view_as(relation, sql) -%}
    {%- set sql_header = config.get('sql_header', none) -%}
    {{ sql_header if sql_header is not none }}
    create view {{ relation }}
    as (
        {{ sql }}
    );
{%- endmacro %}

{#- Incremental strategies: the SQL that adds a run's new rows (in `temp_relation`) to the
    model's table, as dbt-postgres writes it. A project's `incremental_strategy: <name>` runs
    `get_incremental_<name>_sql(arg_dict)`; these are the built-in ones, and what custom ones
    usually call. -#}
{% macro get_quoted_csv(column_names) -%}
    {%- set quoted = [] -%}
    {%- for name in column_names -%}
        {%- do quoted.append(adapter.quote(name)) -%}
    {%- endfor -%}
    {{ return(quoted | join(', ')) }}
{%- endmacro %}
{% macro get_merge_update_columns(merge_update_columns, merge_exclude_columns, dest_columns) -%}
    {{ return(adapter.dispatch('get_merge_update_columns', 'dbt')(merge_update_columns, merge_exclude_columns, dest_columns)) }}
{%- endmacro %}
{% macro default__get_merge_update_columns(merge_update_columns, merge_exclude_columns, dest_columns) -%}
    {%- if merge_update_columns and merge_exclude_columns -%}
        {{ exceptions.raise_compiler_error('Model cannot specify merge_update_columns and merge_exclude_columns. Please update model to use only one config') }}
    {%- elif merge_update_columns -%}
        {{ return(merge_update_columns) }}
    {%- elif merge_exclude_columns -%}
        {%- set excluded = merge_exclude_columns | map('lower') | list -%}
        {%- set kept = [] -%}
        {%- for column in dest_columns if column.column | lower not in excluded -%}
            {%- do kept.append(column.quoted) -%}
        {%- endfor -%}
        {{ return(kept) }}
    {%- else -%}
        {{ return(dest_columns | map(attribute='quoted') | list) }}
    {%- endif -%}
{%- endmacro %}
{% macro get_merge_unique_key_match(source_unique_key, target_unique_key) -%}
    {{ return(adapter.dispatch('get_merge_unique_key_match', 'dbt')(source_unique_key, target_unique_key)) }}
{%- endmacro %}
{% macro default__get_merge_unique_key_match(source_unique_key, target_unique_key) -%}
    {{ return(equals(source_unique_key, target_unique_key) | trim) }}
{%- endmacro %}
{% macro get_merge_sql(target, source, unique_key, dest_columns, incremental_predicates=none) -%}
   -- back compat for old kwarg name
  {% set incremental_predicates = kwargs.get('predicates', incremental_predicates) %}
    {{ adapter.dispatch('get_merge_sql', 'dbt')(target, source, unique_key, dest_columns, incremental_predicates) }}
{%- endmacro %}
{% macro default__get_merge_sql(target, source, unique_key, dest_columns, incremental_predicates=none) -%}
    {%- set predicates = [] if incremental_predicates is none else [] + incremental_predicates -%}
    {%- set columns_csv = get_quoted_csv(dest_columns | map(attribute='name')) -%}
    {%- set update_columns = get_merge_update_columns(config.get('merge_update_columns'), config.get('merge_exclude_columns'), dest_columns) -%}
    {%- set sql_header = config.get('sql_header', none) -%}
    {%- if unique_key is string -%}
        {%- do predicates.append(get_merge_unique_key_match(('DBT_INTERNAL_SOURCE.' ~ unique_key) | trim, ('DBT_INTERNAL_DEST.' ~ unique_key) | trim)) -%}
    {%- elif unique_key -%}
        {%- for key in unique_key -%}
            {%- do predicates.append('\n                    DBT_INTERNAL_SOURCE.' ~ key ~ ' = DBT_INTERNAL_DEST.' ~ key ~ '\n                ') -%}
        {%- endfor -%}
    {%- else -%}
        {%- do predicates.append('FALSE') -%}
    {%- endif %}
    {{ sql_header if sql_header is not none }}
    merge into {{ target }} as DBT_INTERNAL_DEST
        using {{ source }} as DBT_INTERNAL_SOURCE
        on {{ '(' ~ predicates | join(') and (') ~ ')' }}
    {% if unique_key %}
    when matched then update set
        {% for column_name in update_columns -%}
            {{ column_name }} = DBT_INTERNAL_SOURCE.{{ column_name }}{{ ',' if not loop.last }}
        {%- endfor %}
    {% endif %}
    when not matched then insert
        ({{ columns_csv }})
    values
        ({{ columns_csv }})
{% endmacro %}
{% macro get_delete_insert_merge_sql(target, source, unique_key, dest_columns, incremental_predicates) -%}
    {{ adapter.dispatch('get_delete_insert_merge_sql', 'dbt')(target, source, unique_key, dest_columns, incremental_predicates) }}
{%- endmacro %}
{% macro default__get_delete_insert_merge_sql(target, source, unique_key, dest_columns, incremental_predicates) -%}
    {%- set columns_csv = get_quoted_csv(dest_columns | map(attribute='name')) -%}
    {%- if unique_key -%}
        {%- set keys = ([unique_key] if unique_key is string else unique_key) | join(', ') %}
        delete from {{ target }} as DBT_INTERNAL_DEST
        where ({{ keys }}) in (
            select distinct {{ keys }}
            from {{ source }} as DBT_INTERNAL_SOURCE
        )
        {%- for predicate in incremental_predicates or [] %}
            and {{ predicate }}
        {% endfor -%};
    {% endif %}
    insert into {{ target }} ({{ columns_csv }})
    (
        select {{ columns_csv }}
        from {{ source }}
    )
{%- endmacro %}
{% macro get_insert_overwrite_merge_sql(target, source, dest_columns, predicates, include_sql_header=false) -%}
    {{ adapter.dispatch('get_insert_overwrite_merge_sql', 'dbt')(target, source, dest_columns, predicates, include_sql_header) }}
{%- endmacro %}
{% macro default__get_insert_overwrite_merge_sql(target, source, dest_columns, predicates, include_sql_header) -%}
    {%- set predicates = [] if predicates is none else [] + predicates -%}
    {%- set columns_csv = get_quoted_csv(dest_columns | map(attribute='name')) -%}
    {%- set sql_header = config.get('sql_header', none) %}
    {{ sql_header if sql_header is not none and include_sql_header }}
    merge into {{ target }} as DBT_INTERNAL_DEST
        using {{ source }} as DBT_INTERNAL_SOURCE
        on FALSE
    when not matched by source
        {% if predicates %} and {{ predicates | join(' and ') }} {% endif %}
        then delete
    when not matched then insert
        ({{ columns_csv }})
    values
        ({{ columns_csv }})
{% endmacro %}
{% macro get_insert_into_sql(target_relation, temp_relation, dest_columns) -%}
    {%- set columns_csv = get_quoted_csv(dest_columns | map(attribute='name')) -%}
    insert into {{ target_relation }} ({{ columns_csv }})
    (
        select {{ columns_csv }}
        from {{ temp_relation }}
    )
{% endmacro %}
{% macro get_incremental_append_sql(arg_dict) -%}
    {{ return(adapter.dispatch('get_incremental_append_sql', 'dbt')(arg_dict)) }}
{%- endmacro %}
{% macro default__get_incremental_append_sql(arg_dict) -%}
    {{ return(get_insert_into_sql(arg_dict['target_relation'], arg_dict['temp_relation'], arg_dict['dest_columns'])) }}
{%- endmacro %}
{% macro get_incremental_delete_insert_sql(arg_dict) -%}
    {{ return(adapter.dispatch('get_incremental_delete_insert_sql', 'dbt')(arg_dict)) }}
{%- endmacro %}
{% macro default__get_incremental_delete_insert_sql(arg_dict) -%}
    {{ return(get_delete_insert_merge_sql(arg_dict['target_relation'], arg_dict['temp_relation'], arg_dict['unique_key'], arg_dict['dest_columns'], arg_dict['incremental_predicates'])) }}
{%- endmacro %}
{% macro get_incremental_merge_sql(arg_dict) -%}
    {{ return(adapter.dispatch('get_incremental_merge_sql', 'dbt')(arg_dict)) }}
{%- endmacro %}
{% macro default__get_incremental_merge_sql(arg_dict) -%}
    {{ return(get_merge_sql(arg_dict['target_relation'], arg_dict['temp_relation'], arg_dict['unique_key'], arg_dict['dest_columns'], arg_dict['incremental_predicates'])) }}
{%- endmacro %}
{% macro get_incremental_insert_overwrite_sql(arg_dict) -%}
    {{ return(adapter.dispatch('get_incremental_insert_overwrite_sql', 'dbt')(arg_dict)) }}
{%- endmacro %}
{% macro default__get_incremental_insert_overwrite_sql(arg_dict) -%}
    {{ return(get_insert_overwrite_merge_sql(arg_dict['target_relation'], arg_dict['temp_relation'], arg_dict['dest_columns'], arg_dict['incremental_predicates'])) }}
{%- endmacro %}
{% macro get_incremental_default_sql(arg_dict) -%}
    {{ return(adapter.dispatch('get_incremental_default_sql', 'dbt')(arg_dict)) }}
{%- endmacro %}
{% macro postgres__get_incremental_default_sql(arg_dict) -%}
    {%- if arg_dict['unique_key'] -%}
        {{ return(get_incremental_delete_insert_sql(arg_dict)) }}
    {%- else -%}
        {{ return(get_incremental_append_sql(arg_dict)) }}
    {%- endif -%}
{%- endmacro %}
{% macro get_incremental_microbatch_sql(arg_dict) -%}
    {{ return(adapter.dispatch('get_incremental_microbatch_sql', 'dbt')(arg_dict)) }}
{%- endmacro %}
{% macro postgres__get_incremental_microbatch_sql(arg_dict) -%}
    {%- if arg_dict['unique_key'] -%}
        {{ return(adapter.dispatch('get_incremental_merge_sql', 'dbt')(arg_dict)) }}
    {%- else -%}
        {{ exceptions.raise_compiler_error("dbt-postgres 'microbatch' requires a `unique_key` config") }}
    {%- endif -%}
{%- endmacro %}

{#- Generic tests: the model argument, filtered by the test's `where` config. -#}
{% macro get_where_subquery(relation) -%}
    {{ return(adapter.dispatch('get_where_subquery', 'dbt')(relation)) }}
{%- endmacro %}
{% macro default__get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- if where -%}
        {{ return('(select * from ' ~ relation ~ ' where ' ~ where ~ ') dbt_subquery') }}
    {%- else -%}
        {{ return(relation) }}
    {%- endif -%}
{%- endmacro %}

{#- Grants, as dbt-postgres writes them. -#}
{% macro copy_grants() -%}
    {{ return(adapter.dispatch('copy_grants', 'dbt')()) }}
{%- endmacro %}
{% macro postgres__copy_grants() -%}
    {{ return(false) }}
{%- endmacro %}
{% macro support_multiple_grantees_per_dcl_statement() -%}
    {{ return(adapter.dispatch('support_multiple_grantees_per_dcl_statement', 'dbt')()) }}
{%- endmacro %}
{% macro default__support_multiple_grantees_per_dcl_statement() -%}
    {{ return(true) }}
{%- endmacro %}
{% macro should_revoke(existing_relation, full_refresh_mode=true) -%}
    {%- if not existing_relation -%}
        {{ return(false) }}
    {%- elif full_refresh_mode -%}
        {{ return(copy_grants()) }}
    {%- else -%}
        {{ return(true) }}
    {%- endif -%}
{%- endmacro %}
{% macro get_show_grant_sql(relation) -%}
    {{ return(adapter.dispatch('get_show_grant_sql', 'dbt')(relation)) }}
{%- endmacro %}
{% macro postgres__get_show_grant_sql(relation) -%}
  select grantee, privilege_type
  from {{ relation.information_schema('role_table_grants') }}
      where grantor = current_role
        and grantee != current_role
        and table_schema = '{{ relation.schema }}'
        and table_name = '{{ relation.identifier }}'
{%- endmacro %}
{% macro get_grant_sql(relation, privilege, grantees) -%}
    {{ return(adapter.dispatch('get_grant_sql', 'dbt')(relation, privilege, grantees)) }}
{%- endmacro %}
{% macro default__get_grant_sql(relation, privilege, grantees) -%}
    grant {{ privilege }} on {{ relation.render() }} to {{ grantees | join(', ') }}
{%- endmacro %}
{% macro get_revoke_sql(relation, privilege, grantees) -%}
    {{ return(adapter.dispatch('get_revoke_sql', 'dbt')(relation, privilege, grantees)) }}
{%- endmacro %}
{% macro default__get_revoke_sql(relation, privilege, grantees) -%}
    {%- set quoted = [] -%}
    {%- for grantee in grantees -%}
        {%- do quoted.append(adapter.quote(grantee)) -%}
    {%- endfor -%}
    revoke {{ privilege }} on {{ relation.render() }} from {{ quoted | join(', ') }}
{%- endmacro %}
{% macro get_dcl_statement_list(relation, grant_config, get_dcl_macro) -%}
    {{ return(adapter.dispatch('get_dcl_statement_list', 'dbt')(relation, grant_config, get_dcl_macro)) }}
{%- endmacro %}
{% macro default__get_dcl_statement_list(relation, grant_config, get_dcl_macro) -%}
    {%- set statements = [] -%}
    {%- for privilege, grantees in grant_config.items() -%}
        {%- if support_multiple_grantees_per_dcl_statement() and grantees -%}
            {%- do statements.append(get_dcl_macro(relation, privilege, grantees)) -%}
        {%- else -%}
            {%- for grantee in grantees -%}
                {%- do statements.append(get_dcl_macro(relation, privilege, [grantee])) -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(statements) }}
{%- endmacro %}
{% macro call_dcl_statements(dcl_statement_list) -%}
    {{ return(adapter.dispatch('call_dcl_statements', 'dbt')(dcl_statement_list)) }}
{%- endmacro %}
{% macro default__call_dcl_statements(dcl_statement_list) -%}
    {%- call statement('grants') -%}
        {%- for dcl_statement in dcl_statement_list %}
            {{ dcl_statement }};
        {%- endfor %}
    {%- endcall -%}
{%- endmacro %}

{#- Comments, as dbt-postgres writes them (persist_docs). -#}
{% macro postgres_escape_comment(comment) -%}
    {%- if comment is not string -%}
        {{ exceptions.raise_compiler_error('cannot escape a non-string: ' ~ comment) }}
    {%- endif -%}
    {%- set magic = '$dbt_comment_literal_block$' -%}
    {%- if magic in comment -%}
        {{ exceptions.raise_compiler_error('The string ' ~ magic ~ ' is not allowed in comments.') }}
    {%- endif -%}
    {{ magic }}{{ comment }}{{ magic }}
{%- endmacro %}
{% macro alter_relation_comment(relation, relation_comment) -%}
    {{ return(adapter.dispatch('alter_relation_comment', 'dbt')(relation, relation_comment)) }}
{%- endmacro %}
{% macro postgres__alter_relation_comment(relation, comment) -%}
    {%- set kind = 'materialized view' if relation.type == 'materialized_view' else relation.type %}
  comment on {{ kind }} {{ relation }} is {{ postgres_escape_comment(comment) }};
{% endmacro %}
{% macro alter_column_comment(relation, column_dict) -%}
    {{ return(adapter.dispatch('alter_column_comment', 'dbt')(relation, column_dict)) }}
{%- endmacro %}
{% macro postgres__alter_column_comment(relation, column_dict) -%}
    {%- set existing = adapter.get_columns_in_relation(relation) | map(attribute='name') | list -%}
    {%- for column_name in column_dict if column_name in existing %}
    comment on column {{ relation }}.{{ adapter.quote(column_name) if column_dict[column_name]['quote'] else column_name }} is {{ postgres_escape_comment(column_dict[column_name]['description']) }};
    {%- endfor %}
{% endmacro %}

{#- Schemas, relations and names. -#}
{% macro information_schema_name(database) -%}
    {{ return(adapter.dispatch('information_schema_name', 'dbt')(database)) }}
{%- endmacro %}
{% macro postgres__information_schema_name(database) -%}
    information_schema
{%- endmacro %}
{% macro create_schema(relation) -%}
    {{ return(adapter.create_schema(relation)) }}
{%- endmacro %}
{% macro drop_schema(relation) -%}
    {{ return(adapter.drop_schema(relation)) }}
{%- endmacro %}
{% macro get_drop_sql(relation) -%}
    {{- adapter.dispatch('get_drop_sql', 'dbt')(relation) -}}
{%- endmacro %}
{% macro default__get_drop_sql(relation) -%}
    drop {{ 'materialized view' if relation.type == 'materialized_view' else relation.type }} if exists {{ relation.render() }} cascade
{%- endmacro %}
{% macro drop_table(relation) -%}
    drop table if exists {{ relation.render() }} cascade
{%- endmacro %}
{% macro drop_view(relation) -%}
    drop view if exists {{ relation.render() }} cascade
{%- endmacro %}
{% macro get_drop_index_sql(relation, index_name) -%}
    drop index if exists "{{ relation.schema }}"."{{ index_name }}"
{%- endmacro %}
{% macro resolve_model_name(input_model_name) -%}
    {{ input_model_name | string | replace('"', '\"') }}
{%- endmacro %}

{#- Partition dates, as dbt's `dates_in_range` / `partition_range`. -#}
{% macro convert_datetime(date_str, date_fmt) -%}
    {{ return(modules.datetime.datetime.strptime(date_str.strip(), date_fmt)) }}
{%- endmacro %}
{% macro dates_in_range(start_date_str, end_date_str=none, in_fmt="%Y%m%d", out_fmt="%Y%m%d") -%}
    {%- set start_date = convert_datetime(start_date_str, in_fmt) -%}
    {%- set end_date = convert_datetime(start_date_str if end_date_str is none else end_date_str, in_fmt) -%}
    {%- set day_count = (end_date - start_date).days -%}
    {%- if day_count < 0 -%}
        {{ exceptions.raise_compiler_error('Partition start date is after the end date (' ~ start_date ~ ', ' ~ end_date ~ ')') }}
    {%- endif -%}
    {%- set dates = [] -%}
    {%- for i in range(0, day_count + 1) -%}
        {%- set day = modules.datetime.timedelta(days=i) + start_date -%}
        {%- do dates.append(day.strftime(out_fmt) if out_fmt else day) -%}
    {%- endfor -%}
    {{ return(dates) }}
{%- endmacro %}
{% macro partition_range(raw_partition_date, date_fmt='%Y%m%d') -%}
    {%- set parts = (raw_partition_date | string).split(',') -%}
    {%- if parts | length == 1 -%}
        {{ return(dates_in_range(parts[0], none, in_fmt=date_fmt)) }}
    {%- elif parts | length == 2 -%}
        {{ return(dates_in_range(parts[0], parts[1], in_fmt=date_fmt)) }}
    {%- else -%}
        {{ exceptions.raise_compiler_error('Invalid partition time. Expected format: {Start Date}[,{End Date}]. Got: ' ~ raw_partition_date) }}
    {%- endif -%}
{%- endmacro %}

{#- `{% call set_sql_header(config) %} set local work_mem = '256MB' {% endcall %}` in a model:
    statements run just before its `create`, in the same session. -#}
{% macro set_sql_header(config) -%}
    {{ config.set('sql_header', caller()) }}
{%- endmacro %}

{#- Columns of a relation or a query, as dbt's macros return them. -#}
{% macro get_columns_in_relation(relation) -%}
    {{ return(adapter.get_columns_in_relation(relation)) }}
{%- endmacro %}
{% macro get_columns_in_query(select_sql) -%}
    {{ return(adapter.get_columns_in_query(select_sql)) }}
{%- endmacro %}
{% macro rename_relation(from_relation, to_relation) -%}
    {{ return(adapter.rename_relation(from_relation, to_relation)) }}
{%- endmacro %}

{#- `kiln show`-style limits and small helpers dbt's global project has. -#}
{% macro get_show_sql(compiled_code, sql_header, limit) -%}
    {%- if sql_header is not none -%}
    {{ sql_header }}
    {%- endif %}
    {{ get_limit_subquery_sql(compiled_code, limit) }}
{% endmacro %}
{% macro get_limit_subquery_sql(sql, limit) -%}
    {{ adapter.dispatch('get_limit_sql', 'dbt')(sql, limit) }}
{%- endmacro %}
{% macro default__get_limit_sql(sql, limit) %}
    {{ sql }}
    {% if limit is not none %}
    limit {{ limit }}
    {%- endif -%}
{% endmacro %}
{% macro get_or_create_relation(database, schema, identifier, type) -%}
    {%- set found = adapter.get_relation(database=database, schema=schema, identifier=identifier) -%}
    {%- if found -%}
        {{ return([true, found]) }}
    {%- endif -%}
    {{ return([false, api.Relation.create(database=database, schema=schema, identifier=identifier, type=type)]) }}
{%- endmacro %}
{% macro drop_schema_named(schema_name) -%}
    {{ return(adapter.drop_schema(api.Relation.create(schema=schema_name))) }}
{%- endmacro %}
{% macro get_binding_char() -%}
    {{ return('%s') }}
{%- endmacro %}
{% macro get_batch_size() -%}
    {{ return(10000) }}
{%- endmacro %}
{% macro snapshot_string_as_time(timestamp) -%}
    {{ return("'" ~ timestamp ~ "'::timestamp without time zone") }}
{%- endmacro %}
{% macro snapshot_hash_arguments(args) -%}
    md5({%- for arg in args -%}
        coalesce(cast({{ arg }} as varchar ), '')
        {% if not loop.last %} || '|' || {% endif %}
    {%- endfor -%})
{%- endmacro %}

{#- The catalog questions dbt's macros answer with a table (the adapter methods of the same
    names answer with a list or a boolean). -#}
{% macro list_schemas(database) -%}
    {{ return(run_query('select distinct nspname from pg_namespace')) }}
{%- endmacro %}
{% macro check_schema_exists(information_schema, schema) -%}
    {{ return(run_query("select count(*) from pg_namespace where nspname = '" ~ schema ~ "'")) }}
{%- endmacro %}
{% macro diff_columns(source_columns, target_columns) -%}
    {%- set target_names = target_columns | map(attribute='column') | list -%}
    {%- set result = [] -%}
    {%- for column in source_columns if column.name not in target_names -%}
        {%- do result.append(column) -%}
    {%- endfor -%}
    {{ return(result) }}
{%- endmacro %}

{#- What a materialization macro (`{% materialization %}`) calls, written for Kiln: hooks in and
    out of the transaction, indexes, grants, comments, and the relations of a swap. -#}
{% macro run_hooks(hooks, inside_transaction=True) -%}
    {%- set selected = hooks | selectattr('transaction', 'equalto', inside_transaction) | list -%}
    {%- if selected and not inside_transaction -%}
        {#- Hooks outside the transaction run after what it holds is committed. -#}
        {%- do adapter.commit() -%}
    {%- endif -%}
    {%- for hook in selected -%}
        {%- set hook_sql = render(hook['sql']) | trim -%}
        {%- if hook_sql -%}
            {%- call statement(auto_begin=inside_transaction) -%}{{ hook_sql }}{%- endcall -%}
        {%- endif -%}
    {%- endfor -%}
{%- endmacro %}
{% macro make_hook_config(sql, inside_transaction) %}
    {{ tojson({'sql': sql, 'transaction': inside_transaction}) }}
{% endmacro %}
{% macro before_begin(sql) %}
    {{ make_hook_config(sql, inside_transaction=False) }}
{% endmacro %}
{% macro in_transaction(sql) %}
    {{ make_hook_config(sql, inside_transaction=True) }}
{% endmacro %}
{% macro after_commit(sql) %}
    {{ make_hook_config(sql, inside_transaction=False) }}
{% endmacro %}
{% macro noop_statement(name=None, message=None, code=None, rows_affected=None, res=None) -%}
    {#- Runs nothing: keeps the message given as the statement's result. -#}
    {%- set sql = caller() -%}
    {%- if name is not none -%}
        {{ store_raw_result(name, message=message, code=code, rows_affected=rows_affected, agate_table=res) }}
    {%- endif -%}
{%- endmacro %}
{% macro get_create_index_sql(relation, index_dict) -%}
    {{ return(adapter.dispatch('get_create_index_sql', 'dbt')(relation, index_dict)) }}
{%- endmacro %}
{% macro postgres__get_create_index_sql(relation, index_dict) -%}
    {%- set columns = index_dict['columns'] -%}
    {%- set unique = index_dict.get('unique', false) -%}
    {%- set method = index_dict.get('type') -%}
    {%- set index_name = local_md5([columns | join('_'), relation.render(), unique, method, run_started_at] | join('_')) -%}
    create {% if unique %}unique {% endif %}index if not exists "{{ index_name }}"
    on {{ relation }} {% if method %}using {{ method }} {% endif %}({{ columns | join(', ') }});
{%- endmacro %}
{% macro create_indexes(relation) -%}
    {{ adapter.dispatch('create_indexes', 'dbt')(relation) }}
{%- endmacro %}
{% macro default__create_indexes(relation) -%}
    {%- for index_dict in config.get('indexes', default=[]) -%}
        {%- call statement('add_index') -%}{{ get_create_index_sql(relation, index_dict) }}{%- endcall -%}
    {%- endfor -%}
{%- endmacro %}
{% macro get_show_indexes_sql(relation) -%}
    {{ return(adapter.dispatch('get_show_indexes_sql', 'dbt')(relation)) }}
{%- endmacro %}
{% macro postgres__get_show_indexes_sql(relation) -%}
    select i.relname as name, m.amname as method, ix.indisunique as "unique",
        array_to_string(array_agg(a.attname), ',') as column_names
    from pg_index ix
    join pg_class i on i.oid = ix.indexrelid
    join pg_am m on m.oid = i.relam
    join pg_class t on t.oid = ix.indrelid
    join pg_namespace n on n.oid = t.relnamespace
    join pg_attribute a on a.attrelid = t.oid and a.attnum = any(ix.indkey)
    where t.relname = '{{ relation.identifier }}' and n.nspname = '{{ relation.schema }}'
        and t.relkind in ('r', 'm')
    group by 1, 2, 3
    order by 1, 2, 3
{%- endmacro %}
{% macro apply_grants(relation, grant_config, should_revoke=True) -%}
    {{ adapter.dispatch('apply_grants', 'dbt')(relation, grant_config, should_revoke) }}
{%- endmacro %}
{% macro default__apply_grants(relation, grant_config, should_revoke=True) -%}
    {%- if grant_config -%}
        {%- set revokes = {} -%}
        {%- if should_revoke -%}
            {%- for row in run_query(get_show_grant_sql(relation)).rows -%}
                {%- set privilege = row[1] | lower -%}
                {%- set wanted = grant_config.get(privilege, []) | map('lower') | list -%}
                {%- if (row[0] | lower) not in wanted -%}
                    {%- do revokes.setdefault(privilege, []).append(row[0]) -%}
                {%- endif -%}
            {%- endfor -%}
        {%- endif -%}
        {%- set statements = get_dcl_statement_list(relation, revokes, get_revoke_sql)
            + get_dcl_statement_list(relation, grant_config, get_grant_sql) -%}
        {%- if statements -%}{{ call_dcl_statements(statements) }}{%- endif -%}
    {%- endif -%}
{%- endmacro %}
{% macro persist_docs(relation, model, for_relation=true, for_columns=true) -%}
    {{ adapter.dispatch('persist_docs', 'dbt')(relation, model, for_relation, for_columns) }}
{%- endmacro %}
{% macro default__persist_docs(relation, node, for_relation, for_columns) -%}
    {%- if for_relation and config.persist_relation_docs() and node.description -%}
        {%- do run_query(alter_relation_comment(relation, node.description)) -%}
    {%- endif -%}
    {%- if for_columns and config.persist_column_docs() and node.columns -%}
        {%- do run_query(alter_column_comment(relation, node.columns)) -%}
    {%- endif -%}
{%- endmacro %}
{% macro get_create_sql(relation, sql) -%}
    {%- if relation.type == 'view' -%}{{ return(get_create_view_as_sql(relation, sql)) }}
    {%- elif relation.type == 'table' -%}{{ return(get_create_table_as_sql(false, relation, sql)) }}
    {%- elif relation.type == 'materialized_view' -%}{{ return(get_create_materialized_view_as_sql(relation, sql)) }}
    {%- else -%}{{ exceptions.raise_compiler_error('get_create_sql is not implemented for ' ~ relation.type) }}
    {%- endif -%}
{%- endmacro %}
{% macro get_create_intermediate_sql(relation, sql) -%}
    {{ return(get_create_sql(make_intermediate_relation(relation), sql)) }}
{%- endmacro %}
{% macro get_create_backup_sql(relation) -%}
    {%- set backup = make_backup_relation(relation, relation.type) -%}
    {{ get_drop_sql(backup) }};
    {{ get_rename_sql(relation, backup.identifier) }}
{%- endmacro %}
{% macro get_drop_backup_sql(relation) -%}
    {{ get_drop_sql(make_backup_relation(relation, relation.type)) }}
{%- endmacro %}
{% macro get_rename_intermediate_sql(relation) -%}
    {{ get_rename_sql(make_intermediate_relation(relation), relation.identifier) }}
{%- endmacro %}
{% macro get_rename_sql(relation, new_name) %}
    {%- set kind = 'materialized view' if relation.type == 'materialized_view' else relation.type %}
    alter {{ kind }} {{ relation }} rename to {{ new_name }}
{% endmacro %}
{% macro get_rename_table_sql(relation, new_name) %}
    alter table {{ relation }} rename to {{ new_name }}
{% endmacro %}
{% macro get_rename_view_sql(relation, new_name) %}
    alter view {{ relation }} rename to {{ new_name }}
{% endmacro %}
{% macro get_rename_materialized_view_sql(relation, new_name) %}
    alter materialized view {{ relation }} rename to {{ new_name }}
{% endmacro %}
{% macro get_replace_sql(existing_relation, target_relation, sql) -%}
    {{ get_create_intermediate_sql(target_relation, sql) }};
    {%- if existing_relation is not none %}
    {{ get_create_backup_sql(existing_relation) }};
    {%- endif %}
    {{ get_rename_intermediate_sql(target_relation) }};
    {%- if existing_relation is not none %}
    {{ get_drop_backup_sql(existing_relation) }}
    {%- endif %}
{%- endmacro %}
{% macro get_replace_view_sql(relation, sql) -%}
    {{ exceptions.raise_not_implemented('get_replace_view_sql is not implemented on PostgreSQL: use get_replace_sql') }}
{%- endmacro %}
{% macro get_replace_table_sql(relation, sql) -%}
    {{ exceptions.raise_not_implemented('get_replace_table_sql is not implemented on PostgreSQL: use get_replace_sql') }}
{%- endmacro %}
{% macro get_create_materialized_view_as_sql(relation, sql) %}
    create materialized view if not exists {{ relation }} as {{ sql }};
    {% for index_dict in config.get('indexes', default=[]) -%}
    {{ get_create_index_sql(relation, index_dict) }}
    {% endfor %}
{% endmacro %}
{% macro get_replace_materialized_view_sql(relation, sql) -%}
    {{ get_replace_sql(relation, relation, sql) }}
{%- endmacro %}
{% macro refresh_materialized_view(relation) %}
    refresh materialized view {{ relation }}
{% endmacro %}
{% macro drop_materialized_view(relation) -%}
    drop materialized view if exists {{ relation }} cascade
{%- endmacro %}
{% macro create_or_replace_view() -%}
    {%- set identifier = this.identifier -%}
    {%- set old_relation = adapter.get_relation(database=database, schema=schema, identifier=identifier) -%}
    {%- set target_relation = api.Relation.create(identifier=identifier, schema=schema, database=database, type='view') -%}
    {{ run_hooks(pre_hooks) }}
    {%- if old_relation is not none and old_relation.type != 'view' -%}
        {{ drop_relation_if_exists(old_relation) }}
    {%- endif -%}
    {%- call statement('main') -%}
        create or replace view {{ target_relation }} as (
            {{ sql }}
        )
    {%- endcall -%}
    {{ apply_grants(target_relation, config.get('grants'), should_revoke=True) }}
    {{ run_hooks(post_hooks) }}
    {{ return({'relations': [target_relation]}) }}
{%- endmacro %}
{% macro list_relations_without_caching(schema_relation) -%}
    {{ return(adapter.list_relations_without_caching(schema_relation)) }}
{%- endmacro %}
{% macro get_relations() -%}
    {{ return(run_query("select distinct dependent_namespace.nspname as dependent_schema, dependent_class.relname as dependent_name, referenced_namespace.nspname as referenced_schema, referenced_class.relname as referenced_name from pg_rewrite join pg_depend on pg_depend.objid = pg_rewrite.oid and pg_depend.classid = 'pg_rewrite'::regclass join pg_class as dependent_class on pg_rewrite.ev_class = dependent_class.oid join pg_class as referenced_class on pg_depend.refobjid = referenced_class.oid and pg_depend.refclassid = 'pg_class'::regclass join pg_namespace as dependent_namespace on dependent_class.relnamespace = dependent_namespace.oid join pg_namespace as referenced_namespace on referenced_class.relnamespace = referenced_namespace.oid where referenced_class.oid <> dependent_class.oid")) }}
{%- endmacro %}
{% macro postgres_get_relations() -%}{{ return(get_relations()) }}{%- endmacro %}
{% macro alter_column_type(relation, column_name, new_column_type) -%}
    {%- set tmp_column = column_name ~ '__dbt_alter' -%}
    {%- call statement('alter_column_type') -%}
        alter table {{ relation }} add column {{ adapter.quote(tmp_column) }} {{ new_column_type }};
        update {{ relation }} set {{ adapter.quote(tmp_column) }} = {{ adapter.quote(column_name) }};
        alter table {{ relation }} drop column {{ adapter.quote(column_name) }} cascade;
        alter table {{ relation }} rename column {{ adapter.quote(tmp_column) }} to {{ adapter.quote(column_name) }}
    {%- endcall -%}
{%- endmacro %}
{% macro alter_relation_add_remove_columns(relation, add_columns=none, remove_columns=none) -%}
    {%- if add_columns is none -%}{%- set add_columns = [] -%}{%- endif -%}
    {%- if remove_columns is none -%}{%- set remove_columns = [] -%}{%- endif -%}
    {%- set clauses = [] -%}
    {%- for column in add_columns -%}
        {%- do clauses.append('add column ' ~ adapter.quote(column.name) ~ ' ' ~ column.data_type) -%}
    {%- endfor -%}
    {%- for column in remove_columns -%}
        {%- do clauses.append('drop column ' ~ adapter.quote(column.name)) -%}
    {%- endfor -%}
    {%- if clauses -%}
        {%- do run_query('alter table ' ~ relation ~ ' ' ~ clauses | join(', ')) -%}
    {%- endif -%}
{%- endmacro %}
{% macro get_select_subquery(sql) -%}
    select * from ({{ sql }}) as model_subq
{%- endmacro %}
{#- Schema changes of an incremental model, for materializations that handle them as dbt's. -#}
{% macro incremental_validate_on_schema_change(on_schema_change, default='ignore') -%}
    {%- if on_schema_change not in ['sync_all_columns', 'append_new_columns', 'fail', 'ignore'] -%}
        {%- do log('Invalid value for on_schema_change (' ~ on_schema_change ~ ') specified. Setting default value of ' ~ default ~ '.', info=True) -%}
        {{ return(default) }}
    {%- else -%}
        {{ return(on_schema_change) }}
    {%- endif -%}
{%- endmacro %}
{% macro diff_column_data_types(source_columns, target_columns) -%}
    {%- set changed = [] -%}
    {%- for source_column in source_columns -%}
        {%- for target_column in target_columns
            if target_column.name == source_column.name and target_column.data_type != source_column.data_type -%}
            {%- do changed.append({'column_name': target_column.name, 'new_type': source_column.data_type}) -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(changed) }}
{%- endmacro %}
{% macro check_for_schema_changes(source_relation, target_relation) -%}
    {%- set source_columns = adapter.get_columns_in_relation(source_relation) -%}
    {%- set target_columns = adapter.get_columns_in_relation(target_relation) -%}
    {%- set source_not_in_target = diff_columns(source_columns, target_columns) -%}
    {%- set target_not_in_source = diff_columns(target_columns, source_columns) -%}
    {%- set new_target_types = diff_column_data_types(source_columns, target_columns) -%}
    {{ return({
        'schema_changed': (source_not_in_target or target_not_in_source or new_target_types) | length > 0,
        'source_not_in_target': source_not_in_target,
        'target_not_in_source': target_not_in_source,
        'source_columns': source_columns,
        'target_columns': target_columns,
        'new_target_types': new_target_types,
    }) }}
{%- endmacro %}
{% macro sync_column_schemas(on_schema_change, target_relation, schema_changes_dict) -%}
    {%- set add_to_target = schema_changes_dict['source_not_in_target'] -%}
    {%- if on_schema_change == 'append_new_columns' -%}
        {%- if add_to_target -%}
            {%- do alter_relation_add_remove_columns(target_relation, add_to_target, none) -%}
        {%- endif -%}
    {%- elif on_schema_change == 'sync_all_columns' -%}
        {%- set remove_from_target = schema_changes_dict['target_not_in_source'] -%}
        {%- if add_to_target or remove_from_target -%}
            {%- do alter_relation_add_remove_columns(target_relation, add_to_target, remove_from_target) -%}
        {%- endif -%}
        {%- for change in schema_changes_dict['new_target_types'] -%}
            {%- do alter_column_type(target_relation, change['column_name'], change['new_type']) -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}
{% macro process_schema_changes(on_schema_change, source_relation, target_relation) -%}
    {%- if on_schema_change == 'ignore' -%}
        {{ return({}) }}
    {%- endif -%}
    {%- set changes = check_for_schema_changes(source_relation, target_relation) -%}
    {%- if changes['schema_changed'] -%}
        {%- if on_schema_change == 'fail' -%}
            {{ exceptions.raise_compiler_error('The source and target schemas on this incremental model are out of sync! They can be reconciled in several ways: set the `on_schema_change` config to `append_new_columns` or `sync_all_columns`, or re-run the model with --full-refresh. Source columns not in target: ' ~ changes['source_not_in_target'] | map(attribute='name') | list ~ '; target columns not in source: ' ~ changes['target_not_in_source'] | map(attribute='name') | list ~ '; new column types: ' ~ changes['new_target_types']) }}
        {%- endif -%}
        {%- do sync_column_schemas(on_schema_change, target_relation, changes) -%}
    {%- endif -%}
    {{ return(changes['source_columns']) }}
{%- endmacro %}
{% macro create_columns(relation, columns) -%}
    {%- for column in columns -%}
        {%- call statement() -%}
            alter table {{ relation }} add column {{ adapter.quote(column.name) }} {{ column.data_type }}
        {%- endcall -%}
    {%- endfor -%}
{%- endmacro %}
{% macro handle_existing_table(full_refresh, old_relation) -%}
    {%- do log('Dropping relation ' ~ old_relation ~ ' because it is of type ' ~ old_relation.type) -%}
    {%- do adapter.drop_relation(old_relation) -%}
{%- endmacro %}
{% macro get_test_sql(main_sql, fail_calc, warn_if, error_if, limit) -%}
    select
      {{ fail_calc }} as failures,
      {{ fail_calc }} {{ warn_if }} as should_warn,
      {{ fail_calc }} {{ error_if }} as should_error
    from (
      {{ main_sql }}
      {{ "limit " ~ limit if limit != none }}
    ) dbt_internal_test
{%- endmacro %}
{% macro collect_freshness(source, loaded_at_field, filter) -%}
    {%- call statement('collect_freshness', fetch_result=True, auto_begin=False) -%}
    select
      max({{ loaded_at_field }}) as max_loaded_at,
      {{ current_timestamp() }} as snapshotted_at
    from {{ source }}
    {% if filter %}
    where {{ filter }}
    {% endif %}
    {%- endcall -%}
    {{ return(load_result('collect_freshness')) }}
{%- endmacro %}
{% macro get_list_of_column_names(columns) -%}
    {%- set names = [] -%}
    {%- for column in columns -%}{%- do names.append(column.name) -%}{%- endfor -%}
    {{ return(names) }}
{%- endmacro %}
{% macro get_empty_schema_sql(columns) -%}
    select
    {%- for column in columns.values() %}
        cast(null as {{ column['data_type'] }}) as {{ adapter.quote(column['name']) if column.get('quote') else column['name'] }}{{ ',' if not loop.last }}
    {%- endfor %}
{%- endmacro %}
{#- Snapshot building blocks, for materializations and strategies written as dbt's. -#}
{% macro get_snapshot_table_column_names() -%}
    {{ return({'dbt_valid_to': 'dbt_valid_to', 'dbt_valid_from': 'dbt_valid_from', 'dbt_scd_id': 'dbt_scd_id', 'dbt_updated_at': 'dbt_updated_at', 'dbt_is_deleted': 'dbt_is_deleted'}) }}
{%- endmacro %}
{% macro unique_key_fields(unique_key) -%}
    {%- if unique_key is sequence and unique_key is not string -%}
        {%- for key in unique_key %}
        {{ key }} as dbt_unique_key_{{ loop.index }}{{ ' ,' if not loop.last }}
        {%- endfor %}
    {%- else %}
        {{ unique_key }} as dbt_unique_key
    {%- endif %}
{% endmacro %}
{% macro unique_key_join_on(unique_key, identifier, from_identifier) -%}
    {%- if unique_key is sequence and unique_key is not string -%}
        {%- for key in unique_key %}
        {{ equals(identifier ~ '.dbt_unique_key_' ~ loop.index, from_identifier ~ '.dbt_unique_key_' ~ loop.index) }}{{ ' and' if not loop.last }}
        {%- endfor %}
    {%- else %}
        {{ identifier }}.dbt_unique_key = {{ from_identifier }}.dbt_unique_key
    {%- endif %}
{% endmacro %}
{% macro unique_key_is_null(unique_key, identifier) %}
    {{ identifier }}.{{ 'dbt_unique_key_1' if unique_key is sequence and unique_key is not string else 'dbt_unique_key' }} is null
{% endmacro %}
{% macro unique_key_is_not_null(unique_key, identifier) %}
    {{ identifier }}.{{ 'dbt_unique_key_1' if unique_key is sequence and unique_key is not string else 'dbt_unique_key' }} is not null
{% endmacro %}
{% macro get_dbt_valid_to_current(strategy, columns) %}
    {%- set valid_to_current = config.get('dbt_valid_to_current') or 'null' %}
    coalesce(nullif({{ strategy.updated_at }}, {{ strategy.updated_at }}), {{ valid_to_current }}) as {{ columns.dbt_valid_to }}
{% endmacro %}
{% macro snapshot_merge_sql(target, source, insert_cols) -%}
    {{ adapter.dispatch('snapshot_merge_sql', 'dbt')(target, source, insert_cols) }}
{%- endmacro %}
{% macro postgres__snapshot_merge_sql(target, source, insert_cols) -%}
    {%- set columns = config.get('snapshot_table_column_names') or get_snapshot_table_column_names() -%}
    {%- set valid_to_current = config.get('dbt_valid_to_current') -%}
    update {{ target }}
    set {{ columns.dbt_valid_to }} = DBT_INTERNAL_SOURCE.{{ columns.dbt_valid_to }}
    from {{ source }} as DBT_INTERNAL_SOURCE
    where DBT_INTERNAL_SOURCE.{{ columns.dbt_scd_id }}::text = {{ target }}.{{ columns.dbt_scd_id }}::text
      and DBT_INTERNAL_SOURCE.dbt_change_type::text in ('update'::text, 'delete'::text)
    {%- if valid_to_current %}
      and ({{ target }}.{{ columns.dbt_valid_to }} = {{ valid_to_current }} or {{ target }}.{{ columns.dbt_valid_to }} is null);
    {%- else %}
      and {{ target }}.{{ columns.dbt_valid_to }} is null;
    {%- endif %}

    insert into {{ target }} ({{ insert_cols | join(', ') }})
    select
    {%- for column in insert_cols %}{{ ' ' if loop.first }}DBT_INTERNAL_SOURCE.{{ column }}{{ ',' if not loop.last }}{% endfor %}
    from {{ source }} as DBT_INTERNAL_SOURCE
    where DBT_INTERNAL_SOURCE.dbt_change_type::text = 'insert'::text;
{% endmacro %}
{% macro build_snapshot_table(strategy, sql) -%}
    {{ adapter.dispatch('build_snapshot_table', 'dbt')(strategy, sql) }}
{%- endmacro %}
{% macro default__build_snapshot_table(strategy, sql) %}
    {%- set columns = config.get('snapshot_table_column_names') or get_snapshot_table_column_names() %}
    select *,
        {{ strategy.scd_id }} as {{ columns.dbt_scd_id }},
        {{ strategy.updated_at }} as {{ columns.dbt_updated_at }},
        {{ strategy.updated_at }} as {{ columns.dbt_valid_from }},
        {{ get_dbt_valid_to_current(strategy, columns) }}
    {%- if strategy.hard_deletes == 'new_record' %}
        , 'False' as {{ columns.dbt_is_deleted }}
    {%- endif %}
    from (
        {{ sql }}
    ) sbq
{% endmacro %}
{% macro post_snapshot(staging_relation) -%}
    {{ adapter.dispatch('post_snapshot', 'dbt')(staging_relation) }}
{%- endmacro %}
{% macro default__post_snapshot(staging_relation) -%}{%- endmacro %}
{% macro strategy_dispatch(name) -%}
    {%- set package_name, strategy_name = name.split('.', 1) if '.' in name else (none, name) -%}
    {%- set namespace_ = context if package_name is none else context.get(package_name) -%}
    {%- if namespace_ is none -%}
        {{ exceptions.raise_compiler_error("Could not find package '" ~ package_name ~ "', called with '" ~ name ~ "'") }}
    {%- endif -%}
    {%- set found = namespace_.get('snapshot_' ~ strategy_name ~ '_strategy') -%}
    {%- if found is none or found is undefined -%}
        {{ exceptions.raise_compiler_error("The specified strategy macro '" ~ strategy_name ~ "' was not found in package '" ~ package_name ~ "'") }}
    {%- endif -%}
    {{ return(found) }}
{%- endmacro %}
{% macro snapshot_timestamp_strategy(node, snapshotted_rel, current_rel, model_config, target_exists) -%}
    {%- set primary_key = config.get('unique_key') -%}
    {%- set updated_at = config.get('updated_at') -%}
    {%- set hard_deletes = adapter.get_hard_deletes_behavior(config) -%}
    {%- set columns = config.get('snapshot_table_column_names') or get_snapshot_table_column_names() -%}
    {{ return({
        'unique_key': primary_key,
        'updated_at': updated_at,
        'row_changed': '(' ~ snapshotted_rel ~ '.' ~ columns.dbt_valid_from ~ ' < ' ~ current_rel ~ '.' ~ updated_at ~ ')',
        'scd_id': snapshot_hash_arguments(api.Relation.scd_args(primary_key, updated_at)),
        'invalidate_hard_deletes': hard_deletes == 'invalidate',
        'hard_deletes': hard_deletes,
    }) }}
{%- endmacro %}
{% macro can_clone_table() -%}
    {{ return(adapter.dispatch('can_clone_table', 'dbt')()) }}
{%- endmacro %}
{% macro default__can_clone_table() -%}
    {{ return(false) }}
{%- endmacro %}
{% macro create_or_replace_clone(this_relation, defer_relation) -%}
    {{ return(adapter.dispatch('create_or_replace_clone', 'dbt')(this_relation, defer_relation)) }}
{%- endmacro %}
{% macro default__create_or_replace_clone(this_relation, defer_relation) %}
    create or replace table {{ this_relation.render() }} clone {{ defer_relation.render() }}
{% endmacro %}
{% macro collect_freshness_custom_sql(source, loaded_at_query) -%}
    {%- call statement('collect_freshness', fetch_result=True, auto_begin=False) -%}
    with source_query as (
        {{ loaded_at_query }}
    )
    select
        (select * from source_query) as max_loaded_at,
        {{ current_timestamp() }} as snapshotted_at
    {%- endcall -%}
    {{ return(load_result('collect_freshness')) }}
{%- endmacro %}
