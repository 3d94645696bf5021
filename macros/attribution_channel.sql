{#- The marketing channel of a FunnelFox session (document 001), from its parsed URL parameters.
    Paid means utm_medium cpc, paid or ppc; Facebook means utm_source facebook or an fbclid. -#}
{% macro is_paid_traffic(utm_medium) -%}
    coalesce({{ utm_medium }} in ('cpc', 'paid', 'ppc'), false)
{%- endmacro %}

{% macro is_facebook_traffic(utm_source, fbclid) -%}
    ({{ utm_source }} is not distinct from 'facebook' or {{ fbclid }} is not null)
{%- endmacro %}

{% macro attribution_channel(utm_source, utm_medium, fbclid) -%}
    {%- set paid = is_paid_traffic(utm_medium) -%}
    case
        when {{ is_facebook_traffic(utm_source, fbclid) }} and {{ paid }} then 'facebook_paid'
        when {{ is_facebook_traffic(utm_source, fbclid) }} then 'facebook_organic'
        when {{ utm_source }} = 'google' and {{ paid }} then 'google_paid'
        when {{ utm_source }} = 'tiktok' and {{ paid }} then 'tiktok_paid'
        when {{ paid }} then 'other_paid'
        when {{ utm_medium }} = 'email' then 'email'
        else 'organic'
    end
{%- endmacro %}
