-- The workforce at the end of each simulation year, one row per employee who was active at
-- some point in it, with the bands reporting uses. Incremental on the year, like the events.
{{ config(
    materialized='incremental',
    unique_key='simulation_year',
    incremental_strategy='delete+insert',
    on_schema_change='fail'
) }}

with state as (
    select * from {{ ref('int_workforce_state') }}
    where simulation_year = {{ simulation_year() }}
),

hires as (
    select employee_id
    from {{ ref('fct_yearly_events') }}
    where simulation_year = {{ simulation_year() }} and event_type = 'hire'
),

measured as (
    select
        s.*,
        h.employee_id is not null as is_new_hire,
        date_diff('year', s.birth_date, c.year_end) as age,
        date_diff('year', s.hire_date, coalesce(s.termination_date, c.year_end)) as tenure_years
    from state as s
    cross join {{ ref('int_simulation_calendar') }} as c
    left join hires as h
        on h.employee_id = s.employee_id
)

select
    simulation_year,
    employee_id,
    employment_status,
    is_new_hire,
    level_id,
    department,
    compensation as current_compensation,
    deferral_rate as current_deferral_rate,
    hire_date,
    termination_date,
    birth_date,
    age,
    tenure_years,
    case
        when age < 25 then '< 25'
        when age < 35 then '25-34'
        when age < 45 then '35-44'
        when age < 55 then '45-54'
        when age < 65 then '55-64'
        else '65+'
    end as age_band,
    case
        when tenure_years < 2 then '< 2'
        when tenure_years < 5 then '2-4'
        when tenure_years < 10 then '5-9'
        else '10+'
    end as tenure_band
from measured
