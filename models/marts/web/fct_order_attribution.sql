with orders as (
    select * from {{ ref('fct_orders') }}
),

touches as (
    select * from {{ ref('fct_marketing_touches') }}
),

-- Touches of the ordering user in the 7 days up to the order.
eligible as (
    select
        orders.order_id,
        orders.user_id,
        orders.order_ts,
        orders.order_date,
        orders.revenue,
        touches.touch_id,
        touches.session_id,
        touches.touch_ts,
        touches.channel,
        touches.utm_source,
        touches.utm_medium,
        touches.utm_campaign,
        row_number() over (partition by orders.order_id order by touches.touch_ts, touches.touch_id) as rn_first,
        row_number() over (partition by orders.order_id order by touches.touch_ts desc, touches.touch_id desc) as rn_last
    from orders
    join touches
        on touches.user_id = orders.user_id
        and touches.touch_ts between orders.order_ts - interval '7 days' and orders.order_ts
),

credited as (
    select 'first_click' as model, * from eligible where rn_first = 1
    union all
    select 'last_click' as model, * from eligible where rn_last = 1
)

select
    model,
    order_id,
    user_id,
    order_ts,
    order_date,
    revenue,
    touch_id,
    session_id,
    touch_ts,
    channel,
    utm_source,
    utm_medium,
    utm_campaign
from credited
