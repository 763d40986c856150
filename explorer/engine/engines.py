"""Engines: the weights of a run and how a chunk of SGD steps is done on them.

A Trainer holds one engine at a time: a `DenseEngine` for the dense phase (every weight,
numpy and BLAS), a `SparseEngine` after the cut (surviving weights only, CSR layers in flat
arrays; numba's fused kernels -- wide.py's for a net with one wide ReLU level -- or the scipy
reference), or a masked.MaskedEngine for a cut net above the break-even density. All answer
the same questions, so the trainer's loop reads the same in every phase:

    k, losses = engine.steps(batches, lr, step0, store_last=..., apply_last=...)
    engine.apply_stored(lr)            # the update held back by apply_last=False
    engine.values(l), engine.positions(l), engine.grad_values(l), engine.dense(l), engine.mask(l),
    engine.n_alive(l)
    engine.evaluate(X, y), engine.predict(X)

`steps` runs len(batches) steps, the first being the run's step `step0` (dropout draws its
masks from the step number), and returns how many completed with a finite loss and the
batch losses it saw (a non-finite one last, if the run diverged). Raw gradients (H^T D
summed over the batch; the loss gradient is -raw / B) of the last step are kept only when
asked (store_last), until the next call. Both engines take the update's extras (a
net.UpdateRule; momentum buffers live beside the weights: dense arrays, or one flat array
aligned with the surviving weights) and a dropout rate with its seed (`drop`: (p, seed)).
A sparse engine's pattern changes in place (`layer`, `set_layers`: gradual cuts, rewiring).
"""

from __future__ import annotations

import numpy as np

from . import blas, wide
from . import kernels as K
from . import net as N
from .dropout import multipliers


class DenseEngine:
    """The dense phase: weight layer l is W[l], (n_in, n_out) float64, every weight trained."""

    name = "numpy-dense"
    sparse = False

    def __init__(self, weights: list[np.ndarray], data, relu: bool, batch_size: int, rule=None, drop=None):
        self.W, self.data, self.relu, self.B = weights, data, relu, batch_size
        self.rule, self.drop = rule, drop if drop and drop[0] > 0 else None
        self.V = [np.zeros_like(w) for w in weights] if rule is not None and rule.momentum else None
        self.grads = None  # raw gradients of the last stored step, one (n_in, n_out) array a layer
        self._work = N.DenseWork([weights[0].shape[0], *(w.shape[1] for w in weights)], batch_size)
        self._factors = None  # the last step's (H, D) pairs, for apply_stored

    def _masks(self, step: int):
        """Dropout multipliers of the hidden levels at `step` (None without dropout)."""
        if self.drop is None:
            return None
        p, seed = self.drop
        return [multipliers(seed, step, v, self.B, np.arange(w.shape[1]), p) for v, w in enumerate(self.W[:-1], 1)]

    def steps(self, batches: np.ndarray, lr: float, step0: int = 0, store_last: bool = False,
              apply_last: bool = True):
        """One `net.dense_step` a batch, gathered straight into the step's reusable buffers (bias
        column already set). At B > 1 every product is in numpy's BLAS, with numpy's own thread
        count (blas.dense_threads)."""
        X, Y = self.data.X, self.data.y
        n = batches.shape[0]
        self.grads = None
        losses = np.empty(n)
        Xa = self._work.H[0]
        with blas.dense_threads(self.B):
            for i in range(n):
                last = i == n - 1
                idx = batches[i]
                if K.HAVE_NUMBA:
                    K.gather_rows(X, idx, Xa)
                else:
                    Xa[:, :-1] = X[idx]
                loss, G, factors = N.dense_step(self.W, Xa, Y[idx], self.relu, lr, keep_grads=store_last and last,
                                                apply=apply_last or not last, work=self._work,
                                                drop=self._masks(step0 + i), rule=self.rule, V=self.V)
                losses[i] = loss
                if G is not None:
                    self.grads = G
                if last:
                    self._factors = factors
                if not np.isfinite(loss):
                    return i, losses[: i + 1]
        return n, losses

    def apply_stored(self, lr: float) -> None:
        """The held-back update, with the steps' thread count: the same BLAS partition, so it is
        bit-identical to a fused step."""
        with blas.dense_threads(self.B):
            N.apply_dense(self.W, self._factors, lr, None, self.rule, self.V)

    # -- what hooks and the trainer read -------------------------------------------------
    @property
    def n_layers(self) -> int:
        return len(self.W)

    @property
    def hidden_alive(self) -> list[int]:
        return [w.shape[1] for w in self.W[:-1]]

    def n_alive(self, l: int) -> int:
        return self.W[l].size

    def values(self, l: int) -> np.ndarray:
        return self.W[l].ravel()

    def positions(self, l: int) -> np.ndarray:
        return np.arange(self.W[l].size)

    def grad_values(self, l: int) -> np.ndarray | None:
        return None if self.grads is None else self.grads[l].ravel()

    def dense(self, l: int, values: np.ndarray | None = None) -> np.ndarray:
        return self.W[l] if values is None else values.reshape(self.W[l].shape)

    def mask(self, l: int) -> np.ndarray:
        return np.ones(self.W[l].shape, dtype=bool)

    def evaluate(self, X, y) -> tuple[float, float]:
        return N.evaluate(self.W, X, y, self.relu)

    def predict(self, X) -> np.ndarray:
        return N.predict(self.W, X, self.relu)


class SparseEngine:
    """After the cut: a `net.SparseNet` (surviving weights, compacted units), trained by numba's
    fused kernels (`kind="numba"`, many steps in one call) or the scipy reference (one
    `net.sparse_step_scipy` a step). The two are equal to float tolerance (tests hold it)."""

    sparse = True

    def __init__(self, net: N.SparseNet, data, relu: bool, batch_size: int, kind: str, rule=None, drop=None,
                 vel=None):
        self.net, self.data, self.relu, self.B, self.name = net, data, relu, batch_size, kind
        self.rule, self.drop = rule, drop if drop and drop[0] > 0 else None
        self.vel = None  # momentum buffer aligned with net.data (with momentum only)
        if rule is not None and rule.momentum:
            self.vel = np.zeros(len(net.data)) if vel is None else np.asarray(vel, np.float64)
        self.grads = None  # raw gradients of the last stored step, aligned with net.data
        self._wide_work = []  # the wide kernels' hidden-level buffer, kept between calls (wide.py)

    def steps(self, batches: np.ndarray, lr: float, step0: int = 0, store_last: bool = False,
              apply_last: bool = True):
        X, Y = self.data.X, self.data.y
        n = batches.shape[0]
        self.grads = None
        losses = np.empty(n)
        if self.name == "numba":
            graw = np.empty(len(self.net.data)) if store_last else None
            if wide.fits(self.net, batches.shape[1], self.relu, self.drop is not None):
                k = wide.sparse_steps(self.net, X, Y, batches, lr, losses, graw, store_last, apply_last, self.rule,
                                      self.vel, self._wide_work)
            else:
                k = K.sparse_steps(self.net, X, Y, batches, self.relu, lr, losses, graw, store_last=store_last,
                                   apply_last=apply_last, rule=self.rule, vel=self.vel, drop=self.drop, step0=step0)
            if store_last and k == n:
                self.grads = graw
            return k, losses[: k + (k < n)]
        for i in range(n):
            last = i == n - 1
            graw = np.empty(len(self.net.data)) if (store_last and last) else None
            drop = None
            if self.drop is not None:
                p, seed = self.drop
                drop = [multipliers(seed, step0 + i, v, self.B, self.net.units[v], p)
                        for v in range(1, self.net.n_layers)]
            loss = N.sparse_step_scipy(self.net, N.with_bias(X[batches[i]]), Y[batches[i]], self.relu, lr, graw,
                                       apply=apply_last or not last, drop=drop, rule=self.rule, vel=self.vel)
            losses[i] = loss
            if not np.isfinite(loss):
                return i, losses[: i + 1]
            if graw is not None:
                self.grads = graw
        return n, losses

    def apply_stored(self, lr: float) -> None:
        """The held-back update with the engine's own arithmetic (bit-identical to a fused step)."""
        (K.apply_raw if self.name == "numba" else N.apply_raw)(self.net, self.grads, lr, self.B, self.rule, self.vel)

    # -- the pattern (gradual cuts, rewiring) ---------------------------------------------
    def layer(self, l: int):
        """Layer l's surviving weights: (sorted flat positions in the original (n_in, n_out)
        layer, values, momentum buffer or None), copies."""
        sl = slice(self.net.nz_off[l], self.net.nz_off[l + 1])
        return self.net.positions(l), self.net.values(l).copy(), None if self.vel is None else self.vel[sl].copy()

    def set_layers(self, layers: dict, units=None) -> None:
        """Give some layers new surviving weights, {l: (flat positions, values, momentum or
        None: zeros)}, the others keeping theirs: a new SparseNet built from flat arrays,
        O(surviving weights). `units`: the hidden units kept from now on (positions must lie
        on them); default: those of now."""
        net = self.net
        same = units is None
        units = net.units if same else [net.units[0], *units, net.units[-1]]
        rows, cols, vals, vels = [], [], [], []
        for l in range(net.n_layers):
            if same and l not in layers:  # as it is: its compacted rows and columns
                r, c = net._rows_cols(l)
                _, v, m = self.layer(l)
            else:
                pos, v, m = layers[l] if l in layers else self.layer(l)
                r, c = np.divmod(np.asarray(pos, np.int64), net.orig_shapes[l][1])
                if len(units[l]) < net.orig_shapes[l][0]:  # compacted: original -> compacted index
                    r = np.searchsorted(units[l], r)
                if len(units[l + 1]) < net.orig_shapes[l][1]:
                    c = np.searchsorted(units[l + 1], c)
            rows.append(r)
            cols.append(c)
            vals.append(v)
            vels.append(np.zeros(len(v)) if m is None else m)
        self.net, order = N.SparseNet.from_positions(net.orig_shapes, units, rows, cols, vals)
        if self.vel is not None:
            self.vel = np.concatenate(vels)[order]
        self.grads = None

    # -- what hooks and the trainer read -------------------------------------------------
    @property
    def n_layers(self) -> int:
        return self.net.n_layers

    @property
    def hidden_alive(self) -> list[int]:
        return [int(x) for x in self.net.sizes[1:-1]]

    def n_alive(self, l: int) -> int:
        return self.net.nnz(l)

    def values(self, l: int) -> np.ndarray:
        return self.net.values(l)

    def positions(self, l: int) -> np.ndarray:
        return self.net.positions(l)

    def grad_values(self, l: int) -> np.ndarray | None:
        if self.grads is None:
            return None
        return self.grads[self.net.nz_off[l] : self.net.nz_off[l + 1]]

    def dense(self, l: int, values: np.ndarray | None = None) -> np.ndarray:
        return self.net.dense(l, values)

    def mask(self, l: int) -> np.ndarray:
        return self.net.mask(l)

    def _layers(self):
        # numba's forward reads float32 X as it is; the scipy engine evaluates with scipy products
        if self.name == "numba":
            return self.net
        return [self.net.csr(l) for l in range(self.net.n_layers)]

    def evaluate(self, X, y) -> tuple[float, float]:
        return N.evaluate(self._layers(), X, y, self.relu)

    def predict(self, X) -> np.ndarray:
        return N.predict(self._layers(), X, self.relu)
