with source as (
    select * from {{ source('raw_funnelfox', 'sessions') }}
)

select
    id as session_id,
    profile_id,
    funnel_id,
    funnel_version,
    created_at as session_at,
    (created_at at time zone 'UTC')::date as session_date,
    origin as origin_raw,
    user_agent,
    ip as ip_address,
    country,
    city,
    {{ url_parameter('origin', 'utm_source') }} as utm_source,
    {{ url_parameter('origin', 'utm_medium') }} as utm_medium,
    {{ url_parameter('origin', 'utm_campaign') }} as utm_campaign,
    {{ url_parameter('origin', 'utm_content') }} as utm_content,
    {{ url_parameter('origin', 'utm_term') }} as utm_term,
    {{ url_parameter('origin', 'fbclid') }} as fbclid,
    {{ url_parameter('origin', 'ad_id') }} as ad_id,
    {{ traffic_source('user_agent') }} as traffic_source
from source
