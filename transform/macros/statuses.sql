{#- What a status says, as the staging models read it: the API's words compared without regard
    to case or surrounding spaces ('passed', 'PAST DUE', ' Active ' mean what 'Passed',
    'Past Due' and 'active' mean); null or any other word is false. -#}

{#- The normalized form of a status: lower case, no surrounding spaces. -#}
{% macro knowbe4_status(expression) -%}
  lower(trim({{ expression }}))
{%- endmacro %}

{#- An enrollment is completed when its status is Passed or Completed. -#}
{% macro knowbe4_enrollment_is_completed(status) -%}
  coalesce({{ knowbe4_status(status) }} in ('passed', 'completed'), false)
{%- endmacro %}

{#- An enrollment is past due when its status is Past Due (the API's only overdue signal). -#}
{% macro knowbe4_enrollment_is_past_due(status) -%}
  coalesce({{ knowbe4_status(status) }} = 'past due', false)
{%- endmacro %}

{#- A user is active when their status is active. -#}
{% macro knowbe4_user_is_active(status) -%}
  coalesce({{ knowbe4_status(status) }} = 'active', false)
{%- endmacro %}

{#- Two phishing rows of the same kind (campaign_type 'email' or 'callback'): a test or
    recipient id names a row only within its kind (the API lists callback phishing apart,
    campaign_type=callback). A row without a campaign_type is an email one. -#}
{% macro knowbe4_same_campaign_type(left, right) -%}
    coalesce({{ left }}.campaign_type, 'email') = coalesce({{ right }}.campaign_type, 'email')
{%- endmacro %}

{#- A phishing recipient row whose email reached the person: delivered_at is set, or an event
    only a delivered email allows is (opened, a failure event, reported). The API has sent
    such events on rows without delivered_at; counted on delivered_at alone, a test's or a
    person's failure and report rates then exceed 1. A bounce alone reached no one. Reads the
    recipient columns of stg_knowbe4__phishing_recipients (is_failed: any failure event). -#}
{% macro knowbe4_recipient_reached() -%}
    coalesce(
        delivered_at is not null or opened_at is not null or reported_at is not null or is_failed,
        false
    )
{%- endmacro %}
