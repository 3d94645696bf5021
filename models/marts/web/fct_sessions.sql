with session_events as (
    select * from {{ ref('fct_session_events') }}
),

entries as (
    select distinct on (session_id)
        session_id,
        event_name as entry_event_name,
        page_url as entry_page_url,
        channel as entry_channel,
        utm_source as entry_utm_source,
        utm_medium as entry_utm_medium,
        utm_campaign as entry_utm_campaign,
        device_type
    from session_events
    order by session_id, event_ts
),

activity as (
    select
        session_id,
        user_id,
        min(event_ts) as session_start_ts,
        max(event_ts) as session_end_ts,
        count(*) as event_count
    from session_events
    group by session_id, user_id
)

select
    activity.session_id,
    activity.user_id,
    activity.session_start_ts,
    activity.session_end_ts,
    (activity.session_start_ts at time zone 'UTC')::date as session_date,
    activity.event_count,
    entries.entry_event_name,
    entries.entry_page_url,
    entries.entry_channel,
    entries.entry_utm_source,
    entries.entry_utm_medium,
    entries.entry_utm_campaign,
    entries.device_type
from activity
join entries using (session_id)
