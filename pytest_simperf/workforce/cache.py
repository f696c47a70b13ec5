"""Build each workforce once, hand out private copies.

Building 100K employees takes about half a second; copying the finished file takes a fraction of
that, and a copy is the only way to let a test write freely without touching its neighbours. The
cache is a folder of ``.duckdb`` files named by a digest of the spec, the generator version and the
DuckDB version. Builders take an exclusive ``flock`` on a per-file lock, so under pytest-xdist one
worker builds while the others wait and then reuse its file; a finished file appears only through
an atomic rename, so its existence alone means it is complete.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from pytest_simperf.workforce.generate import GENERATOR_VERSION, build_database
from pytest_simperf.workforce.handle import Workforce, open_workforce
from pytest_simperf.workforce.spec import WorkforceSpec

BUILD_LOG = "builds.jsonl"


@contextlib.contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``lock_path`` across processes (released if we crash)."""
    with lock_path.open("a+b") as handle:
        if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
            import msvcrt

            handle.seek(0)
            while True:
                try:
                    msvcrt.locking(handle.fileno(), msvcrt.LK_LOCK, 1)
                    break
                except OSError:  # LK_LOCK gives up after ~10 s; keep waiting for the builder.
                    continue
            try:
                yield
            finally:
                handle.seek(0)
                msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
        else:
            import fcntl

            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _duckdb_version() -> str:
    try:
        return importlib.metadata.version("duckdb")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - duckdb is a dependency
        return "unknown"


class WorkforceCache:
    """A folder of built workforces, shared safely by concurrent processes."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def path_for(self, spec: WorkforceSpec) -> Path:
        """Where ``spec``'s database lives in this cache (whether or not it is built yet)."""
        digest = spec.key(GENERATOR_VERSION, _duckdb_version())[:16]
        return self.root / f"workforce-{spec.label()}-{digest}.duckdb"

    def get(self, spec: WorkforceSpec) -> Path:
        """The built database for ``spec``, building it first if no process has yet."""
        path = self.path_for(spec)
        if path.exists():
            return path
        self.root.mkdir(parents=True, exist_ok=True)
        with _exclusive(path.with_suffix(".lock")):
            if not path.exists():  # another process may have built it while we waited
                started = time.perf_counter()
                build_database(spec, path)
                self._log(spec, path, time.perf_counter() - started)
        return path

    def open_copy(self, spec: WorkforceSpec, dest_dir: str | os.PathLike[str]) -> Workforce:
        """A private, writable copy of ``spec``'s database in ``dest_dir``, opened."""
        source = self.get(spec)
        folder = Path(dest_dir)
        folder.mkdir(parents=True, exist_ok=True)
        dest = folder / source.name
        counter = 1
        while dest.exists():
            dest = folder / f"{source.stem}-{counter}{source.suffix}"
            counter += 1
        shutil.copyfile(source, dest)
        return open_workforce(dest, spec)

    def builds(self) -> list[dict[str, object]]:
        """The build log: one entry per database this cache has built, oldest first."""
        log = self.root / BUILD_LOG
        if not log.exists():
            return []
        return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]

    def _log(self, spec: WorkforceSpec, path: Path, seconds: float) -> None:
        entry = {"file": path.name, "pid": os.getpid(), "seconds": round(seconds, 3)}
        entry.update({k: v for k, v in spec.to_dict().items() if k != "rates"})
        with (self.root / BUILD_LOG).open("a") as handle:
            handle.write(json.dumps(entry, sort_keys=True) + "\n")
