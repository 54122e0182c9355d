{#- Bridge: the store purchases (modules) and uploaded policies a training campaign assigns. -#}
with campaigns as (
    {{ knowbe4_source_rows('training_campaigns') }}
),

content as (
    select
        c.source_relation,
        cast(c.campaign_id as bigint) as campaign_id,
        {{ knowbe4_json_text('i.value', 'content_type') }} as content_type,
        {{ knowbe4_safe_bigint(knowbe4_json_text('i.value', 'store_purchase_id')) }}
            as store_purchase_id,
        {{ knowbe4_safe_bigint(knowbe4_json_text('i.value', 'policy_id')) }} as policy_id,
        {{ knowbe4_json_text('i.value', 'name') }} as content_name
    from campaigns as c
    {{ knowbe4_json_array_join('c.content', 'i') }}
)

select distinct
    source_relation,
    campaign_id,
    coalesce(
        content_type,
        case
            when store_purchase_id is not null then 'Store Purchase'
            when policy_id is not null then 'Uploaded Policy'
        end
    ) as content_type,
    store_purchase_id,
    policy_id,
    content_name
from content
