{#-
  user_risk_score_history is opt-in (one request per user per run): when the stream is not
  loaded (var knowbe4_using_user_risk_score_history false, or the table does not exist yet)
  this model is an empty relation with the same columns, so the models over it still build.
-#}
{%- set enabled = var('knowbe4_using_user_risk_score_history', true) -%}
{%- if enabled and knowbe4_relation_exists(source('knowbe4', 'user_risk_score_history')) %}
with source as (
    {{ knowbe4_current_rows(source('knowbe4', 'user_risk_score_history'), full_table=false) }}
)

select
    cast(user_id as bigint) as user_id,
    {{ knowbe4_to_date(adapter.quote('date')) }} as score_date,
    cast(risk_score as {{ knowbe4_type_double() }}) as risk_score,
    _sdc_extracted_at
from source
{%- else %}
select
    cast(null as bigint) as user_id,
    cast(null as date) as score_date,
    cast(null as {{ knowbe4_type_double() }}) as risk_score,
    cast(null as {{ dbt.type_timestamp() }}) as _sdc_extracted_at
where 1 = 0
{%- endif %}
