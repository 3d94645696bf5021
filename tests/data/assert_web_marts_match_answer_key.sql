-- Every headline figure of the web marts equals the answer key that kiln-datagen computed from
-- the raw rows, independently of this SQL. A row here is a figure that differs.
with answer_key as (
    select metric, value from {{ ref('answer_key_web') }}
),

actual as (
    select 'web.events' as metric, count(*)::text as value from {{ ref('fct_session_events') }}
    union all
    select 'web.users', count(*)::text from {{ ref('dim_users') }}
    union all
    select 'web.sessions', count(*)::text from {{ ref('fct_sessions') }}
    union all
    select 'web.orders', count(*)::text from {{ ref('fct_orders') }}
    union all
    select 'web.order_revenue', sum(revenue)::numeric(14, 2)::text from {{ ref('fct_orders') }}
    union all
    select 'web.marketing_touches', count(*)::text from {{ ref('fct_marketing_touches') }}
    union all
    select 'web.sessions.' || entry_channel, count(*)::text from {{ ref('fct_sessions') }} group by entry_channel
    union all
    select 'web.attributed_orders.' || model, count(*)::text from {{ ref('fct_order_attribution') }} group by model
    union all
    select 'web.attributed_revenue.' || model || '.' || channel, sum(revenue)::numeric(14, 2)::text
    from {{ ref('fct_order_attribution') }}
    group by model, channel
)

select
    coalesce(answer_key.metric, actual.metric) as metric,
    answer_key.value as expected,
    actual.value as actual
from answer_key
full outer join actual using (metric)
where answer_key.value is distinct from actual.value
