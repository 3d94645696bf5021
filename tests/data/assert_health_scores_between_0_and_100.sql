-- Document 003's second validation: every health score is between 0 and 100.
select user_id, engagement_score, adoption_score, recency_score, overall_health_score
from {{ ref('dim_user_health') }}
where least(engagement_score, adoption_score, recency_score, overall_health_score) < 0
   or greatest(engagement_score, adoption_score, recency_score, overall_health_score) > 100
