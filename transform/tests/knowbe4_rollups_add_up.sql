{#- The roll-ups across sources hold the sum of their sources: per department, the people,
    enrollments and phishing tests of knowbe4__department_summary; per entity type and date,
    the points of knowbe4__risk_score_trend. A row is a difference. -#}
with departments as (
    select
        department,
        count(*) as sources,
        sum(users) as users,
        sum(users_enrolled) as users_enrolled,
        sum(enrollments) as enrollments,
        sum(phishing_tests_delivered) as phishing_tests_delivered,
        sum(phishing_tests_failed) as phishing_tests_failed
    from {{ ref('knowbe4__department_summary') }}
    group by department
),

department_differences as (
    select 'department ' || coalesce(d.department, r.department) as what
    from departments as d
    full outer join {{ ref('knowbe4__department_summary_rollup') }} as r
        on r.department = d.department
    where r.department is null or d.department is null
       or r.sources <> d.sources
       or r.users <> d.users
       or r.users_enrolled <> d.users_enrolled
       or r.enrollments <> d.enrollments
       or r.phishing_tests_delivered <> d.phishing_tests_delivered
       or r.phishing_tests_failed <> d.phishing_tests_failed
),

points as (
    select entity_type, score_date, count(*) as entities, max(risk_score) as max_risk_score
    from {{ ref('knowbe4__risk_score_trend') }}
    group by entity_type, score_date
),

trend_differences as (
    select 'risk ' || coalesce(p.entity_type, r.entity_type) as what
    from points as p
    full outer join {{ ref('knowbe4__risk_score_trend_rollup') }} as r
        on r.entity_type = p.entity_type and r.score_date = p.score_date
    where r.entity_type is null or p.entity_type is null
       or r.entities <> p.entities
       or r.max_risk_score <> p.max_risk_score
)

select what from department_differences
union all
select what from trend_differences
