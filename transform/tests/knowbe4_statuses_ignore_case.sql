{#- The statuses the marts count by (enrollments completed and past due, active users) are
    read without regard to case or surrounding spaces, with the macros the staging models
    use: 'passed' is completed, ' PAST DUE ' past due, 'Active' active; unknown words and null
    are none of them. A row is a status read wrongly. -#}
with statuses as (
    select 'Passed' as status, true as completed, false as past_due, false as active
    union all select 'passed', true, false, false
    union all select ' COMPLETED ', true, false, false
    union all select 'Completed', true, false, false
    union all select 'Past Due', false, true, false
    union all select 'past due', false, true, false
    union all select ' PAST DUE', false, true, false
    union all select 'In Progress', false, false, false
    union all select 'Not Started', false, false, false
    union all select 'Passed with distinction', false, false, false
    union all select 'active', false, false, true
    union all select 'Active', false, false, true
    union all select ' ACTIVE ', false, false, true
    union all select 'archived', false, false, false
    union all select 'inactive', false, false, false
    union all select cast(null as {{ dbt.type_string() }}), false, false, false
),

read as (
    select
        status,
        completed,
        past_due,
        active,
        {{ knowbe4_enrollment_is_completed('status') }} as read_completed,
        {{ knowbe4_enrollment_is_past_due('status') }} as read_past_due,
        {{ knowbe4_user_is_active('status') }} as read_active
    from statuses
)

select * from read
where read_completed <> completed or read_past_due <> past_due or read_active <> active
