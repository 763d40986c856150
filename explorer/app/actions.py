"""What the dashboard's buttons do with files and links: Export (every figure, the config and
the results; the run history as runs.csv), Save and Load a config file, Share (the link to the
settings and the equivalent `explorer train` command). Every path is checked before anything
is written, and every failure is one line in the status line (Explorer mixes this class in).
"""

from __future__ import annotations

import html
from pathlib import Path

from ..config import RunConfig
from ..errors import ExplorerError
from . import link


class Actions:
    """Mixed into Explorer: uses its controls, trainer, board, views, history and status line."""

    def results(self) -> dict:
        """The run's results (a partial summary if it has not ended), with the accuracy curve."""
        t = self.trainer
        if t.results_ is not None:
            out = dict(t.results_)
        else:
            s = t.state
            out = {"config": t.config.to_dict(), "finished": False, "steps_done": s.step, "phase": s.phase,
                   "test_accuracy": s.metrics.get("test_accuracy"), "weights_alive": [lv.n_alive for lv in s.layers],
                   "lr_changes": t.lr_changes_}
        out["accuracy_curve"] = {"step": [e["step"] for e in self.board.evals],
                                 "test_accuracy": [e.get("test_accuracy") for e in self.board.evals]}
        if self.ref_trainer is not None and self.ref_trainer.results_ is not None:
            out["dense_reference"] = self.ref_trainer.results_
        return out

    def export(self, folder=None, formats=("html", "png", "svg", "pdf")) -> list:
        """Every view as HTML (and PNG/SVG/PDF when Chrome is found), config.json, results.json."""
        from ..export import check_output_folder, write_run_bundle

        try:
            folder = check_output_folder(folder or self.controls["folder"].value, "export folder")
            self._show(f"exporting to {html.escape(str(folder))}/: config, results and {len(self.views)} figures "
                       f"as {', '.join(formats)} (images take a few seconds) ...")
            figs = {name: v.fig for name, v in self.views.items()}
            figs["whatif"], figs["runs"] = self.whatif.fig, self.history_panel.fig
            paths, note = write_run_bundle(folder, self.trainer.config, self.results(), figs, formats)
        except ExplorerError as e:
            self._error(f"export failed: {e}")
            return []
        self.export_note = note
        self._show(f"wrote {len(paths)} files to {html.escape(str(folder))}/" + (f"; {note}" if note else ""))
        return paths

    def export_history(self) -> Path | None:
        """The run history as runs.csv in the export folder."""
        from ..export import check_output_folder, write_text_atomic

        try:
            folder = check_output_folder(self.controls["folder"].value, "export folder")
            path = write_text_atomic(Path(folder) / "runs.csv", self.history.csv_text())
        except ExplorerError as e:
            self._error(f"CSV export failed: {e}")
            return None
        self._show(f"wrote {len(self.history)} runs to {html.escape(str(path))}")
        return path

    def save_config(self, path=None) -> Path | None:
        """Write the dashboard's RunConfig as JSON (what the next Run/Reset would train)."""
        from ..export import check_output_file, write_text_atomic

        try:
            path = check_output_file(path or self.controls["config_path"].value, "config file")
            write_text_atomic(path, self.config_from_controls().to_json() + "\n")
        except ExplorerError as e:
            self._error(e)
            return None
        self._show(f"saved the config to {html.escape(str(path))}")
        return Path(path)

    def load_config(self, path=None) -> RunConfig | None:
        """Read a RunConfig JSON file and start a new run with it."""
        path = path or self.controls["config_path"].value
        try:
            cfg = RunConfig.from_json(Path(path))
        except ExplorerError as e:
            self._error(e)
            return None
        if self._new_run(cfg):
            self._show(f"loaded {html.escape(str(path))}: press Run")
        return cfg

    def share(self) -> str:
        """Show (and return) the link to these settings and the equivalent `explorer train` command."""
        try:
            cfg = self.config_from_controls()
            if self._auto_eval:  # the dashboard's own evaluation schedule is not the user's setting
                cfg = cfg.replace(eval_every=0)
        except ExplorerError as e:
            self._error(e)
            return ""
        url = link.share_link(cfg)
        q = link.query_from_config(cfg)
        text = (f"link: {url}" if url else f"link: add ?{q} to the Voila page's address" if q else
                "link: the page's address (these are the defaults)") + "\ncommand: " + link.train_command(cfg)
        self.controls["shared"].value = text
        self.controls["shared"].layout.display = None
        return text

