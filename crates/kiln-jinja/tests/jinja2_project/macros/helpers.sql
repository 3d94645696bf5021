{% macro build_list(items) %}
    {% set out = [] %}
    {% for item in items %}{% do out.append(item) %}{% endfor %}
    {{ return(out) }}
{% endmacro %}

{% macro build_dict(key, value) %}
    {% set d = {} %}
    {% do d.update({key: value}) %}
    {{ return(d) }}
{% endmacro %}

{% macro add_to(xs, x) %}{% do xs.append(x) %}{% endmacro %}

{% macro first_or(items, fallback) %}
    {% for item in items %}{{ return(item) }}{% endfor %}
    {{ return(fallback) }}
{% endmacro %}

{% macro shout(text) %}{{ text | upper }}!{% endmacro %}

{% macro wrap_caller(tag) %}<{{ tag }}>{{ caller() }}</{{ tag }}>{% endmacro %}

{% macro each_with_caller(items) %}{% for item in items %}{{ caller(item, loop.index) }}{% endfor %}{% endmacro %}

{% macro args_and_kwargs(a, b=2) %}{{ a }}-{{ b }}-{{ varargs | length }}-{{ kwargs | length }}{% endmacro %}

{% macro optional_list(columns=none, other=none) %}{% for c in columns %}{{ c }}{% endfor %}|{{ other }}|{{ other is none }}{% endmacro %}

{% macro iterate_missing(columns) %}[{% for c in columns %}{{ c }}{% endfor %}]{% endmacro %}

{% macro return_none() %}{{ return(none) }}{% endmacro %}

{% macro return_number() %}{{ return(41 + 1) }}{% endmacro %}
