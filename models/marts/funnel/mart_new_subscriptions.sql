-- One row per new subscription: a FunnelFox purchase (sandbox excluded) whose Stripe
-- subscription was paid at least once; its first successful charge is the sale (document 002).
with funnelfox_subscriptions as (
    select stripe_subscription_id, payment_provider, is_sandbox
    from {{ ref('stg_funnelfox__subscriptions') }}
    where not is_sandbox
),

stripe_subscriptions as (
    select subscription_id, ff_session_id
    from {{ ref('stg_stripe__subscriptions') }}
),

first_payments as (
    select distinct on (subscription_id)
        subscription_id, amount_usd, currency, created_at
    from {{ ref('stg_stripe__charges') }}
    where status = 'succeeded'
    order by subscription_id, created_at, charge_id
),

sessions as (
    select session_id, profile_id, funnel_id, country, city
    from {{ ref('stg_funnelfox__sessions') }}
),

funnels as (
    select funnel_id, funnel_title from {{ ref('stg_funnelfox__funnels') }}
)

select
    (first_payments.created_at at time zone 'UTC')::date as subscription_date,
    stripe_subscriptions.subscription_id,
    sessions.profile_id as user_profile_id,
    first_payments.amount_usd as revenue_usd,
    first_payments.currency,
    sessions.funnel_id,
    funnels.funnel_title,
    sessions.country,
    sessions.city,
    funnelfox_subscriptions.payment_provider,
    funnelfox_subscriptions.is_sandbox
from funnelfox_subscriptions
inner join stripe_subscriptions
    on stripe_subscriptions.subscription_id = funnelfox_subscriptions.stripe_subscription_id
inner join first_payments
    on first_payments.subscription_id = stripe_subscriptions.subscription_id
left join sessions on sessions.session_id = stripe_subscriptions.ff_session_id
left join funnels on funnels.funnel_id = sessions.funnel_id
