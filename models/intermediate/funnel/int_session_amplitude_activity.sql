-- Amplitude activity per FunnelFox session: the funnel's Amplitude snippet tags every event with
-- ff_session_id. Events without it (in the app) or for sessions FunnelFox never exported drop out.
with events as (
    select event_id, ff_session_id, event_type, event_at, device_id, platform, os_version, country, city
    from {{ ref('stg_amplitude__events') }}
    where ff_session_id is not null
),

sessions as (
    select session_id from {{ ref('stg_funnelfox__sessions') }}
),

session_events as (
    select
        events.event_id, events.ff_session_id, events.event_type, events.event_at,
        events.device_id, events.platform, events.os_version, events.country, events.city
    from events
    inner join sessions on sessions.session_id = events.ff_session_id
),

event_type_counts as (
    select ff_session_id, event_type, count(*) as events
    from session_events
    group by ff_session_id, event_type
),

event_type_summary as (
    select
        ff_session_id,
        array_agg(event_type order by event_type) as event_types_list,
        jsonb_object_agg(event_type, events) as event_counts_json
    from event_type_counts
    group by ff_session_id
),

first_events as (
    select distinct on (ff_session_id)
        ff_session_id, device_id, platform, os_version, country, city
    from session_events
    order by ff_session_id, event_at, event_id
),

totals as (
    select
        ff_session_id,
        count(*) as total_events,
        count(distinct event_type) as unique_event_types,
        min(event_at) as first_event_at,
        max(event_at) as last_event_at
    from session_events
    group by ff_session_id
)

select
    totals.ff_session_id as session_id,
    totals.total_events,
    totals.unique_event_types,
    totals.first_event_at,
    totals.last_event_at,
    extract(epoch from totals.last_event_at - totals.first_event_at) as session_duration_seconds,
    event_type_summary.event_types_list,
    event_type_summary.event_counts_json,
    first_events.device_id as amplitude_device_id,
    first_events.platform as amplitude_platform,
    first_events.os_version as amplitude_os_version,
    first_events.country as amplitude_country,
    first_events.city as amplitude_city
from totals
inner join event_type_summary on event_type_summary.ff_session_id = totals.ff_session_id
inner join first_events on first_events.ff_session_id = totals.ff_session_id
