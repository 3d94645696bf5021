-- Every headline figure of the FunnelFox/Stripe/Amplitude/Facebook marts equals the answer key
-- that kiln-datagen computed from the raw rows, independently of this SQL. A row here is a
-- figure that differs.
with answer_key as (
    select metric, value from {{ ref('answer_key_funnel') }}
),

attribution as (
    select
        session_id, session_timestamp, converted, conversion_timestamp, revenue_usd,
        attribution_channel, facebook_campaign_id, facebook_ad_id, total_events
    from {{ ref('mart_marketing_attribution') }}
),

facebook_matches as (
    select match_method from {{ ref('int_session_facebook_ads') }}
),

actual as (
    select 'funnel.sessions' as metric, count(*)::text as value from {{ ref('mart_funnel_conversions') }}
    union all
    select 'funnel.converted_sessions', sum(converted)::text from {{ ref('mart_funnel_conversions') }}
    union all
    select 'funnel.revenue_usd', sum(revenue_usd)::text from {{ ref('mart_funnel_conversions') }}
    union all
    select 'funnel.conversion_rate', round(avg(converted), 4)::text from {{ ref('mart_funnel_conversions') }}
    union all
    select
        'funnel.avg_hours_to_convert',
        round(avg(extract(epoch from conversion_timestamp - session_timestamp) / 3600), 2)::text
    from attribution
    union all
    select 'funnel.new_subscriptions', count(*)::text from {{ ref('mart_new_subscriptions') }}
    union all
    select 'funnel.new_subscription_revenue_usd', sum(revenue_usd)::text from {{ ref('mart_new_subscriptions') }}
    union all
    select 'funnel.performance_rows', count(*)::text from {{ ref('mart_funnel_performance') }}
    union all
    select 'funnel.sessions.' || traffic_source, sum(total_sessions)::text
    from {{ ref('mart_funnel_performance') }}
    group by traffic_source
    union all
    select 'funnel.conversions.' || traffic_source, sum(conversions)::text
    from {{ ref('mart_funnel_performance') }}
    group by traffic_source
    union all
    select 'funnel.sessions_by_channel.' || attribution_channel, count(*)::text
    from attribution
    group by attribution_channel
    union all
    select 'funnel.revenue_by_channel.' || attribution_channel, coalesce(sum(revenue_usd) filter (where converted), 0)::text
    from attribution
    group by attribution_channel
    union all
    select 'funnel.facebook_matches.' || match_method, count(*)::text
    from facebook_matches
    group by match_method
    union all
    select 'funnel.sessions_with_amplitude_events', count(*)::text from attribution where total_events > 0
    union all
    select 'funnel.amplitude_events_in_sessions', sum(total_events)::text from attribution
    union all
    select 'funnel.checkouts_started', coalesce(sum((event_counts_json ->> 'checkout_started')::int), 0)::text
    from {{ ref('mart_marketing_attribution') }}
)

select
    coalesce(answer_key.metric, actual.metric) as metric,
    answer_key.value as expected,
    actual.value as actual
from answer_key
full outer join actual using (metric)
where answer_key.value is distinct from actual.value
