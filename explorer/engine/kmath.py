"""The math of the numba kernels, once: small helpers inlined into every kernel (kernels.py,
b1.py, wide.py, masked.py), their compile flags, and numpy's own SIMD tanh called from numba.

    _output_delta   output deltas and loss of one sample (tanh + squared error, or softmax)
    _fprime         f' from the activation
    _update         the weight update (plain SGD, or momentum, weight decay and L1)
    _apply          stored raw gradients applied to a range of weights
    _dropout        dropout on a hidden level (dropout.py's hash); _relu_gain its ReLU backward gain
    _all_zero       is a run of activations all zero?
    _tanh_inplace   tanh of a level: libm's for short levels, numpy's SIMD loop for long ones

numpy's tanh for a long level used to be reached through an object-mode block (~1.5 us a call,
the GIL taken); it is now called directly: the float64 inner loop numpy's np.tanh runs (read
from the ufunc's table of loops, checked against np.tanh at import) is registered with LLVM
as the symbol `explorer_np_tanh_d` and called like a C function -- the same loop, so the same
bits, for ~0.1 us. Where the loop cannot be found or checked, the symbol is a numba function
with libm's tanh instead (correct, not numpy's bits; `NP_TANH_DIRECT` says which).
"""

from __future__ import annotations

import ctypes

import numpy as np

from .dropout import HAVE_NUMBA, numba

# Reassociation lets LLVM vectorise the batch reductions; no nnan/ninf (the kernels must
# still see a non-finite loss) and no contraction into FMAs (the split step applies
# `data += c * g` separately and must round exactly as the fused kernel does).
_FM = {"reassoc"}
_NP_TANH_MIN = 256  # activations per level and step from which numpy's SIMD tanh pays (_tanh_inplace)
_U = np.uint64  # index arithmetic in the flat loops: unsigned, so no negative-index wraparound
_NO_DROP, _NO_UID = np.zeros(3), np.zeros(0, np.int64)  # dropout rate 0: no dropout
NP_TANH_DIRECT = False  # numpy's own float64 tanh loop is what `_tanh_inplace` calls for long levels


def _numpy_tanh_loop():
    """The address of numpy's float64 tanh inner loop (whose data pointer is NULL), checked, or None. The
    loop is the PyUFuncObject's `functions[i]` for the signature d->d (numpy/ufuncobject.h:
    PyObject_HEAD, int nin, nout, nargs, identity, then functions, data, int ntypes,
    reserved1, name, types); numpy puts the CPU-dispatched SIMD loop there."""
    try:
        base = id(np.tanh)
        ints = (ctypes.c_int * 4).from_address(base + 16)
        ptrs = (ctypes.c_void_p * 2).from_address(base + 32)
        ntypes = ctypes.c_int.from_address(base + 48).value
        name = ctypes.c_char_p(ctypes.c_void_p.from_address(base + 56).value).value
        if (ints[0], ints[1], ints[2], name) != (1, 1, 2, b"tanh") or not 0 < ntypes < 64:
            return None
        types = ctypes.string_at(ctypes.c_void_p.from_address(base + 64).value, 2 * ntypes)
        d = np.dtype(np.float64).num
        i = next(k for k in range(ntypes) if types[2 * k] == d and types[2 * k + 1] == d)
        fn = ctypes.c_void_p.from_address(ptrs[0] + 8 * i).value
        data = ctypes.c_void_p.from_address(ptrs[1] + 8 * i).value or 0
        loop = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)(fn)
        v = np.random.default_rng(0).normal(0.0, 3.0, 1031)
        w = v.copy()
        loop((ctypes.c_void_p * 2)(w.ctypes.data, w.ctypes.data), (ctypes.c_ssize_t * 1)(len(w)),
             (ctypes.c_ssize_t * 2)(8, 8), data)
        return fn if not data and np.array_equal(w, np.tanh(v)) else None  # (a data pointer would be cached stale)
    except Exception:  # pragma: no cover - another numpy layout: the fallback below
        return None


if HAVE_NUMBA:
    import llvmlite.binding as _llvm
    from numba import types as _t

    from .dropout import keep_nb, slot_key_nb

    _found = _numpy_tanh_loop()
    NP_TANH_DIRECT = _found is not None
    if not _found:  # pragma: no cover - another numpy: a libm loop in numpy's calling convention
        from numba.core.extending import intrinsic

        @intrinsic
        def _as_doubles(typingctx, addr):
            """An address (intp) as a float64 pointer (for numba.carray)."""
            sig = _t.CPointer(_t.float64)(_t.intp)

            def codegen(context, builder, signature, args):
                return builder.inttoptr(args[0], context.get_value_type(signature.return_type))

            return sig, codegen

        @numba.cfunc(_t.void(_t.intp, _t.intp, _t.intp, _t.intp), cache=True, nogil=True)
        def _libm_tanh_loop(args, dims, steps, data):  # pragma: no cover - only without numpy's loop
            """numpy's inner-loop calling convention (char **args, npy_intp *dims, *steps, data) for
            contiguous float64 in place, with libm's tanh: the fallback of `explorer_np_tanh_d`."""
            n = numba.carray(_as_doubles(dims), 1)
            ptr = numba.carray(_as_doubles(args), 1)
            v = numba.carray(_as_doubles(ptr.view(np.int64)[0]), int(n.view(np.int64)[0]))
            for q in range(v.shape[0]):
                v[q] = np.tanh(v[q])

    _llvm.add_symbol("explorer_np_tanh_d", _found if _found else _libm_tanh_loop.address)
    _np_tanh_loop = _t.ExternalFunction("explorer_np_tanh_d", _t.void(_t.intp, _t.intp, _t.intp, _t.intp))

    @numba.njit(cache=True, nogil=True, inline="always")
    def _output_delta(H, D, o0, stride, C, t, relu, loss):
        """Output deltas of one sample with label t, D[o0 + j * stride] for the C outputs
        H[o0 + j * stride] (tanh outputs or softmax logits); returns `loss` plus the sample's
        loss. stride is B in the batched kernel's unit-major layout, 1 at batch 1 and in a
        row-major (B, C) buffer. tanh: deltas (t - y)(1 - y^2), loss 0.5 sum (t - y)^2 with
        +-1 targets; softmax: deltas t - p, loss -log p_t. The loss is a running sum, so
        that a batch's is added up in one pass over its samples and outputs."""
        if relu:
            m = H[o0]
            for j in range(1, C):
                m = max(m, H[o0 + j * stride])
            tot = 0.0
            for j in range(C):
                tot += np.exp(H[o0 + j * stride] - m)
            loss += np.log(tot) - (H[o0 + t * stride] - m)
            for j in range(C):
                p = np.exp(H[o0 + j * stride] - m) / tot
                D[o0 + j * stride] = (1.0 if j == t else 0.0) - p
        else:
            for j in range(C):
                yo = H[o0 + j * stride]
                e = (1.0 if j == t else -1.0) - yo
                loss += 0.5 * e * e
                D[o0 + j * stride] = e * (1.0 - yo * yo)
        return loss

    @numba.njit(cache=True, nogil=True, inline="always")
    def _fprime(h, relu):
        """f' from the activation h = f(a): (h > 0) for ReLU, 1 - h^2 for tanh."""
        return (1.0 if h > 0.0 else 0.0) if relu else 1.0 - h * h

    @numba.njit(cache=True, nogil=True, inline="always")
    def _update(data, k, c, g, vel, opt):
        """The update of weight k from its raw gradient g = sum_b h_i d_j: plain SGD data += c g
        (c = lr / B) when opt is None (a compile-time branch: the kernels compile once for plain
        SGD, once for the extras); else opt = (lr, 1 / B, momentum, weight decay, l1):
        d = g / B - wd w - l1 sign(w), v = mu v + d (vel[k]), w += lr v. With mu = 0, v = d
        (vel is scratch): an unconditional store, as a conditional one made LLVM's loop ~10x slower."""
        if opt is None:
            data[k] += c * g
        else:
            lr, inv_b, mu, wd, l1 = opt
            w = data[k]
            d = g * inv_b - wd * w - l1 * (np.float64(w > 0.0) - np.float64(w < 0.0)) + mu * vel[k]
            vel[k] = d
            data[k] = w + lr * d

    @numba.njit(cache=True, nogil=True)
    def _dropout(H, G, a0, n, B, Bs, relu, drop, uid, u0, level, step):
        """Inverted dropout on hidden level `level` (H[a0:], unit-major, batch-minor): unit u
        of slot b kept when its uniform (dropout.keep_mask) is >= p and then scaled by
        1 / (1 - p); G gets the backward gains f'(h) * multiplier, unless G is empty (a caller
        with ReLU can read them from H afterwards: `_relu_gain`). drop = [p, 1 / (1 - p),
        seed]; uid[u0 + i]: the original index of unit i."""
        p, scale, seed = drop[0], drop[1], np.int64(drop[2])
        keys = np.array([slot_key_nb(seed, step, level, b) for b in range(Bs)], np.uint64)
        gains = G.shape[0] > 0
        for i in range(n):  # contiguous over the batch: the hash vectorises
            for b in range(Bs):
                m = scale if keep_nb(keys[b], uid[u0 + i], p) else 0.0
                q = a0 + i * B + b
                if gains:
                    G[q] = _fprime(H[q], relu) * m
                H[q] *= m

    @numba.njit(cache=True, nogil=True, inline="always")
    def _relu_gain(h, scale):
        """The backward gain f'(h) * multiplier of a ReLU unit after dropout, from its output h
        alone: h > 0 exactly when the unit was active (f' = 1) and kept (multiplier `scale`); the
        same number `_dropout` would store in G, with no G array (1.2 MB less for SET-MLP's net,
        whose activations then fit in L2 with the deltas)."""
        return scale if h > 0.0 else 0.0

    @numba.njit(cache=True, nogil=True, inline="always")
    def _all_zero(H, start, n):
        """Are H[start:start + n] all zero (an input row that no sample of the batch uses)?"""
        for b in range(n):
            if H[start + b] != 0.0:
                return False
        return True

    @numba.njit(cache=True, nogil=True)
    def _tanh_inplace(v):
        """v = tanh(v), v contiguous. numba's np.tanh is libm's scalar tanh (~6-14 ns a call here);
        numpy's SIMD tanh takes ~1.2 ns an element, so levels of _NP_TANH_MIN or more go to
        numpy's own loop, called directly (module doc). The results differ from libm's by at most
        an ulp; numpy's is also what the scipy reference path uses."""
        if v.shape[0] >= _NP_TANH_MIN:
            buf = np.empty(5, np.intp)  # args[2] (in, out), dims[1], steps[2]
            buf[0] = v.ctypes.data
            buf[1] = v.ctypes.data
            buf[2] = v.shape[0]
            buf[3] = 8
            buf[4] = 8
            a = buf.ctypes.data
            _np_tanh_loop(a, a + 16, a + 24, 0)
        else:
            for q in range(v.shape[0]):
                v[q] = np.tanh(v[q])

    @numba.njit(cache=True, nogil=True, fastmath=_FM)
    def _apply(data, graw, c, vel, opt, k0, k1):
        """Update weights k0..k1 from stored raw gradients (a split step, as the fused one)."""
        for k in range(k0, k1):
            _update(data, k, c, graw[k], vel, opt)

