"""Instruction counts from valgrind's callgrind: CPU work that is the same on any host.

Seconds depend on the host, its load and the moment; the number of instructions a region executes
does not (measured here: the same region in separate processes repeats within 0.1%). Counting runs
in a child process under ``valgrind --tool=callgrind --instr-atstart=no``: everything outside a
measured region (interpreter start-up, imports, fixtures, warm-up) runs uninstrumented at about 7×
native, and each region is switched on and off with valgrind *client requests*.

A client request is a magic instruction sequence that valgrind recognises in the code it runs (and
that does nothing on a real CPU). Rather than compiling a C helper, which would need a compiler and
valgrind's headers on every machine, this module writes the few bytes of the x86-64 sequence into
an executable page and calls it through ``ctypes``.

Nested regions: at every region boundary the counts so far are dumped with the ids of the regions
open at that moment in the dump's name; each dump's instructions are then added to every region it
names, so an outer region includes its inner ones, exactly.

Pure module: no pytest import; nothing here imports duckdb.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import mmap
import platform
import re
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "DUMP_PREFIX",
    "ClientRequests",
    "RegionCounter",
    "callgrind_prefix",
    "instruction_env",
    "read_dumps",
    "valgrind_problem",
]

#: Prefix of the dump names this module writes (``simperf:1,2`` = regions 1 and 2 were open).
DUMP_PREFIX = "simperf:"

# x86-64 System V: rdi points at six uint64 words (request, arg1..arg5); the result comes back in
# rdx (0 when not running under valgrind). The four rotations of rdi add up to 128 bits, so rdi is
# unchanged: this is valgrind's "special instruction preamble", then ``xchg rbx, rbx`` marks the
# client request (valgrind.h, VALGRIND_DO_CLIENT_REQUEST_EXPR for amd64).
_AMD64_CLIENT_REQUEST = bytes(
    [
        *(0x48, 0x89, 0xF8),  # mov rax, rdi        ; rax = &args
        *(0x31, 0xD2),  # xor edx, edx              ; default result 0
        *(0x48, 0xC1, 0xC7, 0x03),  # rol rdi, 3
        *(0x48, 0xC1, 0xC7, 0x0D),  # rol rdi, 13
        *(0x48, 0xC1, 0xC7, 0x3D),  # rol rdi, 61
        *(0x48, 0xC1, 0xC7, 0x33),  # rol rdi, 51
        *(0x48, 0x87, 0xDB),  # xchg rbx, rbx       ; the client request
        *(0x48, 0x89, 0xD0),  # mov rax, rdx        ; return the result
        0xC3,  # ret
    ]
)

_RUNNING_ON_VALGRIND = 0x1001
_CALLGRIND_BASE = (ord("C") << 24) | (ord("T") << 16)
_DUMP_STATS_AT = _CALLGRIND_BASE + 3
_ZERO_STATS = _CALLGRIND_BASE + 1
_START_INSTRUMENTATION = _CALLGRIND_BASE + 4
_STOP_INSTRUMENTATION = _CALLGRIND_BASE + 5

_Args = ctypes.c_uint64 * 6


class ClientRequests:
    """Issues valgrind client requests from Python (x86-64 Linux only)."""

    def __init__(self) -> None:
        if platform.machine().lower() not in ("x86_64", "amd64") or not sys.platform.startswith(
            "linux"
        ):
            raise OSError(
                f"instruction counting supports x86-64 Linux only (this is "
                f"{platform.machine()} {sys.platform})"
            )
        page = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
        page.write(_AMD64_CLIENT_REQUEST)
        self._page = page  # keep the mapping alive as long as the function
        address = ctypes.addressof(ctypes.c_char.from_buffer(page))
        self._call = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_void_p)(address)

    def request(self, code: int, arg: int = 0) -> int:
        args = _Args(code, arg, 0, 0, 0, 0)
        return int(self._call(ctypes.addressof(args)))

    def running_on_valgrind(self) -> bool:
        return self.request(_RUNNING_ON_VALGRIND) > 0

    def start(self) -> None:
        self.request(_START_INSTRUMENTATION)
        self.request(_ZERO_STATS)

    def stop(self) -> None:
        self.request(_STOP_INSTRUMENTATION)

    def dump(self, name: str) -> None:
        text = ctypes.create_string_buffer(name.encode("ascii"))
        self.request(_DUMP_STATS_AT, ctypes.addressof(text))


class RegionCounter:
    """Counts instructions per region inside a process running under callgrind.

    Regions may nest; instrumentation is on only while at least one region is open. ``regions``
    maps each region's id to the label it was opened with. A region can be ``discard``-ed while
    open (a phase whose work turns out to be measured by an inner ``measure()``): it stops
    counting at once, and instrumentation is switched off if nothing else is open.
    """

    def __init__(self, requests: ClientRequests) -> None:
        self._requests = requests
        self._open: list[int] = []
        self._next = 1
        self.regions: dict[int, str] = {}

    def _flush(self) -> None:
        self._requests.dump(DUMP_PREFIX + ",".join(str(i) for i in self._open))

    def open(self, label: str) -> int:
        region_id = self._next
        self._next += 1
        self.regions[region_id] = label
        if self._open:
            self._flush()
        else:
            self._requests.start()
        self._open.append(region_id)
        return region_id

    def close(self, region_id: int) -> None:
        if region_id not in self._open:
            return  # discarded
        self._flush()
        self._open.remove(region_id)
        if not self._open:
            self._requests.stop()

    def discard(self, region_id: int) -> None:
        self.close(region_id)
        self.regions.pop(region_id, None)

    @contextlib.contextmanager
    def region(self, label: str) -> Iterator[int]:
        region_id = self.open(label)
        try:
            yield region_id
        finally:
            self.close(region_id)


_SUMMARY = re.compile(rb"^(?:summary|totals):\s*(\d+)")
_TRIGGER = re.compile(rb"^desc:\s*Trigger:\s*Client Request:\s*(\S+)")


_THREAD_SUFFIX = re.compile(r"-(\d+)$")


def read_dumps(folder: Path) -> dict[int, int]:
    """Instructions per region id, from the callgrind dumps in ``folder``.

    Only the measuring (main) thread's dumps count (``--separate-threads=yes`` names them
    ``callgrind.<pid>.<n>-01``): DuckDB keeps worker threads that poll for tasks while idle, and
    how often they did so inside a region moved its count by 0.7% from one process to the next;
    the main thread alone repeated within 0.015%. Only the header of each dump is read (the name
    and the ``summary`` line): the per-function costs that follow are not needed.
    """
    totals: dict[int, int] = {}
    for path in sorted(folder.iterdir()):
        if not path.name.startswith("callgrind."):
            continue
        thread = _THREAD_SUFFIX.search(path.name)
        if thread is not None and int(thread.group(1)) != 1:
            continue
        trigger: bytes | None = None
        count: int | None = None
        with path.open("rb") as handle:
            for line in handle:
                if line.startswith((b"fl=", b"fn=", b"ob=")):
                    break
                match = _TRIGGER.match(line)
                if match:
                    trigger = match.group(1)
                    continue
                match = _SUMMARY.match(line)
                if match:
                    count = int(match.group(1))
        if trigger is None or count is None:
            continue
        name = trigger.decode("ascii", "replace")
        if not name.startswith(DUMP_PREFIX):
            continue
        for part in name[len(DUMP_PREFIX) :].split(","):
            if part.isdigit():
                totals[int(part)] = totals.get(int(part), 0) + count
    return totals


def valgrind_problem(executable: str = "valgrind") -> str | None:
    """Why instruction counts cannot be taken here, or None when they can."""
    if platform.machine().lower() not in ("x86_64", "amd64") or not sys.platform.startswith(
        "linux"
    ):
        return f"instruction counting supports x86-64 Linux only (this is {platform.machine()})"
    if shutil.which(executable) is None:
        return (
            "valgrind is not installed (Debian/Ubuntu: apt-get install valgrind); "
            "the time and DuckDB counter gates still run"
        )
    return None


def valgrind_version(executable: str = "valgrind") -> str | None:
    try:
        out = subprocess.run(
            [executable, "--version"], capture_output=True, text=True, timeout=30, check=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return out.removeprefix("valgrind-") or None


def callgrind_prefix(folder: Path, executable: str = "valgrind") -> list[str]:
    """The command prefix that runs a program under callgrind with instrumentation off at start.

    Dumps go to ``folder/callgrind.<pid>.<n>-<thread>``; children the program spawns are not
    traced (their work is not counted — docs/verdicts.md says so).
    """
    return [
        executable,
        "--tool=callgrind",
        "--instr-atstart=no",
        "--separate-threads=yes",
        "--dump-line=no",
        "--compress-pos=yes",
        f"--callgrind-out-file={folder / 'callgrind.%p'}",
        "-q",
    ]


def _isa_level(flags: set[str]) -> str:
    """The x86-64 micro-architecture level valgrind will expose (it emulates no AVX-512).

    Libraries pick code paths by CPU features (glibc's ``memcpy``, DuckDB's kernels), so counts
    are comparable only between hosts that offer the same level.
    """
    v2 = {"cx16", "lahf_lm", "popcnt", "sse4_1", "sse4_2", "ssse3"}
    v3 = {"avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "movbe", "xsave"}
    if not v2 <= flags:
        return "x86-64"
    if not v3 <= flags:
        return "x86-64-v2"
    return "x86-64-v3"


def _cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str]:
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return set(value.split())
    return set()


def python_build() -> str:
    """A short hash of how this interpreter was built (compiler, PGO/LTO flags).

    Two builds of one Python version can execute different numbers of instructions for the same
    code (optimisation flags, compiler), so the build is part of what makes counts comparable.
    """
    config = str(sysconfig.get_config_var("CONFIG_ARGS") or "")
    relevant = sorted(
        flag for flag in config.replace("'", " ").split() if "optim" in flag or "lto" in flag
    )
    text = "|".join([platform.python_implementation(), platform.python_compiler(), *relevant])
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def instruction_env(duckdb_version: str | None, duckdb_threads: int | None) -> dict[str, str]:
    """What must match for two instruction counts to be compared: not the host, nor its speed.

    Architecture and the ISA level valgrind exposes, the Python minor version and build, the
    DuckDB version and thread count (more threads change the work done per query).
    """
    major, minor = sys.version_info[:2]
    return {
        "allocator": CHILD_ALLOCATOR,
        "arch": platform.machine(),
        "isa": _isa_level(_cpu_flags()),
        "python": f"{platform.python_implementation()} {major}.{minor}",
        "python_build": python_build(),
        "duckdb": str(duckdb_version),
        "duckdb_threads": str(duckdb_threads if duckdb_threads is not None else "auto"),
    }


def env_mismatch(baseline: Mapping[str, Any], current: Mapping[str, Any]) -> str | None:
    """The first difference that makes instruction counts incomparable, or None."""
    for key in ("arch", "isa", "python", "python_build", "allocator", "duckdb", "duckdb_threads"):
        if str(baseline.get(key)) != str(current.get(key)):
            return f"{key} {baseline.get(key)} → {current.get(key)}"
    return None


#: The allocator a counting child runs with (``PYTHONMALLOC``); part of ``instruction_env``.
CHILD_ALLOCATOR = "malloc"


def child_environment(base: Mapping[str, str], *, counting: bool) -> dict[str, str]:
    """The environment of a child: no xdist worker variables; to count, a fixed hash seed and
    the C allocator (a child that confirms a time keeps the parent's, to time the same thing).

    String hashing is randomised per process; a fixed seed makes dict and set layouts, and so the
    instructions spent on them, repeat. CPython's own small-object allocator (pymalloc) takes a
    longer path in ``_PyObject_Free`` when a pool flips between full and used, which depends on
    what the process allocated before: the same loop counted 61.64M or 62.77M instructions
    (+1.8%) by process. With ``PYTHONMALLOC=malloc`` (glibc's per-thread caches) it counted
    84.228M and 84.231M in those two processes (0.004%).
    """
    env = {k: v for k, v in base.items() if not k.startswith("PYTEST_XDIST")}
    env.pop("PYTEST_CURRENT_TEST", None)
    if counting:
        env["PYTHONHASHSEED"] = "0"
        env["PYTHONMALLOC"] = CHILD_ALLOCATOR
    return env
