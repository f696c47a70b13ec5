#!/usr/bin/env bash
# DuckDB version matrix for the work counters: the profile layouts and connection tracking are
# tested on the oldest DuckDB the package allows (pyproject: duckdb>=1.1; before 1.5 profiles
# come from the profiling_output file), on 1.4 (the long-term-support line: the file again,
# with profiling_coverage), on 1.5 (flat profile through get_profiling_information) and on the
# newest (2.x, nested profile). Each in a throwaway venv: pip install -e . duckdb==X pytest.
#
#   .ci/duckdb_matrix.sh                   # the default matrix
#   DUCKDB_VERSIONS="1.2.2 2.0.1" .ci/duckdb_matrix.sh
#
# About 25 s a version with a warm pip cache (1.5 minutes for the default four).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
VERSIONS="${DUCKDB_VERSIONS:-1.1.0 1.4.4 1.5.6 2.0.1}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/simperf-duckdb-matrix.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

failed=()
for version in $VERSIONS; do
    venv="$WORK/duckdb-$version"
    echo "== DuckDB $version"
    "$PYTHON" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        -e . "duckdb==$version" pytest
    installed="$("$venv/bin/python" -c 'import duckdb; print(duckdb.__version__)')"
    if [[ "$installed" != "$version" ]]; then
        echo "asked for DuckDB $version, got $installed" >&2
        failed+=("$version")
        continue
    fi
    # Not test_measure.py: its counter figures are those of DuckDB >= 1.5's plans.
    if ! "$venv/bin/python" -m pytest -q -p no:cacheprovider \
        tests/core/test_duckdb_profile.py tests/core/test_connection_intercept.py; then
        failed+=("$version")
    fi
done

if ((${#failed[@]})); then
    echo "DuckDB counter tests failed on: ${failed[*]}" >&2
    exit 1
fi
echo "DuckDB counter tests passed on: $VERSIONS"
