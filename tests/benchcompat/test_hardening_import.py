"""``simperf import-benchmark`` with a saved run whose names point outside the rootdir
(issue 16): listed, never imported, nothing written outside the baseline folder."""

from __future__ import annotations

import json

import pytest

from pytest_simperf.cli import main

TEST_FILE = "def test_a(benchmark):\n    benchmark(lambda: None)\n"


def _saved_run(path, fullnames, *, rows=None):
    benches = [
        {
            "fullname": name,
            "name": "test_a",
            "group": None,
            "stats": {"data": [0.01, 0.011, 0.009], "rounds": 3, "iterations": 1},
            "extra_info": {} if rows is None else {"rows": rows},
        }
        for name in fullnames
    ]
    path.write_text(json.dumps({"machine_info": {}, "benchmarks": benches}))
    return path


def _files(root):
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


@pytest.mark.parametrize("kind", ["dotdot", "absolute"])
def test_a_name_outside_the_rootdir_is_listed_and_nothing_is_written(tmp_path, capsys, kind):
    root, outside = tmp_path / "root", tmp_path / "x"
    root.mkdir()
    outside.mkdir()
    (outside / "test_a.py").write_text(TEST_FILE)  # the file exists: only its place is wrong
    (root / "test_a.py").write_text(TEST_FILE)
    module = "../x/test_a.py" if kind == "dotdot" else str(outside / "test_a.py")
    saved = _saved_run(tmp_path / "0001_run.json", [f"{module}::test_a", "test_a.py::test_a"])
    before = _files(tmp_path)
    code = main(["import-benchmark", str(saved), "--rootdir", str(root)])
    out = capsys.readouterr().out
    assert code == 1  # one benchmark listed as not imported
    assert "names a file outside the rootdir; refused" in out
    assert _files(tmp_path) == sorted([*before, "root/baselines/test_a.json"])
    assert not (outside / "test_a.json").exists() and not (tmp_path / "x.json").exists()


def test_rows_past_the_history_column_are_dropped_not_imported(tmp_path, capsys):
    root = tmp_path / "root"
    root.mkdir()
    (root / "test_a.py").write_text(TEST_FILE)
    saved = _saved_run(tmp_path / "0001_run.json", ["test_a.py::test_a"], rows=10**30)
    assert main(["import-benchmark", str(saved), "--rootdir", str(root)]) == 0
    stored = json.loads((root / "baselines" / "test_a.json").read_text())
    assert "rows" not in stored["tests"]["test_a"]["phases"]["benchmark"]
