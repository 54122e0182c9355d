{#- Bridge: one row per (user, group id) in the user's `groups` list (users without groups
    have no rows; group ids may name archived groups). -#}
with users as (
    {{ knowbe4_source_rows('users') }}
),

memberships as (
    select
        u.source_relation,
        cast(u.id as bigint) as user_id,
        {{ knowbe4_safe_bigint(knowbe4_json_scalar_text('g.value')) }} as group_id
    from users as u
    {{ knowbe4_json_array_join('u.groups', 'g') }}
)

select distinct source_relation, user_id, group_id
from memberships
where group_id is not null
