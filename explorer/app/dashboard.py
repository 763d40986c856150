"""Explorer: the dashboard -- setting controls over a Trainer, the live views on one frame
clock, a replay bar, the run history and the what-if chart.

    from explorer import Explorer
    Explorer(dataset="auto")          # the last expression of a cell shows the dashboard

Controls come from RunConfig's metadata (controls.py). With "live" on (the default when a run
is estimated to take under ~3 s), any change to a setting re-runs the experiment at once
(debounced, a run in flight is cancelled) at the fast pace, and a setting already run is shown
from the history at once. With live off, a change to the structure makes a new run at step 0
(press Run), the learning rate acts on the next step, and the prune rule is previewed on the
|w| histogram (and used by the cut if it has not been made yet). Run plays the run at the
chosen pace ("watch": the burn-in and the cut play out over a few seconds). In Voila, the page
URL's query string sets the controls (link.py); Share shows that link and the equivalent
`explorer train` command. Bad input never raises in the page: the status line says it.

For tests and scripts: `app.run_sync(steps)`, `app.controls`, `app.views`, `app.board`,
`app.trainer`, `app.history`, `app.export(folder)`, `app.save_config(path)`, `app.load_config(path)`.
"""

from __future__ import annotations

import asyncio
import html
import os

import ipywidgets as W

from ..config import SETTINGS, RunConfig
from ..data import load
from ..errors import ExplorerError
from ..sparsity.prune import parse_rule
from ..training.trainer import Trainer
from ..views import VIEWS, Board
from ..views.accuracy import collapse_step
from ..views.base import WIDTH
from . import controls as C
from . import link
from .actions import Actions
from .history import RunHistory
from .panels import SAVED_VIEW_CSS, HistoryPanel, ReplayBar, WhatIf
from .reruns import Reruns
from .runner import PACES, Runner

LIVE_SECONDS = 3.0  # live re-runs are on by default when a run is estimated to take less
EVALS = 12  # evaluations over a run, for the accuracy curve


def nice_eval_every(total_steps: int, points: int = EVALS) -> int:
    """About `points` evaluations over the run, at a round step count."""
    raw = max(1, total_steps // points)
    mag = 10 ** (len(str(raw)) - 1)
    return max(1, (raw // mag) * mag)


def estimate_seconds(cfg: RunConfig) -> float:
    """A rough run time, to decide whether live re-runs are the default: ~10 ns per weight and
    sample dense, the post's headline run (0.3 s) as the sparse yardstick."""
    width = sum(cfg.hidden) * 800 + sum(a * b for a, b in zip(cfg.hidden, cfg.hidden[1:]))
    dense = cfg.burn_in * cfg.batch_size * width * 1e-8
    return dense + cfg.steps * cfg.batch_size * 1e-5


class Explorer(Actions, Reruns, W.VBox):
    """The dashboard. `Explorer(dataset="auto", **config)`: any RunConfig field as a keyword;
    `live` (default: on for short runs), `pace` ("watch", "quick", "fast"), `query` (a link's
    query string; default: the page's, in Voila)."""

    def __init__(self, dataset: str = "auto", config: RunConfig | None = None, live: bool | None = None,
                 pace: str = "watch", query: str | None = None, **overrides):
        self.status = W.HTML(value="", layout=W.Layout(min_height="24px"))
        self.status.add_class("explorer-status")
        self.last_error = None
        self.export_note = None
        self._datasets: dict = {}
        self._quiet = False
        self._pending = None  # the debounced live re-run
        self._queue: list = []  # runs waiting (Fill in)
        self.trainer = self.ref_trainer = None
        self.focus = None  # the user's setting: what the what-if chart is about
        problems = []
        try:
            cfg = link.initial_config(config, dataset)
            cfg = cfg.replace(**overrides) if overrides else cfg
            cfg.validate()
        except ExplorerError as e:  # shown in the page, with the defaults in the controls
            problems.append(str(e))
            cfg = RunConfig(dataset=dataset if isinstance(dataset, str) else "auto")
            try:
                cfg.validate()
            except ExplorerError:
                cfg = RunConfig()
        query = os.environ.get("QUERY_STRING", "") if query is None else query
        cfg, link_problems = link.settings_from_query(query, cfg)
        problems += link_problems
        self.config, self._auto_eval = cfg, cfg.eval_every == 0
        self.views = {key: cls() for key, cls in VIEWS.items()}
        self.board = Board(list(self.views.values()))
        self.history = RunHistory()
        self.runner = Runner(on_chunk=self._on_chunk, on_end=self._on_end, on_error=self._error)
        self.controls = self._build_controls(cfg, live, pace)
        self.replay = ReplayBar(self.board)
        self.history_panel = HistoryPanel(self.history, on_select=self._guarded(self._use_run),
                                          on_export=self._guarded(self.export_history))
        self.whatif = WhatIf()
        self.whatif.fill.on_click(self._guarded(lambda b: self.fill_in()))
        super().__init__(children=self._layout())
        self.add_class("explorer-dashboard")
        self._new_run(cfg)
        if problems:
            self._error("; ".join(problems))
        self.board.sync_state()  # the page may be built from the saved state after this (Voila)

    # -- controls and layout ----------------------------------------------------------------------
    def _build_controls(self, cfg: RunConfig, live, pace) -> dict:
        L = lambda w: W.Layout(width=w)
        c = {name: C.build(name, getattr(cfg, name)) for name in C.controlled()}
        live = estimate_seconds(cfg) < LIVE_SECONDS if live is None else bool(live)
        c.update({
            "kept": W.HTML(value="", layout=W.Layout(margin="0 0 0 8px")),
            "run": W.Button(description="Run", button_style="success", icon="play", layout=L("74px")),
            "pause": W.Button(description="Pause", icon="pause", layout=L("74px")),
            "step": W.Button(description="Step", icon="step-forward", layout=L("70px"),
                             tooltip="advance 1% of the run"),
            "stop": W.Button(description="Stop", icon="stop", button_style="danger", layout=L("70px"),
                             tooltip="end the run now: final evaluation and results"),
            "reset": W.Button(description="Reset", icon="refresh", layout=L("74px")),
            "pace": W.ToggleButtons(options=list(PACES), value=pace if pace in PACES else "watch",
                                    tooltips=["the burn-in and the cut play out (~8 s)", "~3 s", "as fast as it goes"],
                                    style={"button_width": "60px"}, layout=L("210px")),
            "live": W.Checkbox(value=live, description="live: re-run on every change", indent=False),
            "compare": W.Checkbox(value=False, description="compare with dense", indent=False),
            "folder": W.Text(value="figures", description="export to", style=C.STYLE, layout=L("250px")),
            "export": W.Button(description="Export", icon="download", layout=L("90px")),
            "config_path": W.Text(value="explorer-config.json", description="config file", style=C.STYLE,
                                  layout=L("250px")),
            "save": W.Button(icon="save", tooltip="save the settings to the config file", layout=L("44px")),
            "load": W.Button(icon="folder-open", tooltip="load the settings from the config file", layout=L("44px")),
            "share": W.Button(description="Share", icon="share-alt", layout=L("80px"),
                              tooltip="the link and the command for these settings"),
            "shared": W.Textarea(value="", rows=3, layout=L("330px"), disabled=False),
        })
        c["shared"].layout.display = "none"
        for name in C.controlled():
            c[name].observe(self._guarded(lambda ch, name=name: self._on_setting(name)), names="value")
        for name, fn in (("run", self.run), ("pause", self.pause), ("step", self.step), ("stop", self.stop),
                         ("reset", self.reset), ("export", self.export), ("save", self.save_config),
                         ("load", self.load_config), ("share", self.share)):
            c[name].on_click(self._guarded(lambda b, fn=fn: fn()))
        c["compare"].observe(self._guarded(lambda ch: self._on_compare()), names="value")
        return c

    def _guarded(self, handler):
        """A widget's handler whose errors, of any kind, go to the status line: a click or a
        control change never ends in a traceback under the widget (as the runner does for a run)."""
        def call(*args):
            try:
                return handler(*args)
            except Exception as e:
                self._error(e)

        return call

    def _layout(self) -> list:
        c, v = self.controls, self.views
        title = W.HTML(SAVED_VIEW_CSS + "<b>explorer</b>: burn in densely, kill the small weights for good, "
                       "train sparse &mdash; and watch why it works")
        settings = [w for n in C.controlled() for w in ([c[n], c["kept"]] if n == "prune" else [c[n]])]
        pace = W.HBox([c["reset"], W.HTML("&nbsp;pace&nbsp;"), c["pace"]], layout=W.Layout(align_items="center"))
        panel = W.VBox([W.HBox([c["run"], c["pause"], c["step"], c["stop"]]), pace, c["live"], c["compare"], *settings,
                        W.HBox([c["folder"], c["export"]]), W.HBox([c["config_path"], c["save"], c["load"]]),
                        c["share"], c["shared"]],
                       layout=W.Layout(width="340px", min_width="340px"))
        keys = list(v)
        # every view keeps its width; the rows wrap in a narrower page (a JupyterLab notebook cell)
        box = lambda w: W.Box([w], layout=W.Layout(min_width=f"{WIDTH + 4}px", width=f"{WIDTH + 4}px"))
        wrap = W.Layout(flex_flow="row wrap", align_items="flex-start")
        top = W.HBox([box(v[k].widget) for k in keys[:2]], layout=wrap)
        rest = W.HBox([box(v[k].widget) for k in keys[2:]] + [box(self.history_panel)], layout=wrap)
        # beside the controls when two views fit there (the rest of a 1600-pixel page), else below them
        main = W.VBox([top, self.replay, rest, self.whatif],
                      layout=W.Layout(flex="1 1 0%", min_width=f"{WIDTH + 4}px", max_width=f"{2 * WIDTH + 16}px"))
        return [title, self.status, W.HBox([panel, main], layout=wrap)]

    # -- config <-> widgets ---------------------------------------------------------------------------
    @property
    def rule(self) -> str:
        return self.controls["prune"].value

    def config_from_controls(self) -> RunConfig:
        """The RunConfig the widgets describe now (validated; ConfigError if not valid)."""
        cfg = self.config.replace(**{name: C.read(name, self.controls[name]) for name in C.controlled()})
        if self._auto_eval:
            cfg = cfg.replace(eval_every=nice_eval_every(cfg.burn_in + cfg.steps))
        return cfg.validate()

    def _set_controls(self, cfg: RunConfig) -> None:
        self._quiet = True
        try:
            for name in C.controlled():
                C.write(name, self.controls[name], getattr(cfg, name))
        finally:
            self._quiet = False

    # -- runs -----------------------------------------------------------------------------------------
    def _dataset(self, cfg: RunConfig):
        key = (cfg.dataset, cfg.data_dir)
        if key not in self._datasets:
            self._datasets[key] = load(cfg.dataset, cfg.data_dir, verbose=False)
        return self._datasets[key]

    def _new_run(self, cfg: RunConfig, focus: bool = True) -> bool:
        """A fresh run at step 0 for `cfg`, shown before Run (the initial weights); False on bad input.
        focus=False (queued what-if runs): the controls and the what-if chart stay on the user's setting."""
        self.runner.cancel()
        try:
            self._auto_eval = cfg.eval_every == 0
            if self._auto_eval:
                cfg = cfg.replace(eval_every=nice_eval_every(cfg.burn_in + cfg.steps))
            data = self._dataset(cfg)
            if cfg.dataset == "auto":
                cfg = cfg.replace(dataset=data.name)
                self._datasets[(data.name, cfg.data_dir)] = data
            cfg.validate()
            if focus:
                self.config = self.focus = cfg
                self._set_controls(cfg)
            self.trainer = Trainer(cfg, callbacks=[self.board]).setup(data)
        except (ExplorerError, MemoryError) as e:
            self._error(e if isinstance(e, ExplorerError) else f"not enough memory for this run ({e})")
            return False
        self.ref_trainer = None
        self.views["weights"].rule = str(parse_rule(self.rule))  # drawn (and saved) with the first frame
        self.board.attach(self.trainer)
        self._kept()
        self.replay.refresh()
        self._show(f"ready: {self.trainer.data.name}, {self._shape_text()}, {cfg.burn_in:,} burn-in steps, "
                   f"{cfg.prune}, {cfg.steps:,} steps &mdash; press Run")
        return True

    def _shape_text(self) -> str:
        return "-".join(str(n - (i == 0)) for i, n in enumerate(self.trainer.layer_sizes))

    def _start_reference(self):
        t = self.trainer
        if self.controls["compare"].value and self.ref_trainer is None and t.state.step == 0:
            self.ref_trainer = Trainer(t.config.replace(prune="none"),
                                       callbacks=[self.views["accuracy"].reference_callback()])
            self.ref_trainer.setup(self._dataset(t.config))

    def run_sync(self, steps: int | None = None) -> Explorer:
        """Run the same chunk loop as Run, synchronously (fast pace): `steps` more steps (None: to the end)."""
        if self.running:
            raise ExplorerError("a run is going on; Pause or Stop it first")
        self._start_reference()
        target = None if steps is None else self.trainer.state.step + steps
        while True:
            left = None if target is None else target - self.trainer.state.step
            if left is not None and left <= 0:
                break
            if not self.runner.advance(self.trainer, self.ref_trainer, steps=left if left is not None else None):
                break
        self._on_end()
        return self

    @property
    def running(self) -> bool:
        return self.runner.running

    def run(self, pace: str | None = None):
        """Start (or resume) training in an asyncio task at the chosen pace; nothing if one is running."""
        if self.running:
            return self._show("already running")
        if self.trainer is None:
            return self._show("fix the settings first (see the error above)")
        if self.trainer.done:
            return self._show("the run is over: Reset (or change a setting) to train again")
        try:
            return self._go(pace or self.controls["pace"].value, reference=True)
        except ExplorerError as e:
            return self._error(e)

    def _go(self, pace: str, reference: bool = False):
        """Train the current run on: in an asyncio task at `pace` (in a page), or here and now
        where no event loop runs (scripts, tests). `reference`: with the dense reference when
        "compare with dense" is on (Run; re-runs and Fill in train without it)."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return self.run_sync()
        if reference:
            self._start_reference()
        return self.runner.start(self.trainer, self.ref_trainer if reference else None, pace)

    def pause(self):
        if self.running:
            self.runner.paused = True
            self._show(f"paused at step {self.trainer.state.step:,} &mdash; Run to go on")

    def step(self):
        """Advance 1% of the run (when no run is going)."""
        if self.running:
            return self._show("running: Pause first")
        if self.trainer is None or self.trainer.done:
            return None
        try:
            self._start_reference()
            self.runner.advance(self.trainer, self.ref_trainer, steps=max(1, self.trainer.total_steps // 100))
            self.board.frame(force=True)
            self._on_end()
        except ExplorerError as e:
            self._error(e)

    def stop(self):
        """End the run now: final evaluation, results (and of the dense reference)."""
        self.runner.cancel()
        self._queue.clear()
        stopped = False
        for t in (self.trainer, self.ref_trainer):
            if t is not None and not t.done:
                t.stop_training = True
                t.run(steps=0)
                stopped = True
        self._on_end(stopped=stopped)

    def reset(self):
        """Back to step 0 with the settings shown."""
        self._queue.clear()
        try:
            self._new_run(self.config_from_controls())
        except ExplorerError as e:
            self._error(e)

    # -- events ---------------------------------------------------------------------------------------
    def _on_chunk(self):
        self.replay.refresh()
        self._kept()
        self._status()

    def _on_end(self, stopped: bool = False):
        t = self.trainer
        if t is not None and t.done and (self.ref_trainer is None or self.ref_trainer.done):
            known = self.history.get(t.config)
            if known is None or known.trainer is not t:
                self.history.add(t, self.board)
                self.history_panel.refresh()
                self.whatif.refresh(self.history, self.focus)
            self.replay.refresh()
            self._kept()
            self._status(note="stopped" if stopped or t.results_.get("stopped_early") else "done")
            if self._queue:
                self._next_in_queue()
        else:
            self.replay.refresh()
            self._status()

    def _on_setting(self, name: str):
        if self._quiet:
            return
        try:
            if name == "prune" and not self.controls["live"].value:
                return self._on_rule()
            if SETTINGS[name].live and not self.controls["live"].value:
                return self._on_lr(float(self.controls[name].value))
            cfg = self.config_from_controls()
        except ExplorerError as e:
            return self._error(e)
        if self.controls["live"].value:
            return self._debounced_rerun()
        self._new_run(cfg)

    def _on_rule(self):
        rule = self.rule
        self.config = self.config.replace(prune=rule).validate()
        t, note = self.trainer, ""
        if t is not None and t.cut_pending and self.config.prune_layers == t.config.prune_layers:
            t.set_prune(rule)  # the cut to come uses the new rule
        elif t is not None:
            note = f" (the cut was made with {t.config.prune}; Reset to train with {rule})"
        self._preview(note)

    def _preview(self, note: str = "") -> dict:
        """Threshold line, kept count and after-cut histogram for the slider's rule, no training."""
        out = self.views["weights"].preview(self.rule)
        self._kept(note)
        return out

    def _kept(self, note: str = "") -> None:
        """Under the rule: what the cut to come would keep, or what the cut made kept."""
        t = self.trainer
        if t is None:
            return
        if t.cut_pending:
            text = self.views["weights"].kept_label or "no cut: dense training throughout"
        elif t.masks_ is None:
            text = "no cut: dense training throughout"
        else:
            layers = t.config.pruned_layer_indices()
            alive = sum(int(t.masks_[l].sum()) for l in layers)
            total = sum(t.masks_[l].size for l in layers)
            text = (f"the cut at step {t.config.burn_in:,} kept {alive:,} of {total:,} weights "
                    f"({100 * alive / max(total, 1):.1f}%) by {t.config.prune}")
        self.controls["kept"].value = html.escape(text) + note

    def _on_lr(self, lr: float):
        self.config = self.config.replace(lr=lr).validate()
        t = self.trainer
        if t is None:
            return
        t.set_lr(lr)
        if t.state.step > 0:
            self.board.mark("lr", t.state.step, lr=lr)
        if self.ref_trainer is not None and not self.ref_trainer.done:
            self.ref_trainer.set_lr(lr)
        self._show(f"learning rate {lr:.3g} from step {t.state.step:,}")

    def _on_compare(self):
        if self.controls["compare"].value and self.trainer is not None and self.trainer.state.step > 0:
            self._show("the dense reference starts with the next run (Reset, then Run)")

    # -- status ---------------------------------------------------------------------------------------------
    def _show(self, text: str) -> None:
        self.status.value = f"<span style='color:#333'>{text}</span>"

    def _error(self, e) -> None:
        self.status.value = f"<span style='color:#c00'><b>error:</b> {html.escape(str(e))}</span>"
        self.last_error = str(e)

    def _status(self, note: str = "") -> None:
        t = self.trainer
        if t is None:
            return
        s = t.state
        acc = s.metrics.get("test_accuracy")
        parts = [f"step {s.step:,} of {t.total_steps:,}", s.phase.replace("_", "-") if not note else note]
        if acc is not None:
            parts.append(f"test accuracy {acc:.3f}")
        parts.append(f"weights alive {sum(lv.n_alive for lv in s.layers):,}")
        if self.ref_trainer is not None:
            ra = self.ref_trainer.state.metrics.get("test_accuracy")
            parts.append(f"dense step {self.ref_trainer.state.step:,}" + (f" acc {ra:.3f}" if ra is not None else ""))
        if t.lr_changes_:
            step, lr = t.lr_changes_[-1]
            parts.append(f"lr {lr:.3g} since step {step:,}")
        c = collapse_step(self.board.evals, t.data.n_classes)
        if c is not None:
            parts.append(f"<b>collapsed to chance at step {c:,}</b> (lower the learning rate)")
        if t.diverged_:
            parts.append(html.escape(t.diverged_))
        for w in (t.results_ or {}).get("warnings", []):
            parts.append(f"<b>warning:</b> {html.escape(w)}")
        if self.runner.paused and self.running:
            parts.append("paused")
        self._show(" &middot; ".join(parts))

    def __repr__(self):
        return f"Explorer({self.trainer!r})"
