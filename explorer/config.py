"""RunConfig: every setting of one run, each declared once with its metadata, to and from JSON.

A run is reproduced from its config alone (same config and seed -> bit-identical results),
so everything that changes a result lives here. Each field is declared with `setting(...)`:
its default, a help line, its type and valid range or choices, whether a sweep may vary it,
whether a shared link may set it, and which dashboard control shows it. Everything else
reads that metadata (`SETTINGS`): validation and its messages, the command line's options
and --help (cli.py), sweep axes (`parse_list`), the dashboard's controls (app/controls.py) and the
text form of a value (config_text.py: `format_value`, `parse_text`: `--hidden 256x128`, `?prune=halving:3`).
Adding a setting is one field here (plus its use).

The defaults are the post's headline run: 784-128-10 tanh MLP, 200 burn-in steps, the
input layer halved 5 times, 30,000 SGD steps at batch size 1 and learning rate 0.01.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import os
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ConfigError, ExplorerError, shown
from .jsonio import json_text, read_json, read_json_file
from .sparsity.init import INITS
from .sparsity.prune import parse_rule, rules_help
from .sparsity.rewire import parse_rewire, rewirings_help
from .sparsity.schedule import SCHEDULES, parse_schedule

ACTIVATIONS = ("tanh", "relu")
# The most steps, units, samples a setting takes: `--steps 1e23` (or 400 digits) is one line, not a run
# for ever or an overflowing float; 10^9 steps is days of training even at the fastest batch-1 kernel.
MAX_COUNT = 10**9
MAX_SEED = 2**31 - 1  # the dashboard's seed box holds no more
MAX_DIGITS = 40  # a number written with more characters than this is refused before it is read

ENGINES = ("auto", "numba", "scipy")
SCOPES = ("layer", "global")


@dataclass(frozen=True)
class Setting:
    """What the package knows about one RunConfig field besides its default."""

    help: str
    kind: str  # int | float | text | choice | rule | units | layers | path | dict
    lo: float | None = None  # smallest valid value (numbers)
    above: bool = False  # lo itself is excluded (lr > 0)
    hi: float | None = None  # values must be below this (momentum < 1)
    most: int | None = None  # the largest valid whole number (steps: see MAX_COUNT)
    optional: bool = False  # None is allowed (n_train: all samples)
    choices: tuple = ()  # for kind "choice" (see also `choices()` for data sets)
    sweep: bool = True  # may be an axis of `explorer sweep` / a grid
    cli: bool = True  # has a command-line option --name-with-dashes
    link: bool = True  # may be set from a shared link (never a path)
    control: dict | None = None  # the dashboard control: {"widget": ..., ...}; None: no control
    live: bool = False  # takes effect on the next step; otherwise a change starts a new run


def setting(default, help: str, kind: str, **meta):
    """A dataclass field carrying its Setting (defaults that are mutable go through a factory)."""
    spec = Setting(help, kind, **meta)
    if isinstance(default, dict):
        return field(default_factory=dict, metadata={"setting": spec})
    return field(default=default, metadata={"setting": spec})


@dataclass
class RunConfig:
    # data
    dataset: str = setting("auto", "mnist | fashion-mnist | cifar10 | digits | random | auto, a .csv or .npz file "
                                   "(PATH), or openml:NAME_OR_ID", "choice", control={"widget": "dropdown"})
    data_dir: str | None = setting(None, "folder holding the data set's standard files (e.g. the four MNIST "
                                         "IDX .gz files)", "path", optional=True, sweep=False, link=False)
    label_column: str | None = setting(None, "a CSV dataset's label column: a header name or a column number from 1 "
                                             "(-1: the last, the default)", "text", optional=True, sweep=False,
                                       link=False)
    dataset_sha256: str | None = setting(None, "SHA-256 of a dataset file, recorded when a run reads it; a run refuses "
                                               "the file if it changed", "text", optional=True, sweep=False, cli=False,
                                         link=False)
    n_train: int | None = setting(None, "use only the first N training samples (default: all)", "int", lo=1,
                                  most=MAX_COUNT, optional=True)
    n_test: int | None = setting(None, "evaluate on the first N test samples (default: all)", "int", lo=1,
                                 most=MAX_COUNT, optional=True)
    # model
    hidden: tuple[int, ...] = setting((128,), "hidden units per hidden layer; 256x128 is two hidden layers",
                                      "units", control={"widget": "text"})
    activation: str = setting("tanh", "tanh: the post's tanh + squared error with +-1 targets; relu: ReLU "
                                      "hidden units, softmax + cross-entropy", "choice", choices=ACTIVATIONS)
    init_scale: float = setting(1e-5, "initial weights uniform in +-S (the post: 1e-5) with init post; also the "
                                      "scale of SET's regrown weights", "float", lo=0, above=True, hi=1e3)
    init: str = setting("auto", "initial weights: post (uniform +-init_scale), he (normal, sd sqrt(2/fan-in)), "
                                "glorot (uniform +-sqrt(6/(fan-in+fan-out))), auto (post for tanh, he for relu); a "
                                "layer cut at step 0 is rescaled to each unit's surviving fan-in", "choice",
                        choices=INITS)
    # schedule
    burn_in: int = setting(200, "dense SGD steps on randomly drawn training samples before the cut", "int",
                           lo=0, most=MAX_COUNT, control={"widget": "steps_slider", "options": (
                               0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000)})
    prune: str = setting("halving:5", "the cut: " + rules_help(), "rule", control={"widget": "rule"})
    prune_layers: tuple[int, ...] | str = setting((0,), "weight layers to cut: 0 (the input layer), 0,1, or all",
                                                  "layers", control={"widget": "text"})
    prune_scope: str = setting("layer", "rank magnitudes per layer, or globally over the cut layers", "choice",
                               choices=SCOPES)
    prune_schedule: str = setting("once", "once: the whole cut at the end of the burn-in; gradual:END:EVERY: "
                                          "from there to step END (burn-in included) a cut every EVERY steps "
                                          "along Zhu & Gupta's cubic schedule to the rule's budget", "rule")
    rewire: str = setting("none", "dynamic sparse training of the pruned layers: " + rewirings_help()
                          + " (set: regrow at random; rigl: where |dense gradient| is largest)", "rule",
                          control={"widget": "rewire", "label": "rewiring"})
    rewire_every: int = setting(500, "steps between two rewirings, counted from the cut", "int", lo=1,
                                most=MAX_COUNT, control={"widget": "int_text", "max": 10**7})
    rewire_until: int | None = setting(None, "rewiring stops at this step (burn-in included; default: rigl at "
                                             "75% of the steps after the burn-in, set at the end)", "int", lo=0,
                                       most=2 * MAX_COUNT, optional=True)
    rewire_batch: int = setting(64, "training samples of RigL's dense gradient at each rewiring", "int", lo=1,
                                most=MAX_COUNT)
    steps: int = setting(30_000, "SGD steps after the burn-in, over the training set in order", "int", lo=0,
                         most=MAX_COUNT, control={"widget": "int_text", "step": 1000})
    batch_size: int = setting(1, "samples per step (the gradient is the batch mean)", "int", lo=1,
                              most=MAX_COUNT, control={"widget": "int_text", "max": 65536})
    lr: float = setting(0.01, "learning rate; live: a change takes effect on the next step", "float", lo=0,
                        above=True, live=True, control={"widget": "log_slider", "min": -4, "max": 0, "step": 0.1})
    momentum: float = setting(0.0, "momentum mu: v = mu v + d, w += lr v (buffers per surviving weight)", "float",
                              lo=0, hi=1, control={"widget": "float_slider", "slider": (0.0, 0.99, 0.01)})
    weight_decay: float = setting(0.0, "weight decay: d = gradient step - weight_decay * w", "float", lo=0,
                                  control={"widget": "off_log_slider", "decades": (-6, -1), "label": "weight decay"})
    l1: float = setting(0.0, "L1 penalty: d = gradient step - l1 * sign(w)", "float", lo=0,
                        control={"widget": "off_log_slider", "decades": (-7, -2), "label": "L1"})
    dropout: float = setting(0.0, "inverted dropout rate of the hidden units in training steps", "float", lo=0, hi=1,
                             control={"widget": "float_slider", "slider": (0.0, 0.9, 0.05)})
    seed: int = setting(0, "seeds the initial weights, the burn-in draws and random cuts", "int", lo=0,
                        most=MAX_SEED, control={"widget": "int_text", "max": 2**31 - 1})
    eval_every: int = setting(0, "evaluate on the test set every N steps (0: only at the end)", "int", lo=0,
                             most=MAX_COUNT)
    engine: str = setting("auto", "sparse kernels: numba (fused, fast), scipy (the reference), auto", "choice",
                          choices=ENGINES)
    extra: dict = setting({}, "free-form notes carried into the results", "dict", sweep=False, cli=False,
                          link=False)

    def __post_init__(self):
        """Normalise types (numpy scalars, tuples, canonical rule and data set names); values
        of the wrong kind are left for `validate` to report."""
        for f in dataclasses.fields(self):
            spec, v = f.metadata["setting"], getattr(self, f.name)
            setattr(self, f.name, _normalise(f.name, spec, v))

    # -- validation -----------------------------------------------------------------
    def validate(self) -> RunConfig:
        """Check every setting; raise ConfigError with a one-line message on the first bad one."""
        for f in dataclasses.fields(self):
            _check(f.name, f.metadata["setting"], getattr(self, f.name))
        n_layers = len(self.hidden) + 1
        if self.prune_layers != "all":
            for i in self.prune_layers:
                if not 0 <= i < n_layers:
                    raise ConfigError(
                        f"prune_layers={list(self.prune_layers)}: layer {i} does not exist; "
                        f"a net with {len(self.hidden)} hidden layer(s) has weight layers 0..{n_layers - 1}")
        self._check_sparse_training()
        from .data import check_data_settings

        check_data_settings(self.dataset, self.data_dir, self.label_column, self.dataset_sha256)
        return self

    def _check_sparse_training(self) -> None:
        """The settings of the sparse phase that depend on each other (erk, gradual, rewiring)."""
        rule, cut, last = parse_rule(self.prune), self.burn_in, self.burn_in + self.steps
        if rule.name == "erk" and self.prune_scope == "global":
            raise ConfigError(f"prune={self.prune!r} with prune_scope='global': erk sets each layer's own budget "
                              f"from its shape; use prune_scope='layer'")
        sched = parse_schedule(self.prune_schedule)
        if sched.kind == "gradual":
            if rule.name == "none":
                raise ConfigError(f"prune_schedule={self.prune_schedule!r} with prune='none': a gradual cut needs "
                                  f"a rule that sets the budget, e.g. prune='keep:3140'")
            if self.steps == 0:
                raise ConfigError(f"prune_schedule={self.prune_schedule!r} with steps=0: a gradual cut happens "
                                  f"in the steps after the burn-in and there are none; give steps, or use "
                                  f"prune_schedule='once'")
            if not cut < sched.end <= last:
                where = "not after the burn-in" if sched.end <= cut else "beyond the last step"
                raise ConfigError(f"prune_schedule={self.prune_schedule!r}: the end {sched.end:,} is {where}; "
                                  f"it must be in {cut + 1:,}..{last:,} (burn_in={cut:,}, burn_in + steps={last:,})")
        if parse_rewire(self.rewire).name != "none":
            if not self.pruned_layer_indices():
                raise ConfigError(f"rewire={self.rewire!r} with prune='none': rewiring changes the pattern of "
                                  f"pruned layers; cut some, e.g. prune='erk:13'")
            if self.rewire_until is not None and not cut <= self.rewire_until <= last:
                raise ConfigError(f"rewire_until={self.rewire_until:,}: expected a step in {cut:,}..{last:,} "
                                  f"(the sparse phase: burn_in={cut:,} to burn_in + steps={last:,})")
            until, first = min(self.rewire_until_step(), last), cut + self.rewire_every
            if first >= until:  # schedule.structure_steps: rewirings at cut + k * every < until
                raise ConfigError(f"rewire={self.rewire!r} with rewire_every={self.rewire_every:,}: the first "
                                  f"rewiring would be at step {first:,}, not before rewiring stops at step "
                                  f"{until:,}, so the run would rewire nothing; lower rewire_every below "
                                  f"{until - cut:,} or give more steps")

    def data_args(self) -> dict:
        """load()'s keywords besides the name: `load(cfg.dataset, **cfg.data_args())`."""
        return {"data_dir": self.data_dir, "label_column": self.label_column, "sha256": self.dataset_sha256}

    def with_data(self, dataset=None) -> RunConfig:
        """With the SHA-256 of the file it names (that `dataset` was read from; None: hash the file)
        recorded, so it reproduces the run or refuses a changed file (DataError)."""
        from .data import pinned_sha256

        return self.replace(dataset_sha256=pinned_sha256(self.dataset, self.dataset_sha256, dataset))

    def rewire_until_step(self) -> int:
        """The step rewiring stops at (none at or after it): rewire_until, or the rule's default
        share of the steps after the burn-in (rigl 75%, set all)."""
        if self.rewire_until is not None:
            return self.rewire_until
        return self.burn_in + int(parse_rewire(self.rewire).kind.until * self.steps)

    def pruned_layer_indices(self) -> tuple[int, ...]:
        n_layers = len(self.hidden) + 1
        if parse_rule(self.prune).name == "none":
            return ()
        if self.prune_layers == "all":
            return tuple(range(n_layers))
        return tuple(sorted(set(self.prune_layers)))

    # -- JSON -----------------------------------------------------------------------
    def to_dict(self) -> dict:
        try:
            d = dataclasses.asdict(self)
        except RecursionError:  # asdict copies `extra` deeply
            raise ConfigError("extra refers to itself or is nested too deeply to copy; keep it to plain numbers, "
                              "text, lists and dicts") from None
        d["hidden"] = list(self.hidden)
        d["prune_layers"] = self.prune_layers if self.prune_layers == "all" else list(self.prune_layers)
        return d

    def to_json(self) -> str:
        return json_text(self.to_dict(), "config", indent=2)

    @classmethod
    def from_dict(cls, d: dict) -> RunConfig:
        """A validated RunConfig from a dict (a JSON object): unknown keys and values of the
        wrong type ("lr": "0.1", "lr": true) are refused with one line."""
        if not isinstance(d, dict):
            raise ConfigError(f"a run config must be a JSON object, got {type(d).__name__}")
        unknown = sorted(set(d) - set(SETTINGS))
        if unknown:
            raise ConfigError(f"unknown config key(s) {unknown}; known keys: {', '.join(SETTINGS)}")
        return cls(**d).validate()

    @classmethod
    def from_json(cls, text_or_path: str | Path) -> RunConfig:
        """Read a config from a JSON string or a path to a JSON file."""
        if str(text_or_path).lstrip().startswith("{"):
            return cls.from_dict(read_json(str(text_or_path), "config"))
        return cls.from_dict(read_json_file(text_or_path, "config file"))

    def replace(self, **changes) -> RunConfig:
        unknown = sorted(set(changes) - set(SETTINGS))
        if unknown:
            raise ConfigError(f"unknown setting(s) {unknown}; known: {', '.join(SETTINGS)}")
        return dataclasses.replace(self, **changes)


SETTINGS: dict[str, Setting] = {f.name: f.metadata["setting"] for f in dataclasses.fields(RunConfig)}


def choices(name: str) -> tuple:
    """The values of a choice setting: data sets from the registry, then the files and OpenML sets
    that a checked config named in this session (data.session_datasets: the dashboard's menu)."""
    if name == "dataset":
        from .data import DATASETS, session_datasets

        return ("auto", *DATASETS, *session_datasets())
    return SETTINGS[name].choices


# -- normalising and checking values ----------------------------------------------------------
def _normalise(name: str, spec: Setting, v):
    if v is None or isinstance(v, bool):
        return v
    if spec.kind == "int" and isinstance(v, numbers.Integral):
        return int(v)
    if spec.kind == "float" and isinstance(v, numbers.Real):
        try:
            return float(v)
        except OverflowError:  # an int of 400 digits: reported by validate
            return v
    if spec.kind == "units":
        return _int_tuple(name, v, x_sep=True)
    if spec.kind == "layers":
        if isinstance(v, str) and v.strip().lower() == "all":
            return "all"
        return _int_tuple(name, v)
    if spec.kind == "rule" and isinstance(v, str):
        try:
            return str(_PARSERS[name][0](v))
        except ConfigError:
            return v  # reported by validate
    if spec.kind == "path" and isinstance(v, os.PathLike):
        return os.fspath(v)
    if name == "dataset" and isinstance(v, (str, os.PathLike)) and v != "auto":
        from .data import dataset_name

        try:
            return dataset_name(os.fspath(v))
        except ExplorerError:
            return v  # reported by validate
    return v


MAX_RUNS = 100_000  # runs in one sweep (a grid, --seeds): a plan of 10^8 is refused, not built


def check_seeds(seeds, runs_per_seed: int = 1) -> int:
    """A number of seeds (runs seeds 0..n-1 of `runs_per_seed` runs each): a whole number >= 1 that
    keeps the plan within MAX_RUNS runs, else a one-line ConfigError (before any run is planned)."""
    most = max(1, MAX_RUNS // runs_per_seed)
    if isinstance(seeds, bool) or not isinstance(seeds, int) or not 1 <= seeds <= most:
        per = f" of {runs_per_seed} runs each" if runs_per_seed > 1 else ""
        raise ConfigError(f"--seeds {shown(seeds)}: expected a whole number in 1..{most:,} (seeds{per}; one sweep "
                          f"plans at most {MAX_RUNS:,} runs)")
    return seeds


def _int_tuple(name, value, x_sep: bool = False):
    """Whole numbers from '128,64' ('+' too; 'x' as well where x_sep: '256x128' hidden layers)."""
    if isinstance(value, str):
        text = value.lower().replace(" ", "").replace("+", ",")
        parts = [p for p in (text.replace("x", ",") if x_sep else text).split(",") if p]
        try:
            return tuple(int(p) for p in parts)
        except ValueError:
            example = "'128,64'" if x_sep else "'0,1' or 'all'"
            raise ConfigError(f"{name}={value!r}: expected comma-separated whole numbers, e.g. {example}") from None
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return (int(value),)
    try:
        out = tuple(value)
    except TypeError:
        raise ConfigError(f"{name}={value!r}: expected a whole number or a list of them") from None
    for v in out:
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            raise ConfigError(f"{name}={value!r}: expected whole numbers, got {v!r}")
    return tuple(int(v) for v in out)


def expectation(name: str) -> str:
    spec = SETTINGS[name]
    if spec.kind == "choice":
        return "one of " + ", ".join(choices(name))
    if spec.kind == "rule":
        return _PARSERS[name][1]()
    if spec.kind == "int" and spec.most is not None:
        return f"a whole number in {spec.lo:g}..{spec.most:,}"
    if spec.kind in ("int", "float"):
        what = "a whole number" if spec.kind == "int" else "a finite number"
        if spec.lo is not None:
            what += f" {'>' if spec.above else '>='} {spec.lo:g}"
        if spec.hi is not None:
            what += f" and < {spec.hi:g}"
        return what
    return {"units": "whole numbers >= 1 such as 128 or 256x128", "layers": "layer numbers such as 0,1 or 'all'",
            "path": "a folder path", "dict": "a JSON object", "text": "text"}[spec.kind]


def _check(name: str, spec: Setting, v) -> None:
    bad = f"{name}={shown(v)}: expected {expectation(name)}"
    if v is None:
        if spec.optional:
            return
        raise ConfigError(bad)
    if spec.kind in ("int", "float"):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or (spec.kind == "int" and not isinstance(v, int)):
            raise ConfigError(bad + (" (a number, not text)" if isinstance(v, str) else ""))
        # the bound first: float() of a 400-digit int overflows; a float setting left an int is one
        if (spec.most is not None and v > spec.most) or (spec.kind == "float" and not isinstance(v, float)) \
                or (isinstance(v, float) and not math.isfinite(v)) or (spec.hi is not None and v >= spec.hi) \
                or (spec.lo is not None and (v <= spec.lo if spec.above else v < spec.lo)):
            raise ConfigError(bad)
    elif spec.kind == "choice":
        if name == "dataset":
            from .data import dataset_name

            dataset_name(v if isinstance(v, str) else repr(v))  # a name, file or openml:; else the data layer's line
        elif v not in choices(name):
            raise ConfigError(bad)
    elif spec.kind == "rule":
        _PARSERS[name][0](v)  # raises ConfigError itself
    elif spec.kind == "units":
        if not v:
            raise ConfigError("hidden=(): expected at least one hidden layer, e.g. hidden=(128,)")
        for h in v:
            if not 1 <= h <= MAX_COUNT:
                raise ConfigError(f"hidden units={shown(h)}: expected a whole number in 1..{MAX_COUNT:,}")
    elif spec.kind == "layers" and not v:
        raise ConfigError(f"{name}=(): name at least one layer (0, 0,1 or all), or use prune='none' for no cut")
    elif spec.kind == "path":
        if not isinstance(v, str) or not v:
            raise ConfigError(bad)
    elif spec.kind == "dict":
        if not isinstance(v, dict):
            raise ConfigError(bad)
        json_text(v, name)


# the settings written as rules: (parser whose str() is the canonical text, the help of what is expected)
_PARSERS = {"prune": (parse_rule, rules_help), "rewire": (parse_rewire, rewirings_help),
            "prune_schedule": (parse_schedule, lambda: SCHEDULES)}

DEFAULTS = RunConfig()  # after the helpers above: constructing one normalises its fields
