with source as (
    select * from {{ source('raw_saas', 'subscriptions') }}
)

select
    subscription_id,
    user_id,
    plan_name,
    start_date,
    end_date,
    mrr,
    status,
    status = 'active' as is_active
from source
