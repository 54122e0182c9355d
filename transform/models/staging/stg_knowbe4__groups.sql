with source as (
    {{ knowbe4_source_rows('groups') }}
)

select
    source_relation,
    cast(id as bigint) as group_id,
    name as group_name,
    group_type,
    status,
    coalesce(status = 'active', false) as is_active,
    cast(member_count as bigint) as member_count,
    cast(current_risk_score as {{ knowbe4_type_double() }}) as current_risk_score,
    provisioning_guid,
    _sdc_extracted_at
from source
