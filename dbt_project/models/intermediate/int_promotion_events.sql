-- Promotions: employees who stay the year move up one level with their level's hazard, on
-- 1 April, with a 10% raise. Level 5 is the top.
with stayers as (
    select w.*
    from {{ ref('int_active_workforce_start') }} as w
    anti join {{ ref('int_termination_events') }} as t
        on t.employee_id = w.employee_id
)

select
    s.employee_id,
    s.employee_key,
    {{ simulation_year() }} as simulation_year,
    'promotion' as event_type,
    make_date({{ simulation_year() }}, 4, 1) as effective_date,
    s.compensation as previous_compensation,
    round(s.compensation * 1.10, 2) as compensation_amount,
    s.level_id + 1 as level_id,
    s.department
from stayers as s
join {{ ref('hazard_rates_by_level') }} as r
    on r.level_id = s.level_id
where s.level_id < 5
  and {{ simperf_uniform('s.employee_key', 3) }} < r.promotion_rate
