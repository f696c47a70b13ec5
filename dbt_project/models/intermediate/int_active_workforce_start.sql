-- The employees active on 1 January of simulation_year: the census for the first year, the
-- accumulated state of the previous year after that. Every event model draws from this set.
-- depends_on: {{ ref('int_baseline_workforce') }}
{%- if simulation_year() < start_year() %}
    {{ exceptions.raise_compiler_error(
        "simulation_year " ~ simulation_year() ~ " is before start_year " ~ start_year()) }}
{%- endif %}

with prior as (
    {%- if simulation_year() == start_year() %}
    select * from {{ ref('int_baseline_workforce') }}
    {%- else %}
    select * from {{ prior_year_state() }}
    where simulation_year = {{ simulation_year() - 1 }}
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
    date_diff('year', prior.hire_date, make_date({{ simulation_year() }}, 1, 1)) as tenure_years
from prior
where prior.employment_status = 'active'
