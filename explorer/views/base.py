"""View and Board: how the live views record a run and draw it on one frame clock.

A `View` turns records of a run into one plotly FigureWidget; it never decides when to draw.
A `Board` (a Callback) drives any number of views:

  * history: at scheduled steps -- log-spaced over the first 1,000 steps (where the tails
    form), the cut, then evenly to the end (`log_schedule`) -- it takes one record: the
    trainer's progress (step, phase, interval-mean loss, us/sample, weights alive, lr) and
    what each view samples (`View.sample(trainer)`: counts and small arrays, never a copy of
    a large layer). Every view replays any record (`Board.show(i)`, TensorBoard's shared step);
  * frames: while a run goes, at most `fps` times a second (6: the issue asks for 5 or more),
    it takes a live record and
    redraws every view in one frame -- one clock for the whole dashboard instead of a budget
    per view; the start, the cut and the end are always drawn. A view's title says the step
    of the record it draws;
  * `Trainer(cfg, callbacks=[view])` works too: a view used on its own gets a Board of its own.

The figure's layout is given at construction (`FigureWidget(data=..., layout=...)`): layout
set afterwards is lost when a page is rebuilt from saved widget state (Voila, reloads), so the
Board copies every figure into the saved state at the end of a run (`sync_state`).
"""

from __future__ import annotations

import math
import time

import numpy as np

from ..stats import LOG_EDGES, log_histogram
from ..training.callbacks import Callback
from .figure import FigureWidget, Patch, PlotlyModule, sync_figure  # noqa: F401 -- the views import them from here

COLORS = {"dense": "#1f77b4", "sparse": "#d62728", "ref": "#7f7f7f", "cut": "#2ca02c", "accent": "#ff7f0e",
          "regrown": "#9467bd"}
FONT = dict(size=11)
WIDTH, HEIGHT = 570, 340  # two views and the controls fit a 1600-pixel-wide page


def base_layout(title: str, height: int = HEIGHT, width: int | None = WIDTH, legend: bool = True, **kw) -> dict:
    """The house layout: a title with a subtitle line, the legend outside the plotting area
    (a row under the x axis), white template, and `uirevision` so zoom survives redraws."""
    lay = dict(title=dict(text=title, font=dict(size=13), x=0.01, xanchor="left", y=0.97, yanchor="top",
                          subtitle=dict(text="", font=dict(size=11, color="#555"))),
               height=height, margin=dict(l=60, r=20, t=66, b=78 if legend else 46), font=FONT,
               template="plotly_white", showlegend=legend,
               legend=dict(orientation="h", yanchor="top", y=-0.2, xanchor="left", x=0, font=dict(size=10)),
               uirevision="keep")
    if width is not None:
        lay["width"] = width
    lay.update(kw)
    return lay


def log_ticks(values) -> dict:
    """Ticks for a log axis showing `values`: powers of ten when they span about a decade or
    more, else the 1-2-5 values inside their range, written out (0.5, 1, 2). plotly's own
    choice for a narrow range labels every digit (6, 3, 2, 9, 5), and its "D2" labels 0.5 as
    "5": both read as noise."""
    v = np.asarray([x for x in values if x is not None and np.isfinite(x) and x > 0], dtype=float)
    if v.size == 0 or np.log10(v.max() / v.min()) > 1.2:
        return dict(tickmode="linear", tick0=0, dtick=1, tickvals=None, ticktext=None)
    lo, hi = np.floor(np.log10(v.min())) - 1, np.ceil(np.log10(v.max())) + 1
    cands = sorted(m * 10.0**e for e in range(int(lo), int(hi) + 1) for m in (1, 2, 5))
    inside = [c for c in cands if v.min() / 1.6 <= c <= v.max() * 1.6] or [float(v.min())]
    return dict(tickmode="array", tickvals=inside, ticktext=[f"{c:g}" for c in inside], dtick=None)


def image_and_curve_layout(title: str, image_width: float, spacing: float, x2: str, y2: str, empty: str,
                           height: int, width: int | None) -> dict:
    """The layout of a view with an image on the left (square pixels, no axes) and a curve on
    the right (axis titles `x2`, `y2`, a 0..1 range), `empty` shown before any data."""
    from plotly.subplots import make_subplots

    base = make_subplots(rows=1, cols=2, column_widths=[image_width, 1 - image_width], horizontal_spacing=spacing)
    layout = base.layout.to_plotly_json()
    layout.update(base_layout(title, height=height, width=width))
    layout["xaxis"].update(visible=False, scaleanchor="y", constrain="domain")
    layout["yaxis"].update(visible=False, autorange="reversed", constrain="domain")
    layout["xaxis2"].update(title=dict(text=x2))
    layout["yaxis2"].update(title=dict(text=y2), range=[0, 1.02])
    layout["annotations"] = [placeholder(empty)]
    return layout


def placeholder(text: str) -> dict:
    """An annotation in the middle of an empty figure saying what will appear there."""
    return dict(text=text, x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False, xanchor="center",
                font=dict(size=12, color="#888"), name="placeholder")


def log_schedule(total: int, burn_in: int = 0, early: int = 1000, n_early: int = 32, n_late: int = 32) -> np.ndarray:
    """Steps to record: log-spaced over 0..min(early, total), as many evenly spaced after, the
    end of the burn-in (the cut) and the last step. Sorted, unique, int64."""
    lo = min(early, total)
    head = np.unique(np.round(np.geomspace(1, max(lo, 1), n_early)).astype(np.int64)) if lo >= 1 else []
    tail = np.linspace(lo, total, n_late + 1).round().astype(np.int64) if total > lo else []
    steps = np.unique(np.concatenate([[0], head, tail, [burn_in, total]]).astype(np.int64))
    return steps[(steps >= 0) & (steps <= total)]


class Frame:
    """What a view draws: the record `index` of a Board's history (or its live record), the
    history up to it, and the run's evaluations and events up to its step."""

    def __init__(self, board: Board, record: dict, upto: int):
        self.board, self.record = board, record
        self.step = record["step"]
        self.records = board.records[:upto]
        self.evals = [e for e in board.evals if e["step"] <= self.step]
        self.events = [e for e in board.events if e["step"] <= self.step]
        self.trainer = board.trainer
        self.live = board.index is None  # the newest state, not a replayed step

    def sample(self, view) -> dict | None:
        return self.record["samples"].get(view.key)

    def series(self, view, field: str) -> tuple[list, list]:
        """(steps, values) of one field of a view's samples over the history up to this frame."""
        xs, ys = [], []
        for r in self.records:
            s = r["samples"].get(view.key)
            if s is not None and s.get(field) is not None:
                xs.append(r["step"])
                ys.append(s[field])
        return xs, ys


class View(Callback):
    """Base class: subclasses set `key`, build `self.fig` in `__init__` and implement `draw`
    (and `sample`, if they need more than the Board's own record)."""

    key = "view"
    needs_gradients = False
    live_sample = True  # sampled at every frame; False: only at recorded steps (costly samples), and
    #                     a frame between two records shows the last record's

    def __init__(self, every: int | None = None, fps: float = 6.0):
        """`every`: record and draw every N steps (deterministic; for tests and scripts) instead
        of the log-spaced schedule and the clock; `fps`: live frames a second when on its own."""
        self.draws = 0  # redraws done (for tests and benchmarks)
        self.draw_seconds = 0.0  # time spent in them
        self._every, self._fps = every, fps
        self.host = None  # the Board that draws this view (the dashboard's, or one of its own)

    @property
    def widget(self):
        """What the dashboard lays out: the figure (subclasses add their own controls)."""
        return self.fig

    # -- to be implemented -----------------------------------------------------------------
    def clear(self) -> None:
        """Forget the last run (called when a run starts at step 0)."""

    def sample(self, trainer, cache: dict) -> dict | None:
        """This view's part of a record at the trainer's current step (small: counts, not raw
        arrays). `cache` is shared by the views of one record: see `layer_histogram`."""
        return None

    def draw(self, frame: Frame) -> None:
        """Write the figure for `frame` into `self.patch` (a `Patch` of `self.fig`, sent when
        draw returns); read the figure's current values from `self.fig`."""

    def signature(self, frame: Frame):
        """What the figure depends on in `frame`; the Board skips a redraw when it has not changed
        since the last one (None: always redraw)."""
        return None

    # -- drawing ------------------------------------------------------------------------------
    def render(self, frame: Frame) -> None:
        t0 = time.perf_counter()
        self.patch = Patch(self.fig)
        self.draw(frame)
        self.patch.send()
        self.draws += 1
        self.draw_seconds += time.perf_counter() - t0

    def sync_state(self) -> None:
        sync_figure(self.fig)

    @staticmethod
    def title(fig, text: str, sub: str = "") -> None:
        fig.layout.title.text = text
        fig.layout.title.subtitle.text = sub

    # -- used on its own: a Board of its own, whose timing this callback mirrors -------------
    @property
    def board(self) -> Board:
        if self.host is None:
            Board([self], fps=self._fps, every=self._every)  # sets self.host
        return self.host

    @property
    def trainer(self):
        return self.board.trainer

    @property
    def every(self):
        return self.board.every

    @property
    def seconds(self):
        return self.board.seconds

    @property
    def schedule(self):
        return self.board.schedule

    def attach(self, trainer) -> View:
        """Show a set-up trainer's current state without running it (e.g. at step 0)."""
        self.board.attach(trainer)
        return self

    def redraw(self) -> None:
        self.board.frame(force=True)

    def on_train_begin(self, trainer):
        self.board.on_train_begin(trainer)

    def on_step_end(self, trainer):
        self.board.on_step_end(trainer)

    def on_phase_end(self, trainer):
        self.board.on_phase_end(trainer)

    def on_prune(self, trainer):
        self.board.on_prune(trainer)

    def on_eval_end(self, trainer):
        self.board.on_eval_end(trainer)

    def on_rewire(self, trainer):
        self.board.on_rewire(trainer)

    def on_train_end(self, trainer):
        self.board.on_train_end(trainer)

    def __repr__(self):
        return f"{type(self).__name__}(draws={self.draws})"


class Board(Callback):
    """Records a run for a set of views and draws them together (see the module docstring).

    fps: live frames a second while a run goes (None: only at records); every: record at every
    N-th step instead of `log_schedule` (and draw at each record, no clock: deterministic).
    """

    def __init__(self, views, fps: float | None = 6.0, every: int | None = None, n_early: int = 32,
                 n_late: int = 32):
        self.views = list(views)
        for v in self.views:
            v.host = self
        self.fps, self.n_early, self.n_late = fps, n_early, n_late
        self.every = every or 1
        self._step_counted = every is not None
        self.seconds = None if (self._step_counted or not fps) else 1.0 / fps
        self.schedule = None
        self.trainer = None
        self.index = None  # replay position in `records` (None: follow the newest)
        self.frames = 0
        self.seconds_spent = {"sample": 0.0, "draw": 0.0}
        self.clear()

    @property
    def needs_gradients(self) -> bool:
        return any(v.needs_gradients for v in self.views)

    def gradients_at(self, step: int) -> bool:
        """Gradients are worth computing at a recorded step, or at any frame if a view samples
        them live (the |g| histogram)."""
        if self._step_counted or any(v.needs_gradients and v.live_sample for v in self.views):
            return True
        return self.schedule is not None and step in self._scheduled()

    def clear(self) -> None:
        self.records: list[dict] = []
        self.evals: list[dict] = []
        self.events: list[dict] = []
        self.live = None  # the newest record, kept in `records` only at scheduled steps
        self._last = (0, 0.0, 0.0)  # (step, loss_total, compute seconds) of the last record
        self._last_frame = -math.inf
        self.index = None
        for v in self.views:
            v._signature = None
            v.clear()

    # -- recording ----------------------------------------------------------------------------
    def take(self, trainer, keep: bool) -> dict:
        """A record of the trainer's current state (kept in the history with `keep`)."""
        t0 = time.perf_counter()
        s = trainer.state
        step0, loss0, sec0 = self._last
        n = s.step - step0
        rec = {"step": s.step, "phase": s.phase, "lr": trainer.lr, "alive": [lv.n_alive for lv in s.layers],
               "loss": (s.loss_total - loss0) / n if n > 0 else None,
               "us_per_sample": 1e6 * (s.compute_seconds - sec0) / (n * s.batch_size) if n > 0 else None,
               "samples": {}}
        cache: dict = {}
        last = self.records[-1]["samples"] if self.records else {}
        for v in self.views:
            if keep or v.live_sample:
                out = v.sample(trainer, cache)
            else:  # a costly sample between two records: the last record's stands
                out = last.get(v.key)
            if out is not None:
                rec["samples"][v.key] = out
        if keep:
            last = self.records[-1] if self.records else None
            if last is not None and last["step"] == s.step and s.phase in (last["phase"], "done"):
                for k in ("loss", "us_per_sample"):  # measured over the steps up to it: kept
                    rec[k] = last[k] if rec[k] is None else rec[k]
                self.records[-1] = rec  # the same state recorded twice (a due step at the end); two at
                #                         one step stay apart only across the cut (burn-in, then cut)
            else:
                self.records.append(rec)
            if n > 0:
                self._last = (s.step, s.loss_total, s.compute_seconds)
        self.live = rec
        self.seconds_spent["sample"] += time.perf_counter() - t0
        return rec

    def attach(self, trainer) -> Board:
        """Follow a set-up trainer and draw its current state (before Run: the initial weights)."""
        self.trainer = trainer
        if trainer.state.step == 0:
            self.clear()
            self._make_schedule(trainer)
            self.take(trainer, keep=True)
        self.frame(force=True)
        self.sync_state()
        return self

    def _make_schedule(self, trainer) -> None:
        cfg = trainer.config
        if self._step_counted:
            self.schedule = None
        else:
            self.schedule = log_schedule(trainer.total_steps, cfg.burn_in, n_early=self.n_early, n_late=self.n_late)

    def on_train_begin(self, trainer):
        attached = self.trainer is trainer and len(self.records) == 1 and self.records[0]["step"] == 0
        self.trainer = trainer
        if trainer.state.step == 0 and not attached:  # (attach already recorded and drew step 0)
            self.clear()
            self._make_schedule(trainer)
            self.take(trainer, keep=True)
            self._last = (0, trainer.state.loss_total, trainer.state.compute_seconds)
            self.frame(force=True)

    def on_step_end(self, trainer):
        s = trainer.state
        scheduled = self._step_counted or (self.schedule is not None and s.step in self._scheduled())
        self.take(trainer, keep=scheduled)
        self.frame(force=self._step_counted)

    def _scheduled(self) -> set:
        if getattr(self, "_sched_set", (None, None))[0] is not self.schedule:
            self._sched_set = (self.schedule, set(int(x) for x in self.schedule))
        return self._sched_set[1]

    def on_phase_end(self, trainer):
        if trainer.state.phase == "burn_in":  # the weights the cut is made from
            self.take(trainer, keep=True)

    def on_prune(self, trainer):
        self.events.append({"event": "cut", "step": trainer.state.step,
                            "alive": [lv.n_alive for lv in trainer.state.layers]})
        self.take(trainer, keep=True)
        self.frame(force=True)  # the cut is always drawn

    def on_eval_end(self, trainer):
        self.evals.append({"step": trainer.state.step, **trainer.state.metrics})

    def on_rewire(self, trainer):
        ev = trainer.state.last_rewire
        self.events.append({"event": "rewire", "step": ev.step, "rule": ev.rule,
                            "churn": {l: d["churn"] for l, d in ev.layers.items()}})

    def on_train_end(self, trainer):
        if trainer.diverged_:
            self.events.append({"event": "diverged", "step": trainer.state.step})
        self.take(trainer, keep=True)
        self.frame(force=True)
        self.sync_state()

    def mark(self, event: str, step: int, **info) -> None:
        """Note an event of the run (an lr change, a collapse) for the views to show."""
        self.events.append({"event": event, "step": step, **info})

    # -- drawing --------------------------------------------------------------------------------
    def frame(self, force: bool = False) -> bool:
        """Draw every view from the live record (or the replayed one) if the clock allows; True if drawn."""
        now = time.perf_counter()
        if self.trainer is None or not self.trainer.is_setup or self.live is None:
            return False
        if not force and self.seconds is not None and now - self._last_frame < self.seconds:
            return False
        if self.index is not None:
            rec, upto = self.records[self.index], self.index + 1
        else:
            rec, upto = self.live, len(self.records)
        f = Frame(self, rec, upto)
        for v in self.views:
            sig = v.signature(f)
            if sig is not None and sig == getattr(v, "_signature", None):
                continue
            v._signature = sig
            v.render(f)
        self._last_frame = time.perf_counter()
        self.frames += 1
        self.seconds_spent["draw"] += self._last_frame - now
        return True

    def show(self, index: int | None) -> None:
        """Replay: draw every view at history record `index` (None: follow the newest)."""
        if index is not None:
            index = min(max(int(index), 0), len(self.records) - 1)
            if index == len(self.records) - 1 and (self.trainer is None or self.trainer.done):
                index = None
        self.index = index
        self.frame(force=True)

    def sync_state(self) -> None:
        for v in self.views:
            v.sync_state()

    def __repr__(self):
        return f"Board({[v.key for v in self.views]}, {len(self.records)} records, {self.frames} frames)"


def abs_histogram(values, zeros: int = 0) -> dict:
    """A |values| record: the non-empty range of log-bin counts (stats.LOG_EDGES; `lo` is the
    first bin's index), exact zeros, out-of-range and non-finite counts apart."""
    h = log_histogram(values, zeros=zeros)
    nz = np.flatnonzero(h.counts)
    lo, hi = (int(nz[0]), int(nz[-1]) + 1) if nz.size else (0, 0)
    return {"lo": lo, "counts": h.counts[lo:hi], "zeros": h.zeros, "under": h.under, "over": h.over,
            "nonfinite": h.nonfinite, "n": int(np.asarray(values).size) + zeros}


def layer_histogram(trainer, cache: dict, layer: int, what: str = "w") -> dict | None:
    """abs_histogram of a layer's |w| (what="w") or |g| ("g", None without gradients), computed
    once per record however many views ask (`cache` is the record's)."""
    key = (what, layer)
    if key not in cache:
        lv = trainer.state.layers[layer]
        if what == "w":
            cache[key] = abs_histogram(lv.values, zeros=lv.n_total - lv.n_alive)
        else:
            g = lv.grad_values
            cache[key] = None if g is None else abs_histogram(g)
    return cache[key]


def bin_centers(h: dict) -> np.ndarray:
    """Geometric centres of the bins an abs_histogram record holds."""
    e = LOG_EDGES[h["lo"] : h["lo"] + len(h["counts"]) + 1]
    return np.sqrt(e[:-1] * e[1:])
