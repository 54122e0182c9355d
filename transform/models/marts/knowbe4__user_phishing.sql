{#- One row per active user among the phishing recipients: tests received and delivered,
    failures, reports, the last failure, and whether the user is a repeat clicker: var
    knowbe4_repeat_clicker_failures (2) or more failures in tests started in the
    var knowbe4_repeat_clicker_days (365) days up to the latest test, a half-open window
    (latest - 365 days, latest]: a test started exactly 365 days before the latest is outside.
    Recipient rows of anyone else (archived users, users the users stream no longer has, rows
    without a user) are counted in knowbe4__former_user_phishing, never here. -#}
{%- set days = var('knowbe4_repeat_clicker_days', 365) -%}
with tests as (
    select pst_id, started_at from {{ ref('stg_knowbe4__phishing_security_tests') }}
),

latest as (
    select max(started_at) as latest_test_at from tests
),

users as (
    select * from {{ ref('stg_knowbe4__users') }}
    where is_active
),

recipients as (
    select
        recipients.*,
        tests.started_at as test_started_at
    from {{ ref('stg_knowbe4__phishing_recipients') }} as recipients
    inner join users on users.user_id = recipients.user_id
    left join tests on tests.pst_id = recipients.pst_id
),

per_user as (
    select
        recipients.user_id,
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
                        > {{ dbt.dateadd('day', -days, 'latest.latest_test_at') }}
                then 1 else 0
            end
        ) as recent_failures
    from recipients
    cross join latest
    group by recipients.user_id
)

select
    per_user.user_id,
    users.email,
    users.first_name,
    users.last_name,
    {{ knowbe4_department('users.department') }} as department,
    per_user.tests_received,
    per_user.tests_delivered,
    per_user.failures,
    per_user.reports,
    per_user.last_failure_at,
    {{ knowbe4_safe_divide('per_user.failures', 'per_user.tests_delivered') }} as failure_rate,
    per_user.recent_failures,
    per_user.recent_failures >= {{ var('knowbe4_repeat_clicker_failures', 2) }}
        as is_repeat_clicker
from per_user
inner join users on users.user_id = per_user.user_id
