"""What hooks read: `TrainerState` (progress, loss, timings, metrics) and one read-only
`LayerView` per weight layer. Both read the trainer's current engine (engines.py), so they
look the same before and after the cut; arrays handed out are read-only views, and full
(n_in, n_out) arrays are only materialised on demand.
"""

from __future__ import annotations

import math

import numpy as np


def _read_only(a: np.ndarray) -> np.ndarray:
    v = a.view()
    v.flags.writeable = False
    return v


class LayerView:
    """Read-only access to one weight layer of a running trainer.

    `values` are the weights that are still trained (all of them while dense), as a flat
    read-only array; `grad_values` the loss gradients aligned with them (only at steps where
    a callback asked for gradients, else None). `weights()`, `mask()`, `gradients()` give the
    full original shape (n_in, n_out), zero where pruned, materialised on demand.
    """

    def __init__(self, trainer, index: int):
        self._t = trainer
        self.index = index

    @property
    def shape(self) -> tuple[int, int]:
        return self._t.layer_shapes[self.index]

    @property
    def n_total(self) -> int:
        return self.shape[0] * self.shape[1]

    @property
    def sparse(self) -> bool:
        return self._t.engine.sparse

    @property
    def pruned(self) -> bool:
        return self.sparse and self.index in self._t.config.pruned_layer_indices()

    @property
    def n_alive(self) -> int:
        return self._t.engine.n_alive(self.index)

    @property
    def values(self) -> np.ndarray:
        return _read_only(self._t.engine.values(self.index))

    @property
    def grad_values(self) -> np.ndarray | None:
        g = self._t.engine.grad_values(self.index)
        return None if g is None else -g / self._t.config.batch_size  # gradient of the batch-mean loss

    def weights(self) -> np.ndarray:
        if self.sparse:
            self._dense_fits("weights()", 8)
        w = self._t.engine.dense(self.index)
        return w if self.sparse else _read_only(w)

    def mask(self) -> np.ndarray:
        self._dense_fits("mask()", 1)
        return self._t.engine.mask(self.index)

    def positions(self) -> np.ndarray:
        """Flat positions i * n_out + j of the weights still trained, sorted and aligned with
        `values`: O(surviving weights) after the cut (every position while dense)."""
        return self._t.engine.positions(self.index)

    def gradients(self) -> np.ndarray | None:
        g = self.grad_values
        if g is not None:
            self._dense_fits("gradients()", 8)
        return None if g is None else self._t.engine.dense(self.index, g)

    def _dense_fits(self, what: str, itemsize: int) -> None:
        """A full-shape copy of a layer that fits in memory, or one line saying what to use instead."""
        from .memory import available_bytes, human

        need, avail = self.n_total * itemsize, available_bytes()
        if avail is not None and need > avail // 2:
            from ..errors import ExplorerError

            a, b = self.shape
            raise ExplorerError(f"layer {self.index} is {a:,} x {b:,}: {what} would build a dense copy of "
                                f"~{human(need)} ({human(avail)} available); read values and positions() instead "
                                f"(the {self.n_alive:,} weights still trained)")

    def __repr__(self):
        kind = "sparse" if self.sparse else "dense"
        return f"LayerView({self.index}, shape={self.shape}, {kind}, alive={self.n_alive}/{self.n_total})"


class TrainerState:
    """Progress, loss, layers, timings and metrics of the current run."""

    def __init__(self, trainer):
        self._t = trainer
        self.step = 0  # steps done, burn-in included
        self.phase = "burn_in"  # burn_in -> train -> done
        self.batch_loss = float("nan")  # mean loss of the last step's batch
        self.loss_total = 0.0  # sum of batch losses over all steps (for interval means)
        self.metrics: dict = {}  # test_accuracy, test_loss (and step) of the last evaluation
        self.seconds = {"burn_in": 0.0, "prune": 0.0, "train": 0.0, "eval": 0.0, "rewire": 0.0}
        self.layers = [LayerView(trainer, l) for l in range(len(trainer.layer_shapes))]
        self.last_rewire = None  # the last rewiring, a rewire.RewireEvent (None before the first)
        self.rewirings = 0  # rewirings so far

    @property
    def batch_size(self) -> int:
        return self._t.config.batch_size

    @property
    def lr(self) -> float:
        return self._t.lr

    @property
    def sparse(self) -> bool:
        return self._t.engine.sparse

    @property
    def has_gradients(self) -> bool:
        return self._t.engine.grads is not None

    @property
    def compute_seconds(self) -> float:
        return self.seconds["burn_in"] + self.seconds["train"]

    @property
    def callback_seconds(self) -> float:
        return self._t.callbacks.seconds

    def record_losses(self, losses: np.ndarray, n_finite: int) -> None:
        """The batch losses of a chunk: the last one shown, the finite ones summed."""
        if len(losses):
            self.batch_loss = float(losses[-1])
        if n_finite:
            self.loss_total += float(np.sum(losses[:n_finite]))

    def __repr__(self):
        return f"TrainerState(step={self.step}, phase={self.phase!r}, batch_loss={self.batch_loss:.4g})"


def run_results(trainer) -> dict:
    """The results of a run (trainer.results_, a JSON-able dict): accuracy, loss, weights alive
    per layer, timings and samples/s per phase."""
    t = trainer
    s, cfg, d = t.state, t.config, t.data
    burn_steps = min(s.step, cfg.burn_in)
    train_steps = s.step - burn_steps
    sec = dict(s.seconds)
    sec["callbacks"] = t.callbacks.seconds
    sec["warm_up"] = t.warm_up_seconds_  # numba kernels loaded once per process (in setup)
    B = cfg.batch_size
    return {
        "config": cfg.to_dict(),
        "dataset": d.name,
        "n_train": d.n_train,
        "n_test": d.n_test,
        "engine": t.engine.name,
        "init": t.init_,
        "steps_done": s.step,
        "stopped_early": s.step < t.total_steps,
        "diverged": t.diverged_,
        "test_accuracy": s.metrics.get("test_accuracy", float("nan")),
        "test_loss": s.metrics.get("test_loss", float("nan")),
        "final_batch_loss": s.batch_loss,
        "weights_total": [lv.n_total for lv in s.layers],
        "weights_alive": [lv.n_alive for lv in s.layers],
        "hidden_alive": t.engine.hidden_alive,
        "rewirings": s.rewirings,
        "seconds": sec,
        "samples_per_second": {
            "burn_in": burn_steps * B / sec["burn_in"] if sec["burn_in"] > 0 else None,
            "train": train_steps * B / sec["train"] if sec["train"] > 0 else None,
        },
        "lr_changes": t.lr_changes_,
        "warnings": run_warnings(t),
    }


def run_warnings(trainer) -> list[str]:
    """What makes a finished run look fine when it is not, one line each: a cut that left a layer
    with no weights, and a run that ended no better than where training starts -- a test loss
    at or above that of a net whose outputs are all zero (0.5 * classes for tanh and squared
    error, ln(classes) for softmax; small initial weights start there)."""
    t, out = trainer, []
    s, cfg = t.state, t.config
    for l in cfg.pruned_layer_indices():
        if s.layers[l].n_alive == 0:
            out.append(f"the cut ({cfg.prune}) left weight layer {l} with no weights, so nothing is learned through "
                       f"it; keep more weights")
    loss, acc = s.metrics.get("test_loss"), s.metrics.get("test_accuracy")
    C = t.data.n_classes
    start = math.log(C) if cfg.activation == "relu" else 0.5 * C
    if t.diverged_ is None and loss is not None and math.isfinite(loss) and loss >= start * (1 - 1e-3):
        out.append(f"the run ended no better than where it started: test loss {loss:.4g} >= {start:.4g}, the loss of "
                   f"a net that outputs nothing (test accuracy {acc:.3f}); lower the learning rate (lr={t.lr:g}), "
                   f"train longer or keep more weights")
    return out
