-- One row per FunnelFox session with its ad, its product activity and its revenue (document 001):
-- the input of ROAS, CAC and conversion by campaign.
with sessions as (
    select
        session_id, profile_id, session_at, session_date, origin_raw, user_agent, ip_address,
        utm_source, utm_medium, utm_campaign, utm_content, utm_term, fbclid, ad_id,
        funnel_id, funnel_version, country, city
    from {{ ref('stg_funnelfox__sessions') }}
),

facebook_ads as (
    select
        session_id, facebook_ad_id, facebook_adset_id, facebook_campaign_id,
        ad_name, adset_name, campaign_name, campaign_objective
    from {{ ref('int_session_facebook_ads') }}
),

amplitude_activity as (
    select
        session_id, total_events, unique_event_types, first_event_at, last_event_at,
        session_duration_seconds, event_types_list, event_counts_json, amplitude_device_id,
        amplitude_platform, amplitude_os_version, amplitude_country, amplitude_city
    from {{ ref('int_session_amplitude_activity') }}
),

funnels as (
    select funnel_id, funnel_title, funnel_type, funnel_environment
    from {{ ref('stg_funnelfox__funnels') }}
),

payments as (
    select
        session_id, subscription_id, billing_interval, currency, payment_status,
        converted_at, revenue_usd
    from {{ ref('int_session_payments') }}
)

select
    sessions.session_id,
    sessions.profile_id,
    sessions.session_at as session_timestamp,
    sessions.session_date,

    sessions.origin_raw,
    sessions.user_agent,
    sessions.ip_address,

    sessions.utm_source,
    sessions.utm_medium,
    sessions.utm_campaign,
    sessions.utm_content,
    sessions.utm_term,
    sessions.fbclid,
    sessions.ad_id,

    facebook_ads.facebook_ad_id,
    facebook_ads.facebook_adset_id,
    facebook_ads.facebook_campaign_id,
    facebook_ads.ad_name,
    facebook_ads.adset_name,
    facebook_ads.campaign_name,
    facebook_ads.campaign_objective,

    coalesce(amplitude_activity.total_events, 0) as total_events,
    coalesce(amplitude_activity.unique_event_types, 0) as unique_event_types,
    amplitude_activity.first_event_at,
    amplitude_activity.last_event_at,
    amplitude_activity.session_duration_seconds,
    amplitude_activity.event_types_list,
    amplitude_activity.event_counts_json,

    amplitude_activity.amplitude_device_id,
    amplitude_activity.amplitude_platform,
    amplitude_activity.amplitude_os_version,
    amplitude_activity.amplitude_country,
    amplitude_activity.amplitude_city,

    sessions.funnel_id,
    funnels.funnel_title,
    funnels.funnel_type,
    funnels.funnel_environment,
    sessions.funnel_version,
    sessions.country,
    sessions.city,

    payments.converted_at is not null as converted,
    payments.converted_at as conversion_timestamp,
    round(extract(epoch from payments.converted_at - sessions.session_at) / 3600, 2) as hours_to_convert,
    payments.revenue_usd,
    payments.currency,
    payments.payment_status,
    payments.subscription_id,
    payments.billing_interval,

    {{ is_paid_traffic('sessions.utm_medium') }} as is_paid_traffic,
    {{ is_facebook_traffic('sessions.utm_source', 'sessions.fbclid') }} as is_facebook_traffic,
    {{ attribution_channel('sessions.utm_source', 'sessions.utm_medium', 'sessions.fbclid') }} as attribution_channel
from sessions
left join facebook_ads on facebook_ads.session_id = sessions.session_id
left join amplitude_activity on amplitude_activity.session_id = sessions.session_id
left join funnels on funnels.funnel_id = sessions.funnel_id
left join payments on payments.session_id = sessions.session_id
