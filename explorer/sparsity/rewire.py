"""Dynamic sparse training: rewiring rules, and one rewiring of a sparse engine.

A rule is a short string (RunConfig.rewire, `explorer train --rewire`):

    none     keep the cut's pattern (the default)
    set:f    SET (Mocanu et al. 2018): every rewire_every steps each pruned layer drops the
             fraction f of its surviving weights closest to zero and regrows as many at
             random empty positions; new weights start small (uniform in +-init_scale)
    rigl:f   RigL (Evci et al. 2020): drops as SET, with f decayed by a cosine up to
             rewire_until (default: 75% of the steps), and regrows where the magnitude of
             the dense gradient, over rewire_batch training samples, is largest; new
             weights start at zero

Every rule is one `@rewiring(...)` function: grow(n, occupied, shape, rng, ctx) returns the
n flat positions (i * n_out + j of the (n_in, n_out) layer) to regrow, chosen among those
empty before the rewiring (a weight just dropped is not regrown at once), and their initial
values. The drop is the same for every rule (smallest |w|), so the budget is exact: a layer
keeps its number of weights through any number of rewirings. Momentum buffers follow their
weights and start at 0 for regrown ones. `rewire_engine` does one rewiring and returns a
`RewireEvent` (trainer.state.last_rewire), what hooks (on_rewire) and views read.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..engine import net as N
from ..errors import ConfigError, shown
from .prune import churn


@dataclass(frozen=True)
class RewireKind:
    """One rewiring rule: its name, its grow function and what else it needs."""

    name: str
    arg: str  # "f": the fraction dropped and regrown ("" for none)
    help: str
    grow: Callable | None  # grow(n, occupied, shape, rng, ctx) -> (positions, values); None for none
    gradient: bool = False  # grow reads ctx.score(l): |dense gradient| over rewire_batch samples
    cosine: bool = False  # the fraction decays by a cosine up to rewire_until
    until: float = 1.0  # default rewire_until, as a fraction of the steps after the burn-in
    slider: tuple = (0.0, 1.0, 0.01, 0.3)  # dashboard (min, max, step, default)
    example: float = 0.3
    label: str = "drop fraction"

    def syntax(self) -> str:
        return self.name if not self.arg else f"{self.name}:{self.arg}"


REWIRINGS: dict[str, RewireKind] = {"none": RewireKind("none", "", "no rewiring: the cut's pattern stays", None)}


def rewiring(name: str, help: str, **spec):
    """Register `grow(n, occupied, shape, rng, ctx) -> (positions, values)` as the rule `name:f`."""
    def register(fn):
        REWIRINGS[name] = RewireKind(name, "f", help, fn, **spec)
        return fn
    return register


@rewiring("set", "SET: drop the fraction f of each pruned layer's weights closest to zero, regrow as many at "
                 "random empty positions (new weights small: +-init_scale)")
def _set(n, occupied, shape, rng, ctx):
    return random_empty(n, occupied, shape[0] * shape[1], rng), rng.uniform(-ctx.scale, ctx.scale, n)


@rewiring("rigl", "RigL: drop as SET (f decayed by a cosine, stopped at rewire_until), regrow where the dense "
                  "|gradient| is largest (new weights 0)", gradient=True, cosine=True, until=0.75)
def _rigl(n, occupied, shape, rng, ctx):
    score = ctx.score(ctx.layer).copy()
    score[occupied] = -1.0  # occupied positions are never chosen
    top = np.argpartition(-score, n - 1)[:n] if n else np.zeros(0, np.int64)
    return np.sort(top).astype(np.int64), np.zeros(n)


def rewirings_help() -> str:
    """'none | set:f | rigl:f' for help texts and error messages."""
    return " | ".join(r.syntax() for r in REWIRINGS.values())


@dataclass(frozen=True)
class Rewire:
    name: str
    value: float = 0.0

    @property
    def kind(self) -> RewireKind:
        return REWIRINGS[self.name]

    def __str__(self):
        return self.name if not self.kind.arg else f"{self.name}:{self.value:g}"


def parse_rewire(text) -> Rewire:
    """Parse 'set:0.3' etc. into a Rewire; ConfigError naming the bad part (f in (0, 1])."""
    if isinstance(text, Rewire):
        return text
    expected = f"expected {rewirings_help()} (e.g. 'set:0.3')"
    if not isinstance(text, str):
        raise ConfigError(f"rewire={shown(text)}: {expected}")
    t = text.strip().lower()
    if t in ("none", ""):
        return Rewire("none")
    name, sep, arg = t.partition(":")
    if name not in REWIRINGS or not REWIRINGS[name].arg or not sep:
        raise ConfigError(f"rewire={shown(text)}: {expected}")
    try:
        v = float(arg)
    except ValueError:
        raise ConfigError(f"rewire={shown(text)}: {shown(arg)} is not a number; {expected}") from None
    if not (math.isfinite(v) and 0 < v <= 1):
        raise ConfigError(f"rewire={shown(text)}: {name} takes a fraction f with 0 < f <= 1, e.g. {name}:0.3")
    return Rewire(name, v)


def random_empty(n: int, occupied: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """n distinct flat positions in [0, size) drawn uniformly among those not in `occupied`
    (sorted), sorted; O(n + len(occupied)) by rejection while the layer is not nearly full."""
    free = size - len(occupied)
    if n > free:
        raise ValueError(f"cannot regrow {n} weights in a layer with {free} empty positions")
    if n == 0:
        return np.zeros(0, np.int64)
    if free < 4 * n:  # nearly full: list the empty positions
        empty = np.setdiff1d(np.arange(size, dtype=np.int64), occupied, assume_unique=True)
        return np.sort(rng.choice(empty, size=n, replace=False))
    got = np.zeros(0, np.int64)
    while len(got) < n:
        m = n - len(got)
        c = np.concatenate([got, rng.integers(0, size, size=m + 16 + m // 2)])
        o = np.argsort(c * len(c) + np.arange(len(c)))  # by position, equal draws in draw order
        cs = c[o]
        bad = np.zeros(len(c), bool)
        if len(occupied):
            bad = occupied[np.minimum(np.searchsorted(occupied, cs), len(occupied) - 1)] == cs
        bad[1:] |= cs[1:] == cs[:-1]  # a repeat of an earlier draw
        ok = np.empty(len(c), bool)
        ok[o] = ~bad
        got = c[ok][:n]  # the first n good draws: no bias towards small positions
    return np.sort(got)


@dataclass
class RewireEvent:
    """One rewiring (trainer.state.last_rewire): at `step`, with the drop fraction `fraction`;
    per rewired layer l: layers[l] = {"dropped", "regrown", "alive", "churn"} (churn:
    prune.churn of the layer's flat index masks before and after) and regrown[l], a
    bool array aligned with state.layers[l].values: True for the weights regrown now."""

    step: int
    rule: str
    fraction: float
    layers: dict = field(default_factory=dict)
    regrown: dict = field(default_factory=dict)

    def __repr__(self):
        n = sum(v["regrown"] for v in self.layers.values())
        return f"RewireEvent(step={self.step}, {self.rule}, fraction={self.fraction:.3g}, regrown={n})"


class _Context:
    """What a grow function may read: the layer, the scale of new weights, and (lazily, once
    per rewiring) the |dense gradient| of the rewired layers."""

    def __init__(self, scale, gradient_fn):
        self.scale, self._gradient_fn, self._scores, self.layer = scale, gradient_fn, None, None

    def score(self, l: int) -> np.ndarray:
        if self._scores is None:
            self._scores = self._gradient_fn()
        return self._scores[l]


def dense_gradients(net: N.SparseNet, X, y, relu: bool, layers) -> dict[int, np.ndarray]:
    """|H^T D| of `layers` in their original (n_in, n_out) shape, flattened, for the batch X
    (raw inputs), through the sparse net (scipy, no dropout): the gradient the weights would
    get if every position were alive. O(n_in * n_out * B) for each layer asked."""
    csr = [net.csr(l) for l in range(net.n_layers)]
    H = N.forward(csr, N.with_bias(X), relu)
    _, Ds = N.backward(csr, H, y, relu)
    out = {}
    for l in layers:
        g = np.abs(H[l].T @ Ds[l + 1])
        if g.shape != tuple(net.orig_shapes[l]):  # compacted units: back to the full layer
            full = np.zeros(net.orig_shapes[l])
            full[np.ix_(net.units[l], net.units[l + 1])] = g
            g = full
        out[l] = g.ravel()
    return out


def rewire_engine(engine, layers, rule: Rewire, fraction: float, rng: np.random.Generator, step: int,
                  scale: float = 0.0, batch=None) -> RewireEvent:
    """One rewiring of the sparse `engine`'s `layers`: each drops round(fraction * alive)
    weights (smallest |w|; at most as many as it has empty positions) and regrows as many
    where `rule` says. `batch` = (X, y): the samples of RigL's gradient."""
    kind = rule.kind
    ev = RewireEvent(step, str(rule), fraction)
    X, y = batch if batch is not None else (None, None)
    net = engine.net  # unchanged until set_layers below (a MaskedEngine builds it on each read)
    ctx = _Context(scale, lambda: dense_gradients(net, X, y, engine.relu, layers))
    changes = {}
    for l in layers:
        pos, vals, vel = engine.layer(l)
        shape = net.orig_shapes[l]
        nnz = len(pos)
        k = min(int(round(fraction * nnz)), shape[0] * shape[1] - nnz)
        keep = np.ones(nnz, dtype=bool)
        if 0 < k < nnz:
            keep[np.argpartition(np.abs(vals), k - 1)[:k]] = False  # the k smallest |w|
        elif k:
            keep[:] = False
        ctx.layer = l
        new_pos, new_vals = kind.grow(k, pos, shape, rng, ctx) if k > 0 else (np.zeros(0, np.int64), np.zeros(0))
        P = np.concatenate([pos[keep], new_pos])
        order = np.argsort(P, kind="stable")
        grown = np.concatenate([np.zeros(nnz - k, bool), np.ones(k, bool)])[order]
        M = None if vel is None else np.concatenate([vel[keep], np.zeros(k)])[order]
        changes[l] = (P[order], np.concatenate([vals[keep], new_vals])[order], M)
        ev.layers[l] = {"dropped": k, "regrown": k, "alive": nnz, "churn": churn(pos, P[order])}
        ev.regrown[l] = grown
    engine.set_layers(changes)
    return ev
