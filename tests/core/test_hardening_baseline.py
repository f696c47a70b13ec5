"""Baseline files under bad input (issue 16): every value validated at load, nothing written that
would be refused, no path outside the baseline folder, no lost update, no stray temp file."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest

from pytest_simperf import baseline as b
from pytest_simperf.errors import BaselineError, SimperfWarning

MACHINE = {"id": "m1", "cpu": "x", "cores": 2}


def _file(phase: dict | None = None, **entry: object) -> dict:
    good = {"median_s": 0.1, "samples_s": [0.1, 0.1, 0.1]}
    return {
        "schema_version": b.SCHEMA_VERSION,
        "module": "test_x.py",
        "machines": {},
        "tests": {"test_t": {"phases": {"p": {**good, **(phase or {})}}, **entry}},
    }


def _write(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


# -- item 3: every field the verdict reads, validated once, at load -------------------------------

BAD_PHASE_VALUES = [
    ({"median_s": float("nan")}, "median_s"),
    ({"median_s": float("inf")}, "median_s"),
    ({"median_s": -1}, "median_s"),
    ({"samples_s": [0.1, -0.2]}, "samples_s must be numbers"),
    ({"samples_s": [0.1, float("nan")]}, "samples_s must be numbers"),
    ({"cpu_samples_s": "0.1"}, "cpu_samples_s must be numbers"),
    ({"session_medians": [True]}, "session_medians must be numbers"),
    ({"cpu_s": "0.1"}, "cpu_s must be a finite number"),
    ({"runq_wait_s": -0.001}, "runq_wait_s"),
    ({"peak_alloc_mb": float("inf")}, "peak_alloc_mb"),
    ({"session_spread": "wide"}, "session_spread"),
    ({"rows_scanned": "12"}, "rows_scanned must be a whole number"),
    ({"rows_scanned": -5}, "rows_scanned must be a whole number"),
    ({"intermediate_rows": 1.5}, "intermediate_rows must be a whole number"),
    ({"rows": 2**64}, "rows must be a whole number"),
    ({"year": "2026"}, "year must be an int"),
    ({"instructions": -1}, "instructions must be a whole number"),
    ({"instructions": 1.0e9}, "instructions must be a whole number"),
    ({"instructions_env": {"valgrind": 3}}, "instructions_env must be an object of strings"),
    ({"instructions_env": ["a"]}, "instructions_env must be an object of strings"),
    ({"instructions_complete": "yes"}, "instructions_complete must be true or false"),
]


@pytest.mark.parametrize(("phase", "needle"), BAD_PHASE_VALUES)
def test_a_bad_phase_value_is_one_error_naming_file_entry_and_field(tmp_path, phase, needle):
    path = _write(tmp_path / "x.json", _file(phase))
    with pytest.raises(BaselineError) as info:
        b.load(path)
    message = str(info.value)
    assert "\n" not in message
    assert str(path) in message and "test 'test_t' phase 'p'" in message and needle in message


@pytest.mark.parametrize(
    ("entry", "needle"),
    [
        ({"duckdb_threads": "1"}, "duckdb_threads"),
        ({"duckdb_threads": 0}, "duckdb_threads"),
        ({"cores": "2"}, "cores must be a whole number"),
        ({"machine": 7}, "machine must be a machine id"),
        ({"calibration": {"score_s": 0}}, "calibration score_s"),
        ({"calibration": {"score_s": "fast"}}, "calibration score_s"),
        ({"calibration": {"score_s": 0.1, "samples_s": [float("nan")]}}, "calibration samples_s"),
        ({"calibration": {"score_s": 0.1, "duckdb_s": -1}}, "calibration duckdb_s"),
        ({"calibration": "yesterday"}, "calibration must be an object"),
    ],
)
def test_a_bad_entry_value_is_one_error_naming_the_test(tmp_path, entry, needle):
    path = _write(tmp_path / "x.json", _file(**entry))
    with pytest.raises(BaselineError, match=needle) as info:
        b.load(path)
    assert str(path) in str(info.value) and "test 'test_t'" in str(info.value)


def test_machines_must_be_objects(tmp_path):
    data = _file()
    data["machines"] = {"m1": "laptop"}
    with pytest.raises(BaselineError, match="'machines' must be an object of objects"):
        b.load(_write(tmp_path / "x.json", data))


def test_good_optional_fields_and_nulls_are_accepted(tmp_path):
    phase = {
        "cpu_s": None,
        "rows_scanned": 0,
        "rows": 2**63 - 1,
        "year": 2026,
        "instructions": 12_345_678_901,
        "instructions_env": {"valgrind": "3.22", "python": "3.11.7"},
        "instructions_complete": True,
        "session_spread": 0.0,
    }
    entry = {"duckdb_threads": None, "calibration": {"score_s": 0.1, "samples_s": [0.1, 0.11]}}
    data = b.load(_write(tmp_path / "x.json", _file(phase, **entry)))
    assert data["tests"]["test_t"]["phases"]["p"]["instructions"] == 12_345_678_901


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('{"schema_version": 1, "tests": {}, "x": ' + "9" * 5000 + "}", "cannot be parsed"),
        ("[" * 100_000 + "]" * 100_000, "cannot be parsed"),
        (b"\xff\xfe{}", "cannot be read"),
    ],
)
def test_unparseable_text_is_one_error_naming_the_file(tmp_path, text, needle):
    path = tmp_path / "x.json"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    with pytest.raises(BaselineError, match=needle) as info:
        b.load(path)
    assert str(path) in str(info.value)


def test_value_predicates():
    assert b.is_finite_non_negative(0) and b.is_finite_non_negative(1.5)
    for bad in (True, -1, float("nan"), float("inf"), "1", None, 10**400):
        assert not b.is_finite_non_negative(bad)
    assert b.is_count(0) and b.is_count(2**63 - 1)
    for bad in (-1, 2**63, True, 1.0, "3"):
        assert not b.is_count(bad)
    assert b.is_year(2026) and b.is_year(-(2**31))
    for bad in (2**31, 10**12, False, 2026.0):
        assert not b.is_year(bad)


# -- item 2: a measurement the file would refuse is never written ---------------------------------


def _phase_report(samples: list[float], *, median: float | None = None) -> dict:
    return {
        "name": "r",
        "year": None,
        "samples_s": samples,
        "median_s": samples[0] if median is None else median,
        "cpu_s": None,
    }


def test_flush_refuses_an_entry_load_would_refuse_and_keeps_the_old_file(tmp_path):
    store = b.BaselineStore(tmp_path)
    good = b.phase_entry(_phase_report([0.1, 0.1]), None, add_session=False)
    store.queue("test_x.py::test_t", {"machine": "m1", "phases": {"r": good}}, MACHINE)
    assert store.flush().files_written
    before = (tmp_path / "test_x.json").read_bytes()

    store = b.BaselineStore(tmp_path)
    bad = b.phase_entry(_phase_report([float("nan")] * 3), None, add_session=False)
    store.queue("test_x.py::test_t", {"machine": "m1", "phases": {"r": bad}}, MACHINE)
    summary = store.flush()
    assert summary.files_written == []
    (error,) = summary.errors
    assert "not written" in error and "invalid median_s" in error and "test_x.json" in error
    assert (tmp_path / "test_x.json").read_bytes() == before
    assert b.load(tmp_path / "test_x.json") is not None


def test_flush_reports_an_unwritable_folder_instead_of_raising(tmp_path):
    blocker = tmp_path / "baselines"
    blocker.write_text("a file where the folder should be\n")
    store = b.BaselineStore(blocker)
    entry = {
        "machine": "m1",
        "phases": {"r": b.phase_entry(_phase_report([0.1]), None, add_session=False)},
    }
    store.queue("test_x.py::test_t", entry, MACHINE)
    summary = store.flush()
    assert summary.files_written == []
    assert len(summary.errors) == 1 and "cannot be written" in summary.errors[0]


# -- items 6 and 10: no baseline file outside the folder, none for an empty module --------------


@pytest.mark.parametrize(
    "module", ["../x/test_a.py", "tests/../../test_a.py", "/etc/test_a.py", "", ".."]
)
def test_baseline_path_refuses_modules_that_leave_the_folder_or_name_nothing(tmp_path, module):
    with pytest.raises(BaselineError):
        b.baseline_path(tmp_path / "baselines", module)


def test_baseline_path_maps_ordinary_modules_as_before(tmp_path):
    root = tmp_path / "baselines"
    assert b.baseline_path(root, "tests/perf/test_x.py") == root / "tests/perf/test_x.json"
    assert b.baseline_path(root, "test_x.py") == root / "test_x.json"
    assert b.baseline_path(root, "a.b/test_x.py") == root / "a.b/test_x.json"


def test_a_test_outside_the_rootdir_is_an_error_for_its_entry_not_a_crash(tmp_path):
    store = b.BaselineStore(tmp_path)
    with pytest.raises(BaselineError, match="outside the rootdir"):
        store.entry("::test_x")
    assert store.stale(["", "test_y.py"], known=set()) == []
    store.queue("::test_x", {"machine": "m1", "phases": {}}, MACHINE)
    summary = store.flush()
    assert summary.files_written == [] and "outside the rootdir" in summary.errors[0]


# -- item 8: no lost update when two sessions write the same module -------------------------------


def _session_entry(store: b.BaselineStore, nodeid: str, samples: list[float]) -> dict:
    """What the session queues in add-session mode: pooled onto the entry it read."""
    previous = store.entry(nodeid)
    before = None if previous is None else previous["phases"].get("r")
    phase = b.phase_entry(_phase_report(samples), before, add_session=True)
    return {"machine": "m1", "phases": {"r": phase}}


def test_two_sessions_pooling_at_once_both_land(tmp_path):
    first = b.BaselineStore(tmp_path)
    first.queue("test_x.py::test_t", _session_entry(first, "test_x.py::test_t", [1.0]), MACHINE)
    first.flush()
    # Two add-session runs read the same file, then write one after the other.
    a, c = b.BaselineStore(tmp_path), b.BaselineStore(tmp_path)
    entry_a = _session_entry(a, "test_x.py::test_t", [2.0])
    entry_c = _session_entry(c, "test_x.py::test_t", [3.0])
    a.queue("test_x.py::test_t", entry_a, MACHINE)
    c.queue("test_x.py::test_t", entry_c, MACHINE)
    a.flush()
    c.flush()
    phase = b.load(tmp_path / "test_x.json")["tests"]["test_t"]["phases"]["r"]
    assert phase["session_medians"] == [1.0, 2.0, 3.0]
    assert phase["samples_s"] == [1.0, 2.0, 3.0]
    assert b.OWN_PHASE not in phase


def test_pooling_again_onto_an_unchanged_file_changes_nothing(tmp_path):
    store = b.BaselineStore(tmp_path)
    store.queue("test_x.py::test_t", _session_entry(store, "test_x.py::test_t", [1.0]), MACHINE)
    store.flush()
    again = b.BaselineStore(tmp_path)
    entry = _session_entry(again, "test_x.py::test_t", [2.0, 2.2])
    expected = {k: v for k, v in entry["phases"]["r"].items() if k != b.OWN_PHASE}
    again.queue("test_x.py::test_t", copy.deepcopy(entry), MACHINE)
    again.flush()
    written = b.load(tmp_path / "test_x.json")["tests"]["test_t"]["phases"]["r"]
    assert written == json.loads(b.dumps(expected))


def test_entries_another_session_added_meanwhile_are_kept(tmp_path):
    a, c = b.BaselineStore(tmp_path), b.BaselineStore(tmp_path)
    assert a.entry("test_x.py::test_a") is None and c.entry("test_x.py::test_c") is None
    for store, test in ((a, "test_a"), (c, "test_c")):
        phase = b.phase_entry(_phase_report([0.1]), None, add_session=False)
        store.queue(f"test_x.py::{test}", {"machine": "m1", "phases": {"r": phase}}, MACHINE)
    a.flush()
    summary = c.flush()
    assert sorted(b.load(tmp_path / "test_x.json")["tests"]) == ["test_a", "test_c"]
    assert summary.unchanged == ["test_x.py::test_a"]


def test_the_folder_lock_excludes_another_process_and_times_out_on_an_injected_clock(tmp_path):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import fcntl, os, sys
                fd = os.open({str(tmp_path)!r}, os.O_RDONLY)
                fcntl.flock(fd, fcntl.LOCK_EX)
                print("held", flush=True)
                sys.stdin.read()
                """
            ),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with b.folder_lock(tmp_path, wait=False) as held:
            assert held is False
        ticks = iter(range(0, 1000, 10))
        slept: list[float] = []
        with pytest.raises(BaselineError, match="another process held its lock"):  # noqa: SIM117
            with b.folder_lock(
                tmp_path, timeout_s=30, sleep=slept.append, clock=lambda: float(next(ticks))
            ):
                pass
        assert slept  # it waited (on the injected clock) before giving up
    finally:
        holder.communicate("")
    with b.folder_lock(tmp_path, wait=False) as held:
        assert held is True  # released when its holder went away


# -- item 9: temporary files of killed writes are cleaned up and reported -----------------------


def test_sweep_removes_only_old_temp_files_of_json_targets(tmp_path):
    old = tmp_path / ".test_x.json.ab12_z9q.tmp"
    young = tmp_path / ".test_y.json.cd34efgh.tmp"
    foreign = [
        tmp_path / ".test_x.json.tmp",  # no random part
        tmp_path / "test_x.json.ab12cd34.tmp",  # not hidden
        tmp_path / ".notes.txt.ab12cd34.tmp",  # not a JSON target
        tmp_path / ".test_x.json.AB12CD34.tmp",  # mkstemp never uses capitals
    ]
    for path in (old, young, *foreign):
        path.write_text("{")
    os.utime(old, (1000.0, 1000.0))
    os.utime(young, (1999.5, 1999.5))
    for path in foreign:
        os.utime(path, (1000.0, 1000.0))
    removed = b.sweep_temp_files(tmp_path, min_age_s=1.0, now=lambda: 2000.0)
    assert removed == [old]
    assert young.exists() and all(p.exists() for p in foreign)


def test_sweep_removes_a_young_temp_file_whose_writer_is_dead_and_keeps_a_live_ones(tmp_path):
    dead = tmp_path / ".test_x.json.4242.ab12cd34.tmp"
    live = tmp_path / ".test_y.json.4343.ab12cd34.tmp"
    for path in (dead, live):
        path.write_text("{")
        os.utime(path, (1999.9, 1999.9))
    removed = b.sweep_temp_files(
        tmp_path, min_age_s=60.0, now=lambda: 2000.0, alive=lambda pid: pid == 4343
    )
    assert removed == [dead] and live.exists()
    os.utime(live, (1000.0, 1000.0))  # a writer alive but silent for a long time: its file
    assert b.sweep_temp_files(tmp_path, min_age_s=60.0, now=lambda: 2000.0, alive=bool) == [live]


def test_the_cleanup_report_never_raises_even_under_w_error(tmp_path):
    stray = tmp_path / ".test_x.json.zzzz0000.tmp"
    stray.write_text("{")
    os.utime(stray, (1000.0, 1000.0))
    store = b.BaselineStore(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SimperfWarning)
        assert store.entry("test_x.py::test_t") is None
    assert not stray.exists() and store.cleaned == [str(stray)]


def test_write_atomic_names_its_temp_file_with_its_pid(tmp_path, monkeypatch):
    seen = []
    real_replace = os.replace

    def spy(src, dst):
        seen.append(Path(src).name)
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    b.write_atomic(tmp_path / "test_x.json", "{}\n")
    (name,) = seen
    match = b._TEMP_NAME.fullmatch(name)
    assert match is not None and match.group("pid") == str(os.getpid())


def test_the_store_sweeps_a_folder_when_it_first_reads_it_and_says_so(tmp_path):
    stray = tmp_path / ".test_x.json.zzzz0000.tmp"
    stray.write_text('{"schema_version": 1, "te')
    os.utime(stray, (1000.0, 1000.0))
    store = b.BaselineStore(tmp_path)
    with pytest.warns(SimperfWarning, match="removed 1 temporary file"):
        assert store.entry("test_x.py::test_t") is None
    assert not stray.exists()
    assert store.cleaned == [str(stray)]
    phase = b.phase_entry(_phase_report([0.1]), None, add_session=False)
    store.queue("test_x.py::test_t", {"machine": "m1", "phases": {"r": phase}}, MACHINE)
    assert store.flush().cleaned == [str(stray)]
