{#- Casts and arithmetic that differ between DuckDB and PostgreSQL. -#}

{#- A double-precision float type (dbt.type_float() is a 4-byte REAL on DuckDB). -#}
{% macro knowbe4_type_double() -%}
  {{ return(adapter.dispatch('knowbe4_type_double', 'knowbe4')()) }}
{%- endmacro %}

{% macro default__knowbe4_type_double() -%}double precision{%- endmacro %}

{% macro duckdb__knowbe4_type_double() -%}double{%- endmacro %}


{#- Text to bigint; null when the text is not a whole number (ids sent as "123" or 123). -#}
{% macro knowbe4_safe_bigint(expression) -%}
  {{ return(adapter.dispatch('knowbe4_safe_bigint', 'knowbe4')(expression)) }}
{%- endmacro %}

{% macro default__knowbe4_safe_bigint(expression) -%}
  try_cast({{ expression }} as bigint)
{%- endmacro %}

{% macro postgres__knowbe4_safe_bigint(expression) -%}
  case when trim(cast({{ expression }} as text)) ~ '^[+-]?[0-9]{1,18}$'
       then cast(trim(cast({{ expression }} as text)) as bigint) end
{%- endmacro %}


{#- A date from a date, a timestamp or YYYY-MM-DD... text (DuckDB's loader stores dates as text). -#}
{% macro knowbe4_to_date(expression) -%}
  cast(left(cast({{ expression }} as {{ dbt.type_string() }}), 10) as date)
{%- endmacro %}


{#- Seconds since 1970 of a timestamp, as a number. -#}
{% macro knowbe4_epoch_seconds(expression) -%}
  {{ return(adapter.dispatch('knowbe4_epoch_seconds', 'knowbe4')(expression)) }}
{%- endmacro %}

{% macro default__knowbe4_epoch_seconds(expression) -%}
  extract(epoch from {{ expression }})
{%- endmacro %}

{% macro duckdb__knowbe4_epoch_seconds(expression) -%}
  epoch({{ expression }})
{%- endmacro %}


{#- numerator / denominator as a float; null when the denominator is null or 0. -#}
{% macro knowbe4_safe_divide(numerator, denominator) -%}
  case when ({{ denominator }}) is null or ({{ denominator }}) = 0 then null
       else cast({{ numerator }} as {{ knowbe4_type_double() }}) / ({{ denominator }}) end
{%- endmacro %}


{#- A department name for grouping: blank or missing (unknown or deleted user) is 'Unknown'. -#}
{% macro knowbe4_department(expression) -%}
  coalesce(nullif(trim({{ expression }}), ''), 'Unknown')
{%- endmacro %}
