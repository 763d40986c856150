"""numba kernels for a net with one wide hidden level: each hidden unit visited once a pass.

At a million hidden units the activations of a batch (units x batch, float64) no longer fit in
any cache: at batch 64 and 400,000 live units one level is 200 MB, and the general kernels
(kernels.py) sweep it level by level -- zero it, gather into it, activate it, scatter out of
it, then the same for the deltas -- five or six passes a step. For a ReLU net with one hidden
level (784-H-10) these kernels visit each hidden unit j once in the forward pass (zero, gather
its inputs by column, ReLU, scatter it into the outputs) and once in the backward pass (its
delta from its outgoing weights, their sampled outer products and updates, f', then its
incoming weights' outer products and updates): the level is written once and read once, and
its deltas never leave the cache.

Layer 0's weights are visited by column, so during a call they live in column order (one
gather at its start, one scatter back at its end: a random pass a call, not a weight visit).
The arithmetic is that of kernels._sparse_steps in the same order (each unit gathers its
inputs by ascending row, the outputs add units in ascending order, a delta adds its outgoing
weights in CSR order, f' after); the sampled outer products' sums over the batch are
vectorised by LLVM in another order, so training equals the general kernels to float
tolerance (tests hold it), and evaluation is the same bits. `fits(net, B, relu, dropout)`
says when they apply (engines.SparseEngine and net.predict use them then): two weight
layers, ReLU, no dropout, a hidden level of WIDE_MIN activations or more (beyond L2, where
the level-by-level sweeps are bound by memory) and outputs small enough to be scattered into.
"""

from __future__ import annotations

import numpy as np

from .dropout import HAVE_NUMBA, numba
from .kernels import _SCATTER_MAX, _arrays, _extras

WIDE_MIN = 1 << 17  # activations (units x batch, 1 MiB) from which a hidden level is "wide"


def fits(net, B: int, relu: bool, dropping: bool) -> bool:
    """Do the one-wide-level kernels apply to this net at batch size B?"""
    s = net.sizes
    return (HAVE_NUMBA and relu and not dropping and len(s) == 3 and int(s[1]) * B >= WIDE_MIN
            and int(s[2]) * B <= _SCATTER_MAX)


if HAVE_NUMBA:
    from .kmath import _FM, _U, _all_zero, _output_delta, _update

    @numba.njit(cache=True, nogil=True, fastmath=_FM, inline="always")
    def _unit_forward(H0, H1, jb, H2, j, B, Bs, net, w0, Z):
        """Hidden unit j of a block of Bs samples (stride B) into H1[jb:]: its inputs gathered by
        column (w0: layer 0's weights in column order), ReLU, then added into the outputs H2
        through its CSR row of layer 1."""
        indptr, indices, data, ip_off, nz_off, rows_act, ra_off, sizes, colptr, rowidx, perm, cp_off = net
        for b in range(Bs):
            H1[jb + b] = 0.0
        for p in range(colptr[j], colptr[j + 1]):
            i = rowidx[p]
            if Z[i]:
                continue
            w = w0[p]
            ib = i * B
            for b in range(Bs):
                H1[_U(jb + b)] += w * H0[_U(ib + b)]
        for b in range(Bs):
            H1[jb + b] = max(H1[jb + b], 0.0)
        if _all_zero(H1, jb, Bs):
            return
        z1 = nz_off[1]
        for k in range(z1 + indptr[ip_off[1] + j], z1 + indptr[ip_off[1] + j + 1]):
            w = data[k]
            ob = indices[k] * B
            for b in range(Bs):
                H2[_U(ob + b)] += w * H1[_U(jb + b)]

    @numba.njit(cache=True, nogil=True, fastmath=_FM)
    def _gather(X, H0, Z, rows_act, ra_off, B, Bs, rows):
        """Level 0 of a block: the inputs that still have weights (the bias unit last) of the
        data rows `rows` (slot b: rows[b]), and Z[i]: input i is zero for the whole block."""
        nf = X.shape[1]
        for b in range(Bs):
            r = rows[b]
            for t in range(ra_off[0], ra_off[1]):
                i = rows_act[t]
                H0[i * B + b] = X[r, i] if i < nf else 1.0
        for t in range(ra_off[0], ra_off[1]):
            Z[rows_act[t]] = _all_zero(H0, rows_act[t] * B, Bs)

    @numba.njit(cache=True, nogil=True)
    def _by_column(a, perm, n, out):
        """out[p] = a[perm[p]] for p < n: layer 0's values in column order (one random pass a
        call, instead of one a weight visit)."""
        for p in range(n):
            out[p] = a[perm[p]]

    @numba.njit(cache=True, nogil=True)
    def _by_row(a, perm, n, out):
        """The inverse of _by_column: out[perm[p]] = a[p]."""
        for p in range(n):
            out[perm[p]] = a[p]

    @numba.njit(cache=True, nogil=True, fastmath=_FM)
    def wide_steps(X, y, batches, net, c, losses, graw, flags, vel, opt, H1):
        """kernels._sparse_steps for fits() nets (no dropout): batches.shape[0] fused steps;
        returns the steps completed (< n at a non-finite loss). Layer 0's weights (and momentum)
        are trained in column order and put back in CSR order at the end. H1: the hidden level's
        buffer (units x batch, any contents), kept by the caller from call to call: at a million
        units a fresh one costs more in page faults than a step."""
        indptr, indices, data, ip_off, nz_off, rows_act, ra_off, sizes, colptr, rowidx, perm, cp_off = net
        store_last, apply_last = flags[0], flags[1]
        n_steps, B = batches.shape
        n1, C, n0, z1 = sizes[1], sizes[2], nz_off[1], nz_off[1]
        H0 = np.zeros(sizes[0] * B)
        H2, D2, d = np.zeros(C * B), np.zeros(C * B), np.zeros(B)
        Z = np.zeros(sizes[0], np.bool_)
        w0 = np.empty(n0)
        _by_column(data, perm, n0, w0)
        v0 = np.empty(n0 if opt is not None else 0)
        if opt is not None:
            _by_column(vel, perm, n0, v0)
        done = n_steps
        for s in range(n_steps):
            _gather(X, H0, Z, rows_act, ra_off, B, B, batches[s])
            for q in range(C * B):
                H2[q] = 0.0
            for j in range(n1):
                _unit_forward(H0, H1, j * B, H2, j, B, B, net, w0, Z)
            loss = 0.0
            for b in range(B):
                loss = _output_delta(H2, D2, b, B, C, y[batches[s, b]], True, loss)
            loss /= B
            losses[s] = loss
            if not np.isfinite(loss):
                done = s
                break
            last = s == n_steps - 1
            store = store_last and last
            upd = apply_last or not last
            for j in range(n1):  # each hidden unit: layer 1's row j, then layer 0's column j
                jb = j * B
                for b in range(B):
                    d[b] = 0.0
                zero = _all_zero(H1, jb, B)
                for k in range(z1 + indptr[ip_off[1] + j], z1 + indptr[ip_off[1] + j + 1]):
                    ob = indices[k] * B
                    w = data[k]
                    for b in range(B):
                        d[b] += w * D2[_U(ob + b)]
                    g = 0.0
                    if not zero:
                        for b in range(B):
                            g += H1[_U(jb + b)] * D2[_U(ob + b)]
                    if store:
                        graw[k] = g
                    if upd and (opt is not None or not zero):
                        _update(data, k, c, g, vel, opt)
                for b in range(B):
                    d[b] *= 1.0 if H1[jb + b] > 0.0 else 0.0
                for p in range(colptr[j], colptr[j + 1]):
                    i = rowidx[p]
                    g = 0.0
                    if not Z[i]:
                        ib = i * B
                        for b in range(B):
                            g += H0[_U(ib + b)] * d[b]
                    if store:
                        graw[perm[p]] = g
                    if upd and (opt is not None or not Z[i]):
                        _update(w0, p, c, g, v0, opt)
        _by_row(w0, perm, n0, data)
        if opt is not None:
            _by_row(v0, perm, n0, vel)
        return done

    @numba.njit(cache=True, nogil=True, fastmath=_FM)
    def wide_forward(X, net, out, B):
        """kernels._forward_batched for fits() nets: output logits for every row of X, in blocks
        of B samples; the hidden level is never stored beyond one unit."""
        sizes, n0 = net[7], net[4][1]
        n, C, n1 = X.shape[0], sizes[2], sizes[1]
        H0, H1, H2 = np.zeros(sizes[0] * B), np.zeros(B), np.zeros(C * B)
        Z = np.zeros(sizes[0], np.bool_)
        w0 = np.empty(n0)
        _by_column(net[2], net[10], n0, w0)
        rows = np.arange(n)
        for s0 in range(0, n, B):
            Bs = min(B, n - s0)
            _gather(X, H0, Z, net[5], net[6], B, Bs, rows[s0:])
            for q in range(C * B):
                H2[q] = 0.0
            for j in range(n1):
                _unit_forward(H0, H1, 0, H2, j, B, Bs, net, w0, Z)
            for o in range(C):
                for b in range(Bs):
                    out[s0 + b, o] = H2[o * B + b]


def sparse_steps(net, X, y, batches, lr, losses, graw=None, store_last=False, apply_last=True, rule=None,
                 vel=None, work=None) -> int:
    """kernels.sparse_steps (same arguments, no dropout) for a net that `fits`. `work`: a list the
    caller keeps, holding the hidden level's buffer from one call to the next."""

    graw = np.empty(0) if graw is None else graw
    B = batches.shape[1]
    opt, vel = _extras(net, rule, lr, B, vel, graw)
    flags = np.array([store_last, apply_last])
    n = int(net.sizes[1]) * B
    work = [] if work is None else work
    if not work or len(work[0]) < n:
        work[:] = [np.empty(n)]
    return int(wide_steps(X, y, batches, _arrays(net), lr / B, losses, graw, flags, vel, opt, work[0]))


def predict(net, X, block: int = 256):
    """kernels.predict_net (ReLU) for a net that `fits`: the same bits at any block size (each
    sample's sums are added in the same order)."""

    out = np.empty((len(X), int(net.sizes[-1])))
    wide_forward(np.ascontiguousarray(X), _arrays(net), out, block)
    return out
