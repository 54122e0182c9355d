{#- One row per current user among the phishing recipients (the users stream has them), plus
    one row with user_id null (is_known_user false) for every other recipient row: no user, or
    a user the users stream no longer has (deleted). The API shows a deleted user's rows either
    way (null, or a stub with the old id), and rows of a test read before the deletion keep the
    stub, so both count as unknown alike. Tests delivered, failures, reports, the last failure,
    and whether the user is a repeat clicker (var knowbe4_repeat_clicker_failures (2) or more
    failures in tests started within var knowbe4_repeat_clicker_days (365) days up to the
    latest test; null for the unknown row). -#}
{%- set days = var('knowbe4_repeat_clicker_days', 365) -%}
with tests as (
    select pst_id, started_at from {{ ref('stg_knowbe4__phishing_security_tests') }}
),

latest as (
    select max(started_at) as latest_test_at from tests
),

users as (
    select * from {{ ref('stg_knowbe4__users') }}
),

recipients as (
    select
        recipients.*,
        users.user_id as known_user_id,
        tests.started_at as test_started_at
    from {{ ref('stg_knowbe4__phishing_recipients') }} as recipients
    left join users on users.user_id = recipients.user_id
    left join tests on tests.pst_id = recipients.pst_id
),

per_user as (
    select
        recipients.known_user_id as user_id,
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
    group by recipients.known_user_id
)

select
    per_user.user_id,
    users.email,
    users.first_name,
    users.last_name,
    {{ knowbe4_department('users.department') }} as department,
    users.status,
    per_user.user_id is not null as is_known_user,
    per_user.tests_received,
    per_user.tests_delivered,
    per_user.failures,
    per_user.reports,
    per_user.last_failure_at,
    {{ knowbe4_safe_divide('per_user.failures', 'per_user.tests_delivered') }} as failure_rate,
    per_user.recent_failures,
    case
        when per_user.user_id is not null
        then per_user.recent_failures >= {{ var('knowbe4_repeat_clicker_failures', 2) }}
    end as is_repeat_clicker
from per_user
left join users on users.user_id = per_user.user_id
