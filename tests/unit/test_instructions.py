"""The instruction-count gate's pure parts: comparison, comparability, dump parsing, the child."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_simperf.child import ChildResult, ChildSpec, child_args
from pytest_simperf.instructions import NOISE_PCT, judge_instructions
from pytest_simperf.stats import Thresholds, slowdown_rank
from pytest_simperf.valgrind import (
    DUMP_PREFIX,
    RegionCounter,
    _isa_level,
    child_environment,
    env_mismatch,
    read_dumps,
)

ENV = {
    "allocator": "malloc",
    "arch": "x86_64",
    "isa": "x86-64-v3",
    "python": "CPython 3.11",
    "python_build": "abc",
    "duckdb": "2.0.1",
    "duckdb_threads": "1",
}
T = Thresholds()


def entry(count: int, env: dict[str, str] | None = None) -> dict[str, object]:
    return {"median_s": 1.0, "instructions": count, "instructions_env": env or ENV}


@pytest.mark.parametrize(
    ("factor", "severity"),
    [
        (1.0, "OK"),
        (1.10, "OK"),
        (1.20, "MINOR"),
        (1.40, "MAJOR"),
        (2.0, "CRITICAL"),
        (0.5, "IMPROVED"),
    ],
)
def test_classes_follow_the_thresholds_exactly(factor, severity):
    result = judge_instructions(int(1_000_000 * factor), entry(1_000_000), ENV, T)
    assert result is not None
    assert result.severity == severity
    assert result.change_pct == pytest.approx((factor - 1) * 100, abs=1e-3)


@given(st.integers(min_value=1, max_value=10**13))
def test_identical_counts_never_regress(count):
    result = judge_instructions(count, entry(count), ENV, T)
    assert result is not None and result.severity == "OK" and result.change_pct == 0


@given(
    st.integers(min_value=1, max_value=10**12),
    st.integers(min_value=0, max_value=10**12),
    st.integers(min_value=0, max_value=10**12),
)
def test_the_class_never_falls_as_the_count_grows(base, a, b):
    low, high = sorted((a, b))
    first = judge_instructions(low, entry(base), ENV, T)
    second = judge_instructions(high, entry(base), ENV, T)
    assert first is not None and second is not None
    assert slowdown_rank(str(first.severity)) <= slowdown_rank(str(second.severity))


@given(st.floats(min_value=-0.99 * NOISE_PCT, max_value=0.99 * NOISE_PCT))
def test_counting_noise_is_ok_even_with_tiny_thresholds(change_pct):
    tiny = Thresholds(0.001, 0.002, 0.003)
    count = round(10**9 * (1 + change_pct / 100))
    result = judge_instructions(count, entry(10**9), ENV, tiny)
    assert result is not None and result.severity == "OK"


def test_missing_sides_and_other_environments_are_said_not_judged():
    assert judge_instructions(None, {"median_s": 1.0}, ENV, T) is None
    no_count = judge_instructions(None, entry(10), ENV, T, note="valgrind is not installed")
    assert no_count is not None and no_count.severity is None
    assert "valgrind is not installed" in no_count.why
    new = judge_instructions(10, {"median_s": 1.0}, ENV, T)
    assert new is not None and new.severity is None and "--simperf-instructions" in new.why
    other = judge_instructions(30, entry(10), {**ENV, "python": "CPython 3.12"}, T)
    assert other is not None and other.severity is None
    assert "python CPython 3.11 → CPython 3.12" in other.why


def test_environment_keys_that_decide_comparability():
    assert env_mismatch(ENV, dict(ENV)) is None
    for key in ENV:
        assert env_mismatch(ENV, {**ENV, key: "other"}) is not None
    # The host is not part of it: counts are compared whatever the machine's speed or load.
    assert env_mismatch({**ENV, "host": "a"}, {**ENV, "host": "b"}) is None


def test_isa_level_from_cpu_flags():
    v2 = {"cx16", "lahf_lm", "popcnt", "sse4_1", "sse4_2", "ssse3"}
    v3 = v2 | {"avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "movbe", "xsave"}
    assert _isa_level(set()) == "x86-64"
    assert _isa_level(v2) == "x86-64-v2"
    assert _isa_level(v3) == "x86-64-v3"
    assert _isa_level(v3 | {"avx512f"}) == "x86-64-v3"  # valgrind emulates no AVX-512


def _dump(folder: Path, name: str, trigger: str, count: int) -> None:
    (folder / name).write_text(
        "# callgrind format\nversion: 1\ncreator: callgrind-3.19.0\npart: 1\n\n"
        "desc: I1 cache: \ndesc: Timerange: Basic block 0 - 1\n"
        f"desc: Trigger: Client Request: {trigger}\n\npositions: line\nevents: Ir\n"
        f"summary: {count}\n\n\nob=(1) /x.so\nfn=(1) f\n1 {count}\n\ntotals: {count}\n",
        encoding="utf-8",
    )


def test_read_dumps_adds_each_interval_to_every_open_region(tmp_path):
    _dump(tmp_path, "callgrind.10.1", DUMP_PREFIX + "1", 100)  # outer alone
    _dump(tmp_path, "callgrind.10.2", DUMP_PREFIX + "1,2", 40)  # inner, inside outer
    _dump(tmp_path, "callgrind.10.3", DUMP_PREFIX + "1", 5)
    _dump(tmp_path, "callgrind.10.4", "someone-else", 999)  # not ours
    _dump(tmp_path, "callgrind.11.1-01", DUMP_PREFIX + "3", 70)  # the measuring thread
    _dump(tmp_path, "callgrind.11.1-02", DUMP_PREFIX + "3", 9)  # an idle DuckDB worker polling
    (tmp_path / "callgrind.10").write_text("desc: Trigger: Program termination\n")
    (tmp_path / "result.json").write_text("{}")
    assert read_dumps(tmp_path) == {1: 145, 2: 40, 3: 70}


class Requests:
    def __init__(self):
        self.log = []

    def start(self):
        self.log.append("start")

    def stop(self):
        self.log.append("stop")

    def dump(self, name):
        self.log.append(name)


def test_region_counter_dumps_at_every_boundary_and_instruments_only_inside():
    requests = Requests()
    counter = RegionCounter(requests)  # type: ignore[arg-type]
    with counter.region("outer") as outer:
        with counter.region("inner"):
            pass
        dropped = counter.open("dropped")
        counter.discard(dropped)
    assert requests.log == [
        "start",
        "simperf:1",  # outer alone, before inner opened
        "simperf:1,2",  # inner (and outer)
        "simperf:1",
        "simperf:1,3",  # the dropped region's interval; its id is forgotten
        "simperf:1",
        "stop",
    ]
    assert counter.regions == {outer: "outer", 2: "inner"}


def test_child_command_repeats_the_invocation_and_counts_per_module(tmp_path):
    invocation = [
        "tests/perf",
        "-p",
        "pytest_simperf.plugin",
        "--benchmark-timer=fake.clock",
        "--basetemp",
        "/tmp/mine",
        "--junitxml=out.xml",
        "--pdb",
        "-k",
        "pipeline",
        "--simperf-update-baseline",
    ]
    spec = ChildSpec(
        python="/py",
        cwd=tmp_path / "here",
        rootdir=tmp_path,
        inifile=tmp_path / "pyproject.toml",
        args=child_args(invocation, ["tests/perf"]),
        xdist=True,
    )
    command = spec.command(["t/a.py::x", "t/a.py::y[1]", "t/b.py::z"], tmp_path / "out")
    assert command[:5] == [
        "/py",
        "-m",
        "pytest",
        str(tmp_path / "t/a.py"),
        str(tmp_path / "t/b.py"),
    ]
    assert "tests/perf" not in command
    # What the tests need travels; what would write the user's files or stop does not.
    for kept in ("pytest_simperf.plugin", "--benchmark-timer=fake.clock", "pipeline"):
        assert kept in command
    for dropped in ("/tmp/mine", "--junitxml=out.xml", "--pdb", "--simperf-update-baseline"):
        assert dropped not in command
    assert command[command.index("--basetemp") + 1] == str(tmp_path / "out" / "basetemp")
    assert command[command.index("-c") + 1] == str(tmp_path / "pyproject.toml")
    assert f"cache_dir={tmp_path / 'out' / 'cache'}" in command
    assert command[command.index("-n") + 1] == "0"  # no xdist workers in a child
    assert command[-2:] == ["--simperf-child", str(tmp_path / "out")]


def test_child_environment_fixes_hash_seed_and_allocator_only_to_count():
    base = {"PATH": "/bin", "PYTEST_XDIST_WORKER": "gw0", "PYTHONHASHSEED": "9"}
    counting = child_environment(base, counting=True)
    assert counting == {"PATH": "/bin", "PYTHONHASHSEED": "0", "PYTHONMALLOC": "malloc"}
    # A child confirming a time runs as the parent did: same allocator, same hashing.
    assert child_environment(base, counting=False) == {"PATH": "/bin", "PYTHONHASHSEED": "9"}


def test_child_result_reports_counts_and_why_they_are_missing():
    result = ChildResult(
        tests={
            "t.py::ok": {"outcome": "passed", "instructions": {"p@2025": [10, 12, 11]}},
            "t.py::bad": {"outcome": "failed", "error": "AssertionError", "instructions": {}},
        },
        env={},
    )
    assert result.instructions("t.py::ok") == ({"p@2025": [10, 12, 11]}, None)
    counts, note = result.instructions("t.py::bad")
    assert counts == {} and note is not None and "failed: AssertionError" in note
    assert result.instructions("t.py::gone")[1] == "the counting run did not run this test"
    failed = ChildResult({}, {}, error="valgrind crashed")
    assert failed.instructions("t.py::ok") == ({}, "valgrind crashed")
