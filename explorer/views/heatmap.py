"""HistogramOverTime: a step x log10|w| heatmap of one layer (TensorBoard's histogram
dashboard, but log bins and no early history dropped), with a step slider to scrub back
and a Play button to replay.

Histograms are recorded at step multiples: ~16 during the burn-in (where the heavy tail
forms) and ~128 over the training; when more than `max_columns` pile up, every other one is
dropped and the interval doubles, the first column always kept. Redraws are time-throttled
apart from the recording. The x axis is logarithmic so the short burn-in is visible.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..stats import LOG_EDGES, log_histogram
from .base import COLORS, FigureWidget, View, base_layout


class HistogramOverTime(View):
    def __init__(self, layer: int = 0, max_columns: int = 256, burn_in_columns: int = 16,
                 train_columns: int = 128, seconds: float | None = 0.1, width: int | None = 520,
                 height: int = 380):
        super().__init__(seconds=None, every=1, draw_seconds=seconds)  # columns on a step schedule
        self.layer, self.max_columns = layer, max_columns
        self.burn_in_columns, self.train_columns = burn_in_columns, train_columns
        self.steps: list[int] = []
        self.columns: list[np.ndarray] = []  # counts per LOG_EDGES bin
        self.zeros: list[int] = []
        self._last_step = -1
        base = make_subplots(rows=2, cols=1, row_heights=[0.68, 0.32], vertical_spacing=0.16)
        layout = base.layout.to_plotly_json()
        layout.update(base_layout(f"log10 |w| of layer {layer} over steps", height=height, width=width))
        layout["xaxis"].update(type="log", title=dict(text="step (log)"))
        layout["yaxis"].update(title=dict(text="log10 |w|"))
        layout["xaxis2"].update(title=dict(text="log10 |w| at the chosen step"))
        layout["yaxis2"].update(type="log", title=dict(text="count"))
        self.fig = FigureWidget(
            data=[
                go.Heatmap(name="log10(1+count)", x=[], y=[], z=[], colorscale="Viridis", showscale=False,
                           xaxis="x", yaxis="y", hovertemplate="step %{x}<br>log10|w| %{y:.1f}<br>"
                                                               "log10(1+n) %{z:.2f}<extra></extra>"),
                go.Scatter(name="chosen step", x=[], y=[], mode="lines", xaxis="x", yaxis="y",
                           line=dict(color="white", width=1.5, dash="dot"), showlegend=False),
                go.Scatter(name="histogram at step", x=[], y=[], mode="lines", xaxis="x2", yaxis="y2",
                           line=dict(shape="hvh", color=COLORS["dense"]), fill="tozeroy", showlegend=False),
            ],
            layout=layout,
        )
        import ipywidgets as W

        self.slider = W.IntSlider(value=0, min=0, max=0, description="column", continuous_update=True,
                                  readout=False, layout=W.Layout(width="300px"))
        self.play = W.Play(value=0, min=0, max=0, interval=80, description="replay")
        W.jslink((self.play, "value"), (self.slider, "value"))
        self.step_label = W.Label("")
        self.slider.observe(lambda ch: self._scrub(ch["new"]), names="value")
        self._widget = W.VBox([self.fig, W.HBox([self.play, self.slider, self.step_label])])
        self._follow = True  # the slider follows the newest column until the user moves it

    @property
    def widget(self):
        return self._widget

    def clear(self):
        self.steps, self.columns, self.zeros = [], [], []
        self._last_draw, self._last_step = -np.inf, -1  # the base's draw clock restarts too
        self._follow = True

    # -- recording ------------------------------------------------------------------------------
    def _schedule(self, trainer):
        cfg = trainer.config
        if trainer.state.phase == "burn_in":
            self.every = max(1, cfg.burn_in // self.burn_in_columns)
        else:
            self.every = max(1, cfg.steps // self.train_columns)

    def _record(self, trainer):
        s = trainer.state
        if s.step == self._last_step:
            return
        lv = s.layers[self.layer]
        h = log_histogram(lv.values, zeros=lv.n_total - lv.n_alive)
        self.steps.append(s.step)
        self.columns.append(h.counts)
        self.zeros.append(h.zeros)
        self._last_step = s.step
        if len(self.columns) > self.max_columns:  # decimate, keeping the first column
            n = len(self.columns)
            keep = sorted({0, *range(1, n, 2), n - 1})
            self.steps = [self.steps[i] for i in keep]
            self.columns = [self.columns[i] for i in keep]
            self.zeros = [self.zeros[i] for i in keep]
            self.train_columns = max(1, self.train_columns // 2)
            self.every *= 2

    def on_train_begin(self, trainer):
        self.begin(trainer)
        self._schedule(trainer)
        self._record(trainer)
        self.maybe_redraw()

    def on_step_end(self, trainer):
        self.trainer = trainer
        self._record(trainer)
        self.maybe_redraw()

    def on_phase_end(self, trainer):
        self._record(trainer)

    def on_prune(self, trainer):
        self._schedule(trainer)
        self._record(trainer)
        self.maybe_redraw()

    def on_train_end(self, trainer):
        self._record(trainer)
        self.redraw()
        self.sync_state()

    # -- drawing -------------------------------------------------------------------------------
    def matrix(self):
        """(steps, log10 bin centres, counts (bins, columns)) of the recorded columns, trimmed."""
        if not self.columns:
            return np.zeros(0), np.zeros(0), np.zeros((0, 0), dtype=np.int64)
        C = np.stack(self.columns, axis=1)  # (bins, columns)
        rows = np.flatnonzero(C.sum(axis=1))
        sl = slice(int(rows[0]), int(rows[-1]) + 1) if rows.size else slice(0, 0)
        centers = np.log10(np.sqrt(LOG_EDGES[:-1] * LOG_EDGES[1:]))
        return np.array(self.steps), centers[sl], C[sl]

    def draw(self, trainer):
        steps, ys, C = self.matrix()
        n = len(steps)
        self.fig.data[0].update(x=np.maximum(steps, 1), y=ys, z=np.round(np.log10(1 + C), 3))
        self.slider.max = self.play.max = max(n - 1, 0)
        if self._follow:
            self._set_slider(n - 1)
        self._draw_column(self.slider.value)

    def _set_slider(self, i):
        self._internal = True
        try:
            self.slider.value = max(i, 0)
        finally:
            self._internal = False

    def _scrub(self, i):
        if getattr(self, "_internal", False):
            return
        self._follow = i >= len(self.steps) - 1
        with self.fig.batch_update():
            self._draw_column(i)

    def _draw_column(self, i):
        steps, ys, C = self.matrix()
        if not len(steps):
            return
        i = min(max(i, 0), len(steps) - 1)
        step = int(steps[i])
        self.fig.data[1].update(x=[max(step, 1)] * 2, y=[ys[0], ys[-1]] if len(ys) else [])
        self.fig.data[2].update(x=ys, y=C[:, i])
        self.step_label.value = f"step {step:,}: {self.zeros[i]:,} pruned (zero) weights not drawn"
