"""Survivors: the surviving input weights of hidden units drawn as images (28x28, or the
three 32x32 colour channels side by side for CIFAR-10), and the mask-stability curve: how
much the cut made at step s overlaps the cut actually made at the end of the burn-in
(explorer.stats.mask_stability).

Pruned weights are zero and drawn white (a diverging colour scale centred on 0). Units are
the `n_units` with the most surviving inputs (the first ones before the prune). Weight
snapshots for the stability curve are taken at ~`snapshots` evenly spaced burn-in steps.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..errors import ExplorerError
from ..stats import mask_stability
from .base import COLORS, FigureWidget, View, base_layout


def _image_shape(n_inputs: int, image_shape=None):
    if image_shape is not None and int(np.prod(image_shape)) == n_inputs:
        return tuple(image_shape)
    side = int(round(np.sqrt(n_inputs)))
    if side * side == n_inputs:
        return (side, side)
    if n_inputs % 3 == 0:
        s3 = int(round(np.sqrt(n_inputs // 3)))
        if s3 * s3 * 3 == n_inputs:
            return (s3, s3, 3)
    return (1, n_inputs)


def tile(W: np.ndarray, units, image_shape, cols: int) -> np.ndarray:
    """Images of W[:, j] (bias row excluded) for j in units, tiled into one array, NaN gaps."""
    ims = []
    for j in units:
        v = W[:-1, j]
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
    def __init__(self, n_units: int = 16, cols: int = 4, snapshots: int = 16, image_shape=None,
                 seconds: float | None = 0.5, every: int | None = None, width: int | None = 520,
                 height: int = 320):
        super().__init__(seconds, every)
        self.n_units, self.cols, self.n_snapshots = n_units, cols, snapshots
        self.image_shape = image_shape
        self.snapshots: list[tuple[int, np.ndarray]] = []
        self.stability = None
        self.units = None
        base = make_subplots(rows=1, cols=2, column_widths=[0.55, 0.45], horizontal_spacing=0.12)
        layout = base.layout.to_plotly_json()
        layout.update(base_layout("surviving input weights of hidden units", height=height, width=width))
        layout["xaxis"].update(visible=False, scaleanchor="y", constrain="domain")
        layout["yaxis"].update(visible=False, autorange="reversed", constrain="domain")
        layout["xaxis2"].update(title=dict(text="burn-in step of the cut"))
        layout["yaxis2"].update(title=dict(text="Jaccard with the cut made"), range=[0, 1.02])
        self.fig = FigureWidget(
            data=[
                go.Heatmap(name="input weights", z=[], colorscale="RdBu", zmid=0, showscale=False,
                           xaxis="x", yaxis="y", hoverongaps=False),
                go.Scatter(name="mask stability", x=[], y=[], mode="lines+markers", xaxis="x2", yaxis="y2",
                           marker=dict(size=5), line=dict(color=COLORS["sparse"])),
                go.Scatter(name="random mask", x=[], y=[], mode="lines", xaxis="x2", yaxis="y2",
                           line=dict(color=COLORS["ref"], dash="dot")),
            ],
            layout=layout,
        )

    def clear(self):
        self.snapshots, self.stability, self.units = [], None, None
        self._last_draw = -np.inf

    def _snapshot(self, trainer):
        s = trainer.state
        if s.phase != "burn_in" or (self.snapshots and self.snapshots[-1][0] == s.step):
            return
        self.snapshots.append((s.step, np.array(s.layers[0].weights(), copy=True)))
        if len(self.snapshots) > 2 * self.n_snapshots:
            self.snapshots = [self.snapshots[0], *self.snapshots[2::2]]

    def on_train_begin(self, trainer):
        self.begin(trainer)
        self.sample_burn_in(trainer, self.n_snapshots)  # snapshots at step multiples
        self._snapshot(trainer)
        self.redraw()

    def on_step_end(self, trainer):
        self.trainer = trainer
        self._snapshot(trainer)
        self.maybe_redraw()

    def on_phase_end(self, trainer):
        if trainer.state.phase != "burn_in":
            return
        self._snapshot(trainer)  # the weights the cut is made from
        self.end_burn_in_sampling(trainer)
        rule = trainer.config.prune
        if len(self.snapshots) >= 2 and trainer.config.pruned_layer_indices()[:1] == (0,):
            try:
                self.stability = mask_stability(self.snapshots, rule,
                                                rng=np.random.default_rng([trainer.config.seed, 2]))
            except ExplorerError:
                self.stability = None
        self.snapshots = self.snapshots[-1:]  # memory: only the cut's weights are needed later

    def draw(self, trainer):
        s = trainer.state
        W = s.layers[0].weights()
        n_out = W.shape[1]
        if s.layers[0].pruned:
            alive = (W[:-1] != 0).sum(axis=0)
            units = np.argsort(-alive, kind="stable")[: self.n_units]
        else:
            units = np.arange(min(self.n_units, n_out))
        self.units = units
        shape = _image_shape(W.shape[0] - 1, self.image_shape or trainer.image_shape)
        Z = tile(W, units, shape, self.cols)
        nz = np.abs(Z[np.isfinite(Z) & (Z != 0)])
        m = float(np.percentile(nz, 99)) if nz.size else 1.0  # robust: a few big weights do not wash out
        self.fig.data[0].update(z=np.round(np.clip(Z / (m or 1.0), -1, 1), 3), zmin=-1, zmax=1)
        st = self.stability
        if st is not None:
            self.fig.data[1].update(x=st.steps, y=np.round(st.jaccard, 4))
            self.fig.data[2].update(x=st.steps, y=np.round(st.random_jaccard, 4))
        else:
            self.fig.data[1].update(x=[], y=[])
            self.fig.data[2].update(x=[], y=[])
        alive = int((W[:-1][:, units] != 0).sum()) if len(units) else 0
        total = (W.shape[0] - 1) * len(units)
        self.fig.layout.title.text = (f"input weights of {len(units)} hidden units at step {s.step:,}: "
                                      f"{alive:,} of {total:,} alive")
