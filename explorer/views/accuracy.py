"""AccuracyLoss: train loss and test accuracy against steps, the burn-in/prune step marked,
optionally overlaid with a dense reference run of the same config (`reference_callback()`).

Loss points are interval means of the batch losses between redraws (from
`state.loss_total`), accuracy points are the trainer's evaluations (on_eval_end: set
`RunConfig.eval_every` for a curve), each kept bounded by halving when `max_points` is hit.
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

from ..callbacks import Callback
from .base import COLORS, FigureWidget, View, base_layout


class _Series:
    def __init__(self, max_points):
        self.x, self.y, self.max_points = [], [], max_points

    def add(self, x, y):
        self.x.append(x)
        self.y.append(y)
        if len(self.x) > self.max_points:
            self.x, self.y = [self.x[0], *self.x[2::2]], [self.y[0], *self.y[2::2]]


class _Feed(Callback):
    """Feeds one run's loss and accuracy into an AccuracyLoss view (main or reference)."""

    def __init__(self, view, which):
        self.view, self.which = view, which
        self.seconds = 0.1  # a reference trainer's loss is sampled at most 10 times a second
        self._last = (0, 0.0)

    def on_train_begin(self, trainer):
        if trainer.state.step == 0:
            self.view._clear(self.which)
        self._last = (trainer.state.step, trainer.state.loss_total)

    def on_step_end(self, trainer):
        s = trainer.state
        step0, loss0 = self._last
        if s.step > step0:
            loss = (s.loss_total - loss0) / (s.step - step0)
            if math.isfinite(loss):
                self.view._series[self.which + "_loss"].add(s.step, loss)
        self._last = (s.step, s.loss_total)

    def on_eval_end(self, trainer):
        m = trainer.state.metrics
        self.view._series[self.which + "_acc"].add(m["step"], m["test_accuracy"])
        if self.which == "ref":
            self.view.redraw()


class AccuracyLoss(View):
    def __init__(self, max_points: int = 2000, seconds: float | None = 0.1, every: int | None = None,
                 width: int | None = 520, height: int = 300):
        super().__init__(seconds, every)
        self.max_points = max_points
        self._series = {}
        self._clear("main")
        self._clear("ref")
        self._main = _Feed(self, "main")
        self.burn_in = None
        self.fig = FigureWidget(
            data=[
                go.Scatter(name="train loss", x=[], y=[], mode="lines", line=dict(color=COLORS["dense"], width=1)),
                go.Scatter(name="test accuracy", x=[], y=[], mode="lines+markers", yaxis="y2",
                           marker=dict(size=5), line=dict(color=COLORS["sparse"], width=2)),
                go.Scatter(name="dense: loss", x=[], y=[], mode="lines", visible=True,
                           line=dict(color=COLORS["ref"], width=1, dash="dot")),
                go.Scatter(name="dense: accuracy", x=[], y=[], mode="lines+markers", yaxis="y2",
                           marker=dict(size=4), line=dict(color=COLORS["ref"], width=2, dash="dash")),
                go.Scatter(name="prune", x=[], y=[], mode="lines", yaxis="y2",
                           line=dict(color=COLORS["cut"], width=1.5, dash="dashdot")),
            ],
            layout=base_layout("loss and test accuracy", height=height, width=width,
                               margin=dict(l=55, r=55, t=40, b=40),
                               xaxis=dict(title="step"),
                               yaxis=dict(title="train loss (interval mean)", type="log",
                                          exponentformat="power"),
                               yaxis2=dict(title="test accuracy", overlaying="y", side="right", range=[0, 1],
                                           tickmode="linear", tick0=0, dtick=0.2, showgrid=False)),
        )

    def _clear(self, which):
        self._series[which + "_loss"] = _Series(self.max_points)
        self._series[which + "_acc"] = _Series(self.max_points)

    def clear(self):
        self._clear("main")
        self._clear("ref")
        self.burn_in = None

    def reference_callback(self) -> Callback:
        """A callback for a second (dense) trainer: its curves are drawn dashed in grey."""
        return _Feed(self, "ref")

    @property
    def accuracy(self) -> tuple[list, list]:
        s = self._series["main_acc"]
        return s.x, s.y

    # hooks: the main feed records, the view redraws (throttled)
    def on_train_begin(self, trainer):
        self._main.on_train_begin(trainer)
        self.trainer = trainer
        self.burn_in = trainer.config.burn_in if trainer.config.pruned_layer_indices() else None
        self.redraw()

    def on_step_end(self, trainer):
        self._main.on_step_end(trainer)
        super().on_step_end(trainer)

    def on_eval_end(self, trainer):  # recorded now, drawn by the next throttled redraw
        self._main.on_eval_end(trainer)

    def draw(self, trainer):
        f, S = self.fig, self._series
        f.data[0].update(x=S["main_loss"].x, y=np.round(S["main_loss"].y, 6))
        f.data[1].update(x=S["main_acc"].x, y=S["main_acc"].y)
        f.data[2].update(x=S["ref_loss"].x, y=np.round(S["ref_loss"].y, 6))
        f.data[3].update(x=S["ref_acc"].x, y=S["ref_acc"].y)
        b = self.burn_in
        f.data[4].update(x=[b, b] if b is not None else [], y=[0, 1] if b is not None else [])
        acc = S["main_acc"].y
        ref = S["ref_acc"].y
        txt = "loss and test accuracy"
        if acc:
            txt += f": accuracy {acc[-1]:.3f} at step {S['main_acc'].x[-1]:,}"
        if ref:
            txt += f" (dense {ref[-1]:.3f} at {S['ref_acc'].x[-1]:,})"
        f.layout.title.text = txt
