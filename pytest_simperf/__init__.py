"""pytest-simperf: performance regression gates for DuckDB and dbt-duckdb pipelines."""
__version__ = "0.1.0"
