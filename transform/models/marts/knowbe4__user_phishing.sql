{#- One row per user id that appears among phishing recipients (known to the users stream or
    not): tests delivered, failures, reports, the last failure, and whether the user is a
    repeat clicker (var knowbe4_repeat_clicker_failures (2) or more failures in tests started
    within var knowbe4_repeat_clicker_days (365) days up to the latest test). -#}
{%- set days = var('knowbe4_repeat_clicker_days', 365) -%}
with tests as (
    select pst_id, started_at from {{ ref('stg_knowbe4__phishing_security_tests') }}
),

latest as (
    select max(started_at) as latest_test_at from tests
),

recipients as (
    select
        recipients.*,
        tests.started_at as test_started_at
    from {{ ref('stg_knowbe4__phishing_recipients') }} as recipients
    left join tests on tests.pst_id = recipients.pst_id
    where recipients.user_id is not null
),

per_user as (
    select
        recipients.user_id,
        max(recipients.user_email) as recipient_email,
        count(*) as tests_received,
        count(recipients.delivered_at) as tests_delivered,
        sum(case when recipients.is_failed then 1 else 0 end) as failures,
        count(recipients.reported_at) as reports,
        max(recipients.failed_at) as last_failure_at,
        sum(
            case
                when recipients.is_failed
                    and recipients.test_started_at <= latest.latest_test_at
                    and recipients.test_started_at
                        >= {{ dbt.dateadd('day', -days, 'latest.latest_test_at') }}
                then 1 else 0
            end
        ) as recent_failures
    from recipients
    cross join latest
    group by recipients.user_id
),

users as (
    select * from {{ ref('stg_knowbe4__users') }}
)

select
    per_user.user_id,
    coalesce(users.email, per_user.recipient_email) as email,
    users.first_name,
    users.last_name,
    {{ knowbe4_department('users.department') }} as department,
    users.status,
    users.user_id is not null as is_known_user,
    per_user.tests_received,
    per_user.tests_delivered,
    per_user.failures,
    per_user.reports,
    per_user.last_failure_at,
    {{ knowbe4_safe_divide('per_user.failures', 'per_user.tests_delivered') }} as failure_rate,
    per_user.recent_failures,
    per_user.recent_failures >= {{ var('knowbe4_repeat_clicker_failures', 2) }} as is_repeat_clicker
from per_user
left join users on users.user_id = per_user.user_id
