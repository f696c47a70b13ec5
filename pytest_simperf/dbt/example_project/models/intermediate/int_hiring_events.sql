-- Hires: enough to replace this year's terminations and grow the active headcount by
-- target_growth_rate. Level, department, pay and hire day are drawn per new employee.
{%- set departments = ['Engineering', 'Finance', 'HR', 'Operations', 'Sales'] %}

with counts as (
    select
        (select count(*) from {{ ref('int_active_workforce_start') }}) as active_start,
        (select count(*) from {{ ref('int_termination_events') }}) as terminations
),

needed as (
    select greatest(
        0,
        cast(round(active_start * (1 + {{ var('target_growth_rate') }})) as bigint)
            - (active_start - terminations)
    ) as hires
    from counts
),

new_hires as (
    -- Keys above every census key and every earlier year's hires.
    select
        n as hire_number,
        cast({{ simulation_year() }} as bigint) * 100000000 + n as employee_key
    from needed, range(1, needed.hires + 1) as r(n)
),

drawn as (
    select
        *,
        {{ simperf_uniform('employee_key', 5) }} as u_level,
        {{ simperf_uniform('employee_key', 6) }} as u_department,
        {{ simperf_uniform('employee_key', 7) }} as u_day,
        {{ simperf_uniform('employee_key', 8) }} as u_pay
    from new_hires
),

cumulative_shares as (
    select
        level_id,
        new_hire_base_compensation,
        sum(new_hire_share) over (order by level_id) as share_to
    from {{ ref('hazard_rates_by_level') }}
),

level_bands as (
    -- Cumulative new-hire shares turn one uniform draw into a level; bands share their edges
    -- exactly (lag, not subtraction), and the top band takes any rounding remainder.
    select
        level_id,
        new_hire_base_compensation,
        coalesce(lag(share_to) over (order by level_id), 0) as share_from,
        share_to
    from cumulative_shares
)

select
    'NH' || {{ simulation_year() }} || '_' || lpad(cast(d.hire_number as varchar), 7, '0') as employee_id,
    d.employee_key,
    {{ simulation_year() }} as simulation_year,
    'hire' as event_type,
    make_date({{ simulation_year() }}, 1, 1) + cast(floor(d.u_day * 364) as integer) as effective_date,
    cast(null as double) as previous_compensation,
    round(b.new_hire_base_compensation * (0.9 + 0.2 * d.u_pay), 2) as compensation_amount,
    b.level_id,
    ({{ "['" ~ departments | join("', '") ~ "']" }})[1 + cast(floor(d.u_department * {{ departments | length }}) as integer)] as department
from drawn as d
join level_bands as b
    on d.u_level >= b.share_from and (d.u_level < b.share_to or b.level_id = 5)
