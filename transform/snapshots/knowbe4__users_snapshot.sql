{#-
  Users over time: a new version whenever a user's Phish-prone %, risk score, status or
  department changes between two `dbt snapshot` (or `dbt build`) runs. The API only has the
  current values, so this history starts with the first run and builds up run after run.
  Users that disappear (deleted upstream) get their last version closed (dbt_valid_to).
-#}
{% snapshot knowbe4__users_snapshot %}
{{
    config(
        unique_key='user_id',
        strategy='check',
        check_cols=['phish_prone_percentage', 'current_risk_score', 'status', 'department'],
        hard_deletes='invalidate',
    )
}}
select
    user_id,
    email,
    phish_prone_percentage,
    current_risk_score,
    status,
    department
from {{ ref('stg_knowbe4__users') }}
{% endsnapshot %}
