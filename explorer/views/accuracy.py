"""AccuracyLoss: train loss and test accuracy against steps, with the run's events marked --
the cut, learning-rate changes, a collapse to chance, a divergence -- and optionally a dense
reference run of the same config (`reference_callback()`), drawn dashed in grey.

Loss points are the Board's records (interval means of the batch losses between records,
and the live record during a run); accuracy points are the trainer's evaluations (set
`RunConfig.eval_every` for a curve; the dashboard does). Both reach the run's last step.
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

from ..training.callbacks import Callback
from .base import COLORS, WIDTH, FigureWidget, Frame, View, base_layout, log_ticks, placeholder


def collapse_step(evals: list[dict], n_classes: int) -> int | None:
    """The first evaluation at chance level (within 2 points) after one clearly above it (10 points)."""
    chance, above = 1.0 / max(n_classes, 2), False
    for e in evals:
        acc = e.get("test_accuracy")
        if acc is None or not math.isfinite(acc):
            continue
        if acc >= chance + 0.1:
            above = True
        elif above and acc <= chance + 0.02:
            return e["step"]
    return None


def _vlines(steps, lo=0.0, hi=1.0):
    x, y = [], []
    for s in steps:
        x += [s, s, None]
        y += [lo, hi, None]
    return x, y


class _Reference(Callback):
    """Feeds a second (dense) trainer's loss and accuracy into an AccuracyLoss view."""

    seconds = 0.1  # its loss is sampled at most 10 times a second

    def __init__(self, view):
        self.view = view
        self.loss, self.evals, self._last = [], [], (0, 0.0)

    def on_train_begin(self, trainer):
        if trainer.state.step == 0:
            self.loss, self.evals = [], []
        self._last = (trainer.state.step, trainer.state.loss_total)

    def on_step_end(self, trainer):
        s = trainer.state
        step0, loss0 = self._last
        if s.step > step0:
            loss = (s.loss_total - loss0) / (s.step - step0)
            if math.isfinite(loss):
                self.loss.append((s.step, loss))
        self._last = (s.step, s.loss_total)

    def on_eval_end(self, trainer):
        self.evals.append((trainer.state.step, trainer.state.metrics["test_accuracy"]))

    def on_train_end(self, trainer):  # the reference may end after the run it is compared with
        if self.view.host is not None:
            self.view.host.frame(force=True)


class AccuracyLoss(View):
    key = "accuracy"

    def __init__(self, every: int | None = None, width: int | None = WIDTH, height: int = 360):
        super().__init__(every)
        self._ref = None
        self.fig = FigureWidget(
            data=[
                go.Scatter(name="train loss", x=[], y=[], mode="lines", line=dict(color=COLORS["dense"], width=1)),
                go.Scatter(name="test accuracy", x=[], y=[], mode="lines+markers", yaxis="y2",
                           marker=dict(size=5), line=dict(color=COLORS["sparse"], width=2)),
                go.Scatter(name="dense run: loss", x=[], y=[], mode="lines",
                           line=dict(color=COLORS["ref"], width=1, dash="dot")),
                go.Scatter(name="dense run: accuracy", x=[], y=[], mode="lines+markers", yaxis="y2",
                           marker=dict(size=4), line=dict(color=COLORS["ref"], width=2, dash="dash")),
                go.Scatter(name="cut", x=[], y=[], mode="lines", yaxis="y2", hoverinfo="skip",
                           line=dict(color=COLORS["cut"], width=1.5, dash="dashdot")),
                go.Scatter(name="lr changed", x=[], y=[], mode="lines", yaxis="y2", hoverinfo="skip",
                           line=dict(color=COLORS["accent"], width=1.5, dash="dot")),
                go.Scatter(name="collapsed / diverged", x=[], y=[], mode="lines", yaxis="y2", hoverinfo="skip",
                           line=dict(color="#000", width=2)),
                go.Scatter(name="rewirings", x=[], y=[], mode="markers", yaxis="y2", hoverinfo="x",
                           marker=dict(symbol="triangle-down", size=7, color=COLORS["regrown"])),
            ],
            layout=base_layout("loss and test accuracy", height=height, width=width,
                               margin=dict(l=60, r=60, t=58, b=78),
                               xaxis=dict(title="step"),
                               yaxis=dict(title="train loss (interval mean)", type="log", exponentformat="power",
                                          tickmode="linear", tick0=0, dtick=1, range=[-1, 1]),
                               yaxis2=dict(title="test accuracy", overlaying="y", side="right", range=[0, 1],
                                           tickmode="linear", tick0=0, dtick=0.2, showgrid=False),
                               annotations=[placeholder("loss and test accuracy appear here during a run")]),
        )

    def reference_callback(self) -> Callback:
        """A callback for a second (dense) trainer: its curves are drawn dashed in grey."""
        self._ref = _Reference(self)
        return self._ref

    def clear(self):
        if self._ref is not None:
            self._ref.loss, self._ref.evals = [], []

    def loss_series(self, frame: Frame) -> tuple[list, list]:
        xs = [r["step"] for r in frame.records if r["loss"] is not None]
        ys = [r["loss"] for r in frame.records if r["loss"] is not None]
        rec = frame.record
        if frame.live and rec["loss"] is not None and (not xs or xs[-1] != rec["step"]):
            xs, ys = [*xs, rec["step"]], [*ys, rec["loss"]]
        keep = [i for i, y in enumerate(ys) if y is not None and math.isfinite(y) and y > 0]
        return [xs[i] for i in keep], [ys[i] for i in keep]

    def signature(self, frame: Frame):
        ref = self._ref
        return (len(frame.records), frame.step, len(frame.evals), len(frame.events), frame.board.index,
                None if ref is None else (len(ref.loss), len(ref.evals)))

    def draw(self, frame: Frame):
        f = self.patch
        if frame.trainer is not None:  # the whole run's steps, from before Run on
            f.layout.xaxis.range = [0, frame.trainer.total_steps * 1.02]
        xs, ys = self.loss_series(frame)
        ev = [e for e in frame.evals if e.get("test_accuracy") is not None]
        if not xs and not ev:
            return
        f.layout.annotations = []
        f.layout.yaxis.update(autorange=True, **log_ticks(ys))
        f.data[0].update(x=xs, y=np.round(ys, 6))
        acc_x, acc_y = [e["step"] for e in ev], [e["test_accuracy"] for e in ev]
        f.data[1].update(x=acc_x, y=acc_y)
        ref = self._ref
        if ref is not None and frame.live:
            f.data[2].update(x=[s for s, _ in ref.loss], y=np.round([v for _, v in ref.loss], 6))
            f.data[3].update(x=[s for s, _ in ref.evals], y=[a for _, a in ref.evals])
        else:
            f.data[2].update(x=[], y=[])
            f.data[3].update(x=[], y=[])
        events = frame.events
        f.data[4].update(**dict(zip("xy", _vlines([e["step"] for e in events if e["event"] == "cut"]))))
        lr = [e for e in events if e["event"] == "lr"]
        f.data[5].update(**dict(zip("xy", _vlines([e["step"] for e in lr]))))
        t = frame.trainer
        bad = [e["step"] for e in events if e["event"] == "diverged"]
        n_classes = t.data.n_classes if t is not None and t.is_setup else 10
        c = collapse_step(ev, n_classes)
        if c is not None:
            bad.append(c)
        f.data[6].update(**dict(zip("xy", _vlines(bad))))
        rew = [e["step"] for e in events if e["event"] == "rewire"]
        f.data[7].update(x=rew, y=[0.98] * len(rew))
        text = "loss and test accuracy"
        if acc_y:
            text += f": accuracy {acc_y[-1]:.3f} at step {acc_x[-1]:,}"
        if ref is not None and ref.evals and frame.live:
            text += f" (dense {ref.evals[-1][1]:.3f} at {ref.evals[-1][0]:,})"
        sub = [f"loss to step {frame.step:,}"]
        cuts = [e["step"] for e in events if e["event"] == "cut"]
        if cuts:
            sub.append(f"cut at step {cuts[0]:,}")
        if lr:
            sub.append("lr " + ", ".join(f"{e['lr']:.3g} at {e['step']:,}" for e in lr[-2:]))
        if rew:
            sub.append(f"{len(rew)} rewirings")
        if c is not None:
            sub.append(f"collapsed to chance at step {c:,}")
        if any(e["event"] == "diverged" for e in events):
            sub.append("diverged")
        self.title(f, text, "; ".join(sub))
