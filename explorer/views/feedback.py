"""GradientFeedback: do big weights get big gradients? Mean |g| per |w| decile now, and the
|w|-|g| Spearman rank correlation over steps (the post's "positive feedback effect").

Asks the trainer for gradients only at the steps it is due (time-throttled), and computes
the statistics on a seeded subsample of at most `max_n` weights (explorer.stats.feedback).
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..errors import ExplorerError
from ..stats import feedback
from .base import COLORS, FigureWidget, View, base_layout


class GradientFeedback(View):
    needs_gradients = True

    def __init__(self, layer: int = 0, max_n: int = 2**14, max_points: int = 1000, seconds: float | None = 0.1,
                 every: int | None = None, width: int | None = 520, height: int = 300):
        super().__init__(seconds, every)
        self.layer, self.max_n, self.max_points = layer, max_n, max_points
        self.steps: list[int] = []
        self.spearman: list[float] = []
        self.phases: list[str] = []
        self.last = None  # the last Feedback
        base = make_subplots(rows=1, cols=2, column_widths=[0.45, 0.55], horizontal_spacing=0.14)
        layout = base.layout.to_plotly_json()
        layout.update(base_layout(f"gradient feedback, layer {layer}", height=height, width=width))
        layout["xaxis"].update(title=dict(text="|w| decile (small → large)"), dtick=1)
        layout["yaxis"].update(type="log", title=dict(text="mean |g|"), exponentformat="power")
        layout["xaxis2"].update(title=dict(text="step"))
        layout["yaxis2"].update(title=dict(text="Spearman(|w|, |g|)"), range=[-0.2, 1.0])
        self.fig = FigureWidget(
            data=[
                go.Bar(name="mean |g| per |w| decile", x=list(range(1, 11)), y=[], xaxis="x", yaxis="y",
                       marker_color=COLORS["dense"], showlegend=False),
                go.Scatter(name="Spearman", x=[], y=[], mode="lines+markers", xaxis="x2", yaxis="y2",
                           marker=dict(size=4), line=dict(color=COLORS["accent"]), showlegend=False),
            ],
            layout=layout,
        )

    def clear(self):
        self.steps, self.spearman, self.phases, self.last = [], [], [], None

    def _measure(self, trainer) -> bool:
        s = trainer.state
        lv = s.layers[self.layer]
        g = lv.grad_values
        if g is None or (self.steps and self.steps[-1] == s.step):
            return False
        try:
            fb = feedback(lv.values, g, max_n=self.max_n, seed=s.step)
        except ExplorerError:  # too few non-zero weights, or NaN after a divergence
            return False
        if not np.isfinite(fb.spearman):
            return False
        self.last = fb
        self.steps.append(s.step)
        self.spearman.append(fb.spearman)
        self.phases.append(s.phase)
        if len(self.steps) > self.max_points:
            self.steps, self.spearman, self.phases = self.steps[::2], self.spearman[::2], self.phases[::2]
        return True

    def on_step_end(self, trainer):
        self.trainer = trainer
        if self._measure(trainer):
            self.redraw()

    def on_train_begin(self, trainer):
        self.begin(trainer)

    def draw(self, trainer):
        if self.last is None:
            self.fig.data[0].y = []
            self.fig.data[1].update(x=[], y=[])
            return
        fb = self.last
        self.fig.data[0].y = fb.decile_means
        self.fig.data[1].update(x=self.steps, y=np.round(self.spearman, 4))
        self.fig.layout.title.text = (f"gradient feedback, layer {self.layer}, step {self.steps[-1]:,}: "
                                      f"top/bottom decile |g| x{fb.top_bottom_ratio:.3g}, "
                                      f"Spearman {fb.spearman:.2f}")
