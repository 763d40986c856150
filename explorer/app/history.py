"""RunHistory: every finished run of a dashboard session, keyed by its config.

One entry per distinct config (the key is a hash of its canonical JSON, as in sweeps): the
settings, the results' numbers, the accuracy curve, and -- for the most recent `keep_full`
runs -- the finished trainer and the Board's records, so that going back to a setting shows
its run again at once instead of training it again. Pure Python (the widgets that show it
are in panels.py); `csv_text()` is what "export as CSV" writes.
"""

from __future__ import annotations

import csv
import io
import time
from dataclasses import dataclass, field

from ..config import DEFAULTS, SETTINGS, RunConfig
from ..config_text import format_value
from ..experiments.sweeps import run_id


def config_key(cfg: RunConfig) -> str:
    """The run id (sweeps.run_id) of the settings that change a result."""
    return run_id({k: v for k, v in cfg.to_dict().items() if k not in ("eval_every", "extra")})


def describe(cfg: RunConfig, base: RunConfig = DEFAULTS) -> str:
    """The settings where `cfg` differs from `base`, short: 'hidden=64 prune=halving:3'."""
    out = [f"{k}={format_value(k, getattr(cfg, k))}" for k, spec in SETTINGS.items()
           if spec.cli and k not in ("eval_every", "data_dir") and getattr(cfg, k) != getattr(base, k)]
    return " ".join(out) or "the post's defaults"


@dataclass
class Entry:
    key: str
    number: int  # 1, 2, ... in the order runs finished
    config: RunConfig
    accuracy: float | None
    alive: int
    total: int
    kept: float  # the fraction of the cut layers' weights that survived (1.0 without a cut)
    seconds: float
    status: str  # done | stopped | diverged
    curve: tuple  # (steps, accuracies) of the evaluations
    shown: bool = True  # drawn in the overlay of accuracy curves
    finished_at: float = field(default_factory=time.time)
    trainer: object = None  # the finished Trainer (recent runs only)
    board: dict | None = None  # the Board's records, evals, events (recent runs only)

    @property
    def label(self) -> str:
        acc = "-" if self.accuracy is None else f"{self.accuracy:.3f}"
        return f"#{self.number} {describe(self.config)} -> {acc}"


class RunHistory:
    """Finished runs by config key, newest last; the full state of the last `keep_full` only."""

    COLUMNS = ["run", "status", "test_accuracy", "weights_alive", "weights_total", "seconds", "settings"]

    def __init__(self, keep_full: int = 10):
        self.keep_full = keep_full
        self.entries: dict[str, Entry] = {}
        self._n = 0

    def add(self, trainer, board=None, seconds: float | None = None) -> Entry:
        """Record a finished trainer (and the Board that drew it)."""
        r = trainer.results_
        self._n += 1
        status = "diverged" if r.get("diverged") else ("stopped" if r.get("stopped_early") else "done")
        acc = r.get("test_accuracy")
        evals = board.evals if board is not None else []
        cut = trainer.config.pruned_layer_indices()
        kept = (sum(r["weights_alive"][l] for l in cut) / sum(r["weights_total"][l] for l in cut)) if cut else 1.0
        e = Entry(key=config_key(trainer.config), number=self._n, config=trainer.config,
                  accuracy=None if acc is None or acc != acc else float(acc),
                  alive=int(sum(r["weights_alive"])), total=int(sum(r["weights_total"])), kept=float(kept),
                  seconds=float(seconds if seconds is not None else
                                sum(r["seconds"][k] for k in ("burn_in", "prune", "train", "eval"))), status=status,
                  curve=([ev["step"] for ev in evals], [ev.get("test_accuracy") for ev in evals]),
                  trainer=trainer,
                  board=None if board is None else {"records": list(board.records), "evals": list(board.evals),
                                                    "events": list(board.events)})
        self.entries.pop(e.key, None)
        self.entries[e.key] = e
        for old in list(self.entries.values())[: -self.keep_full]:  # memory: older runs keep their numbers only
            old.trainer, old.board = None, None
        return e

    def get(self, cfg: RunConfig) -> Entry | None:
        """The finished run of exactly this config (full state or not), or None."""
        return self.entries.get(config_key(cfg))

    def clear(self) -> None:
        self.entries.clear()

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self):
        return iter(self.entries.values())

    def rows(self) -> list[dict]:
        return [{"run": e.number, "status": e.status, "test_accuracy": e.accuracy, "weights_alive": e.alive,
                 "weights_total": e.total, "seconds": round(e.seconds, 3), "settings": describe(e.config)}
                for e in self]

    def csv_text(self) -> str:
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=self.COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows(self.rows())
        return buf.getvalue()

    def related(self, cfg: RunConfig, setting: str) -> list[Entry]:
        """Runs equal to `cfg` in every setting but `setting` (and eval_every): a what-if series."""
        def rest(c):
            d = c.to_dict()
            for k in (setting, "eval_every", "extra"):
                d.pop(k, None)
            return d
        mine = rest(cfg)
        return [e for e in self if rest(e.config) == mine]
