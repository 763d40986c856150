"""The dashboard's panels besides the views: the replay bar (one step slider for every view),
the run history (a table, the overlaid accuracy curves, CSV), and the what-if chart (accuracy
and time against the cut's size and against the burn-in, with the dense and random-cut
references: the post's tables as a live chart, filling in as runs finish), and the page's style
for a saved view (no kernel behind the widgets).
"""

from __future__ import annotations

import html

import ipywidgets as W
import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..views.base import COLORS, WIDTH, FigureWidget, base_layout, log_ticks, placeholder, sync_figure
from .history import RunHistory, describe

# A notebook reopened from its saved widget state (or a page whose kernel is gone) has no kernel
# behind its widgets: ipywidgets then marks every widget with a broken-link icon that overlaps our
# labels and buttons. Inside the dashboard we hide those icons, grey out the controls (they do
# nothing) and say it once, above the dashboard, with what to do.
SAVED_VIEW_CSS = """<style>
.explorer-dashboard .jupyter-widgets-disconnected::before { content: none; display: none; }
.explorer-dashboard.jupyter-widgets-disconnected::before {
  content: "Saved view: no kernel is connected, so these are the figures of the last run and \\
the controls do nothing. Run the cell (Shift+Enter) to train again.";
  font: inherit; color: #8a6d3b; background: #fcf8e3; border: 1px solid #faebcc; padding: 6px 10px;
  margin-bottom: 6px; align-self: stretch;
}
.explorer-dashboard.jupyter-widgets-disconnected :is(button, input, select, .widget-slider, .widget-toggle-buttons) {
  pointer-events: none; opacity: 0.45;
}
</style>"""


class ReplayBar(W.HBox):
    """A step slider over a Board's history: drag (or Play) to replay every view at a recorded
    step; at the right end the views follow the run."""

    def __init__(self, board):
        self.board = board
        self.slider = W.IntSlider(value=0, min=0, max=0, description="replay", continuous_update=True,
                                  readout=False, layout=W.Layout(width="560px"), style={"description_width": "60px"})
        self.play = W.Play(value=0, min=0, max=0, interval=120, description="replay the recorded steps")
        W.jslink((self.play, "value"), (self.slider, "value"))
        self.label = W.HTML("")
        self._quiet = False
        self.slider.observe(lambda ch: self._moved(ch["new"]), names="value")
        super().__init__([self.play, self.slider, self.label], layout=W.Layout(align_items="center"))

    def refresh(self) -> None:
        """Follow the board: the slider's range is its history; at the end while following."""
        n = len(self.board.records)
        self._quiet = True
        try:
            self.slider.max = self.play.max = max(n - 1, 0)
            if self.board.index is None:
                self.slider.value = self.play.value = max(n - 1, 0)
        finally:
            self._quiet = False
        self._label()

    def _moved(self, i: int) -> None:
        if self._quiet:
            return
        follow = i >= len(self.board.records) - 1
        self.board.show(None if follow else i)
        self._label()

    def _label(self) -> None:
        b = self.board
        n = len(b.records)
        if not n:
            self.label.value = ""
            return
        if b.index is None:
            step = b.live["step"] if b.live else b.records[-1]["step"]
            self.label.value = (f"step {step:,} (live; {n} step{'s' if n != 1 else ''} recorded"
                                f"{' &mdash; drag to replay' if n > 1 else ''})")
        else:
            r = b.records[b.index]
            self.label.value = f"step {r['step']:,} ({r['phase'].replace('_', '-')}), record {b.index + 1} of {n}"


class HistoryPanel(W.VBox):
    """The finished runs: a table, their accuracy curves overlaid, select / hide / clear / CSV."""

    def __init__(self, history: RunHistory, on_select=None, on_export=None):
        self.history, self.on_select, self.on_export = history, on_select, on_export
        self.table = W.HTML(layout=W.Layout(max_height="220px", overflow="auto"))
        self.pick = W.SelectMultiple(options=[], rows=5, description="runs", layout=W.Layout(width="280px"),
                                     style={"description_width": "40px"})
        self.load = W.Button(description="Use", icon="undo", tooltip="show the first selected run (its settings)",
                             layout=W.Layout(width="64px"))
        self.hide = W.Button(description="Hide", icon="eye-slash", tooltip="hide or show the selected runs' curves",
                             layout=W.Layout(width="80px"))
        self.clear_button = W.Button(description="Clear", icon="trash", layout=W.Layout(width="72px"),
                                     tooltip="forget every run")
        self.csv = W.Button(description="CSV", icon="download", layout=W.Layout(width="74px"),
                            tooltip="write the table as runs.csv in the export folder")
        self.load.on_click(lambda b: self._use())
        self.hide.on_click(lambda b: self._toggle())
        self.clear_button.on_click(lambda b: self.clear())
        self.csv.on_click(lambda b: self.on_export and self.on_export())
        self.fig = FigureWidget(
            data=[], layout=base_layout("test accuracy of the runs so far", height=300, width=WIDTH,
                                        xaxis=dict(title="step", range=[0, 1]),
                                        yaxis=dict(title="test accuracy", range=[0, 1]),
                                        annotations=[placeholder("every finished run adds a row and a curve")]))
        buttons = W.VBox([W.HBox([self.load, self.hide]), W.HBox([self.clear_button, self.csv])])
        super().__init__([W.HTML("<b>Runs</b> (newest last)"), self.table, W.HBox([self.pick, buttons]), self.fig])
        self.refresh()

    def refresh(self) -> None:
        rows = list(self.history)
        head = "<tr><th>#</th><th>settings</th><th>accuracy</th><th>alive</th><th>s</th><th></th></tr>"
        body = "".join(
            f"<tr style='opacity:{1 if e.shown else 0.45}'><td>{e.number}</td>"
            f"<td>{html.escape(describe(e.config))}</td>"
            f"<td>{'-' if e.accuracy is None else f'{e.accuracy:.3f}'}</td><td>{e.alive:,}</td>"
            f"<td>{e.seconds:.2f}</td><td>{e.status}</td></tr>" for e in rows)
        self.table.value = (f"<table style='font-size:12px;border-collapse:collapse' cellpadding='3'>{head}{body}"
                            "</table>" if rows else "<i>no finished runs yet</i>")
        self.pick.options = [(e.label, e.key) for e in rows]
        with self.fig.batch_update():
            self.fig.data = []
            for e in rows:
                if e.shown and e.curve[0]:
                    self.fig.add_scatter(x=list(e.curve[0]), y=list(e.curve[1]), mode="lines+markers",
                                         marker=dict(size=3), name=f"#{e.number}", hovertext=describe(e.config))
            self.fig.layout.annotations = [] if rows else [placeholder("every finished run adds a row and a curve")]
            self.fig.layout.xaxis.autorange = bool(rows)
        sync_figure(self.fig)

    def _selected(self):
        return [self.history.entries[k] for k in self.pick.value if k in self.history.entries]

    def _use(self):
        sel = self._selected()
        if sel and self.on_select is not None:
            self.on_select(sel[0])

    def _toggle(self):
        for e in self._selected():
            e.shown = not e.shown
        self.refresh()

    def clear(self):
        self.history.clear()
        self.refresh()


class WhatIf(W.VBox):
    """Accuracy (and time) against the fraction of the cut layers kept and against the burn-in,
    for the finished runs that share every other setting with the current one."""

    def __init__(self):
        base = make_subplots(rows=1, cols=2, horizontal_spacing=0.14, specs=[[{"secondary_y": True},
                                                                              {"secondary_y": True}]])
        layout = base.layout.to_plotly_json()
        layout.update(base_layout("what if: the runs so far that differ only in the cut or the burn-in",
                                  height=340, width=2 * WIDTH + 4, margin=dict(l=60, r=60, t=58, b=78)))
        layout["xaxis"].update(title=dict(text="fraction of the cut layers' weights kept"), type="log")
        layout["yaxis"].update(title=dict(text="test accuracy"), range=[0, 1])
        layout["yaxis2"].update(title=dict(text="seconds"), showgrid=False, rangemode="tozero", tickformat=".2~g",
                                nticks=5)
        layout["xaxis2"].update(title=dict(text="burn-in steps before the cut"))
        layout["yaxis3"].update(title=dict(text="test accuracy"), range=[0, 1])
        layout["yaxis4"].update(title=dict(text="seconds"), showgrid=False, rangemode="tozero", tickformat=".2~g",
                                nticks=5)
        layout["annotations"] = [dict(placeholder("change the cut<br>(or press Fill in)"), xref="x domain",
                                      yref="y domain"),
                                 dict(placeholder("change the burn-in<br>(or press Fill in)"), xref="x2 domain",
                                      yref="y3 domain")]
        layout["xaxis"]["range"] = [-3, 0.05]
        layout["xaxis2"]["range"] = [0, 1000]
        styles = [("magnitude cut", COLORS["sparse"], "x", "y"), ("random cut", COLORS["cut"], "x", "y"),
                  ("dense (no cut)", COLORS["dense"], "x", "y"), ("seconds", COLORS["ref"], "x", "y2"),
                  ("accuracy vs burn-in", COLORS["sparse"], "x2", "y3"), ("seconds ", COLORS["ref"], "x2", "y4")]
        data = [go.Scatter(name=n, x=[], y=[], mode="lines+markers", xaxis=xa, yaxis=ya,
                           line=dict(color=c, dash="dot" if n.startswith("seconds") else "solid"),
                           showlegend=n != "seconds ") for n, c, xa, ya in styles]
        self.fig = FigureWidget(data=data, layout=layout)
        self.fill = W.Button(description="Fill in", icon="th", tooltip="run the cut sizes, random cuts and "
                             "burn-ins this chart needs, one after another (fast pace)", layout=W.Layout(width="90px"))
        super().__init__([self.fill, self.fig])

    def refresh(self, history: RunHistory, cfg) -> None:
        cut = history.related(cfg, "prune")
        mag = sorted((e for e in cut if e.config.prune not in ("none",) and not e.config.prune.startswith("random")),
                     key=lambda e: e.kept)
        rnd = sorted((e for e in cut if e.config.prune.startswith("random")), key=lambda e: e.kept)
        dense = [e for e in cut if e.config.prune == "none"]
        burn = sorted(history.related(cfg, "burn_in"), key=lambda e: e.config.burn_in)
        f = self.fig

        def xy(es, x):
            return [x(e) for e in es], [e.accuracy for e in es]

        with f.batch_update():
            f.data[0].update(**dict(zip("xy", xy(mag, lambda e: e.kept))), text=[e.config.prune for e in mag])
            f.data[1].update(**dict(zip("xy", xy(rnd, lambda e: e.kept))), text=[e.config.prune for e in rnd])
            lo = min([e.kept for e in mag + rnd] or [0.01])
            f.data[2].update(x=[lo, 1.0] if dense else [], y=[dense[0].accuracy] * 2 if dense else [])
            all_cut = sorted(mag + rnd + dense, key=lambda e: e.kept)
            f.data[3].update(x=[e.kept for e in all_cut], y=[round(e.seconds, 3) for e in all_cut])
            f.data[4].update(**dict(zip("xy", xy(burn, lambda e: e.config.burn_in))))
            f.data[5].update(x=[e.config.burn_in for e in burn], y=[round(e.seconds, 3) for e in burn])
            n = len(mag) + len(rnd) + len(dense) + len(burn)
            if n:
                f.layout.annotations = []
                f.layout.xaxis.autorange = f.layout.xaxis2.autorange = True
                f.layout.xaxis.update(**log_ticks([e.kept for e in all_cut]))  # no bare "2" and "5" labels
                f.layout.xaxis2.rangemode = "tozero"  # one burn-in is not a range of 199..201
            f.layout.title.subtitle.text = (f"{describe(cfg)}; {len(mag)} magnitude, {len(rnd)} random, "
                                            f"{len(dense)} dense, {len(burn)} burn-in runs" if n else "")
        sync_figure(f)


def fill_in_configs(cfg) -> list:
    """The runs the what-if chart needs around `cfg`: the cut rule's slider values (and a random
    cut of the same size for each), no cut, and burn-ins 0 .. 5,000."""
    from ..sparsity.prune import RULES, parse_rule

    r = parse_rule(cfg.prune)
    kind = RULES[r.name] if r.name not in ("none", "random") else RULES["halving"]
    lo, hi, step, _ = kind.slider
    if kind.whole and not kind.log_slider:
        values = list(range(int(lo), int(hi) + 1, max(int(step), 1)))[:8]
    else:
        values = list(np.round(np.linspace(lo, hi, 6), 3))
    out = [cfg.replace(prune="none")]
    for v in values:
        x = 10**v if kind.log_slider else v
        text = f"{kind.name}:{int(x) if kind.whole else x:g}"
        try:
            rule = str(parse_rule(text))
        except Exception:
            continue
        out.append(cfg.replace(prune=rule))
    out += [cfg.replace(burn_in=b) for b in (0, 50, 200, 1000, 5000) if b != cfg.burn_in]
    return out
