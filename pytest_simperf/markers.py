"""The ``sla`` and ``simperf`` markers, parsed strictly into frozen dataclasses.

Parsing is separate from pytest so that every rule (negative seconds, unknown keyword, warning
outside (0, 1]) has a plain unit test; the plugin calls these at collection and turns a
``UsageError`` into an error naming the test. The plugin imports this module only when a test
carries one of these markers (the signatures pytest lists live in the plugin), and ``stats`` only
to parse thresholds.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pytest_simperf.errors import UsageError
from pytest_simperf.options import MAX_ROUNDS, MAX_WARMUP, ComponentSla, Settings, parse_fail_on

if TYPE_CHECKING:
    from pytest_simperf.stats import Thresholds


@dataclasses.dataclass(frozen=True)
class SlaMarker:
    """One ``@pytest.mark.sla(...)``."""

    seconds: float | None = None
    memory_mb: float | None = None
    rows_per_second: float | None = None
    warning: float = 0.8
    phase: str | None = None


@dataclasses.dataclass(frozen=True)
class EffectiveSla:
    """The limits that apply to one measured region, and where they came from."""

    seconds: float | None
    warning_seconds: float | None
    memory_mb: float | None
    warning_memory_mb: float | None
    rows_per_second: float | None
    warning: float
    source: str

    @property
    def empty(self) -> bool:
        return self.seconds is None and self.memory_mb is None and self.rows_per_second is None


@dataclasses.dataclass(frozen=True)
class TestOptions:
    """Per-test settings after applying a ``simperf`` marker over the session settings."""

    __test__ = False  # not a pytest test class, whatever its name

    thresholds: Thresholds
    memory_thresholds: Thresholds
    fail_on: str
    rounds: int
    warmup: int
    # Count this test's instructions when --simperf-instructions is on (opt out per test).
    instructions: bool = True
    # Track (and pin the threads of) every DuckDB connection the test opens.
    track_connections: bool = True


def _number(value: Any, what: str, *, allow_zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise UsageError(f"{what} must be a number, got {value!r}")
    try:
        number = float(value)
    except OverflowError:  # an int past the float range, e.g. 10**400
        raise UsageError(f"{what} must be finite, got {_int_text(value)}") from None
    if math.isnan(number) or math.isinf(number):
        raise UsageError(f"{what} must be finite, got {value!r}")
    if number < 0 or (number == 0 and not allow_zero):
        raise UsageError(f"{what} must be greater than 0, got {value!r}")
    return number


def _int_text(value: int) -> str:
    """An int for an error message; Python refuses to print one of more than 4,300 digits."""
    if value.bit_length() < 128:
        return f"{value:,}"
    return f"an integer of about {int(value.bit_length() * math.log10(2))} digits"


def _check_printable(mark: str, args: Sequence[Any], kwargs: Mapping[str, Any], where: str) -> None:
    """Refuse an argument no error message could show: Python will not print an int of more
    than 4,300 digits (``repr`` raises), so every later message about it would crash instead."""
    for key, value in [*(("positional", a) for a in args), *kwargs.items()]:
        try:
            repr(value)
        except (ValueError, RecursionError):
            raise UsageError(
                f"{where}: {mark}({key}=...) holds a value too large to print "
                "(an integer of thousands of digits?)"
            ) from None


def parse_sla(args: Sequence[Any], kwargs: Mapping[str, Any], where: str) -> SlaMarker:
    """Validate one ``sla`` marker; ``where`` names the test in any error."""
    _check_printable("sla", args, kwargs, where)
    if args:
        raise UsageError(f"{where}: sla() takes keyword arguments only, got {tuple(args)!r}")
    known = {f.name for f in dataclasses.fields(SlaMarker)}
    unknown = sorted(set(kwargs) - known)
    if unknown:
        raise UsageError(
            f"{where}: sla() got unknown keyword(s) {', '.join(unknown)}; "
            f"expected {', '.join(sorted(known))}"
        )
    values: dict[str, Any] = {}
    for key in ("seconds", "memory_mb", "rows_per_second"):
        if kwargs.get(key) is not None:
            values[key] = _number(kwargs[key], f"{where}: sla({key}=...)")
    if "warning" in kwargs:
        warning = _number(kwargs["warning"], f"{where}: sla(warning=...)")
        if warning > 1:
            raise UsageError(f"{where}: sla(warning=...) is a fraction in (0, 1], got {warning}")
        values["warning"] = warning
    phase = kwargs.get("phase")
    if phase is not None:
        if not isinstance(phase, str) or not phase:
            raise UsageError(f"{where}: sla(phase=...) must be a phase name, got {phase!r}")
        values["phase"] = phase
    if not any(key in values for key in ("seconds", "memory_mb", "rows_per_second")):
        raise UsageError(
            f"{where}: sla() needs at least one of seconds, memory_mb, rows_per_second"
        )
    return SlaMarker(**values)


def _thresholds(value: Any, what: str) -> Thresholds:
    from pytest_simperf.stats import Thresholds

    if isinstance(value, str):
        return Thresholds.parse(value, source=what)
    if isinstance(value, Sequence) and len(value) == 3:
        try:
            text = ",".join(str(v) for v in value)
        except ValueError:  # Python will not print an int of more than 4,300 digits
            raise UsageError(f"{what} must be three percentages like (15, 30, 50)") from None
        return Thresholds.parse(text, source=what)
    raise UsageError(f"{what} must be three percentages like (15, 30, 50), got {value!r}")


def parse_simperf(
    args: Sequence[Any], kwargs: Mapping[str, Any], where: str, settings: Settings
) -> TestOptions:
    """Apply a ``simperf`` marker's overrides to the session settings."""
    _check_printable("simperf", args, kwargs, where)
    if args:
        raise UsageError(f"{where}: simperf() takes keyword arguments only, got {tuple(args)!r}")
    known = {
        "thresholds",
        "memory_thresholds",
        "fail_on",
        "rounds",
        "warmup",
        "instructions",
        "track_connections",
    }
    unknown = sorted(set(kwargs) - known)
    if unknown:
        raise UsageError(
            f"{where}: simperf() got unknown keyword(s) {', '.join(unknown)}; "
            f"expected {', '.join(sorted(known))}"
        )
    options = default_test_options(settings)
    changes: dict[str, Any] = {}
    if kwargs.get("thresholds") is not None:
        changes["thresholds"] = _thresholds(kwargs["thresholds"], f"{where}: simperf(thresholds=)")
    if kwargs.get("memory_thresholds") is not None:
        changes["memory_thresholds"] = _thresholds(
            kwargs["memory_thresholds"], f"{where}: simperf(memory_thresholds=)"
        )
    for flag in ("instructions", "track_connections"):
        if kwargs.get(flag) is not None:
            if not isinstance(kwargs[flag], bool):
                raise UsageError(
                    f"{where}: simperf({flag}=...) must be True or False, got {kwargs[flag]!r}"
                )
            changes[flag] = kwargs[flag]
    if kwargs.get("fail_on") is not None:
        changes["fail_on"] = parse_fail_on(kwargs["fail_on"], f"{where}: simperf(fail_on=)")
    for key, minimum, maximum in (("rounds", 1, MAX_ROUNDS), ("warmup", 0, MAX_WARMUP)):
        if kwargs.get(key) is not None:
            value = kwargs[key]
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise UsageError(
                    f"{where}: simperf({key}=...) must be a whole number ≥ {minimum}, got {value!r}"
                )
            if value > maximum:
                raise UsageError(
                    f"{where}: simperf({key}=...) must be at most {maximum:,}, "
                    f"got {_int_text(value)}"
                )
            changes[key] = 3 if (key == "rounds" and settings.quick) else value
    return dataclasses.replace(options, **changes)


def default_test_options(settings: Settings) -> TestOptions:
    return TestOptions(
        thresholds=settings.thresholds,
        memory_thresholds=settings.memory_thresholds,
        fail_on=settings.fail_on,
        rounds=settings.rounds,
        warmup=settings.warmup,
    )


def effective_sla(
    name: str,
    markers: Iterable[SlaMarker],
    components: Mapping[str, ComponentSla],
) -> EffectiveSla | None:
    """The SLA for region ``name``: marker for that phase > test marker > component config.

    A phase named ``base:variant`` (a dbt model's rebuild, ``<model>:rebuild``) is a variant
    of ``base`` and is held to ``base``'s SLA where it has none of its own: its phase marker
    after the variant's, its component SLA after the variant's.
    """
    markers = list(markers)
    base = name.partition(":")[0]
    names = (name, base) if base and base != name else (name,)
    chosen_by: list[tuple[list[SlaMarker], str]] = [
        ([m for m in markers if m.phase == n], f"sla(phase={n!r}) marker") for n in names
    ]
    chosen_by.append(([m for m in markers if m.phase is None], "sla marker"))
    for chosen, source in chosen_by:
        if chosen:
            marker = chosen[-1]
            return EffectiveSla(
                seconds=marker.seconds,
                warning_seconds=None if marker.seconds is None else marker.seconds * marker.warning,
                memory_mb=marker.memory_mb,
                warning_memory_mb=(
                    None if marker.memory_mb is None else marker.memory_mb * marker.warning
                ),
                rows_per_second=marker.rows_per_second,
                warning=marker.warning,
                source=source,
            )
    for component in names:
        config = components.get(component)
        if config is None:
            continue
        warning_seconds = config.warning_seconds
        if warning_seconds is None and config.seconds is not None:
            warning_seconds = config.seconds * 0.8
        return EffectiveSla(
            seconds=config.seconds,
            warning_seconds=warning_seconds,
            memory_mb=config.memory_mb,
            warning_memory_mb=None if config.memory_mb is None else config.memory_mb * 0.8,
            rows_per_second=config.rows_per_second,
            warning=0.8,
            source=f"component SLA {component!r}",
        )
    return None


def shadowed_component_slas(report: Mapping[str, Any]) -> list[str]:
    """One line per component SLA that a test's ``sla`` marker overrode in this run.

    A component SLA in ``[tool.simperf.sla]`` (or ini ``simperf_sla``) applies to every phase of
    that name, unless the test's marker sets limits (``effective_sla``): then the configuration
    is silently not what gates that phase. Said once per component, naming the tests.
    """
    components = report.get("sla_definitions") or {}
    shadowing: dict[str, dict[str, str]] = {}
    for test in report.get("tests") or ():
        for phase in test.get("phases") or ():
            source = phase.get("sla_source") or ""
            if not source.endswith("marker"):
                continue
            name = str(phase.get("name") or "")
            for component in (name, name.partition(":")[0]):
                if component in components:
                    shadowing.setdefault(component, {}).setdefault(test["nodeid"], source)
                    break
    lines = []
    for component, tests in sorted(shadowing.items()):
        nodeid, source = next(iter(sorted(tests.items())))
        more = f" and {len(tests) - 1} more test(s)" if len(tests) > 1 else ""
        lines.append(
            f"sla     component SLA {component!r} ({_limits(components[component])}) is "
            f"shadowed by the {source} of {nodeid}{more}: the marker's limits apply there "
            "(precedence: sla(phase=) marker > sla marker > component SLA)"
        )
    return lines


def _limits(sla: Mapping[str, Any]) -> str:
    parts = []
    if sla.get("seconds") is not None:
        parts.append(f"{sla['seconds']:g} s")
    if sla.get("memory_mb") is not None:
        parts.append(f"{sla['memory_mb']:g} MB")
    if sla.get("rows_per_second") is not None:
        parts.append(f"{sla['rows_per_second']:g} rows/s")
    return ", ".join(parts) or "no limit"
