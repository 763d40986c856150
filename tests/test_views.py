"""Each view after real trainer events holds the expected data, asserted on fig.data.
Real trainer, real data (the bundled digits; Fashion-MNIST for the post's layer sizes)."""

import numpy as np
import pytest

from explorer import Recorder, RunConfig, Trainer
from explorer.data import load
from explorer.prune import keep_flat
from explorer.stats import feedback
from explorer.views import (
    AccuracyLoss,
    GradientFeedback,
    HistogramOverTime,
    Speed,
    Survivors,
    WeightHistogram,
    all_views,
)


@pytest.fixture(scope="module")
def digits():
    return load("digits", verbose=False)


def small(**kw):
    base = dict(dataset="digits", hidden=(16,), burn_in=40, prune="halving:3", steps=400, eval_every=100)
    base.update(kw)
    return RunConfig(**base)


def test_weight_histogram_counts_zeros_and_threshold(digits):
    v = WeightHistogram(every=50)
    t = Trainer(small(), callbacks=[v]).fit(digits)
    lv = t.state.layers[0]
    tr = v.fig.data[0]
    meta = tr.meta
    # counts of the non-zero weights plus the pruned zeros (reported apart) = every weight
    assert int(np.sum(tr.y)) + meta["zeros"] + meta["under"] + meta["over"] == lv.n_total
    assert meta["zeros"] == lv.n_total - lv.n_alive > 0
    # the cut actually made is at the smallest surviving |w| (values move after the cut; check at prune)
    assert v.cut is not None and v.fig.data[3].x[0] == v.cut


def test_threshold_preview_matches_the_rule(digits):
    t = Trainer(small(burn_in=60)).setup(digits)
    t.run(steps=30)  # still dense: a preview chooses among all weights
    v = WeightHistogram().attach(t)
    q = np.quantile(np.abs(t.weights(0)), 0.7)
    for rule in ("halving:2", "fraction:0.8", f"threshold:{q:.3g}", "halving:4"):
        step = t.state.step
        out = v.preview(rule)
        a = np.abs(t.weights(0)).ravel()
        keep = keep_flat(a, rule)
        assert out["kept"] == keep.sum() and out["of"] == a.size
        assert v.fig.data[2].x[0] == pytest.approx(a[keep].min())  # threshold line = smallest kept |w|
        assert int(np.sum(v.fig.data[1].y)) == keep.sum()  # after-cut preview holds the kept weights
        assert f"kept {keep.sum():,} of {a.size:,}" in v.fig.layout.title.text
        assert t.state.step == step  # no training


def test_weight_histogram_modes(digits):
    v = WeightHistogram(mode="grad", every=50)
    assert v.needs_gradients
    t = Trainer(small(), callbacks=[v]).fit(digits)
    assert v.fig.layout.xaxis.type == "log" and sum(v.fig.data[0].y) > 0
    v.set_mode("signed")
    assert v.fig.layout.xaxis.type == "linear" and not v.needs_gradients
    assert int(np.sum(v.fig.data[0].y)) == t.state.layers[0].n_alive
    assert min(v.fig.data[0].x) < 0 < max(v.fig.data[0].x)


def test_heatmap_keeps_early_history_and_scrubs(digits):
    v = HistogramOverTime(max_columns=20)
    t = Trainer(small(steps=2000), callbacks=[v]).fit(digits)
    steps, ys, C = v.matrix()
    assert steps[0] == 0 and steps[-1] == t.state.step and len(steps) <= 21
    assert (steps < t.config.burn_in).sum() >= 2  # burn-in columns survive the decimation
    z = np.array(v.fig.data[0].z)
    assert z.shape == C.shape == (len(ys), len(steps))
    assert np.allclose(z, np.round(np.log10(1 + C), 3))
    lv = t.state.layers[0]
    assert C[:, -1].sum() + v.zeros[-1] == lv.n_total  # every weight accounted for, zeros apart
    v.slider.value = 0  # scrub back to step 0
    assert v.fig.data[1].x[0] == 1 and list(v.fig.data[2].y) == list(C[:, 0])
    assert "step 0" in v.step_label.value


def test_feedback_view_matches_stats(digits):
    class Grab(GradientFeedback):
        def on_step_end(self, trainer):
            super().on_step_end(trainer)
            lv = trainer.state.layers[0]
            if lv.grad_values is not None:
                self.ref = (trainer.state.step, feedback(lv.values, lv.grad_values, max_n=self.max_n,
                                                         seed=trainer.state.step))
    v = Grab(every=100)
    Trainer(small(), callbacks=[v]).fit(digits)
    step, ref = v.ref
    assert list(v.fig.data[1].x) == v.steps and v.steps[-1] == step
    assert v.fig.data[1].y[-1] == pytest.approx(ref.spearman, abs=1e-4)
    assert np.allclose(v.fig.data[0].y, ref.decile_means)


def test_accuracy_points_match_trainer_evals(digits):
    v, rec = AccuracyLoss(every=50), Recorder(every=50)
    t = Trainer(small(), callbacks=[v, rec]).fit(digits)
    assert list(v.fig.data[1].x) == [e["step"] for e in rec.evals]
    assert list(v.fig.data[1].y) == [e["test_accuracy"] for e in rec.evals]
    assert v.fig.data[1].y[-1] == t.results_["test_accuracy"]
    assert list(v.fig.data[4].x) == [40, 40]  # the prune marked at the end of the burn-in
    assert len(v.fig.data[0].x) > 3 and all(y > 0 for y in v.fig.data[0].y)
    ref = Trainer(small(prune="none"), callbacks=[v.reference_callback()]).fit(digits)
    v.redraw()
    assert v.fig.data[3].y[-1] == ref.results_["test_accuracy"]


def test_survivors_images_and_mask_stability(digits):
    v = Survivors(n_units=4, cols=2)
    t = Trainer(small(burn_in=64), callbacks=[v]).fit(digits)
    z = np.array(v.fig.data[0].z, dtype=float)
    assert z.shape == (2 * 9, 2 * 9)  # 2x2 tiles of 8x8 images with one-pixel gaps
    W = t.weights(0)
    im = z[:8, :8]
    assert np.array_equal(im == 0, W[:-1, v.units[0]].reshape(8, 8) == 0)  # pruned pixels are zero
    st = v.stability
    assert st is not None and st.steps[0] == 0 and st.steps[-1] == 64 and st.jaccard[-1] == 1.0
    assert list(v.fig.data[1].x) == list(st.steps)


def test_speed_view_rows_and_speedup(digits):
    v = Speed()
    t = Trainer(small(steps=3000), callbacks=[v]).fit(digits)
    assert v.rows[-1][0] == t.state.step
    assert sum(len(v.fig.data[i].x) for i in (0, 1)) == len(v.rows)
    assert all(r[1] == "burn_in" for r in v.rows if r[0] <= 40)
    assert v.fig.data[2].y[-1] == sum(lv.n_alive for lv in t.state.layers)
    assert v.speedup() is not None and v.speedup() > 0


def test_views_on_fashion_mnist_post_shapes():
    """The post's 784-128-10 net with all views: images are 28x28, histograms count all 100,480."""
    data = load("fashion-mnist", verbose=False, n_train=5000, n_test=500)
    views = all_views()
    t = Trainer(RunConfig(dataset="fashion-mnist", steps=3000, eval_every=1000),
                callbacks=list(views.values())).fit(data)
    w = views["weights"].fig.data[0]
    assert int(np.sum(w.y)) + w.meta["zeros"] + w.meta["under"] + w.meta["over"] == 785 * 128
    assert w.meta["zeros"] == 785 * 128 - t.state.layers[0].n_alive
    assert np.array(views["survivors"].fig.data[0].z).shape == (4 * 29, 4 * 29)
    assert len(views["accuracy"].fig.data[1].x) == 4  # evals at 1000, 2000, 3000 and the end
    # no view redraws more than ~10 times a second (time-throttled), counted over the run
    secs = sum(t.state.seconds.values()) + t.callbacks.seconds
    for name in ("weights", "feedback", "accuracy"):
        assert views[name].draws <= 10 * secs + 8, name
