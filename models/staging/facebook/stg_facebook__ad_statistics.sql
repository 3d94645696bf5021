with source as (
    select * from {{ source('raw_facebook', 'ad_statistics') }}
)

select
    date_start as stat_date,
    ad_id as facebook_ad_id,
    adset_id as facebook_adset_id,
    campaign_id as facebook_campaign_id,
    spend as spend_usd,
    impressions,
    clicks
from source
