"""numba kernels: the fused sparse steps, the sparse forward, and the dense phase's elementwise loops.

What is here, on the flat arrays of a `net.SparseNet` or on `net.DenseWork` buffers:
- `sparse_steps`: many fused SGD steps of the sparse phase in one call (forward, output deltas,
  backward, sampled outer product, update): `_sparse_steps` at any batch size, b1.steps_b1 at 1
  (and wide.py's kernels for a net with one wide hidden level, chosen by the engine);
- `apply_raw`: stored raw gradients applied later (a step split around a hook), rounding as the
  fused update does; `predict_net`: the sparse forward for evaluation;
- `gather_rows`, `output_deltas`, `times_fprime`: the dense phase's loops (`net.dense_step`).

Why hand-written: no library offers a sampled outer product (SDDMM) restricted to a CSR pattern
with a fused update, and at batch 1 Python's overhead per step is larger than its arithmetic.
The batched kernel stores activations unit-major / batch-minor: inner loops are contiguous.

The math once: the output deltas and loss of one sample (`_output_delta`), f' (`_fprime`), the
weight update (`_update`: plain SGD, or with momentum, weight decay and L1) and dropout
(`_dropout`, dropout.py's hash) are small helpers used by every kernel, in kmath.py (the
readable numpy reference is `net.py`). No update rule (opt None) and a dropout rate of 0 leave the plain
arithmetic, bit for bit.

Importable without numba: HAVE_NUMBA says whether the kernels exist; callers ask it.
"""

from __future__ import annotations

import numpy as np

from .dropout import HAVE_NUMBA, numba
from .kmath import _FM, _NO_DROP, _NO_UID, _U

if HAVE_NUMBA:
    from .b1 import steps_b1
    from .kmath import _all_zero, _apply, _dropout, _fprime, _output_delta, _relu_gain, _tanh_inplace, _update
_SCATTER_MAX = 4096  # activations (units x batch) of a level up to which the forward scatters (32 KB)
EVAL_MAX = 1 << 22  # activations (float64, 32 MiB) an evaluation holds at most (predict_net, net.predict)

if HAVE_NUMBA:
    # -- the dense phase's loops (net.dense_step) -----------------------------------------
    @numba.njit(cache=True, nogil=True)  # no fastmath: no FMA, the numpy path's roundings
    def times_fprime(D, H, relu):
        """D *= f'(H) for the dense backward, flat views of (B, n) buffers."""
        for q in range(D.shape[0]):
            D[q] *= _fprime(H[q], relu)

    @numba.njit(cache=True, nogil=True)
    def output_deltas(out, y, D, relu):
        """D = the output deltas of the (B, C) outputs `out` (C-contiguous, as D); returns the batch's summed loss."""
        C = out.shape[1]
        o, d = out.reshape(-1), D.reshape(-1)
        loss = 0.0
        for b in range(out.shape[0]):
            loss = _output_delta(o, d, b * C, 1, C, y[b], relu, loss)
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

    # -- the sparse phase --------------------------------------------------------------------
    @numba.njit(cache=True, nogil=True, fastmath=_FM)
    def _forward_levels(H, off, net, relu, B, Bs, drop, uid, G, step, Z):
        """Forward pass over the first Bs of B samples in H (level-major, unit-major, batch-minor;
        level 0 gathered); net: `_arrays`. Inputs zero for the whole batch are skipped (Z). A level
        whose sums fit in L1 is scattered into from the CSR rows, a larger one filled by column
        (CSC): each unit gathers its inputs, its sum stays in cache. Both add rows in ascending
        order: the same bits. Training and evaluation (dropout rate drop[0] 0) share it."""
        indptr, indices, data, ip_off, nz_off, rows_act, ra_off, sizes, colptr, rowidx, perm, cp_off = net
        L = sizes.shape[0] - 1
        u0 = 0
        for l in range(L):
            u0 += sizes[l]
            h0, a0, z0 = off[l], off[l + 1], nz_off[l]
            for t in range(ra_off[l], ra_off[l + 1]):  # the inputs that have weights
                Z[rows_act[t]] = _all_zero(H, h0 + rows_act[t] * B, Bs)
            for q in range(a0, a0 + sizes[l + 1] * B):
                H[q] = 0.0
            if sizes[l + 1] * B <= _SCATTER_MAX:
                for t in range(ra_off[l], ra_off[l + 1]):
                    i = rows_act[t]
                    if Z[i]:
                        continue
                    ib = h0 + i * B
                    for k in range(z0 + indptr[ip_off[l] + i], z0 + indptr[ip_off[l] + i + 1]):
                        w = data[k]
                        jb = a0 + indices[k] * B
                        for b in range(Bs):
                            H[_U(jb + b)] += w * H[_U(ib + b)]
            else:
                for j in range(sizes[l + 1]):
                    jb = a0 + j * B
                    for p in range(z0 + colptr[cp_off[l] + j], z0 + colptr[cp_off[l] + j + 1]):
                        i = rowidx[p]
                        if l == 0 and Z[i]:  # only pixels are often zero for a whole batch: a
                            continue  # check per weight above costs the hidden levels ~8%
                        w = data[perm[p]]
                        ib = h0 + i * B
                        for b in range(Bs):
                            H[_U(jb + b)] += w * H[_U(ib + b)]
            if relu and l < L - 1:
                for q in range(a0, a0 + sizes[l + 1] * B):
                    H[q] = max(H[q], 0.0)
            elif not relu:
                _tanh_inplace(H[a0 : a0 + sizes[l + 1] * B])
            if drop[0] > 0.0 and l < L - 1:
                _dropout(H, G, a0, sizes[l + 1], B, Bs, relu, drop, uid, u0, l + 1, step)

    @numba.njit(cache=True, nogil=True, fastmath=_FM)
    def _sparse_steps(X, y, batches, net, relu, c, losses, graw, flags, vel, opt, drop, uid, step0):
        """Run batches.shape[0] fused SGD steps on `net` (`_arrays`); flags = (store grads of last
        step, apply last step's update); vel, opt: the update's extras (`_update`); drop, uid:
        dropout (`_dropout`); step0: the run's step number of the first step. Returns the number
        of steps completed (< n at a non-finite loss)."""
        indptr, indices, data, ip_off, nz_off, rows_act, ra_off, sizes, colptr, rowidx, perm, cp_off = net
        store_last, apply_last = flags[0], flags[1]
        dropping = drop[0] > 0.0
        n_steps, B = batches.shape
        L = sizes.shape[0] - 1
        nf = X.shape[1]
        off = np.zeros(L + 2, np.int64)
        for v in range(L + 1):
            off[v + 1] = off[v] + sizes[v] * B
        H = np.zeros(off[L + 1])  # level-major, unit-major, batch-minor
        D = np.zeros(off[L + 1])
        G = np.zeros(off[L + 1] if dropping and not relu else 0)  # dropout's backward gains (ReLU: from H)
        Z = np.zeros(sizes.max(), np.bool_)
        gbuf = np.empty(data.shape[0] if opt is not None else 0)  # gradients for the extras' update
        for s in range(n_steps):
            for t in range(ra_off[0], ra_off[1]):  # gather the batch: only inputs that still have weights,
                i = rows_act[t]  # H's rows written in order (the batch's rows of X stay in cache)
                for b in range(B):
                    H[i * B + b] = X[batches[s, b], i] if i < nf else 1.0
            _forward_levels(H, off, net, relu, B, B, drop, uid, G, step0 + s, Z)
            o0 = off[L]  # output deltas and loss
            loss = 0.0
            for b in range(B):
                loss = _output_delta(H, D, o0 + b, B, sizes[L], y[batches[s, b]], relu, loss)
            loss /= B
            losses[s] = loss
            if not np.isfinite(loss):
                return s
            last = s == n_steps - 1
            store = store_last and last
            for l in range(L - 1, -1, -1):  # backward, sampled outer product and update, layer by layer
                d0 = off[l]
                if l > 0:
                    for q in range(d0, d0 + sizes[l] * B):
                        D[q] = 0.0
                rows = rows_act[ra_off[l] : ra_off[l + 1]]
                upd = apply_last or not last
                tobuf = store or opt is not None  # g kept (for a hook; or for the extras' own pass)
                _backward_rows(H, D, d0, off[l + 1], B, indptr[ip_off[l] :], indices, rows, nz_off[l], data, c,
                               graw if store else gbuf, tobuf, upd and not tobuf, l > 0)
                if tobuf and upd:  # the update from the kept gradients: a loop that vectorises
                    _apply(data, graw if store else gbuf, c, vel, opt, nz_off[l], nz_off[l + 1])
                if l > 0 and dropping and relu:
                    for q in range(d0, d0 + sizes[l] * B):
                        D[q] *= _relu_gain(H[q], drop[1])
                elif l > 0 and dropping:
                    for q in range(d0, d0 + sizes[l] * B):
                        D[q] *= G[q]
                elif l > 0:
                    for q in range(d0, d0 + sizes[l] * B):
                        D[q] *= _fprime(H[q], relu)
        return n_steps

    @numba.njit(cache=True, nogil=True, fastmath=_FM)
    def _backward_rows(H, D, h0, e0, B, indptr, indices, rows, z0, data, c, gbuf, tobuf, act, back):
        """One layer, row by row (rows: those with weights): with `back` the deltas of its inputs
        D_i = sum_k w_k D_j (old weights; f' is the caller's), and each weight's sampled outer
        product g = sum_b h_i d_j, kept in gbuf (tobuf) or used at once by plain SGD (act); D_j
        read once for both. The extras' update is the caller's `_apply` pass: in this loop, its
        store to the momentum buffer made LLVM's code ~10x slower."""
        if not (tobuf or act or back):
            return
        for i in rows:
            k0 = z0 + indptr[i]
            k1 = z0 + indptr[i + 1]
            hb = h0 + i * B
            zero = _all_zero(H, hb, B)  # then g = 0
            if zero and not back and not tobuf:
                continue
            for k in range(k0, k1):
                jb = e0 + indices[k] * B
                w = data[k]
                if back:
                    for b in range(B):
                        D[_U(hb + b)] += w * D[_U(jb + b)]
                g = 0.0
                if not zero:
                    for b in range(B):
                        g += H[_U(hb + b)] * D[_U(jb + b)]
                if tobuf:
                    gbuf[k] = g
                elif act:
                    _update(data, k, c, g, gbuf, None)  # plain SGD

    @numba.njit(cache=True, nogil=True, fastmath=_FM)
    def _forward_batched(X, net, relu, out, B):
        """Output scores (tanh outputs or logits) for every row of X (float32 or float64), in
        blocks of B samples with the general kernel's forward (vectorised over the block):
        no float64 copy of X, no bias column, only inputs that still have weights read."""
        indptr, indices, data, ip_off, nz_off, rows_act, ra_off, sizes, colptr, rowidx, perm, cp_off = net
        n = X.shape[0]
        L = sizes.shape[0] - 1
        nf = X.shape[1]
        off = np.zeros(L + 2, np.int64)
        for v in range(L + 1):
            off[v + 1] = off[v] + sizes[v] * B
        H = np.zeros(off[L + 1])
        Z = np.zeros(sizes.max(), np.bool_)
        for s0 in range(0, n, B):
            Bs = min(B, n - s0)
            for b in range(Bs):
                for t in range(ra_off[0], ra_off[1]):
                    i = rows_act[t]
                    H[i * B + b] = X[s0 + b, i] if i < nf else 1.0
            _forward_levels(H, off, net, relu, B, Bs, _NO_DROP, _NO_UID, H, 0, Z)
            for j in range(sizes[L]):
                for b in range(Bs):
                    out[s0 + b, j] = H[off[L] + j * B + b]


# -- entry points (numba required: ask HAVE_NUMBA first) -----------------------------------


def sparse_steps(net, X, y, batches, relu, lr, losses, graw=None, store_last=False, apply_last=True, rule=None,
                 vel=None, drop=None, step0=0) -> int:
    """Fused steps on the SparseNet `net` for the sample indices `batches` (n_steps, B), losses to
    losses[s]; store_last: the last step's raw gradients (aligned with net.data) to `graw`, its
    update left to `apply_raw` without apply_last. `rule` (net.UpdateRule), `vel` (momentum,
    aligned with net.data): the update's extras; `drop` = (p, seed): dropout, step s being the
    run's step0 + s. Returns the steps done (fewer at a non-finite loss)."""
    if graw is None:
        graw = np.empty(0)
    B = batches.shape[1]
    opt, vel = _extras(net, rule, lr, B, vel, graw)
    flags = np.array([store_last, apply_last])
    if drop is None or drop[0] <= 0:
        dr, uid = _NO_DROP, _NO_UID
    else:
        dr, uid = np.array([drop[0], 1.0 / (1.0 - drop[0]), drop[1]]), np.concatenate(net.units).astype(np.int64)
    if B == 1:
        return int(steps_b1(X, y, batches, net.rows32, net.cols32, net.data, net.nz_off, net.rows_act, net.ra_off,
                            net.sizes, relu, lr, losses, graw, flags, vel, opt, dr, uid, step0))
    return int(_sparse_steps(X, y, batches, _arrays(net), relu, lr / B, losses, graw, flags, vel, opt, dr, uid, step0))


def apply_raw(net, graw, lr: float, B: int, rule=None, vel=None) -> None:
    """Apply raw gradients stored by `sparse_steps` to net.data: bit-identical to the fused update."""
    opt, vel = _extras(net, rule, lr, B, vel, graw)
    _apply(net.data, graw, lr / B, vel, opt, 0, len(net.data))


def _extras(net, rule, lr, B, vel, dummy):
    """(opt, vel): opt None for plain SGD, else the rule's numbers and a momentum buffer (scratch if mu = 0)."""
    if rule is None or rule.plain:
        return None, dummy
    if vel is None or len(vel) != len(net.data):
        if rule.momentum:
            raise ValueError("momentum needs its buffer: pass vel, aligned with net.data")
        vel = np.zeros(len(net.data))
    return tuple(rule.array(lr, B)), vel


def predict_net(net, X: np.ndarray, relu: bool, block: int = 64) -> np.ndarray:
    """Output scores (n, C) of a SparseNet for raw float32/64 inputs X, by the training forward in
    blocks (smaller for very wide nets: at most EVAL_MAX activations; each sample's sums
    are added in the same order at any block size)."""
    block = max(1, min(block, EVAL_MAX // int(net.sizes.sum())))
    out = np.empty((len(X), int(net.sizes[-1])))
    _forward_batched(np.ascontiguousarray(X), _arrays(net), relu, out, block)
    return out


def _arrays(net) -> tuple:
    """A SparseNet's flat arrays, as the batched kernels take them."""
    return (net.indptr, net.indices, net.data, net.ip_off, net.nz_off, net.rows_act, net.ra_off, net.sizes,
            net.colptr, net.rowidx, net.perm, net.cp_off)
