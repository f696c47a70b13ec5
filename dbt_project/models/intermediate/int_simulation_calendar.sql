-- The calendar of simulation_year, one row: its first and last day. Ephemeral, so it is compiled
-- again into every model that reads it, with that invocation's simulation_year: a table built
-- in 2027 must never carry a date of 2025.
{{ config(materialized='ephemeral') }}

select
    {{ simulation_year() }} as simulation_year,
    make_date({{ simulation_year() }}, 1, 1) as year_start,
    make_date({{ simulation_year() }}, 12, 31) as year_end
