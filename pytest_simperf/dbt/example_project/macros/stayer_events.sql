{#
  One event per employee who stays the year, drawn against their level's rates: the body of
  int_promotion_events and int_merit_events.

  A stayer is active on 1 January (int_active_workforce_start) and not terminated this year
  (int_termination_events); with `after_promotion`, their level and pay are those after this
  year's promotion, if any (int_promotion_events). Each stayer `s` is joined to their level's
  row `r` of hazard_rates_by_level. The caller gives, as SQL over `s` and `r`: the new pay
  (`compensation_amount`), the new level (`level_id`, unchanged by default) and the condition
  for the event (`where`; none: every stayer gets it). The event is dated `month`/`day` of the
  simulation year.
#}
{% macro stayer_events(event_type, month, day, compensation_amount, level_id='s.level_id', where=none, after_promotion=false) -%}
with stayers as (
    select
        w.employee_id,
        w.employee_key,
        w.department,
    {%- if after_promotion %}
        coalesce(p.level_id, w.level_id) as level_id,
        coalesce(p.compensation_amount, w.compensation) as compensation
    from {{ ref('int_active_workforce_start') }} as w
    left join {{ ref('int_promotion_events') }} as p
        on p.employee_id = w.employee_id
    {%- else %}
        w.level_id,
        w.compensation
    from {{ ref('int_active_workforce_start') }} as w
    {%- endif %}
    anti join {{ ref('int_termination_events') }} as t
        on t.employee_id = w.employee_id
)

select
    s.employee_id,
    s.employee_key,
    {{ simulation_year() }} as simulation_year,
    '{{ event_type }}' as event_type,
    make_date({{ simulation_year() }}, {{ month }}, {{ day }}) as effective_date,
    s.compensation as previous_compensation,
    {{ compensation_amount | trim }} as compensation_amount,
    {{ level_id }} as level_id,
    s.department
from stayers as s
join {{ ref('hazard_rates_by_level') }} as r
    on r.level_id = s.level_id
{%- if where %}
where {{ where | trim }}
{%- endif %}
{%- endmacro %}
