"""View: the base of every live view -- a Callback owning one plotly FigureWidget.

A view reads `trainer.state` inside the trainer's hooks, reduces it to what is drawn
(counts, not raw arrays) and writes the figure inside one `fig.batch_update()`. It is
time-throttled (`seconds`, default 0.1 s: at most ~10 redraws a second) and keeps its own
cost small: after each redraw it stretches its interval so that redraws take at most
`budget` (default 1%) of the wall-clock time. The figure's layout is given at
construction (`go.FigureWidget(data=..., layout=...)`): layout set afterwards is lost when
a page is rebuilt from saved widget state (Voila, reloads).

    v = WeightHistogram()
    Trainer(cfg, callbacks=[v]).fit(dataset)
    v.fig            # or v.widget (the figure plus the view's own small controls)
"""

from __future__ import annotations

import functools
import math
import time
from pathlib import Path

import plotly
import plotly.graph_objects as go
import traitlets

from ..callbacks import Callback

_PLOTLY_BUNDLE = Path(plotly.__file__).parent / "package_data" / "widgetbundle.js"  # plotly's FigureWidget._esm

# anywidget imports each widget's `_esm` from a fresh Blob URL and gives a model 2 s to get
# ready. plotly's FigureWidget module is 5 MB: one import took 0.94 s in headless Chromium
# here, six at once 5 s, so on a dashboard most figures missed the 2 s and never showed an
# update (Voila, JupyterLab). This small module imports plotly's bundle once per page (the
# first figure to start does it, from the synced `_bundle` text) and lets every figure use it.
_SHARED_ESM = """
const KEY = "__explorerPlotlyWidget";
function plotlyWidget(model) {
  if (!globalThis[KEY]) {
    const url = URL.createObjectURL(new Blob([model.get("_bundle")], { type: "text/javascript" }));
    globalThis[KEY] = import(url).then((m) => { URL.revokeObjectURL(url); return m.default; });
  }
  return globalThis[KEY];
}
async function widgetOf(model) {
  if (!model.__explorerWidget) {
    model.__explorerWidget = plotlyWidget(model).then(async (factory) => {
      const w = factory();
      await w.initialize({ model });
      return w;
    });
  }
  return model.__explorerWidget;
}
export default {
  async initialize({ model }) { await widgetOf(model); },
  async render({ model, el }) { return (await widgetOf(model)).render({ model, el }); },
};
"""


class FigureWidget(go.FigureWidget):
    """plotly's FigureWidget whose 5 MB browser module is loaded once per page, not per figure."""

    _esm = _SHARED_ESM
    _bundle = traitlets.Unicode(_PLOTLY_BUNDLE.read_text() if _PLOTLY_BUNDLE.is_file() else "").tag(sync=True)


COLORS = {"dense": "#1f77b4", "sparse": "#d62728", "ref": "#7f7f7f", "cut": "#2ca02c", "accent": "#ff7f0e"}
FONT = dict(size=11)


def base_layout(title: str, height: int = 300, width: int | None = 520, **kw) -> dict:
    lay = dict(title=dict(text=title, font=dict(size=13), x=0.02, xanchor="left"), height=height,
               margin=dict(l=55, r=20, t=40, b=40), font=FONT, template="plotly_white",
               legend=dict(yanchor="top", y=1.0, xanchor="right", x=1.0, font=dict(size=9),
                           bgcolor="rgba(255,255,255,0.7)"),
               uirevision="keep")
    if width is not None:
        lay["width"] = width
    lay.update(kw)
    return lay


class View(Callback):
    """Base class: subclasses build `self.fig` in `__init__` and implement `draw(trainer)`."""

    every = 1
    needs_gradients = False
    budget = 0.01  # at most this share of wall-clock time spent redrawing (six views: ~6%)

    def __init__(self, seconds: float | None = 0.1, every: int | None = None, draw_seconds: float | None = None):
        """`seconds`: call cadence in wall-clock time; `every`: in steps (deterministic, for tests
        and scripts). `draw_seconds`: the shortest interval between redraws when the view
        samples more often than it draws (default: `seconds`; None with `every`: every call)."""
        if every is not None:  # step-counted (deterministic, for tests and scripts)
            seconds = None
        elif seconds is None:
            every = 1
        self.min_seconds = self.seconds = seconds
        self.min_interval = self._interval = draw_seconds if draw_seconds is not None else seconds
        self._last_draw = -math.inf
        if every is not None:
            self.every = int(every)
        self.base_every = self.every  # what the step-sampled burn-in returns to
        self.trainer = None
        self.draws = 0  # redraws done (for tests and benchmarks)
        self.draw_seconds = 0.0  # time spent in them

    @property
    def widget(self):
        """What the dashboard lays out: the figure (subclasses add their own controls)."""
        return self.fig

    # -- to be implemented -----------------------------------------------------------------
    def clear(self) -> None:
        """Forget the history of the last run (called at the start of a run)."""

    def draw(self, trainer) -> None:
        """Write the figure from the trainer's current state (inside batch_update)."""

    # -- hooks ------------------------------------------------------------------------------
    def attach(self, trainer) -> View:
        """Show a set-up trainer's current state without running it (e.g. at step 0)."""
        self.trainer = trainer
        self.clear()
        self.redraw()
        self.sync_state()
        return self

    def sync_state(self) -> None:
        """Copy the figure into the widget's saved state. FigureWidget sends later edits as
        one-off messages that a page built afterwards (Voila renders after the cell ran, a
        reload) never sees; its saved state is only what it was constructed with."""
        import copy

        self.fig._widget_data = copy.deepcopy(self.fig._data)
        self.fig._widget_layout = copy.deepcopy(self.fig._layout_obj._props)

    def redraw(self) -> None:
        if self.trainer is None or not self.trainer.is_setup:
            return
        t0 = time.perf_counter()
        with self.fig.batch_update():
            self.draw(self.trainer)
        self._last_draw = time.perf_counter()
        cost = self._last_draw - t0
        self.draws += 1
        self.draw_seconds += cost
        if self.min_interval is not None:  # keep redraws within the budget
            self._interval = max(self.min_interval, cost / self.budget)
        if self.min_seconds is not None and self.seconds is not None:
            self.seconds = max(self.seconds, self._interval)

    def __init_subclass__(cls, **kw):
        """Charge a view's whole on_step_end (its measuring as well as its redraw) to its
        budget: a time-throttled view is then called at most every cost / budget seconds."""
        super().__init_subclass__(**kw)
        inner = cls.__dict__.get("on_step_end")
        if inner is None or getattr(inner, "_charged", False):
            return

        @functools.wraps(inner)
        def on_step_end(self, trainer):
            t0 = time.perf_counter()
            inner(self, trainer)
            if self.min_seconds is not None and self.seconds is not None:
                self.seconds = max(self.min_seconds, self._interval, (time.perf_counter() - t0) / self.budget)

        on_step_end._charged = True
        cls.on_step_end = on_step_end

    def sample_burn_in(self, trainer, samples: int) -> None:
        """During the burn-in (short, and where the tails form) call this view at `samples`
        evenly spaced steps instead of by the clock; `end_burn_in_sampling` returns to it."""
        if trainer.state.phase == "burn_in" and trainer.config.burn_in > 0:
            self.seconds = None
            self.every = max(1, trainer.config.burn_in // samples)

    def end_burn_in_sampling(self, trainer) -> None:
        if trainer.state.phase == "burn_in":
            self.seconds, self.every = self.min_seconds, self.base_every

    def maybe_redraw(self) -> None:
        """Redraw if the budget allows it now: for views that sample more often than they draw
        (e.g. on a step schedule during the short burn-in). Step-counted views always draw."""
        if self.min_interval is None or time.perf_counter() - self._last_draw >= self._interval:
            self.redraw()

    def begin(self, trainer) -> None:
        """Follow `trainer`; a run starting at step 0 clears the last run's picture."""
        self.trainer = trainer
        if trainer.state.step == 0:
            self.clear()

    def on_train_begin(self, trainer):
        self.begin(trainer)
        self.redraw()

    def on_step_end(self, trainer):
        self.trainer = trainer
        self.redraw()

    def on_prune(self, trainer):  # the cut shows at the next redraw the budget allows
        self.maybe_redraw()

    def on_train_end(self, trainer):
        self.redraw()
        self.sync_state()

    def __repr__(self):
        when = f"seconds={self.seconds:g}" if self.seconds else f"every={self.every}"
        return f"{type(self).__name__}({when}, draws={self.draws})"
