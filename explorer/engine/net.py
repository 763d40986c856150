"""MLP math, the readable reference: dense layers (numpy), CSR layers (scipy.sparse).

Conventions, used everywhere in the package:
- weight layer l maps level l to level l + 1; W[l] has shape (n_in, n_out) (rows = inputs);
- level 0 is the input plus a bias unit that is always 1: the input layer's last row is the
  bias row, so the post's 784-128-10 net has 785 x 128 input weights;
- hidden units are tanh (the post) or ReLU; the output is tanh with +-1 targets and loss
  0.5 * sum (t - y)^2 (deltas (t - y)(1 - y^2), as in the post) or softmax with
  cross-entropy (deltas t - p);
- a step on a batch of B samples: G[l] = H[l]^T @ D[l+1] (summed over the batch, D the
  deltas, i.e. minus the loss gradient w.r.t. the pre-activations), then W += (lr / B) * G,
  so the gradient of the batch-mean loss is -G / B. With the extras of an `UpdateRule`
  (momentum, weight decay, L1) the step is d = G / B - wd W - l1 sign(W), v = mu v + d,
  W += lr v (`update`); with dropout, hidden activations of training steps are multiplied
  by the masks of dropout.py and the backward pass by the same masks.

Each operation is written once here, in numpy: the loss and output deltas (`output_delta`),
the hidden activation and its derivative (`hidden`, `fprime`), the update (`update`). The
fast engines are elsewhere and are tested against this module: `kernels.py` (numba: the
fused sparse steps, equal to `sparse_step_scipy` to float tolerance, and the dense phase's
elementwise loops, equal to the numpy lines they replace to the bit) and `blas.py` (the
dense update in place). This module runs without numba (`kernels.HAVE_NUMBA`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from . import blas, wide
from . import kernels as K


def layer_sizes(n_features: int, hidden, n_classes: int) -> list[int]:
    """Units per level, the input level counting its bias unit."""
    return [n_features + 1, *hidden, n_classes]


def init_weights(sizes, scale: float, rng: np.random.Generator) -> list[np.ndarray]:
    """Weights uniform in +-scale (the post: 1e-5), float64, one (n_in, n_out) array a layer."""
    return [rng.uniform(-scale, scale, size=(a, b)) for a, b in zip(sizes[:-1], sizes[1:])]


def with_bias(X: np.ndarray) -> np.ndarray:
    """(B, n_features) -> (B, n_features + 1) float64 with the constant bias input last."""
    Xa = np.empty((X.shape[0], X.shape[1] + 1))
    Xa[:, :-1] = X
    Xa[:, -1] = 1.0
    return Xa


# -- loss and deltas, shared by the dense and the scipy path ------------------------------
def output_delta(out: np.ndarray, y: np.ndarray, relu: bool):
    """(batch-mean loss, deltas (B, C)) from output activations (tanh) or logits (softmax)."""
    B, C = out.shape
    if relu:  # softmax + cross-entropy
        z = out - out.max(axis=1, keepdims=True)
        e = np.exp(z)
        s = e.sum(axis=1, keepdims=True)
        p = e / s
        loss = float(np.mean(np.log(s[:, 0]) - z[np.arange(B), y]))
        D = -p
        D[np.arange(B), y] += 1.0
        return loss, D
    T = np.full((B, C), -1.0)
    T[np.arange(B), y] = 1.0
    E = T - out
    return float(0.5 * np.sum(E * E) / B), E * (1.0 - out * out)


def hidden(A: np.ndarray, relu: bool, out=None) -> np.ndarray:
    """The hidden units' activation f(A): ReLU or tanh (into `out` if given)."""
    return np.maximum(A, 0.0, out=out) if relu else np.tanh(A, out=out)


def fprime(H: np.ndarray, relu: bool) -> np.ndarray:
    """f' from the activations H = f(A): (H > 0) for ReLU, 1 - H^2 for tanh."""
    return (H > 0).astype(H.dtype) if relu else 1.0 - H * H


@dataclass(frozen=True)
class UpdateRule:
    """The extras of the update beyond plain SGD (all off: W += (lr / B) G, bit for bit)."""

    momentum: float = 0.0
    weight_decay: float = 0.0
    l1: float = 0.0

    @property
    def plain(self) -> bool:
        return not (self.momentum or self.weight_decay or self.l1)

    def array(self, lr: float, B: int) -> np.ndarray:
        """[lr, 1 / B, momentum, weight decay, l1]: what the numba kernels read."""
        return np.array([lr, 1.0 / B, self.momentum, self.weight_decay, self.l1])


def update(W: np.ndarray, G, lr: float, B: int, rule: UpdateRule | None = None, V=None) -> None:
    """The update, in place, from the raw gradient G = H^T D summed over a batch of B:
    plain SGD W += (lr / B) G; with extras d = G / B - weight_decay W - l1 sign(W), then
    V = momentum V + d and W += lr V (V: the momentum buffer, aligned with W), or W += lr d
    without momentum."""
    if rule is None or rule.plain:
        W += (lr / B) * G
        return
    d = G * (1.0 / B) - rule.weight_decay * W - rule.l1 * np.sign(W)
    if rule.momentum:
        V *= rule.momentum
        V += d
        d = V
    W += lr * d


def forward(layers, Xa: np.ndarray, relu: bool, drop=None, gains=None) -> list[np.ndarray]:
    """Activations of every level for a batch; `layers` are dense arrays or scipy sparse
    matrices, (n_in, n_out) each. The last level holds tanh outputs or softmax logits.
    `drop`: dropout multipliers (B, n) of hidden levels 1..L-1 (dropout.multipliers); each
    level's backward gain f' * multiplier is appended to `gains` (for `backward`)."""
    H = [Xa]
    L = len(layers)
    for l, W in enumerate(layers):
        A = np.asarray(H[-1] @ W)  # (B, n_out)
        if l < L - 1:
            A = hidden(A, relu)
            if drop is not None:
                gains.append(fprime(A, relu) * drop[l])
                A = A * drop[l]
        elif not relu:
            A = np.tanh(A)
        H.append(A)
    return H


def backward(layers, H, y, relu: bool, gains=None):
    """(loss, deltas per level) for activations H; deltas[0] is None. `gains`: those of a
    dropout `forward` (else f'(H))."""
    loss, D = output_delta(H[-1], y, relu)
    Ds = [None] * len(H)
    Ds[-1] = D
    for l in range(len(layers) - 1, 0, -1):
        g = fprime(H[l], relu) if gains is None else gains[l - 1]
        Ds[l] = np.asarray(Ds[l + 1] @ layers[l].T) * g  # (B, n_l)
    return loss, Ds


class DenseWork:
    """Buffers of the dense phase at batch size B, reused by every step: activations H[v]
    (H[0] is the input with its bias column already 1, filled by the caller or by
    `dense_step`) and deltas D[v], so that a step allocates nothing as large as a layer
    (matmul and the elementwise ops write with out=)."""

    def __init__(self, sizes, B: int):
        self.B = B
        self.sizes = tuple(sizes)
        self.H = [np.empty((B, n)) for n in sizes]
        self.H[0][:, -1] = 1.0
        self.D = [None] + [np.empty((B, n)) for n in sizes[1:]]

    def fits(self, Ws, B: int) -> bool:
        return B == self.B and self.sizes == (Ws[0].shape[0], *(w.shape[1] for w in Ws))


def dense_step(Ws, Xa, y, relu: bool, lr: float, masks=None, keep_grads: bool = False, apply: bool = True,
               work: DenseWork | None = None, drop=None, rule: UpdateRule | None = None, V=None):
    """One SGD step on dense weights, updated in place.

    Returns (loss, G, factors): G the raw gradients H^T D per layer (only with keep_grads,
    else None) and factors the (H, D) pairs the update is made of, so that a caller can
    apply it later with `apply_dense` (bit-identical to apply=True). With `masks`, the
    update is masked: the dense reference for a pruned net (used by the tests). `work`
    holds reusable buffers (the factors are views into it, valid until its next step);
    Xa may be work.H[0] itself, already gathered. The arithmetic is that of
    `forward`/`backward`, written into the buffers. `drop`: dropout multipliers per hidden
    level (as for `forward`); `rule`, `V`: the update's extras and momentum buffers.
    """
    B = Xa.shape[0]
    if work is None or not work.fits(Ws, B):
        work = DenseWork([Ws[0].shape[0], *(w.shape[1] for w in Ws)], B)
    H, Ds = work.H, work.D
    if Xa is not H[0]:
        H[0][...] = Xa
    L = len(Ws)
    gains = []
    for l, W in enumerate(Ws):  # forward
        A = H[l + 1]
        np.matmul(H[l], W, out=A)
        if l < L - 1:
            hidden(A, relu, out=A)
            if drop is not None:
                gains.append(fprime(A, relu) * drop[l])
                A *= drop[l]
        elif not relu:
            np.tanh(A, out=A)
    out = H[L]
    if K.HAVE_NUMBA and not relu:  # output_delta's tanh branch in one pass, no temporaries
        loss = K.output_deltas(out, y, Ds[L], relu) / B
    else:  # (softmax stays numpy's everywhere: exp and the loss's sum round differently in numba)
        loss, Ds[L][...] = output_delta(out, y, relu)
    if not np.isfinite(loss):
        return loss, None, None
    for l in range(L - 1, 0, -1):  # backward: D[l] = (D[l+1] W[l]^T) * f'(H[l])
        D = Ds[l]
        np.matmul(Ds[l + 1], Ws[l].T, out=D)
        if drop is not None:
            D *= gains[l - 1]
        elif K.HAVE_NUMBA:  # one pass, no temporary, the same roundings
            K.times_fprime(D.reshape(-1), H[l].reshape(-1), relu)
        else:
            D *= fprime(H[l], relu)
    factors = [(H[l], Ds[l + 1]) for l in range(L)]
    G = [np.matmul(h.T, d) for h, d in factors] if keep_grads else None
    if apply:
        apply_dense(Ws, factors, lr, masks, rule, V)
    return loss, G, factors


def apply_dense(Ws, factors, lr: float, masks=None, rule: UpdateRule | None = None, V=None) -> None:
    """W += (lr / B) * H^T D for each layer (`update`), in place with BLAS: one pass over W
    and no temporaries, which is what makes the dense phase fast. At B = 1 scipy's dger; at
    B > 1 a dgemm with beta = 1 in numpy's own BLAS, so that every product of a step at
    B > 1 runs in one thread pool (see blas.one_thread). With masks, `update` masked; with
    the extras of `rule` (momentum buffers V[l]), `update` on the full product."""
    plain = rule is None or rule.plain
    for l, (W, (h, d)) in enumerate(zip(Ws, factors)):
        B = h.shape[0]
        if not plain:
            G = h.T @ d
            update(W, G if masks is None or masks[l] is None else G * masks[l], lr, B, rule,
                   None if V is None else V[l])
        elif masks is not None and masks[l] is not None:
            update(W, (h.T @ d) * masks[l], lr, B)
        elif not (blas.ger_acc if B == 1 else blas.gemm_acc)(W, h, d, lr / B):
            update(W, h.T @ d, lr, B)  # arrays BLAS cannot update in place


def predict(layers, X: np.ndarray, relu: bool, chunk: int = 4096) -> np.ndarray:
    """Output scores (B, C) for raw inputs X (bias added here), in chunks to bound memory.
    `layers` may be a SparseNet: then numba's forward when numba is there (it reads float32
    or float64 X as is, see kernels.predict_net), else its scipy layers."""
    if isinstance(layers, SparseNet):
        X = np.asarray(X)
        if K.HAVE_NUMBA and X.dtype in (np.float32, np.float64):
            if wide.fits(layers, 64, relu, False):  # one wide hidden level: a unit at a time
                return wide.predict(layers, X)
            return K.predict_net(layers, X, relu)
        layers = [layers.csr(l) for l in range(layers.n_layers)]
    chunk = max(1, min(chunk, K.EVAL_MAX // sum(w.shape[1] for w in layers)))  # wide nets: smaller chunks
    outs = [forward(layers, with_bias(X[i : i + chunk]), relu)[-1] for i in range(0, len(X), chunk)]
    return np.concatenate(outs) if outs else np.zeros((0, layers[-1].shape[1]))


def evaluate(layers, X, y, relu: bool) -> tuple[float, float]:
    """(accuracy, mean loss) on a labelled set (`layers` as for `predict`)."""
    return score(predict(layers, X, relu), y, relu)


def score(out: np.ndarray, y: np.ndarray, relu: bool) -> tuple[float, float]:
    """(accuracy, mean loss) of output scores `out` for labels y; NaNs for an empty set."""
    if len(out) == 0:
        return float("nan"), float("nan")
    loss, _ = output_delta(out, y, relu)
    return float(np.mean(out.argmax(axis=1) == y)), loss


# -- the sparse network --------------------------------------------------------------------
class SparseNet:
    """A pruned MLP as CSR layers held in flat arrays (for the fused kernel).

    Built from dense weights, keep-masks and the hidden units kept by compaction. Layer l's
    CSR has the compacted shape (sizes[l], sizes[l+1]); `units[v]` maps the compacted units
    of level v back to their original indices. `data` is one array: each layer's values are
    a view into it, so scipy matrices, the kernel and read-only views all share memory.
    """

    def __init__(self, weights, masks, units):
        L = len(weights)
        self.orig_shapes = [w.shape for w in weights]
        self.units = [np.arange(weights[0].shape[0]), *units, np.arange(weights[-1].shape[1])]
        rows_l, cols_l, datas = [], [], []
        for l in range(L):
            r, c = self.units[l], self.units[l + 1]
            m = masks[l][np.ix_(r, c)] if masks[l] is not None else np.ones((len(r), len(c)), bool)
            rows, cols = np.nonzero(m)  # row-major: already in CSR order
            rows_l.append(rows)
            cols_l.append(cols)
            datas.append(weights[l][r[rows], c[cols]].astype(np.float64))
        self._pack(rows_l, cols_l, datas)

    @classmethod
    def from_positions(cls, orig_shapes, units, rows, cols, values):
        """A SparseNet from each layer's weights as (rows, cols, values) in compacted indices,
        in any order (no dense array: O(surviving weights)). `units` as `self.units`.
        Returns (net, order): net.data == np.concatenate(values)[order], so that arrays
        aligned with the given values (momentum buffers, flags) follow with [order]."""
        net = cls.__new__(cls)
        net.orig_shapes = [tuple(s) for s in orig_shapes]
        net.units = list(units)
        local = []
        for l, (r, c) in enumerate(zip(rows, cols)):
            key = np.asarray(r, np.int64) * len(net.units[l + 1]) + c
            local.append(np.arange(len(key)) if np.all(key[1:] > key[:-1]) else np.argsort(key, kind="stable"))
        starts = np.concatenate([[0], np.cumsum([len(o) for o in local])]).astype(np.int64)
        order = np.concatenate([o + s0 for o, s0 in zip(local, starts)]).astype(np.int64)
        net._pack([np.asarray(r, np.int64)[o] for r, o in zip(rows, local)],
                  [np.asarray(c, np.int64)[o] for c, o in zip(cols, local)],
                  [np.asarray(v, np.float64)[o] for v, o in zip(values, local)])
        return net, order

    def _pack(self, rows_l, cols_l, datas):
        """The flat CSR arrays from each layer's row-major (rows, cols, values)."""
        ips = [np.concatenate([[0], np.cumsum(np.bincount(r, minlength=len(self.units[l])))]).astype(np.int64)
               for l, r in enumerate(rows_l)]
        self.sizes = np.array([len(u) for u in self.units], dtype=np.int64)
        self.ip_off = np.concatenate([[0], np.cumsum([len(p) for p in ips])]).astype(np.int64)
        self.nz_off = np.concatenate([[0], np.cumsum([len(d) for d in datas])]).astype(np.int64)
        self.indptr = np.concatenate(ips)
        self.indices = np.concatenate(cols_l).astype(np.int64)
        self.data = np.concatenate(datas)
        # rows that still have weights, per layer: the kernels walk only these
        acts = [np.flatnonzero(np.diff(p)).astype(np.int64) for p in ips]
        self.ra_off = np.concatenate([[0], np.cumsum([len(a) for a in acts])]).astype(np.int64)
        self.rows_act = np.concatenate(acts)
        # the same pattern as flat (row, column) pairs per weight, unsigned 32-bit: the batch-1
        # kernel walks these in one branch-free loop per layer (no per-row loop exits to
        # mispredict, no negative-index checks, half the index bytes of int64)
        self.rows32 = np.concatenate([np.repeat(np.arange(len(p) - 1), np.diff(p)) for p in ips]).astype(np.uint32)
        self.cols32 = self.indices.astype(np.uint32)
        # the same pattern by column (CSC): the batched kernels' forward gathers each unit's inputs
        # (rows ascending, as the CSR scatter adds them) and reads the weights through `perm`
        cps, rix, perm = [], [], []
        for l, (r, c) in enumerate(zip(rows_l, cols_l)):
            key = c.astype(np.uint16) if len(self.units[l + 1]) <= 2**16 else c  # 16 bits: a radix sort
            o = np.argsort(key, kind="stable")  # rows stay ascending within a column
            cps.append(np.concatenate([[0], np.cumsum(np.bincount(c, minlength=len(self.units[l + 1])))]))
            rix.append(np.asarray(r)[o])
            perm.append(o + self.nz_off[l])
        self.cp_off = np.concatenate([[0], np.cumsum([len(p) for p in cps])]).astype(np.int64)
        self.colptr = np.concatenate(cps).astype(np.int64)
        self.rowidx = np.concatenate(rix).astype(np.int64)
        self.perm = np.concatenate(perm).astype(np.int64)

    def positions(self, l: int) -> np.ndarray:
        """Layer l's surviving weights as sorted flat positions i * n_out + j of the original
        (n_in, n_out) layer, aligned with values(l) (stats.masks' index masks)."""
        rows, cols = self._rows_cols(l)
        if len(self.units[l]) < self.orig_shapes[l][0]:  # compacted: back to original indices
            rows = self.units[l][rows]
        if len(self.units[l + 1]) < self.orig_shapes[l][1]:
            cols = self.units[l + 1][cols]
        return rows * self.orig_shapes[l][1] + cols

    @property
    def n_layers(self) -> int:
        return len(self.orig_shapes)

    def nnz(self, l: int) -> int:
        return int(self.nz_off[l + 1] - self.nz_off[l])

    def values(self, l: int) -> np.ndarray:
        return self.data[self.nz_off[l] : self.nz_off[l + 1]]

    def _rows_cols(self, l):
        rows = self.rows32[self.nz_off[l] : self.nz_off[l + 1]].astype(np.int64)
        cols = self.indices[self.nz_off[l] : self.nz_off[l + 1]]
        return rows, cols

    def csr(self, l: int) -> sp.csr_array:
        """Layer l as a scipy CSR matrix (compacted shape) sharing this net's memory."""
        ip = self.indptr[self.ip_off[l] : self.ip_off[l + 1]]
        shape = (int(self.sizes[l]), int(self.sizes[l + 1]))
        m = sp.csr_array((self.values(l), self.indices[self.nz_off[l] : self.nz_off[l + 1]], ip), shape=shape)
        return m

    def dense(self, l: int, values: np.ndarray | None = None) -> np.ndarray:
        """Layer l (or `values` aligned with it, e.g. gradients) in its original full shape,
        zero where pruned or compacted away."""
        rows, cols = self._rows_cols(l)
        out = np.zeros(self.orig_shapes[l])
        out[self.units[l][rows], self.units[l + 1][cols]] = self.values(l) if values is None else values
        return out

    def mask(self, l: int) -> np.ndarray:
        rows, cols = self._rows_cols(l)
        out = np.zeros(self.orig_shapes[l], dtype=bool)
        out[self.units[l][rows], self.units[l + 1][cols]] = True
        return out


def sparse_step_scipy(net: SparseNet, Xa, y, relu: bool, lr: float, graw=None, apply: bool = True, drop=None,
                      rule: UpdateRule | None = None, vel=None):
    """One SGD step on a SparseNet with scipy: the reference the fused kernel is tested
    against. Xa is (B, n_features + 1). Raw gradients (aligned with net.data) go to `graw`.
    `drop`: dropout multipliers of the hidden levels in the net's compacted units; `rule`,
    `vel`: the update's extras and the momentum buffer aligned with net.data."""
    layers = [net.csr(l) for l in range(net.n_layers)]
    gains = [] if drop is not None else None
    H = forward(layers, Xa, relu, drop, gains)
    loss, Ds = backward(layers, H, y, relu, gains)
    if not np.isfinite(loss):
        return loss
    gs = []
    for l in range(net.n_layers):  # sampled outer product: only the surviving (i, j)
        rows, cols = net._rows_cols(l)
        gs.append(np.einsum("bk,bk->k", H[l][:, rows], Ds[l + 1][:, cols]))
    for l, g in enumerate(gs):
        if graw is not None:
            graw[net.nz_off[l] : net.nz_off[l + 1]] = g
        if apply:
            sl = slice(net.nz_off[l], net.nz_off[l + 1])
            update(net.data[sl], g, lr, Xa.shape[0], rule, None if vel is None else vel[sl])
    return loss


def apply_raw(net: SparseNet, graw, lr: float, B: int, rule: UpdateRule | None = None, vel=None) -> None:
    """Apply raw gradients stored by `sparse_step_scipy` (the same `update`, bit-identical)."""
    update(net.data, graw, lr, B, rule, vel)
