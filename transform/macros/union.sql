{#-
  Unions by source: several accounts' tables, loaded into several schemas (or databases), read
  as one, the convention of managed connectors' dbt packages (Fivetran's union_data and
  source_relation):

    vars:
      knowbe4_union_schemas: [knowbe4_acme, knowbe4_globex]   # schemas in knowbe4_database
      knowbe4_union_databases: [acme, globex]                 # or: databases, each with the
                                                               # tables in knowbe4_schema
  (or env DBT_KNOWBE4_UNION_SCHEMAS / DBT_KNOWBE4_UNION_DATABASES, comma-separated). Schemas
  win when both are set. Every staging model then unions the stream's table of each source
  that has it, and every model carries `source_relation`: the schema (or database) a row came
  from, lower case. With neither set, the one source of var knowbe4_schema is read and
  source_relation is '' (empty), as in Fivetran's packages, so a single-account project sees
  the same rows and keys as before plus one constant column.
-#}

{#- A list variable given as a list, or as text ("a,b", "[a, b]", from the environment). -#}
{% macro knowbe4_list_var(name, env) -%}
  {%- set value = var(name, none) -%}
  {%- if value is none -%}
    {%- set value = env_var(env, '') -%}
  {%- endif -%}
  {%- if value is string -%}
    {%- set items = [] -%}
    {%- for item in value.replace('[', '').replace(']', '').split(',') -%}
      {%- set item = item.strip().strip('"').strip("'").strip() -%}
      {%- if item -%}{%- do items.append(item) -%}{%- endif -%}
    {%- endfor -%}
    {{ return(items) }}
  {%- endif -%}
  {{ return(value | list) }}
{%- endmacro %}


{#- The sources of `stream`: a list of {relation, label}, one per union schema or database
    (label: its name, lower case), or the single source with label ''. -#}
{% macro knowbe4_stream_sources(stream) -%}
  {%- set default = source('knowbe4', stream) -%}
  {%- set schemas = knowbe4_list_var('knowbe4_union_schemas', 'DBT_KNOWBE4_UNION_SCHEMAS') -%}
  {%- set databases = knowbe4_list_var('knowbe4_union_databases', 'DBT_KNOWBE4_UNION_DATABASES') -%}
  {%- set found = [] -%}
  {%- if schemas -%}
    {%- for schema in schemas -%}
      {%- do found.append({'relation': api.Relation.create(
          database=default.database, schema=schema, identifier=default.identifier),
          'label': schema | lower}) -%}
    {%- endfor -%}
  {%- elif databases -%}
    {%- for database in databases -%}
      {%- do found.append({'relation': api.Relation.create(
          database=database, schema=default.schema, identifier=default.identifier),
          'label': database | lower}) -%}
    {%- endfor -%}
  {%- else -%}
    {%- do found.append({'relation': default, 'label': ''}) -%}
  {%- endif -%}
  {{ return(found) }}
{%- endmacro %}


{#- Whether unions by source are on (either variable set). -#}
{% macro knowbe4_is_union() -%}
  {{ return((knowbe4_list_var('knowbe4_union_schemas', 'DBT_KNOWBE4_UNION_SCHEMAS')
             or knowbe4_list_var('knowbe4_union_databases', 'DBT_KNOWBE4_UNION_DATABASES'))
            | length > 0) }}
{%- endmacro %}


{#-
  The current rows of `stream` (macros/relations.sql, per source) with a source_relation
  column; of every source when unions are on, with columns a source lacks as nulls. A source
  whose table does not exist is skipped; when none has it, `if_missing` decides: 'error' (a
  compile error naming the stream) or 'empty' (the caller builds an empty relation: returns
  none).
-#}
{% macro knowbe4_source_rows(stream, full_table=true, if_missing='error') -%}
  {%- set sources = knowbe4_stream_sources(stream) -%}
  {%- if not execute -%}
    {#- parsing: record the lineage on the source -#}
    {{ return('select * from ' ~ source('knowbe4', stream)) }}
  {%- endif -%}
  {%- set present = [] -%}
  {%- for item in sources -%}
    {%- if knowbe4_relation_exists(item.relation) -%}{%- do present.append(item) -%}{%- endif -%}
  {%- endfor -%}
  {%- if not present -%}
    {%- if if_missing == 'empty' -%}{{ return(none) }}{%- endif -%}
    {%- if not knowbe4_is_union() -%}
      {#- one source: let the database name the missing table, as before -#}
      {%- do present.append(sources[0]) -%}
    {%- else -%}
      {{ exceptions.raise_compiler_error("no table for stream '" ~ stream ~ "' in "
          ~ (sources | map(attribute='relation') | join(', '))) }}
    {%- endif -%}
  {%- endif -%}
  {%- if present | length == 1 -%}
    {%- set sql -%}
    select
        current_.*,
        cast('{{ present[0].label }}' as {{ dbt.type_string() }}) as source_relation
    from (
        {{ knowbe4_current_rows(present[0].relation, full_table=full_table) }}
    ) as current_
    {%- endset -%}
    {{ return(sql) }}
  {%- endif -%}
  {#- several sources: the union of their columns, null where a source lacks one -#}
  {%- set columns = [] -%}
  {%- set by_source = [] -%}
  {%- for item in present -%}
    {%- set names = [] -%}
    {%- for column in adapter.get_columns_in_relation(item.relation) -%}
      {%- do names.append(column.name | lower) -%}
      {%- if (column.name | lower) not in columns -%}{%- do columns.append(column.name | lower) -%}{%- endif -%}
    {%- endfor -%}
    {%- do by_source.append(names) -%}
  {%- endfor -%}
  {%- set sql -%}
  {%- for item in present %}
    {%- set names = by_source[loop.index0] %}
    select
      {%- for column in columns %}
        {% if column in names %}current_.{{ adapter.quote(column) }}{% else %}null{% endif %} as {{ adapter.quote(column) }},
      {%- endfor %}
        cast('{{ item.label }}' as {{ dbt.type_string() }}) as source_relation
    from (
        {{ knowbe4_current_rows(item.relation, full_table=full_table) }}
    ) as current_
    {% if not loop.last %}union all{% endif %}
  {%- endfor %}
  {%- endset -%}
  {{ return(sql) }}
{%- endmacro %}
