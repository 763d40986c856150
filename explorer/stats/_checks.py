"""Input checks shared by the statistics modules: one home for each, no copies.

    _abs_finite     |values| flattened with NaN/inf dropped and counted (never raises)
    _magnitudes     the non-zero |values|, or a one-line ExplorerError for bad input
    _same_shape     two arrays must be the same layer
    _finite         a layer's array must be non-empty and finite
"""

from __future__ import annotations

import numpy as np

from ..errors import ExplorerError


def _abs_finite(values) -> tuple[np.ndarray, int]:
    """(|values| flattened, NaN/inf dropped, and how many were dropped). float32 stays
    float32 (half the memory traffic on big layers); other types become float64."""
    a = np.asarray(values)
    if a.dtype.kind != "f" or a.dtype.itemsize < 4:
        a = a.astype(np.float64)
    a = np.abs(a.ravel())
    finite = np.isfinite(a)
    nonfinite = int(a.size - np.count_nonzero(finite))
    return (a[finite] if nonfinite else a), nonfinite


def _magnitudes(values, fn: str, min_n: int = 2) -> np.ndarray:
    """Non-zero |values| as a flat float array; one-line ExplorerError for bad input."""
    a = np.asarray(values)
    if a.dtype.kind not in "fiub":
        raise ExplorerError(f"{fn}: received dtype {a.dtype}; expected an array of real numbers")
    if a.dtype.kind != "f" or a.dtype.itemsize < 4:
        a = a.astype(np.float64)
    a = np.abs(a.ravel())
    if a.size == 0:
        raise ExplorerError(f"{fn}: received an empty array; expected at least {min_n} non-zero values, "
                            f"e.g. a layer's weights")
    bad = int(a.size - np.count_nonzero(np.isfinite(a)))
    if bad:
        raise ExplorerError(f"{fn}: received {bad} NaN/inf value(s) among {a.size}; expected finite numbers "
                            f"(a diverged run?); drop them with v[np.isfinite(v)]")
    nz = int(np.count_nonzero(a))
    if nz == 0:
        raise ExplorerError(f"{fn}: all {a.size} values are zero (pruned?); expected at least {min_n} "
                            f"non-zero values")
    if nz < min_n:
        raise ExplorerError(f"{fn}: received only {nz} non-zero value(s); expected at least {min_n}")
    return a if nz == a.size else a[a > 0]


def _same_shape(fn, a, b, name_a, name_b):
    if a.shape != b.shape:
        raise ExplorerError(f"{fn}: {name_a} have shape {a.shape} but {name_b} have shape {b.shape}; "
                            f"expected the same shape (the same layer)")


def _finite(fn, a, name):
    if a.size == 0:
        raise ExplorerError(f"{fn}: {name} is empty; expected a layer's array")
    bad = int(a.size - np.count_nonzero(np.isfinite(a)))
    if bad:
        raise ExplorerError(f"{fn}: {name} contain {bad} NaN/inf value(s) among {a.size}; expected finite "
                            f"numbers (a diverged run?)")
