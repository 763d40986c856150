"""The masked dense engine: a pruned net above the break-even density, trained as dense layers
with zeros where weights were cut, and the choice between it and the sparse engine.

The sparse kernels cost a few nanoseconds per surviving weight and sample; dense layers cost
less per weight (contiguous rows, vectorised, BLAS at batch > 1) but pay for every position.
Above a break-even density a cut net is therefore faster dense: `MaskedEngine` holds each
layer in its compacted shape (the hidden units compaction kept, and the inputs that kept a
weight) as a dense float64 array, zero where cut, with a keep-mask, and is the sparse engine's
equal -- the same questions (engines.py), the same surviving values and positions, the same
results:
- batch 1: one numba kernel (`_masked_b1`), `b1.steps_b1`'s arithmetic in the same order
  (rows ascending into each unit, a zero input skipped, the backward's sums in strict order):
  the same bits as the sparse engine;
- batch > 1: numpy and BLAS as the dense phase (net.dense_step), the update masked (plain SGD:
  the BLAS update, then the cut positions set back to zero): equal to float tolerance.

`engine_for(engine, kernels)` picks the engine for a pattern (`prefers_masked`: above
`BREAK_EVEN`, for nets of MASKED_MIN..MASKED_MAX dense weights, never for the scipy
reference); the trainer asks again after every change of the pattern (a gradual cut, a
rewiring), so a net that is cut gradually trains masked dense and switches to sparse when its
density falls below the break-even.
"""

from __future__ import annotations

import numpy as np

from . import blas
from . import kernels as K
from . import net as N
from .dropout import multipliers

# Break-even densities (surviving weights / dense weights of the compacted net), measured on
# this project's 2-core machine (benchmarks/bench_scale.py, table 3: 784-128-10 tanh after the
# post's 200-step burn-in, halving:1..5 of the input layer, Fashion-MNIST): masked dense is
# faster above them. Batch 1: masked (zero inputs skipped, rows vectorised) 7.6-20 us/sample,
# sparse 5.4 (density 0.06) to 51 (0.54); masked / sparse 1.26 at density 0.09, 0.90 at 0.16.
# Batch 64: 1.36 at 0.10, 1.09 at 0.17, 0.79 at 0.30. (Dense training of the same net: 32 and
# 5.9 us/sample; the masked engine beats it at every density, its layers being compacted.)
BREAK_EVEN = {1: 0.14, 64: 0.2}
MASKED_MIN = 1 << 16  # dense weights below which a step costs too little to choose (tiny nets stay sparse)
MASKED_MAX = 1 << 26  # dense weights (512 MiB) above which a net stays sparse whatever its density


def break_even(B: int) -> float:
    """The break-even density at batch size B (interpolated on log B between the measured ones)."""
    if B <= 1:
        return BREAK_EVEN[1]
    t = min(np.log(B) / np.log(64), 1.0)
    return float(BREAK_EVEN[1] + t * (BREAK_EVEN[64] - BREAK_EVEN[1]))


def prefers_masked(sizes, n_weights: int, B: int, kernels: str = "numba") -> bool:
    """Does a sparse net (units per level `sizes`, `n_weights` surviving weights) train faster
    as masked dense layers at batch size B?"""
    sizes = np.asarray(sizes, np.int64)
    dense = int(np.sum(sizes[:-1] * sizes[1:]))
    return (kernels == "numba" and K.HAVE_NUMBA and MASKED_MIN <= dense <= MASKED_MAX
            and n_weights > break_even(B) * dense)


def engine_for(engine, kernels: str):
    """The engine that should train `engine`'s pattern now: a SparseEngine or a MaskedEngine
    holding the same weights (and momentum), converted if the other kind is faster."""
    from .engines import SparseEngine

    if not getattr(engine, "sparse", False):
        return engine
    if isinstance(engine, MaskedEngine):  # from its own fields: its `net` is a copy built on each call
        sizes = [engine.orig_shapes[0][0], *(len(u) for u in engine.units[1:])]  # a SparseNet keeps every input
        masked = prefers_masked(sizes, sum(len(i) for i in engine.idx), engine.B, kernels)
    else:
        masked = prefers_masked(engine.net.sizes, len(engine.net.data), engine.B, kernels)
    if masked and isinstance(engine, SparseEngine):
        return MaskedEngine(engine.net, engine.data, engine.relu, engine.B, engine.rule, engine.drop, engine.vel)
    if not masked and isinstance(engine, MaskedEngine):
        return SparseEngine(engine.net, engine.data, engine.relu, engine.B, kernels, engine.rule, engine.drop,
                            engine.vel)
    return engine


def warm_up(data, relu: bool, B: int, rule=None, drop=None) -> None:
    """Load the kernels of the engines a run may switch to after its cut -- the masked engine's,
    and at B > 1 the one-wide-level kernels (wide.py) -- with two steps on a tiny net, so that
    loading them (a few ms each from numba's cache) does not land in a run's timings."""
    from . import wide

    rng = np.random.default_rng(0)
    W = [rng.normal(0.0, 0.1, (data.n_features + 1, 4)), rng.normal(0.0, 0.1, (4, data.n_classes))]
    net = N.SparseNet(W, [np.ones(w.shape, dtype=bool) for w in W], [np.arange(4)])
    idx = np.zeros((2, B), dtype=np.int64)
    e = MaskedEngine(net, data, relu, B, rule, drop)
    e.steps(idx, 0.0, 0, store_last=True, apply_last=False)
    e.apply_stored(0.0)
    if B > 1 and relu and drop is None and wide.HAVE_NUMBA:
        vel = np.zeros(len(net.data)) if rule is not None and rule.momentum else None
        wide.sparse_steps(net, data.X, data.y, idx, 0.0, np.empty(2), rule=rule, vel=vel)
        wide.predict(net, data.X_test[:2])


class MaskedEngine:
    """A cut net as dense compacted layers W[l] (zero where cut) with keep-masks; see the module doc."""

    name = "masked-dense"
    sparse = True  # the sparse phase: layers are cut, values are the survivors

    def __init__(self, net: N.SparseNet, data, relu: bool, batch_size: int, rule=None, drop=None, vel=None):
        self.data, self.relu, self.B = data, relu, batch_size
        self.rule, self.drop = rule, drop if drop and drop[0] > 0 else None
        self.grads = None  # raw gradients of the last stored step, aligned with Wf (every position)
        self._load(net, vel)

    def _load(self, net: N.SparseNet, vel) -> None:
        # the inputs that still have weights (level 0 compacted too: at halving:1 of the post's
        # net a fifth of the pixels lost every weight), in their original order, the bias last
        self.inputs = net.rows_act[net.ra_off[0] : net.ra_off[1]].copy()
        self.units, self.orig_shapes = [net.units[0][self.inputs], *net.units[1:]], net.orig_shapes
        sizes = [len(self.inputs), *(int(s) for s in net.sizes[1:])]
        self.shapes = list(zip(sizes[:-1], sizes[1:]))
        self.sizes = np.array(sizes, dtype=np.int64)
        self.w_off = np.concatenate([[0], np.cumsum([a * b for a, b in self.shapes])]).astype(np.int64)
        self.idx = []  # per layer: flat indices into its compacted block of the surviving weights (CSR order)
        self.Wf = np.zeros(self.w_off[-1])
        self.Mf = np.zeros(self.w_off[-1], dtype=bool)
        self.V = np.zeros(self.w_off[-1]) if self.rule is not None and self.rule.momentum else None
        for l, (_, b) in enumerate(self.shapes):
            rows, cols = net._rows_cols(l)
            if l == 0:
                rows = np.searchsorted(self.inputs, rows)
            k = rows * b + cols
            self.idx.append(k)
            self.Wf[self.w_off[l] + k] = net.values(l)
            self.Mf[self.w_off[l] + k] = True
            if self.V is not None and vel is not None:
                self.V[self.w_off[l] + k] = vel[net.nz_off[l] : net.nz_off[l + 1]]
        self.W = [self.Wf[self.w_off[l] : self.w_off[l + 1]].reshape(s) for l, s in enumerate(self.shapes)]
        self.M = [None if len(self.idx[l]) == a * b else self.Mf[self.w_off[l] : self.w_off[l + 1]].reshape(a, b)
                  for l, (a, b) in enumerate(self.shapes)]
        self._work = N.DenseWork(sizes, self.B)
        self._factors = None
        self._uid = np.concatenate(self.units).astype(np.int64)

    # -- training ----------------------------------------------------------------------------
    def steps(self, batches: np.ndarray, lr: float, step0: int = 0, store_last: bool = False,
              apply_last: bool = True):
        X, Y = self.data.X, self.data.y
        n = batches.shape[0]
        self.grads = None
        losses = np.empty(n)
        if self.B == 1 and K.HAVE_NUMBA:
            graw = np.empty(len(self.Wf)) if store_last else np.empty(0)
            opt, vel = self._extras(lr)
            if self.drop is None:
                dr, uid = K._NO_DROP, K._NO_UID
            else:
                dr, uid = np.array([self.drop[0], 1.0 / (1.0 - self.drop[0]), self.drop[1]]), self._uid
            k = int(_masked_b1(X, Y, batches, self.inputs, self.Wf, self.Mf, self.w_off, self.sizes, self.relu, lr,
                               losses, graw, np.array([store_last, apply_last]), vel, opt, dr, uid, step0))
            if store_last and k == n:
                self.grads = graw
            return k, losses[: k + (k < n)]
        Xa = self._work.H[0]
        with blas.dense_threads(self.B):
            for i in range(n):
                last = i == n - 1
                idx = batches[i]
                _gather(X, idx, self.inputs, Xa)
                loss, G, factors = N.dense_step(self.W, Xa, Y[idx], self.relu, lr, keep_grads=store_last and last,
                                                apply=False, work=self._work, drop=self._masks(step0 + i))
                losses[i] = loss
                if not np.isfinite(loss):
                    return i, losses[: i + 1]
                if G is not None:
                    self.grads = np.concatenate([g.ravel() for g in G])
                if last:
                    self._factors = factors
                if apply_last or not last:
                    self._apply(factors, lr)
        return n, losses

    def _extras(self, lr: float):
        """(opt, momentum buffer) for the kernels: opt None for plain SGD (kernels._update)."""
        if self.rule is None or self.rule.plain:
            return None, np.empty(0)
        return tuple(self.rule.array(lr, self.B)), self.V if self.V is not None else np.zeros(len(self.Wf))

    def _masks(self, step: int):
        if self.drop is None:
            return None
        p, seed = self.drop
        return [multipliers(seed, step, v, self.B, self.units[v], p) for v in range(1, len(self.units) - 1)]

    def _apply(self, factors, lr: float) -> None:
        """The masked update from the step's (H, D) pairs: plain SGD by BLAS, then the cut positions
        back to zero; with the extras, `net.update` on the masked gradient."""
        for l, (h, d) in enumerate(factors):
            W, M, B = self.W[l], self.M[l], h.shape[0]
            if self.rule is None or self.rule.plain:
                if (blas.ger_acc if B == 1 else blas.gemm_acc)(W, h, d, lr / B):
                    if M is not None:
                        _rezero(W.reshape(-1), M.reshape(-1))
                    continue
            G = h.T @ d
            V = None if self.V is None else self.V[self.w_off[l] : self.w_off[l + 1]].reshape(W.shape)
            N.update(W, G if M is None else G * M, lr, B, self.rule, V)

    def apply_stored(self, lr: float) -> None:
        if self.B == 1 and K.HAVE_NUMBA:
            opt, vel = self._extras(lr)
            _masked_apply(self.Wf, self.Mf, self.grads, lr, vel, opt)
        else:
            with blas.dense_threads(self.B):
                self._apply(self._factors, lr)

    # -- the pattern, as the sparse engine gives it ----------------------------------------
    @property
    def net(self) -> N.SparseNet:
        """The weights as a SparseNet (a copy: built on each call, O(surviving weights))."""
        rows, cols = (list(a) for a in zip(*[np.divmod(k, b) for k, (a, b) in zip(self.idx, self.shapes)]))
        rows[0] = self.inputs[rows[0]]  # a SparseNet keeps every input
        units = [np.arange(self.orig_shapes[0][0]), *self.units[1:]]
        net, _ = N.SparseNet.from_positions(self.orig_shapes, units, rows, cols,
                                            [self.values(l) for l in range(self.n_layers)])
        return net

    @property
    def vel(self):
        return None if self.V is None else np.concatenate([self.V[self.w_off[l] + k] for l, k in enumerate(self.idx)])

    def positions(self, l: int) -> np.ndarray:
        r, c = np.divmod(self.idx[l], self.shapes[l][1])
        return self.units[l][r] * self.orig_shapes[l][1] + self.units[l + 1][c]

    def layer(self, l: int):
        v = None if self.V is None else self.V[self.w_off[l] + self.idx[l]]
        return self.positions(l), self.values(l), v

    def set_layers(self, layers: dict, units=None) -> None:
        from .engines import SparseEngine

        e = SparseEngine(self.net, self.data, self.relu, self.B, "numba", self.rule, self.drop, self.vel)
        e.set_layers(layers, units)
        self._load(e.net, e.vel)
        self.grads = None

    # -- what hooks and the trainer read -------------------------------------------------
    @property
    def n_layers(self) -> int:
        return len(self.shapes)

    @property
    def hidden_alive(self) -> list[int]:
        return [int(x) for x in self.sizes[1:-1]]

    def n_alive(self, l: int) -> int:
        return len(self.idx[l])

    def values(self, l: int) -> np.ndarray:
        return self.Wf[self.w_off[l] + self.idx[l]]

    def grad_values(self, l: int) -> np.ndarray | None:
        return None if self.grads is None else self.grads[self.w_off[l] + self.idx[l]]

    def dense(self, l: int, values: np.ndarray | None = None) -> np.ndarray:
        out = np.zeros(self.orig_shapes[l])
        out.ravel()[self.positions(l)] = self.values(l) if values is None else values
        return out

    def mask(self, l: int) -> np.ndarray:
        out = np.zeros(self.orig_shapes[l], dtype=bool)
        out.ravel()[self.positions(l)] = True
        return out

    def evaluate(self, X, y) -> tuple[float, float]:
        return N.score(self.predict(X), y, self.relu)

    def predict(self, X) -> np.ndarray:
        """Output scores for raw inputs X (net.predict's chunks, on the inputs that have weights)."""
        X = np.asarray(X)
        chunk = max(1, min(4096, K.EVAL_MAX // int(self.sizes.sum())))
        outs = []
        for i in range(0, len(X), chunk):
            Xa = np.empty((len(X[i : i + chunk]), len(self.inputs)))
            _gather(X, np.arange(i, i + len(Xa)), self.inputs, Xa)
            outs.append(N.forward(self.W, Xa, self.relu)[-1])
        return np.concatenate(outs) if outs else np.zeros((0, int(self.sizes[-1])))


def _gather(X, idx, inputs, out):
    """out[b, c] = X[idx[b], inputs[c]], 1.0 for the bias unit (numba's, below, where it is installed)."""
    out[...] = N.with_bias(X[idx])[:, inputs]


if K.HAVE_NUMBA:
    from .dropout import numba
    from .kmath import _FM, _U, _dropout, _fprime, _output_delta, _tanh_inplace, _update

    @numba.njit(cache=True, nogil=True)
    def _gather(X, idx, inputs, out):
        """out[b, c] = X[idx[b], inputs[c]] as float64, 1.0 for the bias unit (inputs[c] == n_features)."""
        nf = X.shape[1]
        for b in range(idx.shape[0]):
            r = idx[b]
            for c in range(inputs.shape[0]):
                i = inputs[c]
                out[b, c] = X[r, i] if i < nf else 1.0

    @numba.njit(cache=True, nogil=True)
    def _rezero(W, M):
        """W = 0 where M is False (the cut positions after a dense update)."""
        for k in range(W.shape[0]):
            W[k] = W[k] if M[k] else 0.0

    @numba.njit(cache=True, nogil=True)  # no fastmath: each sum in strict order, as the sparse kernel adds
    def _rows_dot(Wf, w0, n_in, n_out, D, d0, e0):
        """D[d0 + i] = sum_j W[i, j] D[e0 + j], j ascending (the backward through one layer)."""
        for i in range(n_in):
            D[d0 + i] = 0.0
            wr = w0 + i * n_out
            for j in range(n_out):
                D[d0 + i] += Wf[wr + j] * D[e0 + j]

    @numba.njit(cache=True, nogil=True, fastmath=_FM)
    def _masked_apply(Wf, Mf, graw, c, vel, opt):
        """Stored raw gradients applied to the kept positions (a split step, as the fused one)."""
        for k in range(Wf.shape[0]):
            if Mf[k]:
                _update(Wf, k, c, graw[k], vel, opt)

    @numba.njit(cache=True, nogil=True, fastmath=_FM)
    def _masked_b1(X, y, batches, inputs, Wf, Mf, w_off, sizes, relu, c, losses, graw, flags, vel, opt, drop, uid,
                   step0):
        """b1.steps_b1 on dense compacted layers (Wf, keep-mask Mf, layer l at w_off[l],
        row-major; level 0: the data's columns `inputs`, the bias unit n_features): the same
        arithmetic in the same order, zero inputs skipped."""
        store_last, apply_last = flags[0], flags[1]
        dropping = drop[0] > 0.0
        n_steps, L, nf = batches.shape[0], sizes.shape[0] - 1, X.shape[1]
        off = np.zeros(L + 2, np.int64)
        for v in range(L + 1):
            off[v + 1] = off[v] + sizes[v]
        H, D = np.zeros(off[L + 1]), np.zeros(off[L + 1])
        G = np.zeros(off[L + 1] if dropping else 0)
        T = np.zeros(sizes.max())
        for s in range(n_steps):
            r = batches[s, 0]
            for i in range(sizes[0]):
                H[i] = X[r, inputs[i]] if inputs[i] < nf else 1.0
            for l in range(L):  # forward: each unit adds its inputs in ascending order
                a0, h0, n_in, n_out, w0 = off[l + 1], off[l], sizes[l], sizes[l + 1], w_off[l]
                for q in range(a0, a0 + n_out):
                    H[q] = 0.0
                for i in range(n_in):
                    h = H[h0 + i]
                    if h == 0.0:
                        continue
                    wr = w0 + i * n_out
                    for j in range(n_out):
                        H[_U(a0 + j)] += Wf[_U(wr + j)] * h
                if relu and l < L - 1:
                    for q in range(a0, a0 + n_out):
                        H[q] = max(H[q], 0.0)
                elif not relu:
                    _tanh_inplace(H[a0 : a0 + n_out])
                if dropping and l < L - 1:
                    _dropout(H, G, a0, n_out, 1, 1, relu, drop, uid, off[l + 1], l + 1, step0 + s)
            loss = _output_delta(H, D, off[L], 1, sizes[L], y[r], relu, 0.0)
            losses[s] = loss
            if not np.isfinite(loss):
                return s
            for l in range(L - 1, 0, -1):  # backward
                d0 = off[l]
                _rows_dot(Wf, w_off[l], sizes[l], sizes[l + 1], D, d0, off[l + 1])
                for q in range(d0, d0 + sizes[l]):
                    D[q] *= G[q] if dropping else _fprime(H[q], relu)
            last = s == n_steps - 1
            store, upd = store_last and last, apply_last or not last
            for l in range(L):  # sampled outer product and update, kept positions only
                h0, e0, n_in, n_out, w0 = off[l], off[l + 1], sizes[l], sizes[l + 1], w_off[l]
                for i in range(n_in):
                    h = H[h0 + i]
                    wr = w0 + i * n_out
                    if store:
                        for j in range(n_out):
                            graw[wr + j] = h * D[e0 + j]
                    if not upd or (h == 0.0 and opt is None):
                        continue
                    if opt is None:  # h * D first, apart: under reassoc c * (h * D) could become (c * h) * D
                        if not store:
                            for j in range(n_out):
                                T[j] = h * D[_U(e0 + j)]
                        src, t0 = (graw, wr) if store else (T, 0)
                        for j in range(n_out):
                            k = _U(wr + j)
                            w = Wf[k] + c * src[_U(t0 + j)]
                            Wf[k] = w if Mf[k] else Wf[k]
                    else:
                        for j in range(n_out):
                            if Mf[wr + j]:
                                _update(Wf, wr + j, c, graw[wr + j] if store else h * D[e0 + j], vel, opt)
        return n_steps
