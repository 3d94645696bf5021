{#- Where a FunnelFox session came from, judged by the in-app browser in its user agent
    (document 000): Facebook's (iOS and Android), Instagram's, TikTok's, or none of them. -#}
{% macro traffic_source(user_agent) -%}
    case
        when {{ user_agent }} like '%FBAN/FBIOS%' or {{ user_agent }} like '%FB_IAB/FB4A%' then 'facebook'
        when {{ user_agent }} like '%Instagram%' then 'instagram'
        when {{ user_agent }} like '%TikTok%' then 'tiktok'
        else 'organic'
    end
{%- endmacro %}
