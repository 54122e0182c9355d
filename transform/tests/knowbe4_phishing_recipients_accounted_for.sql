{#- Every phishing recipient row is counted once, in its own source: by knowbe4__user_phishing (active users) or
    by knowbe4__former_user_phishing (everyone else), never by both or neither. A row is a
    difference. -#}
with recipients as (
    select
        source_relation,
        count(*) as tests_received,
        sum(case when is_failed then 1 else 0 end) as failures
    from {{ ref('stg_knowbe4__phishing_recipients') }}
    group by source_relation
),

marts as (
    select source_relation, sum(tests_received) as tests_received, sum(failures) as failures
    from (
        select source_relation, tests_received, failures
        from {{ ref('knowbe4__user_phishing') }}
        union all
        select source_relation, tests_received, failures
        from {{ ref('knowbe4__former_user_phishing') }}
    ) as counted
    group by source_relation
)

select
    coalesce(recipients.source_relation, marts.source_relation) as source_relation,
    recipients.tests_received as recipient_rows,
    marts.tests_received as counted_rows,
    recipients.failures as recipient_failures,
    marts.failures as counted_failures
from recipients
full outer join marts on marts.source_relation = recipients.source_relation
where coalesce(recipients.tests_received, 0) <> coalesce(marts.tests_received, 0)
   or coalesce(recipients.failures, 0) <> coalesce(marts.failures, 0)
