with source as (
    {{ knowbe4_source_rows('training_campaigns') }}
)

select
    source_relation,
    cast(campaign_id as bigint) as campaign_id,
    name as campaign_name,
    status,
    duration_type,
    relative_duration,
    cast(start_date as {{ dbt.type_timestamp() }}) as starts_at,
    cast(end_date as {{ dbt.type_timestamp() }}) as ends_at,
    auto_enroll,
    allow_multiple_enrollments,
    cast(completion_percentage as {{ knowbe4_type_double() }}) as completion_percentage,
    _sdc_extracted_at
from source
