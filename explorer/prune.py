"""Pruning rules -> keep-masks, and dead-unit compaction. Pure numpy.

A rule is a short string (what RunConfig.prune, the CLI and the dashboard take):

    none            keep everything (dense training throughout)
    halving:k       the post's rule, k times: kill every surviving weight whose magnitude
                    is below the median magnitude of the survivors (leaves ~1/2**k)
    fraction:f      kill the fraction f (0 <= f < 1) of weights with the smallest |w|
    keep:n          keep the n largest |w| (a fixed budget)
    threshold:t     kill every weight with |w| < t
    random:f        the control: kill a random fraction f, whatever the magnitudes

Masks are boolean arrays, True = the weight survives. Ties in magnitude are broken by
position (a stable sort), so a rule gives the same mask on every machine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .errors import ConfigError

RULES = ("none", "halving", "fraction", "keep", "threshold", "random")
_HELP = "expected none, halving:k, fraction:f, keep:n, threshold:t or random:f (e.g. 'halving:5')"


@dataclass(frozen=True)
class Rule:
    name: str
    value: float = 0.0

    def __str__(self):
        if self.name == "none":
            return "none"
        v = int(self.value) if self.name in ("halving", "keep") else self.value
        return f"{self.name}:{v:g}" if isinstance(v, float) else f"{self.name}:{v}"


def parse_rule(rule: str | Rule) -> Rule:
    """Parse 'halving:5' etc. into a Rule; raise ConfigError naming the bad part."""
    if isinstance(rule, Rule):
        return rule
    if not isinstance(rule, str):
        raise ConfigError(f"prune={rule!r}: {_HELP}")
    text = rule.strip().lower()
    if text in ("none", "", "dense"):
        return Rule("none")
    name, sep, arg = text.partition(":")
    if name not in RULES or name == "none" or not sep:
        raise ConfigError(f"prune={rule!r}: {_HELP}")
    try:
        v = float(arg)
    except ValueError:
        raise ConfigError(f"prune={rule!r}: {arg!r} is not a number; {_HELP}") from None
    if not math.isfinite(v):
        raise ConfigError(f"prune={rule!r}: the value must be finite")
    if name in ("halving", "keep"):
        if v != int(v):
            raise ConfigError(f"prune={rule!r}: {name} takes a whole number")
        lo = 0 if name == "halving" else 1
        if v < lo:
            raise ConfigError(f"prune={rule!r}: {name} takes a whole number >= {lo}")
    elif name in ("fraction", "random"):
        if not 0 <= v < 1:
            raise ConfigError(f"prune={rule!r}: the fraction must be in [0, 1), e.g. {name}:0.9")
    elif name == "threshold" and v < 0:
        raise ConfigError(f"prune={rule!r}: the threshold must be >= 0")
    return Rule(name, v)


def keep_flat(absw: np.ndarray, rule: str | Rule, rng: np.random.Generator | None = None) -> np.ndarray:
    """Keep-mask over a 1-D array of magnitudes."""
    r = parse_rule(rule)
    a = np.asarray(absw).ravel()
    n = a.size
    keep = np.ones(n, dtype=bool)
    if r.name == "none" or n == 0:
        return keep
    if r.name == "halving":
        for _ in range(int(r.value)):
            surv = a[keep]
            if surv.size == 0:
                break
            keep &= a >= np.median(surv)
    elif r.name == "threshold":
        keep = a >= r.value
    elif r.name in ("fraction", "keep"):
        n_keep = n - int(round(r.value * n)) if r.name == "fraction" else min(int(r.value), n)
        order = np.argsort(a, kind="stable")  # smallest first; ties by position
        keep[order[: n - n_keep]] = False
    elif r.name == "random":
        rng = np.random.default_rng(0) if rng is None else rng
        n_kill = int(round(r.value * n))
        keep[rng.choice(n, size=n_kill, replace=False)] = False
    return keep


def prune_masks(weights, rule, scope: str = "layer", rng=None) -> list[np.ndarray]:
    """Keep-masks (same shapes as `weights`) for a list of weight arrays.

    scope='layer' applies the rule to each array on its own (keep:n keeps n per layer);
    scope='global' ranks all the arrays' magnitudes together.
    """
    weights = [np.asarray(w) for w in weights]
    if scope == "layer":
        return [keep_flat(np.abs(w), rule, rng).reshape(w.shape) for w in weights]
    if scope != "global":
        raise ConfigError(f"prune_scope={scope!r}: expected 'layer' or 'global'")
    flat = keep_flat(np.concatenate([np.abs(w).ravel() for w in weights]), rule, rng)
    out, start = [], 0
    for w in weights:
        out.append(flat[start : start + w.size].reshape(w.shape))
        start += w.size
    return out


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
