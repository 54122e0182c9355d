{#- The people marts describe the same people (active users): per source and department,
    the training enrollments of knowbe4__training_compliance and the phishing tests of
    knowbe4__user_phishing add up to knowbe4__department_summary's. A row is a disagreement. -#}
with summary as (
    select
        source_relation,
        department,
        enrollments,
        enrollments_completed,
        phishing_tests_delivered,
        phishing_tests_failed
    from {{ ref('knowbe4__department_summary') }}
),

training as (
    select
        source_relation,
        department,
        sum(enrollments) as enrollments,
        sum(enrollments_completed) as enrollments_completed
    from {{ ref('knowbe4__training_compliance') }}
    group by source_relation, department
),

phishing as (
    select
        source_relation,
        department,
        sum(tests_delivered) as tests_delivered,
        sum(failures) as failures
    from {{ ref('knowbe4__user_phishing') }}
    group by source_relation, department
),

compared as (
    select
        coalesce(summary.source_relation, training.source_relation, phishing.source_relation)
            as source_relation,
        coalesce(summary.department, training.department, phishing.department) as department,
        coalesce(summary.enrollments, 0) as summary_enrollments,
        coalesce(training.enrollments, 0) as training_enrollments,
        coalesce(summary.enrollments_completed, 0) as summary_enrollments_completed,
        coalesce(training.enrollments_completed, 0) as training_enrollments_completed,
        coalesce(summary.phishing_tests_delivered, 0) as summary_tests_delivered,
        coalesce(phishing.tests_delivered, 0) as user_tests_delivered,
        coalesce(summary.phishing_tests_failed, 0) as summary_tests_failed,
        coalesce(phishing.failures, 0) as user_failures,
        summary.department is null as department_missing_from_summary
    from summary
    full outer join training
        on training.source_relation = summary.source_relation
        and training.department = summary.department
    full outer join phishing
        on phishing.source_relation = coalesce(summary.source_relation, training.source_relation)
        and phishing.department = coalesce(summary.department, training.department)
)

select *
from compared
where department_missing_from_summary
   or summary_enrollments <> training_enrollments
   or summary_enrollments_completed <> training_enrollments_completed
   or summary_tests_delivered <> user_tests_delivered
   or summary_tests_failed <> user_failures
