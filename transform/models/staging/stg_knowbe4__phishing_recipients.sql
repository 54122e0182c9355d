{#- One row per recipient of a phishing security test (pst_id, recipient_id), email and
    callback (voice) tests alike: campaign_type ('email', 'callback') says which. The `user`
    stub is unpacked; it can be null, or name a user the users stream no longer has. -#}
{%- set user = adapter.quote('user') -%}
with email as (
    {{ knowbe4_source_rows('phishing_security_test_recipients', full_table=false) }}
),

callback as (
    {{ knowbe4_source_rows('callback_phishing_security_test_recipients', full_table=false) }}
),

typed as (
{%- for kind in ['email', 'callback'] %}
{%- if not loop.first %}
    union all
{%- endif %}
        select
            source_relation,
            cast('{{ kind }}' as {{ dbt.type_string() }}) as campaign_type,
            cast(pst_id as bigint) as pst_id,
            cast(recipient_id as bigint) as recipient_id,
            {{ knowbe4_safe_bigint(knowbe4_json_text(user, 'id')) }} as user_id,
            {{ knowbe4_json_text(user, 'email') }} as user_email,
            {{ knowbe4_json_text(user, 'first_name') }} as user_first_name,
            {{ knowbe4_json_text(user, 'last_name') }} as user_last_name,
            {{ knowbe4_json_text(user, 'provisioning_guid') }} as user_provisioning_guid,
            {{ knowbe4_safe_bigint(knowbe4_json_text('template', 'id')) }} as template_id,
            {{ knowbe4_json_text('template', 'name') }} as template_name,
            cast(scheduled_at as {{ dbt.type_timestamp() }}) as scheduled_at,
            cast(delivered_at as {{ dbt.type_timestamp() }}) as delivered_at,
            cast(opened_at as {{ dbt.type_timestamp() }}) as opened_at,
            cast(clicked_at as {{ dbt.type_timestamp() }}) as clicked_at,
            cast(replied_at as {{ dbt.type_timestamp() }}) as replied_at,
            cast(attachment_opened_at as {{ dbt.type_timestamp() }}) as attachment_opened_at,
            cast(macro_enabled_at as {{ dbt.type_timestamp() }}) as macro_enabled_at,
            cast(data_entered_at as {{ dbt.type_timestamp() }}) as data_entered_at,
            cast(qr_code_scanned as {{ dbt.type_timestamp() }}) as qr_code_scanned_at,
            cast(reported_at as {{ dbt.type_timestamp() }}) as reported_at,
            cast(bounced_at as {{ dbt.type_timestamp() }}) as bounced_at,
            ip,
            ip_location,
            browser,
            browser_version,
            os,
            _sdc_extracted_at
        from {{ kind }}
{%- endfor %}
)

select
    *,
    -- "Failed": clicked, replied, opened the attachment, enabled macros, entered data or
    -- scanned the QR code; failed_at is the first of those (least() skips nulls).
    least(
        clicked_at, replied_at, attachment_opened_at,
        macro_enabled_at, data_entered_at, qr_code_scanned_at
    ) as failed_at,
    least(
        clicked_at, replied_at, attachment_opened_at,
        macro_enabled_at, data_entered_at, qr_code_scanned_at
    ) is not null as is_failed,
    delivered_at is not null as is_delivered,
    reported_at is not null as is_reported
from typed
