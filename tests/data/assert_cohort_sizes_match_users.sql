-- Document 003's third validation: a cohort's size is the number of users who signed up that month.
with users_per_cohort as (
    select cohort_month, count(*) as users
    from {{ ref('stg_saas__users') }}
    group by cohort_month
)

select engagement.cohort_month, engagement.activity_month, engagement.cohort_size, users_per_cohort.users
from {{ ref('fct_engagement_cohorts') }} as engagement
left join users_per_cohort on users_per_cohort.cohort_month = engagement.cohort_month
where engagement.cohort_size is distinct from users_per_cohort.users
