-- The state accumulator: one row per employee who was active at some point in simulation_year,
-- built from the previous year's state (this model's own table, one year only) plus this year's events.
-- It never re-reads earlier years, so a year costs the same in year 1 and year 30.
{{ config(
    materialized='incremental',
    unique_key='simulation_year',
    incremental_strategy='delete+insert',
    on_schema_change='fail'
) }}

{%- if execute and simulation_year() > start_year() and not is_incremental() %}
    {{ exceptions.raise_compiler_error(
        "int_workforce_state: a full refresh must start at start_year (" ~ start_year()
        ~ "), not at " ~ simulation_year() ~ ": it would discard the earlier years' state") }}
{%- endif %}

with prior as (
    {%- if simulation_year() == start_year() %}
    select * from {{ ref('int_baseline_workforce') }}
    {%- else %}
    select * from {{ this }}
    where simulation_year = {{ simulation_year() - 1 }}
    {%- endif %}
),

prior_active as (
    select * from prior where employment_status = 'active'
),

events as (
    select * from {{ ref('fct_yearly_events') }}
    where simulation_year = {{ simulation_year() }}
),

changes as (
    -- At most one event of each type per employee and year: pivot them onto one row.
    select
        employee_id,
        max(effective_date) filter (where event_type = 'termination') as termination_date,
        max(level_id) filter (where event_type = 'promotion') as promoted_level_id,
        max(compensation_amount) filter (where event_type = 'raise') as raised_compensation,
        max(compensation_amount) filter (where event_type = 'promotion') as promoted_compensation
    from events
    where event_type <> 'hire'
    group by employee_id
),

continuing as (
    select
        p.employee_id,
        p.employee_key,
        p.birth_date,
        p.hire_date,
        c.termination_date,
        coalesce(c.promoted_level_id, p.level_id) as level_id,
        p.department,
        coalesce(c.raised_compensation, c.promoted_compensation, p.compensation) as compensation,
        p.deferral_rate,
        case when c.termination_date is null then 'active' else 'terminated' end
            as employment_status
    from prior_active as p
    left join changes as c
        on c.employee_id = p.employee_id
),

hired as (
    select
        employee_id,
        employee_key,
        -- New hires are 22 to 45 years old on their hire date.
        effective_date - to_days(cast(floor(
            (22 + 23 * {{ simperf_uniform('employee_key', 9) }}) * 365.25) as integer))
            as birth_date,
        effective_date as hire_date,
        cast(null as date) as termination_date,
        level_id,
        department,
        compensation_amount as compensation,
        -- Auto-enrolled at 3% or 6%.
        case when {{ simperf_uniform('employee_key', 10) }} < 0.5 then 0.03 else 0.06 end
            as deferral_rate,
        'active' as employment_status
    from events
    where event_type = 'hire'
)

select {{ simulation_year() }} as simulation_year, * from continuing
union all by name
select {{ simulation_year() }} as simulation_year, * from hired
