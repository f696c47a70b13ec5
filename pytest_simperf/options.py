"""Command-line options, their ini twins, and the one frozen ``Settings`` they resolve to.

Every option with an ini twin defaults to ``None`` on the command line, so that an ini value is
used when the flag is absent and the flag wins when present (the trap pytest-memray fell into
with flags defaulting to ``False``). Values are validated once, here, and a bad one raises
``UsageError`` naming the option or ini key it came from. This module does not import pytest:
the parser and config are passed in and used through their public methods only.

It does not import ``stats`` at module level either: the plugin reads the options at every pytest
start, and ``Thresholds`` (hence ``stats``) is needed only once settings are actually built.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from pytest_simperf.errors import UsageError

if TYPE_CHECKING:
    from pytest_simperf.stats import Thresholds

FAIL_ON_CHOICES = ("MINOR", "MAJOR", "CRITICAL", "never")
# Upper bounds for the rounds of one measure() call, as option, ini value or marker argument.
# Past them a typo (an extra zero, 10**12) would hang the run or write a baseline of millions of
# samples; 10,000 timed rounds already pin a median far below any threshold's resolution, and
# a region that needs more than 100 warm-up rounds is not warming up.
MAX_ROUNDS = 10_000
MAX_WARMUP = 100
# DuckDB accepts any thread count and then aborts the whole process (std::bad_alloc) at the next
# query when it cannot start them (2**31 - 1 did, here); 1,024 was measured to work.
MAX_DUCKDB_THREADS = 1024
DEFAULT_MEMORY_THRESHOLDS = "25,50,100"


def thresholds_percent(thresholds: Thresholds) -> list[float]:
    """Thresholds as the percentages users typed (for reports and history)."""
    values = (thresholds.minor, thresholds.major, thresholds.critical)
    return [round(value * 100, 6) for value in values]


class _Config(Protocol):
    @property
    def rootpath(self) -> Path: ...

    def getoption(self, name: str) -> Any: ...

    def getini(self, name: str) -> Any: ...


@dataclasses.dataclass(frozen=True)
class ComponentSla:
    """An SLA for one component (a phase name or dbt model), from configuration."""

    seconds: float | None = None
    warning_seconds: float | None = None
    memory_mb: float | None = None
    rows_per_second: float | None = None

    def to_json(self) -> dict[str, float | None]:
        return dataclasses.asdict(self)


def _thresholds(text: str | None, source: str) -> Thresholds:
    """Parse thresholds text (``None``: the defaults); imports ``stats`` on first use."""
    from pytest_simperf.stats import Thresholds

    return Thresholds.parse(text, source=source) if text else Thresholds()


@dataclasses.dataclass(frozen=True)
class Settings:
    """Everything the plugin needs to know about this session's options, resolved once."""

    enabled: bool = False
    # Without ``--simperf``: skip perf tests (``--simperf-skip``) instead of running each once,
    # unmeasured, with its assertions (the default).
    skip: bool = False
    update_baseline: bool = False
    add_session: bool = False
    baseline_dir: Path = Path("baselines")
    fail_on: str = "MINOR"
    thresholds: Thresholds = dataclasses.field(default_factory=lambda: _thresholds(None, ""))
    memory_thresholds: Thresholds = dataclasses.field(
        default_factory=lambda: _thresholds(DEFAULT_MEMORY_THRESHOLDS, "default")
    )
    json_path: Path | None = None
    markdown_path: Path | None = None
    history_path: Path | None = None
    rounds: int = 7
    warmup: int = 1
    quick: bool = False
    confirm: bool = True
    duckdb_threads: int | None = 1
    calibrate: bool = True
    growth_pct: float = 10.0
    component_slas: Mapping[str, ComponentSla] = dataclasses.field(default_factory=dict)
    # Count instructions per region under valgrind (a gate that holds on any host).
    instructions: bool = False
    # Set in a child process (``child``): the folder holding its request and result.
    child_dir: Path | None = None

    def options_json(self) -> dict[str, Any]:
        """The options worth recording with a run (history, JSON report)."""
        return {
            "fail_on": self.fail_on,
            "thresholds": thresholds_percent(self.thresholds),
            "memory_thresholds": thresholds_percent(self.memory_thresholds),
            "update_baseline": self.update_baseline,
            "quick": self.quick,
            "rounds": self.rounds,
            "warmup": self.warmup,
            "confirm": self.confirm,
            "duckdb_threads": self.duckdb_threads,
            "calibration": self.calibrate,
            "instructions": self.instructions,
        }


# name, ini type, help; the command-line flag is "--" + name with "_" -> "-".
_INI: tuple[tuple[str, str, str], ...] = (
    ("simperf", "bool", "run performance tests and compare them with baselines"),
    ("simperf_skip", "bool", "without --simperf, skip perf tests (default: run each once)"),
    ("simperf_baseline_dir", "string", "folder of baseline JSON files (default: baselines)"),
    ("simperf_fail_on", "string", "lowest regression class that fails a test"),
    ("simperf_thresholds", "string", "slowdown % for MINOR,MAJOR,CRITICAL (default 15,30,50)"),
    ("simperf_memory_thresholds", "string", "memory growth % for MINOR,MAJOR,CRITICAL"),
    ("simperf_json", "string", "write a JSON report to this path"),
    ("simperf_markdown", "string", "write a Markdown summary to this path"),
    ("simperf_history", "string", "history database path, or 'off'"),
    ("simperf_rounds", "string", "timed rounds per measure() call (default 7)"),
    ("simperf_warmup", "string", "warm-up rounds per measure() call (default 1)"),
    ("simperf_duckdb_threads", "string", "DuckDB threads for measured connections, or 'auto'"),
    ("simperf_growth_pct", "string", "memory growth %/year that flags a multi-year trend"),
    ("simperf_calibration", "string", "on (default) or off: calibrate machine speed per session"),
    ("simperf_instructions", "bool", "count instructions per region under valgrind (on/off)"),
    ("simperf_sla", "linelist", "component SLAs: 'name = seconds [warning=S] [memory_mb=M]'"),
)


def add_options(parser: Any) -> None:
    """Register the core options and ini keys in the ``simperf`` group."""
    group = parser.getgroup("simperf", "performance regression gates (pytest-simperf)")
    group.addoption(
        "--simperf",
        action="store_true",
        default=None,
        help="run performance tests (marked sla/simperf or using the simperf fixture) and "
        "compare them with committed baselines; without it each runs once, unmeasured, with its "
        "assertions (see --simperf-skip)",
    )
    group.addoption(
        "--simperf-skip",
        action="store_true",
        default=None,
        help="without --simperf, skip performance tests instead of running each once, "
        "unmeasured (ini: simperf_skip)",
    )
    group.addoption(
        "--simperf-update-baseline",
        action="store_true",
        default=False,
        help="(re)record baselines for the performance tests that run (implies --simperf)",
    )
    group.addoption(
        "--simperf-add-baseline-session",
        action="store_true",
        default=False,
        help="like --simperf-update-baseline, but pool this session into the existing entries "
        "(rounds and per-session medians), so verdicts learn the noise between sessions",
    )
    group.addoption(
        "--simperf-baseline-dir",
        default=None,
        metavar="DIR",
        help="folder of baseline files, relative to rootdir (default: baselines)",
    )
    group.addoption(
        "--simperf-fail-on",
        default=None,
        metavar="CLASS",
        help="lowest class that fails a test: MINOR, MAJOR, CRITICAL or never (default: MINOR)",
    )
    group.addoption(
        "--simperf-thresholds",
        default=None,
        metavar="P1,P2,P3",
        help="percent slowdown for MINOR,MAJOR,CRITICAL (default: 15,30,50)",
    )
    group.addoption(
        "--simperf-memory-thresholds",
        default=None,
        metavar="P1,P2,P3",
        help=f"percent memory growth for MINOR,MAJOR,CRITICAL "
        f"(default: {DEFAULT_MEMORY_THRESHOLDS})",
    )
    group.addoption(
        "--simperf-json", default=None, metavar="PATH", help="write a machine-readable JSON report"
    )
    group.addoption(
        "--simperf-markdown",
        default=None,
        metavar="PATH",
        help="write a Markdown summary (for a CI job summary or PR comment)",
    )
    group.addoption(
        "--simperf-history",
        default=None,
        metavar="PATH",
        help="append the run to this DuckDB history file "
        "(default: .simperf/history.duckdb; 'off' to disable)",
    )
    group.addoption(
        "--simperf-rounds",
        default=None,
        metavar="N",
        help="timed rounds per simperf.measure() call (default: 7)",
    )
    group.addoption(
        "--simperf-warmup",
        default=None,
        metavar="N",
        help="warm-up rounds per simperf.measure() call (default: 1)",
    )
    group.addoption(
        "--simperf-quick",
        action="store_true",
        default=False,
        help="fewer rounds and no confirmation reruns: for a quick local look, not for a CI gate",
    )
    group.addoption(
        "--simperf-duckdb-threads",
        default=None,
        metavar="N|auto",
        help="DuckDB threads on measured connections (default: 1, for stable "
        "timings; 'auto' leaves DuckDB's default)",
    )
    group.addoption(
        "--simperf-growth-pct",
        default=None,
        metavar="PCT",
        help="flag memory growing more than PCT%% per simulation year (default: 10)",
    )
    group.addoption(
        "--simperf-calibration",
        default=None,
        metavar="on|off",
        help="run a short calibration workload per session so timings are compared through "
        "the machine's current speed (default: on; off compares raw seconds on the same "
        "machine and only counters across machines)",
    )
    group.addoption(
        "--simperf-instructions",
        action="store_true",
        default=None,
        help="also count the instructions of every measured region under valgrind (in a child "
        "process) and gate on them: the same count on any host, at any load",
    )
    group.addoption(
        "--simperf-child",
        default=None,
        metavar="DIR",
        help="internal: run as pytest-simperf's counting or confirmation child process",
    )
    for name, kind, help_text in _INI:
        parser.addini(name, help_text, type=kind, default=None)


def _pick(config: _Config, name: str) -> tuple[Any, str]:
    """Return (value, source): the command-line value if given, else the ini value."""
    flag = "--" + name.replace("_", "-")
    value = config.getoption(name)
    if value is not None and value is not False:
        return _no_nul(value, flag), flag
    try:
        ini_value = config.getini(name)
    except Exception as exc:
        # pytest's own conversion of a "bool" ini key names no key ("invalid truth value
        # 'maybe'"): a ValueError before pytest 9, its UsageError since.
        raise UsageError(f"ini option {name}: {exc}") from None
    if ini_value not in (None, "", []):
        return _no_nul(ini_value, f"ini option {name}"), f"ini option {name}"
    return None, flag


def _no_nul(value: Any, source: str) -> Any:
    """Refuse a NUL character: every value here may become a path, and the OS would refuse it
    later, at the end of the session, with a ``ValueError`` naming no option."""
    if isinstance(value, str) and "\x00" in value:
        raise UsageError(f"{source}: contains a NUL character")
    return value


def _positive_int(value: Any, source: str, *, minimum: int, maximum: int | None = None) -> int:
    text = str(value).strip()
    if len(text) > 30:  # int() of thousands of digits is slow, and no count here is that long
        raise UsageError(f"{source}: expected a whole number, got {text[:30]!r}…")
    try:
        number = int(text)
    except ValueError:
        raise UsageError(f"{source}: expected a whole number, got {value!r}") from None
    if number < minimum:
        raise UsageError(f"{source}: must be at least {minimum}, got {number}")
    if maximum is not None and number > maximum:
        raise UsageError(f"{source}: must be at most {maximum:,}, got {number:,}")
    return number


def _positive_float(value: Any, source: str) -> float:
    """A finite number > 0. ``inf`` is refused like the markers refuse it: an infinite SLA or
    growth limit is no limit, and ``float('inf')`` would otherwise slip through ``> 0``."""
    try:
        number = float(str(value).strip())
    except (ValueError, OverflowError):
        raise UsageError(f"{source}: expected a number, got {value!r}") from None
    if not number > 0:
        raise UsageError(f"{source}: must be greater than 0, got {value!r}")
    if number == float("inf"):
        raise UsageError(f"{source}: must be finite, got {value!r}")
    return number


def _bool(value: Any, source: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise UsageError(f"{source}: expected true or false, got {value!r}")


def parse_fail_on(value: Any, source: str) -> str:
    """Normalise a fail-on class; case-insensitive, 'never' disables regression failures."""
    text = str(value).strip()
    for choice in FAIL_ON_CHOICES:
        if text.lower() == choice.lower():
            return choice
    raise UsageError(f"{source}: expected one of {', '.join(FAIL_ON_CHOICES)}, got {value!r}")


def parse_threads(value: Any, source: str) -> int | None:
    """``auto`` means leave DuckDB's own default (all cores); otherwise a count ≥ 1."""
    if str(value).strip().lower() == "auto":
        return None
    return _positive_int(value, source, minimum=1, maximum=MAX_DUCKDB_THREADS)


def _parse_sla_line(line: str, source: str) -> tuple[str, ComponentSla]:
    """Parse ``name = seconds [warning=S] [memory_mb=M] [rows_per_second=R]``."""
    name, sep, rest = line.partition("=")
    name = name.strip()
    if not sep or not name or not rest.strip():
        raise UsageError(f"{source}: expected 'component = seconds [key=value ...]', got {line!r}")
    fields: dict[str, float] = {}
    for index, token in enumerate(rest.split()):
        key, eq, raw = token.partition("=")
        if not eq:
            if index != 0:
                raise UsageError(f"{source}: {line!r}: expected key=value, got {token!r}")
            key, raw = "seconds", token
        key = {"warning": "warning_seconds", "memory": "memory_mb"}.get(key, key)
        if key not in _SLA_KEYS:
            raise UsageError(
                f"{source}: {line!r}: unknown key {key!r} (expected {', '.join(_SLA_KEYS)})"
            )
        fields[key] = _positive_float(raw, f"{source}: {name}.{key}")
    return name, _component_sla(fields, f"{source}: {name}")


_SLA_KEYS = tuple(f.name for f in dataclasses.fields(ComponentSla))


def _component_sla(fields: Mapping[str, Any], source: str) -> ComponentSla:
    unknown = sorted(set(fields) - set(_SLA_KEYS))
    if unknown:
        raise UsageError(f"{source}: unknown key(s) {unknown} (expected {', '.join(_SLA_KEYS)})")
    values = {key: _positive_float(value, f"{source}.{key}") for key, value in fields.items()}
    sla = ComponentSla(**values)
    if (
        sla.seconds is not None
        and sla.warning_seconds is not None
        and sla.warning_seconds > sla.seconds
    ):
        raise UsageError(f"{source}: warning_seconds ({sla.warning_seconds}) exceeds seconds")
    return sla


def load_pyproject_slas(path: Path) -> dict[str, ComponentSla]:
    """Read ``[tool.simperf.sla]`` from pyproject.toml: name = seconds, or a table of fields."""
    if not path.is_file():
        return {}
    import tomllib  # only when a pyproject.toml exists: keeps plugin start-up lean

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot parse TOML: {exc}") from None
    table = data.get("tool", {}).get("simperf", {}).get("sla", {})
    if not isinstance(table, dict):
        raise UsageError(f"{path}: [tool.simperf.sla] must be a table")
    slas: dict[str, ComponentSla] = {}
    for name, value in table.items():
        source = f"{path} [tool.simperf.sla] {name}"
        if isinstance(value, dict):
            slas[name] = _component_sla(value, source)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            slas[name] = _component_sla({"seconds": value}, source)
        else:
            raise UsageError(f"{source}: expected seconds or a table, got {value!r}")
    return slas


class OptionValues:
    """Every option and ini value, validated, before the ``Settings`` are built.

    Reading them is cheap and happens at every pytest start, so a bad value is a usage error at
    once. Building ``Settings`` needs the default ``Thresholds`` (``stats``), which a run without
    ``--simperf`` and without a performance test never needs: the plugin builds them on demand.
    Thresholds given as options or ini values are parsed here (imports ``stats``), so their errors
    are not delayed either. (A plain class: defining a dataclass costs time at every start too.)
    """

    __slots__ = ("fields",)

    def __init__(self, fields: Mapping[str, Any]) -> None:
        self.fields = fields

    @property
    def enabled(self) -> bool:
        """``--simperf``, its ini twin, or a baseline update: perf tests run this session."""
        return bool(self.fields["enabled"])

    @property
    def skip(self) -> bool:
        """``--simperf-skip`` or its ini twin, and perf tests are not measured: skip them."""
        return bool(self.fields["skip"]) and not self.enabled

    def settings(self) -> Settings:
        fields = dict(self.fields)
        if fields.get("thresholds") is None:
            fields["thresholds"] = _thresholds(None, "")
        if fields.get("memory_thresholds") is None:
            fields["memory_thresholds"] = _thresholds(DEFAULT_MEMORY_THRESHOLDS, "default")
        return Settings(**fields)


def resolve_settings(config: _Config) -> Settings:
    """Turn options and ini values into a validated ``Settings`` (raises ``UsageError``)."""
    return read_options(config).settings()


def read_options(config: _Config) -> OptionValues:
    """Validate options and ini values (raises ``UsageError``) without building ``Settings``."""
    getters: dict[str, Callable[[], tuple[Any, str]]] = {
        name: functools.partial(_pick, config, name) for name, _, _ in _INI
    }
    add_session = bool(config.getoption("simperf_add_baseline_session"))
    update = bool(config.getoption("simperf_update_baseline")) or add_session
    enabled_value, enabled_source = getters["simperf"]()
    enabled = update or (enabled_value is not None and _bool(enabled_value, enabled_source))
    quick = bool(config.getoption("simperf_quick"))
    skip_value, skip_source = getters["simperf_skip"]()
    skip = skip_value is not None and _bool(skip_value, skip_source)

    value, source = getters["simperf_baseline_dir"]()
    baseline_dir = config.rootpath / (str(value) if value else "baselines")

    value, source = getters["simperf_fail_on"]()
    fail_on = parse_fail_on(value, source) if value is not None else "MINOR"

    value, source = getters["simperf_thresholds"]()
    thresholds = _thresholds(str(value), source) if value else None

    value, source = getters["simperf_memory_thresholds"]()
    memory_thresholds = _thresholds(str(value), source) if value else None

    def _path(name: str) -> Path | None:
        raw, _ = getters[name]()
        return config.rootpath / str(raw) if raw else None

    value, source = getters["simperf_history"]()
    if value is None:
        history_path: Path | None = config.rootpath / ".simperf" / "history.duckdb"
    elif str(value).strip().lower() in ("off", "none", "false", "0"):
        history_path = None
    else:
        history_path = config.rootpath / str(value)

    value, source = getters["simperf_rounds"]()
    rounds = (
        _positive_int(value, source, minimum=1, maximum=MAX_ROUNDS)
        if value is not None
        else (3 if quick else 7)
    )
    value, source = getters["simperf_warmup"]()
    warmup = _positive_int(value, source, minimum=0, maximum=MAX_WARMUP) if value is not None else 1
    value, source = getters["simperf_duckdb_threads"]()
    threads = parse_threads(value, source) if value is not None else 1
    value, source = getters["simperf_growth_pct"]()
    growth_pct = _positive_float(value, source) if value is not None else 10.0

    value, source = getters["simperf_calibration"]()
    calibrate = _bool(value, source) if value is not None else True

    value, source = getters["simperf_instructions"]()
    instructions = _bool(value, source) if value is not None else False
    child = config.getoption("simperf_child")
    child_dir = Path(child) if child else None

    slas = load_pyproject_slas(config.rootpath / "pyproject.toml")
    lines = config.getini("simperf_sla") or []
    for line in lines:
        if line.strip() and not line.strip().startswith("#"):
            name, sla = _parse_sla_line(line.strip(), "ini option simperf_sla")
            slas[name] = sla

    fields: dict[str, Any] = {
        "enabled": enabled,
        "skip": skip and not enabled,
        "update_baseline": update,
        "add_session": add_session,
        "baseline_dir": baseline_dir,
        "fail_on": fail_on,
        "thresholds": thresholds,
        "memory_thresholds": memory_thresholds,
        "json_path": _path("simperf_json"),
        "markdown_path": _path("simperf_markdown"),
        "history_path": history_path,
        "rounds": rounds,
        "warmup": warmup,
        "quick": quick,
        "confirm": not quick,
        "duckdb_threads": threads,
        "growth_pct": growth_pct,
        "calibrate": calibrate,
        "component_slas": slas,
        "instructions": instructions,
        "child_dir": child_dir,
    }
    if child_dir is not None:
        # A child measures and reports; it never judges, records or writes anything of its own.
        fields.update(
            enabled=True,
            update_baseline=False,
            add_session=False,
            json_path=None,
            markdown_path=None,
            history_path=None,
            confirm=False,
            calibrate=False,
            instructions=False,
        )
    return OptionValues(fields)
