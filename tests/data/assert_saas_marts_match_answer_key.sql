-- Every headline figure of the SaaS marts equals the answer key that kiln-datagen computed from
-- the raw rows, independently of this SQL. A row here is a figure that differs.
with answer_key as (
    select metric, value from {{ ref('answer_key_saas') }}
),

funnel as (
    select cohort_month, visitors, signups, activated, paid
    from {{ ref('fct_acquisition_funnel') }}
),

funnel_figures as (
    select to_char(cohort_month, 'YYYY-MM') as cohort, stage, users
    from funnel
    cross join lateral (
        values ('visitors', visitors), ('signups', signups), ('activated', activated), ('paid', paid)
    ) as stages (stage, users)
),

engagement as (
    select cohort_month, activity_month, cohort_size, active_users
    from {{ ref('fct_engagement_cohorts') }}
),

health as (
    select is_at_risk, is_upsell_candidate from {{ ref('dim_user_health') }}
),

actual as (
    select 'saas.users' as metric, count(*)::text as value from {{ ref('stg_saas__users') }}
    union all
    select 'saas.events', count(*)::text from {{ ref('stg_saas__events') }}
    union all
    select 'saas.funnel.' || cohort || '.' || stage, users::text from funnel_figures
    union all
    select 'saas.funnel.' || stage, sum(users)::text from funnel_figures group by stage
    union all
    select 'saas.funnel.activation_to_paid_rate', round(100.0 * sum(paid) / sum(activated), 2)::text from funnel
    union all
    select 'saas.engagement.rows', count(*)::text from engagement
    union all
    select 'saas.engagement.active_user_months', sum(active_users)::text from engagement
    union all
    select 'saas.engagement.cohort_size_month_zero', sum(cohort_size)::text
    from engagement
    where activity_month = cohort_month
    union all
    select 'saas.feature_users.' || feature_name, count(*)::text
    from {{ ref('int_feature_usage') }}
    group by feature_name
    union all
    select 'saas.health.upsell_candidates', count(*) filter (where is_upsell_candidate)::text from health
    union all
    select 'saas.health.at_risk', count(*) filter (where is_at_risk)::text from health
)

select
    coalesce(answer_key.metric, actual.metric) as metric,
    answer_key.value as expected,
    actual.value as actual
from answer_key
full outer join actual using (metric)
where answer_key.value is distinct from actual.value
