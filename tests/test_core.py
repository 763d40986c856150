"""The trainer's invariants: gradients, sparse == dense-masked, pruning rules, determinism,
hooks, bad input. Small nets on the bundled digits and on real Fashion-MNIST."""

import json

import numpy as np
import pytest

from explorer import Callback, CallbackError, ConfigError, DataError, Recorder, RunConfig, Trainer
from explorer.data import load
from explorer.engine import blas
from explorer.engine import kernels as K
from explorer.engine import net as N
from explorer.sparsity.prune import compact_units, keep_flat, parse_rule, prune_masks

ENGINES = ["scipy"] + (["numba"] if K.HAVE_NUMBA else [])


@pytest.fixture(scope="module")
def digits():
    return load("digits", verbose=False)


def _net(rng, sizes, density=0.4):
    W = N.init_weights(sizes, 0.5, rng)
    masks = [rng.random(w.shape) < density for w in W]
    units = compact_units(masks)
    return W, masks, units


def _loss(layers, Xa, y, relu):
    return N.output_delta(N.forward(layers, Xa, relu)[-1], y, relu)[0]


@pytest.mark.parametrize("relu", [False, True])
def test_dense_gradients_match_finite_differences(relu):
    rng = np.random.default_rng(1)
    sizes = [7, 5, 4, 3]  # two hidden layers, bias row included in the 7
    W = N.init_weights(sizes, 0.8, rng)
    Xa = N.with_bias(rng.random((6, 6)))
    y = rng.integers(0, 3, 6)
    _, G, _ = N.dense_step(W, Xa, y, relu, lr=0.1, keep_grads=True, apply=False)
    eps = 1e-6
    for l, Wl in enumerate(W):
        num = np.zeros_like(Wl)
        for idx in np.ndindex(Wl.shape):
            old = Wl[idx]
            Wl[idx] = old + eps
            lp = _loss(W, Xa, y, relu)
            Wl[idx] = old - eps
            lm = _loss(W, Xa, y, relu)
            Wl[idx] = old
            num[idx] = (lp - lm) / (2 * eps)
        np.testing.assert_allclose(-G[l] / len(Xa), num, atol=1e-8, rtol=1e-5)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("relu", [False, True])
def test_sparse_gradients_match_finite_differences(engine, relu):
    rng = np.random.default_rng(2)
    W, masks, units = _net(rng, [9, 6, 5, 3], density=0.6)
    X = rng.random((10, 8))
    y = rng.integers(0, 3, 10)
    B = 4
    batches = np.arange(B).reshape(1, B)
    net = N.SparseNet(W, masks, units)
    graw = np.empty(len(net.data))
    if engine == "numba":
        K.sparse_steps(net, X, y, batches, relu, 0.1, np.empty(1), graw, store_last=True, apply_last=False)
    else:
        N.sparse_step_scipy(net, N.with_bias(X[:B]), y[:B], relu, 0.1, graw, apply=False)
    grad = -graw / B
    eps = 1e-6
    Xa, yb = N.with_bias(X[:B]), y[:B]
    for k in range(len(net.data)):
        old = net.data[k]
        net.data[k] = old + eps
        lp = _loss([net.csr(l) for l in range(3)], Xa, yb, relu)
        net.data[k] = old - eps
        lm = _loss([net.csr(l) for l in range(3)], Xa, yb, relu)
        net.data[k] = old
        assert abs(grad[k] - (lp - lm) / (2 * eps)) < 1e-7 + 1e-5 * abs(grad[k])


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("B", [1, 64])
@pytest.mark.parametrize("relu", [False, True])
def test_sparse_steps_equal_dense_masked_steps(engine, B, relu):
    rng = np.random.default_rng(3)
    X = rng.random((300, 20)) * (rng.random((300, 20)) < 0.5)  # zeros, as in images
    y = rng.integers(0, 4, 300)
    W, masks, units = _net(rng, [21, 16, 12, 4], density=0.3)
    Wd = [w * m for w, m in zip(W, masks)]
    net = N.SparseNet(W, masks, units)
    n = 5
    batches = (np.arange(n * B) % 300).reshape(n, B)
    if engine == "numba":
        K.sparse_steps(net, X, y, batches, relu, 0.05, np.empty(n))
    else:
        for s in range(n):
            N.sparse_step_scipy(net, N.with_bias(X[batches[s]]), y[batches[s]], relu, 0.05)
    for s in range(n):
        N.dense_step(Wd, N.with_bias(X[batches[s]]), y[batches[s]], relu, 0.05, masks=masks)
    for l in range(3):
        full = net.dense(l)
        kept = net.mask(l)
        # compacted-away weights are inert: they are zero in the sparse net and never act
        np.testing.assert_allclose(full[kept], Wd[l][kept], rtol=0, atol=1e-10)
        assert np.all(full[~kept] == 0)
    np.testing.assert_allclose(N.predict([net.csr(l) for l in range(3)], X, relu), N.predict(Wd, X, relu),
                               atol=1e-10)


def test_numba_kernel_equals_scipy_reference_over_a_run(digits):
    if not K.HAVE_NUMBA:
        pytest.skip("numba not installed")
    cfg = RunConfig(dataset="digits", hidden=(32, 16), burn_in=50, prune="fraction:0.8", prune_layers="all",
                    steps=400, batch_size=8, lr=0.05)
    a = Trainer(cfg, engine="numba").fit(digits)
    b = Trainer(cfg, engine="scipy").fit(digits)
    for l in range(3):
        np.testing.assert_allclose(a.weights(l), b.weights(l), atol=1e-10)


@pytest.mark.parametrize("k", [0, 1, 3, 5])
def test_halving_counts(k):
    w = np.random.default_rng(4).normal(size=(785, 128))
    m = prune_masks([w], f"halving:{k}")[0]
    assert m.sum() == 785 * 128 // 2**k
    assert np.abs(w[m]).min() >= np.abs(w[~m]).max() if k else m.all()


def test_fraction_keep_threshold_random_counts():
    rng = np.random.default_rng(5)
    w = rng.normal(size=10_000)
    assert keep_flat(np.abs(w), "fraction:0.9").sum() == 1000
    assert keep_flat(np.abs(w), "keep:3140").sum() == 3140
    assert keep_flat(np.abs(w), "threshold:1.0").sum() == np.sum(np.abs(w) >= 1.0)
    r = keep_flat(np.abs(w), "random:0.75", np.random.default_rng(0))
    assert r.sum() == 2500
    # the random control ignores magnitudes: its survivors look like the whole layer
    assert abs(np.abs(w[r]).mean() - np.abs(w).mean()) < 0.05
    g = prune_masks([w[:5000], 10 * w[5000:]], "keep:1000", scope="global")
    assert g[0].sum() + g[1].sum() == 1000 and g[1].sum() > g[0].sum()


@pytest.mark.parametrize("bad", ["halving:-1", "fraction:1", "fraction:-0.1", "keep:0", "keep:2.5", "thresh:1",
                                 "random:1.5", "halving", "fraction:x", 5])
def test_bad_rules(bad):
    with pytest.raises(ConfigError, match="prune="):
        parse_rule(bad)


def test_compaction_removes_units_without_inputs_or_outputs():
    m0 = np.ones((4, 3), bool)
    m0[:, 1] = False  # unit 1: no incoming weights
    m1 = np.ones((3, 2), bool)
    m1[2, :] = False  # unit 2: no outgoing weights
    units = compact_units([m0, m1])
    assert list(units[0]) == [0]
    assert m0.sum() == 4 and m1.sum() == 2


class Spy(Callback):
    def __init__(self, every=1, seconds=None, grads=False):
        self.every, self.seconds, self.needs_gradients = every, seconds, grads
        self.log = []

    def _rec(self, ev, t):
        self.log.append((ev, t.state.step, t.state.phase))

    def on_train_begin(self, t): self._rec("train_begin", t)
    def on_step_end(self, t): self._rec("step_end", t)
    def on_phase_end(self, t): self._rec("phase_end", t)
    def on_prune(self, t): self._rec("prune", t)
    def on_eval_end(self, t): self._rec("eval_end", t)
    def on_train_end(self, t): self._rec("train_end", t)


def small(**kw):
    base = dict(dataset="digits", hidden=(16,), burn_in=20, prune="halving:2", steps=60, batch_size=4, lr=0.05)
    base.update(kw)
    return RunConfig(**base)


def test_hook_order_and_throttling(digits):
    spy = Spy(every=25)
    Trainer(small(eval_every=40), callbacks=[spy]).fit(digits)
    events = [e for e, _, _ in spy.log]
    assert events[0] == "train_begin" and events[-1] == "train_end"
    steps_end = [s for e, s, _ in spy.log if e == "step_end"]
    assert steps_end == [25, 50, 75]
    assert ("phase_end", 20, "burn_in") in spy.log and ("prune", 20, "train") in spy.log
    assert events.index("phase_end") < events.index("prune")
    assert [s for e, s, _ in spy.log if e == "eval_end"] == [40, 80]  # every 40, plus the final one


def test_step_hooks_and_gradients_do_not_change_results(digits):
    class Split(Callback):
        every = 7
        needs_gradients = True

        def __init__(self):
            self.seen = []

        def on_step_begin(self, t):
            self.before = [t.state.layers[l].values.copy() for l in range(2)]

        def on_after_backward(self, t):
            now = [t.state.layers[l].values for l in range(2)]
            assert all(np.array_equal(a, b) for a, b in zip(self.before, now))  # not yet updated
            self.seen.append(t.state.layers[0].grad_values is not None)

    for engine in ENGINES:
        plain = Trainer(small(engine=engine)).fit(digits)
        cb = Split()
        hooked = Trainer(small(engine=engine), callbacks=[cb, Spy(grads=True)]).fit(digits)
        assert all(cb.seen) and len(cb.seen) == 80 // 7
        for l in range(2):
            assert np.array_equal(plain.weights(l), hooked.weights(l))


def test_gradients_only_when_asked(digits):
    seen = {}

    class Look(Callback):
        every = 30

        def __init__(self, grads):
            self.needs_gradients = grads

        def on_step_end(self, t):
            seen.setdefault(self.needs_gradients, []).append(t.state.layers[0].grad_values)

    Trainer(small(), callbacks=[Look(False)]).fit(digits)
    Trainer(small(), callbacks=[Look(True)]).fit(digits)
    assert all(g is None for g in seen[False])
    assert all(g is not None and np.isfinite(g).all() for g in seen[True])


def test_stop_flag_and_callback_errors(digits):
    class Stop(Callback):
        every = 10

        def on_step_end(self, t):
            if t.state.step >= 30:
                t.stop_training = True

    t = Trainer(small(), callbacks=[Stop()]).fit(digits)
    assert t.state.step == 30 and t.results_["stopped_early"] and np.isfinite(t.results_["test_accuracy"])

    class Boom(Callback):
        every = 10

        def on_step_end(self, t):
            raise KeyError("nope")

    t = Trainer(small(), callbacks=[Boom()])
    with pytest.raises(CallbackError, match=r"callback Boom failed in on_step_end at step 10: KeyError"):
        t.fit(digits)
    assert t.state.step == 10 and np.isfinite(t.weights(0)).all()  # state intact


def test_pruned_weights_stay_zero(digits):
    class Check(Callback):
        every = 10

        def __init__(self):
            self.checked = 0

        def on_prune(self, t):
            self.mask = t.state.layers[0].mask()

        def on_step_end(self, t):
            if t.state.sparse:
                assert np.all(t.weights(0)[~self.mask] == 0)
                self.checked += 1

    cb = Check()
    t = Trainer(small(prune="fraction:0.9", steps=200), callbacks=[cb]).fit(digits)
    assert cb.checked == 20
    assert t.results_["weights_alive"][0] <= round(65 * 16 * 0.1)


def test_determinism_chunking_and_json_roundtrip(digits, tmp_path):
    cfg = small(prune="random:0.5", prune_layers="all", seed=3)
    a = Trainer(cfg).fit(digits)
    (tmp_path / "c.json").write_text(cfg.to_json())
    b = Trainer(RunConfig.from_json(tmp_path / "c.json")).setup(digits)
    while not b.done:
        b.run(steps=7)
    for l in range(2):
        assert np.array_equal(a.weights(l), b.weights(l))
    assert a.results_["test_accuracy"] == b.results_["test_accuracy"]
    c = Trainer(cfg.replace(seed=4)).fit(digits)
    assert not np.array_equal(a.weights(0), c.weights(0))


def test_recorder_is_bounded(digits):
    rec = Recorder(every=1, max_records=16, histograms=True)
    Trainer(small(steps=300), callbacks=[rec]).fit(digits)
    assert 8 <= len(rec.records) <= 16
    steps = [r["step"] for r in rec.records]
    assert steps == sorted(steps) and steps[0] <= 32 and steps[-1] >= 256
    h = rec.records[-1]["hist_w"][0]
    assert h.total == 65 * 16 and h.zeros == 65 * 16 - rec.records[-1]["alive"][0]


@pytest.mark.parametrize("prune", ["none", "fraction:0.5"])
def test_divergence_keeps_last_finite_state(digits, prune):
    # inputs of 1e150 overflow the second step's activations: loss NaN
    big = (digits.X_train.astype(float) * 1e150, digits.y_train, digits.X_test, digits.y_test)
    cfg = RunConfig(hidden=(16,), activation="relu", lr=0.1, prune=prune, burn_in=0, steps=200, batch_size=4)
    with pytest.warns(RuntimeWarning, match="diverged at step"):
        t = Trainer(cfg).fit(big)
    assert "lower the learning rate" in t.results_["diverged"] and t.state.step < 200
    assert np.isfinite(t.weights(0)).all() and np.isfinite(t.weights(1)).all()


@pytest.mark.parametrize("kw, msg", [
    (dict(hidden=(0,)), "hidden units=0"),
    (dict(burn_in=-1), "burn_in=-1"),
    (dict(lr=0), "lr=0"),
    (dict(lr=float("inf")), "lr=inf"),
    (dict(batch_size=0), "batch_size=0"),
    (dict(prune="fraction:1.5"), "prune='fraction:1.5'"),
    (dict(prune_layers=(2,)), "layer 2 does not exist"),
    (dict(prune_layers="x"), "prune_layers='x': expected comma-separated whole numbers"),  # not 'no cut'
    (dict(prune_layers=","), "prune_layers=(): name at least one layer"),
    (dict(activation="sigmoid"), "activation='sigmoid'"),
])
def test_config_errors(kw, msg, digits):
    with pytest.raises(ConfigError, match=msg.replace("(", r"\(").replace(")", r"\)")):
        Trainer(small(**kw)).fit(digits)


def test_data_errors():
    X = np.random.default_rng(0).random((10, 4))
    y = np.arange(10) % 3
    cases = [((X, y[:9]), "9 labels but there are 10 samples"),
             ((np.where(X > 0.5, np.nan, X), y), "NaN or inf"),
             ((X, y, X, y + 5), r"labels outside 0..2"),
             ((X, -y), "labels outside"),
             ((X[0], y), "expected \\(n_samples, n_features\\)")]
    for data, msg in cases:
        with pytest.raises(DataError, match=msg):
            Trainer(small(hidden=(3,), burn_in=2, steps=2)).fit(data)


def test_cli_train_json_and_errors(tmp_path, capsys):
    from explorer.cli import main

    out = tmp_path / "r.json"
    assert main(["train", "--dataset", "digits", "--hidden", "16", "--burn-in", "20", "--prune", "halving:2",
                 "--steps", "100", "--batch-size", "4", "--lr", "0.05", "--json", str(out), "--quiet"]) == 0
    r = json.loads(out.read_text())
    for key in ("config", "dataset", "n_train", "n_test", "test_accuracy", "test_loss", "weights_total",
                "weights_alive", "seconds", "samples_per_second"):
        assert key in r
    assert set(r["seconds"]) >= {"burn_in", "prune", "train", "eval"}
    assert set(r["samples_per_second"]) == {"burn_in", "train"}
    assert r["weights_alive"][0] == 65 * 16 // 4 and r["config"]["hidden"] == [16]
    # the JSON config reproduces the run
    r2 = Trainer(RunConfig.from_dict(r["config"])).fit(load("digits", verbose=False)).results_
    assert r2["test_accuracy"] == r["test_accuracy"]
    for argv, msg in [(["--hidden", "0"], "hidden units=0"), (["--lr", "abc"], "--lr 'abc'"),
                      (["--prune", "halving:-2"], "halving takes"), (["--hidden", "128,64"], "256x128")]:
        capsys.readouterr()
        assert main(["train", "--dataset", "digits", *argv]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("explorer: error:") and msg in err[0]


@pytest.fixture(scope="module")
def fashion():
    return load("fashion-mnist", verbose=False)


def test_post_protocol_on_fashion_mnist(fashion):
    """The post's headline protocol on real data (Fashion-MNIST here; MNIST in the notebooks)."""
    dense = Trainer(RunConfig(dataset="fashion-mnist", prune="none", steps=30_000, n_test=2000)).fit(fashion)
    sparse = Trainer(RunConfig(dataset="fashion-mnist", prune="halving:5", steps=30_000, n_test=2000)).fit(fashion)
    assert dense.results_["test_accuracy"] > 0.75  # 10 classes: chance is 0.1
    alive = sparse.results_["weights_alive"][0]
    assert abs(alive - 785 * 128 / 32) <= 0.01 * 785 * 128 / 32
    assert sparse.results_["test_accuracy"] > 0.55  # still learns with 3% of the input weights
    assert sparse.results_["weights_total"] == [785 * 128, 128 * 10]


# -- fast kernels (issue 2, Speed): new code paths held to the same invariants ----------------
@pytest.mark.parametrize("B", [1, 2, 64])
@pytest.mark.parametrize("relu", [False, True])
def test_numba_kernels_equal_scipy_on_wide_compacted_nets(B, relu):
    """A wide layer pruned to a small budget (most hidden units compacted away), float32
    inputs with zeros: the numba kernels (flat batch-1 kernel and the general one) follow
    the scipy reference step for step, and the numba forward matches scipy's predict."""
    if not K.HAVE_NUMBA:
        pytest.skip("numba not installed")
    rng = np.random.default_rng(11)
    X = (rng.random((200, 30)) * (rng.random((200, 30)) < 0.4)).astype(np.float32)
    y = rng.integers(0, 5, 200)
    W = N.init_weights([31, 300, 5], 0.5, rng)
    masks = [np.zeros(w.shape, bool) for w in W]
    for m in masks:
        m.ravel()[rng.choice(m.size, 150, replace=False)] = True
    units = compact_units(masks)
    assert 0 < len(units[0]) < 300
    a, b = N.SparseNet(W, masks, units), N.SparseNet(W, masks, units)
    n = 6
    batches = (np.arange(n * B) % 200).reshape(n, B)
    K.sparse_steps(a, X, y, batches, relu, 0.05, np.empty(n))
    for s in range(n):
        N.sparse_step_scipy(b, N.with_bias(X[batches[s]]), y[batches[s]], relu, 0.05)
    np.testing.assert_allclose(a.data, b.data, rtol=0, atol=1e-10)
    np.testing.assert_allclose(K.predict_net(a, X, relu), N.predict([a.csr(l) for l in range(2)], X, relu),
                               rtol=0, atol=1e-10)


@pytest.mark.parametrize("relu", [False, True])
def test_numba_output_deltas_and_fprime_follow_the_numpy_reference(relu):
    """The numba helpers (one output delta/loss, one f', shared by every kernel) against
    net.py's numpy definitions: f' to the bit, deltas and loss to float tolerance (numba's
    exp and its running sum round differently from numpy's)."""
    if not K.HAVE_NUMBA:
        pytest.skip("numba not installed")
    rng = np.random.default_rng(13)
    out = rng.normal(size=(7, 5)) if relu else np.tanh(rng.normal(size=(7, 5)))
    y = rng.integers(0, 5, 7)
    want_loss, want_D = N.output_delta(out, y, relu)
    D = np.empty_like(out)
    loss = K.output_deltas(out, y, D, relu) / len(y)
    np.testing.assert_allclose(D, want_D, rtol=1e-12, atol=1e-15)
    assert loss == pytest.approx(want_loss, rel=1e-12)
    H = np.maximum(rng.normal(size=(7, 6)), 0.0) if relu else np.tanh(rng.normal(size=(7, 6)))
    G = rng.normal(size=(7, 6))
    want = G * N.fprime(H, relu)
    K.times_fprime(G.reshape(-1), H.reshape(-1), relu)
    assert np.array_equal(G, want)


@pytest.mark.parametrize("B", [1, 3])
def test_numba_split_step_equals_fused_step_bit_for_bit(B):
    """Storing gradients and applying them later (what a callback asking for gradients
    causes) rounds exactly like the fused update, for the batch-1 kernel too."""
    if not K.HAVE_NUMBA:
        pytest.skip("numba not installed")
    rng = np.random.default_rng(12)
    X = rng.random((50, 12)) * (rng.random((50, 12)) < 0.5)
    y = rng.integers(0, 3, 50)
    W, masks, units = _net(rng, [13, 20, 9, 3], density=0.3)
    a, b = N.SparseNet(W, masks, units), N.SparseNet(W, masks, units)
    batches = (np.arange(4 * B) % 50).reshape(4, B)
    K.sparse_steps(a, X, y, batches, False, 0.07, np.empty(4))
    K.sparse_steps(b, X, y, batches[:3], False, 0.07, np.empty(3))
    graw = np.empty(len(b.data))
    K.sparse_steps(b, X, y, batches[3:], False, 0.07, np.empty(1), graw, store_last=True, apply_last=False)
    K.apply_raw(b, graw, 0.07, B)
    assert np.array_equal(a.data, b.data)


def test_batch1_headline_shape_trainer_matches_scipy(digits):
    """The post's protocol shape (batch 1, input layer halved) through the Trainer: numba
    and scipy engines end within 1e-10, and a gradient-asking callback changes nothing."""
    if not K.HAVE_NUMBA:
        pytest.skip("numba not installed")
    cfg = RunConfig(dataset="digits", hidden=(24,), burn_in=30, prune="halving:3", steps=500, batch_size=1, lr=0.02)
    a = Trainer(cfg, engine="numba").fit(digits)
    b = Trainer(cfg, engine="scipy").fit(digits)
    c = Trainer(cfg, engine="numba", callbacks=[Spy(every=13, grads=True)]).fit(digits)
    for l in range(2):
        np.testing.assert_allclose(a.weights(l), b.weights(l), atol=1e-10)
        assert np.array_equal(a.weights(l), c.weights(l))
    assert abs(a.results_["test_loss"] - b.results_["test_loss"]) < 1e-9


def test_unknown_data_set_is_refused_before_anything_runs(tmp_path, capsys):
    from explorer.cli import main

    with pytest.raises(DataError, match="unknown data set 'nosuch'"):
        RunConfig(dataset="nosuch").validate()
    for argv in (["train", "--dataset", "nosuch"], ["reproduce", "--dataset", "nosuch", "--out", str(tmp_path / "r")]):
        capsys.readouterr()
        assert main(argv) == 2
        assert capsys.readouterr().err.strip().startswith("explorer: error: unknown data set 'nosuch'")
    assert not (tmp_path / "r").exists()  # nothing written


@pytest.mark.parametrize("B", [1, 2, 64])
def test_gemm_acc_adds_the_outer_product_in_place(B):
    """The dense update W += c h^T d (numpy's BLAS through ctypes where it can be found),
    against numpy, and its fallback for arrays the BLAS call does not take."""
    rng = np.random.default_rng(7)
    for n_in, n_out in ((785, 128), (33, 10)):
        W = rng.normal(size=(n_in, n_out))
        h, d = rng.normal(size=(B, n_in)), rng.normal(size=(B, n_out))
        want = W + 0.3 * (h.T @ d)
        assert blas.gemm_acc(W, h, d, 0.3)
        np.testing.assert_allclose(W, want, rtol=0, atol=1e-12)
        Wf = np.asfortranarray(rng.normal(size=(n_in, n_out)))  # not C-contiguous: the numpy fallback
        want = Wf + 0.3 * (h.T @ d)
        assert not blas.gemm_acc(Wf, h, d, 0.3)
        N.apply_dense([Wf], [(h, d)], 0.3 * B)  # c = lr / B
        np.testing.assert_allclose(Wf, want, rtol=0, atol=1e-12)


def test_divergence_under_split_steps_warns_once_with_our_message(digits):
    """A callback splitting every step (gradients before the update) must not change how a
    divergence is reported: one RuntimeWarning, ours, no numpy overflow noise."""
    import warnings

    class Split(Callback):
        every = 1
        needs_gradients = True

        def on_after_backward(self, t):
            pass

    big = (digits.X_train.astype(float) * 1e150, digits.y_train, digits.X_test, digits.y_test)
    cfg = RunConfig(hidden=(16,), activation="relu", lr=0.1, prune="none", burn_in=0, steps=50, batch_size=4)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t = Trainer(cfg, callbacks=[Split()]).fit(big)
    msgs = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert len(msgs) == 1 and "diverged at step" in msgs[0], msgs
    assert np.isfinite(t.weights(0)).all()
