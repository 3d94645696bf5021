-- One row per FunnelFox session, converted or not (document 002).
with sessions as (
    select session_id, profile_id, funnel_id, session_at, session_date, country
    from {{ ref('stg_funnelfox__sessions') }}
),

funnels as (
    select funnel_id, funnel_title from {{ ref('stg_funnelfox__funnels') }}
),

payments as (
    select session_id, subscription_id, converted_at, revenue_usd
    from {{ ref('int_session_payments') }}
)

select
    sessions.session_date,
    sessions.session_id,
    sessions.profile_id,
    sessions.funnel_id,
    funnels.funnel_title,
    sessions.country,
    case when payments.converted_at is not null then 1 else 0 end as converted,
    case when payments.converted_at is not null then payments.revenue_usd end as revenue_usd,
    round(extract(epoch from payments.converted_at - sessions.session_at) / 3600, 2) as time_to_conversion_hours,
    -- A subscription was started, whether or not a payment went through.
    payments.subscription_id is not null as had_purchase
from sessions
left join funnels on funnels.funnel_id = sessions.funnel_id
left join payments on payments.session_id = sessions.session_id
