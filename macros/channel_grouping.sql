{#- The marketing channel of a visit: UTMs first, then the referrer, else Direct. The answer key
    (crates/kiln-datagen) applies the same rules. -#}
{% macro channel_grouping(utm_source, utm_medium, referrer) -%}
    case
        when {{ utm_medium }} in ('cpc', 'ppc', 'paid_search') then 'Paid Search'
        when {{ utm_medium }} in ('paid_social', 'cpm') then 'Paid Social'
        when {{ utm_medium }} = 'email' then 'Email'
        when {{ utm_medium }} is not null and {{ utm_source }} in ('facebook', 'instagram', 'tiktok') then 'Paid Social'
        when {{ utm_medium }} is not null then 'Other Paid'
        when {{ referrer }} ~ '(google|bing|duckduckgo|yahoo)\.' then 'Organic Search'
        when {{ referrer }} ~ '(facebook\.|instagram\.|t\.co/|twitter\.|tiktok\.|linkedin\.)' then 'Social'
        when {{ referrer }} <> '' then 'Referral'
        else 'Direct'
    end
{%- endmacro %}
