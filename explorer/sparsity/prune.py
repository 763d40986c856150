"""Pruning rules -> keep-masks, the cut's random stream, dead-unit compaction, and `churn` (how much
of a mask a rewiring replaced; explorer.stats re-exports it). Pure numpy.

A rule is a short string (what RunConfig.prune, the CLI and the dashboard take):

    none            keep everything (dense training throughout)
    halving:k       the post's rule, k times: kill every surviving weight whose magnitude
                    is below the median magnitude of the survivors (leaves ~1/2**k)
    fraction:f      kill the fraction f (0 <= f < 1) of weights with the smallest |w|
    keep:n          keep the n largest |w| (a fixed budget)
    threshold:t     kill every weight with |w| < t
    random:f        the control: kill a random fraction f, whatever the magnitudes
    erk:eps         Erdős–Rényi (SET): each layer keeps eps * (n_in + n_out) weights at
                    random positions (at most all of them), whatever the magnitudes

Every rule is one `@rule(...)` function below: its parameter's range, help text and the
dashboard slider's range are declared with it, and the rest of the package (validation,
the CLI's help, the dashboard's rule menu) reads them from `RULES`. Adding a rule is one
decorated function here (plus its test).

Masks are boolean arrays, True = the weight survives. Ties in magnitude are broken by
position (a stable sort), so a rule gives the same mask on every machine.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError, ExplorerError, shown


@dataclass(frozen=True)
class RuleKind:
    """One pruning rule: its name, what its number means, its valid range, its slider."""

    name: str
    arg: str  # the parameter's letter in the syntax, e.g. "k" in halving:k ("" for none)
    help: str  # one line for --help and tooltips
    keep: Callable | None  # keep(|w| 1-D, value, rng, shape) -> bool mask; None for "none"
    whole: bool = False  # the parameter is a whole number
    lo: float = 0.0  # smallest valid value (inclusive)
    hi: float | None = None  # largest valid value (exclusive), None: unbounded
    slider: tuple = (0.0, 1.0, 0.01, 0.5)  # dashboard (min, max, step, default) ...
    log_slider: bool = False  # ... on log10 of the value (threshold, budgets)
    example: float = 0.0
    label: str = ""  # the dashboard slider's label, e.g. "halvings"

    def syntax(self) -> str:
        return self.name if not self.arg else f"{self.name}:{self.arg}"

    def check(self, v: float, text) -> None:
        """Raise ConfigError unless `v` is a valid parameter of this rule."""
        if self.whole and v != int(v):
            raise ConfigError(f"prune={shown(text)}: {self.name} takes a whole number, "
                              f"e.g. {self.name}:{self.example:g}")
        if v < self.lo or (self.hi is not None and v >= self.hi):
            top = "" if self.hi is None else f" and < {self.hi:g}"
            raise ConfigError(f"prune={shown(text)}: {self.name} takes a value >= {self.lo:g}{top}, "
                              f"e.g. {self.name}:{self.example:g}")


RULES: dict[str, RuleKind] = {"none": RuleKind("none", "", "keep every weight (dense training throughout)", None,
                                               slider=(0, 1, 1, 0), label="(no cut)")}


def rule(name: str, arg: str, help: str, **spec):
    """Register `fn(|w|, value, rng, shape) -> keep mask` as the rule `name:arg`."""
    def register(fn):
        RULES[name] = RuleKind(name, arg, help, fn, **spec)
        return fn
    return register


@rule("halving", "k", "the post's rule, k times: kill every surviving weight below the survivors' median |w|",
      whole=True, lo=0, hi=100, slider=(0, 10, 1, 5), example=5, label="halvings")
def _halving(a, k, rng, shape):
    keep = np.ones(a.size, dtype=bool)
    for _ in range(int(k)):
        surv = a[keep]
        if surv.size == 0:
            break
        keep &= a >= np.median(surv)
    return keep


@rule("fraction", "f", "kill the fraction f of weights with the smallest |w|", lo=0, hi=1,
      slider=(0.0, 0.99, 0.01, 0.9), example=0.9, label="fraction cut")
def _fraction(a, f, rng, shape):
    return _keep_largest(a, a.size - int(round(f * a.size)))


@rule("keep", "n", "keep the n largest |w| (a fixed budget)", whole=True, lo=1, slider=(1.0, 6.0, 0.1, 3.5),
      log_slider=True, example=3140, label="weights kept")
def _keep(a, n, rng, shape):
    return _keep_largest(a, min(int(n), a.size))


@rule("threshold", "t", "kill every weight with |w| < t", lo=0, slider=(-8.0, 0.0, 0.1, -5.0), log_slider=True,
      example=1e-4, label="|w| threshold")
def _threshold(a, t, rng, shape):
    return a >= t


@rule("random", "f", "the control: kill a random fraction f, whatever the magnitudes", lo=0, hi=1,
      slider=(0.0, 0.99, 0.01, 0.9), example=0.9, label="random cut")
def _random(a, f, rng, shape):
    keep = np.ones(a.size, dtype=bool)
    keep[rng.choice(a.size, size=int(round(f * a.size)), replace=False)] = False
    return keep


@rule("erk", "eps", "Erdős–Rényi (SET): each layer keeps eps*(n_in+n_out) weights at random positions", lo=0.01,
      hi=1e6, slider=(-1.0, 2.5, 0.05, 1.1), log_slider=True, example=13, label="ER epsilon")
def _erk(a, eps, rng, shape):
    if shape is None or len(shape) != 2:
        raise ConfigError(f"prune='erk:{eps:g}' needs each layer's shape: use prune_scope='layer'")
    n = min(a.size, int(round(eps * (shape[0] + shape[1]))))
    keep = np.zeros(a.size, dtype=bool)
    keep[rng.choice(a.size, size=n, replace=False)] = True
    return keep


def _keep_largest(a: np.ndarray, n_keep: int) -> np.ndarray:
    keep = np.ones(a.size, dtype=bool)
    order = np.argsort(a, kind="stable")  # smallest first; ties by position
    keep[order[: a.size - n_keep]] = False
    return keep


def rules_help() -> str:
    """'none | halving:k | fraction:f | ...' for help texts and error messages."""
    return " | ".join(r.syntax() for r in RULES.values())


def _expected() -> str:
    first = next(r for r in RULES.values() if r.arg)
    return f"expected {rules_help()} (e.g. '{first.name}:{first.example:g}')"


@dataclass(frozen=True)
class Rule:
    name: str
    value: float = 0.0

    @property
    def kind(self) -> RuleKind:
        return RULES[self.name]

    def __str__(self):
        if not self.kind.arg:
            return self.name
        return f"{self.name}:{int(self.value)}" if self.kind.whole else f"{self.name}:{self.value:g}"


def parse_rule(rule: str | Rule) -> Rule:
    """Parse 'halving:5' etc. into a Rule; raise ConfigError naming the bad part."""
    if isinstance(rule, Rule):
        return rule
    if not isinstance(rule, str):
        raise ConfigError(f"prune={shown(rule)}: {_expected()}")
    text = rule.strip().lower()
    if text in ("none", "", "dense"):
        return Rule("none")
    name, sep, arg = text.partition(":")
    kind = RULES.get(name)
    if kind is None or not kind.arg or not sep:
        raise ConfigError(f"prune={shown(rule)}: {_expected()}")
    try:
        v = float(arg)
    except ValueError:
        raise ConfigError(f"prune={shown(rule)}: {shown(arg)} is not a number; {_expected()}") from None
    if not math.isfinite(v):
        raise ConfigError(f"prune={shown(rule)}: the value must be finite")
    kind.check(v, rule)
    return Rule(name, v)


def cut_rng(seed: int) -> np.random.Generator:
    """The random stream of the cut (random rules): one definition, used by the trainer's cut
    and by every preview of it, so that a preview keeps exactly what the cut will keep."""
    return np.random.default_rng([seed, 2])


def keep_flat(absw: np.ndarray, rule: str | Rule, rng: np.random.Generator | None = None,
              shape: tuple | None = None) -> np.ndarray:
    """Keep-mask over a 1-D array of magnitudes (`shape`: the layer's, for rules that need it)."""
    r = parse_rule(rule)
    a = np.asarray(absw).ravel()
    if r.kind.keep is None or a.size == 0:
        return np.ones(a.size, dtype=bool)
    return r.kind.keep(a, r.value, np.random.default_rng(0) if rng is None else rng, shape)


def prune_masks(weights, rule, scope: str = "layer", rng=None, shapes=None) -> list[np.ndarray]:
    """Keep-masks (same shapes as `weights`) for a list of weight arrays.

    scope='layer' applies the rule to each array on its own (keep:n keeps n per layer);
    scope='global' ranks all the arrays' magnitudes together. `shapes`: the layers' (n_in,
    n_out) when the arrays are flat (erk sizes its budget from them); default: their shapes.
    """
    weights = [np.asarray(w) for w in weights]
    shapes = [w.shape for w in weights] if shapes is None else shapes
    if scope == "layer":
        return [keep_flat(np.abs(w), rule, rng, sh).reshape(w.shape) for w, sh in zip(weights, shapes)]
    if scope != "global":
        raise ConfigError(f"prune_scope={scope!r}: expected 'layer' or 'global'")
    flat = keep_flat(np.concatenate([np.abs(w).ravel() for w in weights]), rule, rng)
    out, start = [], 0
    for w in weights:
        out.append(flat[start : start + w.size].reshape(w.shape))
        start += w.size
    return out


class KeepMask:
    """A layer's keep-mask without a dense array (what `trainer.masks_` holds): the sorted flat
    positions i * n_out + j it keeps, or the full block units=(rows, cols) of a layer that was
    not cut. `sum()`, `size`, `shape` and `positions()` cost O(kept) at most; np.asarray(mask)
    builds the dense boolean mask (n_in * n_out bytes: for small layers)."""

    def __init__(self, shape, positions=None, units=None):
        self.shape = tuple(int(s) for s in shape)
        self._pos = None if positions is None else np.asarray(positions, dtype=np.int64)
        self._units = units

    @property
    def size(self) -> int:
        return self.shape[0] * self.shape[1]

    @property
    def ndim(self) -> int:
        return 2

    def sum(self, *args, **kwargs) -> int:
        if self._pos is not None:
            return len(self._pos)
        return len(self._units[0]) * len(self._units[1])

    def positions(self) -> np.ndarray:
        if self._pos is not None:
            return self._pos
        r, c = (np.asarray(u, dtype=np.int64) for u in self._units)
        return (r[:, None] * self.shape[1] + c[None, :]).ravel()

    def __array__(self, dtype=None, copy=None):
        out = np.zeros(self.size, dtype=bool)
        out[self.positions()] = True
        out = out.reshape(self.shape)
        return out if dtype is None else out.astype(dtype)

    def __repr__(self):
        return f"KeepMask(shape={self.shape}, kept={self.sum():,})"


def compact_units(masks: list[np.ndarray]) -> list[np.ndarray]:
    """Find the hidden units that still matter after pruning.

    masks[l] is the (n_in, n_out) keep-mask of weight layer l (the input layer's bias row
    included). A hidden unit with no incoming weight outputs f(0) = 0 for tanh and ReLU, so
    its outgoing weights never act and never learn; a unit with no outgoing weight gets a
    zero delta, so its incoming weights never learn and never matter. Both kinds are
    removed, repeatedly, until none is left. Returns, for each hidden layer, the sorted
    indices of the units kept; `masks` is updated in place (removed units' rows/columns
    cleared), so that mask counts equal the weights that are still trained.
    """
    changed = True
    keep = [np.ones(m.shape[1], dtype=bool) for m in masks[:-1]]
    while changed:
        changed = False
        for h in range(len(masks) - 1):
            alive = masks[h].any(axis=0) & masks[h + 1].any(axis=1) & keep[h]
            if not np.array_equal(alive, keep[h]):
                changed = True
                keep[h] = alive
                masks[h][:, ~alive] = False
                masks[h + 1][~alive, :] = False
    return [np.flatnonzero(k) for k in keep]


def compact_positions(shapes, positions, units_kept: bool = True) -> tuple[list[np.ndarray], list]:
    """`compact_units` for masks given as sorted flat positions (i * n_out + j) of layers of
    `shapes`, or None for a layer that keeps every weight, without a dense mask: O(surviving
    weights + units) per pass. Returns (the sorted units kept per hidden layer, per layer the
    indices into positions[l] of the weights that stay, None for a full layer).
    units_kept=False: no compaction (rewiring regrows into every unit)."""
    L = len(shapes)
    positions = [None if p is None else np.asarray(p, dtype=np.int64) for p in positions]
    keep = [np.ones(s[1], dtype=bool) for s in shapes[:-1]]
    sel = [None if p is None else np.arange(len(p)) for p in positions]
    n_level = lambda v: shapes[0][0] if v == 0 else shapes[-1][1] if v == L else int(keep[v - 1].sum())
    changed = units_kept
    while changed:
        changed = False
        for h in range(L - 1):  # hidden level h + 1: into it layer h, out of it layer h + 1
            n = shapes[h][1]
            if positions[h] is None:
                has_in = np.full(n, n_level(h) > 0)
            else:
                into = positions[h][sel[h]] % n
                has_in = np.bincount(into, minlength=n) > 0
            if positions[h + 1] is None:
                has_out = np.full(n, n_level(h + 2) > 0)
            else:
                out_of = positions[h + 1][sel[h + 1]] // shapes[h + 1][1]
                has_out = np.bincount(out_of, minlength=n) > 0
            alive = keep[h] & has_in & has_out
            if not np.array_equal(alive, keep[h]):
                changed = True
                keep[h] = alive
                if positions[h] is not None:
                    sel[h] = sel[h][alive[into]]
                if positions[h + 1] is not None:
                    sel[h + 1] = sel[h + 1][alive[out_of]]
    return [np.flatnonzero(k) for k in keep], sel


# -- masks as sorted flat positions, compared: a rewiring's churn (stats.masks re-exports it) ----
def _indices(fn: str, name: str, idx, size: int | None = None) -> np.ndarray:
    """`idx` as a 1-D int64 array of strictly increasing positions in [0, size)."""
    a = np.asarray(idx)
    if a.size == 0:
        return np.zeros(0, dtype=np.int64)
    if a.ndim != 1 or a.dtype.kind not in "iu":
        raise ExplorerError(f"{fn}: {name} has dtype {a.dtype} and shape {a.shape}; expected a 1-D integer "
                            f"array of flat positions, e.g. np.flatnonzero(mask)")
    a = a.astype(np.int64, copy=False)
    if not np.all(a[1:] > a[:-1]):
        raise ExplorerError(f"{fn}: {name} is not strictly increasing (unsorted or repeated positions); "
                            f"expected sorted unique positions, e.g. np.unique({name})")
    if a[0] < 0:
        raise ExplorerError(f"{fn}: {name} holds position {a[0]}; expected positions >= 0")
    if size is not None and a[-1] >= size:
        raise ExplorerError(f"{fn}: {name} holds position {a[-1]}; expected positions < {size} "
                            f"(n_in * n_out, the layer's size)")
    return a


def _n_common(a: np.ndarray, b: np.ndarray) -> int:
    return int(np.intersect1d(a, b, assume_unique=True).size)


def churn(before_idx, after_idx) -> float:
    """Fraction of a mask that changed: |after \\ before| / |before|, masks as sorted flat indices.

    The weights `after` keeps that `before` did not, per weight `before` kept: 0 for the same
    mask, 1 when a mask of the same size was replaced entirely (with a fixed budget it is
    also the fraction of `before` that was dropped). 0.0 if both are empty, inf if only
    `before` is. Raises ExplorerError as stats.jaccard_index.
    """
    b, a = _indices("churn", "before_idx", before_idx), _indices("churn", "after_idx", after_idx)
    new = a.size - _n_common(b, a)
    if b.size == 0:
        return 0.0 if a.size == 0 else math.inf
    return new / b.size
