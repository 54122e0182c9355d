with source as (
    {{ knowbe4_source_rows('phishing_campaigns') }}
)

select
    source_relation,
    cast(campaign_id as bigint) as campaign_id,
    name as campaign_name,
    status,
    hidden as is_hidden,
    frequency,
    send_duration,
    track_duration,
    cast(psts_count as bigint) as psts_count,
    cast(last_phish_prone_percentage as {{ knowbe4_type_double() }}) as last_phish_prone_rate,
    cast(last_run as {{ dbt.type_timestamp() }}) as last_run_at,
    cast(create_date as {{ dbt.type_timestamp() }}) as created_at,
    _sdc_extracted_at
from source
