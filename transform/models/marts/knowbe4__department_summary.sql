{#- One row per source and department of the active users: how many people, their average
    Phish-prone % and risk score; training as people (enrolled in anything, done with every
    enrollment, with an enrollment past due) and as enrollment rows (a campaign of two modules
    gives each person two); the phishing tests delivered to them and failed (recipient rows).
    Active users only, as in knowbe4__training_compliance and knowbe4__user_phishing, so the
    three agree department by department; active users without a department are under
    'Unknown'. Across sources: knowbe4__department_summary_rollup. -#}
{{ knowbe4_department_summary(by_source=true) }}
