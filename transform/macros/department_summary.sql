{#- The department summary's query (models knowbe4__department_summary, per source, and
    knowbe4__department_summary_rollup, across sources): one row per department of the active
    users, with people, their average Phish-prone % and risk score, training as people and as
    enrollment rows, and the phishing tests delivered to them and failed. Averages and rates of
    the roll-up are over all its people and rows, not averages of the sources' figures. -#}
{% macro knowbe4_department_summary(by_source=true) %}
with users as (
    select * from {{ ref('stg_knowbe4__users') }}
    where is_active
),

training as (
    select
        source_relation,
        user_id,
        count(*) as enrollments,
        sum(case when is_completed then 1 else 0 end) as completed,
        sum(case when is_past_due then 1 else 0 end) as past_due
    from {{ ref('stg_knowbe4__training_enrollments') }}
    where user_id is not null
    group by source_relation, user_id
),

phishing as (
    select
        source_relation,
        user_id,
        sum(case when {{ knowbe4_recipient_reached() }} then 1 else 0 end) as delivered,
        sum(case when is_failed then 1 else 0 end) as failed
    from {{ ref('stg_knowbe4__phishing_recipients') }}
    where user_id is not null
    group by source_relation, user_id
),

counted as (
    select
        {% if by_source %}users.source_relation,{% else %}
        count(distinct users.source_relation) as sources,{% endif %}
        {{ knowbe4_department('users.department') }} as department,
        count(*) as users,
        avg(users.phish_prone_percentage) as avg_phish_prone_percentage,
        avg(users.current_risk_score) as avg_risk_score,
        count(training.user_id) as users_enrolled,
        sum(case when training.completed = training.enrollments then 1 else 0 end)
            as users_completed,
        sum(case when training.past_due > 0 then 1 else 0 end) as users_past_due,
        coalesce(sum(training.enrollments), 0) as enrollments,
        coalesce(sum(training.completed), 0) as enrollments_completed,
        coalesce(sum(phishing.delivered), 0) as phishing_tests_delivered,
        coalesce(sum(phishing.failed), 0) as phishing_tests_failed
    from users
    left join training
        on training.source_relation = users.source_relation
        and training.user_id = users.user_id
    left join phishing
        on phishing.source_relation = users.source_relation
        and phishing.user_id = users.user_id
    group by {% if by_source %}users.source_relation, {% endif -%}
        {{ knowbe4_department('users.department') }}
)

select
    *,
    {{ knowbe4_safe_divide('users_completed', 'users_enrolled') }} as user_completion_rate,
    {{ knowbe4_safe_divide('enrollments_completed', 'enrollments') }} as enrollment_completion_rate,
    {{ knowbe4_safe_divide('phishing_tests_failed', 'phishing_tests_delivered') }}
        as phishing_failure_rate
from counted
{% endmacro %}
