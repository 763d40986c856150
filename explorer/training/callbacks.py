"""The hook protocol: Callback (no-op hooks), CallbackList (who is due when), Recorder
(bounded, decimated history) and Progress (a tqdm bar).

A callback's step-level hooks (on_step_begin, on_after_backward, on_step_end) run only at
the steps it is due: every `every` steps (default 1), or, with `seconds=s`, at the first
chunk end at least s seconds after its last call; a callback with a `schedule` (sorted
steps, e.g. log-spaced) is due at those steps instead of every `every`, and with `seconds`
set too, also by the clock. The trainer runs the steps in between in
one fused call, so a callback costs nothing between its calls. Gradients are computed and
exposed (trainer.state.layers[l].grad_values) only at steps where a due callback has
`needs_gradients = True`. The other hooks (train/phase/prune/rewire/eval begin and end) always
run: on_prune after each cut (once, or at every cut of a gradual schedule), on_rewire after each
rewiring of a dynamic sparse run (trainer.state.last_rewire says what changed).
"""

from __future__ import annotations

import math
import time

import numpy as np

from ..errors import ExplorerError
from ..stats import log_histogram
from .series import Series


class CallbackError(ExplorerError):
    """A callback raised; the message names the callback and the event."""


class Callback:
    """Base class: override the hooks you need; each receives the trainer."""

    every: int | None = 1  # step-level hooks run every `every` steps ...
    seconds: float | None = None  # ... or, if set, at most once per `seconds` of wall-clock
    needs_gradients: bool = False  # ask the trainer to expose gradients at due steps
    schedule = None  # sorted steps (a numpy int array) the callback is due at, instead of `every`

    def on_train_begin(self, trainer): ...
    def on_step_begin(self, trainer): ...
    def on_after_backward(self, trainer): ...
    def on_step_end(self, trainer): ...
    def on_phase_end(self, trainer): ...
    def on_prune(self, trainer): ...
    def on_rewire(self, trainer): ...
    def on_eval_end(self, trainer): ...
    def on_train_end(self, trainer): ...

    def __repr__(self):
        when = f"seconds={self.seconds}" if self.seconds else f"every={self.every}"
        return f"{type(self).__name__}({when})"


def _overrides(cb, name) -> bool:
    return getattr(type(cb), name, None) is not getattr(Callback, name)


class CallbackList:
    """Calls hooks in order, decides which callbacks are due, reports failures by name."""

    def __init__(self, callbacks=()):
        if isinstance(callbacks, Callback):
            callbacks = [callbacks]
        try:
            self.callbacks = list(callbacks)
        except TypeError:
            raise ExplorerError(f"callbacks must be a list of explorer.Callback instances, got "
                                f"{type(callbacks).__name__}") from None
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise ExplorerError(f"callbacks must be explorer.Callback instances, got {type(cb).__name__}")
            ev, sec = getattr(cb, "every", 1), getattr(cb, "seconds", None)
            if sec is None and (not isinstance(ev, int) or ev < 1):
                raise ExplorerError(f"{type(cb).__name__}.every={ev!r}: expected a whole number >= 1")
            if sec is not None and not (isinstance(sec, (int, float)) and sec >= 0 and math.isfinite(sec)):
                raise ExplorerError(f"{type(cb).__name__}.seconds={sec!r}: expected a number >= 0")
        self._last_call = {id(cb): -math.inf for cb in self.callbacks}
        self.seconds = 0.0  # wall-clock spent inside callbacks

    def append(self, cb):
        self.callbacks.append(cb)
        self._last_call[id(cb)] = -math.inf

    @property
    def timed(self) -> bool:
        return any(cb.seconds is not None for cb in self.callbacks)

    def next_due(self, step: int) -> int | None:
        """The first step > `step` at which a step-counted or scheduled callback is due (None: none is)."""
        dues = []
        for cb in self.callbacks:
            sched = getattr(cb, "schedule", None)
            if sched is not None:
                i = int(np.searchsorted(sched, step, side="right"))
                if i < len(sched):
                    dues.append(int(sched[i]))
            elif cb.seconds is None:
                dues.append((step // cb.every + 1) * cb.every)
        return min(dues) if dues else None

    def due_at(self, step: int, now: float) -> list:
        """Callbacks due at the end of `step` (time-throttled ones judged at `now`)."""
        out = []
        for cb in self.callbacks:
            sched = getattr(cb, "schedule", None)
            if sched is not None:
                i = int(np.searchsorted(sched, step))
                due = i < len(sched) and sched[i] == step
            else:
                due = cb.seconds is None and step % cb.every == 0
            if due or (cb.seconds is not None and now - self._last_call[id(cb)] >= cb.seconds):
                out.append(cb)
        return out

    @staticmethod
    def wants_split(due) -> bool:
        """Does any due callback need the step run in two halves (gradients before update)?"""
        return any(_overrides(cb, "on_step_begin") or _overrides(cb, "on_after_backward") for cb in due)

    @staticmethod
    def wants_gradients(due, step: int | None = None) -> bool:
        """Does a due callback need gradients at `step`? One with `needs_gradients` does, unless
        it has a `gradients_at(step)` method that says no (e.g. only at its recorded steps)."""
        return any(getattr(cb, "needs_gradients", False)
                   and (step is None or not hasattr(cb, "gradients_at") or cb.gradients_at(step)) for cb in due)

    def call(self, event: str, trainer, only=None):
        t0 = time.perf_counter()
        for cb in self.callbacks if only is None else only:
            if event == "on_step_end":
                self._last_call[id(cb)] = t0
            try:
                getattr(cb, event)(trainer)
            except Exception as e:
                self.seconds += time.perf_counter() - t0
                raise CallbackError(
                    f"callback {type(cb).__name__} failed in {event} at step {trainer.state.step}: "
                    f"{type(e).__name__}: {e}"
                ) from e
        self.seconds += time.perf_counter() - t0


class Recorder(Callback):
    """Bounded-memory history of a run: metrics and, optionally, log-binned histograms of
    |w| (and |g|) per layer.

    At most `max_records` records are kept (a `series.Series`): when full, every other record
    is dropped and the recording interval doubles, so a long run keeps an even, decimated
    picture of its whole history, early steps included; the run's last step is always
    recorded (at its end, if no due step fell on it). `histograms=True` adds one LogHistogram of |w| per
    layer to each record (and of |g| with `gradients=True`, which asks the trainer for
    gradients at the recorded steps).
    """

    def __init__(self, every: int | None = 100, seconds: float | None = None, max_records: int = 512,
                 histograms: bool = False, gradients: bool = False):
        if max_records < 2:
            raise ExplorerError(f"Recorder(max_records={max_records}): expected at least 2")
        self.every, self.seconds = every, seconds
        self.max_records = max_records
        self.histograms, self.needs_gradients = histograms, gradients
        self._series = Series(max_records, columns=1)
        self.reset()

    @property
    def records(self) -> list[dict]:
        return self._series[0]

    def reset(self):
        self._series.clear()
        self.evals: list[dict] = []
        self.events: list[dict] = []  # phase ends and prunes, with their steps
        self._last = None

    def on_train_begin(self, trainer):
        self.reset()
        self._last = (trainer.state.step, trainer.state.loss_total, trainer.state.compute_seconds)

    def on_step_end(self, trainer):
        if self._series.due():
            self._record(trainer)

    def on_train_end(self, trainer):
        if not self.records or self.records[-1]["step"] != trainer.state.step:
            self._record(trainer)

    def _record(self, trainer):
        s = trainer.state
        step0, loss0, sec0 = self._last or (0, 0.0, 0.0)
        n = max(s.step - step0, 1)
        rec = {
            "step": s.step,
            "phase": s.phase,
            "loss": (s.loss_total - loss0) / n,
            "us_per_sample": 1e6 * (s.compute_seconds - sec0) / (n * s.batch_size),
            "alive": [lv.n_alive for lv in s.layers],
        }
        if self.histograms:
            rec["hist_w"] = [log_histogram(lv.values, zeros=lv.n_total - lv.n_alive) for lv in s.layers]
            if self.needs_gradients and s.has_gradients:
                rec["hist_g"] = [log_histogram(lv.grad_values) for lv in s.layers]
        self._last = (s.step, s.loss_total, s.compute_seconds)
        self._series.append(rec)

    def on_eval_end(self, trainer):
        self.evals.append({"step": trainer.state.step, **trainer.state.metrics})

    def on_prune(self, trainer):
        self.events.append({"event": "prune", "step": trainer.state.step,
                            "alive": [lv.n_alive for lv in trainer.state.layers]})

    def on_rewire(self, trainer):
        ev = trainer.state.last_rewire
        self.events.append({"event": "rewire", "step": ev.step, "fraction": ev.fraction,
                            "churn": {l: v["churn"] for l, v in ev.layers.items()}})

    def on_phase_end(self, trainer):
        self.events.append({"event": f"end of {trainer.state.phase}", "step": trainer.state.step})

    def as_arrays(self) -> dict:
        """Columns of the scalar metrics as numpy arrays (for plotting and export)."""
        keys = ("step", "loss", "us_per_sample")
        out = {k: np.array([r[k] for r in self.records], dtype=float) for k in keys}
        out["eval_step"] = np.array([e["step"] for e in self.evals], dtype=float)
        out["test_accuracy"] = np.array([e.get("test_accuracy", np.nan) for e in self.evals], dtype=float)
        return out

    def to_dict(self) -> dict:
        """JSON-friendly history (histograms left out; they belong to figures)."""
        keep = ("step", "phase", "loss", "us_per_sample", "alive")
        return {"records": [{k: r[k] for k in keep} for r in self.records], "evals": self.evals,
                "events": self.events}


class Progress(Callback):
    """A tqdm progress bar over the run's steps, refreshed at most `seconds` apart."""

    def __init__(self, seconds: float = 0.2, **tqdm_kwargs):
        self.seconds = seconds
        self._kw = tqdm_kwargs
        self.bar = None

    def on_train_begin(self, trainer):
        from tqdm.auto import tqdm

        self.bar = tqdm(total=trainer.total_steps, initial=trainer.state.step, unit="step", **self._kw)

    def on_step_end(self, trainer):
        if self.bar is not None:
            self.bar.n = trainer.state.step
            self.bar.set_postfix(phase=trainer.state.phase, loss=f"{trainer.state.batch_loss:.3f}", refresh=False)
            self.bar.refresh()

    def on_train_end(self, trainer):
        if self.bar is not None:
            self.bar.n = trainer.state.step
            self.bar.close()
            self.bar = None
