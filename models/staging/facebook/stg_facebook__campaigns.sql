with source as (
    select * from {{ source('raw_facebook', 'campaigns') }}
)

select
    id as facebook_campaign_id,
    name as campaign_name,
    objective as campaign_objective,
    status as campaign_status
from source
