{#- One row per enrollment. `user` is null for deleted users; the same module can appear in
    several enrollments of a user; campaign_id / store_purchase_id may name content the other
    streams do not have. -#}
{%- set user = adapter.quote('user') -%}
with source as (
    {{ knowbe4_source_rows('training_enrollments') }}
)

select
    source_relation,
    cast(enrollment_id as bigint) as enrollment_id,
    {{ knowbe4_safe_bigint(knowbe4_json_text(user, 'id')) }} as user_id,
    {{ knowbe4_json_text(user, 'email') }} as user_email,
    {{ knowbe4_json_text(user, 'first_name') }} as user_first_name,
    {{ knowbe4_json_text(user, 'last_name') }} as user_last_name,
    nullif(trim({{ knowbe4_json_text(user, 'employee_number') }}), '') as employee_number,
    cast(campaign_id as bigint) as campaign_id,
    campaign_name,
    cast(store_purchase_id as bigint) as store_purchase_id,
    content_type,
    module_name,
    status,
    {{ knowbe4_enrollment_is_completed('status') }} as is_completed,
    {{ knowbe4_enrollment_is_past_due('status') }} as is_past_due,
    cast(enrollment_date as {{ dbt.type_timestamp() }}) as enrolled_at,
    cast(start_date as {{ dbt.type_timestamp() }}) as started_at,
    cast(completion_date as {{ dbt.type_timestamp() }}) as completed_at,
    cast(time_spent as bigint) as time_spent_seconds,
    policy_acknowledged,
    cast(score as {{ knowbe4_type_double() }}) as score,
    _sdc_extracted_at
from source
