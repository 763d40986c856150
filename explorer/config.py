"""RunConfig: every setting of one run in one validated dataclass, to and from JSON.

A run is reproduced from its config alone (same config and seed -> bit-identical results),
so everything that changes a result lives here, each field with its default and meaning.
The defaults are the post's headline run: 784-128-10 tanh MLP, 200 burn-in steps, the
input layer halved 5 times, 30,000 SGD steps at batch size 1 and learning rate 0.01.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from .data import canonical_name
from .errors import ConfigError
from .prune import parse_rule

ACTIVATIONS = ("tanh", "relu")
ENGINES = ("auto", "numba", "scipy")
SCOPES = ("layer", "global")


@dataclass
class RunConfig:
    # data
    dataset: str = "auto"  # mnist | fashion-mnist | cifar10 | digits | random | auto
    data_dir: str | None = None  # folder holding the data set's standard files
    n_train: int | None = None  # use only the first n training samples (None: all)
    n_test: int | None = None  # evaluate on the first n test samples (None: all)
    # model
    hidden: tuple[int, ...] = (128,)  # hidden units per hidden layer
    activation: str = "tanh"  # tanh: the post's tanh + squared error, +-1 targets;
    #                           relu: ReLU hidden units, softmax + cross-entropy output
    init_scale: float = 1e-5  # initial weights uniform in +-init_scale (the post: 1e-5)
    # schedule
    burn_in: int = 200  # dense SGD steps on randomly drawn training samples
    prune: str = "halving:5"  # none | halving:k | fraction:f | keep:n | threshold:t | random:f
    prune_layers: tuple[int, ...] | str = (0,)  # weight layers to prune (0 = input) or "all"
    prune_scope: str = "layer"  # rank magnitudes per layer, or globally over pruned layers
    steps: int = 30_000  # SGD steps after burn-in, over the training set in order
    batch_size: int = 1  # samples per step (the gradient is the batch mean)
    lr: float = 0.01  # learning rate; a live setting (takes effect on the next step)
    seed: int = 0  # seeds initial weights, burn-in draws and random pruning
    eval_every: int = 0  # evaluate on the test set every n steps (0: only at the end)
    engine: str = "auto"  # sparse kernels: numba (fused, fast), scipy (reference), auto
    extra: dict = field(default_factory=dict)  # free-form notes carried into results

    def __post_init__(self):
        self.hidden = _as_int_tuple(self.hidden, "hidden")
        if isinstance(self.prune_layers, str) and self.prune_layers.strip().lower() == "all":
            self.prune_layers = "all"
        else:
            self.prune_layers = _as_int_tuple(self.prune_layers, "prune_layers")

    # -- validation -----------------------------------------------------------------
    def validate(self) -> RunConfig:
        """Check every setting; raise ConfigError with a one-line message on the first bad one."""
        if not isinstance(self.dataset, str) or not self.dataset:
            raise ConfigError(f"dataset={self.dataset!r}: expected a data set name such as 'mnist'")
        canonical_name(self.dataset)  # DataError naming the choices for an unknown data set
        for name in ("n_train", "n_test"):
            v = getattr(self, name)
            if v is not None:
                _int_at_least(name, v, 1)
        if not self.hidden:
            raise ConfigError("hidden=(): expected at least one hidden layer, e.g. hidden=(128,)")
        for h in self.hidden:
            _int_at_least("hidden units", h, 1)
        if self.activation not in ACTIVATIONS:
            raise ConfigError(f"activation={self.activation!r}: expected one of {', '.join(ACTIVATIONS)}")
        _positive_finite("init_scale", self.init_scale)
        _int_at_least("burn_in", self.burn_in, 0)
        parse_rule(self.prune)  # raises ConfigError itself
        n_layers = len(self.hidden) + 1
        if self.prune_layers != "all":
            for i in self.prune_layers:
                if not 0 <= i < n_layers:
                    raise ConfigError(
                        f"prune_layers={list(self.prune_layers)}: layer {i} does not exist; "
                        f"a net with {len(self.hidden)} hidden layer(s) has weight layers 0..{n_layers - 1}"
                    )
        if self.prune_scope not in SCOPES:
            raise ConfigError(f"prune_scope={self.prune_scope!r}: expected 'layer' or 'global'")
        _int_at_least("steps", self.steps, 0)
        _int_at_least("batch_size", self.batch_size, 1)
        _positive_finite("lr", self.lr)
        _int_at_least("seed", self.seed, 0)
        _int_at_least("eval_every", self.eval_every, 0)
        if self.engine not in ENGINES:
            raise ConfigError(f"engine={self.engine!r}: expected one of {', '.join(ENGINES)}")
        return self

    def pruned_layer_indices(self) -> tuple[int, ...]:
        n_layers = len(self.hidden) + 1
        if parse_rule(self.prune).name == "none":
            return ()
        if self.prune_layers == "all":
            return tuple(range(n_layers))
        return tuple(sorted(set(self.prune_layers)))

    # -- JSON -----------------------------------------------------------------------
    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["hidden"] = list(self.hidden)
        d["prune_layers"] = self.prune_layers if self.prune_layers == "all" else list(self.prune_layers)
        return d

    def to_json(self, path: str | Path | None = None) -> str:
        text = json.dumps(self.to_dict(), indent=2)
        if path is not None:
            from .export import write_text_atomic

            write_text_atomic(path, text + "\n")
        return text

    @classmethod
    def from_dict(cls, d: dict) -> RunConfig:
        if not isinstance(d, dict):
            raise ConfigError(f"a run config must be a JSON object, got {type(d).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ConfigError(f"unknown config key(s) {unknown}; known keys: {', '.join(sorted(known))}")
        try:
            return cls(**d)
        except TypeError as e:  # wrong value types surface here
            raise ConfigError(f"bad config: {e}") from None

    @classmethod
    def from_json(cls, text_or_path: str | Path) -> RunConfig:
        """Read a config from a JSON string or a path to a JSON file."""
        p = Path(text_or_path) if not str(text_or_path).lstrip().startswith("{") else None
        if p is not None:
            if not p.is_file():
                raise ConfigError(f"config file {str(p)!r} does not exist; pass a path to a JSON file")
            text = p.read_text()
        else:
            text = str(text_or_path)
        try:
            d = json.loads(text)
        except json.JSONDecodeError as e:
            raise ConfigError(f"config is not valid JSON ({e.msg} at line {e.lineno}); fix the file") from None
        return cls.from_dict(d)

    def replace(self, **changes) -> RunConfig:
        return dataclasses.replace(self, **changes)


def _as_int_tuple(value, name) -> tuple[int, ...]:
    if isinstance(value, str):
        parts = [p for p in value.replace(" ", "").split(",") if p]
        try:
            return tuple(int(p) for p in parts)
        except ValueError:
            raise ConfigError(f"{name}={value!r}: expected comma-separated whole numbers, e.g. '128,64'") from None
    if isinstance(value, (int,)) and not isinstance(value, bool):
        return (int(value),)
    try:
        out = tuple(value)
    except TypeError:
        raise ConfigError(f"{name}={value!r}: expected a whole number or a list of them") from None
    for v in out:
        if isinstance(v, bool) or not isinstance(v, (int,)) and not (hasattr(v, "__index__")):
            raise ConfigError(f"{name}={value!r}: expected whole numbers, got {v!r}")
    return tuple(int(v) for v in out)


def _int_at_least(name, v, lo):
    if isinstance(v, bool) or not hasattr(v, "__index__"):
        raise ConfigError(f"{name}={v!r}: expected a whole number >= {lo}")
    if int(v) < lo:
        raise ConfigError(f"{name}={v!r}: expected a whole number >= {lo}")


def _positive_finite(name, v):
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}={v!r}: expected a positive finite number") from None
    if not math.isfinite(f) or f <= 0:
        raise ConfigError(f"{name}={v!r}: expected a positive finite number, e.g. {name}=0.01")
