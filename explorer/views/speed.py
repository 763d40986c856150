"""Speed: microseconds per sample over steps (dense burn-in vs sparse training) from the
trainer's own compute timings (callbacks excluded), weights alive, and the speed-up so far
(median dense us/sample over median sparse us/sample).
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from .base import COLORS, WIDTH, FigureWidget, Frame, View, base_layout, log_ticks, placeholder


def speedup(records) -> float | None:
    """Median dense us/sample over median sparse us/sample (None until both ran). Medians over
    the recorded intervals, so a one-off cost in one interval does not decide the ratio."""
    d = [r["us_per_sample"] for r in records if r["us_per_sample"] and r["phase"] == "burn_in"]
    t = [r["us_per_sample"] for r in records if r["us_per_sample"] and r["phase"] != "burn_in"]
    if not d or not t:
        return None
    return float(np.median(d) / np.median(t))


class Speed(View):
    key = "speed"

    def __init__(self, every: int | None = None, width: int | None = WIDTH, height: int = 340):
        super().__init__(every)
        self.fig = FigureWidget(
            data=[
                go.Scatter(name="dense (burn-in) µs/sample", x=[], y=[], mode="lines+markers",
                           marker=dict(size=4), line=dict(color=COLORS["dense"])),
                go.Scatter(name="sparse µs/sample", x=[], y=[], mode="lines+markers",
                           marker=dict(size=4), line=dict(color=COLORS["sparse"])),
                go.Scatter(name="weights alive (right axis)", x=[], y=[], mode="lines", yaxis="y2",
                           line=dict(color=COLORS["ref"], shape="hv", dash="dot")),
            ],
            layout=base_layout("speed", height=height, width=width, margin=dict(l=60, r=70, t=58, b=78),
                               xaxis=dict(title="step"),
                               yaxis=dict(title="µs per sample", type="log", exponentformat="power", tickmode="linear",
                                          dtick=1, range=[0, 3]),
                               yaxis2=dict(title="weights alive", overlaying="y", side="right", type="log",
                                           showgrid=False, exponentformat="SI", tickmode="linear", dtick=1,
                                           range=[3, 6]),
                               annotations=[placeholder("time per sample appears here during a run")]),
        )

    def rows(self, frame: Frame) -> list[dict]:
        recs = [r for r in frame.records if r["us_per_sample"]]
        if frame.live and frame.record["us_per_sample"] and (not recs or recs[-1]["step"] != frame.step):
            recs.append(frame.record)
        return recs

    def signature(self, frame: Frame):
        return len(frame.records), frame.step, frame.board.index

    def draw(self, frame: Frame):
        if frame.trainer is not None:
            self.patch.layout.xaxis.range = [0, frame.trainer.total_steps * 1.02]
        rows = self.rows(frame)
        if not rows:
            return
        f = self.patch
        f.layout.annotations = []
        f.layout.yaxis.update(autorange=True, **log_ticks([r["us_per_sample"] for r in rows]))
        f.layout.yaxis2.update(autorange=True, **log_ticks([sum(r["alive"]) for r in rows]))
        d = [r for r in rows if r["phase"] == "burn_in"]
        t = [r for r in rows if r["phase"] != "burn_in"]
        f.data[0].update(x=[r["step"] for r in d], y=[round(r["us_per_sample"], 3) for r in d])
        f.data[1].update(x=[r["step"] for r in t], y=[round(r["us_per_sample"], 3) for r in t])
        f.data[2].update(x=[r["step"] for r in rows], y=[sum(r["alive"]) for r in rows])
        sp = speedup(rows)
        total = frame.trainer.state.layers if frame.trainer is not None else None
        alive = sum(frame.record["alive"])
        of = sum(lv.n_total for lv in total) if total else alive
        self.title(f, f"speed at step {frame.step:,}: {alive:,} of {of:,} weights alive",
                   f"sparse is x{sp:.1f} faster per sample than the dense burn-in" if sp else
                   "time per sample of the dense burn-in, then of the sparse phase")
