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
  so the gradient of the batch-mean loss is -G / B.

Each operation is written once here, in numpy: the loss and output deltas (`output_delta`),
the hidden activation and its derivative (`hidden`, `fprime`), the update (`update`). The
fast engines are elsewhere and are tested against this module: `kernels.py` (numba: the
fused sparse steps, equal to `sparse_step_scipy` to float tolerance, and the dense phase's
elementwise loops, equal to the numpy lines they replace to the bit) and `blas.py` (the
dense update in place). This module runs without numba (`kernels.HAVE_NUMBA`).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from . import blas
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


def update(W: np.ndarray, c: float, G) -> None:
    """The update, in place: W += c * G, with G the raw gradient H^T D (c = lr / B)."""
    W += c * G


def forward(layers, Xa: np.ndarray, relu: bool) -> list[np.ndarray]:
    """Activations of every level for a batch; `layers` are dense arrays or scipy sparse
    matrices, (n_in, n_out) each. The last level holds tanh outputs or softmax logits."""
    H = [Xa]
    L = len(layers)
    for l, W in enumerate(layers):
        A = np.asarray(H[-1] @ W)  # (B, n_out)
        if l < L - 1:
            A = hidden(A, relu)
        elif not relu:
            A = np.tanh(A)
        H.append(A)
    return H


def backward(layers, H, y, relu: bool):
    """(loss, deltas per level) for activations H; deltas[0] is None."""
    loss, D = output_delta(H[-1], y, relu)
    Ds = [None] * len(H)
    Ds[-1] = D
    for l in range(len(layers) - 1, 0, -1):
        Ds[l] = np.asarray(Ds[l + 1] @ layers[l].T) * fprime(H[l], relu)  # (B, n_l)
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
               work: DenseWork | None = None):
    """One SGD step on dense weights, updated in place.

    Returns (loss, G, factors): G the raw gradients H^T D per layer (only with keep_grads,
    else None) and factors the (H, D) pairs the update is made of, so that a caller can
    apply it later with `apply_dense` (bit-identical to apply=True). With `masks`, the
    update is masked: the dense reference for a pruned net (used by the tests). `work`
    holds reusable buffers (the factors are views into it, valid until its next step);
    Xa may be work.H[0] itself, already gathered. The arithmetic is that of
    `forward`/`backward`, written into the buffers.
    """
    B = Xa.shape[0]
    if work is None or not work.fits(Ws, B):
        work = DenseWork([Ws[0].shape[0], *(w.shape[1] for w in Ws)], B)
    H, Ds = work.H, work.D
    if Xa is not H[0]:
        H[0][...] = Xa
    L = len(Ws)
    for l, W in enumerate(Ws):  # forward
        A = H[l + 1]
        np.matmul(H[l], W, out=A)
        if l < L - 1:
            hidden(A, relu, out=A)
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
        if K.HAVE_NUMBA:  # one pass, no temporary, the same roundings
            K.times_fprime(D.reshape(-1), H[l].reshape(-1), relu)
        else:
            D *= fprime(H[l], relu)
    factors = [(H[l], Ds[l + 1]) for l in range(L)]
    G = [np.matmul(h.T, d) for h, d in factors] if keep_grads else None
    if apply:
        apply_dense(Ws, factors, lr, masks)
    return loss, G, factors


def apply_dense(Ws, factors, lr: float, masks=None) -> None:
    """W += (lr / B) * H^T D for each layer (`update`), in place with BLAS: one pass over W
    and no temporaries, which is what makes the dense phase fast. At B = 1 scipy's dger; at
    B > 1 a dgemm with beta = 1 in numpy's own BLAS, so that every product of a step at
    B > 1 runs in one thread pool (see blas.one_thread). With masks, `update` masked."""
    for l, (W, (h, d)) in enumerate(zip(Ws, factors)):
        c = lr / h.shape[0]
        if masks is not None and masks[l] is not None:
            update(W, c, (h.T @ d) * masks[l])
        elif not (blas.ger_acc if h.shape[0] == 1 else blas.gemm_acc)(W, h, d, c):
            update(W, c, h.T @ d)  # arrays BLAS cannot update in place


def predict(layers, X: np.ndarray, relu: bool, chunk: int = 4096) -> np.ndarray:
    """Output scores (B, C) for raw inputs X (bias added here), in chunks to bound memory.
    `layers` may be a SparseNet: then numba's forward when numba is there (it reads float32
    or float64 X as is, see kernels.predict_net), else its scipy layers."""
    if isinstance(layers, SparseNet):
        X = np.asarray(X)
        if K.HAVE_NUMBA and X.dtype in (np.float32, np.float64):
            return K.predict_net(layers, X, relu)
        layers = [layers.csr(l) for l in range(layers.n_layers)]
    outs = [forward(layers, with_bias(X[i : i + chunk]), relu)[-1] for i in range(0, len(X), chunk)]
    return np.concatenate(outs) if outs else np.zeros((0, layers[-1].shape[1]))


def evaluate(layers, X, y, relu: bool) -> tuple[float, float]:
    """(accuracy, mean loss) on a labelled set (`layers` as for `predict`)."""
    if len(X) == 0:
        return float("nan"), float("nan")
    out = predict(layers, X, relu)
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
        ips, idxs, datas = [], [], []
        for l in range(L):
            r, c = self.units[l], self.units[l + 1]
            m = masks[l][np.ix_(r, c)] if masks[l] is not None else np.ones((len(r), len(c)), bool)
            rows, cols = np.nonzero(m)  # row-major: already in CSR order
            ips.append(np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=len(r)))]).astype(np.int64))
            idxs.append(cols.astype(np.int64))
            datas.append(weights[l][r[rows], c[cols]].astype(np.float64))
        self.sizes = np.array([len(u) for u in self.units], dtype=np.int64)
        self.ip_off = np.concatenate([[0], np.cumsum([len(p) for p in ips])]).astype(np.int64)
        self.nz_off = np.concatenate([[0], np.cumsum([len(d) for d in datas])]).astype(np.int64)
        self.indptr = np.concatenate(ips)
        self.indices = np.concatenate(idxs)
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

    @property
    def n_layers(self) -> int:
        return len(self.orig_shapes)

    def nnz(self, l: int) -> int:
        return int(self.nz_off[l + 1] - self.nz_off[l])

    def values(self, l: int) -> np.ndarray:
        return self.data[self.nz_off[l] : self.nz_off[l + 1]]

    def _rows_cols(self, l):
        ip = self.indptr[self.ip_off[l] : self.ip_off[l + 1]]
        rows = np.repeat(np.arange(len(ip) - 1), np.diff(ip))
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


def sparse_step_scipy(net: SparseNet, Xa, y, relu: bool, lr: float, graw=None, apply: bool = True):
    """One SGD step on a SparseNet with scipy: the reference the fused kernel is tested
    against. Xa is (B, n_features + 1). Raw gradients (aligned with net.data) go to `graw`."""
    layers = [net.csr(l) for l in range(net.n_layers)]
    H = forward(layers, Xa, relu)
    loss, Ds = backward(layers, H, y, relu)
    if not np.isfinite(loss):
        return loss
    c = lr / Xa.shape[0]
    gs = []
    for l in range(net.n_layers):  # sampled outer product: only the surviving (i, j)
        rows, cols = net._rows_cols(l)
        gs.append(np.einsum("bk,bk->k", H[l][:, rows], Ds[l + 1][:, cols]))
    for l, g in enumerate(gs):
        if graw is not None:
            graw[net.nz_off[l] : net.nz_off[l + 1]] = g
        if apply:
            update(net.values(l), c, g)
    return loss


def apply_raw(net: SparseNet, graw, lr: float, B: int) -> None:
    """Apply raw gradients stored by `sparse_step_scipy` (the same `update`, bit-identical)."""
    update(net.data, lr / B, graw)
