with source as (
    select * from {{ source('raw_stripe', 'subscriptions') }}
)

select
    id as subscription_id,
    customer as customer_id,
    status,
    plan_interval as billing_interval,
    currency,
    created as created_at,
    -- The FunnelFox checkout writes its session id into the subscription's metadata.
    metadata ->> 'ff_session_id' as ff_session_id
from source
