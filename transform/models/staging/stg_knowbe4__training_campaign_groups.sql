{#- Bridge: the groups a training campaign enrolls (see stg_knowbe4__phishing_campaign_groups
    for the "All Users" pseudo-group and entries without a group_id). -#}
with campaigns as (
    {{ knowbe4_current_rows(source('knowbe4', 'training_campaigns')) }}
),

targets as (
    select
        cast(c.campaign_id as bigint) as campaign_id,
        {{ knowbe4_safe_bigint(knowbe4_json_text('g.value', 'group_id')) }} as group_id,
        {{ knowbe4_json_text('g.value', 'name') }} as group_name
    from campaigns as c
    {{ knowbe4_json_array_join('c.groups', 'g') }}
)

select distinct
    campaign_id,
    group_id,
    group_name,
    coalesce(group_id = 0, group_name = 'All Users', false) as is_all_users
from targets
