with source as (
    {{ knowbe4_current_rows(source('knowbe4', 'group_members')) }}
)

select
    cast(group_id as bigint) as group_id,
    cast(user_id as bigint) as user_id,
    _sdc_extracted_at
from source
