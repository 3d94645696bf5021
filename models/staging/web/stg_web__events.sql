with source as (
    select * from {{ source('raw_web', 'raw_events_validated') }}
),

parsed as (
    select
        -- The tracker renamed client_id to "clientId" on 2025-01-15; both hold the same id.
        coalesce(client_id, "clientId") as user_id,
        "timestamp" as event_ts,
        ("timestamp" at time zone 'UTC')::date as event_date,
        event_name,
        page_url,
        nullif(referrer, '') as referrer,
        nullif(user_agent, '') as user_agent,
        event_data ->> 'transaction_id' as transaction_id,
        (event_data ->> 'revenue')::numeric(12, 2) as revenue,
        event_data ->> 'utm_source' as utm_source,
        event_data ->> 'utm_medium' as utm_medium,
        event_data ->> 'utm_campaign' as utm_campaign
    from source
)

select
    user_id,
    event_ts,
    event_date,
    event_name,
    page_url,
    referrer,
    user_agent,
    transaction_id,
    revenue,
    utm_source,
    utm_medium,
    utm_campaign,
    {{ channel_grouping('utm_source', 'utm_medium', 'referrer') }} as channel,
    {{ device_type('user_agent') }} as device_type
from parsed
-- Events without a user id cannot be put into sessions or attributed.
where user_id is not null
