with source as (
    select * from {{ source('raw_amplitude', 'events') }}
)

select
    event_id,
    user_id,
    device_id,
    event_type,
    event_time as event_at,
    -- Set by the funnel's Amplitude snippet; null for events in the app.
    event_properties ->> 'ff_session_id' as ff_session_id,
    platform,
    os_version,
    country,
    city
from source
