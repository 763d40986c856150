"""The update's extras (momentum, weight decay, L1) and dropout, in every engine: against closed
forms, a plain numpy re-implementation step by step, finite differences with a fixed mask, and
each other (numba == scipy == dense-masked); the plain path stays bit for bit what it was."""

import numpy as np
import pytest

from explorer import Callback, RunConfig, Trainer
from explorer.data import load
from explorer.engine import dropout as DR
from explorer.engine import kernels as K
from explorer.engine import net as N
from explorer.sparsity.prune import compact_units

ENGINES = ["scipy"] + (["numba"] if K.HAVE_NUMBA else [])
RULE = N.UpdateRule(momentum=0.9, weight_decay=1e-2, l1=1e-3)


@pytest.fixture(scope="module")
def digits():
    return load("digits", verbose=False)


def _net(rng, sizes, density):
    W = N.init_weights(sizes, 0.5, rng)
    masks = [rng.random(w.shape) < density for w in W]
    return W, masks, compact_units(masks)


def test_update_closed_forms():
    """Weight decay alone shrinks geometrically, L1 alone moves by lr*l1 towards 0, momentum
    under a constant gradient sums a geometric series; all off is W += (lr / B) G."""
    w0, lr, B = np.array([0.5, -2.0, 3.0]), 0.1, 4
    W = w0.copy()
    for _ in range(7):
        N.update(W, np.zeros(3), lr, B, N.UpdateRule(weight_decay=0.3))
    np.testing.assert_allclose(W, w0 * (1 - lr * 0.3) ** 7, rtol=1e-14)
    W = w0.copy()
    for _ in range(5):
        N.update(W, np.zeros(3), lr, B, N.UpdateRule(l1=0.2))
    np.testing.assert_allclose(W, w0 - 5 * lr * 0.2 * np.sign(w0), rtol=1e-14)
    G, mu, W, V = np.array([4.0, -8.0, 2.0]), 0.9, w0.copy(), np.zeros(3)
    for _ in range(6):
        N.update(W, G, lr, B, N.UpdateRule(momentum=mu), V)
    t = np.arange(1, 7)
    np.testing.assert_allclose(V, G / B * (1 - mu**6) / (1 - mu), rtol=1e-14)
    np.testing.assert_allclose(W, w0 + lr * G / B * np.sum((1 - mu**t) / (1 - mu)), rtol=1e-14)
    W = w0.copy()
    N.update(W, G, lr, B, N.UpdateRule())
    assert np.array_equal(W, w0 + (lr / B) * G)


def _plain_numpy_step(Ws, V, X, y, lr, p, seed, step, mu, wd, l1):
    """A dense tanh MLP step written out on its own (no explorer.engine.net): squared error with +-1
    targets, inverted dropout on hidden units, momentum, weight decay and L1."""
    H, M = [np.hstack([X, np.ones((len(X), 1))])], []
    for v, W in enumerate(Ws, 1):
        A = np.tanh(H[-1] @ W)
        if v < len(Ws):
            m = DR.multipliers(seed, step, v, len(X), np.arange(W.shape[1]), p)
            M.append(m)
            A = A * m
        H.append(A)
    T = -np.ones_like(H[-1])
    T[np.arange(len(y)), y] = 1
    D = (T - H[-1]) * (1 - H[-1] ** 2)
    for l in range(len(Ws) - 1, -1, -1):
        G = H[l].T @ D
        if l > 0:
            pre = H[l] / np.where(M[l - 1] > 0, M[l - 1], 1)  # tanh before dropout
            D = (D @ Ws[l].T) * (1 - pre**2) * M[l - 1]
        d = G / len(X) - wd * Ws[l] - l1 * np.sign(Ws[l])
        V[l] = mu * V[l] + d
        Ws[l] += lr * V[l]


def test_trainer_follows_a_plain_numpy_reimplementation_step_by_step(digits):
    """Dense phase with momentum, weight decay, L1 and dropout, through the Trainer, against
    the independent numpy step above, after every one of 12 steps (split into chunks)."""
    cfg = RunConfig(dataset="digits", hidden=(16, 8), prune="none", burn_in=0, steps=12, batch_size=3, lr=0.1,
                    momentum=0.8, weight_decay=1e-2, l1=1e-3, dropout=0.3, init="glorot", seed=5)
    t = Trainer(cfg).setup(digits)
    Ws = [w.copy() for w in t.engine.W]
    V = [np.zeros_like(w) for w in Ws]
    for step in range(12):
        idx = step * 3 + np.arange(3)  # no burn-in: the training set in order
        _plain_numpy_step(Ws, V, digits.X_train[idx].astype(float), digits.y_train[idx], 0.1, 0.3, 5, step, 0.8,
                          1e-2, 1e-3)
        t.run(steps=1)
        for l in range(3):
            np.testing.assert_allclose(t.weights(l), Ws[l], rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("B", [1, 5])
@pytest.mark.parametrize("relu", [False, True])
def test_numba_scipy_and_dense_masked_agree_with_every_extra(B, relu):
    rng = np.random.default_rng(3)
    X = rng.random((300, 20)) * (rng.random((300, 20)) < 0.5)
    y = rng.integers(0, 4, 300)
    sizes = [21, 16, 12, 4]
    W, masks, units = _net(rng, sizes, 0.3)
    n = 6
    batches = (np.arange(n * B) % 300).reshape(n, B)
    nets = {e: N.SparseNet(W, masks, units) for e in ENGINES}
    vels = {e: np.zeros(len(nets[e].data)) for e in ENGINES}
    for e, net in nets.items():
        if e == "numba":
            K.sparse_steps(net, X, y, batches, relu, 0.05, np.empty(n), rule=RULE, vel=vels[e], drop=(0.3, 7),
                           step0=10)
        else:
            for s in range(n):
                drop = [DR.multipliers(7, 10 + s, v, B, net.units[v], 0.3) for v in range(1, 3)]
                N.sparse_step_scipy(net, N.with_bias(X[batches[s]]), y[batches[s]], relu, 0.05, drop=drop, rule=RULE,
                                    vel=vels[e])
    Wd, V = [w * m for w, m in zip(W, masks)], [np.zeros_like(w) for w in W]
    for s in range(n):
        drop = [DR.multipliers(7, 10 + s, v, B, np.arange(sizes[v]), 0.3) for v in range(1, 3)]
        N.dense_step(Wd, N.with_bias(X[batches[s]]), y[batches[s]], relu, 0.05, masks=masks, drop=drop, rule=RULE,
                     V=V)
    for e, net in nets.items():
        for l in range(3):
            kept = net.mask(l)
            np.testing.assert_allclose(net.dense(l)[kept], Wd[l][kept], rtol=0, atol=1e-12, err_msg=e)
            np.testing.assert_allclose(net.dense(l, vels[e][net.nz_off[l] : net.nz_off[l + 1]])[kept], V[l][kept],
                                       rtol=0, atol=1e-12, err_msg=e)
            assert np.all(Wd[l][~masks[l]] == 0)  # pruned weights stay zero under decay and L1


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("relu", [False, True])
def test_dropout_gradients_match_finite_differences(engine, relu):
    """With the dropout mask of a fixed (seed, step), the raw gradients of every engine are
    minus B times the derivative of the batch-mean loss of the dropped-out net."""
    rng = np.random.default_rng(2)
    sizes = [9, 6, 5, 3]
    W, masks, units = _net(rng, sizes, 0.7)
    X, y, B, p = rng.random((10, 8)), rng.integers(0, 3, 10), 4, 0.4
    net = N.SparseNet(W, masks, units)
    drop = [DR.multipliers(11, 3, v, B, net.units[v], p) for v in range(1, 3)]
    assert 0 < sum(int((d == 0).sum()) for d in drop) < sum(d.size for d in drop)  # some units dropped
    graw = np.empty(len(net.data))
    if engine == "numba":
        K.sparse_steps(net, X, y, np.arange(B).reshape(1, B), relu, 0.1, np.empty(1), graw, store_last=True,
                       apply_last=False, drop=(p, 11), step0=3)
    else:
        N.sparse_step_scipy(net, N.with_bias(X[:B]), y[:B], relu, 0.1, graw, apply=False, drop=drop)
    Xa = N.with_bias(X[:B])

    def loss():
        layers = [net.csr(l) for l in range(3)]
        return N.output_delta(N.forward(layers, Xa, relu, drop, [])[-1], y[:B], relu)[0]

    eps = 1e-6
    for k in range(len(net.data)):
        old = net.data[k]
        net.data[k] = old + eps
        lp = loss()
        net.data[k] = old - eps
        lm = loss()
        net.data[k] = old
        assert abs(-graw[k] / B - (lp - lm) / (2 * eps)) < 1e-7 + 1e-5 * abs(graw[k] / B)


def test_dropout_masks_are_the_same_in_numpy_and_numba_and_have_the_rate():
    if not K.HAVE_NUMBA:
        pytest.skip("numba not installed")
    import numba

    @numba.njit
    def nb_mask(seed, step, level, B, units, p):
        out = np.zeros((B, len(units)), np.bool_)
        for b in range(B):
            key = DR.slot_key_nb(seed, step, level, b)
            for i in range(len(units)):
                out[b, i] = DR.keep_nb(key, units[i], p)
        return out

    units = np.arange(0, 3000, 3)
    for seed, step, level in ((0, 0, 1), (7, 123456, 2), (2**31 - 1, 10**9, 3)):
        a = DR.keep_mask(seed, step, level, 64, units, 0.2)
        assert np.array_equal(a, nb_mask(seed, step, level, 64, units, 0.2))
        assert abs(a.mean() - 0.8) < 0.01
    assert not np.array_equal(DR.keep_mask(0, 1, 1, 8, units, 0.5), DR.keep_mask(0, 2, 1, 8, units, 0.5))


@pytest.mark.parametrize("B", [1, 3])
def test_extras_leave_plain_sgd_alone_and_split_steps_stay_bitwise(B):
    """An all-zero UpdateRule is plain SGD to the bit; with the extras on, a step split around
    a hook (gradients stored, applied later) rounds exactly as the fused step."""
    if not K.HAVE_NUMBA:
        pytest.skip("numba not installed")
    rng = np.random.default_rng(12)
    X, y = rng.random((50, 12)) * (rng.random((50, 12)) < 0.5), rng.integers(0, 3, 50)
    W, masks, units = _net(rng, [13, 20, 9, 3], 0.3)
    batches = (np.arange(4 * B) % 50).reshape(4, B)
    a, b = N.SparseNet(W, masks, units), N.SparseNet(W, masks, units)
    K.sparse_steps(a, X, y, batches, False, 0.07, np.empty(4))
    K.sparse_steps(b, X, y, batches, False, 0.07, np.empty(4), rule=N.UpdateRule(), drop=(0.0, 1))
    assert np.array_equal(a.data, b.data)
    a, b = N.SparseNet(W, masks, units), N.SparseNet(W, masks, units)
    va, vb = np.zeros(len(a.data)), np.zeros(len(b.data))
    kw = dict(rule=RULE, drop=(0.25, 3))
    K.sparse_steps(a, X, y, batches, True, 0.07, np.empty(4), vel=va, **kw)
    K.sparse_steps(b, X, y, batches[:3], True, 0.07, np.empty(3), vel=vb, **kw)
    graw = np.empty(len(b.data))
    K.sparse_steps(b, X, y, batches[3:], True, 0.07, np.empty(1), graw, store_last=True, apply_last=False, vel=vb,
                   step0=3, **kw)
    K.apply_raw(b, graw, 0.07, B, RULE, vb)
    assert np.array_equal(a.data, b.data) and np.array_equal(va, vb)


def test_momentum_buffers_follow_their_weights_through_the_cut_and_engines_agree(digits):
    """The dense phase's momentum is carried to the surviving weights at the cut; a run with
    every extra is the same in both engines (to float tolerance) and in any chunking."""
    seen = {}

    class AtCut(Callback):
        every = 10**9

        def on_phase_end(self, t):
            if t.state.phase == "burn_in":
                seen["dense"] = t.engine.V[0].copy()

        def on_prune(self, t):
            seen["vel"] = t.engine.net.dense(0, t.engine.vel[: t.engine.net.nz_off[1]])
            seen["mask"] = t.state.layers[0].mask()

    cfg = RunConfig(dataset="digits", hidden=(24,), burn_in=30, prune="fraction:0.7", steps=200, batch_size=4,
                    lr=0.05, momentum=0.9, weight_decay=1e-3, dropout=0.2, activation="relu", seed=2)
    t = Trainer(cfg, engine="numba" if K.HAVE_NUMBA else "scipy", callbacks=[AtCut()]).fit(digits)
    assert seen["mask"].sum() == round(0.3 * 65 * 24)
    np.testing.assert_array_equal(seen["vel"][seen["mask"]], seen["dense"][seen["mask"]])
    b = Trainer(cfg, engine="scipy").fit(digits)
    c = Trainer(cfg, engine="numba" if K.HAVE_NUMBA else "scipy").setup(digits)
    while not c.done:
        c.run(steps=17)
    for l in range(2):
        np.testing.assert_allclose(t.weights(l), b.weights(l), atol=1e-10)
        assert np.array_equal(t.weights(l), c.weights(l))
