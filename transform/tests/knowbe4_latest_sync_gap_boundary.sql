{#- The latest sync (macros/relations.sql, loaders without _sdc_sync_started_at) starts after
    the last gap of MORE than var knowbe4_sync_gap_seconds between extraction times: rows a
    gap of exactly that long apart are one sync, a microsecond longer are two. Checked on rows
    at the edge, with the macro applied as the staging models apply it. A row is a failure. -#}
{%- set gap_us = (var('knowbe4_sync_gap_seconds', env_var('DBT_KNOWBE4_SYNC_GAP_SECONDS', '600'))
                  | float * 1000000) | int -%}
{%- set start = "cast('2027-01-01 00:00:00' as " ~ dbt.type_timestamp() ~ ")" -%}
with exactly_the_gap as (
    select 1 as id, {{ start }} as _sdc_extracted_at
    union all
    select 2 as id, {{ dbt.dateadd('microsecond', gap_us, start) }} as _sdc_extracted_at
),

just_over_the_gap as (
    select 1 as id, {{ start }} as _sdc_extracted_at
    union all
    select 2 as id, {{ dbt.dateadd('microsecond', gap_us + 1, start) }} as _sdc_extracted_at
),

found as (
    select 'exactly the gap: one sync' as edge, count(*) as latest_rows, 2 as expected_rows
    from exactly_the_gap as rows_
    where {{ knowbe4_latest_sync('exactly_the_gap', ['_sdc_extracted_at'], 'rows_') }}

    union all

    select 'a microsecond over: two syncs' as edge, count(*) as latest_rows, 1 as expected_rows
    from just_over_the_gap as rows_
    where {{ knowbe4_latest_sync('just_over_the_gap', ['_sdc_extracted_at'], 'rows_') }}
)

select * from found where latest_rows <> expected_rows
