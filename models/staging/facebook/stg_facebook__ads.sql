with source as (
    select * from {{ source('raw_facebook', 'ads') }}
)

select
    id as facebook_ad_id,
    adset_id as facebook_adset_id,
    campaign_id as facebook_campaign_id,
    name as ad_name,
    status as ad_status
from source
