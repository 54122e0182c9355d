{#- Generic test: no two rows share the values of `columns` (a composite key). -#}
{% test knowbe4_unique_combination(model, columns) %}
select {{ columns | join(', ') }}, count(*) as duplicates
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
