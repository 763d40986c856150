"""HistogramOverTime: a step x log10|w| heatmap of one layer (TensorBoard's histogram
dashboard, with log bins and the early history kept), and below it the histogram at the
step being drawn.

Its columns are the Board's history records: log-spaced over the first 1,000 steps (where
the heavy tail forms), the cut, then evenly to the end, so the x axis (one column per record,
labelled with steps) gives the first 1,000 steps as much room as the rest. A replayed step
(the dashboard's step slider) is marked by a line and drawn below.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..stats import LOG_EDGES
from .base import COLORS, WIDTH, FigureWidget, Frame, View, base_layout, bin_centers, layer_histogram, placeholder

_CENTERS = np.log10(np.sqrt(LOG_EDGES[:-1] * LOG_EDGES[1:]))


class HistogramOverTime(View):
    key = "heatmap"
    live_sample = False  # a column per record; between records the last one stands

    def __init__(self, layer: int = 0, every: int | None = None, width: int | None = WIDTH, height: int = 420):
        super().__init__(every)
        self.layer = layer
        base = make_subplots(rows=2, cols=1, row_heights=[0.64, 0.36], vertical_spacing=0.2)
        layout = base.layout.to_plotly_json()
        layout.update(base_layout(f"log10 |w| of layer {layer} over steps", height=height, width=width,
                                  legend=False, margin=dict(l=60, r=20, t=58, b=46)))
        layout["xaxis"].update(title=dict(text="step (one column per record: log-spaced to 1,000, then even)"),
                               type="category")
        layout["yaxis"].update(title=dict(text="log10 |w|"))
        layout["xaxis2"].update(title=dict(text="log10 |w| at the step drawn"))
        layout["yaxis2"].update(type="log", title=dict(text="weights"), exponentformat="power", dtick=1)
        layout["annotations"] = [placeholder("one column per recorded step appears here during a run")]
        self.fig = FigureWidget(
            data=[
                go.Heatmap(name="log10(1+count)", x=[], y=[], z=[], colorscale="Viridis", showscale=True,
                           colorbar=dict(title=dict(text="log10(1+n)", side="right"), len=0.62, y=1.0,
                                         yanchor="top", thickness=12),
                           xaxis="x", yaxis="y", hovertemplate="step %{x}<br>log10|w| %{y:.1f}<br>"
                                                               "log10(1+n) %{z:.2f}<extra></extra>"),
                go.Scatter(name="step drawn", x=[], y=[], mode="lines", xaxis="x", yaxis="y",
                           line=dict(color="white", width=1.5, dash="dot"), showlegend=False),
                go.Scatter(name="histogram at the step", x=[], y=[], mode="lines", xaxis="x2", yaxis="y2",
                           line=dict(shape="hvh", color=COLORS["dense"]), fill="tozeroy", showlegend=False),
                go.Scatter(name="rewirings", x=[], y=[], mode="markers", xaxis="x", yaxis="y", showlegend=False,
                           marker=dict(symbol="triangle-down", size=8, color=COLORS["regrown"]),
                           hovertemplate="a rewiring before step %{x}<extra></extra>"),
            ],
            layout=layout,
        )

    def sample(self, trainer, cache) -> dict:
        return {"abs": layer_histogram(trainer, cache, self.layer)}

    def columns(self, frame: Frame):
        """(steps, log10 bin centres, counts (bins, columns)) of the history up to the frame, trimmed."""
        recs = [r for r in frame.records if self.key in r["samples"]]
        if not recs:
            return np.zeros(0, np.int64), np.zeros(0), np.zeros((0, 0), np.int64)
        hs = [r["samples"][self.key]["abs"] for r in recs]
        lo = min((h["lo"] for h in hs if len(h["counts"])), default=0)
        hi = max((h["lo"] + len(h["counts"]) for h in hs), default=0)
        C = np.zeros((max(hi - lo, 0), len(hs)), np.int64)
        for j, h in enumerate(hs):
            C[h["lo"] - lo : h["lo"] - lo + len(h["counts"]), j] = h["counts"]
        return np.array([r["step"] for r in recs]), _CENTERS[lo:hi], C

    def signature(self, frame: Frame):
        return len(frame.records), frame.board.index, len(frame.events)

    def draw(self, frame: Frame):
        steps, ys, C = self.columns(frame)
        f = self.patch
        n = len(steps)
        if n == 0:
            return
        f.layout.annotations = []
        labels = []  # one category per column: the step (a second column at the same step, the cut's, marked)
        for s in steps:
            label = f"{s:,}"
            labels.append(label + " (cut)" if labels and labels[-1] == label else label)
        f.data[0].update(x=labels, y=np.round(ys, 2), z=np.round(np.log10(1 + C), 3))
        ticks = np.unique(np.linspace(0, n - 1, min(n, 6)).round().astype(int))
        f.layout.xaxis.update(tickvals=[labels[i] for i in ticks], ticktext=[labels[i] for i in ticks])
        s = frame.sample(self)
        i = n - 1 if frame.live else int(np.searchsorted(steps, frame.step, side="right")) - 1
        f.data[1].update(x=[labels[i], labels[i]], y=[ys[0], ys[-1]] if len(ys) else [])
        rew = [e["step"] for e in frame.events if e["event"] == "rewire"]
        cols = sorted({int(np.searchsorted(steps, r)) for r in rew if r <= steps[-1]})  # the first column after each
        f.data[3].update(x=[labels[c] for c in cols if c < n], y=[ys[-1]] * len([c for c in cols if c < n]))
        h = s["abs"] if s is not None else None
        if h is not None and len(h["counts"]):
            f.data[2].update(x=np.round(np.log10(bin_centers(h)), 3), y=h["counts"])
        zeros = h["zeros"] if h is not None else 0
        self.title(f, f"log10 |w| of layer {self.layer}: {n} recorded steps to step {frame.step:,}",
                   f"below: step {frame.step:,}" + (f"; {zeros:,} pruned (zero) weights not drawn" if zeros else ""))
