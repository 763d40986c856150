"""WeightHistogram: the live log-log histogram of one layer's |w| (or signed w, or |g|),
with the prune rule's threshold and a preview of the histogram after the cut.

Pruned weights are exact zeros; they are reported as a count in the title and in the
trace's `meta`, never drawn as a spike. `preview(rule)` answers "what would this rule keep
now?" from the current weights without training: the threshold (smallest kept |w|), the
kept count and the kept weights' histogram.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from ..prune import parse_rule
from ..stats import log_histogram
from .base import COLORS, FigureWidget, View, base_layout

MODES = {"abs": "|w|", "signed": "w", "grad": "|g|"}


def _trim(counts: np.ndarray) -> slice:
    nz = np.flatnonzero(counts)
    return slice(int(nz[0]), int(nz[-1]) + 1) if nz.size else slice(0, 0)


class WeightHistogram(View):
    """Histogram of one weight layer, live. mode: 'abs' (log-log |w|), 'signed' (w), 'grad' (|g|)."""

    def __init__(self, layer: int = 0, mode: str = "abs", rule: str | None = None, seconds: float | None = 0.1,
                 every: int | None = None, width: int | None = 520, height: int = 320):
        super().__init__(seconds, every)
        if mode not in MODES:
            from ..errors import ExplorerError

            raise ExplorerError(f"WeightHistogram(mode={mode!r}): expected one of {', '.join(MODES)}")
        self.layer, self.mode = layer, mode
        self.rule = None if rule is None else str(parse_rule(rule))
        self.kept = None  # (threshold, n_kept, n_considered) of the last preview
        self.cut = None  # threshold of the cut actually made at the prune
        self.fig = FigureWidget(
            data=[
                go.Scatter(name="weights", mode="lines", line=dict(shape="hvh", color=COLORS["dense"], width=2),
                           fill="tozeroy", x=[], y=[], meta={}),
                go.Scatter(name="after cut (preview)", mode="lines", x=[], y=[],
                           line=dict(shape="hvh", color=COLORS["cut"], width=1.5, dash="dot")),
                go.Scatter(name="threshold", mode="lines", x=[], y=[], line=dict(color=COLORS["cut"], width=2)),
                go.Scatter(name="cut made", mode="lines", x=[], y=[],
                           line=dict(color=COLORS["sparse"], width=1.5, dash="dash")),
            ],
            layout=base_layout(f"{MODES[mode]} of layer {layer}", height=height, width=width,
                               margin=dict(l=55, r=20, t=62, b=40),
                               xaxis=dict(type="log" if mode != "signed" else "linear", title=MODES[mode],
                                          exponentformat="power"),
                               yaxis=dict(type="log", title="count", exponentformat="power")),
        )
        import ipywidgets as W

        self._mode_buttons = W.ToggleButtons(options=[("|w|", "abs"), ("w", "signed"), ("|g|", "grad")],
                                             value=mode, style=dict(button_width="48px"),
                                             layout=W.Layout(margin="0 0 0 50px"))
        self._mode_buttons.observe(lambda ch: self.set_mode(ch["new"]), names="value")
        self._widget = W.VBox([self._mode_buttons, self.fig])

    @property
    def widget(self):
        return self._widget

    @property
    def needs_gradients(self) -> bool:
        return self.mode == "grad"

    def clear(self):
        self.cut = None

    def set_mode(self, mode: str) -> None:
        self.mode = mode
        if self._mode_buttons.value != mode:
            self._mode_buttons.value = mode
        with self.fig.batch_update():
            self.fig.layout.xaxis.type = "linear" if mode == "signed" else "log"
            self.fig.layout.xaxis.title.text = MODES[mode]
        self.redraw()

    # -- the prune preview -----------------------------------------------------------------------
    def preview(self, rule: str) -> dict:
        """Which weights `rule` would keep now: threshold (smallest kept |w|), kept, of, fraction."""
        self.rule = str(parse_rule(rule))
        out = self._preview_numbers()
        self.redraw()
        return out

    def _preview_numbers(self) -> dict:
        """The trainer's own preview of the cut (its rule code, random stream and scope) for this
        view's layer: every weight before the cut, the survivors after."""
        t = self.trainer
        if t is None or self.rule is None or not t.is_setup or self.layer not in t.cut_layers():
            self.kept = None
            return {}
        a = np.abs(t.state.layers[self.layer].values)
        keep = t.preview_cut(self.rule)[self.layer]
        kept = a[keep]
        n = int(keep.sum())
        thr = float(kept.min()) if n else float("nan")
        self.kept = (thr, n, a.size, kept)
        return {"threshold": thr, "kept": n, "of": int(a.size), "fraction": n / a.size if a.size else 0.0}

    @property
    def kept_label(self) -> str:
        if not self.kept:
            return ""
        thr, n, m, _ = self.kept
        return f"kept {n:,} of {m:,} ({100 * n / max(m, 1):.1f}%) by {self.rule}, threshold {thr:.3g}"

    # -- drawing -------------------------------------------------------------------------------
    def on_prune(self, trainer):
        lv = trainer.state.layers[self.layer]
        if lv.pruned and lv.n_alive:
            self.cut = float(np.abs(lv.values).min())
        self.maybe_redraw()

    def draw(self, trainer):
        s = trainer.state
        lv = s.layers[self.layer]
        f = self.fig
        zeros = lv.n_total - lv.n_alive
        if self.mode == "grad":
            g = lv.grad_values
            if g is None:
                return  # no gradients at this step: keep what is drawn
            h = log_histogram(g)
            sl = _trim(h.counts)
            x, y = h.centers[sl], h.counts[sl]
            meta = {"zeros": h.zeros, "under": h.under, "over": h.over, "n": int(g.size), "pruned": zeros}
            what = f"|g| of layer {self.layer} at step {s.step:,}: {h.zeros:,} exact zeros not drawn"
        elif self.mode == "signed":
            v = np.asarray(lv.values)
            v = v[v != 0]
            m = float(np.abs(v).max()) if v.size else 1.0
            counts, edges = np.histogram(v, bins=81, range=(-m, m))
            x, y = (edges[:-1] + edges[1:]) / 2, counts
            meta = {"zeros": zeros + int(lv.values.size - v.size), "under": 0, "over": 0, "n": lv.n_total}
            what = f"w of layer {self.layer} at step {s.step:,}: {meta['zeros']:,} pruned (zero) not drawn"
        else:
            h = log_histogram(lv.values, zeros=zeros)
            sl = _trim(h.counts)
            x, y = h.centers[sl], h.counts[sl]
            meta = {"zeros": h.zeros, "under": h.under, "over": h.over, "n": lv.n_total}
            what = (f"|w| of layer {self.layer} at step {s.step:,}: {lv.n_alive:,} alive"
                    + (f", {h.zeros:,} pruned (zero, not drawn)" if h.zeros else ""))
        f.data[0].update(x=x, y=y, meta=meta)
        top = float(max(y.max() if len(y) else 1, 1)) * 1.5
        prev, thr_tr, cut_tr = f.data[1], f.data[2], f.data[3]
        numbers = self._preview_numbers() if self.mode == "abs" else {}
        if numbers:
            thr, n, m, kept = self.kept
            hk = log_histogram(kept)
            slk = _trim(hk.counts)
            prev.update(x=hk.centers[slk], y=hk.counts[slk])
            thr_tr.update(x=[thr, thr], y=[0.7, top], meta=numbers)
            sub = self.kept_label
        else:
            prev.update(x=[], y=[])
            thr_tr.update(x=[], y=[])
            sub = ""
        if self.cut is not None and self.mode == "abs":
            cut_tr.update(x=[self.cut, self.cut], y=[0.7, top])
        else:
            cut_tr.update(x=[], y=[])
        f.layout.title.text = what + (f"<br><sub>{sub}</sub>" if sub else "")
