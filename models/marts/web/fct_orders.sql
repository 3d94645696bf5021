with purchases as (
    select
        transaction_id,
        user_id,
        event_ts,
        event_date,
        revenue,
        channel,
        utm_source,
        utm_medium,
        utm_campaign
    from {{ ref('stg_web__events') }}
    where event_name in ('purchase', 'checkout_completed')
      and transaction_id is not null
)

-- Some transaction ids were tracked twice with different revenue: one row per order, with the
-- latest timestamp and the highest revenue (conservative and deterministic).
select
    transaction_id as order_id,
    max(user_id) as user_id,
    max(event_ts) as order_ts,
    max(event_date) as order_date,
    max(revenue) as revenue,
    max(channel) as order_channel,
    max(utm_source) as order_utm_source,
    max(utm_medium) as order_utm_medium,
    max(utm_campaign) as order_utm_campaign
from purchases
group by transaction_id
