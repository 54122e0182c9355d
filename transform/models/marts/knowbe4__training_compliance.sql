{#- One row per (training campaign, department of the enrolled user): enrollments, completed
    (status Passed or Completed), past due. Enrollments of unknown or deleted users (user null,
    or an id the users stream no longer has), and of users without a department, count under
    department 'Unknown'. -#}
with enrollments as (
    select * from {{ ref('stg_knowbe4__training_enrollments') }}
),

users as (
    select user_id, department from {{ ref('stg_knowbe4__users') }}
),

campaigns as (
    select campaign_id, campaign_name, status from {{ ref('stg_knowbe4__training_campaigns') }}
),

counted as (
    select
        enrollments.campaign_id,
        {{ knowbe4_department('users.department') }} as department,
        max(coalesce(campaigns.campaign_name, enrollments.campaign_name)) as campaign_name,
        max(campaigns.status) as campaign_status,
        count(*) as enrolled,
        count(distinct users.user_id) as users_enrolled,
        sum(case when enrollments.is_completed then 1 else 0 end) as completed,
        sum(case when enrollments.is_past_due then 1 else 0 end) as past_due
    from enrollments
    left join users on users.user_id = enrollments.user_id
    left join campaigns on campaigns.campaign_id = enrollments.campaign_id
    group by enrollments.campaign_id, {{ knowbe4_department('users.department') }}
)

select
    *,
    {{ knowbe4_safe_divide('completed', 'enrolled') }} as completion_rate
from counted
