"""A dbt test's regressions are listed worst first: a real MAJOR among twenty phases is named
first, not twentieth."""

from __future__ import annotations

from pytest_simperf.report.reasons import failure_headline, worst_first


def phase(name, year, severity, change, sla="WITHIN_SLA"):
    return {
        "name": name,
        "year": year,
        "severity": severity,
        "change_pct": change,
        "sla_status": sla,
        "why": f"{name} changed {change}%",
        "plan_changed": False,
    }


PHASES = [
    phase("stg_census", 2025, "MINOR", 20.0),
    phase("hazard_rates_by_level", 2025, "OK", 3.0),
    phase("int_hiring_events", 2026, "MINOR", 40.0),
    phase("fct_yearly_events:rebuild", 2027, "CRITICAL", 446.0),
    phase("int_workforce_state", 2027, "MAJOR", 35.0),
    phase("dbt_total", 2027, "OK", None, sla="SLA_BREACH"),
    phase("fct_workforce_snapshot", 2028, "CRITICAL", 60.0),
]


def test_worst_first_orders_by_class_then_sla_breach_then_change():
    names = [p["name"] for p in sorted(PHASES, key=worst_first)]
    assert names == [
        "fct_yearly_events:rebuild",
        "fct_workforce_snapshot",
        "int_workforce_state",
        "int_hiring_events",
        "stg_census",
        "dbt_total",  # OK, but its SLA breach comes first among the OK ones
        "hazard_rates_by_level",
    ]


def test_the_failure_headline_names_the_worst_phase():
    report = {"phases": PHASES, "fail_on": "MINOR", "baseline_status": "compared"}
    headline = failure_headline(report, ["x"] * 5)
    assert "fct_yearly_events:rebuild" in headline.split("(+")[0]
