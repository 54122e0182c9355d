with source as (
    {{ knowbe4_source_rows('policies') }}
)

select
    source_relation,
    cast(policy_id as bigint) as policy_id,
    content_type,
    name as policy_name,
    cast(minimum_time as bigint) as minimum_time_minutes,
    default_language,
    cast(status as bigint) as status,
    _sdc_extracted_at
from source
