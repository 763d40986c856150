"""A sparse start: a run cut at step 0 whose pruned layers are drawn sparse, never dense.

A cut at step 0 ranks initial weights whose distribution is known (or ignores them: erk,
random), so what it keeps can be drawn without the dense layer: exact counts, and no array and
no random draw of size n_in * n_out. For a pruned layer of shape (n_in, n_out), N = n_in * n_out,
the draw has the dense path's distribution (draw every weight, cut, compact, rescale):

    erk:eps, random:f      n = the rule's count (random: N - round(f N)); positions uniform
                           without replacement; values iid from the init distribution
    keep:n, fraction:f,    n = the rule's count (halving: N halved k times, rounding up, as the
    halving:k              median rule keeps); positions uniform without replacement; |w| the n
                           largest of N iid |w| -- their tail probabilities are the n smallest of
                           N uniforms, the cumulative sums of n exponentials over those sums plus a
                           Gamma(N + 1 - n) (Renyi) -- in random order, with random signs
    threshold:t            n ~ Binomial(N, P(|w| >= t)); |w| iid from |w| given |w| >= t

(the init's distributions are symmetric, so the sign is independent of |w|; the positions a
magnitude rule keeps are a uniform subset, because the weights are exchangeable). Then, as on
the dense path: dead hidden units are compacted away (not with rewiring), he and glorot layers
are rescaled to each unit's actual fan-in (init.sparse_factor; the post's init keeps its
+-init_scale), and layers that are not pruned are drawn in full for the units that stay.
Random streams: layer l's values from [seed, 0, l], positions from the cut's stream
(prune.cut_rng) in layer order.

Which runs (`starts_sparse`): burn_in=0, per-layer ranking, a cut made once, and a pruned layer
of DIRECT_MIN weights or more; smaller runs keep the dense path, whose results are pinned
bit for bit (tests/test_reference.py). Memory and time are O(surviving weights + units).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import erfc, erfcinv

from ..engine import net as N
from .init import sparse_factor
from .prune import KeepMask, compact_positions, cut_rng, parse_rule

DIRECT_MIN = 1 << 22  # weights: a pruned layer this large (32 MiB dense) is drawn sparse at a sparse start


DRAWN = ("keep", "fraction", "random", "erk", "halving", "threshold")  # the rules `kept_count` can count


def starts_sparse(cfg, shapes) -> bool:
    """Are this run's pruned layers drawn sparse (see the module doc)? A rule registered
    without a count here (prune.py's registry) cuts dense weights, as any rule can."""
    layers = cfg.pruned_layer_indices()
    return (cfg.burn_in == 0 and bool(layers) and cfg.prune_scope == "layer" and cfg.prune_schedule == "once"
            and parse_rule(cfg.prune).name in DRAWN and max(shapes[l][0] * shapes[l][1] for l in layers) >= DIRECT_MIN)


# -- the init distribution's |w| -----------------------------------------------------------
def _spread(kind: str, shape, scale: float) -> float:
    """post/glorot: the uniform's half-width; he: the normal's standard deviation."""
    n_in, n_out = shape
    return {"post": scale, "glorot": math.sqrt(6.0 / (n_in + n_out)), "he": math.sqrt(2.0 / n_in)}[kind]


def tail(kind: str, shape, scale: float, t: float) -> float:
    """P(|w| >= t) under the init `kind` of a layer of `shape`."""
    s = _spread(kind, shape, scale)
    return float(erfc(t / (s * math.sqrt(2.0)))) if kind == "he" else max(0.0, 1.0 - t / s)


def magnitude(kind: str, shape, scale: float, q: np.ndarray) -> np.ndarray:
    """|w| with tail probability q, P(|w| >= |w|) = q (the inverse of `tail`)."""
    s = _spread(kind, shape, scale)
    return s * math.sqrt(2.0) * erfcinv(q) if kind == "he" else s * (1.0 - q)


def draw_values(kind: str, shape, scale: float, n: int, rng: np.random.Generator) -> np.ndarray:
    """n iid initial weights, as init.init_weights draws them."""
    s = _spread(kind, shape, scale)
    return rng.normal(0.0, s, n) if kind == "he" else rng.uniform(-s, s, n)


def top_magnitudes(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """Tail probabilities of the n largest of `size` iid continuous values, smallest first: the
    n smallest of `size` uniforms, S_k / (S_n + G) with S the cumulative sums of n standard
    exponentials and G ~ Gamma(size + 1 - n). O(n) draws."""
    if n == 0:
        return np.zeros(0)
    s = np.cumsum(rng.standard_exponential(n))
    return s / (s[-1] + rng.standard_gamma(size + 1 - n))


def sample_positions(size: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """n distinct positions drawn uniformly from range(size), sorted (int64). Up to half the
    range: draws with replacement, kept distinct, topped up, then a uniform subset of n --
    O(n) memory and draws. Above half: the complement, through a boolean mask of `size` (the
    positions kept are then larger than it anyway)."""
    if n > size // 2:
        keep = np.ones(size, dtype=bool)
        keep[sample_positions(size, size - n, rng)] = False
        return np.flatnonzero(keep).astype(np.int64)
    got = np.zeros(0, np.int64)
    while len(got) < n:
        deficit = n - len(got)
        m = int(deficit * 1.1 * size / (size - len(got))) + 16
        got = np.unique(np.concatenate([got, rng.integers(0, size, m)]))
    if len(got) > n:  # a uniform subset of a uniform set is uniform
        got = np.delete(got, rng.choice(len(got), len(got) - n, replace=False))
    return got


def kept_count(rule, shape, kind: str, scale: float, rng: np.random.Generator) -> int:
    """How many weights `rule` keeps of a layer of `shape` at step 0 (threshold: a binomial draw)."""
    n_in, n_out = shape
    size, v = n_in * n_out, rule.value
    if rule.name == "keep":
        return min(int(v), size)
    if rule.name in ("fraction", "random"):
        return size - int(round(v * size))
    if rule.name == "erk":
        return min(size, int(round(v * (n_in + n_out))))
    if rule.name == "halving":
        n = size
        for _ in range(int(v)):
            n = (n + 1) // 2
        return n
    if rule.name == "threshold":
        return int(rng.binomial(size, tail(kind, shape, scale, v)))
    raise ValueError(f"no sparse draw for prune={rule}")


def draw_layer(rule, shape, kind: str, scale: float, positions_rng, values_rng):
    """One pruned layer's surviving weights at step 0: (sorted flat positions, values)."""
    size = shape[0] * shape[1]
    n = kept_count(rule, shape, kind, scale, positions_rng)
    pos = sample_positions(size, n, positions_rng)
    if rule.name in ("erk", "random"):
        return pos, draw_values(kind, shape, scale, n, values_rng)
    if rule.name == "threshold":
        q = values_rng.random(n) * tail(kind, shape, scale, rule.value)
    else:
        q = values_rng.permutation(top_magnitudes(n, size, values_rng))
    sign = np.where(values_rng.random(n) < 0.5, -1.0, 1.0)
    return pos, sign * magnitude(kind, shape, scale, q)


def sparse_start(cfg, shapes, kind: str, compact_units: bool = True):
    """The net of a sparse start: (SparseNet, KeepMask per layer). `kind`: the resolved init;
    compact_units=False with rewiring (regrowth needs every unit)."""
    rule, pruned = parse_rule(cfg.prune), set(cfg.pruned_layer_indices())
    prng = cut_rng(cfg.seed)
    vrngs = [np.random.default_rng([cfg.seed, 0, l]) for l in range(len(shapes))]
    drawn = [draw_layer(rule, s, kind, cfg.init_scale, prng, vrngs[l]) if l in pruned else (None, None)
             for l, s in enumerate(shapes)]
    hidden, sel = compact_positions(shapes, [p for p, _ in drawn], units_kept=compact_units)
    units = [np.arange(shapes[0][0]), *hidden, np.arange(shapes[-1][1])]
    rows, cols, values, masks = [], [], [], []
    for l, (n_in, n_out) in enumerate(shapes):
        ui, uo = units[l], units[l + 1]
        if l in pruned:
            pos = drawn[l][0][sel[l]]
            r, c = np.divmod(pos, n_out)
            v = drawn[l][1][sel[l]]
            f = sparse_factor(kind, (n_in, n_out), r, c)
            if f is not None:
                v = v * f
            if len(ui) < n_in:
                r = np.searchsorted(ui, r)
            if len(uo) < n_out:
                c = np.searchsorted(uo, c)
            masks.append(KeepMask((n_in, n_out), positions=pos))
        else:
            r = np.repeat(np.arange(len(ui), dtype=np.int64), len(uo))
            c = np.tile(np.arange(len(uo), dtype=np.int64), len(ui))
            v = draw_values(kind, (n_in, n_out), cfg.init_scale, len(r), vrngs[l])
            masks.append(KeepMask((n_in, n_out), units=(ui, uo)))
        rows.append(r)
        cols.append(c)
        values.append(v)
    net, _ = N.SparseNet.from_positions(shapes, units, rows, cols, values)
    return net, masks
