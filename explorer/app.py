"""Explorer: the dashboard -- ipywidgets controls over a Trainer, with the six live views.

    from explorer import Explorer
    Explorer(dataset="auto")          # the last expression of a cell shows the dashboard

Two kinds of controls (STYLE.md 7): structural ones (data set, hidden units, burn-in,
layers to prune, batch size, steps, seed) build a new run at step 0; live ones apply
without retraining: the learning rate on the next step (`trainer.set_lr`), the prune rule
and its slider as a preview on the weight histogram (and as the rule of the cut, if the
cut has not been made yet). Training runs in chunks from an asyncio task that yields
between chunks, so Pause/Stop/sliders work mid-run; a second Run while one is going does
nothing. Bad input never raises in the page: the one-line message goes to the status line.

For tests and scripts: `app.run_sync(steps)`, `app.controls` (the widgets by name),
`app.views`, `app.trainer`, `app.export(folder)`, `app.save_config(path)`, `app.load_config(path)`.
"""

from __future__ import annotations

import asyncio
import html
import time
from pathlib import Path

import ipywidgets as W

from . import controls as C
from .config import SETTINGS, RunConfig
from .data import load
from .errors import ExplorerError
from .export import write_run_bundle, write_text_atomic
from .trainer import Trainer
from .views import all_views

# a change to one of these starts a new run at step 0; live settings (lr) act on the next step and the
# prune rule is previewed (and used by the cut if it has not been made yet)
STRUCTURAL = tuple(n for n in C.controlled() if not SETTINGS[n].live and n != "prune")
LIVE = tuple(n for n in C.controlled() if SETTINGS[n].live)
CHUNK_SECONDS = 0.05  # work per chunk before yielding to the kernel's event loop


def nice_eval_every(total_steps: int, points: int = 20) -> int:
    """About `points` evaluations over the run, at a round step count."""
    raw = max(1, total_steps // points)
    mag = 10 ** (len(str(raw)) - 1)
    return max(1, (raw // mag) * mag)


class Explorer(W.VBox):
    """The dashboard. `Explorer(dataset="auto", **config)`: any RunConfig field as a keyword."""

    def __init__(self, dataset: str = "auto", config: RunConfig | None = None, **overrides):
        self.status = W.HTML(value="", layout=W.Layout(min_height="24px"))
        self._datasets: dict = {}
        self._task = None
        self._running = False
        self._pause = False
        self._quiet = False
        self._chunk = 500
        self._last_status = 0.0
        self.ref_trainer = None
        self.trainer = None
        cfg = config if config is not None else RunConfig(dataset=dataset)
        cfg = cfg.replace(**overrides) if overrides else cfg
        self.config, self._auto_eval = cfg, cfg.eval_every == 0
        self.views = all_views()
        self.controls = self._build_controls(cfg)
        super().__init__(children=self._layout())
        self.add_class("explorer-dashboard")
        try:
            self._new_run(cfg)
        except ExplorerError as e:
            self._error(e)

    # -- controls ------------------------------------------------------------------------------
    def _build_controls(self, cfg: RunConfig) -> dict:
        L = lambda w: W.Layout(width=w)
        st = C.STYLE
        c = {name: C.build(name, getattr(cfg, name)) for name in C.controlled()}
        c.update({
            "kept": W.HTML(value=""),
            "compare": W.Checkbox(value=False, description="compare with dense", indent=False),
            "run": W.Button(description="Run", button_style="success", icon="play", layout=L("80px")),
            "pause": W.Button(description="Pause", icon="pause", layout=L("80px")),
            "step": W.Button(description="Step", icon="step-forward", layout=L("80px"),
                             tooltip="advance 1% of the run"),
            "stop": W.Button(description="Stop", icon="stop", button_style="danger", layout=L("80px"),
                             tooltip="end the run now: final evaluation and results"),
            "reset": W.Button(description="Reset", icon="refresh", layout=L("80px")),
            "folder": W.Text(value="figures", description="export to", style=st, layout=L("250px")),
            "export": W.Button(description="Export", icon="download", layout=L("90px")),
            "config_path": W.Text(value="explorer-config.json", description="config file", style=st,
                                  layout=L("250px")),
            "save": W.Button(description="Save", icon="save", layout=L("70px")),
            "load": W.Button(description="Load", icon="folder-open", layout=L("70px")),
        })
        for name in STRUCTURAL:
            c[name].observe(self._on_structural, names="value")
        for name in LIVE:
            c[name].observe(lambda ch, name=name: self._on_live(name, ch["new"]), names="value")
        c["prune"].observe(self._on_prune_value, names="value")
        c["compare"].observe(lambda ch: self._on_compare(), names="value")
        c["run"].on_click(lambda b: self.run())
        c["pause"].on_click(lambda b: self.pause())
        c["step"].on_click(lambda b: self.step())
        c["stop"].on_click(lambda b: self.stop())
        c["reset"].on_click(lambda b: self.reset())
        c["export"].on_click(lambda b: self.export())
        c["save"].on_click(lambda b: self.save_config())
        c["load"].on_click(lambda b: self.load_config())
        return c

    def _layout(self) -> list:
        c, v = self.controls, self.views
        title = W.HTML("<b>explorer</b>: burn in densely, kill the small weights for good, train sparse "
                       "&mdash; and watch why it works")
        boxes = [n for n in C.controlled() if not isinstance(c[n], (W.IntSlider, W.FloatLogSlider, C.RuleControl))]
        sliders = [n for n in C.controlled() if n not in boxes]
        col1 = W.VBox([c[n] for n in boxes])
        col2 = W.VBox([w for n in sliders for w in ([c[n], c["kept"]] if n == "prune" else [c[n]])])
        col3 = W.VBox([W.HBox([c["run"], c["pause"], c["step"]]), W.HBox([c["stop"], c["reset"]]), c["compare"],
                       W.HBox([c["folder"], c["export"]]), W.HBox([c["config_path"], c["save"], c["load"]])])
        controls = W.HBox([col1, col2, col3], layout=W.Layout(flex_flow="row wrap", grid_gap="12px"))
        grid = W.GridBox([v["weights"].widget, v["accuracy"].widget, v["heatmap"].widget, v["feedback"].widget,
                          v["survivors"].widget, v["speed"].widget],
                         layout=W.Layout(grid_template_columns="repeat(2, 540px)", grid_gap="6px"))
        return [title, controls, self.status, grid]

    # -- config <-> widgets -------------------------------------------------------------------
    @property
    def rule(self) -> str:
        return self.controls["prune"].value

    def config_from_controls(self) -> RunConfig:
        """The RunConfig the widgets describe now (validated; ConfigError if not valid)."""
        changes = {name: C.read(name, self.controls[name]) for name in C.controlled()}
        cfg = self.config.replace(**changes)
        if cfg.eval_every == self.config.eval_every and self._auto_eval:
            cfg = cfg.replace(eval_every=nice_eval_every(cfg.burn_in + cfg.steps))
        return cfg.validate()

    def _set_controls(self, cfg: RunConfig) -> None:
        self._quiet = True
        try:
            for name in C.controlled():
                C.write(name, self.controls[name], getattr(cfg, name))
        finally:
            self._quiet = False

    # -- data and runs ------------------------------------------------------------------------
    def _dataset(self, cfg: RunConfig):
        key = (cfg.dataset, cfg.data_dir)
        if key not in self._datasets:
            self._datasets[key] = load(cfg.dataset, cfg.data_dir, verbose=False)
        return self._datasets[key]

    def _new_run(self, cfg: RunConfig) -> None:
        """A fresh run at step 0 for `cfg` (structural change, Reset, Load)."""
        self._cancel()
        self._auto_eval = cfg.eval_every == 0
        if self._auto_eval:
            cfg = cfg.replace(eval_every=nice_eval_every(cfg.burn_in + cfg.steps))
        data = self._dataset(cfg)
        if cfg.dataset == "auto":
            cfg = cfg.replace(dataset=data.name)
            self._datasets[(data.name, cfg.data_dir)] = data
        self.config = cfg.validate()
        self._set_controls(cfg)
        self.views["survivors"].image_shape = getattr(data, "image_shape", None)
        self.trainer = Trainer(cfg, callbacks=list(self.views.values())).setup(data)
        self.ref_trainer = None
        for v in self.views.values():
            v.attach(self.trainer)
        self._preview()
        self.views["weights"].sync_state()  # the page may be built after this (Voila)
        self._show(f"ready: {data.name}, {self._shape_text()}, {cfg.burn_in} burn-in steps, "
                   f"{cfg.prune}, {cfg.steps:,} steps; press Run")

    def _shape_text(self) -> str:
        sizes = self.trainer.layer_sizes
        return "-".join(str(n - (i == 0)) for i, n in enumerate(sizes))  # the input level without its bias unit

    def _cancel(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = None
        self._running = False
        self._pause = False

    # -- handlers -------------------------------------------------------------------------------
    def _guard(fn):  # noqa: N805 -- a decorator: show ExplorerErrors in the status line
        def wrapper(self, *a, **k):
            try:
                return fn(self, *a, **k)
            except ExplorerError as e:
                self._error(e)
        wrapper.__name__ = fn.__name__
        wrapper.__doc__ = fn.__doc__
        return wrapper

    @_guard
    def _on_structural(self, change):
        if self._quiet:
            return
        self._new_run(self.config_from_controls())

    @_guard
    def _on_prune_value(self, change):
        if self._quiet:
            return
        rule = self.rule
        self.config = self.config.replace(prune=rule).validate()
        t = self.trainer
        note = ""
        if t is not None and t.cut_pending and self.config.prune_layers == t.config.prune_layers:
            t.set_prune(rule)  # the cut to come uses the new rule
        elif t is not None:
            note = f" (the cut was made with {t.config.prune}; Reset to train with {rule})"
        self._preview(note)

    def _preview(self, note: str = "") -> dict:
        """Threshold line, kept count and after-cut histogram for the slider's rule, no training."""
        out = self.views["weights"].preview(self.rule)
        self.controls["kept"].value = html.escape(self.views["weights"].kept_label or "no cut") + note
        return out

    @_guard
    def _on_live(self, name, value):
        if self._quiet or name != "lr":  # lr is the one live setting
            return
        lr = float(value)
        self.config = self.config.replace(lr=lr).validate()
        t = self.trainer
        t.set_lr(lr)
        if self.ref_trainer is not None and not self.ref_trainer.done:
            self.ref_trainer.set_lr(lr)
        self._show(f"learning rate {lr:.3g} from step {t.state.step:,}")

    def _on_compare(self):
        if self.controls["compare"].value and self.trainer.state.step > 0:
            self._show("the dense reference starts with the next run (Reset, then Run)")

    # -- running ------------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._running

    def _start_reference(self):
        t = self.trainer
        if self.controls["compare"].value and self.ref_trainer is None and t.state.step == 0:
            cfg = t.config.replace(prune="none")
            self.ref_trainer = Trainer(cfg, callbacks=[self.views["accuracy"].reference_callback()])
            self.ref_trainer.setup(self._dataset(t.config))

    def _advance(self) -> bool:
        """One chunk (~CHUNK_SECONDS of work) of the run (and of the dense reference). False when done."""
        t, ref = self.trainer, self.ref_trainer
        if t.done and (ref is None or ref.done):
            return False
        t0 = time.perf_counter()
        n = self._chunk
        if not t.done:
            t.run(steps=n)
        if ref is not None and not ref.done:
            ref.run(steps=n)
        dt = time.perf_counter() - t0
        self._chunk = int(min(max(n * CHUNK_SECONDS / max(dt, 1e-4), 10), 50_000))
        self._status()
        return not (t.done and (ref is None or ref.done))

    def run_sync(self, steps: int | None = None) -> Explorer:
        """Run the same chunk loop as Run, synchronously: `steps` more steps (None: to the end)."""
        if self._running:
            raise ExplorerError("a run is going on; Pause or Stop it first")
        self._start_reference()
        target = None if steps is None else self.trainer.state.step + steps
        while True:
            if target is not None:
                left = target - self.trainer.state.step
                if left <= 0:
                    break
                self._chunk = min(self._chunk, left)
            if not self._advance():
                break
        self._status(force=True)
        return self

    def run(self):
        """Start (or resume) training in an asyncio task; does nothing if one is running."""
        if self._running:
            self._show("already running")
            return None
        if self.trainer.done:
            self._show("the run is over: Reset (or change a setting) to train again")
            return None
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no event loop (a plain script): run here
            return self.run_sync()
        self._running, self._pause = True, False
        try:
            self._start_reference()
        except ExplorerError as e:
            self._running = False
            return self._error(e)
        self._task = loop.create_task(self._loop())
        return self._task

    async def _loop(self):
        try:
            while not self._pause:
                if not self._advance():
                    break
                await asyncio.sleep(0.001)  # let the kernel handle widget messages
        except ExplorerError as e:
            self._error(e)
        except Exception as e:  # never a traceback in the page
            self._error(f"{type(e).__name__}: {e}")
        finally:
            self._running = False
            self._status(force=True)

    def pause(self):
        if self._running:
            self._pause = True
            self._show(f"paused at step {self.trainer.state.step:,}")

    @_guard
    def step(self):
        """Advance 1% of the run (when no run is going)."""
        if self._running:
            return self._show("running: Pause first")
        t = self.trainer
        self._start_reference()
        n = max(1, t.total_steps // 100)
        t.run(steps=n)
        if self.ref_trainer is not None and not self.ref_trainer.done:
            self.ref_trainer.run(steps=n)
        for v in self.views.values():
            v.redraw()
        self._status(force=True)

    @_guard
    def stop(self):
        """End the run now: final evaluation, results (and of the dense reference)."""
        self._pause = True
        for t in (self.trainer, self.ref_trainer):
            if t is not None and not t.done:
                t.stop_training = True
                t.run(steps=0)
        self._status(force=True)

    @_guard
    def reset(self):
        """Back to step 0 with the settings shown."""
        self._new_run(self.config_from_controls())

    # -- files ----------------------------------------------------------------------------------------
    def results(self) -> dict:
        """The run's results (a partial summary if it has not ended), with the views' series."""
        t = self.trainer
        if t.results_ is not None:
            out = dict(t.results_)
        else:
            s = t.state
            out = {"config": t.config.to_dict(), "finished": False, "steps_done": s.step, "phase": s.phase,
                   "test_accuracy": s.metrics.get("test_accuracy"), "weights_alive": [lv.n_alive for lv in s.layers],
                   "lr_changes": t.lr_changes_}
        x, y = self.views["accuracy"].accuracy
        out["accuracy_curve"] = {"step": list(x), "test_accuracy": list(y)}
        if self.ref_trainer is not None and self.ref_trainer.results_ is not None:
            out["dense_reference"] = self.ref_trainer.results_
        return out

    @_guard
    def export(self, folder=None, formats=("html", "png", "svg", "pdf")) -> list:
        """Every view as HTML (and PNG/SVG/PDF when Chrome is found), config.json, results.json."""
        folder = Path(folder or self.controls["folder"].value or "figures")
        self._show(f"exporting to {folder}/ ...")
        figs = {name: v.fig for name, v in self.views.items()}
        paths, note = write_run_bundle(folder, self.trainer.config, self.results(), figs, formats)
        self._show(f"wrote {len(paths)} files to {html.escape(str(folder))}/" + (f"; {note}" if note else ""))
        self.export_note = note
        return paths

    @_guard
    def save_config(self, path=None) -> Path:
        """Write the dashboard's RunConfig as JSON (what the next Run/Reset would train)."""
        path = Path(path or self.controls["config_path"].value)
        write_text_atomic(path, self.config_from_controls().to_json() + "\n")
        self._show(f"saved the config to {html.escape(str(path))}")
        return path

    @_guard
    def load_config(self, path=None) -> RunConfig:
        """Read a RunConfig JSON file and start a new run with it."""
        path = path or self.controls["config_path"].value
        cfg = RunConfig.from_json(Path(path))
        self._new_run(cfg)
        self._show(f"loaded {html.escape(str(path))}: press Run")
        return cfg

    # -- status -----------------------------------------------------------------------------------------
    def _show(self, text: str) -> None:
        self.status.value = f"<span style='color:#333'>{text}</span>"

    def _error(self, e) -> None:
        self.status.value = f"<span style='color:#c00'><b>error:</b> {html.escape(str(e))}</span>"
        self.last_error = str(e)

    def _status(self, force: bool = False) -> None:
        now = time.perf_counter()
        if not force and now - self._last_status < 0.1:
            return
        self._last_status = now
        t = self.trainer
        s = t.state
        acc = s.metrics.get("test_accuracy")
        parts = [f"step {s.step:,} of {t.total_steps:,}", s.phase.replace("_", "-")]
        if acc is not None:
            parts.append(f"test accuracy {acc:.3f}")
        parts.append(f"weights alive {sum(lv.n_alive for lv in s.layers):,}")
        if self.ref_trainer is not None:
            ra = self.ref_trainer.state.metrics.get("test_accuracy")
            parts.append(f"dense step {self.ref_trainer.state.step:,}" + (f" acc {ra:.3f}" if ra is not None else ""))
        if t.diverged_:
            parts.append(t.diverged_)
        if self._running and self._pause:
            parts.append("paused")
        self._show(" &middot; ".join(parts))

    def __repr__(self):
        return f"Explorer({self.trainer!r})"
