-- Feature adoption: one row per user and feature they used.
with feature_events as (
    select user_id, feature_name, event_date
    from {{ ref('stg_saas__events') }}
    where event_type = 'feature_used'
      and feature_name is not null
)

select
    user_id,
    feature_name,
    count(*) as uses,
    count(distinct event_date) as days_used,
    min(event_date) as first_used_date,
    max(event_date) as last_used_date
from feature_events
group by user_id, feature_name
