"""BLAS: the dense update's in-place BLAS calls, and who gets how many BLAS threads during a run.

- `ger_acc` / `gemm_acc`: W += c * h^T d in place, one pass over W (scipy's dger at batch 1,
  numpy's own dgemm with beta = 1 through ctypes at batch > 1, found by `numpy_blas`);
- `one_thread()`: what a run holds BLAS to; `dense_threads(B)`: numpy's pool given back
  its threads for dense steps at batch > 1.

numpy and scipy each bring their own OpenBLAS with its own thread pool; the docstrings below
record what was measured on this project's 2-core machine and why the limits are what they are.
"""

from __future__ import annotations

import ctypes
import os

import numpy as np
from scipy.linalg import blas as _scipy_blas
from threadpoolctl import ThreadpoolController

_NUMPY_BLAS = None  # (library controller, cblas dgemm or None), found on first use
_THREADPOOLS = None  # a ThreadpoolController, made on first use (one_thread)
_NUMPY_POOL = None  # (numpy's BLAS library controller, its thread count before our limits), if found


def numpy_blas(controller=None):
    """numpy's own BLAS: (threadpoolctl library controller, its cblas_dgemm through ctypes),
    either None when numpy's BLAS cannot be told apart from other libraries' (it is then
    not inside numpy's installation, e.g. a system OpenBLAS shared with scipy) or has no
    dgemm symbol we know. numpy's matmul has no beta = 1 (C += A B) and `W += c * (H.T @ D)`
    costs two extra passes over W (35 vs 24 us/sample at 785 x 1024, batch 64)."""
    global _NUMPY_BLAS
    if _NUMPY_BLAS is None:
        controller = controller if controller is not None else ThreadpoolController()
        root = os.path.dirname(os.path.realpath(np.__file__))  # .../numpy: numpy.libs, numpy/.dylibs
        libs = [lc for lc in controller.lib_controllers
                if lc.user_api == "blas" and os.path.realpath(lc.filepath).startswith(root)]
        lc, fn = (libs[0] if len(libs) == 1 else None), None
        if lc is not None and lc.internal_api == "openblas":
            lib = ctypes.CDLL(lc.filepath)  # already loaded by numpy: the same library and pool
            for name, integer in (("scipy_cblas_dgemm64_", ctypes.c_int64), ("cblas_dgemm64_", ctypes.c_int64),
                                  ("scipy_cblas_dgemm", ctypes.c_int), ("cblas_dgemm", ctypes.c_int)):
                fn = getattr(lib, name, None)
                if fn is not None:
                    p, dbl = ctypes.c_void_p, ctypes.c_double
                    fn.argtypes = [ctypes.c_int] * 3 + [integer] * 3 + [dbl, p, integer, p, integer, dbl, p, integer]
                    fn.restype = None
                    break
        _NUMPY_BLAS = (lc, fn)
    return _NUMPY_BLAS


def gemm_acc(W: np.ndarray, h: np.ndarray, d: np.ndarray, c: float) -> bool:
    """W += c * h^T d in place with numpy's BLAS (dgemm, beta = 1: one pass over W). Returns
    False, leaving W alone, for arrays that call does not take or when numpy's BLAS cannot be
    reached: the caller (net.apply_dense) then uses its numpy `update`."""
    fn = numpy_blas()[1]
    ok = all(a.dtype == np.float64 and a.flags.c_contiguous for a in (W, h, d))
    if fn is None or not ok:
        return False
    n_in, n_out = W.shape  # row-major, A = h transposed (B x n_in), B = d (B x n_out)
    fn(101, 112, 111, n_in, n_out, h.shape[0], c, h.ctypes.data, n_in, d.ctypes.data, n_out, 1.0, W.ctypes.data,
       n_out)
    return True


def ger_acc(W: np.ndarray, h: np.ndarray, d: np.ndarray, c: float) -> bool:
    """W += c * h^T d in place for one sample (h (1, n_in), d (1, n_out)) with scipy's dger:
    W.T of a C-ordered W is Fortran-ordered (n_out, n_in), so BLAS updates it in place. Returns
    False, leaving W alone, for any other W (dger would update a copy)."""
    if W.dtype != np.float64 or not W.flags.c_contiguous:
        return False
    _scipy_blas.dger(c, d[0], h[0], a=W.T, overwrite_a=1)
    return True


def one_thread():
    """The context a run holds BLAS in: one thread. At batch size 1 the dense phase alternates reads
    (forward) and rank-1 writes of the same W; split over two threads, each step moves W
    between the cores' caches and runs 2x slower (116 vs 58 us at 785x128). At any batch
    size numpy and scipy each bring their own OpenBLAS with its own thread pool, and a
    step alternates between them: with two threads each, the pools' spinning threads
    fight over the two cores (measured at batch 64: 1,219 vs 12 us/sample at 784-128-10,
    1,708 vs 111 at 784-1024-10). Hooks run inside the limit too: a view's numpy call
    between two chunks fought the same way (stats.feedback took 38 ms instead of 1 ms).

    The one exception: dense steps at batch size B > 1 make every product in numpy's
    BLAS (`gemm_acc` for the update) and nothing in scipy's, so numpy's pool gets
    back its own thread count for them (`dense_threads`) while scipy's stays at one:
    34 vs 63 us/sample at 784-1024-10, batch 64. Hooks still run with one thread."""
    global _THREADPOOLS, _NUMPY_POOL
    if _THREADPOOLS is None:  # built once: building one inspects every loaded library (~0.3 ms)
        _THREADPOOLS = ThreadpoolController()
        lc, gemm = numpy_blas(_THREADPOOLS)
        if lc is not None and gemm is not None:  # its thread count before any limit of ours
            _NUMPY_POOL = (lc, lc.num_threads)
    return _THREADPOOLS.limit(limits=1, user_api="blas")


class dense_threads:
    """Inside a run (BLAS held to one thread), give numpy's BLAS back the threads it had
    before the run for dense steps at batch size B > 1, and restore one thread after, so
    that hooks run with one. Set directly on the library (a ctypes call, ~1 us) rather than
    with a threadpoolctl limiter (which re-inspects the library on every enter)."""

    def __init__(self, B: int):
        pool = _NUMPY_POOL if B > 1 else None
        self.pool, self.threads = pool if pool is not None else (None, 1)

    def __enter__(self):
        if self.pool is not None:
            self.before = self.pool.num_threads
            if self.before != self.threads:
                self.pool.set_num_threads(self.threads)
        return self

    def __exit__(self, *exc):
        if self.pool is not None and self.before != self.threads:
            self.pool.set_num_threads(self.before)
