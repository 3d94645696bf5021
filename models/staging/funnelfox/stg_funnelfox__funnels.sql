with source as (
    select * from {{ source('raw_funnelfox', 'funnels') }}
)

select
    id as funnel_id,
    title as funnel_title,
    type as funnel_type,
    environment as funnel_environment,
    version as funnel_version,
    created_at as funnel_created_at
from source
