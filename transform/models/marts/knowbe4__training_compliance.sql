{#- One row per (source, training campaign, department) of the active users enrolled in it:
    people (users_*) and enrollment rows (enrollments_*), counted apart because a campaign of two
    modules gives each person two enrollments. Completed = status Passed or Completed; past
    due = status Past Due. A user is done with a campaign when every one of their enrollments
    in it is completed. Only active users count, as in knowbe4__department_summary: the
    enrollments of archived users, of users the users stream no longer has and of rows
    without a user are left out (they are in stg_knowbe4__training_enrollments). Active users
    without a department are under 'Unknown'. -#}
with users as (
    select source_relation, user_id, department from {{ ref('stg_knowbe4__users') }}
    where is_active
),

enrollments as (
    select
        enrollments.source_relation,
        enrollments.campaign_id,
        enrollments.campaign_name,
        enrollments.user_id,
        enrollments.is_completed,
        enrollments.is_past_due,
        {{ knowbe4_department('users.department') }} as department
    from {{ ref('stg_knowbe4__training_enrollments') }} as enrollments
    inner join users
        on users.source_relation = enrollments.source_relation
        and users.user_id = enrollments.user_id
),

per_user as (
    select
        source_relation,
        campaign_id,
        department,
        user_id,
        max(campaign_name) as campaign_name,
        count(*) as enrollments,
        sum(case when is_completed then 1 else 0 end) as enrollments_completed,
        sum(case when is_past_due then 1 else 0 end) as enrollments_past_due
    from enrollments
    group by source_relation, campaign_id, department, user_id
),

campaigns as (
    select source_relation, campaign_id, campaign_name, status
    from {{ ref('stg_knowbe4__training_campaigns') }}
),

counted as (
    select
        per_user.source_relation,
        per_user.campaign_id,
        per_user.department,
        max(per_user.campaign_name) as campaign_name,
        count(*) as users_enrolled,
        sum(case when per_user.enrollments_completed = per_user.enrollments then 1 else 0 end)
            as users_completed,
        sum(case when per_user.enrollments_past_due > 0 then 1 else 0 end) as users_past_due,
        sum(per_user.enrollments) as enrollments,
        sum(per_user.enrollments_completed) as enrollments_completed,
        sum(per_user.enrollments_past_due) as enrollments_past_due
    from per_user
    group by per_user.source_relation, per_user.campaign_id, per_user.department
)

select
    counted.source_relation,
    counted.campaign_id,
    counted.department,
    coalesce(campaigns.campaign_name, counted.campaign_name) as campaign_name,
    campaigns.status as campaign_status,
    counted.users_enrolled,
    counted.users_completed,
    counted.users_past_due,
    {{ knowbe4_safe_divide('counted.users_completed', 'counted.users_enrolled') }}
        as user_completion_rate,
    counted.enrollments,
    counted.enrollments_completed,
    counted.enrollments_past_due,
    {{ knowbe4_safe_divide('counted.enrollments_completed', 'counted.enrollments') }}
        as enrollment_completion_rate
from counted
left join campaigns
    on campaigns.source_relation = counted.source_relation
    and campaigns.campaign_id = counted.campaign_id
