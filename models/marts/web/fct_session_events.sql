with events as (
    select * from {{ ref('stg_web__events') }}
),

gaps as (
    select
        *,
        event_ts - lag(event_ts) over (partition by user_id order by event_ts) as since_previous
    from events
),

sequenced as (
    select
        *,
        -- A session ends after 30 minutes without an event.
        sum(case when since_previous is null or since_previous > interval '30 minutes' then 1 else 0 end)
            over (partition by user_id order by event_ts rows between unbounded preceding and current row) as session_seq
    from gaps
)

select
    user_id || '-' || session_seq as session_id,
    session_seq,
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
    channel,
    device_type
from sequenced
