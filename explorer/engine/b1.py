"""The batch-1 kernel of the sparse phase: many fused SGD steps in one call, one sample a step.

Forward, backward and update are flat loops over each layer's surviving weights (the
SparseNet's rows32/cols32, CSR order) with no per-row branches: at ~12 weights a row, a row
loop's mispredicted exits and zero-input tests cost more than the ~23% of products with a zero
input they would skip (measured 9.7 vs 13.2 us/step on the post's net). The inputs that still
have weights are converted to float64 once per step, the bias unit last.

Each weight is visited as few times as the arithmetic allows, in the order the unfused steps
use, so the results are the same bits:
- with plain SGD, step s's update of a layer rides on step s + 1's forward through it: one
  pass `w += c h_s d_s; a_{s+1} += w h_{s+1}` instead of two (the activations of two steps in
  two buffers; the call's last step updates on its own, so hooks and split steps see the
  weights of the step they are at);
- the backward adds a unit's outgoing weights in a register, flushed when the row changes
  (the running sum through memory was a store-to-load chain per weight).
Measured at 784-8192-10 with keep:3140 on both layers (566 units, 5,923 weights), tanh:
12.5 -> 10.7 us/step for these two; numpy's tanh called directly (kmath) saves ~1 us more.
"""

from __future__ import annotations

import numpy as np

from .dropout import HAVE_NUMBA, numba
from .kmath import _FM, _U

if HAVE_NUMBA:
    from .kmath import _apply, _dropout, _fprime, _output_delta, _tanh_inplace, _update

    @numba.njit(cache=True, nogil=True, fastmath=_FM)
    def steps_b1(X, y, batches, rows32, cols32, data, nz_off, rows_act, ra_off, sizes, relu, c, losses, graw, flags,
                 vel, opt, drop, uid, step0):
        """batches.shape[0] steps at batch size 1 (arguments as kernels._sparse_steps, the net's
        flat arrays spelled out); returns the steps completed (< n at a non-finite loss)."""
        store_last, apply_last = flags[0], flags[1]
        dropping = drop[0] > 0.0
        n_steps = batches.shape[0]
        L = sizes.shape[0] - 1
        nf = X.shape[1]
        off = np.zeros(L + 2, np.int64)
        for v in range(L + 1):
            off[v + 1] = off[v] + sizes[v]
        HA = np.zeros(off[L + 1])  # H[off[v] + u]: activation of unit u of level v (level 0: inputs)
        HB = np.zeros(off[L + 1])  # ... of the other step (the update of step s rides on step s + 1)
        D = np.zeros(off[L + 1])
        G = np.zeros(off[L + 1] if dropping else 0)  # dropout's backward gains
        fuse = opt is None
        pending = False  # the previous step's update is still to be made (in this forward)
        for s in range(n_steps):
            H = HA if s % 2 == 0 else HB
            Hp = HB if s % 2 == 0 else HA
            r = batches[s, 0]
            for t in range(ra_off[0], ra_off[1]):  # only inputs that still have weights
                i = rows_act[t]
                H[i] = X[r, i] if i < nf else 1.0
            for l in range(L):  # forward (with the previous step's update of this layer)
                a0 = off[l + 1]
                h0 = off[l]
                for q in range(a0, a0 + sizes[l + 1]):
                    H[q] = 0.0
                if pending:
                    for k in range(nz_off[l], nz_off[l + 1]):
                        rk, ck = _U(h0 + rows32[k]), _U(a0 + cols32[k])
                        w = data[k] + c * (Hp[rk] * D[ck])
                        data[k] = w
                        H[ck] += w * H[rk]
                else:
                    for k in range(nz_off[l], nz_off[l + 1]):
                        H[_U(a0 + cols32[k])] += data[k] * H[_U(h0 + rows32[k])]
                if relu and l < L - 1:
                    for q in range(a0, a0 + sizes[l + 1]):
                        H[q] = max(H[q], 0.0)
                elif not relu:
                    _tanh_inplace(H[a0 : a0 + sizes[l + 1]])
                if dropping and l < L - 1:
                    _dropout(H, G, a0, sizes[l + 1], 1, 1, relu, drop, uid, off[l + 1], l + 1, step0 + s)
            pending = False
            loss = _output_delta(H, D, off[L], 1, sizes[L], y[r], relu, 0.0)
            losses[s] = loss
            if not np.isfinite(loss):
                return s
            for l in range(L - 1, 0, -1):  # backward: a unit's sum in a register, in CSR order
                d0 = off[l]
                e0 = off[l + 1]
                for q in range(d0, d0 + sizes[l]):
                    D[q] = 0.0
                k0, k1 = nz_off[l], nz_off[l + 1]
                if k1 > k0:
                    prev, acc = rows32[k0], 0.0
                    for k in range(k0, k1):
                        rk = rows32[k]
                        if rk != prev:
                            D[_U(d0 + prev)] = acc
                            prev, acc = rk, 0.0
                        acc += data[k] * D[_U(e0 + cols32[k])]
                    D[_U(d0 + prev)] = acc
                if dropping:
                    for q in range(d0, d0 + sizes[l]):
                        D[q] *= G[q]
                else:
                    for q in range(d0, d0 + sizes[l]):
                        D[q] *= _fprime(H[q], relu)
            last = s == n_steps - 1
            if fuse and not last:
                pending = True
                continue
            for l in range(L):  # sampled outer product and update
                h0, e0, k0, k1 = off[l], off[l + 1], nz_off[l], nz_off[l + 1]
                if store_last and last:  # the gradients kept for a hook, then (maybe) applied
                    for k in range(k0, k1):
                        graw[k] = H[_U(h0 + rows32[k])] * D[_U(e0 + cols32[k])]
                    if apply_last:
                        _apply(data, graw, c, vel, opt, k0, k1)
                elif apply_last or not last:
                    _outer_flat(H, D, h0, e0, rows32, cols32, k0, k1, data, c, vel, opt)
        return n_steps

    @numba.njit(cache=True, nogil=True, fastmath=_FM)
    def _outer_flat(H, D, h0, e0, rows32, cols32, k0, k1, data, c, vel, opt):
        """One layer's sampled outer product and update at batch 1: a flat loop over its
        weights k0..k1 (a function of its own: inlined next to another update loop, the extras'
        store to the momentum buffer made LLVM's code ~10x slower)."""
        for k in range(k0, k1):
            _update(data, k, c, H[_U(h0 + rows32[k])] * D[_U(e0 + cols32[k])], vel, opt)
