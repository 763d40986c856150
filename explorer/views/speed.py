"""Speed: microseconds per sample over steps (dense burn-in vs sparse training), weights
alive, and the speed-up so far (dense us/sample over sparse us/sample, from the trainer's
own compute timings, callbacks excluded).
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from .base import COLORS, FigureWidget, View, base_layout


class Speed(View):
    def __init__(self, max_points: int = 1000, seconds: float | None = 0.1, every: int | None = None,
                 width: int | None = 520, height: int = 300):
        super().__init__(seconds, every)
        self.max_points = max_points
        self.rows: list[tuple] = []  # (step, phase, us_per_sample, alive)
        self._last = None
        self.fig = FigureWidget(
            data=[
                go.Scatter(name="dense (burn-in) µs/sample", x=[], y=[], mode="lines+markers",
                           marker=dict(size=4), line=dict(color=COLORS["dense"])),
                go.Scatter(name="sparse µs/sample", x=[], y=[], mode="lines+markers",
                           marker=dict(size=4), line=dict(color=COLORS["sparse"])),
                go.Scatter(name="weights alive", x=[], y=[], mode="lines", yaxis="y2",
                           line=dict(color=COLORS["ref"], shape="hv", dash="dot")),
            ],
            layout=base_layout("speed", height=height, width=width, margin=dict(l=55, r=60, t=40, b=40),
                               xaxis=dict(title="step"),
                               yaxis=dict(title="µs per sample", type="log", exponentformat="power"),
                               yaxis2=dict(title="weights alive", overlaying="y", side="right", type="log",
                                           showgrid=False, exponentformat="power")),
        )

    def clear(self):
        self.rows, self._last = [], None

    def speedup(self, trainer=None) -> float | None:
        """Median dense us/sample over median sparse us/sample so far (None until both ran).

        Medians over the sampled intervals, so a one-off cost (the first BLAS thread-limit
        call, a JIT compile) in one interval does not decide the ratio."""
        d = [r[2] for r in self.rows if r[1] == "burn_in"]
        t = [r[2] for r in self.rows if r[1] != "burn_in"]
        if not d or not t:
            return None
        return float(np.median(d) / np.median(t))

    def _sample(self, trainer):
        s = trainer.state
        if self._last is None:
            self._last = (0, 0.0)
        step0, sec0 = self._last
        if s.step > step0:
            us = 1e6 * (s.compute_seconds - sec0) / ((s.step - step0) * s.batch_size)
            phase = "burn_in" if s.step <= trainer.config.burn_in else "train"
            self.rows.append((s.step, phase, us, sum(lv.n_alive for lv in s.layers)))
            if len(self.rows) > self.max_points:
                self.rows = [self.rows[0], *self.rows[2::2]]
        self._last = (s.step, s.compute_seconds)

    def on_train_begin(self, trainer):
        self.begin(trainer)
        self._last = (trainer.state.step, trainer.state.compute_seconds)
        self.sample_burn_in(trainer, 16)
        self.redraw()

    def on_step_end(self, trainer):
        self.trainer = trainer
        self._sample(trainer)
        self.maybe_redraw()

    def on_phase_end(self, trainer):
        self._sample(trainer)
        self.end_burn_in_sampling(trainer)

    def on_train_end(self, trainer):
        self._sample(trainer)
        self.redraw()
        self.sync_state()

    def draw(self, trainer):
        d = [r for r in self.rows if r[1] == "burn_in"]
        t = [r for r in self.rows if r[1] != "burn_in"]
        f = self.fig
        f.data[0].update(x=[r[0] for r in d], y=[round(r[2], 3) for r in d])
        f.data[1].update(x=[r[0] for r in t], y=[round(r[2], 3) for r in t])
        f.data[2].update(x=[r[0] for r in self.rows], y=[r[3] for r in self.rows])
        sp = self.speedup()
        alive = sum(lv.n_alive for lv in trainer.state.layers)
        total = sum(lv.n_total for lv in trainer.state.layers)
        txt = f"speed: {alive:,} of {total:,} weights alive"
        if sp is not None:
            txt += f", sparse is x{sp:.1f} faster per sample so far"
        f.layout.title.text = txt
