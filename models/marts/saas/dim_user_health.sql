{{ config(materialized='view') }}

-- One row per user: engagement, feature adoption, recency and plan, scored 0 to 100, with the
-- at-risk and upsell flags of document 003. Scores are as of the latest day in the data, not
-- the clock, so that a rebuild of the same data gives the same scores.
--
-- A view over stored aggregates (int_user_activity, incremental): recency moves for every user
-- every day, so a table would be rebuilt in full each night; the view computes the scores of
-- 660,000 users when it is read, in about a second.
with activity as (
    select * from {{ ref('int_user_activity') }}
),

as_of as (
    select max(last_active_date) as as_of_date from activity
),

current_plans as (
    -- A user's current plan: the latest subscription still active or in trial.
    select distinct on (user_id) user_id, plan_name, mrr
    from {{ ref('stg_saas__subscriptions') }}
    where status in ('active', 'trial')
    order by user_id, start_date desc, subscription_id desc
),

measures as (
    select
        activity.user_id,
        activity.cohort_month,
        activity.utm_source,
        coalesce(current_plans.plan_name, 'Free') as plan_name,
        coalesce(current_plans.mrr, 0) as mrr,
        activity.active_days,
        activity.total_events,
        activity.features_adopted,
        activity.last_active_date,
        as_of.as_of_date - activity.last_active_date as days_since_last_active
    from activity
    cross join as_of
    left join current_plans on current_plans.user_id = activity.user_id
),

scores as (
    select
        user_id,
        cohort_month,
        utm_source,
        plan_name,
        mrr,
        active_days,
        total_events,
        features_adopted,
        last_active_date,
        days_since_last_active,
        least(active_days, {{ var('health_full_engagement_days') }}) * 100.0 / {{ var('health_full_engagement_days') }} as engagement_score,
        features_adopted * 100.0 / {{ var('tracked_features') | length }} as adoption_score,
        greatest(0, 90 - coalesce(days_since_last_active, 90)) * 100.0 / 90 as recency_score
    from measures
)

select
    user_id,
    cohort_month,
    utm_source,
    plan_name,
    mrr,
    active_days,
    total_events,
    features_adopted,
    last_active_date,
    days_since_last_active,
    round(engagement_score, 1) as engagement_score,
    round(adoption_score, 1) as adoption_score,
    round(recency_score, 1) as recency_score,
    round((engagement_score + adoption_score + recency_score) / 3, 1) as overall_health_score,
    coalesce(days_since_last_active > {{ var('at_risk_inactive_days') }}, true) as is_at_risk,
    plan_name = 'Starter'
        and features_adopted >= {{ var('upsell_min_features') }}
        and active_days >= {{ var('upsell_min_active_days') }} as is_upsell_candidate
from scores
