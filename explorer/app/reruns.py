"""Re-running without training what was already run: live re-runs (debounced; a run in flight
is cancelled), showing a setting already in the history at once, and the Fill-in queue of the
runs the what-if chart needs (a magnitude cut, then a random cut as large, no cut, burn-ins).
Mixed into Explorer, which provides the runner, board, history, controls and status line.
"""

from __future__ import annotations

import asyncio

from ..errors import ExplorerError
from .panels import fill_in_configs

DEBOUNCE = 0.3  # seconds a control must rest before a live re-run starts


class Reruns:
    """Mixed into Explorer (see the module docstring)."""

    def _show_cached(self, entry) -> bool:
        """Show a finished run of these exact settings from the history (no training); False if gone."""
        if entry is None or entry.trainer is None or entry.board is None:
            return False
        self.runner.cancel()
        self.trainer, self.ref_trainer = entry.trainer, None
        self.config = self.focus = entry.trainer.config
        b = self.board
        b.trainer, b.index = entry.trainer, None
        b.records, b.evals, b.events = (list(entry.board[k]) for k in ("records", "evals", "events"))
        b.live = b.records[-1]
        b.frame(force=True)
        b.sync_state()
        self.replay.refresh()
        self._preview()
        self._status(note=f"done (from the history, run #{entry.number}: no training needed)")
        return True

    def _debounced_rerun(self):
        """Re-run at once when the controls rest for DEBOUNCE seconds (a run in flight is cancelled)."""
        self.runner.cancel()
        if self._pending is not None:
            self._pending.cancel()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no event loop (tests, scripts): now
            return self._rerun()
        self._pending = loop.call_later(DEBOUNCE, self._rerun)

    def _rerun(self):
        self._pending = None
        try:
            cfg = self.config_from_controls()
        except ExplorerError as e:
            return self._error(e)
        if self._show_cached(self.history.get(cfg)):
            return
        if self._new_run(cfg):
            self._go("fast")

    def _use_run(self, entry):
        """A run picked in the history: its settings in the controls, its run on the views."""
        self._set_controls(entry.config)
        if not self._show_cached(entry):
            self._new_run(entry.config)

    def fill_in(self):
        """Run what the what-if chart needs around the current settings, one after another (fast)."""
        try:
            cfg = self.config_from_controls()
        except ExplorerError as e:
            return self._error(e)
        self.focus = cfg
        self._queue = [c for c in fill_in_configs(cfg) if self.history.get(c) is None]
        self._show(f"filling in the what-if chart: {len(self._queue)} runs queued (Stop ends the queue)")
        if not self.running:
            self._next_in_queue()

    def _next_in_queue(self):
        """Start the next queued run that is not in the history yet (the rest follow from _on_end).
        After a magnitude cut, a random cut of the same size is queued: its size is known then."""
        while self._queue:
            item = self._queue.pop(0)
            if isinstance(item, tuple):  # ("random", cfg): as large a random cut as cfg's magnitude cut
                done = self.history.get(item[1])
                if done is None or not 0 < done.kept < 1:
                    continue
                item = item[1].replace(prune=f"random:{round(1 - done.kept, 4):g}")
            if self.history.get(item) is not None:
                continue
            if item.prune.split(":")[0] not in ("none", "random"):
                self._queue.insert(0, ("random", item))
            if self._new_run(item, focus=False):
                return self._go("fast")  # the next one starts from _on_end (without an event loop: from within)
        if self.focus is not None and self.trainer is not None and self.trainer.config != self.focus:
            if not self._show_cached(self.history.get(self.focus)):  # back to the user's own setting
                self._new_run(self.focus)

