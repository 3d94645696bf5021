-- The Facebook ad (or campaign) behind a session, by document 001's fallback chain: the ad_id in
-- the URL, else utm_campaign as a campaign name, else utm_content as an ad name. The first rule
-- that matches supplies the whole hierarchy, so ad, adset and campaign never disagree.
with sessions as (
    select session_id, ad_id, utm_campaign, utm_content
    from {{ ref('stg_funnelfox__sessions') }}
),

ads as (
    select
        ads.facebook_ad_id,
        ads.ad_name,
        adsets.facebook_adset_id,
        adsets.adset_name,
        campaigns.facebook_campaign_id,
        campaigns.campaign_name,
        campaigns.campaign_objective
    from {{ ref('stg_facebook__ads') }} as ads
    inner join {{ ref('stg_facebook__adsets') }} as adsets on adsets.facebook_adset_id = ads.facebook_adset_id
    inner join {{ ref('stg_facebook__campaigns') }} as campaigns on campaigns.facebook_campaign_id = adsets.facebook_campaign_id
),

campaigns as (
    select facebook_campaign_id, campaign_name, campaign_objective
    from {{ ref('stg_facebook__campaigns') }}
),

candidate_matches as (
    select
        sessions.session_id, 1 as priority, 'ad_id' as match_method,
        ads.facebook_ad_id, ads.ad_name, ads.facebook_adset_id, ads.adset_name,
        ads.facebook_campaign_id, ads.campaign_name, ads.campaign_objective
    from sessions
    inner join ads on ads.facebook_ad_id = sessions.ad_id

    union all

    select
        sessions.session_id, 2, 'utm_campaign',
        null, null, null, null,
        campaigns.facebook_campaign_id, campaigns.campaign_name, campaigns.campaign_objective
    from sessions
    inner join campaigns on campaigns.campaign_name = sessions.utm_campaign

    union all

    select
        sessions.session_id, 3, 'utm_content',
        ads.facebook_ad_id, ads.ad_name, ads.facebook_adset_id, ads.adset_name,
        ads.facebook_campaign_id, ads.campaign_name, ads.campaign_objective
    from sessions
    inner join ads on ads.ad_name = sessions.utm_content
)

select distinct on (session_id)
    session_id,
    match_method,
    facebook_ad_id,
    ad_name,
    facebook_adset_id,
    adset_name,
    facebook_campaign_id,
    campaign_name,
    campaign_objective
from candidate_matches
order by session_id, priority
