"""WeightHistogram: the live log-log histogram of one layer's |w| (or signed w, or |g|),
with the prune rule's threshold and a preview of the histogram after the cut.

Pruned weights are exact zeros; they are reported as a count in the subtitle and in the
trace's `meta`, never drawn as a spike. `preview(rule)` answers "what would this rule keep
now?" from the current weights without training (the trainer's own `preview_cut`: its rule
code, random stream and scope): the threshold (smallest kept |w|), the kept count and the
kept weights' histogram. Every record keeps the |w| histogram and the signed one (and |g|
when the trainer computed gradients), so switching the mode redraws any replayed step.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from ..errors import ExplorerError
from ..sparsity.prune import parse_rule
from .base import (
    COLORS,
    WIDTH,
    FigureWidget,
    Frame,
    Patch,
    View,
    abs_histogram,
    base_layout,
    bin_centers,
    layer_histogram,
    log_ticks,
    placeholder,
)

MODES = {"abs": "|w|", "signed": "w", "grad": "|g|"}
SIGNED_BINS = 81


def signed_counts(v: np.ndarray) -> tuple[np.ndarray, float]:
    """Counts of the non-zero values over SIGNED_BINS even bins on [-m, m], m = max |v|, by one
    bincount (np.histogram with a range takes ~4x longer on the 100,480 weights of the post's
    input layer); exact zeros (pruned weights) are left out."""
    finite = v[np.isfinite(v)]
    m = float(np.abs(finite).max()) if finite.size else 0.0
    if m == 0.0:
        return np.zeros(SIGNED_BINS, np.int64), 1.0
    idx = np.minimum(((finite + m) * (SIGNED_BINS / (2 * m))).astype(np.intp), SIGNED_BINS - 1)
    counts = np.bincount(idx, minlength=SIGNED_BINS)
    counts[SIGNED_BINS // 2] -= int(finite.size - np.count_nonzero(finite))  # zeros land in the middle bin
    return counts, m


class WeightHistogram(View):
    """Histogram of one weight layer, live. mode: 'abs' (log-log |w|), 'signed' (w), 'grad' (|g|)."""

    key = "weights"

    def __init__(self, layer: int = 0, mode: str = "abs", rule: str | None = None, every: int | None = None,
                 width: int | None = WIDTH, height: int = 360):
        super().__init__(every)
        if mode not in MODES:
            raise ExplorerError(f"WeightHistogram(mode={mode!r}): expected one of {', '.join(MODES)}")
        self.layer, self.mode = layer, mode
        self.rule = None if rule is None else str(parse_rule(rule))
        self.kept = None  # (threshold, n_kept, n_considered, kept |w|) of the last preview
        self._cut = None  # the threshold of the cut actually made (smallest surviving |w| at the cut)
        self.fig = FigureWidget(
            data=[
                go.Scatter(name="weights now", mode="lines", line=dict(shape="hvh", color=COLORS["dense"], width=2),
                           fill="tozeroy", x=[], y=[], meta={}),
                go.Scatter(name="kept by the cut (preview)", mode="lines", x=[], y=[],
                           line=dict(shape="hvh", color=COLORS["cut"], width=1.5, dash="dot")),
                go.Scatter(name="preview threshold", mode="lines", x=[], y=[], line=dict(color=COLORS["cut"], width=2)),
                go.Scatter(name="cut made", mode="lines", x=[], y=[],
                           line=dict(color=COLORS["sparse"], width=1.5, dash="dash")),
                go.Scatter(name="regrown at the last rewiring", mode="lines", x=[], y=[],
                           line=dict(shape="hvh", color=COLORS["regrown"], width=1.5)),
            ],
            layout=base_layout(f"{MODES[mode]} of layer {layer}", height=height, width=width,
                               margin=dict(l=60, r=20, t=80, b=78),
                               xaxis=dict(type="log" if mode != "signed" else "linear", title=MODES[mode],
                                          exponentformat="power", dtick=1 if mode != "signed" else None),
                               yaxis=dict(type="log", title="weights", exponentformat="power", tickmode="linear",
                                          dtick=1),
                               annotations=[placeholder("the weights appear here once a run is set up")]),
        )
        import ipywidgets as W

        self._mode_buttons = W.ToggleButtons(options=[("|w|", "abs"), ("w", "signed"), ("|g|", "grad")],
                                             value=mode, style=dict(button_width="48px"),
                                             tooltips=["magnitudes, log-log", "signed values", "gradient magnitudes"],
                                             layout=W.Layout(margin="0 0 0 60px"))
        self._mode_buttons.observe(lambda ch: self.set_mode(ch["new"]), names="value")
        self._widget = W.VBox([self._mode_buttons, self.fig])

    @property
    def widget(self):
        return self._widget

    @property
    def needs_gradients(self) -> bool:
        return self.mode == "grad"

    def clear(self):
        self._cut = None

    def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ExplorerError(f"mode={mode!r}: expected one of {', '.join(MODES)}")
        self.mode = mode
        if self._mode_buttons.value != mode:
            self._mode_buttons.value = mode
        with self.fig.batch_update():
            self.fig.layout.xaxis.type = "linear" if mode == "signed" else "log"
            self.fig.layout.xaxis.dtick = None if mode == "signed" else 1
            self.fig.layout.xaxis.title.text = MODES[mode]
            self.fig.layout.yaxis.title.text = "gradients" if mode == "grad" else "weights"
        b = self.board
        if b.trainer is not None and b.trainer.is_setup and b.index is None:
            b.take(b.trainer, keep=False)  # the current state, sampled in the new mode
        b.frame(force=True)

    # -- recording ---------------------------------------------------------------------------
    def sample(self, trainer, cache) -> dict:
        """|w| always; the signed histogram and |g| only in their modes (a record made in another
        mode has none: the figure says so)."""
        lv = trainer.state.layers[self.layer]
        v = lv.values
        h = layer_histogram(trainer, cache, self.layer)
        counts, m = signed_counts(v) if self.mode == "signed" else (None, None)
        if lv.pruned and self._cut is None and lv.n_alive:
            self._cut = float(np.abs(v).min())
        ev = trainer.state.last_rewire
        regrown = None
        if ev is not None and self.layer in ev.regrown and len(ev.regrown[self.layer]) == len(v):
            r = abs_histogram(v[ev.regrown[self.layer]])
            if len(r["counts"]):
                regrown = (ev.step, bin_centers(r), r["counts"])
        return {"abs": h, "signed": (m, counts), "regrown": regrown,
                "grad": (layer_histogram(trainer, cache, self.layer, "g")
                         if self.mode == "grad" and trainer.state.has_gradients else None),
                "alive": lv.n_alive, "total": lv.n_total, "cut": self._cut if lv.pruned else None}

    # -- the prune preview -------------------------------------------------------------------
    def preview(self, rule: str) -> dict:
        """Which weights `rule` would keep now: threshold (smallest kept |w|), kept, of, fraction."""
        self.rule = str(parse_rule(rule))
        out = None
        if self.trainer is not None and self.trainer.is_setup:
            p = Patch(self.fig)
            out = self._draw_preview(p, top=self._top())
            p.send()
        return self._preview_numbers(self.trainer) if out is None else out  # the cut's preview once

    def _preview_numbers(self, t) -> dict:
        """The trainer's own preview of the cut for this view's layer: every weight before the
        cut, the survivors after."""
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
        return f"the cut would keep {n:,} of {m:,} ({100 * n / max(m, 1):.1f}%) by {self.rule}, |w| >= {thr:.3g}"

    def _top(self) -> float:
        y = self.fig.data[0].y
        return float(max(max(y) if y is not None and len(y) else 1, 1)) * 1.5

    def _draw_preview(self, f: Patch, top: float, frame: Frame | None = None) -> dict | None:
        """Draw the preview of the cut to come (nothing after it); returns its numbers when it
        computed them, else None."""
        live = frame is None or frame.live
        t = self.trainer
        pending = t is not None and t.is_setup and t.cut_pending  # after the cut, the cut made is drawn instead
        numbers = self._preview_numbers(t) if live and self.mode == "abs" and pending else None
        if numbers and numbers["kept"]:
            thr, n, m, kept = self.kept
            hk = abs_histogram(kept)
            f.data[1].update(x=bin_centers(hk), y=hk["counts"])
            f.data[2].update(x=[thr, thr], y=[0.7, top], meta=numbers)
        else:
            f.data[1].update(x=[], y=[])
            f.data[2].update(x=[], y=[])
        return numbers

    # -- drawing -------------------------------------------------------------------------------
    def draw(self, frame: Frame):
        f, s = self.patch, frame.sample(self)
        if s is None:
            return
        step, t = frame.step, frame.trainer
        what = MODES[self.mode]
        pruned = s["total"] - s["alive"]
        if self.mode == "grad":
            h = s["grad"]
            if h is None:  # no gradients at this very step: the last recorded step that had them
                r = next((r for r in reversed(frame.records) if (r["samples"].get(self.key) or {}).get("grad")),
                         None)
                if r is None:
                    f.data[0].update(x=[], y=[])
                    self.title(f, f"|g| of layer {self.layer}",
                               "gradients are computed at the recorded steps of a run: press Run")
                    return
                s, step, h = r["samples"][self.key], r["step"], r["samples"][self.key]["grad"]
            x, y = bin_centers(h), h["counts"]
            meta = {k: h[k] for k in ("zeros", "under", "over", "n")}
            sub = f"{h['n']:,} gradients; {h['zeros']:,} exact zeros not drawn"
        elif self.mode == "signed":
            m, counts = s["signed"]
            if counts is None:
                f.data[0].update(x=[], y=[])
                self.title(f, f"w of layer {self.layer} at step {step:,}",
                           "signed values are recorded from the step this mode is chosen on: Run or Step")
                return
            edges = np.linspace(-m, m, SIGNED_BINS + 1)
            x, y = (edges[:-1] + edges[1:]) / 2, counts
            meta = {"zeros": pruned, "under": 0, "over": 0, "n": s["total"]}
            sub = f"{s['alive']:,} alive" + (f"; {pruned:,} pruned (zero) not drawn" if pruned else "")
        else:
            h = s["abs"]
            x, y = bin_centers(h), h["counts"]
            meta = {k: h[k] for k in ("zeros", "under", "over", "n")}
            sub = f"{s['alive']:,} alive" + (f"; {h['zeros']:,} pruned (zero) not drawn" if h["zeros"] else "")
        f.layout.annotations = []
        f.data[0].update(x=x, y=y, meta=meta, name=f"{what} at step {step:,}")
        f.layout.yaxis.update(**log_ticks([1, *y]))
        if len(x) and self.mode != "signed":  # half a decade of room: a threshold at the edge stays visible
            lo = float(np.log10(x[0]))
            if s["cut"] and self.mode == "abs":  # the cut made, even where the survivors have grown away from it
                lo = min(lo, float(np.log10(s["cut"])))
            f.layout.xaxis.range = [lo - 0.5, float(np.log10(x[-1])) + 0.5]
        elif len(x):
            f.layout.xaxis.range = [float(x[0]) * 1.05, float(x[-1]) * 1.05]
        top = float(max(np.max(y) if len(y) else 1, 1)) * 1.5
        self._draw_preview(f, top, frame)
        rg = s.get("regrown")
        if rg is not None and self.mode == "abs":
            f.data[4].update(x=rg[1], y=rg[2], name=f"regrown at step {rg[0]:,} ({int(np.sum(rg[2])):,})")
        else:
            f.data[4].update(x=[], y=[])
        cut = s["cut"]
        if cut is not None and self.mode == "abs":
            f.data[3].update(x=[cut, cut], y=[0.7, top])
        else:
            f.data[3].update(x=[], y=[])
        # before Run, what the histogram shows (the kept count is under the rule's control); then the cut to come
        if t is not None and step == 0 and frame.live and t.config.pruned_layer_indices():
            sub += ("<br>before Run: the initial weights; with no burn-in the cut ranks these random values: "
                    "a random cut" if not t.config.burn_in else
                    f"<br>before Run: the initial weights; the cut comes after {t.config.burn_in:,} burn-in steps")
        elif self.kept and self.mode == "abs" and frame.live and t is not None and t.cut_pending:
            sub += f"<br>{self.kept_label}"
        self.title(f, f"{what} of layer {self.layer} at step {step:,} ({s['alive']:,} of {s['total']:,} alive)",
                   sub)
