-- Terminations: each employee leaves with the hazard of their level, scaled by tenure band.
with hazards as (
    select
        w.*,
        r.termination_rate * coalesce(m.termination_multiplier, 1.0) as termination_hazard
    from {{ ref('int_active_workforce_start') }} as w
    join {{ ref('hazard_rates_by_level') }} as r
        on r.level_id = w.level_id
    left join {{ ref('termination_tenure_multipliers') }} as m
        on w.tenure_years >= m.tenure_from_years and w.tenure_years < m.tenure_to_years
),

drawn as (
    select
        *,
        {{ simperf_uniform('employee_key', 1) }} as u_terminate,
        {{ simperf_uniform('employee_key', 2) }} as u_day
    from hazards
)

select
    employee_id,
    employee_key,
    {{ simulation_year() }} as simulation_year,
    'termination' as event_type,
    make_date({{ simulation_year() }}, 1, 1) + cast(floor(u_day * 364) as integer) as effective_date,
    compensation as previous_compensation,
    compensation as compensation_amount,
    level_id,
    department
from drawn
where u_terminate < termination_hazard
