with source as (
    select * from {{ source('raw_funnelfox', 'subscriptions') }}
)

select
    id as funnelfox_subscription_id,
    psp_id as stripe_subscription_id,
    payment_provider,
    sandbox as is_sandbox,
    status,
    created_at
from source
