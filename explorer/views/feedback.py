"""GradientFeedback: do big weights get big gradients? Mean |g| per |w| decile at the step
drawn, and the |w|-|g| Spearman rank correlation over steps (the post's "positive feedback
effect").

The Board asks the trainer for gradients at the steps it records (a view that needs them
says so); the statistics are computed on a seeded subsample of at most `max_n` weights
(explorer.stats.feedback).
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..errors import ExplorerError
from ..stats import feedback
from .base import COLORS, WIDTH, FigureWidget, Frame, View, base_layout, placeholder

DECILES = [str(i) for i in range(1, 11)]


class GradientFeedback(View):
    key = "feedback"
    needs_gradients = True
    live_sample = False  # the statistics at recorded steps only (gradients are computed there)

    def __init__(self, layer: int = 0, max_n: int = 2**12, every: int | None = None, width: int | None = WIDTH,
                 height: int = 340):
        super().__init__(every)
        self.layer, self.max_n = layer, max_n
        base = make_subplots(rows=1, cols=2, column_widths=[0.45, 0.55], horizontal_spacing=0.16)
        layout = base.layout.to_plotly_json()
        layout.update(base_layout(f"gradient feedback, layer {layer}", height=height, width=width, legend=False))
        layout["xaxis"].update(title=dict(text="|w| decile (1 = smallest)"), type="category")
        layout["yaxis"].update(title=dict(text="mean |g| (per |w| decile)"), exponentformat="power", rangemode="tozero")
        layout["xaxis2"].update(title=dict(text="step"))
        layout["yaxis2"].update(title=dict(text="Spearman(|w|, |g|)"), range=[-1.05, 1.05], dtick=0.5)
        # in the middle of the left chart, on two lines (one line ran over its axis' tick labels)
        layout["annotations"] = [dict(placeholder("gradients appear<br>here during a run"), xref="x domain",
                                      yref="y domain")]
        self.fig = FigureWidget(
            data=[
                go.Bar(name="mean |g| per |w| decile", x=DECILES, y=[], xaxis="x", yaxis="y",
                       marker_color=COLORS["dense"], showlegend=False),
                go.Scatter(name="Spearman", x=[], y=[], mode="lines+markers", xaxis="x2", yaxis="y2",
                           marker=dict(size=4), line=dict(color=COLORS["accent"]), showlegend=False),
            ],
            layout=layout,
        )

    def sample(self, trainer, cache) -> dict | None:
        s = trainer.state
        lv = s.layers[self.layer]
        g = lv.grad_values
        if g is None:
            return None
        try:
            fb = feedback(lv.values, g, max_n=self.max_n, seed=s.step)
        except ExplorerError:  # too few non-zero weights, or NaN after a divergence
            return None
        if not np.isfinite(fb.spearman):
            return None
        return {"deciles": np.asarray(fb.decile_means), "spearman": float(fb.spearman),
                "ratio": float(fb.top_bottom_ratio)}

    def signature(self, frame: Frame):
        return len(frame.records), frame.board.index

    def draw(self, frame: Frame):
        if frame.trainer is not None:
            self.patch.layout.xaxis2.range = [0, frame.trainer.total_steps]
        xs, ys = frame.series(self, "spearman")
        s, step = (frame.sample(self), frame.step) if not frame.live else (None, None)
        if s is None:  # the last recorded step with gradients (at or before the step drawn)
            r = next((r for r in reversed(frame.records) if self.key in r["samples"]), None)
            if r is None:
                return
            s, step = r["samples"][self.key], r["step"]
        f = self.patch
        f.layout.annotations = []
        f.data[0].y = s["deciles"]
        f.data[1].update(x=xs, y=np.round(ys, 4))
        r = s["ratio"]  # inf while the smallest tenth of the weights gets no gradient (blank pixels)
        rich = f"top/bottom decile mean |g| x{r:.3g}" if np.isfinite(r) else "the bottom |w| decile gets no gradient"
        self.title(f, f"gradient feedback, layer {self.layer}, step {step:,}",
                   f"{rich}; Spearman(|w|, |g|) {s['spearman']:.2f}")
