-- Headcount conservation, for every simulated year:
--   active(t) = active(t-1) + hires(t) - terminations(t)
-- where active(start_year - 1) is the census. A year whose previous year is missing fails too.
with active_by_year as (
    select simulation_year, count(*) filter (where employment_status = 'active') as active
    from {{ ref('fct_workforce_snapshot') }}
    group by simulation_year
    union all
    select {{ start_year() - 1 }} as simulation_year, count(*) as active
    from {{ ref('int_baseline_workforce') }}
),

events_by_year as (
    select
        simulation_year,
        count(*) filter (where event_type = 'hire') as hires,
        count(*) filter (where event_type = 'termination') as terminations
    from {{ ref('fct_yearly_events') }}
    group by simulation_year
)

select
    cur.simulation_year,
    prev.active as active_previous_year,
    coalesce(ev.hires, 0) as hires,
    coalesce(ev.terminations, 0) as terminations,
    cur.active as active
from active_by_year as cur
left join active_by_year as prev
    on prev.simulation_year = cur.simulation_year - 1
left join events_by_year as ev
    on ev.simulation_year = cur.simulation_year
where cur.simulation_year >= {{ start_year() }}
  and (
    prev.active is null
    or cur.active <> prev.active + coalesce(ev.hires, 0) - coalesce(ev.terminations, 0)
  )
