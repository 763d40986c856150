"""Initial weights: the post's tiny uniform weights, He or Glorot, and their sparse rescaling.

    post     uniform in +-init_scale (the post: 1e-5); learns with tanh, not in deep ReLU nets
    he       normal(0, sqrt(2 / fan_in))          (He et al. 2015, for ReLU)
    glorot   uniform in +-sqrt(6 / (fan_in + fan_out))   (Glorot & Bengio 2010)
    auto     post for tanh, he for relu (RunConfig.init's default)

fan_in counts the input layer's bias row. Every layer is drawn dense from the run's
initial-weights stream (np.random.default_rng([seed, 0])) in layer order, so the cut at step 0
ranks exactly these weights. A layer that starts sparse (cut at step 0) has each unit's
surviving weights rescaled to its actual fan-in (`rescale_sparse`): a unit with 13 surviving
inputs gets the spread He would give a dense unit with 13 inputs, so the signal neither
vanishes nor explodes through sparse layers. The post's init has no fan-in and is left as is.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError

INITS = ("auto", "post", "he", "glorot")


def resolve(init: str, activation: str) -> str:
    """The init a run uses: `auto` follows the activation (post for tanh, he for relu)."""
    if init not in INITS:
        raise ConfigError(f"init={init!r}: expected one of {', '.join(INITS)}")
    if init == "auto":
        return "he" if activation == "relu" else "post"
    return init


def init_weights(sizes, kind: str, scale: float, rng: np.random.Generator) -> list[np.ndarray]:
    """One (n_in, n_out) float64 array a layer, for levels of `sizes` (bias row counted)."""
    out = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        if kind == "post":
            out.append(rng.uniform(-scale, scale, size=(a, b)))
        elif kind == "he":
            out.append(rng.normal(0.0, np.sqrt(2.0 / a), size=(a, b)))
        elif kind == "glorot":
            lim = np.sqrt(6.0 / (a + b))
            out.append(rng.uniform(-lim, lim, size=(a, b)))
        else:
            raise ConfigError(f"init={kind!r}: expected post, he or glorot")
    return out


def sparse_factor(kind: str, shape, rows: np.ndarray, cols: np.ndarray) -> np.ndarray | None:
    """Per surviving weight (rows[k], cols[k]) of an (n_in, n_out) layer, the factor that turns
    its dense-drawn value into one drawn for the actual fan-in (and fan-out, for glorot):
    he sqrt(n_in / fan_in_j), glorot sqrt((n_in + n_out) / (fan_in_j + fan_out_i)); None
    for the post's init (no fan-in in it)."""
    n_in, n_out = shape
    if kind == "post" or len(rows) == 0:
        return None
    fan_in = np.bincount(cols, minlength=n_out)[cols]
    if kind == "he":
        return np.sqrt(n_in / fan_in)
    fan_out = np.bincount(rows, minlength=n_in)[rows]
    return np.sqrt((n_in + n_out) / (fan_in + fan_out))


def rescale_sparse(W: np.ndarray, mask: np.ndarray, kind: str) -> None:
    """Rescale, in place, the weights of a layer that starts sparse (keep-mask `mask`) to
    each unit's actual fan-in (see `sparse_factor`); pruned weights are left alone."""
    rows, cols = np.nonzero(mask)
    f = sparse_factor(kind, W.shape, rows, cols)
    if f is not None:
        W[rows, cols] *= f
