{#- The people marts describe the same people (active users): per department, the training
    enrollments of knowbe4__training_compliance and the phishing tests of
    knowbe4__user_phishing add up to knowbe4__department_summary's. A row is a disagreement. -#}
with summary as (
    select
        department,
        enrollments,
        enrollments_completed,
        phishing_tests_delivered,
        phishing_tests_failed
    from {{ ref('knowbe4__department_summary') }}
),

training as (
    select
        department,
        sum(enrollments) as enrollments,
        sum(enrollments_completed) as enrollments_completed
    from {{ ref('knowbe4__training_compliance') }}
    group by department
),

phishing as (
    select
        department,
        sum(tests_delivered) as tests_delivered,
        sum(failures) as failures
    from {{ ref('knowbe4__user_phishing') }}
    group by department
),

compared as (
    select
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
    full outer join training on training.department = summary.department
    full outer join phishing
        on phishing.department = coalesce(summary.department, training.department)
)

select *
from compared
where department_missing_from_summary
   or summary_enrollments <> training_enrollments
   or summary_enrollments_completed <> training_enrollments_completed
   or summary_tests_delivered <> user_tests_delivered
   or summary_tests_failed <> user_failures
