"""Inputs that are not images: what the survivors and connectivity views draw instead of pictures.

Where the data have an image shape (the registry's data sets, or `image_shape=` given to
Dataset.from_arrays) the views draw images. Where they have feature names instead (a CSV's
header, from_arrays without an image shape, OpenML) they draw per-feature bars: the features
ranked by what they keep, the top MAX_BARS of them, named. Bare arrays (`Trainer.fit((X, y))`)
have neither: a square number of inputs is still drawn as a square image (and three squares as
colour channels), anything else as bars.

The bars live on a third pair of axes over the image's place (`add_bar_axes`); `show_bars`
switches a figure between the two, so one dashboard shows images for one run and bars for the
next.
"""

from __future__ import annotations

import math

import numpy as np

MAX_BARS = 16           # features named in a 340-pixel-high view (one label a bar); the rest are counted in the title
NAME_CHARS = 22         # longer feature names are cut (the full name is in the hover)


def input_shape(trainer, n_inputs: int, image_shape=None):
    """The image shape to draw `n_inputs` inputs as, or None for per-feature bars (module doc)."""
    data = getattr(trainer, "data", None)
    shape = image_shape or getattr(data, "image_shape", None)
    if shape is not None and math.prod(shape) == n_inputs:
        return tuple(shape)
    if getattr(data, "feature_names", None) is not None:
        return None
    side = math.isqrt(n_inputs)
    if side * side == n_inputs:
        return (side, side)
    s3 = math.isqrt(n_inputs // 3)
    return (s3, s3, 3) if n_inputs % 3 == 0 and s3 * s3 * 3 == n_inputs else None


def names_of(trainer, n_inputs: int) -> list[str]:
    names = getattr(getattr(trainer, "data", None), "feature_names", None)
    return list(names) if names is not None and len(names) == n_inputs else [f"x{j}" for j in range(n_inputs)]


def top(score: np.ndarray, k: int = MAX_BARS) -> np.ndarray:
    """Indices of the k largest scores, largest first (ties: the lower index)."""
    order = np.lexsort((np.arange(len(score)), -score))
    return order[:k]


def short(names, idx) -> list[str]:
    out = []
    for j in idx:
        n = str(names[j])
        out.append(n if len(n) <= NAME_CHARS else n[:NAME_CHARS - 1] + "…")
    return out


def add_bar_axes(layout: dict) -> dict:
    """Axes x3/y3 over the image's place, hidden until `show_bars`: features down, ranked."""
    layout["xaxis3"] = dict(domain=layout["xaxis"].get("domain", [0, 0.5]), anchor="y3", visible=False,
                            zeroline=True, zerolinecolor="#999")
    layout["yaxis3"] = dict(domain=layout["yaxis"].get("domain", [0, 1]), anchor="x3", visible=False,
                            autorange="reversed", automargin=True, tickfont=dict(size=9), type="category",
                            dtick=1)
    return layout


def show_bars(patch, bars: bool, image_traces=(0,), bar_traces=()) -> None:
    """Show the bars (True) or the image (False) of a figure built with add_bar_axes."""
    for i in image_traces:
        patch.data[i].visible = not bars
    for i in bar_traces:
        patch.data[i].visible = bars
    patch.layout.xaxis3.visible = bars
    patch.layout.yaxis3.visible = bars
