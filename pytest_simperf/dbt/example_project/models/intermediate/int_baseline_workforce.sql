-- Year zero of the simulation: the employees active in the census, as the state at the end of
-- the year before start_year.
select
    {{ start_year() - 1 }} as simulation_year,
    employee_id,
    employee_key,
    birth_date,
    hire_date,
    cast(null as date) as termination_date,
    level_id,
    department,
    gross_compensation as compensation,
    deferral_rate,
    'active' as employment_status
from {{ ref('stg_census') }}
where is_active
