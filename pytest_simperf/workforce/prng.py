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


def uniform(seed: int, year: int, stream: int, number: int) -> float:
    """The draw in [0, 1) that SQL's :func:`draws_sql` gives employee ``number``."""
    a, b = stream_constants(seed, year, stream)
    return mix32((number * a + b) & MASK32) / _TWO32


def draws_sql(
    source: str, key: str, seed: int, year: int, streams: Mapping[str, int], keep: Sequence[str]
) -> str:
    """A SELECT over ``source`` returning ``keep`` plus one uniform column per stream.

    The mixing runs as staged projections (one subquery per step) rather than one nested
    expression, which would repeat each inner step several times; staging halves the cost.
    """
    names = list(streams)
    kept = ", ".join(keep)
    constants = {name: stream_constants(seed, year, streams[name]) for name in names}
    x = ", ".join(
        f"(({key}::UBIGINT * {constants[n][0]} + {constants[n][1]}) & {MASK32}) AS _x_{n}"
        for n in names
    )
    s1 = ", ".join(f"((xor(_x_{n}, _x_{n} >> 16) * {_M1}) & {MASK32}) AS _a_{n}" for n in names)
    s2 = ", ".join(f"((xor(_a_{n}, _a_{n} >> 15) * {_M2}) & {MASK32}) AS _b_{n}" for n in names)
    s3 = ", ".join(f"(xor(_b_{n}, _b_{n} >> 16) / {_TWO32!r}e0) AS {n}" for n in names)
    return (
        f"SELECT {kept}, {s3} FROM (SELECT {kept}, {s2} FROM (SELECT {kept}, {s1} FROM "
        f"(SELECT {kept}, {x} FROM ({source}))))"
    )
