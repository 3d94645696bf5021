with source as (
    select * from {{ source('raw_facebook', 'adsets') }}
)

select
    id as facebook_adset_id,
    campaign_id as facebook_campaign_id,
    name as adset_name,
    status as adset_status
from source
