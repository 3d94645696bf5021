{#- The value of one query parameter of a URL, or null when it is missing or empty.
    `url_parameter('origin', 'utm_source')` reads `...?utm_source=facebook&...`. -#}
{% macro url_parameter(url, name) -%}
    nullif(substring({{ url }} from '[?&]{{ name }}=([^&#]*)'), '')
{%- endmacro %}
