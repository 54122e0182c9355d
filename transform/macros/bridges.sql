{#- The groups a campaign targets, one row per (campaign_id, group), from a stream whose
    records carry `campaign_id` and a `groups` array of {group_id, name}. group_id 0 (or a
    nameless entry called 'All Users') is the "All Users" pseudo-group; entries without a
    group_id keep their name. Used by the phishing and training campaign bridges. -#}
{% macro knowbe4_campaign_groups(stream) %}
with campaigns as (
    {{ knowbe4_source_rows(stream) }}
),

targets as (
    select
        c.source_relation,
        cast(c.campaign_id as bigint) as campaign_id,
        {{ knowbe4_safe_bigint(knowbe4_json_text('g.value', 'group_id')) }} as group_id,
        {{ knowbe4_json_text('g.value', 'name') }} as group_name
    from campaigns as c
    {{ knowbe4_json_array_join('c.groups', 'g') }}
)

select distinct
    source_relation,
    campaign_id,
    group_id,
    group_name,
    coalesce(group_id = 0, group_name = 'All Users', false) as is_all_users
from targets
{% endmacro %}
