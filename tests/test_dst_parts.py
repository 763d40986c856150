"""The pieces of dynamic sparse training, each against its definition: the erk cut, the cubic
and cosine schedules, random regrowth at empty positions, the dense gradient RigL ranks,
compaction on flat positions, and the init that follows the activation."""

import math

import numpy as np
import pytest

from explorer import ConfigError
from explorer.engine import net as N
from explorer.sparsity import init as I
from explorer.sparsity import schedule as S
from explorer.sparsity.prune import compact_positions, compact_units, keep_flat, prune_masks
from explorer.sparsity.rewire import dense_gradients, random_empty


def test_erk_keeps_eps_times_fan_sum_at_random_positions():
    rng = np.random.default_rng(0)
    for shape, eps in (((785, 128), 13), ((128, 10), 13), ((50, 40), 100), ((1001, 1000), 1.5)):
        w = rng.normal(size=shape)
        m = keep_flat(np.abs(w).ravel(), f"erk:{eps}", np.random.default_rng(1), shape)
        assert m.sum() == min(shape[0] * shape[1], round(eps * (shape[0] + shape[1])))
    w = np.random.default_rng(2).normal(size=(785, 128))
    m = prune_masks([w], "erk:13", rng=np.random.default_rng(3))[0]
    # random positions: the survivors' magnitudes look like the layer's, not its top
    assert abs(np.abs(w[m]).mean() - np.abs(w).mean()) < 0.05
    assert np.array_equal(m, prune_masks([w], "erk:13", rng=np.random.default_rng(3))[0])
    with pytest.raises(ConfigError, match="prune_scope='layer'"):
        prune_masks([w, w], "erk:13", scope="global")


def test_dense_gradients_equal_the_dense_masked_gradient():
    rng = np.random.default_rng(4)
    W = N.init_weights([9, 7, 3], 0.5, rng)
    masks = [rng.random(w.shape) < 0.5 for w in W]
    net = N.SparseNet(W, masks, [np.arange(7)])
    X, y = rng.random((6, 8)), rng.integers(0, 3, 6)
    Wd = [w * m for w, m in zip(W, masks)]
    _, G, _ = N.dense_step(Wd, N.with_bias(X), y, False, 0.1, keep_grads=True, apply=False)
    got = dense_gradients(net, X, y, False, [0, 1])
    for l in (0, 1):
        np.testing.assert_allclose(got[l], np.abs(G[l]).ravel(), atol=1e-14)


def test_random_empty_draws_uniformly_among_empty_positions():
    occ = np.sort(np.random.default_rng(0).choice(1000, 600, replace=False))
    counts = np.zeros(1000)
    for i in range(300):
        p = random_empty(50, occ, 1000, np.random.default_rng(i))
        assert len(np.unique(p)) == 50 and not np.isin(p, occ).any()
        counts[p] += 1
    empty = np.setdiff1d(np.arange(1000), occ)
    assert counts[occ].sum() == 0 and counts[empty].min() > 10  # every empty position drawn
    full = random_empty(400, occ, 1000, np.random.default_rng(1))  # a nearly full layer: all of it
    assert np.array_equal(full, empty)


def test_schedules_follow_their_formulas():
    for t in (0, 100, 1234, 8000, 9000):
        x = min(max((t - 200) / 7800, 0), 1)
        assert S.cubic_density(t, 200, 8000, 0.04) == pytest.approx(0.04 + 0.96 * (1 - x) ** 3)
        assert S.cosine_fraction(t, 200, 8000, 0.3) == pytest.approx(0.15 * (1 + math.cos(math.pi * x)))
    assert S.cubic_count(200, 200, 8000, 3140, 100480) == 100480
    assert S.cubic_count(8000, 200, 8000, 3140, 100480) == 3140
    assert list(S.cut_steps(200, 8000, 100))[:2] == [300, 400]
    assert list(S.cut_steps(200, 8050, 100))[-2:] == [8000, 8050]
    assert S.rewire_steps(200, 500, 30200, 30200) == range(700, 30200, 500)
    assert list(S.rewire_steps(0, 500, 1500, 10000)) == [500, 1000] and S.rewire_steps(0, 500, 1501, 10000)[-1] == 1500
    assert str(S.parse_schedule(" Gradual:8000:100 ")) == "gradual:8000:100" and str(S.parse_schedule("once")) == "once"
    assert list(S.structure_steps(0, 1000, S.parse_schedule("gradual:400:200"), 200)) == [
        (200, "cut"), (200, "rewire"), (400, "cut"), (400, "rewire"), (600, "rewire"), (800, "rewire")]
    assert list(S.structure_steps(100, 1000, S.parse_schedule("once"), 300, 700)) == [(400, "rewire")]


def test_compact_positions_equals_compact_units():
    rng = np.random.default_rng(9)
    shapes = [(13, 20), (20, 9), (9, 3)]
    masks = [rng.random(s) < 0.15 for s in shapes]
    pos = [np.flatnonzero(m) for m in masks]
    units, sel = compact_positions(shapes, pos)
    want = compact_units([m.copy() for m in masks])
    ref = [m.copy() for m in masks]
    compact_units(ref)
    for a, b in zip(units, want):
        assert np.array_equal(a, b)
    for l in range(3):
        assert np.array_equal(pos[l][sel[l]], np.flatnonzero(ref[l]))


def test_init_follows_the_activation_and_the_sparse_fan_in():
    assert I.resolve("auto", "relu") == "he" and I.resolve("auto", "tanh") == "post"
    Ws = I.init_weights([785, 1000, 10], "he", 1e-5, np.random.default_rng(0))
    assert np.std(Ws[0]) == pytest.approx(math.sqrt(2 / 785), rel=0.01)
    Ws = I.init_weights([785, 1000, 10], "glorot", 1e-5, np.random.default_rng(0))
    assert np.abs(Ws[0]).max() <= math.sqrt(6 / 1785) and np.abs(Ws[0]).max() > 0.99 * math.sqrt(6 / 1785)
    post = I.init_weights([785, 128, 10], "post", 1e-5, np.random.default_rng([0, 0]))
    same = N.init_weights([785, 128, 10], 1e-5, np.random.default_rng([0, 0]))
    assert all(np.array_equal(a, b) for a, b in zip(post, same))
    rng = np.random.default_rng(1)
    W = rng.normal(0, math.sqrt(2 / 1000), size=(1000, 500))
    m = rng.random(W.shape) < 0.02
    W0 = W.copy()
    I.rescale_sparse(W, m, "he")
    z = W[m] / np.sqrt(2 / m.sum(axis=0)[np.nonzero(m)[1]])  # each unit's weights over its own He sd
    assert np.std(z) == pytest.approx(1.0, rel=0.03) and np.array_equal(W[~m], W0[~m])

