{{
    config(
        materialized='incremental',
        unique_key='user_id',
        incremental_strategy='delete+insert',
        indexes=[
            {'columns': ['user_id'], 'unique': True},
            {'columns': ['last_funnel_event_at']},
        ]
    )
}}

-- One row per user with the funnel stages reached: visit -> signup -> activation -> payment.
-- The stages are nested, so no stage can exceed the one before it: a signup implies a visit
-- (the tracker misses some visits), an activation counts only within the activation window
-- after signup, and a payment counts for an activated user.
--
-- Incremental: a run reads the funnel events since the latest one it holds, and all events of
-- the users who signed up since, and combines them with the rows of the users they belong to.
-- Every measure is an `or`, a `min` or a `max`, so an event read twice changes nothing: the
-- run starts a day before the latest event's date (in any time zone) and late events of that
-- day count.
{%- set latest = watermarks([
    "((max(last_funnel_event_at) at time zone 'UTC')::date - 1)::text",
    "max(signup_date)::text",
]) -%}
{%- set since_day = latest[0] if latest -%}
{%- set since_signup = latest[1] if latest %}

with funnel_events as (
    select user_id, event_type, event_date, event_at
    from {{ ref('stg_saas__events') }}
    where event_type in ('visit', 'signup', 'activated', 'paid')
    {%- if since_day %}
      and event_date >= '{{ since_day }}'::date
    union all
    -- Every event of the users who signed up since: they had no row to hold their earlier
    -- visits. Looked up user by user in the events' user_id index: `offset 0` keeps PostgreSQL
    -- from turning the lookups into a join, which it would run as a scan of every event.
    select user_events.*
    from {{ ref('stg_saas__users') }} as new_users
    cross join lateral (
        select user_id, event_type, event_date, event_at
        from {{ ref('stg_saas__events') }} as events
        where events.user_id = new_users.user_id
          and events.event_type in ('visit', 'signup', 'activated', 'paid')
        offset 0
    ) as user_events
    where new_users.signup_date >= '{{ since_signup }}'::date
    {%- endif %}
),

{%- if since_day %}

-- The users whose rows change: those with new events, and new users.
changed_user_ids as (
    select user_id from funnel_events
    union
    select user_id from {{ ref('stg_saas__users') }} where signup_date >= '{{ since_signup }}'::date
),
{%- endif %}

users as (
    select user_id, cohort_month, signup_date, utm_source, utm_campaign
    from {{ ref('stg_saas__users') }}
    {%- if since_day %}
    where user_id in (select user_id from changed_user_ids)
    {%- endif %}
),

-- What a user's row is made of: one row per funnel event and, on an incremental run, the
-- user's previous row.
facts as (
    select
        user_id,
        event_type = 'visit' as visited,
        event_type = 'signup' as signed_up,
        case when event_type = 'activated' then event_date end as activation_date,
        false as activated_in_window,
        case when event_type = 'activated' then event_at end as activated_at,
        case when event_type = 'paid' then event_at end as paid_at,
        event_at
    from funnel_events
    {%- if since_day %}
    union all
    select
        user_id,
        is_visit = 1,
        is_signup = 1,
        null,
        activated_in_window,
        activated_at,
        paid_at,
        last_funnel_event_at
    from {{ this }}
    where user_id in (select user_id from changed_user_ids)
    {%- endif %}
),

user_milestones as (
    select
        users.user_id,
        users.cohort_month,
        users.signup_date,
        users.utm_source,
        users.utm_campaign,
        coalesce(bool_or(facts.visited), false) as visited,
        coalesce(bool_or(facts.signed_up), false) as signed_up,
        coalesce(bool_or(
            facts.activated_in_window
            or facts.activation_date - users.signup_date <= {{ var('activation_window_days') }}
        ), false) as activated_in_window,
        min(facts.activated_at) as activated_at,
        min(facts.paid_at) as paid_at,
        max(facts.event_at) as last_funnel_event_at
    from users
    left join facts on facts.user_id = users.user_id
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
    case when signed_up and activated_in_window and paid_at is not null then 1 else 0 end as is_paid,
    activated_in_window,
    activated_at,
    paid_at,
    last_funnel_event_at
from user_milestones
