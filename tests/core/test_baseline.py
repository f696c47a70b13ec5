"""Baseline files: deterministic text, validation, atomic writes, the update lifecycle."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_simperf import baseline as b
from pytest_simperf.errors import BaselineError

finite = st.floats(min_value=1e-9, max_value=1e6, allow_nan=False, allow_infinity=False)
phase = st.fixed_dictionaries(
    {
        "median_s": finite,
        "samples_s": st.lists(finite, min_size=1, max_size=8),
        "name": st.text(min_size=1, max_size=8),
        "year": st.one_of(st.none(), st.integers(2000, 2100)),
    }
)
files = st.fixed_dictionaries(
    {
        "schema_version": st.just(b.SCHEMA_VERSION),
        "module": st.just("tests/test_x.py"),
        "machines": st.just({}),
        "tests": st.dictionaries(
            st.text(min_size=1, max_size=10),
            st.fixed_dictionaries({"phases": st.dictionaries(st.text(min_size=1), phase)}),
            max_size=4,
        ),
    }
)


@given(files)
def test_dump_load_dump_is_byte_identical(data):
    text = b.dumps(data)
    assert text.endswith("\n")
    again = b.dumps(b.validate(json.loads(text), Path("x.json")))
    assert again == text


def test_floats_are_rounded_to_six_significant_digits():
    assert b.round_floats({"a": [0.123456789, 123456.789]}) == {"a": [0.123457, 123457.0]}
    assert b.round_floats(float("nan")) is None


def test_keys_are_sorted_and_indent_fixed():
    text = b.dumps({"schema_version": 1, "tests": {}, "b": 1, "a": 2})
    assert text.splitlines()[1] == '  "a": 2,'


def test_write_atomic_leaves_old_file_when_interrupted(tmp_path, monkeypatch):
    path = tmp_path / "deep" / "f.json"
    b.write_atomic(path, "old\n")

    def boom(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(KeyboardInterrupt):
        b.write_atomic(path, "new\n")
    assert path.read_text() == "old\n"
    assert [p.name for p in path.parent.iterdir()] == ["f.json"]  # no temp file left behind


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("", "is not valid JSON"),
        ('{"schema_version": 1, "tests": {}', "is not valid JSON (line 1"),
        ("[]", "expected a JSON object"),
        ('{"schema_version": "1", "tests": {}}', "missing or invalid schema_version"),
        ('{"schema_version": 2, "tests": {}}', "unknown schema_version 2"),
        ('{"schema_version": 1, "tests": []}', "'tests' must be an object"),
        ('{"schema_version": 1, "tests": {"t": {}}}', "expected an object with 'phases'"),
        (
            '{"schema_version": 1, "tests": {"t": {"phases": {"p": {"median_s": -1}}}}}',
            "invalid median_s",
        ),
        (
            '{"schema_version": 1, "tests": {"t": {"phases": {"p": {"median_s": 1, '
            '"samples_s": ["x"]}}}}}',
            "samples_s must be numbers",
        ),
    ],
)
def test_load_rejects_bad_files_naming_them(tmp_path, text, needle):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(BaselineError) as info:
        b.load(path)
    assert str(path) in str(info.value) and needle in str(info.value)
    assert path.read_text() == text


def test_missing_file_is_none(tmp_path):
    assert b.load(tmp_path / "nope.json") is None


def test_paths_mirror_the_module():
    assert b.baseline_path(Path("/r/baselines"), "tests/perf/test_x.py") == Path(
        "/r/baselines/tests/perf/test_x.json"
    )
    assert b.module_key("a/b.py::C::t[x-1]") == ("a/b.py", "C::t[x-1]")


def _entry(median: float) -> dict:
    return {"machine": "m1", "phases": {"p": {"median_s": median, "samples_s": [median]}}}


def test_store_lifecycle_created_updated_unchanged_removed(tmp_path):
    store = b.BaselineStore(tmp_path)
    machine = {"id": "m1", "cpu": "x"}
    store.queue("t.py::a", _entry(1.0), machine)
    store.queue("t.py::b", _entry(2.0), machine)
    first = store.flush()
    assert first.created == ["t.py::a", "t.py::b"] and not first.updated
    store2 = b.BaselineStore(tmp_path)
    store2.queue("t.py::a", _entry(1.5), machine)
    second = store2.flush(stale=["t.py::b"])
    assert second.updated == ["t.py::a"]
    assert second.removed == ["t.py::b"]
    data = json.loads((tmp_path / "t.json").read_text())
    assert set(data["tests"]) == {"a"} and data["machines"] == {"m1": machine}


def test_store_refuses_to_overwrite_unreadable_file(tmp_path):
    path = tmp_path / "t.json"
    path.write_text("{broken")
    store = b.BaselineStore(tmp_path)
    store.queue("t.py::a", _entry(1.0), {"id": "m1"})
    summary = store.flush()
    assert summary.errors and "t.json" in summary.errors[0]
    assert path.read_text() == "{broken"


def test_update_starts_afresh_and_add_session_pools():
    prev = {
        "samples_s": [1.0, 1.1, 0.9],
        "cpu_samples_s": [0.8, 0.9, 0.7],
        "session_medians": [1.0, 1.02, 0.98, 1.01],
        "session_cpu_medians": [0.8],
    }
    phase = {
        "name": "p",
        "year": None,
        "samples_s": [2.0, 2.1, 1.9],
        "median_s": 2.0,
        "cpu_samples_s": [1.6, 1.7, 1.5],
        "cpu_s": 1.6,
    }
    fresh = b.phase_entry(phase, prev, add_session=False)
    assert fresh["samples_s"] == [2.0, 2.1, 1.9] and fresh["session_medians"] == [2.0]
    assert "session_spread" not in fresh
    pooled = b.phase_entry(phase, prev, add_session=True)
    assert pooled["samples_s"] == [1.0, 1.1, 0.9, 2.0, 2.1, 1.9]
    assert pooled["cpu_samples_s"] == [0.8, 0.9, 0.7, 1.6, 1.7, 1.5]
    assert pooled["median_s"] == 1.5
    assert pooled["session_medians"][-1] == 2.0 and len(pooled["session_medians"]) == 5
    assert pooled["session_spread"] > 0
    many = {"samples_s": [1.0] * 40, "session_medians": [1.0]}
    assert len(b.phase_entry(phase, many, add_session=True)["samples_s"]) == b.MAX_POOLED_SAMPLES
