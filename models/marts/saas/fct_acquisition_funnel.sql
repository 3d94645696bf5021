{{
    config(
        materialized='incremental',
        unique_key='cohort_month',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns'
    )
}}

-- The acquisition funnel per signup cohort (document 003). An incremental run rebuilds only the
-- cohorts with funnel events since the last run: the newest cohort, and older ones whose users
-- activated or paid since. (Document 003 reprocessed only cohorts newer than the newest one
-- built, which never updates the month in progress and misses late payments.)
{% if is_incremental() %}
    {#- The cohorts to rebuild, looked up first and written into the query as literals. -#}
    {%- set changed_cohorts_sql -%}
        select distinct cohort_month::text
        from {{ ref('int_funnel_steps') }}
        -- Everything when the table is empty.
        where last_funnel_event_at >= coalesce((select max(last_funnel_event_at) from {{ this }}), '-infinity')
    {%- endset -%}
    {%- set changed = run_query(changed_cohorts_sql) if execute else none -%}
    {%- set changed_cohorts = changed.columns[0].values() if changed else [] -%}
{% endif %}

with funnel_steps as (
    select cohort_month, user_id, is_visit, is_signup, is_activated, is_paid, last_funnel_event_at
    from {{ ref('int_funnel_steps') }}
    {% if is_incremental() %}
    where cohort_month in (
        {%- for cohort in changed_cohorts %}'{{ cohort }}'::date{{ ", " if not loop.last }}{% endfor -%}
        {{- "null" if not changed_cohorts -}}
    )
    {% endif %}
),

cohort_funnel as (
    select
        cohort_month,
        count(*) filter (where is_visit = 1) as visitors,
        count(*) filter (where is_signup = 1) as signups,
        count(*) filter (where is_activated = 1) as activated,
        count(*) filter (where is_paid = 1) as paid,
        max(last_funnel_event_at) as last_funnel_event_at
    from funnel_steps
    group by cohort_month
)

select
    cohort_month,
    visitors,
    signups,
    activated,
    paid,
    round(100.0 * signups / nullif(visitors, 0), 2) as visit_to_signup_rate,
    round(100.0 * activated / nullif(signups, 0), 2) as signup_to_activation_rate,
    round(100.0 * paid / nullif(activated, 0), 2) as activation_to_paid_rate,
    last_funnel_event_at
from cohort_funnel
