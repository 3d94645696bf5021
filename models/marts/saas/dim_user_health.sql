-- One row per user: engagement, feature adoption, recency and plan, scored 0 to 100, with the
-- at-risk and upsell flags of document 003. Scores are as of the latest day in the data, not
-- the clock, so that a rebuild of the same data gives the same scores.
with users as (
    select user_id, cohort_month, signup_date, utm_source
    from {{ ref('stg_saas__users') }}
),

activity as (
    select
        user_id,
        sum(active_days) as active_days,
        sum(events) as total_events,
        max(last_active_date) as last_active_date
    from {{ ref('int_user_engagement') }}
    group by user_id
),

as_of as (
    select max(last_active_date) as as_of_date from activity
),

features as (
    select user_id, count(*) as features_adopted
    from {{ ref('int_feature_usage') }}
    group by user_id
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
        users.user_id,
        users.cohort_month,
        users.utm_source,
        coalesce(current_plans.plan_name, 'Free') as plan_name,
        coalesce(current_plans.mrr, 0) as mrr,
        coalesce(activity.active_days, 0) as active_days,
        coalesce(activity.total_events, 0) as total_events,
        coalesce(features.features_adopted, 0) as features_adopted,
        activity.last_active_date,
        as_of.as_of_date - activity.last_active_date as days_since_last_active
    from users
    cross join as_of
    left join activity on activity.user_id = users.user_id
    left join features on features.user_id = users.user_id
    left join current_plans on current_plans.user_id = users.user_id
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
