{#-
  The rows of a full-table stream that are still there upstream.

  The tap re-reads these streams whole on every run, but the loaders upsert and keep rows that
  disappeared (deleted users, memberships that ended, deleted campaigns). Kept here:
    - rows a version-aware loader did not mark deleted (_sdc_deleted_at null), and
    - with var knowbe4_drop_stale_rows (default true), rows from the latest sync of the table:
        _sdc_sync_started_at (target-postgres and other SDK loaders): the latest value;
        otherwise _sdc_extracted_at (target-duckdb): at or after the start of the latest run,
        taken as the last gap of more than var knowbe4_sync_gap_seconds (default: env
        DBT_KNOWBE4_SYNC_GAP_SECONDS, else 600) between consecutive extraction times.
  Columns the relation does not have are not used, so any loader works. Incremental streams
  (full_table=false: recipients, risk histories) keep old rows by design: only the
  _sdc_deleted_at filter applies to them.
-#}
{% macro knowbe4_current_rows(relation, full_table=true) -%}
  {%- set names = [] -%}
  {%- if execute -%}
    {%- for column in adapter.get_columns_in_relation(relation) -%}
      {%- do names.append(column.name | lower) -%}
    {%- endfor -%}
  {%- endif -%}
  {%- set drop_stale = full_table and var('knowbe4_drop_stale_rows', true) -%}
  select * from {{ relation }} as rows_
  where 1 = 1
  {%- if '_sdc_deleted_at' in names %}
    and rows_._sdc_deleted_at is null
  {%- endif %}
  {%- if drop_stale and '_sdc_sync_started_at' in names %}
    and (rows_._sdc_sync_started_at is null
         or rows_._sdc_sync_started_at = (select max(_sdc_sync_started_at) from {{ relation }}))
  {%- elif drop_stale and '_sdc_extracted_at' in names %}
    and (rows_._sdc_extracted_at is null or rows_._sdc_extracted_at >= (
      select max(ts) from (
        select ts, lag(ts) over (order by ts) as previous_ts
        from (
          select distinct _sdc_extracted_at as ts from {{ relation }}
          where _sdc_extracted_at is not null
        ) as stamps
      ) as gaps
      where previous_ts is null
         or {{ knowbe4_epoch_seconds('ts') }} - {{ knowbe4_epoch_seconds('previous_ts') }}
            > {{ var('knowbe4_sync_gap_seconds', env_var('DBT_KNOWBE4_SYNC_GAP_SECONDS', '600')) | float }}
    ))
  {%- endif %}
{%- endmacro %}


{#- Whether `relation` exists in the warehouse (true while parsing, so lineage is recorded). -#}
{% macro knowbe4_relation_exists(relation) -%}
  {%- if not execute -%}
    {{ return(true) }}
  {%- endif -%}
  {%- set found = adapter.get_relation(
      database=relation.database, schema=relation.schema, identifier=relation.identifier) -%}
  {{ return(found is not none) }}
{%- endmacro %}
