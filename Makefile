# pytest-simperf developer commands. Each target sets up what it needs (virtualenv + install).
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-dev

.PHONY: setup system-deps demo test lint bench baselines clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP) system-deps

# valgrind (instruction-count gate) and chromium (dashboard DOM test), apt-get where missing.
system-deps:
	bash .ci/system-deps.sh

# The main job: the repository's perf suite gated against the committed baselines, with the
# instruction-count gate (valgrind) that holds on any machine.
demo: $(STAMP) system-deps
	$(VENV)/bin/pytest tests/perf --simperf --simperf-instructions

# The test suite (unit, behaviour, integration, the newcomer path from a built wheel); the
# performance tests in tests/perf run once, unmeasured, without --simperf.
test: $(STAMP) system-deps
	$(VENV)/bin/pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# Re-record this repository's baselines over three sessions (then review and commit baselines/):
# the extra sessions teach the verdicts how much timings move between sessions.
baselines: $(STAMP) system-deps
	$(VENV)/bin/pytest tests/perf --simperf-update-baseline --simperf-instructions --simperf-history=off
	$(VENV)/bin/pytest tests/perf --simperf-add-baseline-session --simperf-history=off
	$(VENV)/bin/pytest tests/perf --simperf-add-baseline-session --simperf-history=off

bench: $(STAMP)
	for script in benchmarks/bench_*.py; do $(PY) $$script || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .simperf build *.egg-info
