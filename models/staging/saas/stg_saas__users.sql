with source as (
    select * from {{ source('raw_saas', 'users') }}
)

select
    user_id,
    lower(email) as email,
    signup_date,
    date_trunc('month', signup_date)::date as cohort_month,
    first_visit_date,
    coalesce(utm_source, 'direct') as utm_source,
    utm_campaign
from source
