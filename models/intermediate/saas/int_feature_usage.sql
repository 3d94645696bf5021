{{
    config(
        materialized='incremental',
        unique_key=['user_id', 'feature_name'],
        incremental_strategy='delete+insert',
        indexes=[
            {'columns': ['user_id', 'feature_name'], 'unique': True},
            {'columns': ['last_used_date']},
        ]
    )
}}

-- Feature adoption: one row per user and feature they used.
--
-- Incremental: a run reads only the days after the latest one it holds and adds them to the
-- user's feature rows (whole days, as int_user_engagement).
{%- set latest = watermarks(["max(last_used_date)::text"]) -%}
{%- set since_day = latest[0] if latest %}

with feature_events as (
    select user_id, feature_name, event_date
    from {{ ref('stg_saas__events') }}
    where event_type = 'feature_used'
      and feature_name is not null
    {%- if since_day %}
      and event_date > '{{ since_day }}'::date
    {%- endif %}
),

usage as (
    select
        user_id,
        feature_name,
        count(*) as uses,
        count(distinct event_date) as days_used,
        min(event_date) as first_used_date,
        max(event_date) as last_used_date
    from feature_events
    group by user_id, feature_name
)

{% if since_day %}
select
    usage.user_id,
    usage.feature_name,
    usage.uses + coalesce(previous.uses, 0) as uses,
    usage.days_used + coalesce(previous.days_used, 0) as days_used,
    coalesce(previous.first_used_date, usage.first_used_date) as first_used_date,
    usage.last_used_date
from usage
left join {{ this }} as previous
    on previous.user_id = usage.user_id and previous.feature_name = usage.feature_name
{% else %}
select * from usage
{% endif %}
