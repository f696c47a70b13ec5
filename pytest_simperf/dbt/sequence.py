"""A simulation year as a sequence of steps: dbt commands and Python callables between them.

Real orchestrators do not run one ``dbt build`` per year: they seed, build staging, build a
foundation with ``--full-refresh`` in the first year only, generate events by tag, accumulate
state, and run Python between those invocations (checks, exports, a table written from pandas).
A ``YearSequence`` states that once; ``DbtProject.run_years`` and ``rebuild_year`` then run it
for every year and round, so the rounds that cure one-sample noise work for any orchestration.

Steps are checked when the sequence is made, not in year 3 of a long run: one ``UsageError``
naming the step (its position and what it is) and what is wrong with it.

Plain Python: imports neither dbt, duckdb nor pytest.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from pytest_simperf.errors import UsageError

#: dbt commands a step can run; each returns per-node run results.
STEP_COMMANDS = ("build", "run", "seed", "test")
#: When a dbt step passes ``--full-refresh``: in the first year of ``run_years`` only (as a
#: multi-year simulation starts), in every year and rebuild, or never.
FULL_REFRESH_CHOICES = ("first", "always", "never")
#: Phase names the dbt fixture records itself; a Python step cannot take them.
RESERVED_NAMES = frozenset({"dbt_total", "dbt_overhead", "dbt_parse"})
_DBT_STEP_FIELDS = ("command", "select", "exclude", "selector", "vars", "full_refresh", "name")


@dataclasses.dataclass(frozen=True)
class DbtStep:
    """One dbt invocation of a simulation year.

    ``full_refresh``: ``"first"`` (the first year of ``run_years`` only), ``"always"`` or
    ``"never"``; ``None`` means ``"first"``, except for ``test``, which takes no
    ``--full-refresh``. ``selector`` names a YAML selector and excludes ``select``/``exclude``.
    ``vars`` are merged over the project's and the run's vars for this step only.
    """

    command: str = "build"
    select: str | tuple[str, ...] | None = None
    exclude: str | tuple[str, ...] | None = None
    selector: str | None = None
    vars: Mapping[str, Any] | None = None
    full_refresh: str | None = None
    name: str | None = None

    @property
    def label(self) -> str:
        """How progress lines and errors name the step: its name, else the command line."""
        if self.name:
            return self.name
        parts = [self.command]
        if self.selector:
            parts.append(f"--selector {self.selector}")
        for flag, value in (("--select", self.select), ("--exclude", self.exclude)):
            if value:
                parts.append(f"{flag} {value if isinstance(value, str) else ' '.join(value)}")
        return " ".join(parts)

    @property
    def key(self) -> str:
        """What names the step's own figures (``dbt_total:<key>``) in a sequence of several
        steps: its name, else its selector, else its selection, else its command."""
        if self.name:
            return self.name.strip()
        if self.selector:
            return self.selector.strip()
        if self.select:
            return self.select if isinstance(self.select, str) else "|".join(self.select)
        return self.command

    def refreshes(self, *, first_year: bool, rebuild: bool) -> bool:
        """Does this step pass ``--full-refresh`` here? A rebuild is never a first year."""
        mode = self.full_refresh or ("never" if self.command == "test" else "first")
        if mode == "always":
            return True
        return mode == "first" and first_year and not rebuild


@dataclasses.dataclass(frozen=True)
class PythonStep:
    """A Python callable run between dbt steps: ``fn(project, year)``.

    ``project`` is the ``DbtProject`` (``query()``, ``database_path``); dbt holds no
    connection to the database between invocations, so the step may open its own. It is timed
    as a phase named ``name`` (default: the function's name) in each year, ``name:rebuild``
    in a rebuild.
    """

    fn: Callable[[Any, int], Any]
    name: str | None = None

    @property
    def label(self) -> str:
        return self.name or str(getattr(self.fn, "__name__", ""))


Step = DbtStep | PythonStep


class YearSequence:
    """The steps of one simulation year, in order; checked on creation.

    Items may be ``DbtStep``, ``PythonStep``, a mapping of ``DbtStep``'s fields
    (``{"command": "seed"}``, ``{"select": "tag:events", "full_refresh": "first"}``) or a plain
    callable ``fn(project, year)`` (named after the function).
    """

    def __init__(self, steps: Iterable[Any]) -> None:
        if isinstance(steps, str | bytes | Mapping) or not isinstance(steps, Iterable):
            raise UsageError(
                f"a year sequence is a list of steps (dbt steps and Python callables), "
                f"got {steps!r}"
            )
        checked = [_checked_step(index, item) for index, item in enumerate(steps, start=1)]
        if not checked:
            raise UsageError("a year sequence needs at least one step")
        names: dict[str, int] = {}
        keys: dict[str, int] = {}
        for index, step in enumerate(checked, start=1):
            if isinstance(step, PythonStep):
                label = step.label
                if label in names:
                    raise UsageError(
                        f"year sequence step {index} (Python step {label!r}): the name is "
                        f"already step {names[label]}'s; each Python step is a phase of its "
                        "own, so give it a distinct name (PythonStep(fn, name=...))"
                    )
                names[label] = index
            elif step.key in keys and len(checked) > 1:
                raise UsageError(
                    f"year sequence step {index} (dbt {step.label}): step {keys[step.key]} is "
                    f"also called {step.key!r}, and each dbt step's figures are phases of their "
                    "own (dbt_total:<step>): give one a name ({'name': '...'})"
                )
            elif "@" in step.key and len(checked) > 1:
                raise UsageError(
                    f"year sequence step {index} (dbt {step.label}): its figures are phases "
                    f"named after it (dbt_total:<step>), and {step.key!r} has an '@': give it a "
                    "name ({'name': '...'})"
                )
            else:
                keys[step.key] = index
        self.steps: tuple[Step, ...] = tuple(checked)

    @classmethod
    def one_command(
        cls,
        command: str = "build",
        *,
        select: str | Sequence[str] | None = None,
        exclude: str | Sequence[str] | None = None,
        selector: str | None = None,
        full_refresh_first: bool = True,
    ) -> YearSequence:
        """The sequence of one dbt command per year (what ``run_years(select=...)`` runs)."""
        refresh = "first" if full_refresh_first and command != "test" else "never"
        step = {"command": command, "select": select, "exclude": exclude, "selector": selector}
        return cls([{**step, "full_refresh": refresh}])

    def __iter__(self) -> Iterator[Step]:
        return iter(self.steps)

    def __len__(self) -> int:
        return len(self.steps)

    def __repr__(self) -> str:
        return f"YearSequence([{', '.join(step.label for step in self.steps)}])"


def as_sequence(value: Any) -> YearSequence:
    """``value`` as a ``YearSequence`` (a list of steps is checked and wrapped)."""
    return value if isinstance(value, YearSequence) else YearSequence(value)


def _checked_step(index: int, item: Any) -> Step:
    if isinstance(item, DbtStep):
        return _checked_dbt_step(index, item)
    if isinstance(item, Mapping):
        where = f"year sequence step {index} ({dict(item)!r})"
        unknown = sorted(str(key) for key in item if key not in _DBT_STEP_FIELDS)
        if unknown:
            raise UsageError(
                f"{where}: unknown field(s) {', '.join(unknown)}; a dbt step takes "
                f"{', '.join(_DBT_STEP_FIELDS)}"
            )
        fields = dict(item)
        for key in ("select", "exclude"):
            if isinstance(fields.get(key), list):
                fields[key] = tuple(fields[key])
        return _checked_dbt_step(index, DbtStep(**fields))
    if isinstance(item, PythonStep):
        return _checked_python_step(index, item)
    if callable(item):
        return _checked_python_step(index, PythonStep(item))
    raise UsageError(
        f"year sequence step {index}: {item!r} is neither a dbt step (DbtStep or a mapping such "
        "as {'command': 'seed'}) nor a Python callable fn(project, year)"
    )


def _checked_dbt_step(index: int, step: DbtStep) -> DbtStep:
    where = f"year sequence step {index} (dbt {step.label})"
    if step.command not in STEP_COMMANDS:
        raise UsageError(
            f"{where}: command must be one of {', '.join(STEP_COMMANDS)}, got {step.command!r}"
        )
    for field in ("select", "exclude"):
        value = getattr(step, field)
        items = [value] if isinstance(value, str) else value
        if value is not None and (
            not isinstance(items, tuple | list)
            or not items
            or not all(isinstance(s, str) and s.strip() for s in items)
        ):
            raise UsageError(
                f"{where}: {field} must be a non-empty string or a list of them, got {value!r}"
            )
    if step.selector is not None:
        if not isinstance(step.selector, str) or not step.selector.strip():
            raise UsageError(f"{where}: selector must name a YAML selector, got {step.selector!r}")
        if step.select is not None or step.exclude is not None:
            raise UsageError(
                f"{where}: selector replaces select and exclude (dbt ignores them beside it); "
                "give one or the other"
            )
    if step.vars is not None and not isinstance(step.vars, Mapping):
        raise UsageError(f"{where}: vars must be a mapping, got {step.vars!r}")
    if step.full_refresh is not None and step.full_refresh not in FULL_REFRESH_CHOICES:
        raise UsageError(
            f"{where}: full_refresh must be one of {', '.join(FULL_REFRESH_CHOICES)}, "
            f"got {step.full_refresh!r}"
        )
    if step.command == "test" and step.full_refresh in ("first", "always"):
        raise UsageError(f"{where}: dbt test takes no --full-refresh")
    if step.name is not None and (not isinstance(step.name, str) or not step.name.strip()):
        raise UsageError(f"{where}: name must be a non-empty string, got {step.name!r}")
    return step


def _checked_python_step(index: int, step: PythonStep) -> PythonStep:
    label = step.label
    where = f"year sequence step {index} (Python step {label or step.fn!r})"
    if not callable(step.fn):
        raise UsageError(f"{where}: {step.fn!r} is not callable")
    if step.name is not None and not isinstance(step.name, str):
        raise UsageError(f"{where}: name must be a string, got {step.name!r}")
    if not label or label == "<lambda>" or "@" in label or label != label.strip():
        raise UsageError(
            f"{where}: a Python step is recorded as a phase named after it; give it a name "
            "without '@' (PythonStep(fn, name='...'))"
        )
    if label in RESERVED_NAMES or label.endswith(":rebuild"):
        raise UsageError(
            f"{where}: {label!r} is a name pytest-simperf records itself; choose another"
        )
    try:
        signature = inspect.signature(step.fn)
    except (TypeError, ValueError):
        return step  # a builtin without a signature: trust it
    try:
        signature.bind(object(), 0)
    except TypeError:
        raise UsageError(
            f"{where}: it is called as fn(project, year), but its signature is {label}{signature}"
        ) from None
    return step
