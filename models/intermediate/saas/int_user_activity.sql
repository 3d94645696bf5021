{{
    config(
        materialized='incremental',
        unique_key='user_id',
        incremental_strategy='delete+insert',
        indexes=[
            {'columns': ['user_id'], 'unique': True},
            {'columns': ['last_active_date']},
        ]
    )
}}

-- One row per user: all-time activity and features used, the stored half of dim_user_health
-- (whose scores move with the latest day and are computed when it is read).
--
-- Incremental: the users with activity or feature use after the latest day this table holds,
-- and new users, are computed again from their rows in int_user_engagement and
-- int_feature_usage.
{%- set latest = watermarks(["max(latest_seen_date)::text", "max(signup_date)::text"]) -%}
{%- set since_day = latest[0] if latest -%}
{%- set since_signup = latest[1] if latest %}

with
{%- if since_day %}

-- The users whose rows change: new activity or feature use, and new users.
changed_user_ids as (
    select user_id from {{ ref('int_user_engagement') }} where last_active_date > '{{ since_day }}'::date
    union
    select user_id from {{ ref('int_feature_usage') }} where last_used_date > '{{ since_day }}'::date
    union
    select user_id from {{ ref('stg_saas__users') }} where signup_date >= '{{ since_signup }}'::date
),
{%- endif %}

users as (
    select user_id, cohort_month, signup_date, utm_source
    from {{ ref('stg_saas__users') }}
    {%- if since_day %}
    where user_id in (select user_id from changed_user_ids)
    {%- endif %}
),

activity as (
    select
        user_id,
        sum(active_days) as active_days,
        sum(events) as total_events,
        max(last_active_date) as last_active_date
    from {{ ref('int_user_engagement') }}
    {%- if since_day %}
    where user_id in (select user_id from changed_user_ids)
    {%- endif %}
    group by user_id
),

features as (
    select user_id, count(*) as features_adopted, max(last_used_date) as last_used_date
    from {{ ref('int_feature_usage') }}
    {%- if since_day %}
    where user_id in (select user_id from changed_user_ids)
    {%- endif %}
    group by user_id
)

select
    users.user_id,
    users.cohort_month,
    users.signup_date,
    users.utm_source,
    coalesce(activity.active_days, 0) as active_days,
    coalesce(activity.total_events, 0) as total_events,
    coalesce(features.features_adopted, 0) as features_adopted,
    activity.last_active_date,
    -- The latest day either input had for this user: the next run's starting point.
    greatest(activity.last_active_date, features.last_used_date) as latest_seen_date
from users
left join activity on activity.user_id = users.user_id
left join features on features.user_id = users.user_id
