{#- One row per (source, entity type, entity id, date) of the risk-score histories: the account
    (its name is the id), groups and users (user points only when the opt-in stream is
    loaded), with the change since the entity's previous point. Across sources:
    knowbe4__risk_score_trend_rollup. -#}
with account as (
    select source_relation, max(account_name) as account_name
    from {{ ref('stg_knowbe4__account') }}
    group by source_relation
),

points as (
    select
        history.source_relation,
        'account' as entity_type,
        coalesce(account.account_name, 'account') as entity_id,
        account.account_name as entity_name,
        history.score_date,
        history.risk_score
    from {{ ref('stg_knowbe4__account_risk_score_history') }} as history
    left join account on account.source_relation = history.source_relation

    union all

    select
        history.source_relation,
        'group' as entity_type,
        cast(history.group_id as {{ dbt.type_string() }}) as entity_id,
        groups.group_name as entity_name,
        history.score_date,
        history.risk_score
    from {{ ref('stg_knowbe4__group_risk_score_history') }} as history
    left join {{ ref('stg_knowbe4__groups') }} as groups
        on groups.source_relation = history.source_relation
        and groups.group_id = history.group_id

    union all

    select
        history.source_relation,
        'user' as entity_type,
        cast(history.user_id as {{ dbt.type_string() }}) as entity_id,
        users.email as entity_name,
        history.score_date,
        history.risk_score
    from {{ ref('stg_knowbe4__user_risk_score_history') }} as history
    left join {{ ref('stg_knowbe4__users') }} as users
        on users.source_relation = history.source_relation
        and users.user_id = history.user_id
),

ordered as (
    select
        *,
        lag(score_date) over (
            partition by source_relation, entity_type, entity_id order by score_date
        ) as previous_score_date,
        lag(risk_score) over (
            partition by source_relation, entity_type, entity_id order by score_date
        ) as previous_risk_score
    from points
)

select
    source_relation,
    entity_type,
    entity_id,
    entity_name,
    score_date,
    risk_score,
    previous_score_date,
    previous_risk_score,
    risk_score - previous_risk_score as risk_score_change
from ordered
