-- Daily funnel conversion by traffic source (document 000): one row per date, funnel and
-- traffic source that had sessions. Roll up to weeks or months with date_trunc on `date`.
with sessions as (
    select session_id, profile_id, funnel_id, session_at, session_date, traffic_source
    from {{ ref('stg_funnelfox__sessions') }}
),

funnels as (
    select funnel_id, funnel_title, funnel_type from {{ ref('stg_funnelfox__funnels') }}
),

payments as (
    select session_id, converted_at, revenue_usd from {{ ref('int_session_payments') }}
),

amplitude_activity as (
    select session_id, total_events from {{ ref('int_session_amplitude_activity') }}
),

session_outcomes as (
    select
        sessions.session_date,
        sessions.funnel_id,
        sessions.traffic_source,
        sessions.profile_id,
        payments.converted_at is not null as converted,
        case when payments.converted_at is not null then payments.revenue_usd end as revenue_usd,
        extract(epoch from payments.converted_at - sessions.session_at) / 3600 as hours_to_convert,
        amplitude_activity.total_events as amplitude_events
    from sessions
    left join payments on payments.session_id = sessions.session_id
    left join amplitude_activity on amplitude_activity.session_id = sessions.session_id
),

daily as (
    select
        session_date,
        funnel_id,
        traffic_source,
        count(*) as total_sessions,
        count(distinct profile_id) as unique_users,
        count(*) filter (where converted) as conversions,
        coalesce(sum(revenue_usd), 0) as revenue_usd,
        avg(hours_to_convert) as avg_hours_to_convert,
        count(distinct profile_id) filter (where amplitude_events is not null) as users_with_amplitude_events,
        sum(amplitude_events) as amplitude_events
    from session_outcomes
    group by session_date, funnel_id, traffic_source
)

select
    daily.session_date as date,
    daily.funnel_id,
    funnels.funnel_title,
    funnels.funnel_type,
    daily.traffic_source,
    daily.total_sessions,
    daily.unique_users,
    daily.conversions,
    round(daily.conversions::numeric / daily.total_sessions, 4) as conversion_rate,
    daily.revenue_usd,
    round(daily.avg_hours_to_convert, 2) as avg_hours_to_convert,
    daily.users_with_amplitude_events,
    round(daily.amplitude_events::numeric / nullif(daily.users_with_amplitude_events, 0), 2) as avg_events_per_user
from daily
left join funnels on funnels.funnel_id = daily.funnel_id
