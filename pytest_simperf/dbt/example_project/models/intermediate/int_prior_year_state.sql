-- The workforce state at the end of the year before simulation_year, from the accumulator.
-- Ephemeral: inlined as a CTE into int_active_workforce_start, which refers to it only from the
-- second simulation year on (a ref inside a parse-time `if` on the year), so the models a year
-- depends on differ between the first year and the rest. It reads int_workforce_state by name,
-- not by ref(): that model is built after this year's events, so a ref would be a cycle.
{{ config(materialized='ephemeral') }}

select *
from {{ prior_year_state() }}
where simulation_year = {{ simulation_year() - 1 }}
