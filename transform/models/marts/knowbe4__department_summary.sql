{#- One row per department of the active users: how many, their average Phish-prone % and
    risk score, and the completion rate of their training enrollments and the failure rate of
    the phishing tests delivered to them (users without a department: 'Unknown'). -#}
with users as (
    select * from {{ ref('stg_knowbe4__users') }}
    where is_active
),

training as (
    select
        user_id,
        count(*) as enrolled,
        sum(case when is_completed then 1 else 0 end) as completed
    from {{ ref('stg_knowbe4__training_enrollments') }}
    where user_id is not null
    group by user_id
),

phishing as (
    select
        user_id,
        count(delivered_at) as delivered,
        sum(case when is_failed then 1 else 0 end) as failed
    from {{ ref('stg_knowbe4__phishing_recipients') }}
    where user_id is not null
    group by user_id
),

counted as (
    select
        {{ knowbe4_department('users.department') }} as department,
        count(*) as users,
        avg(users.phish_prone_percentage) as avg_phish_prone_percentage,
        avg(users.current_risk_score) as avg_risk_score,
        coalesce(sum(training.enrolled), 0) as enrollments,
        coalesce(sum(training.completed), 0) as enrollments_completed,
        coalesce(sum(phishing.delivered), 0) as phishing_delivered,
        coalesce(sum(phishing.failed), 0) as phishing_failed
    from users
    left join training on training.user_id = users.user_id
    left join phishing on phishing.user_id = users.user_id
    group by {{ knowbe4_department('users.department') }}
)

select
    *,
    {{ knowbe4_safe_divide('enrollments_completed', 'enrollments') }} as training_completion_rate,
    {{ knowbe4_safe_divide('phishing_failed', 'phishing_delivered') }} as phishing_failure_rate
from counted
