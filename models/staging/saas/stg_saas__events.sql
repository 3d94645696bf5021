-- No `with source as (...)` here: PostgreSQL does not flatten a view with a WITH clause into
-- the query that reads it, so a join's condition (`user_id = ...`) could not reach the raw
-- table's indexes; the incremental SaaS models look events up by user and by day.
select
    event_id,
    user_id,
    event_type,
    event_date,
    event_timestamp as event_at,
    date_trunc('month', event_date)::date as event_month,
    feature_name
from {{ source('raw_saas', 'events') }}
