with source as (
    {{ knowbe4_source_rows('account_risk_score_history', full_table=false) }}
)

select
    source_relation,
    {{ knowbe4_to_date(adapter.quote('date')) }} as score_date,
    cast(risk_score as {{ knowbe4_type_double() }}) as risk_score,
    _sdc_extracted_at
from source
