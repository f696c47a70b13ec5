"""Unit tests of the pure parts: phase naming, sample reduction, the importer and its report."""

from __future__ import annotations

import hashlib
import json
import statistics
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_simperf.baseline import BaselineStore
from pytest_simperf.benchcompat import importer
from pytest_simperf.benchcompat.cli import render
from pytest_simperf.benchcompat.convert import MAX_SAMPLES, phase_name, reduce_samples
from pytest_simperf.cli import main

# -- convert ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("group", "name"),
    [
        (None, "benchmark"),
        ("", "benchmark"),
        ("rollup", "rollup"),
        ("a@b", "benchmark"),
        (3, "benchmark"),
    ],
)
def test_phase_name_comes_from_a_usable_group(group, name):
    assert phase_name(group) == name


def test_few_rounds_are_kept_as_they_are():
    assert reduce_samples([0.3, 0.1, 0.2]) == [0.3, 0.1, 0.2]


def test_many_rounds_become_batch_medians_in_order():
    rounds = [float(i) for i in range(10)]
    assert reduce_samples(rounds, max_samples=5) == [0.5, 2.5, 4.5, 6.5, 8.5]


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf")])
def test_unusable_round_timings_are_refused(bad):
    with pytest.raises(ValueError, match="finite and ≥ 0"):
        reduce_samples([0.1, bad])


@given(st.lists(st.floats(min_value=0, max_value=10, allow_nan=False), min_size=1, max_size=400))
def test_reduction_bounds_the_count_and_keeps_the_range(rounds):
    samples = reduce_samples(rounds)
    assert len(samples) == min(len(rounds), MAX_SAMPLES)
    assert min(rounds) <= min(samples) <= statistics.median(rounds) <= max(samples) <= max(rounds)


# -- importer --------------------------------------------------------------------------------

MACHINE_INFO = {
    "machine": "x86_64",
    "system": "Linux",
    "release": "6.1",
    "python_version": "3.11.7",
    "cpu": {"brand_raw": "Some CPU ", "count": 8},
}
TESTS = """
import pytest
from helpers import test_imported


def test_a(benchmark):
    pass


class Base:
    def test_inherited(self, benchmark):
        pass


class TestK(Base):
    @pytest.mark.parametrize("n", [1, 2])
    def test_b(self, benchmark, n):
        pass


class TestExternal(SomeImportedBase):
    pass


test_assigned = test_a
"""


def _bench(fullname, *, name=None, data=(0.01, 0.011, 0.009), group=None, **stats):
    return {
        "fullname": fullname,
        "name": name if name is not None else fullname.split("::")[-1],
        "group": group,
        "extra_info": {},
        "stats": {"median": 0.01, "rounds": len(data), "iterations": 1, "data": list(data)} | stats,
    }


def _run(*benches):
    return {
        "machine_info": MACHINE_INFO,
        "commit_info": {"id": "abc123"},
        "datetime": "2026-01-02T03:04:05+00:00",
        "version": "5.3.1",
        "benchmarks": list(benches),
    }


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_x.py").write_text(TESTS)
    return tmp_path


def test_machine_fingerprint_uses_the_core_hardware_fields():
    machine = importer.machine_from_info(MACHINE_INFO)
    assert machine["id"] == hashlib.sha256(b"Some CPU|8|x86_64").hexdigest()[:12]
    assert (machine["cpu"], machine["cores"], machine["arch"]) == ("Some CPU", 8, "x86_64")


def test_machine_without_hardware_fields_never_matches_a_real_one():
    machine = importer.machine_from_info({"node": "ci"})
    assert machine["id"].startswith("pytest-benchmark-")
    assert importer.machine_from_info(None)["id"].startswith("pytest-benchmark-")


def test_names_are_mapped_to_node_ids_or_listed_with_why(root):
    run = _run(
        _bench("tests/test_x.py::test_a"),
        _bench("tests/test_x.py::TestK::test_b[1]", group="rollup"),
        _bench("tests/test_x.py::TestK::test_inherited"),
        _bench("tests/test_x.py::TestExternal::test_from_elsewhere"),
        _bench("tests/test_x.py::test_assigned"),
        _bench("tests/test_x.py::test_imported"),
        _bench("tests/test_x.py::test_gone"),
        _bench("tests/test_x.py::TestMissing::test_b"),
        _bench("tests/test_y.py::test_a"),
        _bench("tests/test_x.py::test_a[2]", name="test_other[2]"),
        _bench("test_x::test_a"),
        {"name": "test_no_fullname", "stats": {"median": 0.1}},
        _bench("tests/test_x.py::TestK::test_b[2]", data=(), median=None),
        "junk",
    )
    plan = importer.plan_import(run, rootdir=root, source="0001.json")
    assert [i.nodeid for i in plan.imported] == [
        "tests/test_x.py::TestExternal::test_from_elsewhere",
        "tests/test_x.py::TestK::test_b[1]",
        "tests/test_x.py::TestK::test_inherited",
        "tests/test_x.py::test_a",
        "tests/test_x.py::test_assigned",
        "tests/test_x.py::test_imported",
    ]
    assert {i.nodeid: i.phase for i in plan.imported}["tests/test_x.py::TestK::test_b[1]"] == (
        "rollup"
    )
    reasons = {u.name: u.reason for u in plan.unmapped}
    assert reasons == {
        "tests/test_x.py::test_gone": "no test 'test_gone' in tests/test_x.py "
        "(renamed or removed?)",
        "tests/test_x.py::TestMissing::test_b": "no class 'TestMissing' in tests/test_x.py "
        "(renamed or removed?)",
        "tests/test_y.py::test_a": f"tests/test_y.py not found under {root}",
        "tests/test_x.py::test_a[2]": "name 'test_other[2]' does not match its fullname "
        "'tests/test_x.py::test_a[2]'",
        "test_x::test_a": "fullname 'test_x::test_a' is not a pytest node id (path.py::test)",
        "test_no_fullname": "no 'fullname' (node id) in the saved run; cannot tell which test it "
        "was",
        "tests/test_x.py::TestK::test_b[2]": "no timings: neither 'stats.data' nor 'stats.median'",
        "benchmarks[13]": "not an object",
    }


def test_duplicate_names_are_listed_not_picked(root):
    run = _run(_bench("tests/test_x.py::test_a"), _bench("tests/test_x.py::test_a"))
    plan = importer.plan_import(run, rootdir=root, source="x.json")
    assert plan.imported == ()
    assert {u.reason for u in plan.unmapped} == {
        "'tests/test_x.py::test_a' appears 2 times in the saved run"
    }


def test_entry_carries_samples_median_and_provenance(root):
    rounds = [0.01 + 0.0001 * (i % 7) for i in range(300)]
    run = _run(_bench("tests/test_x.py::test_a", data=rounds, rounds=300))
    (item,) = importer.plan_import(run, rootdir=root, source="0001.json").imported
    phase = item.entry["phases"]["benchmark"]
    assert len(phase["samples_s"]) == MAX_SAMPLES
    assert phase["median_s"] == statistics.median(phase["samples_s"])
    assert (item.rounds, item.samples) == (300, MAX_SAMPLES)
    assert item.entry["recorded_at"] == "2026-01-02T03:04:05+00:00"
    assert item.entry["imported_from"] == {
        "file": "0001.json",
        "pytest_benchmark": "5.3.1",
        "datetime": "2026-01-02T03:04:05+00:00",
        "commit": "abc123",
        "rounds": 300,
        "iterations": 1,
        "samples": "rounds",
    }
    # No duckdb_threads: a pytest-benchmark run pinned none, so any thread setting compares.
    assert "duckdb_threads" not in item.entry


def test_median_only_runs_import_one_sample(root):
    run = _run(_bench("tests/test_x.py::test_a", data=(), median=0.25))
    (item,) = importer.plan_import(run, rootdir=root, source="x.json").imported
    assert item.entry["phases"]["benchmark"]["samples_s"] == [0.25]
    assert item.entry["imported_from"]["samples"] == "median only"


def test_apply_writes_deterministic_files_and_keeps_existing_entries(root):
    run = _run(_bench("tests/test_x.py::test_a"), _bench("tests/test_x.py::TestK::test_b[1]"))
    plan = importer.plan_import(run, rootdir=root, source="x.json")
    target = root / "baselines" / "tests" / "test_x.json"

    dry = importer.apply_plan(plan, BaselineStore(root / "baselines"), write=False)
    assert (dry.created, dry.files_written) == (
        ["tests/test_x.py::TestK::test_b[1]", "tests/test_x.py::test_a"],
        [],
    )
    assert not target.exists()

    first = importer.apply_plan(plan, BaselineStore(root / "baselines"))
    assert first.files_written == [str(target)]
    text = target.read_bytes()
    assert text.endswith(b"}\n")
    data = json.loads(text)
    assert data["machines"][plan.machine["id"]]["cpu"] == "Some CPU"

    again = importer.apply_plan(plan, BaselineStore(root / "baselines"))
    assert (again.created, again.kept) == ([], dry.created)
    assert target.read_bytes() == text

    target.unlink()
    importer.apply_plan(plan, BaselineStore(root / "baselines"))
    assert target.read_bytes() == text  # same input, same bytes

    replaced = importer.apply_plan(plan, BaselineStore(root / "baselines"), replace=True)
    assert replaced.replaced == dry.created


def test_an_unreadable_baseline_file_is_reported_and_left_alone(root):
    target = root / "baselines" / "tests" / "test_x.json"
    target.parent.mkdir(parents=True)
    target.write_text('{"schema_version": 1, "tests": {')
    plan = importer.plan_import(
        _run(_bench("tests/test_x.py::test_a")), rootdir=root, source="x.json"
    )
    result = importer.apply_plan(plan, BaselineStore(root / "baselines"), replace=True)
    assert result.created == result.replaced == []
    assert len(result.errors) == 1
    assert "is not valid JSON" in result.errors[0]
    assert target.read_text() == '{"schema_version": 1, "tests": {'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "not valid JSON (line 1"),
        ('{"benchmarks": {}}', "not a pytest-benchmark saved run"),
        ("[]", "not a pytest-benchmark saved run"),
    ],
)
def test_a_file_that_is_not_a_saved_run_is_one_clear_error(tmp_path, capsys, text, message):
    path = tmp_path / "run.json"
    path.write_text(text)
    with pytest.raises(importer.BenchmarkImportError, match=r"run\.json"):
        importer.load_saved_run(path)
    assert main(["import-benchmark", str(path), "--rootdir", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "baselines").exists()


def test_missing_file_and_bad_rootdir_are_clear_errors(tmp_path, capsys):
    assert main(["import-benchmark", str(tmp_path / "nope.json"), "--rootdir", str(tmp_path)]) == 2
    assert "nope.json: cannot be read" in capsys.readouterr().err
    assert main(["import-benchmark", "x.json", "--rootdir", str(tmp_path / "missing")]) == 2
    assert "not a directory" in capsys.readouterr().err


def test_command_succeeds_when_every_name_maps(root, capsys):
    path = root / "run.json"
    path.write_text(json.dumps(_run(_bench("tests/test_x.py::test_a"))))
    args = ["import-benchmark", str(path), "--rootdir", str(root), "--baseline-dir", "perf"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "created: 1" in out
    assert "tests/test_x.py::test_a  benchmark  median 10.00ms  (3 rounds → 3 samples)" in out
    assert (root / "perf" / "tests" / "test_x.json").is_file()


def test_report_says_when_seconds_will_not_be_compared(root):
    plan = importer.plan_import(
        _run(_bench("tests/test_x.py::test_a")), rootdir=root, source="x.json"
    )
    result = importer.ImportResult(created=["tests/test_x.py::test_a"])
    here = render(plan, result, current_machine_id=plan.machine["id"], dry_run=True)
    elsewhere = render(plan, result, current_machine_id="other", dry_run=False)
    assert "this machine: seconds will be compared directly" in here
    assert "would be created: 1" in here
    assert "not this machine" in elsewhere
    assert "SLAs still apply" in elsewhere


def test_a_run_saved_on_this_host_is_taken_as_this_host():
    import os
    import socket

    from pytest_simperf.benchcompat.importer import machine_from_info
    from pytest_simperf.calibration import _cpu_model, host_key

    info = {
        "node": socket.gethostname(),
        "machine": "x86_64",
        "cpu": {"brand_raw": _cpu_model(), "count": os.cpu_count()},
    }
    here = machine_from_info(info)
    assert here["host"] == here["id"] == host_key()
    # Another host name with the same CPU: not this host, whatever the model string says.
    elsewhere = machine_from_info({**info, "node": "another-runner"})
    assert elsewhere["host"] is None and elsewhere["id"] != host_key()
