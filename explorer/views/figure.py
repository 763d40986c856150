"""The figure widget the views draw on: plotly's FigureWidget, with its 5 MB browser module
loaded once per page and kept once per kernel; `Patch`, which applies a redraw's edits in one
update; and `sync_figure`, which copies a figure into its saved widget state (for Voila,
reloads and notebooks saved with their widgets).
"""

from __future__ import annotations

import copy
from pathlib import Path

import anywidget
import numpy as np
import plotly
import plotly.graph_objects as go
import traitlets
from ipywidgets import widget_serialization

_PLOTLY_BUNDLE = Path(plotly.__file__).parent / "package_data" / "widgetbundle.js"  # plotly's FigureWidget._esm

# anywidget imports each widget's `_esm` from a fresh Blob URL and gives a model 2 s to get
# ready. plotly's FigureWidget module is 5 MB: one import took 0.94 s in headless Chromium
# here, six at once 5 s, so on a dashboard most figures missed the 2 s and never showed an
# update (Voila, JupyterLab). This small module imports plotly's bundle once per page (the
# first figure to start does it) and lets every figure use it. The bundle's text lives in ONE
# widget per kernel (`PlotlyModule`), which every figure points at: a notebook saved with its
# widget state (so that it reopens showing its figures) then holds the 5 MB once, not once
# per figure.
_SHARED_ESM = """
const KEY = "__explorerPlotlyWidget";
async function plotlyWidget() {
  // the PlotlyModule widget starts the import when its model is made; figures made before it
  // (a page rebuilt from saved state makes models in any order) wait for it
  for (let i = 0; !globalThis[KEY] && i < 600; i++) await new Promise((r) => setTimeout(r, 50));
  if (!globalThis[KEY]) throw new Error("explorer: plotly's module never arrived (PlotlyModule widget missing)");
  return globalThis[KEY];
}
async function widgetOf(model) {
  if (!model.__explorerWidget) {
    model.__explorerWidget = plotlyWidget().then(async (factory) => {
      const w = factory();
      await w.initialize({ model });
      return w;
    });
  }
  return model.__explorerWidget;
}
export default {
  // not awaited: a model made while plotly's module is still loading (the first figure of a
  // page) must not miss the messages the kernel sends it meanwhile; render waits instead
  initialize({ model }) { widgetOf(model); },
  async render({ model, el }) { return (await widgetOf(model)).render({ model, el }); },
};
"""

_MODULE_ESM = """
const KEY = "__explorerPlotlyWidget";
export default {
  initialize({ model }) {
    if (!globalThis[KEY]) {
      const url = URL.createObjectURL(new Blob([model.get("_bundle")], { type: "text/javascript" }));
      globalThis[KEY] = import(url).then((m) => { URL.revokeObjectURL(url); return m.default; });
    }
  },
};
"""


class PlotlyModule(anywidget.AnyWidget):
    """plotly's browser module as text, once per kernel (see _SHARED_ESM); never displayed."""

    _esm = _MODULE_ESM
    _bundle = traitlets.Unicode("").tag(sync=True)
    _instance = None

    @classmethod
    def shared(cls) -> PlotlyModule:
        if cls._instance is None:
            cls._instance = cls(_bundle=_PLOTLY_BUNDLE.read_text() if _PLOTLY_BUNDLE.is_file() else "")
        return cls._instance


class FigureWidget(go.FigureWidget):
    """plotly's FigureWidget whose 5 MB browser module is loaded once per page, not per figure."""

    _esm = _SHARED_ESM
    _module = traitlets.Instance(PlotlyModule, allow_none=True).tag(sync=True, **widget_serialization)

    def __init__(self, *args, **kwargs):
        module = PlotlyModule.shared()  # made (its comm opened) before the first figure's
        super().__init__(*args, **kwargs)
        self._module = module


class _Path:
    """Records `x.a.b = v` and `x.a.update(b=v)` as {"a.b": v} in a dict."""

    __slots__ = ("_sink", "_prefix")

    def __init__(self, sink: dict, prefix: str = ""):
        object.__setattr__(self, "_sink", sink)
        object.__setattr__(self, "_prefix", prefix)

    def __getattr__(self, name):
        return _Path(self._sink, f"{self._prefix}{name}.")

    def __setattr__(self, name, value):
        self._sink[self._prefix + name] = value

    def update(self, **props):
        for k, v in props.items():
            self._sink[self._prefix + k] = v


class Patch:
    """One redraw's edits to a figure, written like plotly's (`p.data[0].update(x=...)`,
    `p.layout.xaxis.range = ...`) and applied by `send` in one `plotly_update` per set of keys.

    Written by hand because plotly's property objects look up and validate the whole path on
    every set (~0.1-0.2 ms each): a view sets a dozen per redraw, seven views redraw six times
    a second, and that was most of what watching cost a run. `plotly_update` is plotly's own
    path for batched edits (what `batch_update` ends in): it checks each path once, keeps only
    the values that changed and sends one message (here one per set of keys the traces change).
    Values are not validated: the views pass numbers, strings, lists and numpy arrays. Reading
    goes to the figure itself (`Patch.fig`), which holds the values once `send` has run."""

    def __init__(self, fig):
        self.fig = fig
        self._traces: dict[int, dict] = {}
        self._layout: dict = {}
        self.layout = _Path(self._layout)

    @property
    def data(self):
        return _Traces(self._traces)

    def send(self) -> None:
        data, layout = self.fig._data, self.fig._layout
        # values equal to the figure's own are dropped here, by a plain comparison: plotly would
        # drop them too, but only after parsing and checking their paths (most of its cost)
        traces = {i: {k: v for k, v in ((k, _typed(v)) for k, v in props.items()) if not _same(data[i].get(k), v)}
                  for i, props in self._traces.items()}
        # traces that set the same keys go in one update. A trace in an update that leaves a key
        # another trace sets "as is" (plotly's Undefined) lost that value in the browser's copy of
        # the figure, which is what a saved notebook keeps (a cut line saved without its x).
        groups: dict[tuple, list] = {}
        for i in sorted(traces):
            if traces[i]:
                groups.setdefault(tuple(sorted(traces[i])), []).append(i)
        relayout = {k: v for k, v in self._layout.items() if not _same(_get(layout, k), v)}
        for keys, idx in groups.items():
            self.fig.plotly_update(restyle_data={k: [traces[i][k] for i in idx] for k in keys},
                                   relayout_data=relayout, trace_indexes=idx)
            relayout = {}
        if relayout:
            self.fig.plotly_update(relayout_data=relayout)
        self._traces, self._layout = {}, {}
        self.layout = _Path(self._layout)


def _get(d: dict, path: str):
    for k in path.split("."):
        if not isinstance(d, dict):
            return None
        d = d.get(k)
    return d


def _same(a, b) -> bool:
    """a == b for what figures hold (numbers, strings, lists, dicts, numpy arrays); False when unsure."""
    if a is None or b is None:
        return a is b
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape or a.dtype.kind not in "biuf" or b.dtype.kind not in "biuf":
            return False
        return bool(np.array_equal(a, b, equal_nan=True))
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if type(a) is not type(b) and not (isinstance(a, (int, float)) and isinstance(b, (int, float))):
        return False
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


def _typed(v):
    """Numbers as arrays plotly sends as typed buffers: its serializer does so only for 1-D
    arrays of at most 32-bit integers or floats and turns anything else into nested lists,
    which ipywidgets then walks number by number (a 116x116 image: 2 ms a redraw). A 2-D
    array goes as a list of its rows."""
    if not isinstance(v, np.ndarray) or v.dtype.kind not in "iuf":
        return v
    if v.dtype.kind in "iu" and v.dtype.itemsize == 8:
        v = v.astype(np.int32) if v.size == 0 or (abs(v).max() < 2**31) else v.astype(np.float64)
    return list(v) if v.ndim == 2 else v


class _Traces:
    __slots__ = ("_traces",)

    def __init__(self, traces: dict):
        self._traces = traces

    def __getitem__(self, i: int) -> _Path:
        return _Path(self._traces.setdefault(i, {}))


def sync_figure(fig) -> None:
    """Copy a FigureWidget into its saved widget state. FigureWidget sends later edits as
    one-off messages that a page built afterwards (Voila renders after the cell ran, a reload,
    a saved notebook reopened) never sees; its saved state is only what it was constructed
    with. Arrays go in as plain lists: plotly's browser side does not rebuild typed arrays from
    a notebook's saved state (a saved dashboard then never finished loading)."""
    fig._widget_data = _plain(fig._data)
    fig._widget_layout = _plain(fig._layout_obj._props)
    # sent even when traitlets sees no change (plotly may hold an equal value already): the
    # browser's copy has been edited in place by the update messages since the last sync
    fig.send_state(["_widget_data", "_widget_layout"])


_SCALARS = (int, float, str, bool, type(None))


def _plain(obj):
    """A deep copy with numpy arrays and scalars as JSON lists and numbers."""
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        if all(type(v) in _SCALARS for v in obj):  # the common case, long lists of numbers: one pass
            return list(obj)
        return [_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()  # nested lists of Python numbers already
    if isinstance(obj, np.generic):
        return obj.item()
    return copy.deepcopy(obj)
