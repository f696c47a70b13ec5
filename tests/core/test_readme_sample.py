"""The README's first code sample runs as pasted: recorded, then compared, and it passes.

A newcomer's first hour starts by pasting it; a sample that names tables nobody creates fails
there. The sample is read from README.md, so this test follows any edit to it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
SECTION = "## Install in your project"


def first_python_block(text: str, after: str) -> str:
    """The first fenced ```python block after the heading ``after``, within its section."""
    start = text.index(after)
    following = text.find("\n## ", start + len(after))
    section = text[start : following if following != -1 else len(text)]
    found = re.search(r"^```python\n(.*?)^```$", section, flags=re.S | re.M)
    if found is None:
        raise AssertionError(f"README.md: no ```python block in section {after!r}")
    return found.group(1)


def test_the_section_has_a_python_sample():
    code = first_python_block(README.read_text(encoding="utf-8"), SECTION)
    compile(code, "README.md", "exec")
    assert "def test_" in code


def test_readme_sample_records_then_passes(pytester: pytest.Pytester):
    code = first_python_block(README.read_text(encoding="utf-8"), SECTION)
    pytester.makepyfile(test_readme=code)
    # In a fresh interpreter, so the plugin loads through its entry point as it does for a user;
    # the user's plain commands, plus no cache folder and no hypothesis plugin (2 s to load).
    quiet = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest")
    recorded = pytester.runpytest_subprocess(*quiet, "--simperf-update-baseline")
    recorded.assert_outcomes(passed=2)
    assert (pytester.path / "baselines" / "test_readme.json").is_file()
    compared = pytester.runpytest_subprocess(*quiet, "--simperf")
    compared.assert_outcomes(passed=2)
    compared.stdout.fnmatch_lines(
        [
            "*test_readme.py::test_multi_year*yearly_events@2027*",
            "*test_readme.py::test_rollup*measure*",
            "2 performance test(s), 0 failed",
        ]
    )
    # Without --simperf the sample runs once, unmeasured, as the README says next.
    plain = pytester.runpytest_subprocess(*quiet)
    plain.assert_outcomes(passed=2)
    plain.stdout.fnmatch_lines(["pytest-simperf: 2 performance tests selected, run once*"])
