-- No `with source as (...)`, as stg_saas__events: the view must flatten into the queries that
-- join it.
select
    user_id,
    lower(email) as email,
    signup_date,
    date_trunc('month', signup_date)::date as cohort_month,
    first_visit_date,
    coalesce(utm_source, 'direct') as utm_source,
    utm_campaign
from {{ source('raw_saas', 'users') }}
