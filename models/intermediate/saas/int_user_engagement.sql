-- Activity per user and calendar month from the signup month on: any tracked event counts as
-- active (document 003).
with users as (
    select user_id, cohort_month from {{ ref('stg_saas__users') }}
),

events as (
    select user_id, event_date, event_month from {{ ref('stg_saas__events') }}
)

select
    events.user_id,
    users.cohort_month,
    events.event_month as activity_month,
    (extract(year from age(events.event_month, users.cohort_month)) * 12
        + extract(month from age(events.event_month, users.cohort_month)))::int as months_since_signup,
    count(distinct events.event_date) as active_days,
    max(events.event_date) as last_active_date,
    count(*) as events
from events
inner join users on users.user_id = events.user_id
-- Retention starts with the signup month; visits before it are acquisition, not engagement.
where events.event_month >= users.cohort_month
group by events.user_id, users.cohort_month, events.event_month
