with source as (
    select * from {{ source('raw_stripe', 'charges') }}
),

exchange_rates as (
    select currency, usd_per_unit from {{ ref('usd_exchange_rates') }}
)

select
    source.id as charge_id,
    source.subscription_id,
    source.customer as customer_id,
    source.amount as amount_cents,
    source.currency,
    -- Converted charge by charge and rounded to the cent, as finance reports it.
    round({{ cents_to_dollars("source.amount") }} * exchange_rates.usd_per_unit, 2) as amount_usd,
    source.status,
    source.failure_code,
    source.created as created_at
from source
-- A currency without a rate leaves amount_usd null, which its not_null test reports.
left join exchange_rates on exchange_rates.currency = source.currency
