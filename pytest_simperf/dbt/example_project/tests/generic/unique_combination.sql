{#
  Key uniqueness over several columns (dbt's built-in `unique` takes one). Written here rather
  than taken from a hub package: this project must build offline.
#}
{% test unique_combination(model, columns) %}
select {{ columns | join(', ') }}, count(*) as duplicates
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
