-- A terminated employee has no events in any later year.
with terminations as (
    select employee_id, simulation_year as termination_year
    from {{ ref('fct_yearly_events') }}
    where event_type = 'termination'
)

select e.event_id, t.termination_year
from {{ ref('fct_yearly_events') }} as e
join terminations as t
    on t.employee_id = e.employee_id
where e.simulation_year > t.termination_year
