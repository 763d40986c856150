"""Survivors: the surviving input weights of hidden units drawn as images (28x28, or the
three 32x32 colour channels side by side for CIFAR-10), and the mask-stability curve: how
much the cut made at step s overlaps the cut actually made at the end of the burn-in
(explorer.stats.mask_stability), beside a random mask of the same size.

Inputs that are not images (a CSV's features; features.py says when) are drawn as bars
instead: per feature, the sum of its surviving weights into every hidden unit, w > 0 and
w < 0 apart, the features ranked by their surviving |w| -- which features keep weights.

Pruned weights are zero and drawn white (a diverging colour scale centred on 0, with a
colour bar in units of the step's 99th percentile |w|). Units are the `n_units` with the most
surviving inputs (the first ones before the cut). Snapshots of the layer for the stability
curve are taken at up to `snapshots` recorded burn-in steps.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from ..errors import ExplorerError
from ..sparsity.prune import cut_rng
from ..stats import mask_stability
from ..training.series import Series
from .base import COLORS, WIDTH, FigureWidget, Frame, View, image_and_curve_layout
from .features import MAX_BARS, add_bar_axes, input_shape, names_of, short, show_bars, top

MAX_SNAPSHOT = 2_000_000  # weights: larger input layers get no stability curve (memory)
BLUE, RED = "#2166ac", "#b2182b"  # RdBu's ends: the images' colours for w > 0 and w < 0


def tile(W: np.ndarray, image_shape, cols: int) -> np.ndarray:
    """Images of the columns of W (n_inputs, units), tiled into one array with NaN gaps."""
    ims = []
    for j in range(W.shape[1]):
        v = W[:, j]
        if len(image_shape) == 3:  # explorer.data flattens CIFAR as (32, 32, 3) HWC -> R | G | B
            h, w, c = image_shape
            planes = v.reshape(h, w, c).transpose(2, 0, 1)
            im = np.concatenate([np.pad(p, ((0, 0), (0, 1)), constant_values=np.nan) for p in planes], axis=1)
        else:
            im = v.reshape(image_shape)
        ims.append(im)
    if not ims:
        return np.zeros((0, 0))
    h, w = ims[0].shape
    rows = -(-len(ims) // cols)
    out = np.full((rows * (h + 1), cols * (w + 1)), np.nan)
    for k, im in enumerate(ims):
        r, c = divmod(k, cols)
        out[r * (h + 1) : r * (h + 1) + h, c * (w + 1) : c * (w + 1) + w] = im
    return out


class Survivors(View):
    key = "survivors"
    live_sample = False  # images at recorded steps; between records the last ones stand

    def __init__(self, n_units: int = 16, cols: int = 4, snapshots: int = 8, image_shape=None,
                 every: int | None = None, width: int | None = WIDTH, height: int = 340):
        super().__init__(every)
        self.n_units, self.cols = n_units, cols
        self.image_shape = image_shape
        self._snaps = Series(snapshots, columns=2)  # (step, weights of the input layer) in the burn-in
        self.stability = None
        self.units = None
        layout = add_bar_axes(image_and_curve_layout("surviving input weights of hidden units", 0.5, 0.24,
                                                     "burn-in step the cut is made at", "Jaccard with the cut made",
                                                     "input weights of the strongest hidden units appear here",
                                                     height, width))
        layout["barmode"] = "relative"  # w > 0 to the right of 0, w < 0 to the left
        self.fig = FigureWidget(
            data=[
                go.Heatmap(name="input weights", z=[], colorscale="RdBu", zmid=0, zmin=-1, zmax=1, showscale=True,
                           colorbar=dict(title=dict(text="w/p99", side="top"), x=0.41, len=0.8, thickness=10),
                           xaxis="x", yaxis="y", hoverongaps=False, showlegend=False),
                go.Scatter(name="this run's cut", x=[], y=[], mode="lines+markers", xaxis="x2", yaxis="y2",
                           marker=dict(size=5), line=dict(color=COLORS["sparse"])),
                go.Scatter(name="a random mask", x=[], y=[], mode="lines", xaxis="x2", yaxis="y2",
                           line=dict(color=COLORS["ref"], dash="dot")),
                *(go.Bar(name=name, x=[], y=[], orientation="h", xaxis="x3", yaxis="y3", visible=False,
                         marker=dict(color=color), customdata=[],
                         hovertemplate="%{customdata}: %{x:.3g}<extra>" + name + "</extra>")
                  for name, color in (("sum of w > 0", BLUE), ("sum of w < 0", RED))),
            ],
            layout=layout,
        )

    def clear(self):
        self._snaps.clear()
        self.stability, self.units, self._last, self._n = None, None, None, 0

    def sample(self, trainer, cache) -> dict:
        s = trainer.state
        self._n = getattr(self, "_n", 0) + 1
        if self._n % 2 == 0 and s.phase == "train" and s.step < trainer.total_steps and self._last is not None:
            return self._last  # images change slowly: every other record, and always at the cut and the end
        self._last = self._sample(trainer)
        return self._last

    def _sample(self, trainer) -> dict:
        s = trainer.state
        lv = s.layers[0]
        if not lv.sparse:  # the burn-in's weights, for the stability curve
            fresh = not len(self._snaps) or self._snaps[0][-1] != s.step
            if s.phase == "burn_in" and lv.n_total <= MAX_SNAPSHOT and fresh:
                self._snaps.append(s.step, np.array(lv.weights(), copy=True))
                if s.step == trainer.config.burn_in:  # the weights the cut is made from
                    self._stability(trainer)
        if input_shape(trainer, lv.shape[0] - 1, self.image_shape) is None:
            return self._features(trainer, lv)
        if lv.sparse:  # from the survivors' positions: O(surviving weights + units), any width
            cols = self._sparse_columns(lv)
        else:  # the dense weights themselves (a view)
            W = lv.weights()
            self.units = np.arange(min(self.n_units, W.shape[1]))
            cols = W[:-1][:, self.units]
        return {"cols": cols.astype(np.float32), "alive": int((cols != 0).sum()), "stability": self.stability,
                "step": s.step}

    def _features(self, trainer, lv) -> dict:
        """Per input feature: the sums of its surviving w > 0 and w < 0 over every hidden unit and
        how many it keeps (from the survivors' positions when sparse)."""
        n_in, n_out = lv.shape
        if lv.sparse:
            rows, vals = lv.positions() // n_out, lv.values
            px = (rows < n_in - 1) & (vals != 0)
            r, v = rows[px], vals[px]
            pos = np.bincount(r, weights=np.maximum(v, 0), minlength=n_in - 1)
            neg = np.bincount(r, weights=np.minimum(v, 0), minlength=n_in - 1)
            kept = np.bincount(r, minlength=n_in - 1)
        else:
            W = lv.weights()[:-1]
            pos, neg = np.where(W > 0, W, 0).sum(axis=1), np.where(W < 0, W, 0).sum(axis=1)
            kept = np.count_nonzero(W, axis=1)
        self.units = None
        return {"features": True, "pos": pos.astype(np.float32), "neg": neg.astype(np.float32),
                "kept": kept.astype(np.int32), "names": names_of(trainer, n_in - 1), "stability": self.stability,
                "step": trainer.state.step}

    def _sparse_columns(self, lv) -> np.ndarray:
        """The input weights (bias row left out) of the units drawn: the n_units with the most
        nonzero inputs (ties: the lower index) when the layer is pruned, else the first ones."""
        n_in, n_out = lv.shape
        rows, c = np.divmod(lv.positions(), n_out)
        vals = lv.values
        px = (rows < n_in - 1) & (vals != 0)
        k = min(self.n_units, n_out)
        if lv.pruned and k:
            alive = np.bincount(c[px], minlength=n_out)
            v = np.partition(alive, n_out - k)[n_out - k]  # the k-th largest count
            above = np.flatnonzero(alive > v)
            units = np.concatenate([above, np.flatnonzero(alive == v)[: k - len(above)]])
            units = units[np.lexsort((units, -alive[units]))]
        else:
            units = np.arange(k)
        self.units = units
        order = np.argsort(units)
        hit = px & np.isin(c, units)
        cols = np.zeros((n_in - 1, len(units)))
        cols[rows[hit], order[np.searchsorted(units[order], c[hit])]] = vals[hit]
        return cols

    def _stability(self, trainer) -> None:
        cfg = trainer.config
        if len(self._snaps) < 2 or 0 not in trainer.cut_layers() or not cfg.pruned_layer_indices():
            return
        try:
            self.stability = mask_stability(list(zip(*self._snaps.columns)), cfg.prune, rng=cut_rng(cfg.seed))
        except ExplorerError:
            self.stability = None

    def signature(self, frame: Frame):
        return id(frame.sample(self)), frame.board.index

    def draw(self, frame: Frame):
        s = frame.sample(self)
        if s is None:
            return
        f = self.patch
        f.layout.annotations = []
        t = frame.trainer
        bars = "features" in s
        show_bars(f, bars, image_traces=(0,), bar_traces=(3, 4))
        self._curve(f, s, t)
        if bars:
            self._bars(f, s)
        else:
            self._images(f, s, t)

    def _images(self, f, s, t) -> None:
        cols = s["cols"]
        shape = input_shape(t, cols.shape[0], self.image_shape) or (1, cols.shape[0])
        Z = tile(cols, shape, self.cols)
        nz = np.abs(Z[np.isfinite(Z) & (Z != 0)])
        m = float(np.percentile(nz, 99)) if nz.size else 1.0  # robust: a few big weights do not wash out
        f.data[0].update(z=np.round(np.clip(Z / (m or 1.0), -1, 1), 3))
        n, st = cols.shape[1], s["stability"]
        if st is not None:
            sub = "right: how much a cut made earlier would keep of the cut made"
        elif t is not None and not t.config.burn_in:
            sub = "right: none here: with no burn-in there is no earlier cut to compare with"
        else:
            sub = "right: after the burn-in, how much an earlier cut would have kept of the cut made"
        self.title(f, f"input weights of {n} hidden units at step {s['step']:,}: {s['alive']:,} of "
                      f"{cols.size:,} alive", sub)

    def _bars(self, f, s) -> None:
        pos, neg, kept, names = s["pos"], s["neg"], s["kept"], s["names"]
        idx = top(pos - neg)  # ranked by surviving |w|
        labels = short(names, idx)
        full = [str(names[j]) for j in idx]
        f.data[3].update(x=np.round(pos[idx], 4), y=labels, customdata=full)
        f.data[4].update(x=np.round(neg[idx], 4), y=labels, customdata=full)
        n, keep = len(names), int(np.count_nonzero(kept))
        shown = f"the top {len(idx)} of {n:,} features" if n > MAX_BARS else f"all {n} features"
        self.title(f, f"surviving input weights per feature at step {s['step']:,}: {keep:,} of {n:,} features "
                      f"keep weights", f"bars: the sums of w > 0 and w < 0 into every hidden unit, {shown}, ranked "
                                       f"by |w|")

    def _curve(self, f, s, t) -> None:
        """The right-hand curve: how much an earlier cut would have kept of the cut made."""
        st = s["stability"]
        if t is not None and t.config.burn_in:
            f.layout.xaxis2.range = [0, t.config.burn_in * 1.04]
        if st is not None:
            f.data[1].update(x=st.steps, y=np.round(st.jaccard, 4))
            f.data[2].update(x=st.steps, y=np.round(st.random_jaccard, 4))
        else:
            f.data[1].update(x=[], y=[])
            f.data[2].update(x=[], y=[])
