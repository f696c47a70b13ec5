-- The calendar of simulation_year, one row: its first and last day. Ephemeral, so it is compiled
-- again into every model that reads it, with that invocation's simulation_year: a table built
-- in 2027 must never carry a date of 2025. Read by small models only: dbt injects an ephemeral
-- model's CTE by re-parsing the reader's SQL with sqlparse, which costs about 0.1 s in a model
-- as long as int_hiring_events (10 KB of SQL), and that time counts as the reader's.
{{ config(materialized='ephemeral') }}

select
    {{ simulation_year() }} as simulation_year,
    make_date({{ simulation_year() }}, 1, 1) as year_start,
    make_date({{ simulation_year() }}, 12, 31) as year_end
