{#- One row per active user among the phishing recipients (per source): tests received and
    delivered, failures, reports, the last failure, and whether the user is a repeat clicker:
    var knowbe4_repeat_clicker_failures (2) or more failures in tests started in the
    var knowbe4_repeat_clicker_days (365) days up to when the source's data was read, a
    half-open window (read_at - 365 days, read_at]: a test started exactly 365 days before is
    outside, and a test that has not started by then (scheduled ahead) is outside too, so a
    test scheduled in the future neither moves the window nor counts in it. read_at is the
    latest _sdc_extracted_at of the source's phishing tests (when the tap last read the list,
    the loader's copy of the Singer time_extracted; the dbt run's time when no row has it), or
    var knowbe4_as_of (env DBT_KNOWBE4_AS_OF) when set: a replay "as of" an instant, or a
    source whose clock is not the tap's (the sandbox). Recipient rows of anyone else
    (archived users, users the users stream no longer has, rows without a user) are counted in
    knowbe4__former_user_phishing, never here. -#}
{%- set days = var('knowbe4_repeat_clicker_days', 365) -%}
{%- set as_of = var('knowbe4_as_of', env_var('DBT_KNOWBE4_AS_OF', '')) -%}
with tests as (
    select source_relation, campaign_type, pst_id, started_at, _sdc_extracted_at
    from {{ ref('stg_knowbe4__phishing_security_tests') }}
),

read_at as (
    select
        source_relation,
        {%- if as_of %}
        cast('{{ as_of | replace("T", " ") | replace("Z", "") }}' as {{ dbt.type_timestamp() }})
        {%- else %}
        coalesce(
            cast(max(_sdc_extracted_at) as {{ dbt.type_timestamp() }}),
            cast({{ dbt.current_timestamp() }} as {{ dbt.type_timestamp() }})
        )
        {%- endif %} as read_at
    from tests
    group by source_relation
),

users as (
    select * from {{ ref('stg_knowbe4__users') }}
    where is_active
),

recipients as (
    select
        recipients.*,
        tests.started_at as test_started_at,
        read_at.read_at
    from {{ ref('stg_knowbe4__phishing_recipients') }} as recipients
    inner join users
        on users.source_relation = recipients.source_relation
        and users.user_id = recipients.user_id
    left join tests
        on tests.source_relation = recipients.source_relation
        and tests.pst_id = recipients.pst_id
        and {{ knowbe4_same_campaign_type('tests', 'recipients') }}
    left join read_at on read_at.source_relation = recipients.source_relation
),

per_user as (
    select
        source_relation,
        user_id,
        count(*) as tests_received,
        sum(case when {{ knowbe4_recipient_reached() }} then 1 else 0 end) as tests_delivered,
        sum(case when is_failed then 1 else 0 end) as failures,
        count(reported_at) as reports,
        max(failed_at) as last_failure_at,
        sum(
            case
                when is_failed
                    and test_started_at <= read_at
                    and test_started_at > {{ dbt.dateadd('day', -days, 'read_at') }}
                then 1 else 0
            end
        ) as recent_failures
    from recipients
    group by source_relation, user_id
)

select
    per_user.source_relation,
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
inner join users
    on users.source_relation = per_user.source_relation
    and users.user_id = per_user.user_id
