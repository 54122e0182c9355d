with source as (
    {{ knowbe4_source_rows('store_purchases') }}
)

select
    source_relation,
    cast(store_purchase_id as bigint) as store_purchase_id,
    content_type,
    name as module_name,
    type as module_type,
    description,
    publisher,
    cast(duration as bigint) as duration_minutes,
    retired as is_retired,
    cast(retirement_date as {{ dbt.type_timestamp() }}) as retired_at,
    cast(publish_date as {{ dbt.type_timestamp() }}) as published_at,
    cast(purchase_date as {{ dbt.type_timestamp() }}) as purchased_at,
    policy_url,
    _sdc_extracted_at
from source
