"""The dashboard's setting controls, built from RunConfig's metadata (config.SETTINGS).

`build(name, value)` makes the widget a setting's `control` metadata asks for; every control's
`.value` is the setting's value itself, or its text form for text boxes (`read`/`write`
convert), so the dashboard treats all of them alike. The prune rule gets `RuleControl`: a
menu of the rules declared in prune.RULES and a slider whose range each rule declares (log
scale where the rule says so: thresholds, budgets). A new setting with a `control` entry, or a
new rule, appears in the dashboard without touching this file or app/dashboard.py.
"""

from __future__ import annotations

import math

import ipywidgets as W
import traitlets

from ..config import SETTINGS, choices
from ..config_text import format_value, parse_text
from ..sparsity.prune import RULES, parse_rule

STYLE = {"description_width": "90px"}
WIDE, NARROW = "330px", "250px"


class RuleControl(W.VBox):
    """A rule as a menu of kinds and a slider; `value` is the rule's text ('halving:5'). The kinds
    come from a registry (prune.RULES, rewire.REWIRINGS): each declares its parameter's letter
    (`arg`), slider range (`slider`), `label` and, for prune rules, `whole` / `log_slider`."""

    value = traitlets.Unicode("none")

    def __init__(self, value: str = "none", description: str = "prune rule", kinds=None, parse=None):
        self.kinds, self.parse = (RULES, parse_rule) if kinds is None else (kinds, parse)
        self.kind = W.Dropdown(options=list(self.kinds), description=description, style=STYLE,
                               layout=W.Layout(width=NARROW))
        self.slider = W.FloatSlider(continuous_update=True, style=STYLE, layout=W.Layout(width=WIDE),
                                    readout_format=".2f")
        self.log_slider = W.FloatLogSlider(base=10, continuous_update=True, style=STYLE, layout=W.Layout(width=WIDE),
                                           readout_format=".3g")
        self._quiet = False
        super().__init__(children=[self.kind, self.slider, self.log_slider])
        self.set(value)
        self.kind.observe(lambda ch: self._on_kind(), names="value")
        self.slider.observe(lambda ch: self._on_slide(), names="value")
        self.log_slider.observe(lambda ch: self._on_slide(), names="value")

    def set(self, rule: str) -> None:
        """Show `rule` (any valid rule text) without firing the sliders' own handlers twice."""
        r = self.parse(rule)
        self._quiet = True
        try:
            self.kind.value = r.name
            self._arrange(r.name, r.value if r.kind.arg else None)
        finally:
            self._quiet = False
        self.value = str(r)

    def _arrange(self, name: str, value=None) -> None:
        k = self.kinds[name]
        log, whole = getattr(k, "log_slider", False), getattr(k, "whole", False)
        lo, hi, step, default = k.slider
        active, idle = (self.log_slider, self.slider) if log else (self.slider, self.log_slider)
        v = default if value is None else (math.log10(value) if log and value > 0 else value)
        if log and value is not None and value <= 0:
            v = lo
        with active.hold_trait_notifications():
            active.min, active.max = min(active.min, lo), max(active.max, hi)
            active.step = step
            active.value = 10**v if log else v
            active.min, active.max = lo, hi
        active.description = k.label or k.name
        active.readout_format = "d" if whole and not log else (".3g" if log else ".2f")
        active.disabled = not k.arg
        active.layout.display = None
        idle.layout.display = "none"

    def _text(self) -> str:
        k = self.kinds[self.kind.value]
        if not k.arg:
            return k.name
        log = getattr(k, "log_slider", False)
        v = self.log_slider.value if log else self.slider.value
        if getattr(k, "whole", False):
            return f"{k.name}:{max(int(round(v)), int(getattr(k, 'lo', 0)))}"
        return f"{k.name}:{float(f'{v:.3g}') if log else round(float(v), 4):g}"

    def _on_kind(self):
        if self._quiet:
            return
        self._quiet = True
        try:
            self._arrange(self.kind.value)
        finally:
            self._quiet = False
        self.value = self._text()

    def _on_slide(self):
        """A move of the slider sets the rule, unless it is the browser snapping the value shown to
        the slider's grid (keep:3140 shows as 10^3.5): within half a step of the rule's own
        position the rule stays as it is."""
        if self._quiet:
            return
        k = self.kinds[self.kind.value]
        r = self.parse(self.value)
        log = getattr(k, "log_slider", False)
        if r.name == k.name and k.arg:
            pos = (math.log10(r.value) if r.value > 0 else k.slider[0]) if log else r.value
            now = math.log10(self.log_slider.value) if log else self.slider.value
            if abs(now - pos) <= k.slider[2] / 2 + 1e-9:
                return
        self.value = self._text()


def build(name: str, value) -> W.Widget:
    """The widget that `SETTINGS[name].control` describes, showing `value`."""
    spec = SETTINGS[name]
    c = dict(spec.control)
    kind = c.pop("widget")
    label = c.pop("label", name.replace("_", " "))
    common = dict(description=label, style=STYLE)
    if kind == "rule":
        return RuleControl(value)
    if kind == "rewire":
        from ..sparsity.rewire import REWIRINGS, parse_rewire

        return RuleControl(value, description=label, kinds=REWIRINGS, parse=parse_rewire)
    if kind == "float_slider":
        lo, hi, step = c["slider"]
        return W.FloatSlider(value=value, min=lo, max=hi, step=step, continuous_update=False, readout_format=".2f",
                             layout=W.Layout(width=WIDE), **common)
    if kind == "off_log_slider":  # 0 (off), then log-spaced 1-2-5 values: a penalty is either off or a scale
        lo, hi = c["decades"]
        opts = [("off", 0.0)] + [(f"{m * 10.0**e:g}", m * 10.0**e) for e in range(lo, hi) for m in (1, 2, 5)]
        if value not in [v for _, v in opts]:
            opts = sorted(opts + [(f"{value:g}", float(value))], key=lambda o: o[1])
        return W.SelectionSlider(options=opts, value=float(value), continuous_update=False,
                                 layout=W.Layout(width=WIDE), **common)
    if kind == "dropdown":
        opts = list(choices(name))
        return W.Dropdown(options=opts, value=value if value in opts else opts[0], layout=W.Layout(width=NARROW),
                          **common)
    if kind == "text":
        return W.Text(value=format_value(name, value), continuous_update=False, layout=W.Layout(width=NARROW),
                      **common)
    if kind == "steps_slider":  # log-spaced choices: 0 is one step from 1, however long the range
        opts = sorted({*c["options"], int(value)})
        return W.SelectionSlider(options=opts, value=int(value), continuous_update=False,
                                 layout=W.Layout(width=WIDE), **common)
    if kind == "int_slider":
        return W.IntSlider(value=value, min=c["min"], max=max(c["max"], value), step=c.get("step", 1),
                           continuous_update=False, layout=W.Layout(width=WIDE), **common)
    if kind == "log_slider":
        return W.FloatLogSlider(value=value, base=10, min=c["min"], max=c["max"], step=c.get("step", 0.1),
                                continuous_update=True, readout_format=".2g", layout=W.Layout(width=WIDE), **common)
    if kind == "int_text":
        lo = int(spec.lo) if spec.lo is not None else 0
        return W.BoundedIntText(value=value, min=lo, max=c.get("max", 10**8), step=c.get("step", 1),
                                layout=W.Layout(width=NARROW), **common)
    raise ValueError(f"{name}: unknown control widget {kind!r}")


def read(name: str, widget: W.Widget):
    """The setting's value a control shows (text boxes are parsed; ConfigError if malformed)."""
    if isinstance(widget, W.Text):
        return parse_text(name, widget.value)
    return widget.value


def write(name: str, widget: W.Widget, value) -> None:
    """Show `value` in a control (which may fire its observers; callers silence them)."""
    if isinstance(widget, RuleControl):
        widget.set(value)
    elif isinstance(widget, W.Text):
        widget.value = format_value(name, value)
    elif isinstance(widget, W.IntSlider):
        widget.max = max(widget.max, value)
        widget.value = value
    elif isinstance(widget, W.SelectionSlider):
        values = [o[1] if isinstance(o, tuple) else o for o in widget.options]
        if value not in values:
            labelled = isinstance(widget.options[0], tuple)
            extra = (f"{value:g}", value) if labelled else value
            widget.options = sorted([*widget.options, extra], key=lambda o: o[1] if labelled else o)
        widget.value = value
    else:
        widget.value = value


def controlled() -> list[str]:
    """The settings that have a dashboard control, in RunConfig's order."""
    return [name for name, spec in SETTINGS.items() if spec.control]
