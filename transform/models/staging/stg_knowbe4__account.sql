with source as (
    {{ knowbe4_source_rows('account') }}
)

select
    source_relation,
    name as account_name,
    type as account_type,
    subscription_level,
    {{ knowbe4_to_date('subscription_end_date') }} as subscription_end_date,
    cast(number_of_seats as bigint) as number_of_seats,
    cast(current_risk_score as {{ knowbe4_type_double() }}) as current_risk_score,
    _sdc_extracted_at
from source
