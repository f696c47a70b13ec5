-- The employees active on 1 January of simulation_year: the census for the first year, the
-- accumulated state of the previous year after that. Every event model draws from this set.
-- Which model that is, is decided at parse time by an `if` on the year: in the first year this
-- model depends on int_baseline_workforce, later on the ephemeral int_prior_year_state.
-- depends_on: {{ ref('int_baseline_workforce') }}
{%- if simulation_year() < start_year() %}
    {{ exceptions.raise_compiler_error(
        "simulation_year " ~ simulation_year() ~ " is before start_year " ~ start_year()) }}
{%- endif %}

with prior as (
    {%- if simulation_year() == start_year() %}
    select * from {{ ref('int_baseline_workforce') }}
    {%- else %}
    select * from {{ ref('int_prior_year_state') }}
    {%- endif %}
)

select
    prior.employee_id,
    prior.employee_key,
    prior.birth_date,
    prior.hire_date,
    prior.level_id,
    prior.department,
    prior.compensation,
    prior.deferral_rate,
    date_diff('year', prior.hire_date, calendar.year_start) as tenure_years,
    -- The year as the ephemeral calendar was compiled for it: equal to simulation_year in
    -- every year, however often a parse is reused (the tests check it).
    calendar.simulation_year
from prior
cross join {{ ref('int_simulation_calendar') }} as calendar
where prior.employment_status = 'active'
