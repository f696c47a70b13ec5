"""Counter-based pseudo-random numbers that give the same bits in SQL and in Python.

Why not DuckDB's ``random()`` or ``hash()``: ``random()`` depends on thread scheduling and
``hash()`` may change between DuckDB versions. Instead every draw is a pure function of
(seed, year, stream, employee number): the seed, year and stream are folded in Python into two
32-bit constants ``a`` (odd) and ``b``; SQL computes ``mix32((n * a + b) mod 2**32) / 2**32`` using
only integer multiply, add, shift, and and xor on UBIGINT, which are exact everywhere. ``mix32``
is Chris Wellons' "lowbias32" integer finaliser.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

MASK32 = 0xFFFFFFFF
_M1 = 0x7FEB352D
_M2 = 0x846CA68B
_TWO32 = 4294967296.0


def mix32(x: int) -> int:
    """Scramble a 32-bit integer (lowbias32); a bijection with good avalanche."""
    x &= MASK32
    x ^= x >> 16
    x = (x * _M1) & MASK32
    x ^= x >> 15
    x = (x * _M2) & MASK32
    x ^= x >> 16
    return x


def stream_constants(seed: int, year: int, stream: int) -> tuple[int, int]:
    """The multiplier (odd) and offset that make one independent stream of draws."""
    h = mix32(mix32(seed & MASK32) ^ (seed >> 32))
    h = mix32((h + (year & MASK32)) & MASK32)
    h = mix32((h + 0x9E3779B9 * (stream + 1)) & MASK32)
    return h | 1, mix32(h ^ 0xA5A5A5A5)


#: Which bits of a stream's 32-bit hash a draw uses: all of them, or one 16-bit half. Halves
#: serve draws that need no finer grain than 1/65536 (days, spreads, picks) at half the cost.
FULL, HIGH, LOW = 0, 1, 2


def uniform(seed: int, year: int, stream: int, number: int, part: int = FULL) -> float:
    """The draw in [0, 1) that SQL's :func:`draws_sql` gives employee ``number``."""
    a, b = stream_constants(seed, year, stream)
    h = mix32((number * a + b) & MASK32)
    if part == HIGH:
        return (h >> 16) / 65536.0
    if part == LOW:
        return (h & 0xFFFF) / 65536.0
    return h / _TWO32


def draws_sql(
    source: str,
    key: str,
    seed: int,
    year: int,
    streams: Mapping[str, tuple[int, int]],
    keep: Sequence[str],
) -> str:
    """A SELECT over ``source`` returning ``keep`` plus one uniform column per named draw.

    ``streams`` maps each column name to (stream number, part). The mixing runs as staged
    projections (one subquery per step) rather than one nested expression, which would repeat
    each inner step several times; staging halves the cost.
    """
    numbers = sorted({stream for stream, _part in streams.values()})
    kept = ", ".join(keep)
    constants = {s: stream_constants(seed, year, s) for s in numbers}
    x = ", ".join(
        f"(({key}::UBIGINT * {constants[s][0]} + {constants[s][1]}) & {MASK32}) AS _x{s}"
        for s in numbers
    )
    s1 = ", ".join(f"((xor(_x{s}, _x{s} >> 16) * {_M1}) & {MASK32}) AS _a{s}" for s in numbers)
    s2 = ", ".join(f"((xor(_a{s}, _a{s} >> 15) * {_M2}) & {MASK32}) AS _b{s}" for s in numbers)
    s3 = ", ".join(f"xor(_b{s}, _b{s} >> 16) AS _h{s}" for s in numbers)
    parts = {
        FULL: "(_h{s} / 4294967296.0e0)",
        HIGH: "((_h{s} >> 16) / 65536.0e0)",
        LOW: "((_h{s} & 65535) / 65536.0e0)",
    }
    out = ", ".join(
        f"{parts[part].format(s=stream)} AS {name}" for name, (stream, part) in streams.items()
    )
    return (
        f"SELECT {kept}, {out} FROM (SELECT {kept}, {s3} FROM (SELECT {kept}, {s2} FROM "
        f"(SELECT {kept}, {s1} FROM (SELECT {kept}, {x} FROM ({source})))))"
    )
