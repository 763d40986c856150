"""Dropout masks that every engine draws alike: a counter-based hash of (seed, step, level,
sample slot, unit).

Inverted dropout on the hidden activations of training steps (never at evaluation): unit u
of hidden level v is kept for sample slot b of step t when

    uniform(seed, t, v, b, u) >= p,   and a kept activation is multiplied by 1 / (1 - p),

where `uniform` is splitmix64's finaliser chained over the five counters (`unit` is the
unit's original index, so a compacted sparse net drops exactly the units its dense-masked
reference drops). No random stream is consumed: the dense phase (numpy), the scipy
reference and the numba kernels (`slot_key_nb`, `keep_nb` below: the same arithmetic on
uint64 scalars, inlined into kernels._dropout) all draw the same mask for the same run,
whatever their chunking, so
"sparse equals dense-masked" and finite-difference checks hold with dropout on.

Numbers, as numpy does them: uint64 arithmetic wraps modulo 2**64; the top 53 bits of the
last hash, times 2**-53, are the uniform number (exact in float64).
"""

from __future__ import annotations

import numpy as np

try:  # numba is the sanctioned accelerator; everything works without it (scipy path)
    import numba

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover - exercised only where numba is missing
    numba = None
    HAVE_NUMBA = False

GOLDEN = 0x9E3779B97F4A7C15  # 2**64 / phi, splitmix64's increment
MIX1 = 0xBF58476D1CE4E5B9
MIX2 = 0x94D049BB133111EB
_U = np.uint64


def mix(z):
    """splitmix64's finaliser on uint64 scalars or arrays (wrapping)."""
    z = (z ^ (z >> _U(30))) * _U(MIX1)
    z = (z ^ (z >> _U(27))) * _U(MIX2)
    return z ^ (z >> _U(31))


def slot_keys(seed: int, step: int, level: int, B: int) -> np.ndarray:
    """The hash state of each sample slot 0..B-1 at (seed, step, level), uint64 (B,)."""
    with np.errstate(over="ignore"):
        k = mix(mix(mix(_U(seed) ^ _U(GOLDEN)) ^ _U(step)) ^ _U(level))
        return mix(k ^ np.arange(B, dtype=_U))


def keep_mask(seed: int, step: int, level: int, B: int, units, p: float) -> np.ndarray:
    """Which of `units` (original indices) sample slots 0..B-1 keep: bool (B, len(units))."""
    with np.errstate(over="ignore"):
        h = mix(slot_keys(seed, step, level, B)[:, None] ^ (np.asarray(units, dtype=_U)[None, :] * _U(GOLDEN)))
    return (h >> _U(11)).astype(np.float64) * 2.0**-53 >= p


def multipliers(seed: int, step: int, level: int, B: int, units, p: float) -> np.ndarray:
    """The dropout multipliers (B, len(units)): 1 / (1 - p) where kept, 0 where dropped."""
    return keep_mask(seed, step, level, B, units, p) * (1.0 / (1.0 - p))


if HAVE_NUMBA:
    @numba.njit(cache=True, nogil=True, inline="always")
    def _mix_nb(z):
        """`mix` on a uint64 scalar."""
        z = (z ^ (z >> np.uint64(30))) * np.uint64(MIX1)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(MIX2)
        return z ^ (z >> np.uint64(31))

    @numba.njit(cache=True, nogil=True, inline="always")
    def slot_key_nb(seed, step, level, b):
        """`slot_keys` for one slot b."""
        k = _mix_nb(_mix_nb(_mix_nb(np.uint64(seed) ^ np.uint64(GOLDEN)) ^ np.uint64(step)) ^ np.uint64(level))
        return _mix_nb(k ^ np.uint64(b))

    @numba.njit(cache=True, nogil=True, inline="always")
    def keep_nb(key, unit, p):
        """`keep_mask` for one (slot key, unit)."""
        h = _mix_nb(key ^ (np.uint64(unit) * np.uint64(GOLDEN)))
        return np.float64(h >> np.uint64(11)) * 2.0**-53 >= p
