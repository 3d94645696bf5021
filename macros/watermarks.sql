{#- What an incremental model reads from its own table before it runs: the value of each SQL
    expression (an aggregate over `this`, cast to text), in order. An empty list when the model
    does not run incrementally (first build, full refresh, parse, compile):

        {%- set latest = watermarks(["max(last_active_date)::text"]) -%}
        {%- set since_day = latest[0] if latest -%}
-#}
{% macro watermarks(expressions) -%}
    {%- if not (execute and is_incremental()) -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set result = run_query("select " ~ expressions | join(", ") ~ " from " ~ this) -%}
    {%- set values = [] -%}
    {%- for column in result.columns -%}
        {%- do values.append(column.values()[0]) -%}
    {%- endfor -%}
    {{ return(values) }}
{%- endmacro %}
