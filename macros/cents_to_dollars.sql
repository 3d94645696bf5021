{#- Stripe stores amounts as integers in the currency's minor unit: 1999 is 19.99. -#}
{% macro cents_to_dollars(amount) -%}
    ({{ amount }} / 100.0)
{%- endmacro %}
