-- One row per FunnelFox session that led to a (non-sandbox) subscription, with its payments.
-- The chain is document 000's: the Stripe subscription names the session in its metadata, and
-- the FunnelFox subscription points to that Stripe subscription through psp_id.
with stripe_subscriptions as (
    select subscription_id, ff_session_id, billing_interval, currency, created_at
    from {{ ref('stg_stripe__subscriptions') }}
    where ff_session_id is not null
),

funnelfox_subscriptions as (
    select funnelfox_subscription_id, stripe_subscription_id, payment_provider
    from {{ ref('stg_funnelfox__subscriptions') }}
    where not is_sandbox
),

charges as (
    select charge_id, subscription_id, amount_usd, status, created_at
    from {{ ref('stg_stripe__charges') }}
),

session_subscriptions as (
    -- A session rarely leads to two subscriptions; the first one is the conversion.
    select distinct on (stripe_subscriptions.ff_session_id)
        stripe_subscriptions.ff_session_id as session_id,
        stripe_subscriptions.subscription_id,
        funnelfox_subscriptions.funnelfox_subscription_id,
        funnelfox_subscriptions.payment_provider,
        stripe_subscriptions.billing_interval,
        stripe_subscriptions.currency
    from stripe_subscriptions
    inner join funnelfox_subscriptions
        on funnelfox_subscriptions.stripe_subscription_id = stripe_subscriptions.subscription_id
    order by stripe_subscriptions.ff_session_id, stripe_subscriptions.created_at, stripe_subscriptions.subscription_id
),

subscription_payments as (
    select
        subscription_id,
        min(created_at) filter (where status = 'succeeded') as converted_at,
        (array_agg(amount_usd order by created_at, charge_id) filter (where status = 'succeeded'))[1] as first_payment_usd,
        sum(amount_usd) filter (where status = 'succeeded') as revenue_usd,
        -- The best outcome of the subscription's charges.
        case
            when bool_or(status = 'succeeded') then 'succeeded'
            when bool_or(status = 'pending') then 'pending'
            when bool_or(status = 'failed') then 'failed'
        end as payment_status
    from charges
    group by subscription_id
)

select
    session_subscriptions.session_id,
    session_subscriptions.subscription_id,
    session_subscriptions.funnelfox_subscription_id,
    session_subscriptions.payment_provider,
    session_subscriptions.billing_interval,
    session_subscriptions.currency,
    subscription_payments.payment_status,
    subscription_payments.converted_at,
    subscription_payments.first_payment_usd,
    subscription_payments.revenue_usd
from session_subscriptions
left join subscription_payments
    on subscription_payments.subscription_id = session_subscriptions.subscription_id
