"""Each view, fed by a real trainer on real data, holds the expected data (asserted on
fig.data), and the Board's contract: log-spaced history, one frame clock, titles that say
the step drawn, series that reach the last step, replay of any recorded step."""

import re

import numpy as np
import pytest

from explorer import Callback, RunConfig, Trainer
from explorer.data import load
from explorer.sparsity.prune import compact_units, keep_flat
from explorer.stats import feedback
from explorer.views import (
    VIEWS,
    AccuracyLoss,
    Board,
    Connectivity,
    GradientFeedback,
    HistogramOverTime,
    Speed,
    Survivors,
    WeightHistogram,
    all_views,
    log_schedule,
)
from explorer.views.accuracy import collapse_step


@pytest.fixture(scope="module")
def digits():
    return load("digits", verbose=False)


def small(**kw):
    base = dict(dataset="digits", hidden=(16,), burn_in=40, prune="halving:3", steps=400, eval_every=100)
    base.update(kw)
    return RunConfig(**base)


def test_log_schedule_gives_the_first_1000_steps_as_many_records_as_the_rest():
    s = log_schedule(30_200, burn_in=200)
    assert s[0] == 0 and s[-1] == 30_200 and 200 in s and np.all(np.diff(s) > 0)
    early, late = (s <= 1000).sum(), (s > 1000).sum()
    assert abs(early - late) <= 6
    assert list(log_schedule(5, burn_in=2)) == [0, 1, 2, 3, 4, 5]


def test_weight_histogram_counts_zeros_and_the_cut(digits):
    v = WeightHistogram(every=50)
    t = Trainer(small(), callbacks=[v]).fit(digits)
    lv = t.state.layers[0]
    tr = v.fig.data[0]
    meta = tr.meta
    # counts of the non-zero weights plus the pruned zeros (reported apart) = every weight
    assert int(np.sum(tr.y)) + meta["zeros"] + meta["under"] + meta["over"] == lv.n_total
    assert meta["zeros"] == lv.n_total - lv.n_alive > 0
    cut_record = next(r for r in v.board.records if r["phase"] == "train")
    assert v.fig.data[3].x[0] == cut_record["samples"]["weights"]["cut"]  # the cut made, at its smallest |w|
    assert f"at step {t.state.step:,}" in v.fig.layout.title.text


def test_threshold_preview_is_the_trainers_cut(digits):
    t = Trainer(small(burn_in=60)).setup(digits)
    t.run(steps=30)  # still dense: a preview chooses among all weights
    v = WeightHistogram().attach(t)
    q = np.quantile(np.abs(t.weights(0)), 0.7)
    for rule in ("halving:2", "fraction:0.8", f"threshold:{q:.3g}", "halving:4", "random:0.5"):
        step = t.state.step
        out = v.preview(rule)
        a = np.abs(t.weights(0)).ravel()
        keep = t.preview_cut(rule)[0]
        if not rule.startswith("random"):
            assert np.array_equal(keep, keep_flat(a, rule))
        assert out["kept"] == keep.sum() and out["of"] == a.size
        assert v.fig.data[2].x[0] == pytest.approx(a[keep].min())  # threshold line = smallest kept |w|
        assert int(np.sum(v.fig.data[1].y)) == keep.sum()  # after-cut preview holds the kept weights
        assert t.state.step == step  # no training


class PreviewAtTheCut(Callback):
    """What the preview says at the end of the burn-in, just before the cut is made."""

    def on_phase_end(self, t):
        if t.state.phase == "burn_in":
            self.preview = t.preview_cut()


@pytest.mark.parametrize("kw", [dict(prune="random:0.7"),
                                dict(hidden=(16, 8), prune="keep:300", prune_layers="all", prune_scope="global")])
def test_the_preview_at_the_end_of_the_burn_in_is_the_cut(digits, kw):
    grab = PreviewAtTheCut()
    t = Trainer(small(burn_in=20, **kw), callbacks=[grab]).fit(digits)
    if "keep" in kw["prune"]:
        assert sum(m.sum() for m in grab.preview.values()) == 300  # ranked over both layers together
    masks = [np.ones(shape, bool) for shape in t.layer_shapes]
    for l, m in grab.preview.items():
        masks[l] = m.reshape(t.layer_shapes[l]).copy()
    compact_units(masks)  # the cut then removes the hidden units left without inputs or outputs
    for l in range(len(masks)):
        assert np.array_equal(t.masks_[l], masks[l]), l


def test_weight_histogram_modes(digits):
    v = WeightHistogram(mode="grad", every=50)
    assert v.needs_gradients
    t = Trainer(small(), callbacks=[v]).fit(digits)
    assert v.fig.layout.xaxis.type == "log" and sum(v.fig.data[0].y) > 0
    v.set_mode("signed")
    assert v.fig.layout.xaxis.type == "linear" and not v.needs_gradients
    assert int(np.sum(v.fig.data[0].y)) == t.state.layers[0].n_alive
    assert min(v.fig.data[0].x) < 0 < max(v.fig.data[0].x)


def test_heatmap_columns_are_the_records_and_replay_draws_any_step(digits):
    v = HistogramOverTime()
    t = Trainer(small(steps=2000), callbacks=[v]).fit(digits)
    b = v.board
    steps = [r["step"] for r in b.records]
    assert steps[0] == 0 and steps[-1] == t.state.step
    assert sum(s < t.config.burn_in for s in steps) >= 10  # the burn-in is recorded densely (log-spaced)
    z = np.array(v.fig.data[0].z)
    assert z.shape[1] == len(b.records)
    h = b.records[-1]["samples"]["heatmap"]["abs"]
    assert int(np.sum(h["counts"])) + h["zeros"] + h["under"] + h["over"] == t.state.layers[0].n_total
    b.show(0)  # replay step 0
    assert b.index == 0 and "step 0" in v.fig.layout.title.subtitle.text
    assert list(v.fig.data[2].y) == list(b.records[0]["samples"]["heatmap"]["abs"]["counts"])
    b.show(None)
    assert f"step {t.state.step:,}" in v.fig.layout.title.subtitle.text


def test_feedback_view_matches_stats(digits):
    class Grab(Callback):  # the weights and gradients the view is given at its due steps
        def on_step_end(self, trainer):
            lv = trainer.state.layers[0]
            if lv.grad_values is not None:
                self.got = (trainer.state.step, lv.values.copy(), lv.grad_values.copy())

    v, grab = GradientFeedback(every=100), Grab()
    t = Trainer(small(), callbacks=[v, grab]).fit(digits)
    assert t.state.step == 440
    # gradients are measured at the due steps (every 100); the view shows the last of them
    rec = [r for r in v.board.records if "feedback" in r["samples"]][-1]
    s = rec["samples"]["feedback"]
    assert rec["step"] == 400 and v.fig.data[1].x[-1] == 400 and "step 400" in v.fig.layout.title.text
    assert v.fig.data[1].y[-1] == pytest.approx(s["spearman"], abs=1e-4)
    assert np.allclose(v.fig.data[0].y, s["deciles"])
    assert list(v.fig.data[0].x) == [str(i) for i in range(1, 11)]
    step, values, grads = grab.got  # the statistic recomputed from what the trainer had at step 400
    ref = feedback(values, grads, max_n=v.max_n, seed=step)
    assert step == 400 and s["spearman"] == pytest.approx(ref.spearman) and np.allclose(s["deciles"], ref.decile_means)


def test_feedback_title_says_when_the_smallest_weights_get_no_gradient():
    """Early in the post's burn-in on Fashion-MNIST, a one-sample gradient is zero on every
    blank pixel, so the smallest tenth of the weights can get none: the title says so in words
    (it showed "xinf")."""
    ds = load("fashion-mnist", verbose=False, n_train=2000, n_test=500)
    v = GradientFeedback(every=10)
    Trainer(RunConfig(dataset="fashion-mnist", hidden=(32,), burn_in=200, steps=0), callbacks=[v]).fit(ds)
    records = [i for i, r in enumerate(v.board.records) if "feedback" in r["samples"]]
    none = [i for i in records if not np.isfinite(v.board.records[i]["samples"]["feedback"]["ratio"])]
    assert none and len(none) < len(records)
    v.board.show(none[0])
    assert v.fig.layout.title.subtitle.text.startswith("the bottom |w| decile gets no gradient; Spearman")
    v.board.show(next(i for i in records if i not in none))
    assert re.match(r"top/bottom decile mean \|g\| x[0-9.e+]+; Spearman", v.fig.layout.title.subtitle.text)


def test_accuracy_points_match_trainer_evals_and_events_are_marked(digits):
    v = AccuracyLoss(every=50)
    t = Trainer(small(), callbacks=[v]).fit(digits)
    evals = v.board.evals
    assert list(v.fig.data[1].x) == [e["step"] for e in evals]
    assert v.fig.data[1].y[-1] == t.results_["test_accuracy"]
    assert [x for x in v.fig.data[4].x if x is not None] == [40, 40]  # the cut at the end of the burn-in
    assert v.fig.data[0].x[-1] == t.state.step  # the loss reaches the last step
    ref = Trainer(small(prune="none"), callbacks=[v.reference_callback()]).fit(digits)
    v.redraw()
    assert v.fig.data[3].y[-1] == ref.results_["test_accuracy"]


def test_collapse_to_chance_is_found():
    evals = [{"step": s, "test_accuracy": a} for s, a in ((100, 0.4), (200, 0.7), (300, 0.11), (400, 0.1))]
    assert collapse_step(evals, 10) == 300
    assert collapse_step(evals[:2], 10) is None
    assert collapse_step([{"step": 1, "test_accuracy": 0.1}], 10) is None  # never above chance: not a collapse


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
    n = len(v.fig.data[0].x) + len(v.fig.data[1].x)
    assert n >= 20 and v.fig.data[1].x[-1] == t.state.step
    assert all(x <= 40 for x in v.fig.data[0].x)
    assert v.fig.data[2].y[-1] == sum(lv.n_alive for lv in t.state.layers)
    assert "faster per sample" in v.fig.layout.title.subtitle.text


def test_one_board_for_all_views_on_the_posts_net():
    """The post's 784-128-10 net with every view on one Board: histograms count all 100,480
    weights, images are 28x28, every view's title ends on the last step, and frames are
    bounded by the clock (10 a second) plus the forced ones (start, cut, end)."""
    data = load("fashion-mnist", verbose=False, n_train=5000, n_test=500)
    views = all_views()
    assert list(views) == list(VIEWS)
    board = Board(list(views.values()))
    t = Trainer(RunConfig(dataset="fashion-mnist", steps=3000, eval_every=1000), callbacks=[board]).setup(data)
    board.attach(t)
    t.run()
    w = views["weights"].fig.data[0]
    assert int(np.sum(w.y)) + w.meta["zeros"] + w.meta["under"] + w.meta["over"] == 785 * 128
    assert w.meta["zeros"] == 785 * 128 - t.state.layers[0].n_alive
    assert np.array(views["survivors"].fig.data[0].z).shape == (4 * 29, 4 * 29)
    assert len(views["accuracy"].fig.data[1].x) == 4  # evals at 1000, 2000, 3000 and the end
    for name in ("weights", "heatmap", "feedback", "survivors", "speed"):
        text = views[name].fig.layout.title.text + (views[name].fig.layout.title.subtitle.text or "")
        assert f"{t.state.step:,}" in text, name
    secs = sum(t.state.seconds.values()) + t.callbacks.seconds
    assert board.frames <= 10 * secs + 6


def test_connectivity_counts_weights_per_pixel_and_marks_rewirings(digits):
    """Sparse from step 0 with SET: the image counts each pixel's surviving weights (they add up
    to the layer's budget minus the bias row's), coverage is a share, rewirings are marked on
    this view, on the accuracy curve and on the heatmap, and regrown weights are drawn apart."""
    views = [Connectivity(), AccuracyLoss(), HistogramOverTime(), WeightHistogram()]
    board = Board(views)
    cfg = small(hidden=(32,), burn_in=0, prune="keep:300", rewire="set:0.3", rewire_every=100, steps=1000,
                init="glorot", eval_every=0)
    t = Trainer(cfg, callbacks=[board]).setup(digits)
    board.attach(t)
    t.run()
    lv = t.state.layers[0]
    bias = int(np.sum(lv.positions() // lv.shape[1] == lv.shape[0] - 1))
    z = np.array(views[0].fig.data[0].z)
    assert z.shape == (8, 8) and int(z.sum()) == lv.n_alive - bias == 300 - bias
    n_rew = t.state.rewirings
    assert n_rew == 9 and len(views[0].fig.data[3].x) == n_rew and len(views[1].fig.data[7].x) == n_rew
    assert 0 < len(views[2].fig.data[3].x) <= n_rew  # marked on the columns after each rewiring
    regrown = views[3].fig.data[4]
    assert "regrown at step 900" in regrown.name and int(np.sum(regrown.y)) == int(t.state.last_rewire.regrown[0].sum())
    assert "9 rewirings" in views[1].fig.layout.title.subtitle.text
