{#-
  The rows of a stream's table that are still there upstream.

  Full-table streams are re-read whole on every run, but loaders upsert and keep rows that
  disappeared upstream (deleted users, memberships that ended, deleted campaigns). Who drops
  them, by var knowbe4_deleted_rows:

    auto (default)  the loader, when it handles ACTIVATE_VERSION: the tap sends it only after a
                    full-table stream was read to the end (setting
                    emit_activate_version_messages), and a version-aware loader then deletes
                    the rows not re-sent (hard_delete) or sets their _sdc_deleted_at. Such a
                    load writes _sdc_table_version on its rows: when the latest load of the
                    table carries one, nothing else is dropped here (a run stopped early, or a
                    stream that failed, leaves the rows as they were). Otherwise (target-duckdb
                    ignores ACTIVATE_VERSION; target-postgres without the tap setting) the
                    latest sync below stands in for it.
    loader          only what the loader deleted or marked (_sdc_deleted_at); nothing else.
    latest_sync     always the latest sync (a loader that writes versions but ignores
                    ACTIVATE_VERSION).

  The latest sync of a table: its rows with the latest _sdc_sync_started_at where the loader
  writes that column (SDK loaders: target-postgres), else (target-duckdb) the rows extracted
  after the last gap of more than var knowbe4_sync_gap_seconds (default: env
  DBT_KNOWBE4_SYNC_GAP_SECONDS, else 600) between consecutive extraction times. It is a
  heuristic: a run that re-read a table only partly (stopped by the request budget) hides the
  rest until the next complete run, and runs closer together than the gap count as one.

  Rows whose _sdc_deleted_at is set are always left out. Incremental streams (full_table=false:
  recipients, risk histories) re-send only new rows, so only that filter applies to them.
  Columns the relation does not have are not used, so any loader works.
-#}
{% macro knowbe4_current_rows(relation, full_table=true) -%}
  {%- set names = [] -%}
  {%- if execute -%}
    {%- for column in adapter.get_columns_in_relation(relation) -%}
      {%- do names.append(column.name | lower) -%}
    {%- endfor -%}
  {%- endif -%}
  {%- set mode = var('knowbe4_deleted_rows', 'auto') -%}
  {%- if mode not in ('auto', 'loader', 'latest_sync') -%}
    {{ exceptions.raise_compiler_error(
        "var knowbe4_deleted_rows must be auto, loader or latest_sync, not '" ~ mode ~ "'") }}
  {%- endif -%}
  {%- set latest_sync = knowbe4_latest_sync(relation, names, 'rows_')
        if full_table and mode != 'loader' else none -%}
  select * from {{ relation }} as rows_
  where 1 = 1
  {%- if '_sdc_deleted_at' in names %}
    and rows_._sdc_deleted_at is null
  {%- endif %}
  {%- if latest_sync and mode == 'auto' and '_sdc_table_version' in names %}
    and (
      -- the latest load carried table versions: the loader removes rows itself
      exists (
        select 1 from {{ relation }} as versioned_
        where versioned_._sdc_table_version is not null
        {%- if '_sdc_sync_started_at' in names %}
          and versioned_._sdc_sync_started_at
              = (select max(_sdc_sync_started_at) from {{ relation }})
        {%- endif %}
      )
      or {{ latest_sync }}
    )
  {%- elif latest_sync %}
    and {{ latest_sync }}
  {%- endif %}
{%- endmacro %}


{#- A condition on `alias` (a row of `relation`): the row belongs to the table's latest sync
    (see knowbe4_current_rows); none when the relation has no column to tell. -#}
{% macro knowbe4_latest_sync(relation, names, alias) -%}
  {%- if '_sdc_sync_started_at' in names -%}
    {%- set condition -%}
    ({{ alias }}._sdc_sync_started_at is null
     or {{ alias }}._sdc_sync_started_at = (select max(_sdc_sync_started_at) from {{ relation }}))
    {%- endset -%}
  {%- elif '_sdc_extracted_at' in names -%}
    {%- set gap = var('knowbe4_sync_gap_seconds', env_var('DBT_KNOWBE4_SYNC_GAP_SECONDS', '600')) | float -%}
    {%- set condition -%}
    ({{ alias }}._sdc_extracted_at is null or {{ alias }}._sdc_extracted_at >= (
      select max(ts) from (
        select ts, lag(ts) over (order by ts) as previous_ts
        from (
          select distinct _sdc_extracted_at as ts from {{ relation }}
          where _sdc_extracted_at is not null
        ) as stamps
      ) as gaps
      where previous_ts is null
         or {{ knowbe4_epoch_seconds('ts') }} - {{ knowbe4_epoch_seconds('previous_ts') }} > {{ gap }}
    ))
    {%- endset -%}
  {%- else -%}
    {%- set condition = none -%}
  {%- endif -%}
  {{ return(condition) }}
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
