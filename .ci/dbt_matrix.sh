#!/usr/bin/env bash
# dbt version matrix for the dbt integration: tests/dbt on the oldest dbt-core / dbt-duckdb the
# `dbt` extra allows (1.8.x, with DuckDB 1.1.3, the oldest DuckDB the package allows, as real
# projects pinned to dbt 1.8 run it) and on the newest it allows (below 1.12). Each row in a
# throwaway venv; pip's wheel cache (PIP_CACHE_DIR, default ~/.cache/pip) is kept between runs,
# so a warm run downloads nothing.
#
#   .ci/dbt_matrix.sh                           # both rows
#   DBT_MATRIX="newest" .ci/dbt_matrix.sh       # one row
#   DBT_TESTS="tests/dbt/test_sequence.py" .ci/dbt_matrix.sh
#
# About 3 minutes a row on two cores with pip's cache warm, 6 with it cold under load
# (installing, then tests/dbt's 148 tests in two processes).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
ROWS="${DBT_MATRIX:-oldest newest}"
TESTS="${DBT_TESTS:-tests/dbt}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/simperf-dbt-matrix.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

requirements() {
    case "$1" in
        oldest) echo "dbt-core~=1.8.0 dbt-duckdb~=1.8.0 duckdb==1.1.3" ;;
        newest) echo "dbt-core>=1.8,<1.12 dbt-duckdb>=1.8,<1.12" ;;
        *) echo "unknown dbt matrix row '$1' (oldest, newest)" >&2; return 1 ;;
    esac
}

failed=()
for row in $ROWS; do
    pins="$(requirements "$row")"
    venv="$WORK/$row"
    echo "== dbt $row: $pins"
    "$PYTHON" -m venv "$venv"
    # shellcheck disable=SC2086  # the pins are separate requirements
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        -e . $pins pytest pytest-xdist hypothesis
    "$venv/bin/python" - <<'EOF'
import importlib.metadata as m
print("   installed:", ", ".join(f"{n} {m.version(n)}" for n in ("dbt-core", "dbt-duckdb", "duckdb")))
EOF
    # Two processes: a dbt build is one core's work, and the suite is mostly dbt builds.
    if ! "$venv/bin/python" -m pytest -q -p no:cacheprovider -p no:randomly -n 2 $TESTS; then
        failed+=("$row")
    fi
done

if ((${#failed[@]})); then
    echo "dbt integration tests failed on: ${failed[*]}" >&2
    exit 1
fi
echo "dbt integration tests passed on: $ROWS"
