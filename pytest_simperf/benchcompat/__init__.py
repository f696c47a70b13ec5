"""Adopt pytest-benchmark suites without rewriting them: ``benchmark`` tests gated by simperf.

``plugin`` turns the rounds pytest-benchmark timed into simperf samples (loaded only when
pytest-benchmark is); ``importer`` and ``cli`` turn its saved runs into simperf baselines. This
package never imports ``pytest_benchmark``, so it costs nothing where it is not installed.
"""
