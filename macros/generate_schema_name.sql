{#- Marts live in `analytics`, staging in `staging`, raw data in `raw_*`: a custom schema is
    used as written, not prefixed with the target schema as dbt's default does. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
