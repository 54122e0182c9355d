{#- Generic test: no two rows share the values of `columns` (a composite key). -#}
{% test knowbe4_unique_combination(model, columns) %}
select {{ columns | join(', ') }}, count(*) as duplicates
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}


{#- Generic test: every non-null `column_name` names a row of `to` (its `field`) from the same
    source (source_relation): the relationships test within one account of a union. -#}
{% test knowbe4_relationships(model, column_name, to, field) %}
with child as (
    select source_relation, {{ column_name }} as from_field
    from {{ model }}
    where {{ column_name }} is not null
),

parent as (
    select source_relation, {{ field }} as to_field
    from {{ to }}
)

select child.source_relation, child.from_field
from child
left join parent
    on parent.to_field = child.from_field
    and parent.source_relation = child.source_relation
where parent.to_field is null
{% endtest %}
