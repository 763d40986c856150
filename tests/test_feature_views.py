"""The survivors and connectivity views on inputs that are not images: per-feature bars named
from the CSV header, ranked, holding the trainer's own numbers; images again where the data have
an image shape, on the same figures. In a real browser: tests/test_browser_features.py."""

from __future__ import annotations

import numpy as np
import pytest
from data_util import write_sklearn_files

from explorer import RunConfig, Trainer, load
from explorer.views import Board, Connectivity, Survivors
from explorer.views.features import MAX_BARS, NAME_CHARS


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return write_sklearn_files(tmp_path_factory.mktemp("sk"))


def _run(data, views, **kw):
    board = Board(views)
    cfg = dict(hidden=(32,), burn_in=50, prune="keep:150", steps=1500, lr=0.05)
    cfg.update(kw)
    t = Trainer(RunConfig(**cfg), callbacks=[board]).setup(data)
    board.attach(t)
    t.run()
    return t


def test_tabular_data_get_per_feature_bars_named_and_ranked(files):
    wine = load(str(files["wine.csv"]))
    surv, conn = Survivors(), Connectivity()
    t = _run(wine, [surv, conn])
    W = t.weights(0)[:-1]  # the bias row is not a feature
    names = wine.feature_names
    # survivors: the sums of w > 0 and w < 0 per feature, ranked by their |w|
    assert surv.fig.data[0].visible is False and surv.fig.data[3].visible and surv.fig.data[4].visible
    pos, neg = np.where(W > 0, W, 0).sum(1), np.where(W < 0, W, 0).sum(1)
    order = np.lexsort((np.arange(13), -(pos - neg)))
    assert list(surv.fig.data[3].y) == [names[j][:NAME_CHARS - 1] + "…" if len(names[j]) > NAME_CHARS else names[j]
                                        for j in order]
    assert list(surv.fig.data[3].customdata) == [names[j] for j in order]  # full names in the hover
    assert np.allclose(surv.fig.data[3].x, pos[order], atol=1e-3) and np.allclose(surv.fig.data[4].x, neg[order],
                                                                                  atol=1e-3)
    keep = int(np.count_nonzero(np.count_nonzero(W, axis=1)))
    assert f"{keep} of 13 features keep weights" in surv.fig.layout.title.text
    assert "all 13 features" in surv.fig.layout.title.subtitle.text
    assert surv.fig.layout.xaxis3.visible and surv.fig.layout.yaxis3.visible
    # connectivity: weights per feature, ranked, adding up to the layer's survivors but the bias's
    counts = np.count_nonzero(W, axis=1)
    assert sorted(conn.fig.data[4].x, reverse=True) == list(conn.fig.data[4].x)
    assert int(np.sum(conn.fig.data[4].x)) == counts.sum() == t.state.layers[0].n_alive - np.count_nonzero(
        t.weights(0)[-1])
    assert set(conn.fig.data[4].customdata) <= set(names) and conn.fig.data[0].visible is False
    held = int(np.count_nonzero(counts))
    assert f"{held:,} of 13 features hold a weight" in conn.fig.layout.title.text
    assert conn.fig.data[1].name == "features with a weight"

    # the same figures on images: the pictures come back, the bars go
    _run(load("digits", verbose=False), [surv, conn], hidden=(16,))
    assert surv.fig.data[0].visible and not surv.fig.data[3].visible and not surv.fig.layout.xaxis3.visible
    assert np.array(surv.fig.data[0].z).shape == (4 * 9, 4 * 9)
    assert conn.fig.data[0].visible and np.array(conn.fig.data[0].z).shape == (8, 8)
    assert conn.fig.data[1].name == "pixels with a weight" and "pixels hold a weight" in conn.fig.layout.title.text


def test_many_features_show_the_top_bars_and_a_sparse_start_counts_from_positions(files):
    bc = load(str(files["breast_cancer.csv"]))
    surv, conn = Survivors(), Connectivity()
    t = _run(bc, [surv, conn], burn_in=0, prune="keep:200", init="glorot", hidden=(64,))
    assert t.state.layers[0].sparse
    assert len(surv.fig.data[3].y) == len(conn.fig.data[4].y) == MAX_BARS
    assert f"the top {MAX_BARS} of 30 features" in surv.fig.layout.title.subtitle.text
    assert f"the top {MAX_BARS} of 30" in conn.fig.layout.title.subtitle.text
    W = t.weights(0)[:-1]
    counts = np.count_nonzero(W, axis=1)
    assert list(conn.fig.data[4].x) == sorted(counts, reverse=True)[:MAX_BARS]
    pos = np.where(W > 0, W, 0).sum(1)
    shown = {n: x for n, x in zip(surv.fig.data[3].customdata, surv.fig.data[3].x)}
    assert all(abs(shown[n] - pos[bc.feature_names.index(n)]) < 1e-3 for n in shown)


def test_bare_arrays_keep_the_square_image_guess_and_otherwise_get_bars(files):
    digits = load("digits", verbose=False)
    surv = Survivors()
    _run((digits.X_train, digits.y_train), [surv], hidden=(16,))  # 64 inputs, no names: an 8x8 picture
    assert surv.fig.data[0].visible and np.array(surv.fig.data[0].z).shape == (36, 36)
    wine = load(str(files["wine.npz"]))
    conn = Connectivity()
    _run((wine.X_train, wine.y_train), [conn])  # 13 inputs: bars, named by position
    assert conn.fig.data[4].visible and set(conn.fig.data[4].y) <= {f"x{j}" for j in range(13)}
