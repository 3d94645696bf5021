{{
    config(
        materialized='incremental',
        unique_key=['user_id', 'activity_month'],
        incremental_strategy='delete+insert',
        indexes=[
            {'columns': ['user_id', 'activity_month'], 'unique': True},
            {'columns': ['activity_month']},
            {'columns': ['last_active_date']},
        ]
    )
}}

-- Activity per user and calendar month from the signup month on: any tracked event counts as
-- active (document 003).
--
-- Incremental: a run reads only the days after the latest one it holds and adds them to the
-- user's month (and the month's earlier days for users who signed up since). The product's
-- loader delivers whole days, a user with the day of their signup; an event that arrives late
-- for a day already built needs `--full-refresh` (README, "The analytics project").
{%- set latest = watermarks(["max(last_active_date)::text"]) -%}
{%- set since_day = latest[0] if latest %}

with events as (
    select user_id, event_date, event_month from {{ ref('stg_saas__events') }}
    {%- if since_day %}
    where event_date > '{{ since_day }}'::date
    union all
    -- The earlier days of the month of users who signed up since: they had no rows to hold them
    -- (their visits before signing up count from the signup month on). Looked up user by user,
    -- as in int_funnel_steps.
    select user_events.*
    from {{ ref('stg_saas__users') }} as new_users
    cross join lateral (
        select user_id, event_date, event_month
        from {{ ref('stg_saas__events') }} as events
        where events.user_id = new_users.user_id
          and events.event_date <= '{{ since_day }}'::date
          and events.event_date >= date_trunc('month', '{{ since_day }}'::date)::date
        offset 0
    ) as user_events
    where new_users.signup_date > '{{ since_day }}'::date
    {%- endif %}
),

activity as (
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
    inner join {{ ref('stg_saas__users') }} as users on users.user_id = events.user_id
    -- Retention starts with the signup month; visits before it are acquisition, not engagement.
    where events.event_month >= users.cohort_month
    group by events.user_id, users.cohort_month, events.event_month
)

{% if since_day %}
-- The new days come after every day already counted, so their counts add up.
select
    activity.user_id,
    activity.cohort_month,
    activity.activity_month,
    activity.months_since_signup,
    activity.active_days + coalesce(previous.active_days, 0) as active_days,
    activity.last_active_date,
    activity.events + coalesce(previous.events, 0) as events
from activity
left join {{ this }} as previous
    on previous.user_id = activity.user_id and previous.activity_month = activity.activity_month
{% else %}
select * from activity
{% endif %}
