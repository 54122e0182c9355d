{#-
  Users over time: a new version whenever a user's Phish-prone %, risk score, status or
  department differs from the last version seen. The API only has the current values, so this
  history starts with the first run and builds up run after run.

  Versions are dated by when the tap read the values (the loader's _sdc_extracted_at, the
  Singer record's time_extracted): dbt_valid_from is the extraction that first saw them, and
  the previous version's dbt_valid_to the same instant, however long after the extraction dbt
  runs. That is the timestamp strategy's dating on the check strategy's change detection: the
  timestamp strategy alone would write a version per user on every run, because every run
  re-reads every user with a new extraction time. Users that disappear upstream get their
  last version closed when dbt notices (dbt_valid_to is then the time of that dbt run).

  With unions by source, a user is (source_relation, user_id); with one source the key stays
  user_id, so a snapshot built before source_relation existed keeps its history (switching a
  project to unions starts each user's history afresh: the old versions are closed).
-#}
{% snapshot knowbe4__users_snapshot %}
{{
    config(
        unique_key=['source_relation', 'user_id'] if knowbe4_is_union() else 'user_id',
        strategy='check',
        check_cols=['phish_prone_percentage', 'current_risk_score', 'status', 'department'],
        updated_at='_sdc_extracted_at',
        hard_deletes='invalidate',
    )
}}
select
    source_relation,
    user_id,
    email,
    phish_prone_percentage,
    current_risk_score,
    status,
    department,
    _sdc_extracted_at
from {{ ref('stg_knowbe4__users') }}
{% endsnapshot %}
