with source as (
    {{ knowbe4_source_rows('group_members') }}
)

select
    source_relation,
    cast(group_id as bigint) as group_id,
    cast(user_id as bigint) as user_id,
    _sdc_extracted_at
from source
