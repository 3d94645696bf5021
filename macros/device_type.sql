{% macro device_type(user_agent) -%}
    case
        when coalesce({{ user_agent }}, '') = '' then 'Unknown'
        when {{ user_agent }} ~* '(mobi|android|iphone)' then 'Mobile'
        else 'Desktop'
    end
{%- endmacro %}
