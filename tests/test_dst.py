"""Dynamic sparse training through the Trainer: the erk cut, SET and RigL rewiring, gradual
magnitude pruning, the init that follows the activation, the on_rewire hook and the settings'
one-line errors. Real data: scikit-learn's digits and Fashion-MNIST (the pieces alone are in
test_dst_parts.py)."""

import json
import math

import numpy as np
import pytest

from explorer import Callback, Recorder, RunConfig, Trainer
from explorer.data import load
from explorer.engine import kernels as K
from explorer.engine import net as N
from explorer.sparsity import schedule as S
from explorer.sparsity.rewire import REWIRINGS, parse_rewire

ENGINES = ["scipy"] + (["numba"] if K.HAVE_NUMBA else [])


@pytest.fixture(scope="module")
def digits():
    return load("digits", verbose=False)


def cfg(**kw):
    base = dict(dataset="digits", hidden=(32,), burn_in=0, prune="erk:3", prune_layers="all", steps=400,
                batch_size=4, lr=0.05, seed=1, rewire="set:0.3", rewire_every=50)
    base.update(kw)
    return RunConfig(**base)


class Watch(Callback):
    """Records, at each rewiring, the pattern and weights before (the last on_step_end, due at
    every rewiring step) and after, with the event."""

    def __init__(self, every):
        self.every, self.before, self.after = every, {}, []

    def _layers(self, t):
        return [(t.engine.net.positions(l).copy(), t.state.layers[l].values.copy()) for l in range(2)]

    def on_step_end(self, t):
        if t.state.sparse:
            self.before[t.state.step] = self._layers(t)

    def on_rewire(self, t):
        self.after.append((t.state.last_rewire, self._layers(t), [lv.n_alive for lv in t.state.layers]))


# -- erk ----------------------------------------------------------------------------------------
def test_erk_through_the_trainer_with_sparse_init(digits):
    t = Trainer(cfg(rewire="none", prune="erk:5", init="he", activation="relu")).fit(digits)
    assert t.results_["weights_alive"] == [round(5 * (65 + 32)), min(32 * 10, round(5 * 42))]
    assert t.results_["init"] == "he"


# -- SET ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("engine", ENGINES)
def test_set_keeps_the_budget_and_regrows_at_empty_positions(digits, engine):
    w = Watch(every=50)
    t = Trainer(cfg(engine=engine, momentum=0.9, dropout=0.1), callbacks=[w]).fit(digits)
    alive = t.results_["weights_alive"]
    assert t.results_["rewirings"] == len(w.after) == 7  # steps 50..350: 400 is the last step
    assert t.results_["hidden_alive"] == [32]  # no compaction with rewiring
    for ev, layers, n_alive in w.after:
        assert n_alive == alive  # the budget, exact
        before = w.before[ev.step]
        for l in (0, 1):
            pos, vals = layers[l]
            pos0, vals0 = before[l]
            assert np.all(np.diff(pos) > 0)  # sorted, no duplicate position
            grown = ev.regrown[l]
            assert grown.shape == vals.shape and grown.sum() == ev.layers[l]["regrown"]
            k = ev.layers[l]["dropped"]
            assert k == round(0.3 * len(pos0)) and ev.layers[l]["churn"] == pytest.approx(k / len(pos0))
            assert not np.isin(pos[grown], pos0).any()  # regrown where nothing was
            dropped = np.setdiff1d(pos0, pos)
            assert len(dropped) == k
            kept_abs = np.abs(vals0[np.isin(pos0, pos)])
            assert np.abs(vals0[np.isin(pos0, dropped)]).max() <= kept_abs.min()  # the smallest |w| went
            assert np.all(np.abs(vals[grown]) <= t.config.init_scale)  # new weights start small
            np.testing.assert_array_equal(vals[~grown], vals0[np.isin(pos0, pos)])  # the rest untouched
    for l in (0, 1):
        full = t.weights(l)
        assert np.count_nonzero(full[~t.state.layers[l].mask()]) == 0  # pruned positions are zero


def test_momentum_of_regrown_weights_starts_at_zero(digits):
    class Vel(Callback):
        every = 10**9

        def on_rewire(self, t):
            ev = t.state.last_rewire
            v = t.engine.vel[t.engine.net.nz_off[0] : t.engine.net.nz_off[1]]
            assert np.all(v[ev.regrown[0]] == 0) and np.any(v[~ev.regrown[0]] != 0)
            self.n = getattr(self, "n", 0) + 1

    cb = Vel()
    Trainer(cfg(momentum=0.9), callbacks=[cb]).fit(digits)
    assert cb.n == 7


def test_rewiring_runs_are_deterministic_chunked_and_equal_in_both_engines(digits):
    c = cfg(momentum=0.5, weight_decay=1e-4, dropout=0.2, rewire="rigl:0.3", activation="relu")
    a = Trainer(c).fit(digits)
    b = Trainer(c).setup(digits)
    while not b.done:
        b.run(steps=23)
    s = Trainer(c, engine="scipy").fit(digits)
    for l in range(2):
        assert np.array_equal(a.weights(l), b.weights(l))
        np.testing.assert_allclose(a.weights(l), s.weights(l), atol=1e-10)
    assert a.results_["test_accuracy"] > 0.5


# -- RigL ---------------------------------------------------------------------------------------
def test_rigl_regrows_where_the_dense_gradient_is_largest(digits):
    w = Watch(every=50)
    c = cfg(rewire="rigl:0.4", rewire_batch=32, activation="relu", init="he")
    t = Trainer(c, callbacks=[w]).setup(digits)
    snaps = {}

    class Snap(Callback):
        every = 50

        def on_step_end(self, tr):
            snaps[tr.state.step] = [tr.weights(l).copy() for l in range(2)]

    t.callbacks.append(Snap())
    t.run()
    until = c.rewire_until_step()
    assert until == int(0.75 * 400) and [ev.step for ev, _, _ in w.after] == [50, 100, 150, 200, 250]
    for ev, layers, _ in w.after:
        assert ev.fraction == pytest.approx(S.cosine_fraction(ev.step, 0, until, 0.4))
        # the gradient RigL saw: dense-masked numpy forward/backward on the same samples
        Ws = snaps[ev.step]
        idx = np.random.default_rng([c.seed, 4, ev.step]).integers(0, digits.X_train.shape[0], 32)
        H = N.forward(Ws, N.with_bias(digits.X_train[idx]), True)
        _, Ds = N.backward(Ws, H, digits.y_train[idx], True)
        for l in (0, 1):
            g = np.abs(H[l].T @ Ds[l + 1]).ravel()
            pos0 = w.before[ev.step][l][0]
            pos, vals = layers[l]
            grown = pos[ev.regrown[l]]
            assert len(grown) == round(ev.fraction * len(pos0))
            empty = np.setdiff1d(np.arange(g.size), pos0)
            rest = np.setdiff1d(empty, grown)
            assert g[grown].min() >= g[rest].max() - 1e-12  # the largest |gradient| among empty positions
            assert np.all(vals[ev.regrown[l]] == 0)  # RigL's new weights start at zero


# -- gradual magnitude pruning -------------------------------------------------------------------
def test_gradual_schedule_counts_at_each_cut(digits):
    class Cuts(Callback):
        every = 10**9

        def __init__(self):
            self.cuts = []

        def on_prune(self, t):
            self.cuts.append((t.state.step, [lv.n_alive for lv in t.state.layers],
                              [t.state.layers[l].values.copy() for l in range(2)]))

    cb = Cuts()
    c = cfg(burn_in=40, prune="keep:200", prune_layers=(0,), rewire="none", prune_schedule="gradual:300:50",
            steps=400)
    t = Trainer(c, callbacks=[cb]).fit(digits)
    assert [s for s, _, _ in cb.cuts] == [40, 90, 140, 190, 240, 290, 300]
    n0 = 65 * 32
    for step, alive, _ in cb.cuts:
        assert alive[0] <= S.cubic_count(step, 40, 300, 200, n0)  # compaction may take a few more
        assert alive[0] >= S.cubic_count(step, 40, 300, 200, n0) - 65
    assert cb.cuts[0][1][0] == n0 and t.results_["weights_alive"][0] <= 200
    no_compaction = Trainer(c.replace(rewire="set:0.1", rewire_every=100), callbacks=[cb2 := Cuts()]).fit(digits)
    assert no_compaction.results_["rewirings"] == 3  # steps 140, 240, 340: between the cuts, the budget kept
    assert [a[0] for _, a, _ in cb2.cuts] == [S.cubic_count(s, 40, 300, 200, n0) for s, _, _ in cb2.cuts]
    assert no_compaction.results_["weights_alive"][0] == 200


# -- init ---------------------------------------------------------------------------------------
def test_deep_relu_learns_with_the_default_init_and_not_with_the_posts(fashion):
    """784-1000x1000x1000-10 ReLU: the post's +-1e-5 init leaves the test loss at ln 10; he
    (the default for relu) learns; sparse from step 0 (erk, rescaled to fan-in) learns too."""
    base = dict(dataset="fashion-mnist", hidden=(1000, 1000, 1000), activation="relu", burn_in=0, steps=150,
                batch_size=32, lr=0.05, n_test=1000)
    post = Trainer(RunConfig(**base, init="post", prune="none")).fit(fashion).results_
    he = Trainer(RunConfig(**base, prune="none")).fit(fashion).results_
    sparse = Trainer(RunConfig(**base, prune="erk:13", prune_layers="all")).fit(fashion).results_
    assert post["test_loss"] == pytest.approx(math.log(10), abs=0.01) and post["test_accuracy"] < 0.2
    assert he["init"] == "he" and he["test_loss"] < 1.0 and he["test_accuracy"] > 0.65
    assert sparse["test_loss"] < 1.2 and sparse["test_accuracy"] > 0.6


@pytest.fixture(scope="module")
def fashion():
    return load("fashion-mnist", verbose=False)


# -- hooks and records -------------------------------------------------------------------------
def test_on_rewire_hook_and_recorder_events(digits):
    rec = Recorder(every=100)
    t = Trainer(cfg(rewire="set:0.2", rewire_every=100), callbacks=[rec]).fit(digits)
    ev = t.state.last_rewire
    assert ev.step == 300 and set(ev.layers) == {0, 1} and ev.rule == "set:0.2"
    assert [e["step"] for e in rec.events if e["event"] == "rewire"] == [100, 200, 300]
    assert t.results_["seconds"]["rewire"] > 0 and t.results_["rewirings"] == 3


# -- settings -------------------------------------------------------------------------------------
@pytest.mark.parametrize("argv, msg", [
    (["--rewire", "set:1.5"], "0 < f <= 1"),
    (["--rewire", "grow:0.3"], "expected none | set:f | rigl:f"),
    (["--rewire", "set:0.3", "--rewire-every", "0"], "rewire_every=0"),
    (["--prune-schedule", "gradual:100:10"], "not after the burn-in"),
    (["--prune-schedule", "gradual:99999:10", "--steps", "1000"], "beyond the last step"),
    (["--prune-schedule", "gradual:300"], "gradual:END:EVERY"),
    (["--dropout", "1"], "dropout=1.0"),
    (["--momentum", "1"], "momentum=1.0"),
    (["--weight-decay", "-1"], "weight_decay=-1.0"),
    (["--prune", "erk:13", "--prune-scope", "global", "--prune-layers", "all"], "prune_scope='layer'"),
    (["--rewire", "set:0.3", "--prune", "none"], "with prune='none'"),
    (["--rewire", "rigl:0.3", "--rewire-until", "50"], "rewire_until=50"),
    (["--init", "xavier"], "init='xavier'"),
])
def test_bad_settings_are_one_line_errors(argv, msg, capsys):
    from explorer.cli import main

    capsys.readouterr()
    assert main(["train", "--dataset", "digits", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("explorer: error:") and msg in err[0], err


def test_new_settings_round_trip_and_sweep(tmp_path, capsys):
    from explorer.cli import main

    c = RunConfig(rewire="RigL:0.30", prune="erk:13", prune_layers="all", prune_schedule="once", momentum=0.9,
                  init="he", dropout=0.2)
    assert c.rewire == "rigl:0.3" and RunConfig.from_json(c.to_json()) == c.validate()
    assert parse_rewire("set:1").value == 1 and set(REWIRINGS) >= {"none", "set", "rigl"}
    out = tmp_path / "r.json"
    assert main(["train", "--dataset", "digits", "--hidden", "16", "--burn-in", "0", "--prune", "erk:3",
                 "--prune-layers", "all", "--rewire", "set:0.3", "--rewire-every", "20", "--steps", "100",
                 "--momentum", "0.9", "--dropout", "0.1", "--init", "he", "--json", str(out), "--quiet"]) == 0
    r = json.loads(out.read_text())
    assert (r["config"]["rewire"], r["config"]["momentum"], r["config"]["dropout"], r["config"]["init"]) == \
        ("set:0.3", 0.9, 0.1, "he")
    assert r["rewirings"] > 0
    capsys.readouterr()
    assert main(["sweep", "--dataset", "digits", "--rewire", "set:0.1,0.3", "--prune", "erk:3", "--dry-run",
                 "--out", str(tmp_path / "s")]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("2 runs") and "rewire=set:0.1" in printed and "rewire=set:0.3" in printed
