"""A run's pattern and how it changes: the cut on dense weights, a gradual schedule's cuts and a
rewiring, one function each (the trainer calls them at the steps schedule.py gives and then
asks masked.engine_for which engine trains the new pattern). The cut of a sparse start is
start.py's draw. Pure functions of their arguments; the trainer keeps the state.
"""

from __future__ import annotations

import numpy as np

from ..engine import net as N
from . import init as I
from . import schedule as S
from .prune import KeepMask, compact_positions, compact_units
from .rewire import rewire_engine


def dense_cut(W, V, cut: dict, shapes, gradual: bool, compact: bool, rescale: str | None):
    """The cut on dense weights W (momentum V or None): `cut` {layer: the rule's keep-mask} (all
    kept for a gradual schedule, whose first cut this is: the masks' counts become its
    targets), dead units compacted away unless `compact` is False (rewiring regrows into every
    unit), the cut layers rescaled to their fan-in with the init `rescale` (a cut at step 0).
    Returns (SparseNet, momentum aligned with it or None, a KeepMask per layer, the gradual
    targets {layer: final count})."""
    masks = [np.ones(shape, dtype=bool) for shape in shapes]
    targets, kept = {}, set()
    for l, m in cut.items():
        if gradual:
            targets[l] = int(m.sum())
        else:
            masks[l] = m.reshape(shapes[l])
            kept.add(l)
    units = compact_units(masks) if compact else [np.arange(s[1]) for s in shapes[:-1]]
    if rescale is not None:
        for l in cut:
            I.rescale_sparse(W[l], masks[l], rescale)
    net = N.SparseNet(W, masks, units)
    vel = None if V is None else np.concatenate([V[l].ravel()[net.positions(l)] for l in range(net.n_layers)])
    keep = [KeepMask(shape, positions=net.positions(l)) if l in kept else
            KeepMask(shape, units=(net.units[l], net.units[l + 1])) for l, shape in enumerate(shapes)]
    return net, vel, keep, targets


def gradual_cut(engine, targets: dict, step: int, burn_in: int, end: int, shapes, compact: bool) -> None:
    """A cut of a gradual schedule, in place: each cut layer keeps its largest |w|, as many as the
    cubic schedule says at `step` (schedule.cubic_count), then dead units are compacted away
    (unless `compact` is False)."""
    layers = {l: engine.layer(l) for l in range(len(shapes))}
    for l, n_final in targets.items():
        pos, vals, vel = layers[l]
        n = S.cubic_count(step, burn_in, end, n_final, shapes[l][0] * shapes[l][1])
        keep = np.sort(np.argsort(np.abs(vals), kind="stable")[max(len(vals) - n, 0) :])
        layers[l] = (pos[keep], vals[keep], None if vel is None else vel[keep])
    units = None
    if compact:
        units, sel = compact_positions(shapes, [layers[l][0] for l in sorted(layers)])
        layers = {l: tuple(None if a is None else a[sel[l]] for a in layers[l]) for l in layers}
    engine.set_layers(layers, units)


def rewire(engine, cfg, rewiring, data, step: int):
    """A rewiring of the cut layers (rewire.py) at `step`: the drop fraction of this step (RigL's
    decays), RigL's gradient samples [seed, 4, step], the regrowth stream [seed, 3, step].
    Returns the RewireEvent."""
    kind, f = rewiring.kind, rewiring.value
    if kind.cosine:
        f = S.cosine_fraction(step, cfg.burn_in, cfg.rewire_until_step(), f)
    batch = None
    if kind.gradient:
        idx = np.random.default_rng([cfg.seed, 4, step]).integers(0, data.n_train, cfg.rewire_batch)
        batch = (data.X[idx], data.y[idx])
    return rewire_engine(engine, cfg.pruned_layer_indices(), rewiring, f, np.random.default_rng([cfg.seed, 3, step]),
                         step, cfg.init_scale, batch)
