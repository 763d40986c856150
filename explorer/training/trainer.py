"""Trainer: dense burn-in -> the cut -> truly sparse training -> evaluation, firing events.

    trainer = Trainer(RunConfig(...), callbacks=[...]).fit(dataset)
    trainer.results_            # accuracy, weights alive per layer, timings (a JSON-able dict)

or step by step, as the dashboard does, so the kernel stays responsive:

    trainer = Trainer(cfg).setup(dataset)
    while not trainer.done:
        trainer.run(steps=500)

`run` is the loop and reads top to bottom: at the end of the burn-in the cut replaces the
dense engine by a sparse one (engines.py; structure.py makes the cut), or by a masked dense
one when the cut net is above the break-even density (masked.py); after it, the pattern may
change at the steps schedule.py gives (gradual cuts, rewiring: `_restructure`), and the
engine is chosen again. Between two stops (a callback due, an evaluation, a structure change,
the end of a phase or of the steps asked for) the steps run in one fused call; the step a
callback is due at runs last, split in two when a callback wants to see gradients before the
update. Hooks read `trainer.state` (state.py).

Before anything as large as a layer is allocated, `reset` checks that the run fits in memory
(memory.py: one line naming the setting and the estimate, never a MemoryError). A run cut at
step 0 whose pruned layers are wide starts sparse: their survivors are drawn directly, never
dense (start.py), so memory and time follow the surviving weights.

Randomness comes from streams derived from `seed` (initial weights [seed, 0] -- a sparse
start: [seed, 0, layer] --, burn-in draws [seed, 1], the cut: prune.cut_rng [seed, 2], a
rewiring at step t [seed, 3, t]; dropout hashes (seed, step, ...)), so changing the burn-in
length does not change the initial weights.
"""

from __future__ import annotations

import contextlib
import time
import warnings

import numpy as np

from ..config import RunConfig
from ..data import TrainingData, prepare
from ..engine import blas
from ..engine import kernels as K
from ..engine import net as N
from ..engine.engines import DenseEngine, SparseEngine
from ..engine.masked import engine_for
from ..engine.masked import warm_up as masked_warm_up
from ..errors import ConfigError, DataError, ExplorerError
from ..sparsity import init as I
from ..sparsity import schedule as S
from ..sparsity import structure as ST
from ..sparsity.prune import cut_rng, parse_rule, prune_masks
from ..sparsity.rewire import parse_rewire
from ..sparsity.start import sparse_start, starts_sparse
from . import memory
from .callbacks import CallbackList, Recorder
from .state import TrainerState, run_results

_WARM: set = set()  # kinds of run whose numba kernels this process has loaded (Trainer._warm_up)
MAX_CHUNK = 50_000  # steps per fused call when nothing else bounds a chunk
TIMED_CHUNK_SECONDS = 0.02  # chunk length when a time-throttled callback is attached


class Trainer:
    """Train an MLP densely for `burn_in` steps, cut, then train sparsely. See the module doc."""

    def __init__(self, config: RunConfig | None = None, callbacks=(), **overrides):
        config = RunConfig() if config is None else config
        if not isinstance(config, RunConfig):
            raise ConfigError(f"config must be a RunConfig, got {type(config).__name__}")
        self.config = config.replace(**overrides) if overrides else config
        self.callbacks = CallbackList(callbacks)
        self.stop_training = False
        self.data: TrainingData | None = None  # the checked data of setup()
        self.engine = None  # DenseEngine until the cut, SparseEngine after
        self._running = False  # inside run(): a callback may not start the run again

    # -- set-up ----------------------------------------------------------------------------
    def setup(self, dataset=None) -> Trainer:
        """Validate config and data, initialise weights; the run starts at step 0."""
        self._not_running("setup()")
        cfg = self.config.validate()
        if dataset is None:
            from ..data import load

            dataset = load(cfg.dataset, **cfg.data_args())
        self.config = cfg = cfg.with_data(dataset)  # a file's SHA-256: the config reproduces the run, or refuses
        self.data = prepare(dataset, cfg.n_train, cfg.n_test)
        if cfg.batch_size > self.data.n_train:
            raise ConfigError(f"batch_size={cfg.batch_size} is larger than the {self.data.n_train:,} training "
                              f"samples; pass at most {self.data.n_train}")
        self.reset()
        t0 = time.perf_counter()
        self._warm_up()
        self.warm_up_seconds_ = time.perf_counter() - t0
        return self

    def reset(self) -> Trainer:
        """Start the run again from step 0 with the same config (and the data of setup)."""
        self._require_setup("reset()")
        self._not_running("reset()")
        cfg, d = self.config.validate(), self.data
        if cfg.engine == "numba" and not K.HAVE_NUMBA:
            raise ConfigError("engine='numba' but numba is not installed; pip install numba, or use engine='scipy'")
        self.kernels = "numba" if (cfg.engine != "scipy" and K.HAVE_NUMBA) else "scipy"
        self.layer_sizes = N.layer_sizes(d.n_features, cfg.hidden, d.n_classes)
        self.layer_shapes = list(zip(self.layer_sizes[:-1], self.layer_sizes[1:]))
        self.init_ = I.resolve(cfg.init, cfg.activation)
        self.rewiring = parse_rewire(cfg.rewire)
        self.sparse_start = starts_sparse(cfg, self.layer_shapes)  # pruned layers drawn sparse (start.py)
        grads = any(getattr(cb, "needs_gradients", False) for cb in self.callbacks.callbacks)
        self.engine = self.masks_ = None  # a previous run's weights are freed before the next is checked and made
        self.memory_ = memory.check(cfg, d.n_features, d.n_classes, grads, self.sparse_start,  # refuses what won't fit
                                    n_samples=(d.n_train, d.n_test))
        self.update_rule = N.UpdateRule(cfg.momentum, cfg.weight_decay, cfg.l1)
        self._drop = (cfg.dropout, cfg.seed) if cfg.dropout else None
        # self.masks_: the keep-masks of the cut (prune.KeepMask, full shape) for every layer, once it is made
        t0 = time.perf_counter()
        if self.sparse_start:
            self._draw_start()
        else:
            weights = I.init_weights(self.layer_sizes, self.init_, cfg.init_scale,
                                     np.random.default_rng([cfg.seed, 0]))
            self.engine = DenseEngine(weights, d, cfg.activation == "relu", cfg.batch_size, self.update_rule,
                                      self._drop)
        start_seconds = time.perf_counter() - t0
        rewiring = self.rewiring.name != "none"  # the steps at which the pattern changes after the cut
        self._events = S.structure_steps(cfg.burn_in, self.total_steps, S.parse_schedule(cfg.prune_schedule),
                                         cfg.rewire_every if rewiring else None, cfg.rewire_until_step())
        self._event = next(self._events, None)  # the next (step, what); the rest come lazily
        self._targets = {}  # a gradual run's budget per cut layer (set at the first cut)
        self.lr = float(cfg.lr)
        self.lr_changes_: list = []
        self._burn_batches = np.random.default_rng([cfg.seed, 1]).integers(0, d.n_train, size=(cfg.burn_in,
                                                                                                cfg.batch_size))
        self.stop_training = False
        self.diverged_ = None
        self.results_ = None
        self.state = TrainerState(self)
        self.state.phase = "burn_in" if cfg.burn_in > 0 else "train"
        if self.sparse_start:  # the draw is the cut (and the initialisation) of a sparse start
            self.state.seconds["prune"] += start_seconds
        self._began = self._ended = False
        self._cut_due = cfg.burn_in == 0  # no burn-in: cut at the start (else at its end)
        for cb in self.callbacks.callbacks:
            if isinstance(cb, Recorder):
                cb.reset()
        return self

    def _warm_up(self) -> None:
        """Load (or compile) the numba kernels this config uses with a 2-step throwaway run on
        a few samples of the same data, once per process and kind of run. In a fresh process
        loading them costs ~0.2 s, which would otherwise land in the burn-in and evaluation
        timings (the CLI's first run reported a dense phase 20x too slow)."""
        cfg, d = self.config, self.data
        key = (len(cfg.hidden), cfg.activation, cfg.batch_size == 1, cfg.pruned_layer_indices() == (),
               self.kernels, d.X.dtype.str, d.X_test.dtype.str, self.update_rule.plain, cfg.dropout > 0)
        if not K.HAVE_NUMBA or key in _WARM:
            return
        _WARM.add(key)  # before the throwaway run, whose own setup then returns here
        n = min(d.n_train, 2 * cfg.batch_size + 2)
        few = (d.X[:n], d.y[:n], d.X_test[:2], d.y_test[:2])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with contextlib.suppress(ExplorerError):  # best effort: the real run reports its own errors
                Trainer(cfg.replace(burn_in=min(cfg.burn_in, 1), steps=min(cfg.steps, 2), eval_every=0,
                                    hidden=tuple(min(h, 64) for h in cfg.hidden),
                                    n_train=None, n_test=None, prune_schedule="once", rewire="none",
                                    rewire_until=None)).fit(few)
                if cfg.pruned_layer_indices() and self.kernels == "numba":  # engines a cut may switch to
                    masked_warm_up(prepare(few), cfg.activation == "relu", cfg.batch_size, self.update_rule, self._drop)

    # -- what the dashboard and views ask --------------------------------------------------
    @property
    def is_setup(self) -> bool:
        return self.data is not None

    @property
    def image_shape(self) -> tuple | None:
        return None if self.data is None else self.data.image_shape

    @property
    def total_steps(self) -> int:
        return self.config.burn_in + self.config.steps

    @property
    def cut_pending(self) -> bool:
        """True until the run reaches its cut (the end of the burn-in): `set_prune` now changes
        the rule the cut will use."""
        return self.state.phase == "burn_in" or self._cut_due

    @property
    def done(self) -> bool:
        return self._ended

    @property
    def history_(self):
        """The first attached Recorder (None if there is none)."""
        return next((cb for cb in self.callbacks.callbacks if isinstance(cb, Recorder)), None)

    def set_lr(self, lr: float) -> None:
        """A live setting: takes effect on the next step (recorded in results['lr_changes']); before
        the first step it is simply the run's learning rate (config.lr)."""
        if isinstance(lr, bool) or not (isinstance(lr, (int, float)) and np.isfinite(lr) and lr > 0):
            raise ConfigError(f"lr={lr!r}: expected a positive finite number")
        self.lr = float(lr)
        if self.is_setup and self.state.step == 0:
            self.config = self.config.replace(lr=self.lr)
        else:
            self.lr_changes_.append((self.state.step, self.lr))

    def set_prune(self, rule: str) -> None:
        """Change the rule of the cut to come (ExplorerError once the cut is made: reset first)."""
        text = str(parse_rule(rule))
        if self.is_setup and not self.cut_pending:
            raise ExplorerError(f"the cut was made at step {self.config.burn_in:,} with {self.config.prune}; "
                                f"reset() to train with {text}")
        self.config = self.config.replace(prune=text)

    def cut_layers(self) -> tuple[int, ...]:
        """The weight layers `prune_layers` names (whatever the rule)."""
        p = self.config.prune_layers
        return tuple(range(len(self.layer_shapes))) if p == "all" else tuple(sorted(set(p)))

    def preview_cut(self, rule: str | None = None) -> dict[int, np.ndarray]:
        """What `rule` (default: the config's) would keep now, without training: for each layer
        of `cut_layers()`, a keep-mask over `state.layers[l].values` (every weight before the
        cut, the survivors after). The cut itself is made by this same function, with the same
        random stream and scope, so the preview at the end of the burn-in is the cut."""
        self._require_setup("preview_cut()")
        rule = self.config.prune if rule is None else rule
        layers = self.cut_layers()
        rng = cut_rng(self.config.seed)
        masks = prune_masks([self.engine.values(l) for l in layers], rule, self.config.prune_scope, rng,
                            [self.layer_shapes[l] for l in layers])
        return dict(zip(layers, masks))

    # -- the loop ---------------------------------------------------------------------------
    def fit(self, dataset=None) -> Trainer:
        """Set up and run to the end: burn-in, cut, sparse training, evaluation."""
        self.setup(dataset)
        while not self.done:
            self.run()
        return self

    def run(self, steps: int | None = None) -> Trainer:
        """Advance by at most `steps` steps (None: to the end). Returns self."""
        self._require_setup("run()")
        self._not_running("run()")
        if steps is not None and (isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0):
            raise ConfigError(f"run(steps={steps!r}): expected a whole number >= 0")
        if self._ended:
            return self
        s = self.state
        limit = self.total_steps if steps is None else min(self.total_steps, s.step + steps)
        self._running = True
        try:
            self._run(limit)
        finally:
            self._running = False
        return self

    def _run(self, limit: int) -> None:
        s, cfg = self.state, self.config
        with blas.one_thread():
            if not self._began:
                self._began = True
                self.callbacks.call("on_train_begin", self)
            while not self.stop_training:
                if s.phase == "burn_in" and s.step >= cfg.burn_in:  # the burn-in is over
                    self.callbacks.call("on_phase_end", self)
                    s.phase = "train"
                    self._cut_due = True
                if self._cut_due:
                    self._cut()
                while self._event is not None and self._event[0] <= s.step:
                    self._restructure()
                if s.step >= limit:
                    break
                self._advance(self._next_stop(limit))
            if self.stop_training or s.step >= self.total_steps:
                self._finish()

    def _next_stop(self, limit: int) -> int:
        """Where the next fused run of steps ends: the steps asked for, the end of the phase, the
        next step a callback is due or an evaluation is; a time-throttled callback bounds it to
        ~TIMED_CHUNK_SECONDS of work."""
        s, cfg = self.state, self.config
        end = min(limit, cfg.burn_in if s.phase == "burn_in" else self.total_steps, s.step + MAX_CHUNK)
        due = self.callbacks.next_due(s.step)
        if due is not None:
            end = min(end, due)
        if cfg.eval_every:
            end = min(end, (s.step // cfg.eval_every + 1) * cfg.eval_every)
        if self._event is not None:
            end = min(end, self._event[0])
        if self.callbacks.timed:
            end = min(end, s.step + max(1, int(TIMED_CHUNK_SECONDS / getattr(self, "_sec_per_step", 1e-5))))
        return end

    def _advance(self, end: int) -> None:
        """Steps up to `end`: all but the last in one fused call, then the last (where callbacks
        are due), split if one of them hooks in between gradients and update."""
        s, cfg = self.state, self.config
        due = self.callbacks.due_at(end, time.perf_counter())
        split = CallbackList.wants_split(due)
        n, t0 = end - s.step, time.perf_counter()
        if not self._steps(n - 1):
            return
        if split:
            self.callbacks.call("on_step_begin", self, due)
            if not self._steps(1, store=True, apply=False, count=False):
                return
            self.callbacks.call("on_after_backward", self, due)
            t1 = time.perf_counter()
            self.engine.apply_stored(self.lr)
            self._clock(time.perf_counter() - t1, 1)
        elif not self._steps(1, store=CallbackList.wants_gradients(due, end)):
            return
        self._sec_per_step = max((time.perf_counter() - t0) / n, 1e-7)
        if due:
            self.callbacks.call("on_step_end", self, due)
        if cfg.eval_every and s.step % cfg.eval_every == 0 and s.step < self.total_steps:
            self._evaluate()

    def _steps(self, n: int, store: bool = False, apply: bool = True, count: bool = True) -> bool:
        """Run n steps of the current phase on the engine; False if the loss stopped being finite
        (the run is then stopped, with the weights of the last finite step). `count=False`: the
        step's update is held back (split steps), so it is counted when applied."""
        if n <= 0:
            return True
        s = self.state
        t0 = time.perf_counter()
        with np.errstate(over="ignore", invalid="ignore"):  # a divergence is ours to report, once
            k, losses = self.engine.steps(self._batches(s.step, n), self.lr, s.step, store_last=store,
                                          apply_last=apply)
        s.record_losses(losses, k)
        self._clock(time.perf_counter() - t0, k if count or k < n else 0)
        if k < n:
            self._diverge()
            return False
        return True

    def _batches(self, start: int, n: int) -> np.ndarray:
        """Sample indices (n, B) of steps start..start+n: drawn at random in the burn-in, then the
        training set in order, wrapping into further epochs."""
        cfg = self.config
        if self.state.phase == "burn_in":
            return self._burn_batches[start : start + n]
        first = (start - cfg.burn_in) * cfg.batch_size
        return ((first + np.arange(n * cfg.batch_size)) % self.data.n_train).reshape(n, cfg.batch_size)

    def _clock(self, seconds: float, steps: int) -> None:
        s = self.state
        s.seconds["burn_in" if s.phase == "burn_in" else "train"] += seconds
        s.step += steps

    def _cut(self) -> None:
        """The cut (structure.dense_cut; nothing happens for prune='none'), then the engine that
        trains the pattern: sparse, or masked dense above the break-even density (masked.py). A
        sparse start made its cut when it drew the net (`_draw_start`; again if the rule changed)."""
        self._cut_due = False
        cfg = self.config
        if not cfg.pruned_layer_indices():
            return
        t0 = time.perf_counter()
        if self.sparse_start:
            if self._drawn != cfg.prune:  # set_prune before the first step
                self._draw_start()
            self.masks_ = self._start_masks
        else:
            rescale = self.init_ if cfg.burn_in == 0 else None
            net, vel, self.masks_, self._targets = ST.dense_cut(
                self.engine.W, self.engine.V, self.preview_cut(), self.layer_shapes,
                S.parse_schedule(cfg.prune_schedule).kind == "gradual", self.rewiring.name == "none", rescale)
            self.engine = self._sparse_engine(net, vel)
        self.state.seconds["prune"] += time.perf_counter() - t0
        self.callbacks.call("on_prune", self)

    def _sparse_engine(self, net, vel=None):
        cfg = self.config
        engine = SparseEngine(net, self.data, cfg.activation == "relu", cfg.batch_size, self.kernels,
                              self.update_rule, self._drop, vel)
        return engine_for(engine, self.kernels)

    def _draw_start(self) -> None:
        """A sparse start (start.py): the pruned layers' survivors drawn directly, the sparse
        engine from step 0; the cut at the first step only announces it (on_prune)."""
        self.engine = None  # the previous draw's memory goes before the next is made
        net, self._start_masks = sparse_start(self.config, self.layer_shapes, self.init_,
                                              self.rewiring.name == "none")
        self.engine = self._sparse_engine(net)
        self._drawn = self.config.prune

    def _restructure(self) -> None:
        """The pattern change due now (at a step of schedule.structure_steps): a gradual cut or a
        rewiring (structure.py), then the engine for the new pattern (masked.engine_for)."""
        _, what = self._event
        self._event = next(self._events, None)
        cfg, s, t0 = self.config, self.state, time.perf_counter()
        if what == "cut":
            ST.gradual_cut(self.engine, self._targets, s.step, cfg.burn_in, S.parse_schedule(cfg.prune_schedule).end,
                           self.layer_shapes, self.rewiring.name == "none")
        else:
            s.last_rewire = ST.rewire(self.engine, cfg, self.rewiring, self.data, s.step)
            s.rewirings += 1
        self.engine = engine_for(self.engine, self.kernels)
        s.seconds["prune" if what == "cut" else "rewire"] += time.perf_counter() - t0
        self.callbacks.call("on_prune" if what == "cut" else "on_rewire", self)

    def _evaluate(self) -> None:
        t0 = time.perf_counter()
        acc, loss = self.engine.evaluate(self.data.X_test, self.data.y_test)
        self.state.metrics = {"test_accuracy": acc, "test_loss": loss, "step": self.state.step}
        self.state.seconds["eval"] += time.perf_counter() - t0
        self.callbacks.call("on_eval_end", self)

    def _diverge(self) -> None:
        s = self.state
        self.diverged_ = (f"training diverged at step {s.step + 1} (loss {s.batch_loss}); the weights are "
                          f"those of step {s.step}, the last with a finite loss; lower the learning rate "
                          f"(lr={self.lr:g})")
        warnings.warn(self.diverged_, RuntimeWarning, stacklevel=4)
        self.stop_training = True

    def _finish(self) -> None:
        if self._ended:
            return
        if self.diverged_ is None:
            self._evaluate()
        self.callbacks.call("on_phase_end", self)
        self.state.phase = "done"
        self._ended = True
        self.results_ = run_results(self)
        for w in self.results_["warnings"]:
            warnings.warn(w, RuntimeWarning, stacklevel=4)
        self.callbacks.call("on_train_end", self)

    # -- after (or during) a run ------------------------------------------------------------
    def predict(self, X) -> np.ndarray:
        """Class predictions for raw inputs X (n, n_features)."""
        self._require_setup("predict()")
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.data.n_features:
            raise DataError(f"predict: X has shape {X.shape}, expected (n, {self.data.n_features})")
        return self.engine.predict(X).argmax(axis=1)

    def weights(self, layer: int) -> np.ndarray:
        """Layer `layer`'s weights in full shape (n_in, n_out), zero where pruned."""
        self._require_setup("weights()")
        n = len(self.layer_shapes)
        if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)) or not 0 <= layer < n:
            raise ExplorerError(f"weights({layer!r}): this net has weight layers 0..{n - 1}")
        return self.state.layers[layer].weights()

    def _not_running(self, what: str) -> None:
        if self._running:
            raise ExplorerError(f"{what} was called while this trainer runs (from a callback); a callback may end "
                                f"the run (trainer.stop_training = True) but not start it again; use another Trainer")

    def _require_setup(self, what: str) -> None:
        if self.data is None:
            raise ExplorerError(f"call fit(dataset) or setup(dataset) before {what}")

    def __repr__(self):
        c = self.config
        return (f"Trainer(hidden={c.hidden}, burn_in={c.burn_in}, prune={c.prune!r}, steps={c.steps}, "
                f"batch_size={c.batch_size}, lr={self.lr if self.data is not None else c.lr}, seed={c.seed})")
