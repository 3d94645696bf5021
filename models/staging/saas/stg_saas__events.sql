with source as (
    select * from {{ source('raw_saas', 'events') }}
)

select
    event_id,
    user_id,
    event_type,
    event_date,
    event_timestamp as event_at,
    date_trunc('month', event_date)::date as event_month,
    feature_name
from source
