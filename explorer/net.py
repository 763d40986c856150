"""MLP math: dense layers (numpy), CSR layers (scipy.sparse and fused numba kernels).

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

Two ways to run the sparse phase, equal to float tolerance (tests hold it):
- `sparse_step_scipy`: the readable reference, scipy.sparse products and a gathered
  sampled outer product;
- `sparse_steps_numba`: one fused kernel for many steps at once, activations stored
  unit-major / batch-minor so that every inner loop over the batch is contiguous. It is
  hand-written because no library offers a sampled outer product (SDDMM) restricted to a
  CSR pattern with a fused update, and Python overhead per step dominates at batch 1.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

try:  # numba is the sanctioned accelerator; everything works without it (scipy path)
    import numba

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover - exercised only where numba is missing
    numba = None
    HAVE_NUMBA = False

from . import blas


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
    if HAVE_NUMBA and not relu:  # output_delta's tanh branch in one pass, no temporaries
        loss = _tanh_out_delta(out, y, Ds[L]) / B
    else:  # (softmax stays numpy's everywhere: exp and the loss's sum round differently in numba)
        loss, Ds[L][...] = output_delta(out, y, relu)
    if not np.isfinite(loss):
        return loss, None, None
    for l in range(L - 1, 0, -1):  # backward: D[l] = (D[l+1] W[l]^T) * f'(H[l])
        D = Ds[l]
        np.matmul(Ds[l + 1], Ws[l].T, out=D)
        if HAVE_NUMBA:  # one pass, no temporary, the same roundings
            _times_fprime(D.reshape(-1), H[l].reshape(-1), relu)
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
        elif h.shape[0] == 1:
            blas.ger_acc(W, h, d, c)
        else:
            blas.gemm_acc(W, h, d, c)


def predict(layers, X: np.ndarray, relu: bool, chunk: int = 4096) -> np.ndarray:
    """Output scores (B, C) for raw inputs X (bias added here), in chunks to bound memory."""
    outs = [forward(layers, with_bias(X[i : i + chunk]), relu)[-1] for i in range(0, len(X), chunk)]
    return np.concatenate(outs) if outs else np.zeros((0, layers[-1].shape[1]))


def evaluate(layers, X, y, relu: bool) -> tuple[float, float]:
    """(accuracy, mean loss) on a labelled set."""
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


# Reassociation lets LLVM vectorise the batch reductions; no nnan/ninf (the kernels must
# still see a non-finite loss) and no contraction into FMAs (the split step applies
# `data += c * g` separately and must round exactly as the fused kernel does).
_FM = {"reassoc"}
_NP_TANH_MIN = 256  # activations per level and step from which numpy's SIMD tanh pays (_tanh_inplace)
_U = np.uint64  # index arithmetic in the flat loops: unsigned, so no negative-index wraparound

if HAVE_NUMBA:

    @numba.njit(cache=True)  # the object-mode block takes the GIL for numpy's call, nothing else
    def _tanh_inplace(v):
        """v = tanh(v). numba's np.tanh is libm's scalar tanh (~14 ns a call here); numpy's
        SIMD tanh takes ~1.2 ns an element, so long vectors go to numpy through an object-mode
        block (~1.5 us a call). The results differ from libm's by at most an ulp; numpy's is
        also what the scipy reference path uses."""
        if v.shape[0] >= _NP_TANH_MIN:
            with numba.objmode():
                np.tanh(v, out=v)
        else:
            for q in range(v.shape[0]):
                v[q] = np.tanh(v[q])

    @numba.njit(cache=True, nogil=True)  # no fastmath: no FMA, the numpy path's roundings
    def _times_fprime(D, H, relu):
        """D *= f'(H) for the dense backward: (H > 0) for ReLU, 1 - H^2 for tanh."""
        for q in range(D.shape[0]):
            h = H[q]
            D[q] *= (1.0 if h > 0.0 else 0.0) if relu else 1.0 - h * h

    @numba.njit(cache=True, nogil=True)
    def _tanh_out_delta(out, y, D):
        """D = (t - out)(1 - out^2) for +-1 targets t; returns 0.5 * sum (t - out)^2."""
        loss = 0.0
        for b in range(out.shape[0]):
            t = y[b]
            for j in range(out.shape[1]):
                o = out[b, j]
                e = (1.0 if j == t else -1.0) - o
                loss += 0.5 * e * e
                D[b, j] = e * (1.0 - o * o)
        return loss

    @numba.njit(cache=True, nogil=True)
    def gather_rows(X, idx, out):
        """out[b, :n_features] = X[idx[b]] as float64 (the batch, straight into a buffer
        whose last column is the bias)."""
        nf = X.shape[1]
        for b in range(idx.shape[0]):
            r = idx[b]
            for i in range(nf):
                out[b, i] = X[r, i]

    @numba.njit(cache=True, nogil=True, inline="always")
    def _all_zero(H, start, n):
        """Are H[start:start + n] all zero (an input row that no sample of the batch uses)?"""
        for b in range(n):
            if H[start + b] != 0.0:
                return False
        return True

    @numba.njit(cache=True, nogil=True, fastmath=_FM)
    def _forward_levels(H, off, indptr, indices, data, ip_off, nz_off, rows_act, ra_off, sizes, relu, B, Bs):
        """Forward pass of the CSR layers over the first Bs of B samples held in H (level-major,
        unit-major, batch-minor; level 0 already gathered). Rows whose inputs are all zero in
        this batch are skipped (images are mostly black). Shared by training and evaluation."""
        L = sizes.shape[0] - 1
        for l in range(L):
            a0 = off[l + 1]
            for q in range(a0, a0 + sizes[l + 1] * B):
                H[q] = 0.0
            p0 = ip_off[l]
            z0 = nz_off[l]
            for t in range(ra_off[l], ra_off[l + 1]):
                i = rows_act[t]
                hb = off[l] + i * B
                if _all_zero(H, hb, Bs):
                    continue
                for k in range(z0 + indptr[p0 + i], z0 + indptr[p0 + i + 1]):
                    w = data[k]
                    jb = a0 + indices[k] * B
                    for b in range(Bs):
                        H[_U(jb + b)] += w * H[_U(hb + b)]
            if relu and l < L - 1:
                for q in range(a0, a0 + sizes[l + 1] * B):
                    H[q] = max(H[q], 0.0)
            elif not relu:
                _tanh_inplace(H[a0 : a0 + sizes[l + 1] * B])

    @numba.njit(cache=True, nogil=True, fastmath=_FM)
    def _sparse_steps(X, y, batches, indptr, indices, data, ip_off, nz_off, rows_act, ra_off, sizes, relu, c, losses,
                      graw, flags):
        """Run batches.shape[0] fused SGD steps; flags = (store grads of last step, apply last
        step's update). Returns the number of steps completed (< n at a non-finite loss)."""
        store_last, apply_last = flags[0], flags[1]
        n_steps, B = batches.shape
        L = sizes.shape[0] - 1
        nf = X.shape[1]
        off = np.zeros(L + 2, np.int64)
        for v in range(L + 1):
            off[v + 1] = off[v] + sizes[v] * B
        H = np.zeros(off[L + 1])  # level-major, unit-major, batch-minor
        D = np.zeros(off[L + 1])
        for s in range(n_steps):
            for b in range(B):  # gather the batch: only inputs that still have weights
                r = batches[s, b]
                for t in range(ra_off[0], ra_off[1]):
                    i = rows_act[t]
                    H[i * B + b] = X[r, i] if i < nf else 1.0
            _forward_levels(H, off, indptr, indices, data, ip_off, nz_off, rows_act, ra_off, sizes, relu, B, B)
            o0 = off[L]  # output deltas and loss
            C = sizes[L]
            loss = 0.0
            for b in range(B):
                t = y[batches[s, b]]
                if relu:
                    m = H[o0 + b]
                    for j in range(1, C):
                        m = max(m, H[o0 + j * B + b])
                    tot = 0.0
                    for j in range(C):
                        tot += np.exp(H[o0 + j * B + b] - m)
                    loss += np.log(tot) - (H[o0 + t * B + b] - m)
                    for j in range(C):
                        p = np.exp(H[o0 + j * B + b] - m) / tot
                        D[o0 + j * B + b] = (1.0 if j == t else 0.0) - p
                else:
                    for j in range(C):
                        yo = H[o0 + j * B + b]
                        e = (1.0 if j == t else -1.0) - yo
                        loss += 0.5 * e * e
                        D[o0 + j * B + b] = e * (1.0 - yo * yo)
            loss /= B
            losses[s] = loss
            if not np.isfinite(loss):
                return s
            for l in range(L - 1, 0, -1):  # backward: deltas of the hidden levels
                d0 = off[l]
                for q in range(d0, d0 + sizes[l] * B):
                    D[q] = 0.0
                p0 = ip_off[l]
                z0 = nz_off[l]
                for t in range(ra_off[l], ra_off[l + 1]):
                    i = rows_act[t]
                    ib = d0 + i * B
                    for k in range(z0 + indptr[p0 + i], z0 + indptr[p0 + i + 1]):
                        w = data[k]
                        jb = off[l + 1] + indices[k] * B
                        for b in range(B):
                            D[_U(ib + b)] += w * D[_U(jb + b)]
                for q in range(d0, d0 + sizes[l] * B):
                    h = H[q]
                    D[q] *= (1.0 if h > 0.0 else 0.0) if relu else 1.0 - h * h
            last = s == n_steps - 1
            store = store_last and last
            upd = apply_last or not last
            for l in range(L):  # sampled outer product and update, surviving weights only
                p0 = ip_off[l]
                z0 = nz_off[l]
                for t in range(ra_off[l], ra_off[l + 1]):
                    i = rows_act[t]
                    k0 = z0 + indptr[p0 + i]
                    k1 = z0 + indptr[p0 + i + 1]
                    hb = off[l] + i * B
                    if _all_zero(H, hb, B):
                        if store:
                            for k in range(k0, k1):
                                graw[k] = 0.0
                        continue
                    for k in range(k0, k1):
                        jb = off[l + 1] + indices[k] * B
                        g = 0.0
                        for b in range(B):
                            g += H[_U(hb + b)] * D[_U(jb + b)]
                        if store:
                            graw[k] = g
                        if upd:
                            data[k] += c * g
        return n_steps

    @numba.njit(cache=True, nogil=True, fastmath=_FM)
    def _apply(data, graw, c):
        for k in range(data.shape[0]):
            data[k] += c * graw[k]

    @numba.njit(cache=True, nogil=True, fastmath=_FM)
    def _steps_b1(X, y, batches, indptr, indices, rows32, cols32, data, ip_off, nz_off, rows_act, ra_off, sizes,
                  relu, c, losses, graw, flags):
        """Batch size 1. Forward and update are one flat loop over the layer's surviving
        weights (rows32/cols32), with no per-row branches: at ~12 weights a row, the row
        loop's mispredicted exits and zero-input tests cost more than the ~23% of products
        with a zero input they would skip (measured 9.7 vs 13.2 us/step on the post's net).
        Backward keeps the CSR rows (a register accumulator per unit). The inputs that still
        have weights are converted to float64 once per step, the bias unit last."""
        store_last, apply_last = flags[0], flags[1]
        n_steps = batches.shape[0]
        L = sizes.shape[0] - 1
        nf = X.shape[1]
        off = np.zeros(L + 2, np.int64)
        for v in range(L + 1):
            off[v + 1] = off[v] + sizes[v]
        H = np.zeros(off[L + 1])  # H[off[v] + u]: activation of unit u of level v (level 0: inputs)
        D = np.zeros(off[L + 1])
        for s in range(n_steps):
            r = batches[s, 0]
            for t in range(ra_off[0], ra_off[1]):  # only inputs that still have weights
                i = rows_act[t]
                H[i] = X[r, i] if i < nf else 1.0
            for l in range(L):  # forward
                a0 = off[l + 1]
                h0 = off[l]
                for q in range(a0, a0 + sizes[l + 1]):
                    H[q] = 0.0
                for k in range(nz_off[l], nz_off[l + 1]):
                    H[_U(a0 + cols32[k])] += data[k] * H[_U(h0 + rows32[k])]
                if relu and l < L - 1:
                    for q in range(a0, a0 + sizes[l + 1]):
                        H[q] = max(H[q], 0.0)
                elif not relu:
                    _tanh_inplace(H[a0 : a0 + sizes[l + 1]])
            o0 = off[L]
            C = sizes[L]
            t_ = y[r]
            loss = 0.0
            if relu:
                m = H[o0]
                for j in range(1, C):
                    m = max(m, H[o0 + j])
                tot = 0.0
                for j in range(C):
                    tot += np.exp(H[o0 + j] - m)
                loss = np.log(tot) - (H[o0 + t_] - m)
                for j in range(C):
                    D[o0 + j] = (1.0 if j == t_ else 0.0) - np.exp(H[o0 + j] - m) / tot
            else:
                for j in range(C):
                    yo = H[o0 + j]
                    e = (1.0 if j == t_ else -1.0) - yo
                    loss += 0.5 * e * e
                    D[o0 + j] = e * (1.0 - yo * yo)
            losses[s] = loss
            if not np.isfinite(loss):
                return s
            for l in range(L - 1, 0, -1):  # backward: flat too (rows of varying length mispredict)
                d0 = off[l]
                e0 = off[l + 1]
                for q in range(d0, d0 + sizes[l]):
                    D[q] = 0.0
                for k in range(nz_off[l], nz_off[l + 1]):
                    D[_U(d0 + rows32[k])] += data[k] * D[_U(e0 + cols32[k])]
                for q in range(d0, d0 + sizes[l]):
                    h = H[q]
                    D[q] *= (1.0 if h > 0.0 else 0.0) if relu else 1.0 - h * h
            last = s == n_steps - 1
            store = store_last and last
            upd = apply_last or not last
            for l in range(L):  # sampled outer product and update
                h0 = off[l]
                e0 = off[l + 1]
                if store:
                    for k in range(nz_off[l], nz_off[l + 1]):
                        g = H[_U(h0 + rows32[k])] * D[_U(e0 + cols32[k])]
                        graw[k] = g
                        if upd:
                            data[k] += c * g
                elif upd:
                    for k in range(nz_off[l], nz_off[l + 1]):
                        g = H[_U(h0 + rows32[k])] * D[_U(e0 + cols32[k])]
                        data[k] += c * g
        return n_steps

    @numba.njit(cache=True, nogil=True, fastmath=_FM)
    def _forward_batched(X, indptr, indices, data, ip_off, nz_off, rows_act, ra_off, sizes, relu, out, B):
        """Output scores (tanh outputs or logits) for every row of X (float32 or float64), in
        blocks of B samples with the general kernel's forward (vectorised over the block):
        no float64 copy of X, no bias column, only inputs that still have weights read."""
        n = X.shape[0]
        L = sizes.shape[0] - 1
        nf = X.shape[1]
        off = np.zeros(L + 2, np.int64)
        for v in range(L + 1):
            off[v + 1] = off[v] + sizes[v] * B
        H = np.zeros(off[L + 1])
        for s0 in range(0, n, B):
            Bs = min(B, n - s0)
            for b in range(Bs):
                for t in range(ra_off[0], ra_off[1]):
                    i = rows_act[t]
                    H[i * B + b] = X[s0 + b, i] if i < nf else 1.0
            _forward_levels(H, off, indptr, indices, data, ip_off, nz_off, rows_act, ra_off, sizes, relu, B, Bs)
            for j in range(sizes[L]):
                for b in range(Bs):
                    out[s0 + b, j] = H[off[L] + j * B + b]


def sparse_steps_numba(net: SparseNet, X, y, batches, relu, lr, losses, graw=None, store_last=False,
                       apply_last=True) -> int:
    """Fused steps on `net` for the sample indices `batches` (n_steps, B). Returns steps done."""
    if graw is None:
        graw = np.empty(0)
    flags = np.array([store_last, apply_last])
    if batches.shape[1] == 1:
        return int(_steps_b1(X, y, batches, net.indptr, net.indices, net.rows32, net.cols32, net.data, net.ip_off,
                             net.nz_off, net.rows_act, net.ra_off, net.sizes, relu, lr, losses, graw, flags))
    return int(_sparse_steps(X, y, batches, net.indptr, net.indices, net.data, net.ip_off, net.nz_off,
                             net.rows_act, net.ra_off, net.sizes, relu, lr / batches.shape[1], losses, graw, flags))


def apply_raw(net: SparseNet, graw, lr: float, B: int, engine: str = "numba") -> None:
    """Apply stored raw gradients with exactly the engine's arithmetic (bit-identical)."""
    c = lr / B
    if engine == "numba" and HAVE_NUMBA:
        _apply(net.data, graw, c)
    else:
        update(net.data, c, graw)


def predict_net(net: SparseNet, X: np.ndarray, relu: bool) -> np.ndarray:
    """Output scores (n, C) of a SparseNet for raw inputs X: the numba forward in blocks of
    64 samples when numba is there (reads float32 or float64 X as is), else scipy products."""
    X = np.asarray(X)
    if HAVE_NUMBA and X.dtype in (np.float32, np.float64):
        out = np.empty((len(X), int(net.sizes[-1])))
        _forward_batched(np.ascontiguousarray(X), net.indptr, net.indices, net.data, net.ip_off, net.nz_off,
                         net.rows_act, net.ra_off, net.sizes, relu, out, 64)
        return out
    return predict([net.csr(l) for l in range(net.n_layers)], X, relu)


def evaluate_net(net: SparseNet, X, y, relu: bool) -> tuple[float, float]:
    """(accuracy, mean loss) of a SparseNet on a labelled set (see predict_net)."""
    if len(X) == 0:
        return float("nan"), float("nan")
    out = predict_net(net, X, relu)
    loss, _ = output_delta(out, y, relu)
    return float(np.mean(out.argmax(axis=1) == y)), loss
