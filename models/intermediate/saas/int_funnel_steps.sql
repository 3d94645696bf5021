-- One row per user with the funnel stages reached: visit -> signup -> activation -> payment.
-- The stages are nested, so no stage can exceed the one before it: a signup implies a visit
-- (the tracker misses some visits), an activation counts only within the activation window
-- after signup, and a payment counts for an activated user.
with users as (
    select user_id, cohort_month, signup_date, utm_source, utm_campaign
    from {{ ref('stg_saas__users') }}
),

funnel_events as (
    select user_id, event_type, event_date, event_at
    from {{ ref('stg_saas__events') }}
    where event_type in ('visit', 'signup', 'activated', 'paid')
),

-- Grouped by the user's columns, so that a filter on cohort_month reaches the users scan.
user_milestones as (
    select
        users.user_id,
        users.cohort_month,
        users.signup_date,
        users.utm_source,
        users.utm_campaign,
        coalesce(bool_or(funnel_events.event_type = 'visit'), false) as visited,
        coalesce(bool_or(funnel_events.event_type = 'signup'), false) as signed_up,
        coalesce(bool_or(
            funnel_events.event_type = 'activated'
            and funnel_events.event_date - users.signup_date <= {{ var('activation_window_days') }}
        ), false) as activated_in_window,
        coalesce(bool_or(funnel_events.event_type = 'paid'), false) as paid,
        min(funnel_events.event_at) filter (where funnel_events.event_type = 'activated') as activated_at,
        min(funnel_events.event_at) filter (where funnel_events.event_type = 'paid') as paid_at,
        max(funnel_events.event_at) as last_funnel_event_at
    from users
    left join funnel_events on funnel_events.user_id = users.user_id
    group by users.user_id, users.cohort_month, users.signup_date, users.utm_source, users.utm_campaign
)

select
    user_id,
    cohort_month,
    signup_date,
    utm_source,
    utm_campaign,
    case when visited or signed_up then 1 else 0 end as is_visit,
    case when signed_up then 1 else 0 end as is_signup,
    case when signed_up and activated_in_window then 1 else 0 end as is_activated,
    case when signed_up and activated_in_window and paid then 1 else 0 end as is_paid,
    activated_at,
    paid_at,
    last_funnel_event_at
from user_milestones
