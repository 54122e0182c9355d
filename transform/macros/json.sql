{#-
  JSON helpers, portable across the loaders' shapes:
    target-duckdb    objects and arrays in JSON columns
    target-postgres  objects in jsonb, arrays as native arrays (bigint[], text[], jsonb[])
  A JSON text column works too (DuckDB parses it; PostgreSQL casts it to jsonb).
-#}

{#- Text of `key` in the JSON object `expression`; null when the key or the object is missing. -#}
{% macro knowbe4_json_text(expression, key) -%}
  {{ return(adapter.dispatch('knowbe4_json_text', 'knowbe4')(expression, key)) }}
{%- endmacro %}

{% macro default__knowbe4_json_text(expression, key) -%}
  json_extract_string({{ expression }}, '$.{{ key }}')
{%- endmacro %}

{% macro postgres__knowbe4_json_text(expression, key) -%}
  (cast({{ expression }} as jsonb) ->> '{{ key }}')
{%- endmacro %}


{#- Text of a JSON scalar (an element of a JSON array of numbers or strings). -#}
{% macro knowbe4_json_scalar_text(expression) -%}
  {{ return(adapter.dispatch('knowbe4_json_scalar_text', 'knowbe4')(expression)) }}
{%- endmacro %}

{% macro default__knowbe4_json_scalar_text(expression) -%}
  json_extract_string({{ expression }}, '$')
{%- endmacro %}

{% macro postgres__knowbe4_json_scalar_text(expression) -%}
  (cast({{ expression }} as jsonb) #>> '{}')
{%- endmacro %}


{#-
  A FROM-clause fragment joining each row to the elements of its JSON array `expression`,
  as `alias`.value (JSON): rows whose array is null, empty or not an array get no rows.
    from users as u {{ knowbe4_json_array_join('u.groups', 'g') }}
-#}
{% macro knowbe4_json_array_join(expression, alias) -%}
  {{ return(adapter.dispatch('knowbe4_json_array_join', 'knowbe4')(expression, alias)) }}
{%- endmacro %}

{% macro default__knowbe4_json_array_join(expression, alias) -%}
  cross join unnest(try_cast({{ expression }} as json[])) as {{ alias }}(value)
{%- endmacro %}

{% macro postgres__knowbe4_json_array_join(expression, alias) -%}
  cross join lateral jsonb_array_elements(
    case when jsonb_typeof(to_jsonb({{ expression }})) = 'array' then to_jsonb({{ expression }}) end
  ) as {{ alias }}(value)
{%- endmacro %}
