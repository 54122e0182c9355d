{#- One row per phishing security test (per source), email and callback (voice) alike
    (campaign_type): its recipients and what they did, counted from the recipient rows (not
    the API's counters, which are kept as api_* for comparison). -#}
with tests as (
    select * from {{ ref('stg_knowbe4__phishing_security_tests') }}
),

campaigns as (
    select source_relation, campaign_type, campaign_id, campaign_name
    from {{ ref('stg_knowbe4__phishing_campaigns') }}
),

per_test as (
    select
        source_relation,
        campaign_type,
        pst_id,
        count(*) as recipients,
        sum(case when {{ knowbe4_recipient_reached() }} then 1 else 0 end) as delivered,
        count(opened_at) as opened,
        count(clicked_at) as clicked,
        sum(case when is_failed then 1 else 0 end) as failed,
        count(reported_at) as reported,
        count(bounced_at) as bounced
    from {{ ref('stg_knowbe4__phishing_recipients') }}
    group by source_relation, campaign_type, pst_id
),

counted as (
    select
        tests.source_relation,
        tests.campaign_type,
        tests.pst_id,
        tests.campaign_id,
        campaigns.campaign_name,
        tests.pst_name as name,
        tests.status,
        tests.started_at,
        tests.template_name,
        coalesce(per_test.recipients, 0) as recipients,
        coalesce(per_test.delivered, 0) as delivered,
        coalesce(per_test.opened, 0) as opened,
        coalesce(per_test.clicked, 0) as clicked,
        coalesce(per_test.failed, 0) as failed,
        coalesce(per_test.reported, 0) as reported,
        coalesce(per_test.bounced, 0) as bounced,
        tests.delivered_count as api_delivered_count,
        tests.phish_prone_rate as api_phish_prone_rate
    from tests
    left join per_test
        on per_test.source_relation = tests.source_relation and per_test.pst_id = tests.pst_id
        and {{ knowbe4_same_campaign_type('per_test', 'tests') }}
    left join campaigns
        on campaigns.source_relation = tests.source_relation
        and campaigns.campaign_id = tests.campaign_id
        and {{ knowbe4_same_campaign_type('campaigns', 'tests') }}
)

select
    *,
    {{ knowbe4_safe_divide('failed', 'delivered') }} as failure_rate,
    {{ knowbe4_safe_divide('reported', 'delivered') }} as report_rate
from counted
