-- Every workforce event of the simulation, one row per employee, year and event type.
-- Incremental: each run replaces only the rows of simulation_year (delete+insert keyed on the
-- year), so building or rebuilding a year costs that year's events, not the whole history.
{{ config(
    materialized='incremental',
    unique_key='simulation_year',
    incremental_strategy='delete+insert',
    on_schema_change='fail'
) }}

with events as (
    select * from {{ ref('int_termination_events') }}
    union all by name
    select * from {{ ref('int_promotion_events') }}
    union all by name
    select * from {{ ref('int_merit_events') }}
    union all by name
    select * from {{ ref('int_hiring_events') }}
),

current_year as (
    select
        cast(simulation_year as integer) || ':' || employee_id || ':' || event_type as event_id,
        employee_id,
        employee_key,
        cast(simulation_year as integer) as simulation_year,
        event_type,
        effective_date,
        cast(previous_compensation as double) as previous_compensation,
        cast(compensation_amount as double) as compensation_amount,
        cast(level_id as integer) as level_id,
        department,
        cast(row_number() over (
            partition by employee_id
            order by effective_date, case event_type
                when 'hire' then 1 when 'promotion' then 2 when 'raise' then 3 else 4 end
        ) as integer) as event_sequence
    from events
)

{%- if var('events_strategy', 'standard') == 'pathological' %}
-- PATHOLOGICAL on purpose (events_strategy = 'pathological'): the global event number is
-- recomputed for the whole history on every run by a correlated subquery on a unique key, and
-- every year is rewritten. Same rows as the standard version, quadratic cost. It exists so that
-- pytest-simperf's own tests can prove the performance gate catches this kind of change.
, history as (
    {%- if is_incremental() %}
    select * exclude (event_number) from {{ this }}
    where simulation_year <> {{ simulation_year() }}
    union all by name
    {%- endif %}
    select * from current_year
)

select
    h.*,
    (select count(*) from history as h2 where h2.event_id <= h.event_id) as event_number
from history as h

{%- else %}

select
    current_year.*,
    (
        {%- if is_incremental() %}
        select count(*) from {{ this }} where simulation_year < {{ simulation_year() }}
        {%- else %}
        0
        {%- endif %}
    ) + row_number() over (order by event_id) as event_number
from current_year
{%- endif %}
