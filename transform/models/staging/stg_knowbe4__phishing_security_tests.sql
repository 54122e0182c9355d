{#- One row per phishing security test, email and callback (voice) alike: campaign_type
    ('email', 'callback') says which list the API gave it in (campaign_type=callback). -#}
with email as (
    {{ knowbe4_source_rows('phishing_security_tests') }}
),

callback as (
    {{ knowbe4_source_rows('callback_phishing_security_tests') }}
)
{% for kind in ['email', 'callback'] %}
{%- if not loop.first %}
union all
{% endif %}
    select
        source_relation,
        cast('{{ kind }}' as {{ dbt.type_string() }}) as campaign_type,
        cast(pst_id as bigint) as pst_id,
        cast(campaign_id as bigint) as campaign_id,
        name as pst_name,
        status,
        cast(started_at as {{ dbt.type_timestamp() }}) as started_at,
        cast(duration as bigint) as duration_days,
        cast(phish_prone_percentage as {{ knowbe4_type_double() }}) as phish_prone_rate,
        {{ knowbe4_safe_bigint(knowbe4_json_text('template', 'id')) }} as template_id,
        {{ knowbe4_json_text('template', 'name') }} as template_name,
        {{ knowbe4_safe_bigint(knowbe4_json_text('landing_page', 'id')) }} as landing_page_id,
        {{ knowbe4_json_text('landing_page', 'name') }} as landing_page_name,
        cast(scheduled_count as bigint) as scheduled_count,
        cast(delivered_count as bigint) as delivered_count,
        cast(opened_count as bigint) as opened_count,
        cast(clicked_count as bigint) as clicked_count,
        cast(replied_count as bigint) as replied_count,
        cast(attachment_open_count as bigint) as attachment_open_count,
        cast(macro_enabled_count as bigint) as macro_enabled_count,
        cast(data_entered_count as bigint) as data_entered_count,
        cast(qr_code_scanned_count as bigint) as qr_code_scanned_count,
        cast(reported_count as bigint) as reported_count,
        cast(bounced_count as bigint) as bounced_count,
        _sdc_extracted_at
    from {{ kind }}
{%- endfor %}
