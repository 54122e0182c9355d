{#- The phishing recipient rows of people who are not active users, kept apart from
    knowbe4__user_phishing so that no count of people there includes them: per source, one
    row per kind, 'archived' (users the users stream lists as archived: people who left) and
    'deleted' (a user the users stream no longer has, or a row without a user: the API shows a
    deleted user's rows either way). Together with knowbe4__user_phishing it accounts for
    every recipient row. -#}
{%- set reached = 'sum(case when ' ~ knowbe4_recipient_reached() ~ ' then 1 else 0 end)' -%}
with users as (
    select source_relation, user_id, is_active from {{ ref('stg_knowbe4__users') }}
),

recipients as (
    select
        recipients.*,
        case when users.user_id is null then 'deleted' else 'archived' end as user_kind
    from {{ ref('stg_knowbe4__phishing_recipients') }} as recipients
    left join users
        on users.source_relation = recipients.source_relation
        and users.user_id = recipients.user_id
    where users.user_id is null or not users.is_active
)

select
    source_relation,
    user_kind,
    -- people can be told apart only while the users stream has them
    case when user_kind = 'archived' then count(distinct user_id) end as users,
    count(*) as tests_received,
    {{ reached }} as tests_delivered,
    sum(case when is_failed then 1 else 0 end) as failures,
    count(reported_at) as reports,
    max(failed_at) as last_failure_at,
    {{ knowbe4_safe_divide('sum(case when is_failed then 1 else 0 end)', reached) }}
        as failure_rate
from recipients
group by source_relation, user_kind
