-- Merit raises: every employee who stays the year gets their level's merit percentage, give or
-- take a point, on 1 July, applied after any promotion.
with stayers as (
    select
        w.employee_id,
        w.employee_key,
        w.department,
        coalesce(p.level_id, w.level_id) as level_id,
        coalesce(p.compensation_amount, w.compensation) as compensation
    from {{ ref('int_active_workforce_start') }} as w
    left join {{ ref('int_promotion_events') }} as p
        on p.employee_id = w.employee_id
    anti join {{ ref('int_termination_events') }} as t
        on t.employee_id = w.employee_id
)

select
    s.employee_id,
    s.employee_key,
    {{ simulation_year() }} as simulation_year,
    'raise' as event_type,
    make_date({{ simulation_year() }}, 7, 1) as effective_date,
    s.compensation as previous_compensation,
    round(
        s.compensation * (1 + r.merit_raise_pct + ({{ simperf_uniform('s.employee_key', 4) }} - 0.5) * 0.02),
        2
    ) as compensation_amount,
    s.level_id,
    s.department
from stayers as s
join {{ ref('hazard_rates_by_level') }} as r
    on r.level_id = s.level_id
