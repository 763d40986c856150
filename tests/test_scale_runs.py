"""Width without limit, in runs: a sparse start never allocates the dense layer; the memory check
refuses in one line; the masked dense engine equals the sparse one and the trainer switches
between them; the one-wide-level kernels equal the general ones; views work from positions."""

import subprocess
import sys
import tracemalloc

import numpy as np
import pytest

from explorer import Callback, ConfigError, ExplorerError, RunConfig, Trainer
from explorer.data import load, prepare
from explorer.engine import kernels as K
from explorer.engine import masked, wide
from explorer.engine import net as N
from explorer.engine.engines import SparseEngine
from explorer.engine.masked import MaskedEngine
from explorer.sparsity import start
from explorer.sparsity.prune import KeepMask, compact_units
from explorer.training import memory

needs_numba = pytest.mark.skipif(not K.HAVE_NUMBA, reason="numba is not installed")


@pytest.fixture(scope="module")
def digits():
    return load("digits", verbose=False)


def small(**kw):
    base = dict(dataset="digits", hidden=(40,), burn_in=0, prune="keep:300", prune_layers="all", steps=200,
                batch_size=1, lr=0.05, seed=1)
    base.update(kw)
    return RunConfig(**base)


# -- a sparse start -------------------------------------------------------------------------
def test_a_sparse_start_never_allocates_the_dense_layer(digits):
    """65 x 2,000,000 float64 would be 1 GB; the run stays within an eighth of it (tracemalloc sees numpy)."""
    cfg = small(hidden=(2_000_000,), prune="erk:0.05", activation="relu", batch_size=16, steps=30)
    dense = 8 * 65 * 2_000_000
    tracemalloc.start()
    try:
        t = Trainer(cfg).setup(digits)
        assert t.sparse_start and t.engine.sparse
        t.run()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < dense / 8, f"peak {peak / 2**20:.0f} MiB"
    r = t.results_
    assert r["weights_total"][0] == 65 * 2_000_000 and 0 < r["weights_alive"][0] <= 100_003
    assert all(isinstance(m, KeepMask) for m in t.masks_)


@pytest.fixture
def sparse_always(monkeypatch):
    monkeypatch.setattr(start, "DIRECT_MIN", 1)


class Cuts(Callback):
    def __init__(self):
        self.engines = []

    def on_prune(self, t):
        self.engines.append(t.engine.name)


def test_a_sparse_start_trains_keeps_the_rule_and_is_reproducible(digits, sparse_always):
    cuts = Cuts()
    t = Trainer(small(activation="relu", steps=600), callbacks=[cuts]).fit(digits)
    assert t.sparse_start and cuts.engines and len(cuts.engines) == 1
    assert t.results_["test_accuracy"] > 0.5  # chance: 0.1; the dense path's cut: 0.67 (this: 0.69)
    for l, lv in enumerate(t.state.layers):
        m = t.masks_[l]
        assert m.sum() == lv.n_alive <= 300 and m.shape == lv.shape
        assert np.array_equal(m.positions(), lv.positions())
        assert np.array_equal(np.asarray(m), lv.mask())
    again = Trainer(small(activation="relu", steps=600)).fit(digits)
    assert all(np.array_equal(a.values, b.values) for a, b in zip(t.state.layers, again.state.layers))


def test_set_prune_before_the_first_step_redraws(digits, sparse_always):
    t = Trainer(small()).setup(digits)
    assert t.state.layers[0].n_alive <= 300
    t.set_prune("erk:3")
    t.run(steps=1)
    assert t.config.prune == "erk:3" and t.masks_[0].sum() == t.state.layers[0].n_alive
    assert t.state.layers[0].n_alive <= round(3 * (65 + 40))


def test_post_init_keeps_its_scale_and_he_is_rescaled_to_the_fan_in(digits, sparse_always):
    t = Trainer(small(prune="erk:2", init="post", init_scale=0.01)).setup(digits)
    assert np.abs(t.state.layers[0].values).max() <= 0.01
    t = Trainer(small(prune="erk:2", init="he", hidden=(4000,), activation="relu")).setup(digits)
    lv = t.state.layers[0]
    fan_in = np.bincount(lv.positions() % 4000, minlength=4000)[lv.positions() % 4000]
    z = lv.values * np.sqrt(fan_in / 2.0)  # he at the actual fan-in: sd sqrt(2 / fan_in)
    assert abs(np.std(z) - 1.0) < 0.1


# -- the memory check -------------------------------------------------------------------------
@pytest.mark.parametrize("kw,words", [(dict(hidden=(10**9,), burn_in=200), ["hidden=", "dense burn-in", "burn_in=0"]),
                                      (dict(burn_in=10**9, batch_size=64), ["burn_in=", "sample indices"]),
                                      (dict(hidden=(10**9,), burn_in=0, prune="erk:1"), ["surviving weights"])])
def test_runs_that_cannot_fit_are_refused_in_one_line(digits, kw, words):
    with pytest.raises(ConfigError) as e:
        Trainer(small(**kw)).setup(digits)
    msg = str(e.value)
    assert "\n" not in msg and "needs ~" in msg and "available" in msg
    for w in words:
        assert w in msg, msg


def test_the_cli_refuses_with_exit_status_2():
    r = subprocess.run([sys.executable, "-m", "explorer", "train", "--dataset", "digits", "--hidden", "1000000000",
                        "--steps", "1", "--quiet", "--json", "/dev/null"], capture_output=True, text=True)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and lines[0].startswith("explorer: error:") and "needs ~" in lines[0]


def test_check_names_the_setting_and_the_fix():
    cfg = small(hidden=(100_000,), burn_in=200)
    with pytest.raises(ConfigError, match=r"hidden=100000 needs ~.*dense burn-in.*1\.0 MiB available; use burn_in=0"):
        memory.check(cfg, 64, 10, available=2**20)
    assert memory.check(cfg, 64, 10, available=2**40).total > 8 * 65 * 100_000


def test_peak_rss_is_the_process_own_not_its_parents():
    """A child started by a process that once held 400 MB reports its own peak, not the parent's
    (getrusage's ru_maxrss carries the parent's over fork and exec on Linux); and a child that
    allocates 200 MB reports at least that."""
    held = np.ones(50_000_000)  # 400 MB touched in this (the parent) process
    code = ("import numpy as np; from explorer.training.memory import peak_rss_mb; a = peak_rss_mb(); "
            "b = np.ones(25_000_000); print(a, peak_rss_mb())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    del held
    before, after = map(float, out.split())
    assert 0 < before < 300 and after >= before + 190, out


def test_dense_copies_of_huge_layers_are_refused(digits, sparse_always, monkeypatch):
    t = Trainer(small(hidden=(5000,), prune="erk:1")).setup(digits)
    monkeypatch.setattr(memory, "available_bytes", lambda: 2**20)
    with pytest.raises(ExplorerError, match="positions"):
        t.state.layers[0].weights()
    assert len(t.state.layers[0].positions()) == t.state.layers[0].n_alive


# -- the masked dense engine ---------------------------------------------------------------
def _nets(seed, hidden, density=0.4):
    rng = np.random.default_rng(seed)
    sizes = [65, *hidden, 10]
    W = [rng.normal(0, 0.3, s) for s in zip(sizes[:-1], sizes[1:])]
    masks = [rng.random(w.shape) < density for w in W]
    units = compact_units(masks)
    return lambda: N.SparseNet(W, masks, units)


@needs_numba
@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("hidden", [(40,), (40, 20)])
@pytest.mark.parametrize("B", [1, 8])
@pytest.mark.parametrize("extras", [None, N.UpdateRule(0.9, 1e-3, 1e-4)])
@pytest.mark.parametrize("drop", [None, (0.3, 5)])
def test_masked_engine_equals_the_sparse_engine(digits, relu, hidden, B, extras, drop):
    """Bit for bit at batch 1 (the same arithmetic in the same order), to float tolerance above."""
    d = prepare(digits)
    make = _nets(3, hidden)
    vel = np.zeros(len(make().data)) if extras else None
    se = SparseEngine(make(), d, relu, B, "numba", extras, drop, vel)
    me = MaskedEngine(make(), d, relu, B, extras, drop, vel)
    batches = np.random.default_rng(4).integers(0, d.n_train, (30, B))
    for e in (se, me):
        e.steps(batches[:20], 0.05, 0)
        e.steps(batches[20:], 0.05, 20, store_last=True, apply_last=False)
        e.apply_stored(0.05)
    for l in range(len(hidden) + 1):
        assert np.array_equal(se.positions(l), me.positions(l))
        if B == 1:
            assert np.array_equal(se.values(l), me.values(l))
        else:
            np.testing.assert_allclose(se.values(l), me.values(l), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(se.evaluate(d.X_test, d.y_test), me.evaluate(d.X_test, d.y_test), rtol=1e-9)


@needs_numba
@pytest.mark.parametrize("B", [1, 4])
def test_the_trainer_trains_dense_patterns_masked_and_switches_when_they_thin(digits, monkeypatch, B):
    """A gradual schedule from a dense start: masked dense while dense enough, then sparse; the
    same results as a run kept sparse throughout (bits at batch 1)."""
    monkeypatch.setattr(masked, "MASKED_MIN", 0)
    rng = np.random.default_rng(7)  # 400 inputs: a cut input layer thins the net (digits' 64 keep it dense)
    X = rng.random((1200, 400)).astype(np.float32) * (rng.random((1200, 400)) < 0.3)
    y = (X[:, :10].argmax(axis=1)).astype(np.int64)
    data = (X[:1000], y[:1000], X[1000:], y[1000:])
    cfg = small(dataset="random", hidden=(128,), burn_in=20, prune="keep:300", prune_layers=(0,),
                prune_schedule="gradual:300:20", steps=400, batch_size=B)
    cuts = Cuts()
    a = Trainer(cfg, callbacks=[cuts]).fit(data)
    assert cuts.engines[0] == "masked-dense" and cuts.engines[-1] == "numba"
    monkeypatch.setattr(masked, "BREAK_EVEN", {1: 2.0, 64: 2.0})
    b = Trainer(cfg).fit(data)
    for la, lb in zip(a.state.layers, b.state.layers):
        assert np.array_equal(la.positions(), lb.positions())
        if B == 1:
            assert np.array_equal(la.values, lb.values)
        else:
            np.testing.assert_allclose(la.values, lb.values, rtol=1e-7, atol=1e-9)


@needs_numba
def test_rewiring_works_on_a_masked_engine(digits, monkeypatch):
    monkeypatch.setattr(masked, "MASKED_MIN", 0)
    cfg = small(hidden=(64,), burn_in=20, prune="fraction:0.5", rewire="set:0.3", rewire_every=50, steps=300)
    a = Trainer(cfg).fit(digits)
    assert a.engine.name == "masked-dense" and a.results_["rewirings"] > 0
    monkeypatch.setattr(masked, "BREAK_EVEN", {1: 2.0, 64: 2.0})
    b = Trainer(cfg).fit(digits)
    assert all(np.array_equal(x.values, y.values) for x, y in zip(a.state.layers, b.state.layers))


# -- one wide hidden level -----------------------------------------------------------------
@needs_numba
@pytest.mark.parametrize("extras", [None, N.UpdateRule(0.9, 1e-3, 1e-4)])
def test_wide_kernels_equal_the_general_ones(digits, monkeypatch, extras):
    monkeypatch.setattr(wide, "WIDE_MIN", 1)
    d = prepare(digits)
    make = _nets(5, (300,), density=0.05)
    a, b = make(), make()
    assert wide.fits(a, 16, True, False) and not wide.fits(a, 16, False, False)
    va = np.zeros(len(a.data)) if extras else None
    vb = None if va is None else va.copy()
    batches = np.random.default_rng(6).integers(0, d.n_train, (12, 16))
    la, lb = np.empty(12), np.empty(12)
    K.sparse_steps(a, d.X, d.y, batches, True, 0.05, la, rule=extras, vel=va)
    wide.sparse_steps(b, d.X, d.y, batches, 0.05, lb, rule=extras, vel=vb)
    ga, gb = np.empty(len(a.data)), np.empty(len(b.data))
    K.sparse_steps(a, d.X, d.y, batches[:1], True, 0.05, la, ga, store_last=True, apply_last=False, rule=extras, vel=va)
    wide.sparse_steps(b, d.X, d.y, batches[:1], 0.05, lb, gb, True, False, extras, vb)
    np.testing.assert_allclose(a.data, b.data, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(ga, gb, rtol=1e-10, atol=1e-13)
    assert np.array_equal(K.predict_net(a, d.X_test, True), wide.predict(a, d.X_test))


# -- views from positions ------------------------------------------------------------------
def test_survivors_draws_the_same_units_and_pixels_from_positions(digits):
    from explorer.views.survivors import Survivors

    for prune in ("halving:3", "erk:2"):
        t = Trainer(small(burn_in=20, prune=prune, steps=30)).fit(digits)
        lv = t.state.layers[0]
        v = Survivors(n_units=16)
        cols = v._sparse_columns(lv)
        W = lv.weights()
        units = np.argsort(-(W[:-1] != 0).sum(axis=0), kind="stable")[:16]
        assert np.array_equal(v.units, units) and np.array_equal(cols, W[:-1][:, units])


def test_keep_mask():
    m = KeepMask((3, 4), positions=[1, 5, 11])
    assert m.sum() == 3 and m.size == 12 and np.asarray(m).sum() == 3 and np.asarray(m)[2, 3]
    b = KeepMask((3, 4), units=(np.array([0, 2]), np.array([1, 3])))
    assert b.sum() == 4 and np.array_equal(b.positions(), [1, 3, 9, 11]) and "kept=4" in repr(b)
