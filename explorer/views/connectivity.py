"""Connectivity: where the input layer's budget goes. Per input pixel, how many weights it still
holds (an image: 28x28 for MNIST-shaped data, the colour channels summed for CIFAR-10), and over
the run the share of pixels that hold any weight and of hidden units that get any input --
the post's magnitude cut puts its budget on a few bright pixels, a random cut spreads it, and
SET/RigL move it (rewirings are marked). Counted from the surviving weights' positions, so it
costs O(surviving weights) and works at any width.

Inputs that are not images (a CSV's features; features.py says when) get bars instead of the
image: per feature, how many weights it still holds (how many hidden units it feeds), ranked.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from .base import COLORS, WIDTH, FigureWidget, Frame, View, image_and_curve_layout
from .features import MAX_BARS, add_bar_axes, input_shape, names_of, short, show_bars, top


class Connectivity(View):
    key = "connectivity"
    live_sample = False  # counted at recorded steps

    def __init__(self, every: int | None = None, width: int | None = WIDTH, height: int = 340):
        super().__init__(every)
        layout = add_bar_axes(image_and_curve_layout("input connectivity", 0.42, 0.22, "step", "",
                                                     "weights per input pixel appear here", height, width))
        layout["yaxis2"].update(tickformat=".0%")  # shares: the % ticks say it
        self.fig = FigureWidget(
            data=[
                go.Heatmap(name="weights per pixel", z=[], colorscale="Viridis", showscale=True, zmin=0,
                           colorbar=dict(title=dict(text="weights", side="top"), x=0.37, len=0.8, thickness=10),
                           xaxis="x", yaxis="y", showlegend=False,
                           hovertemplate="row %{y}, column %{x}: %{z} weights<extra></extra>"),
                go.Scatter(name="pixels with a weight", x=[], y=[], mode="lines", xaxis="x2", yaxis="y2",
                           line=dict(color=COLORS["dense"])),
                go.Scatter(name="hidden units with an input", x=[], y=[], mode="lines", xaxis="x2", yaxis="y2",
                           line=dict(color=COLORS["sparse"])),
                go.Scatter(name="rewirings", x=[], y=[], mode="markers", xaxis="x2", yaxis="y2",
                           marker=dict(symbol="triangle-down", size=7, color=COLORS["regrown"])),
                go.Bar(name="weights per feature", x=[], y=[], orientation="h", xaxis="x3", yaxis="y3", visible=False,
                       marker=dict(color=COLORS["dense"]), showlegend=False, customdata=[],
                       hovertemplate="%{customdata}: %{x} weights<extra></extra>"),
            ],
            layout=layout,
        )

    def sample(self, trainer, cache) -> dict:
        lv = trainer.state.layers[0]
        n_in, n_out = lv.shape
        if lv.n_alive == lv.n_total:  # dense: every pixel feeds every unit (no need to count)
            per_input, per_unit = np.full(n_in, n_out), np.full(n_out, n_in)
        else:
            pos = lv.positions()
            per_input = np.bincount(pos // n_out, minlength=n_in)
            per_unit = np.bincount(pos % n_out, minlength=n_out)
        pixels = per_input[:-1]  # the bias row is not a pixel
        out = {"pixels": pixels.astype(np.int32), "covered": float(np.mean(pixels > 0)),
               "units": float(np.mean(per_unit > 0)), "step": trainer.state.step}
        shape = input_shape(trainer, n_in - 1)
        return {**out, "shape": shape} if shape is not None else {**out, "names": names_of(trainer, n_in - 1)}

    def signature(self, frame: Frame):
        return id(frame.sample(self)), len(frame.records), len(frame.events)

    def draw(self, frame: Frame):
        s = frame.sample(self)
        if s is None:
            return
        f = self.patch
        f.layout.annotations = []
        t = frame.trainer
        bars = "names" in s
        show_bars(f, bars, image_traces=(0,), bar_traces=(4,))
        what = "features" if bars else "pixels"
        f.data[1].name = f"{what} with a weight"
        if bars:
            idx = top(s["pixels"])
            f.data[4].update(x=s["pixels"][idx], y=short(s["names"], idx), customdata=[s["names"][j] for j in idx])
            n_pix = len(s["pixels"])
            held = int((s["pixels"] > 0).sum())
        else:
            img = s["pixels"].reshape(s["shape"])
            if img.ndim == 3:  # colour channels (CIFAR-10): weights per pixel, all channels
                img = img.sum(axis=2)
            f.data[0].update(z=img, zmax=max(int(img.max()), 1))
            n_pix, held = img.size, int((img > 0).sum())
        xs, cov = frame.series(self, "covered")
        _, units = frame.series(self, "units")
        f.data[1].update(x=xs, y=np.round(cov, 4))
        f.data[2].update(x=xs, y=np.round(units, 4))
        rew = [e["step"] for e in frame.events if e["event"] == "rewire"]
        f.data[3].update(x=rew, y=[1.0] * len(rew))
        if t is not None:
            f.layout.xaxis2.range = [0, t.total_steps * 1.02]
        ranked = "" if not bars else (f"bars: weights per feature, the top {MAX_BARS} of {n_pix:,}; "
                                      if n_pix > MAX_BARS else "bars: weights per feature, ranked; ")
        self.title(f, f"input connectivity at step {s['step']:,}: {held:,} of {n_pix:,} {what} hold a weight",
                   ranked + f"{100 * s['units']:.0f}% of the hidden units get an input"
                   + (f"; {len(rew)} rewirings so far" if rew else ""))
