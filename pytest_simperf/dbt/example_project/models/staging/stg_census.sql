-- The census, typed and keyed. `employee_key` is a dense integer per employee (ordered by id),
-- the input of the deterministic event draws; new hires get keys above every census key.
{%- set census_parquet = var('census_parquet', none) %}

with census as (
    {%- if census_parquet %}
    select * from read_parquet('{{ census_parquet | replace("'", "''") }}')
    {%- else %}
    select * from {{ source('workforce', 'census') }}
    {%- endif %}
)

select
    cast(employee_id as varchar) as employee_id,
    row_number() over (order by cast(employee_id as varchar)) as employee_key,
    cast(employee_birth_date as date) as birth_date,
    cast(employee_hire_date as date) as hire_date,
    cast(employee_termination_date as date) as termination_date,
    cast(employee_gross_compensation as double) as gross_compensation,
    cast(employee_deferral_rate as double) as deferral_rate,
    cast(level_id as integer) as level_id,
    cast(department as varchar) as department,
    coalesce(cast(active as boolean), employee_termination_date is null) as is_active
from census
