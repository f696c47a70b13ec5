"""Unit tests of the scaling gate: marker parsing, per-instance costs, judging a group."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_simperf.errors import UsageError
from pytest_simperf.scaling_gate import (
    ScalingSpec,
    available_metrics,
    cpu_bound_phases,
    instance_costs,
    judge_group,
    parse_scaling,
    section,
)
from pytest_simperf.scaling_plugin import group_of

SIZES = (1_000, 2_000, 4_000, 8_000)


def phase(name, median_s, *, year=None, rows_scanned=None, intermediate_rows=None):
    return {
        "name": name,
        "year": year,
        "median_s": median_s,
        "rows_scanned": rows_scanned,
        "intermediate_rows": intermediate_rows,
    }


def reports(cost, sizes=SIZES, *, counters=True):
    """One core report per size, whose time and counters follow ``cost(n)``."""
    out = []
    for n in sizes:
        c = cost(n)
        out.append(
            (
                n,
                {
                    "phases": [
                        phase(
                            "q",
                            0.002 + c * 1e-7,
                            rows_scanned=n if counters else None,
                            intermediate_rows=int(c) if counters else None,
                        )
                    ]
                },
            )
        )
    return out


def judge(instances, *, spec=None, baseline=None, update=False, fail_on="MINOR"):
    return judge_group(
        spec or ScalingSpec(SIZES),
        "t.py::test_q[scale=*]",
        instances,
        baseline=baseline,
        baseline_file="baselines/t.json",
        update=update,
        fail_on=fail_on,
        accept="pytest --simperf-update-baseline 't.py::test_q'",
    )


def linear(n):
    return 5 * n + 1


def quadratic(n):
    return n * n // 8 + n


# -- marker --------------------------------------------------------------------------------------


def test_parse_scaling_defaults_and_scale_names():
    spec = parse_scaling((), {"employees": ["small", 10_000, "medium"]}, "t::x")
    assert spec == ScalingSpec((1_000, 5_000, 10_000), None, None, 0.25)
    spec = parse_scaling(
        (),
        {
            "employees": [1, 2, 3],
            "metric": ["time", "rows_scanned", "time"],
            "max_class": "linear",
            "exponent_margin": 0.5,
        },
        "t::x",
    )
    assert spec.metrics == ("time", "rows_scanned")
    assert spec.max_class == "linear"
    assert spec.exponent_margin == 0.5
    assert ScalingSpec.from_json(spec.to_json()) == spec


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((1, 2, 3), {}, "keyword arguments only"),
        ((), {}, "needs employees="),
        ((), {"employees": [1, 2, 3], "size": 1}, "unknown keyword(s) size"),
        ((), {"employees": [1000, 2000]}, "at least 3 distinct sizes"),
        ((), {"employees": [1000, "huge", 3]}, "unknown size 'huge'"),
        ((), {"employees": [1, 2, -3]}, "positive"),
        ((), {"employees": [1, 2, 3], "metric": "memory"}, "got 'memory'"),
        ((), {"employees": [1, 2, 3], "metric": []}, "must be a name or a list"),
        ((), {"employees": [1, 2, 3], "max_class": "exponential"}, "max_class"),
        ((), {"employees": [1, 2, 3], "exponent_margin": -0.1}, "non-negative"),
        ((), {"employees": [1, 2, 3], "exponent_margin": True}, "non-negative"),
    ],
)
def test_parse_scaling_errors_name_the_test(args, kwargs, message):
    with pytest.raises(UsageError, match=r"t\.py::test_x") as info:
        parse_scaling(args, kwargs, "t.py::test_x")
    assert message in str(info.value)


def test_group_of_replaces_only_the_scale_id():
    assert group_of("t.py::test_x[scale=1000]", 1000) == "t.py::test_x[scale=*]"
    assert group_of("t.py::test_x[a-scale=1000-b]", 1000) == "t.py::test_x[a-scale=*-b]"
    assert group_of("t.py::test_x[scale=10000]", 1000) == "t.py::test_x[scale=10000]"


# -- costs ---------------------------------------------------------------------------------------


def test_instance_costs_sum_phase_medians_and_counters():
    cost = instance_costs(
        {
            "phases": [
                phase("a", 0.5, year=2025, rows_scanned=10, intermediate_rows=3),
                phase("a", 0.25, year=2026, rows_scanned=20, intermediate_rows=None),
                phase("python_only", 0.125),
            ]
        }
    )
    assert cost.costs == {"time": 0.875, "rows_scanned": 30.0, "intermediate_rows": 3.0}
    assert cost.counter_phases["rows_scanned"] == ("a@2025", "a@2026")
    assert cost.counter_phases["intermediate_rows"] == ("a@2025",)


def test_counters_are_only_fitted_when_the_same_phases_recorded_them():
    first = instance_costs({"phases": [phase("a", 1.0, rows_scanned=1), phase("b", 1.0)]})
    second = instance_costs(
        {"phases": [phase("a", 1.0, rows_scanned=1), phase("b", 1.0, rows_scanned=5)]}
    )
    assert available_metrics([first, first]) == ["time", "rows_scanned"]
    assert available_metrics([first, second]) == ["time"]
    assert available_metrics([instance_costs({"phases": []})]) == []


# -- judging -------------------------------------------------------------------------------------


def test_update_records_every_fitted_metric_and_does_not_compare():
    verdict = judge(reports(linear), update=True)
    assert verdict.failures == []
    assert verdict.severity is None
    data = verdict.report_data
    assert data["status"] == "fitted"
    assert data["gated"] == ["rows_scanned", "intermediate_rows"]
    assert data["metrics"]["intermediate_rows"]["fit"]["class"] == "linear"
    assert data["metrics"]["time"]["gated"] is False
    assert verdict.baseline_data is not None
    assert verdict.baseline_data["sizes"] == list(SIZES)
    assert set(verdict.baseline_data["fits"]) == {"time", "rows_scanned", "intermediate_rows"}


def test_no_baseline_is_new_not_a_failure():
    verdict = judge(reports(linear))
    assert verdict.failures == []
    assert verdict.severity == "NEW"
    assert verdict.baseline_data is None


def test_same_growth_passes_and_worse_class_fails_critical():
    recorded = judge(reports(linear), update=True).baseline_data
    same = judge(reports(linear), baseline=recorded)
    assert same.failures == []
    assert same.severity == "OK"

    worse = judge(reports(quadratic), baseline=recorded)
    assert worse.severity == "CRITICAL"
    assert worse.report_data["metrics"]["intermediate_rows"]["fit"]["class"] == "quadratic"
    (failure,) = [f for f in worse.failures if "intermediate_rows" in f]
    assert failure.startswith("CRITICAL scaling regression in intermediate_rows")
    assert "linear (exponent 1.00) → quadratic" in failure
    assert "baselines/t.json" in failure
    assert "pytest --simperf-update-baseline 't.py::test_q'" in failure


def test_one_step_worse_is_major_and_fail_on_decides():
    recorded = judge(reports(linear), update=True).baseline_data

    def nlogn(n):
        import math

        return int(3 * n * math.log(n))

    spec = ScalingSpec(SIZES, ("intermediate_rows",))
    verdict = judge(reports(nlogn), spec=spec, baseline=recorded)
    assert verdict.severity == "MAJOR"
    assert len(verdict.failures) == 1
    tolerant = judge(reports(nlogn), spec=spec, baseline=recorded, fail_on="CRITICAL")
    assert tolerant.severity == "MAJOR"
    assert tolerant.failures == []


def test_max_class_fails_outright_even_when_recording():
    spec = ScalingSpec(SIZES, None, "linear")
    verdict = judge(reports(quadratic), spec=spec, update=True)
    assert verdict.severity == "CRITICAL"
    assert any("exceeds max_class=linear" in f for f in verdict.failures)
    assert verdict.baseline_data is not None  # recorded all the same, like an SLA breach
    assert judge(reports(linear), spec=spec, update=True).failures == []


def test_explicit_time_metric_gates_time():
    spec = ScalingSpec(SIZES, ("time",))
    recorded = judge(reports(linear), spec=spec, update=True).baseline_data
    worse = judge(reports(quadratic), spec=spec, baseline=recorded)
    assert worse.report_data["gated"] == ["time"]
    assert worse.severity == "CRITICAL"
    assert any("scaling regression in time" in f for f in worse.failures)


def test_auto_falls_back_to_time_without_counters():
    verdict = judge(reports(linear, counters=False), update=True)
    assert verdict.report_data["gated"] == ["time"]


def test_requested_counter_that_was_not_recorded_fails_with_advice():
    spec = ScalingSpec(SIZES, ("rows_scanned",))
    verdict = judge(reports(linear, counters=False), spec=spec)
    assert any("simperf.track(con)" in f for f in verdict.failures)


def test_poor_time_fit_claims_no_class_and_says_so():
    noise = [1.0, 0.4, 1.6, 0.5]
    instances = [(n, {"phases": [phase("q", 0.01 * k)]}) for n, k in zip(SIZES, noise, strict=True)]
    verdict = judge(instances, update=True)
    fit = verdict.report_data["metrics"]["time"]
    assert fit["fit"]["class"] is None
    assert fit["reason"].startswith("no class claimed")
    assert "no class" in section(verdict.report_data)


def test_missing_instance_gives_no_fit_and_no_failure():
    instances = reports(linear)
    instances[1] = (instances[1][0], None)
    verdict = judge(instances)
    assert verdict.report_data["status"] == "incomplete"
    assert "2,000" in verdict.report_data["why"]
    assert verdict.failures == []
    assert verdict.severity is None


def test_too_few_selected_sizes_is_skipped():
    verdict = judge(reports(linear, sizes=(1_000, 8_000)))
    assert verdict.report_data["status"] == "skipped"
    assert "only 2 of the 4 sizes" in verdict.report_data["why"]


def test_malformed_scaling_baseline_fails_naming_the_file():
    verdict = judge(reports(linear), baseline={"fits": {"rows_scanned": {"class": "wobbly"}}})
    assert any(
        "scaling baseline of t.py::test_q[scale=*] in baselines/t.json" in f
        for f in verdict.failures
    )


def test_time_uses_cpu_clock_for_busy_phases_at_every_size():
    def report(wall, cpu_a, cpu_b):
        return {
            "phases": [
                {**phase("a", wall), "cpu_s": cpu_a},
                {**phase("b", wall), "cpu_s": cpu_b},
            ]
        }

    # a: busy, squeezed by a neighbour at the second size; b: waits at every size.
    reports_ = [report(1.0, 0.9, 0.1), report(2.0, 0.6, 0.1)]
    assert cpu_bound_phases(reports_) == frozenset({"a"})
    cost = instance_costs(reports_[1], cpu_bound_phases(reports_))
    assert cost.costs["time"] == pytest.approx(0.6 + 2.0)
    assert cpu_bound_phases([report(1.0, None, None)]) == frozenset()
    assert cpu_bound_phases([report(1.0, 0.9, 0.9), report(1.0, None, 0.9)]) == {"b"}


def test_time_clock_is_reported_and_recorded():
    instances = [
        (n, {"phases": [{**phase("q", 0.01 * n / 1000), "cpu_s": 0.009 * n / 1000}]}) for n in SIZES
    ]
    verdict = judge(instances, update=True)
    assert verdict.report_data["metrics"]["time"]["clock"] == "cpu"
    assert verdict.report_data["metrics"]["time"]["fit"]["class"] == "linear"
    assert verdict.baseline_data is not None
    assert verdict.baseline_data["time_clock"] == "cpu"
    assert "time (cpu clock)" in section(verdict.report_data)


def test_time_is_passed_round_by_round_when_rounds_line_up():
    def timed(name, samples, cpu=None):
        return {
            **phase(name, sorted(samples)[len(samples) // 2]),
            "samples_s": samples,
            "cpu_samples_s": cpu,
        }

    aligned = instance_costs({"phases": [timed("a", [1.0, 2.0, 3.0]), timed("b", [0.5])]})
    assert aligned.time_rounds == (1.5, 2.5, 3.5)
    assert aligned.samples("time") == [1.5, 2.5, 3.5]
    assert aligned.costs["time"] == 2.5

    ragged = instance_costs({"phases": [timed("a", [1.0, 2.0, 3.0]), timed("b", [1.0, 1.0])]})
    assert ragged.time_rounds == ()
    assert ragged.samples("time") == [3.0]

    on_cpu = instance_costs(
        {"phases": [{**timed("a", [2.0, 2.0], cpu=[1.0, 3.0]), "cpu_s": 2.0}]}, frozenset({"a"})
    )
    assert on_cpu.time_rounds == (1.0, 3.0)


@settings(max_examples=60, deadline=None)
@given(
    factor=st.floats(min_value=0.2, max_value=5.0),
    shape=st.sampled_from(["linear", "quadratic"]),
)
def test_a_uniformly_faster_or_slower_machine_is_never_a_scaling_regression(factor, shape):
    """Exponents and classes are unit-free: scaling every time by one factor changes nothing."""
    cost = linear if shape == "linear" else quadratic
    spec = ScalingSpec(SIZES, ("time",))
    recorded = judge(reports(cost), spec=spec, update=True).baseline_data
    slower = [
        (n, {"phases": [{**p, "median_s": p["median_s"] * factor} for p in report["phases"]]})
        for n, report in reports(cost)
    ]
    verdict = judge(slower, spec=spec, baseline=recorded)
    assert verdict.severity == "OK"
    assert verdict.failures == []
