-- A touch is a visit that entered through a marketing channel: one per non-direct session.
select
    session_id as touch_id,
    session_id,
    user_id,
    session_start_ts as touch_ts,
    session_date as touch_date,
    entry_channel as channel,
    entry_utm_source as utm_source,
    entry_utm_medium as utm_medium,
    entry_utm_campaign as utm_campaign
from {{ ref('fct_sessions') }}
where entry_channel <> 'Direct'
