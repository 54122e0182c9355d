{#- One row per phishing campaign, email and callback (voice) alike: campaign_type
    ('email', 'callback') says which list the API gave it in (campaign_type=callback). -#}
with email as (
    {{ knowbe4_source_rows('phishing_campaigns') }}
),

callback as (
    {{ knowbe4_source_rows('callback_phishing_campaigns') }}
)
{% for kind in ['email', 'callback'] %}
{%- if not loop.first %}
union all
{% endif %}
    select
        source_relation,
        cast('{{ kind }}' as {{ dbt.type_string() }}) as campaign_type,
        cast(campaign_id as bigint) as campaign_id,
        name as campaign_name,
        status,
        hidden as is_hidden,
        frequency,
        send_duration,
        track_duration,
        cast(psts_count as bigint) as psts_count,
        cast(last_phish_prone_percentage as {{ knowbe4_type_double() }}) as last_phish_prone_rate,
        cast(last_run as {{ dbt.type_timestamp() }}) as last_run_at,
        cast(create_date as {{ dbt.type_timestamp() }}) as created_at,
        _sdc_extracted_at
    from {{ kind }}
{%- endfor %}
