{{
    config(
        materialized='incremental',
        unique_key=['cohort_month', 'activity_month'],
        incremental_strategy='delete+insert'
    )
}}

-- Retention and engagement per signup cohort and calendar month (document 003). A month that
-- has ended does not change, so an incremental run rebuilds only the latest month built and
-- any month after it, from int_user_engagement's rows of those months.
{#- The first month to rebuild, as a literal so that the filter reaches the index. -#}
{%- set latest = watermarks(["max(activity_month)::text", "max(cohort_month)::text"]) -%}
{%- set rebuild_from = latest[0] if latest -%}
{%- set newest_cohort = latest[1] if latest %}

with cohort_sizes as (
    {%- if rebuild_from %}
    -- Users arrive with their signup day, so only the newest cohort (or a newer one) can have
    -- grown: it is counted again, the older ones keep the sizes already counted.
    select distinct cohort_month, cohort_size
    from {{ this }}
    where cohort_month < '{{ newest_cohort }}'::date
    union all
    select cohort_month, count(*) as cohort_size
    from {{ ref('stg_saas__users') }}
    where signup_date >= '{{ newest_cohort }}'::date
    group by cohort_month
    {%- else %}
    select cohort_month, count(*) as cohort_size
    from {{ ref('stg_saas__users') }}
    group by cohort_month
    {%- endif %}
),

engagement as (
    select cohort_month, activity_month, months_since_signup, user_id, active_days, events
    from {{ ref('int_user_engagement') }}
    {% if rebuild_from %}
    where activity_month >= '{{ rebuild_from }}'::date
    {% endif %}
),

monthly as (
    select
        cohort_month,
        activity_month,
        months_since_signup,
        count(*) as active_users,
        sum(active_days) as active_user_days,
        sum(events) as total_events,
        extract(day from activity_month + interval '1 month' - interval '1 day') as days_in_month
    from engagement
    group by cohort_month, activity_month, months_since_signup
)

select
    monthly.cohort_month,
    monthly.activity_month,
    monthly.months_since_signup,
    cohort_sizes.cohort_size,
    monthly.active_users,
    round(100.0 * monthly.active_users / cohort_sizes.cohort_size, 2) as retention_rate,
    -- Daily actives averaged over the calendar month; the month in progress reads low until it ends.
    round(monthly.active_user_days::numeric / monthly.days_in_month, 2) as avg_daily_active_users,
    round(monthly.active_user_days::numeric / monthly.days_in_month / monthly.active_users, 4) as dau_mau_ratio,
    monthly.total_events
from monthly
inner join cohort_sizes on cohort_sizes.cohort_month = monthly.cohort_month
