with session_events as (
    select * from {{ ref('fct_session_events') }}
),

orders as (
    select * from {{ ref('fct_orders') }}
),

activity as (
    select
        user_id,
        min(event_ts) as first_seen_ts,
        max(event_ts) as last_seen_ts,
        count(distinct session_id) as session_count,
        count(*) as total_events,
        count(*) filter (where event_name = 'page_view') as pageviews,
        count(*) filter (where event_name = 'add_to_cart') as adds_to_cart,
        count(*) filter (where event_name = 'checkout_started') as checkouts_started
    from session_events
    group by user_id
),

revenue as (
    select user_id, count(*) as purchases, sum(revenue) as total_revenue
    from orders
    group by user_id
)

select
    activity.user_id,
    activity.first_seen_ts,
    activity.last_seen_ts,
    activity.session_count,
    activity.total_events,
    activity.pageviews,
    activity.adds_to_cart,
    activity.checkouts_started,
    coalesce(revenue.purchases, 0) as purchases,
    coalesce(revenue.total_revenue, 0) as total_revenue
from activity
left join revenue using (user_id)
