{#
  Helpers shared by the simulation models.

  Event draws are deterministic: a uniform number in [0, 1) is computed from the employee's key,
  the simulation year, a salt naming the decision and the `random_seed` var by explicit 32-bit
  integer mixing (murmur3's finaliser). No random(), no DuckDB hash(): the same census and seed
  give the same events on every machine and every DuckDB version.
#}

{% macro simulation_year() -%}
  {{ return(var('simulation_year') | int) }}
{%- endmacro %}

{% macro start_year() -%}
  {{ return(var('start_year', var('simulation_year')) | int) }}
{%- endmacro %}

{% macro simperf_uniform(key_expr, salt) -%}
  {%- set mask = 4294967295 -%}
  {%- set seed = var('random_seed') | int -%}
  {%- set h0 -%}
    ((((({{ key_expr }})::UBIGINT & {{ mask }}) * 2654435761) & {{ mask }})
      + ((({{ simulation_year() }})::UBIGINT * 2246822519) & {{ mask }})
      + (({{ salt | int }}::UBIGINT * 3266489917) & {{ mask }})
      + (({{ seed }}::UBIGINT * 668265263) & {{ mask }})) & {{ mask }}
  {%- endset -%}
  {%- set h1 = "((xor(" ~ h0 ~ ", (" ~ h0 ~ ") >> 16) * 2246822507) & " ~ mask ~ ")" -%}
  {%- set h2 = "((xor(" ~ h1 ~ ", " ~ h1 ~ " >> 13) * 3266489909) & " ~ mask ~ ")" -%}
  (xor({{ h2 }}, {{ h2 }} >> 16) / 4294967296.0)
{%- endmacro %}

{#
  The workforce state at the end of the previous year, which the event models read.

  It lives in int_workforce_state, which is built *after* the events of the current year, so it
  cannot be a ref() (that would be a cycle). It is looked up by name instead; building a year
  whose previous year is missing is a usage error, reported as such rather than simulated from
  an empty workforce.
#}
{% macro prior_year_state() -%}
  {%- set relation = adapter.get_relation(
        database=this.database, schema=this.schema, identifier='int_workforce_state') -%}
  {%- if execute -%}
    {%- if relation is none -%}
      {{ exceptions.raise_compiler_error(
          "int_workforce_state does not exist: build simulation year " ~ start_year()
          ~ " (the start_year) before year " ~ simulation_year()) }}
    {%- endif -%}
    {%- set found = run_query(
        "select count(*) from " ~ relation ~ " where simulation_year = " ~ (simulation_year() - 1)) -%}
    {%- if found.columns[0].values()[0] == 0 -%}
      {{ exceptions.raise_compiler_error(
          "simulation year " ~ (simulation_year() - 1) ~ " has not been built: build the years "
          ~ "in order, from start_year " ~ start_year() ~ ", before year " ~ simulation_year()) }}
    {%- endif -%}
  {%- endif -%}
  {{ return(relation) }}
{%- endmacro %}
