{#-
  user_risk_score_history is opt-in (one request per user per run): when the stream is not
  loaded (var knowbe4_using_user_risk_score_history false, or no source has the table yet)
  this model is an empty relation with the same columns, so the models over it still build.
  With unions by source, the sources that have the table are read.
-#}
{%- set enabled = var('knowbe4_using_user_risk_score_history', true) -%}
{%- set rows = knowbe4_source_rows('user_risk_score_history', full_table=false, if_missing='empty')
    if enabled else none -%}
{%- if rows %}
with source as (
    {{ rows }}
)

select
    source_relation,
    cast(user_id as bigint) as user_id,
    {{ knowbe4_to_date(adapter.quote('date')) }} as score_date,
    cast(risk_score as {{ knowbe4_type_double() }}) as risk_score,
    _sdc_extracted_at
from source
{%- else %}
select
    cast(null as {{ dbt.type_string() }}) as source_relation,
    cast(null as bigint) as user_id,
    cast(null as date) as score_date,
    cast(null as {{ knowbe4_type_double() }}) as risk_score,
    cast(null as {{ dbt.type_timestamp() }}) as _sdc_extracted_at
where 1 = 0
{%- endif %}
