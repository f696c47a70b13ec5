"""The HTML dashboard: self-contained, safe to embed data in, and really drawn by a browser."""

from __future__ import annotations

import re
import struct
import subprocess
import zlib
from datetime import timedelta
from pathlib import Path

import pytest

from pytest_simperf import history
from pytest_simperf.cli import main
from pytest_simperf.report.html import embed_json, render_dashboard


def test_page_is_self_contained(shared_history):
    page = render_dashboard(history.dashboard_data(shared_history.path))
    assert page.startswith("<!DOCTYPE html>")
    # nothing fetched from anywhere: no external scripts, styles, images or fonts
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "@import" not in page
    assert 'id="simperf-data"' in page


def test_embedded_json_cannot_break_out_of_its_script_tag():
    text = embed_json(
        {"nodeid": "t.py::test_x[</script><script>alert(1)</script>]", "v": float("nan")}
    )
    assert "</script>" not in text
    assert "<" not in text
    assert '"v":null' in text


def test_dashboard_data_describes_components_and_the_latest_run(shared_history):
    data = history.dashboard_data(shared_history.path)
    assert len(data["runs"]) == 24
    assert [r["id"] for r in data["runs"]] == shared_history.run_ids
    assert len(data["components"]) == 2 * 3
    for comp in data["components"]:
        assert [s["year"] for s in comp["series"]] == [2025, 2026, 2027, 2028, 2029]
        for s in comp["series"]:
            assert s["run"] == list(range(24))
            assert len(s["v"]) == len(s["mem"]) == len(s["sla"]) == 24
            assert s["metric"] == "wall" and s["mem_metric"] == "alloc"
    assert data["latest"]["run"]["run_id"] == shared_history.run_ids[-1]
    assert len(data["latest"]["phases"]) == 30
    stepped = [s for c in data["components"] for s in c["series"] if s["step"] is not None]
    assert [s["step"]["run"] for s in stepped] == [shared_history.step_run]
    (marked,) = stepped
    flagged = [i for i, cls in marked["sev"]]
    assert flagged == list(range(shared_history.step_run, 24))  # regression markers from the step
    assert {cls for _, cls in marked["sev"]} <= {"MAJOR", "CRITICAL"}
    assert set(marked["sla"]) <= {"o", "w", "b"}
    assert data["trends"]["steps"] == 1
    limited = history.dashboard_data(shared_history.path, max_runs=5)
    assert [r["id"] for r in limited["runs"]] == shared_history.run_ids[-5:]


# --------------------------------------------------------------------------------------------
# In a real browser
# --------------------------------------------------------------------------------------------


def png_pixels(data: bytes) -> tuple[int, int, list[tuple[int, ...]]]:
    """Decode an 8-bit RGB/RGBA PNG with zlib alone: width, height and every pixel."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    assert header is not None
    width, height, depth, colour_type, _, _, interlace = header
    assert depth == 8 and colour_type in (2, 6) and interlace == 0, header
    bpp = 3 if colour_type == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    pixels: list[tuple[int, ...]] = []
    previous = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            left = line[i - bpp] if i >= bpp else 0
            up = previous[i]
            corner = previous[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                pred = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[i] = (line[i] + pred) & 0xFF
        pixels.extend(tuple(line[i : i + 3]) for i in range(0, stride, bpp))
        previous = line
    return width, height, pixels


def run_chromium(chromium: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        "--window-size=1400,1000",
        "--hide-scrollbars",
        "--virtual-time-budget=5000",
    ]
    return subprocess.run(
        [chromium, *flags, *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_dashboard_renders_in_headless_chromium(chromium, shared_history, tmp_path, capsys):
    out = tmp_path / "dashboard.html"
    assert main(["dashboard", "--history", str(shared_history.path), "--out", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    url = out.resolve().as_uri()

    dom = run_chromium(chromium, tmp_path, "--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    body = re.search(r"<body([^>]*)>", dom.stdout)
    assert body, dom.stdout[:500]
    assert "data-error" not in body.group(1), body.group(1)
    rendered = re.search(r'data-rendered="(\d+)"', body.group(1))
    assert rendered, "the page script did not finish drawing"
    # six components, each: time per run, memory per run, time by simulation year
    assert int(rendered.group(1)) == 18
    points = [int(p) for p in re.findall(r'<canvas[^>]*data-points="(\d+)"', dom.stdout)]
    assert len(points) == 18
    assert all(p > 0 for p in points)
    assert max(points) == 24 * 5  # five year-lines of 24 runs
    assert dom.stdout.count('class="cls cls-CRITICAL"') >= 1  # the stepped phase, coloured

    shot = tmp_path / "dashboard.png"
    done = run_chromium(chromium, tmp_path, f"--screenshot={shot}", url)
    assert done.returncode == 0 and shot.exists(), done.stderr[-2000:]
    width, height, pixels = png_pixels(shot.read_bytes())
    assert (width, height) == (1400, 1000)
    colours = set(pixels)
    assert len(colours) > 200, f"only {len(colours)} colours: the page looks blank"
    white = sum(1 for p in pixels if p == (255, 255, 255))
    assert white < 0.9 * len(pixels)
    counts = {
        name: sum(1 for p in pixels if p == rgb)
        for name, rgb in {
            "2025 line (blue)": (0x1C, 0x7E, 0xD6),
            "2026 line (green)": (0x2F, 0x9E, 0x44),
            "header (navy)": (0x1B, 0x2A, 0x41),
        }.items()
    }
    assert all(n > 20 for n in counts.values()), counts


@pytest.mark.parametrize("kind", [2, 6])
def test_png_decoder_reads_what_zlib_wrote(kind):
    """The decoder the browser test relies on, checked on a PNG with every filter type."""
    width, height, bpp = 5, 5, 3 if kind == 2 else 4
    rows = [
        bytes((x * 40 + y, y * 50, (x * y) % 256, 255)[:bpp] * 1)
        for x in range(width)
        for y in range(height)
    ]
    raw = b""
    expected = []
    for y in range(height):
        line = b"".join(rows[x * height + y] for x in range(width))
        expected.extend(tuple(line[i : i + 3]) for i in range(0, len(line), bpp))
        raw += b"\x00" + line  # filter 0; other filters are exercised by Chromium's own output
    ihdr = struct.pack(">IIBBBBB", width, height, 8, kind, 0, 0, 0)

    def chunk(kind_: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind_
            + body
            + struct.pack(">I", zlib.crc32(kind_ + body))
        )

    png = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )
    assert png_pixels(png) == (width, height, expected)


def _components(dom: str) -> list[tuple[dict[str, str], list[dict[str, str]]]]:
    """Each component card's attributes with its canvases' attributes, in page order."""
    cards = []
    parts = re.split(r'(<div class="component"[^>]*>)', dom)
    for head, body in zip(parts[1::2], parts[2::2], strict=True):
        attrs = dict(re.findall(r'([\w-]+)="([^"]*)"', head))
        canvases = [
            dict(re.findall(r'([\w-]+)="([^"]*)"', c)) for c in re.findall(r"<canvas[^>]*>", body)
        ]
        cards.append((attrs, canvases))
    return cards


def test_the_stepped_component_comes_first_on_an_axis_spanning_both_levels(
    chromium, shared_history, tmp_path
):
    step_test, step_component, _ = shared_history.step_series
    data = history.dashboard_data(shared_history.path)
    (stepped,) = [
        s
        for c in data["components"]
        for s in c["series"]
        if (c["nodeid"], c["phase"], s["year"]) == shared_history.step_series
    ]
    before, after = stepped["step"]["before"], stepped["step"]["after"]
    assert after > 1.4 * before  # the ×1.6 step, as the trend code found it
    page = tmp_path / "dashboard.html"
    page.write_text(render_dashboard(data))
    dom = run_chromium(chromium, tmp_path, "--dump-dom", page.resolve().as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "data-error" not in re.search(r"<body([^>]*)>", dom.stdout).group(1)

    cards = _components(dom.stdout)
    assert len(cards) == 6
    first, canvases = cards[0]
    assert first["data-name"] == f"{step_test} {step_component}".lower()
    assert float(first["data-attention"]) > 40
    assert all(float(a["data-attention"]) < float(first["data-attention"]) for a, _ in cards[1:])
    judged = canvases[0]
    assert judged["data-metric"] == "wall"
    y_min, y_max = float(judged["data-y-min"]), float(judged["data-y-max"])
    assert y_min <= before and y_max >= after
    # scaled to its data (and the SLA just above it), not from zero: the step fills the height
    values = [v for s in data["components"][0]["series"] for v in s["v"]]
    sla = data["components"][0]["sla_s"]
    assert y_max - y_min < 1.6 * (max(*values, sla) - min(values))
    assert y_min > 0
    # the SLA (600 ms) is just above the data: drawn. Memory limits of 1000 MB are noted.
    assert judged["data-limit"] == "drawn"
    assert canvases[1]["data-chart"] == "Peak allocation per run"
    assert canvases[1]["data-limit"] == "noted"
    assert float(canvases[1]["data-y-max"]) < 1000
    assert "memory SLA 1000 MB is above this range" in dom.stdout


def test_plan_changes_instructions_and_production_runs_are_drawn(chromium, make_report, tmp_path):
    """Rows scanned get a chart when a plan changed, instruction counts when recorded, and a
    production run is told apart from test runs."""
    path = tmp_path / "history.duckdb"
    start = history._utcnow().replace(microsecond=0) - timedelta(days=7)
    for i in range(6):
        report = make_report(
            started_at=start + timedelta(hours=i),
            seed=i,
            tests=("t.py::test_pipeline",),
            components={"fct_yearly_events": 0.2},
            years=(2025, 2026),
            slas={},
        )
        for phase in report["tests"][0]["phases"]:
            scanned = 30_000 if i < 4 else 90_000
            phase.update(
                rows_scanned=scanned,
                baseline_rows_scanned=30_000,
                plan_changed=i >= 4,
                instructions=4_000_000 + 10_000 * i,
            )
        if i == 5:
            report["run"].update(kind="production", name="nightly")
        history.record_run(path, report)
    data = history.dashboard_data(path)
    assert [r["kind"] for r in data["runs"]] == ["test"] * 5 + ["production"]
    (comp,) = data["components"]
    assert all(s["plan"] == [4, 5] for s in comp["series"])
    page = tmp_path / "dashboard.html"
    page.write_text(render_dashboard(data))
    dom = run_chromium(chromium, tmp_path, "--dump-dom", page.resolve().as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "data-error" not in re.search(r"<body([^>]*)>", dom.stdout).group(1)
    ((_, canvases),) = _components(dom.stdout)
    titles = [c["data-chart"] for c in canvases]
    assert "Rows scanned per run (plan changes ◆)" in titles
    assert "Instructions per run" in titles
    scanned = canvases[titles.index("Rows scanned per run (plan changes ◆)")]
    assert float(scanned["data-y-min"]) <= 30_000 and float(scanned["data-y-max"]) >= 90_000
    assert "□ production run" in dom.stdout


def test_components_are_ordered_by_their_largest_recent_slowdown(make_report, tmp_path):
    """A regression in the latest run (too new to be a step) outranks an older, smaller step;
    a component that only got faster ranks with the quiet ones."""
    path = tmp_path / "history.duckdb"
    start = history._utcnow().replace(microsecond=0) - timedelta(days=20)
    runs = 16

    def factor(i: int):
        def f(nodeid: str, component: str, year: int | None) -> float:
            if component == "older_step" and i >= 6:
                return 1.25
            if component == "latest_run" and i == runs - 1:
                return 1.7
            if component == "faster" and i >= 6:
                return 0.6
            return 1.0

        return f

    for i in range(runs):
        report = make_report(
            started_at=start + timedelta(days=i),
            seed=i,
            noise=0.01,
            tests=("t.py::test_x",),
            components={"older_step": 0.2, "latest_run": 0.3, "faster": 0.4, "quiet": 0.5},
            years=(None,),
            slas={},
            factor=factor(i),
        )
        history.record_run(path, report)
    comps = history.dashboard_data(path)["components"]
    assert [c["phase"] for c in comps[:2]] == ["latest_run", "older_step"]
    assert "in the latest run" in comps[0]["attention"]["why"]
    assert comps[0]["attention"]["run"] == runs - 1
    assert "step +" in comps[1]["attention"]["why"] and comps[1]["attention"]["run"] == 6
    assert {c["phase"] for c in comps[2:]} == {"faster", "quiet"}
    assert all(c["attention"]["score"] == 0 for c in comps[2:])
