-- Document 003's first validation: no funnel stage converts more than 100% of the one before.
select cohort_month, visit_to_signup_rate, signup_to_activation_rate, activation_to_paid_rate
from {{ ref('fct_acquisition_funnel') }}
where visit_to_signup_rate > 100
   or signup_to_activation_rate > 100
   or activation_to_paid_rate > 100
