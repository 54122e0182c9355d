{#- knowbe4__department_summary across every source (unions by source): one row per department
    name, counting the active users of all accounts together (`sources`: how many accounts
    have the department). With one source it holds the same figures. -#}
{{ knowbe4_department_summary(by_source=false) }}
