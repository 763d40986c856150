"""Mask overlap and stability: how much of an early keep-mask survives to a late one.

    jaccard, random_jaccard             overlap of two boolean masks, and its chance level
    mask_overlap -> Overlap             the masks a pruning rule keeps at two steps, compared
    mask_stability -> MaskStability     that overlap as a function of burn-in length
    jaccard_index, churn, coverage      the same questions for masks given as sorted flat
                                        indices: no dense copy, so a million hidden units fit

Dense masks come from explorer.sparsity.prune.keep_flat, the trainer's own rule code. An index
mask is the sorted int64 positions of the surviving weights in the flattened (n_in, n_out)
layer (row-major: position i * n_out + j is input i -> unit j), e.g. np.flatnonzero(mask); its
statistics cost O(surviving weights) memory (plus n_out counters for `coverage`), never
O(n_in * n_out). `churn` and the index checks live in sparsity/prune.py, beside the rule code:
a rewiring records its churn, and the rules must not import the statistics that measure them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..errors import ExplorerError
from ..sparsity.prune import _indices, _n_common, churn, keep_flat  # noqa: F401 -- churn: re-exported by explorer.stats
from ._checks import _finite, _same_shape


def jaccard(mask_a, mask_b) -> float:
    """|A and B| / |A or B| of two boolean masks of the same shape (1.0 if both are empty).

    Raises ExplorerError if the shapes differ.
    """
    a, b = np.asarray(mask_a, dtype=bool), np.asarray(mask_b, dtype=bool)
    _same_shape("jaccard", a, b, "mask_a", "mask_b")
    union = int(np.count_nonzero(a | b))
    return int(np.count_nonzero(a & b)) / union if union else 1.0


def random_jaccard(n_a: int, n_b: int, size: int) -> float:
    """Expected Jaccard of two random masks holding n_a and n_b of `size` entries.

    Analytic, as the ratio of expectations: E|A and B| = n_a n_b / size (hypergeometric),
    J = I / (n_a + n_b - I). The intersection's relative spread is O(1/sqrt(I)), so for
    layer-sized masks the error of the ratio is far below the third decimal.
    """
    if size == 0 or n_a + n_b == 0:
        return 1.0
    i = n_a * n_b / size
    return i / (n_a + n_b - i)


@dataclass(repr=False)
class Overlap:
    """Result of `mask_overlap`: is the early mask the late mask?"""

    jaccard: float  # |early and late| / |early or late|
    recall: float  # fraction of the late-kept weights already kept early
    random_jaccard: float  # expected Jaccard for a random early mask of the same size
    random_recall: float  # expected recall for it (= n_early / size)
    n_early: int  # weights kept by the rule at the early step
    n_late: int  # ... at the late step
    n_both: int
    size: int
    rule: str = ""

    def __repr__(self):
        return (f"Overlap({self.rule}: jaccard={self.jaccard:.3f} (random {self.random_jaccard:.3f}), "
                f"recall={self.recall:.3f} (random {self.random_recall:.3f}), kept {self.n_early} early / "
                f"{self.n_late} late of {self.size})")


def _rule_mask(fn, w, rule, rng):
    a = np.asarray(w)
    _finite(fn, a, "weights")
    return keep_flat(np.abs(a).ravel(), rule, rng)


def _overlap(m0: np.ndarray, m1: np.ndarray, rule) -> Overlap:
    n0, n1 = int(np.count_nonzero(m0)), int(np.count_nonzero(m1))
    both = int(np.count_nonzero(m0 & m1))
    union = n0 + n1 - both
    return Overlap(jaccard=both / union if union else 1.0, recall=both / n1 if n1 else 1.0,
                   random_jaccard=random_jaccard(n0, n1, m0.size), random_recall=n0 / m0.size,
                   n_early=n0, n_late=n1, n_both=both, size=int(m0.size), rule=str(rule))


def mask_overlap(w_early, w_late, rule, rng: np.random.Generator | None = None) -> Overlap:
    """How much of what `rule` keeps at an early step it still keeps at a late step.

    Inputs: the same layer's weights at two steps (same shape) and a pruning-rule string
    as the trainer takes it ("fraction:0.9", "halving:5", ...); the masks come from
    explorer.sparsity.prune.keep_flat(|w|, rule, rng), the trainer's own rule code. `rng` is only
    used by "random:f"; with rng=None both masks are drawn with seed 0 (the same mask).
    Output: Overlap with jaccard, recall (fraction of late-kept weights already kept
    early), random_jaccard / random_recall (expected values for a random early mask of the
    same size, analytic: see `random_jaccard`), n_early, n_late. Raises ExplorerError for
    mismatched shapes, empty or NaN input; ConfigError for a malformed rule.
    For boolean masks you already have, use `jaccard(mask_a, mask_b)`.
    """
    w0, w1 = np.asarray(w_early), np.asarray(w_late)
    _same_shape("mask_overlap", w0, w1, "w_early", "w_late")
    m0, m1 = _rule_mask("mask_overlap", w0, rule, rng), _rule_mask("mask_overlap", w1, rule, rng)
    return _overlap(m0, m1, rule)


@dataclass(repr=False)
class MaskStability:
    """Result of `mask_stability`: overlap of each snapshot's mask with a reference mask."""

    steps: np.ndarray  # (S,) step of each snapshot
    jaccard: np.ndarray  # (S,) Jaccard with the reference mask
    recall: np.ndarray  # (S,) fraction of the reference-kept weights already kept at the step
    random_jaccard: np.ndarray  # (S,) what a random mask of the same size would give
    distance_prev: np.ndarray  # (S,) Early-Bird mask distance to the previous snapshot (NaN first)
    reference_step: int | None = None  # step of the reference (None: an array was given)
    rule: str = ""
    n_kept: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def stable_from(self, threshold: float = 0.9) -> int | None:
        """First step from which the Jaccard with the reference stays >= threshold, or None."""
        ok = self.jaccard >= threshold
        if not ok[-1]:
            return None
        bad = np.flatnonzero(~ok)
        return int(self.steps[bad[-1] + 1 if bad.size else 0])

    def early_bird(self, eps: float = 0.1, window: int = 5) -> int | None:
        """Early-Bird stopping step: first step at which the last `window` consecutive mask
        distances are all < eps (You et al. 2020 use eps=0.1 over 5 epochs), or None.

        Caveat: the distance is over all entries, so a rule keeping a fraction k can never
        exceed 2k (halving:5 keeps ~3%: at most ~0.06); scale eps with k, or read `jaccard`."""
        d = self.distance_prev
        for i in range(window, len(d)):
            if np.all(d[i - window + 1 : i + 1] < eps):
                return int(self.steps[i])
        return None

    def __repr__(self):
        rows = ", ".join(f"{s}: {j:.2f}" for s, j in zip(self.steps[:8], self.jaccard[:8], strict=True))
        more = ", ..." if len(self.steps) > 8 else ""
        ref = "given weights" if self.reference_step is None else f"step {self.reference_step}"
        stable = self.stable_from()
        return (f"MaskStability({self.rule}, reference {ref}, "
                f"jaccard by step {{{rows}{more}}}, "
                f"random ~{np.nanmean(self.random_jaccard):.2f}, stable (>=0.9) from "
                f"{'never' if stable is None else f'step {stable}'})")


def mask_stability(snapshots, rule, reference=None, rng: np.random.Generator | None = None) -> MaskStability:
    """Overlap of the rule's mask at each snapshot with its mask at a reference snapshot.

    Inputs: `snapshots`, a sequence of (step, weights) pairs of one layer (e.g. the input
    layer after burn-ins of 0, 10, 20, ... steps, or snapshots a Recorder kept), all the
    same shape, in increasing step order; `rule` a pruning-rule string; `reference` None
    (the last snapshot), a step present in `snapshots`, or a weight array. Output:
    MaskStability with per-snapshot `jaccard`, `recall`, `random_jaccard` (see
    `mask_overlap`) and `distance_prev`, the Early-Bird mask distance (fraction of entries
    whose keep/kill decision differs from the previous snapshot).

    How to read it: jaccard rises from the random level towards 1 as the burn-in gets
    longer. The burn-in a rule needs is where the curve flattens near 1 (`stable_from(0.9)`):
    cutting there keeps ~the same weights as cutting much later. A curve still near
    `random_jaccard` means the magnitudes carry no information yet (the cut is as good as
    random pruning); recall says which share of the finally-important weights an early cut
    already saved. The Early-Bird criterion (You et al., ICLR 2020) needs no reference: it
    stops once consecutive masks differ in < eps of entries (`early_bird()`); the reference
    curve checks after the fact that such a stop was not premature.
    Raises ExplorerError for no snapshots, mismatched shapes, NaN, or an unknown reference
    step; ConfigError for a malformed rule.
    """
    snaps = [(int(s), np.asarray(w)) for s, w in snapshots]
    if not snaps:
        raise ExplorerError("mask_stability: received no snapshots; "
                            "expected a sequence of (step, weights) pairs")
    shape = snaps[0][1].shape
    for s, w in snaps:
        if w.shape != shape:
            raise ExplorerError(f"mask_stability: the snapshot at step {s} has shape {w.shape} but the first "
                                f"has {shape}; expected one layer's weights at several steps")
    if reference is None:
        ref_step, ref_w = snaps[-1]
    elif isinstance(reference, (int, np.integer)):
        found = [w for s, w in snaps if s == int(reference)]
        if not found:
            steps = [s for s, _ in snaps][:10]
            raise ExplorerError(f"mask_stability: reference={reference} is not a snapshot step; "
                                f"expected one of {steps} or a weight array")
        ref_step, ref_w = int(reference), found[-1]
    else:
        ref_step, ref_w = None, np.asarray(reference)
        _same_shape("mask_stability", ref_w, snaps[0][1], "reference weights", "snapshots")
    ref = _rule_mask("mask_stability", ref_w, rule, rng)
    rows, prev, dist = [], None, []
    for _, w in snaps:
        m = _rule_mask("mask_stability", w, rule, rng)
        rows.append(_overlap(m, ref, rule))
        dist.append(math.nan if prev is None else float(np.count_nonzero(m != prev)) / m.size)
        prev = m
    col = lambda name: np.array([getattr(r, name) for r in rows], dtype=float)
    return MaskStability(steps=np.array([s for s, _ in snaps]), jaccard=col("jaccard"), recall=col("recall"),
                         random_jaccard=col("random_jaccard"), distance_prev=np.array(dist),
                         reference_step=ref_step, rule=str(rule),
                         n_kept=np.array([r.n_early for r in rows], dtype=np.int64))


# -- masks as sorted flat indices (no dense copy) ---------------------------------------------
def jaccard_index(a_idx, b_idx) -> float:
    """|A and B| / |A or B| of two masks given as sorted flat indices (1.0 if both are empty).

    Equals `jaccard(mask_a, mask_b)` with a_idx = np.flatnonzero(mask_a), without a dense
    mask (~0.1 s for two 5M-weight masks). Raises ExplorerError unless both are 1-D integer
    arrays of strictly increasing, non-negative positions.
    """
    a, b = _indices("jaccard_index", "a_idx", a_idx), _indices("jaccard_index", "b_idx", b_idx)
    both = _n_common(a, b)
    union = a.size + b.size - both
    return both / union if union else 1.0


def coverage(idx, n_in: int, n_out: int) -> tuple[float, float]:
    """(fraction of the n_in inputs with at least one kept weight, fraction of the n_out
    units with at least one), for a mask given as sorted flat indices of an (n_in, n_out) layer.

    Equals (mask.any(axis=1).mean(), mask.any(axis=0).mean()) of the dense mask; counts with
    np.bincount, so it needs O(len(idx) + n_in + n_out) memory. An empty mask gives (0.0, 0.0).
    Raises ExplorerError for n_in or n_out below 1, or `idx` as `jaccard_index` or with a
    position >= n_in * n_out.
    """
    for name, n in (("n_in", n_in), ("n_out", n_out)):
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ExplorerError(f"coverage: {name}={n!r}; expected a positive integer, the layer's shape "
                                f"(n_in, n_out)")
    a = _indices("coverage", "idx", idx, int(n_in) * int(n_out))
    rows, cols = np.divmod(a, int(n_out))
    used_in = np.count_nonzero(np.bincount(rows, minlength=int(n_in)))
    used_out = np.count_nonzero(np.bincount(cols, minlength=int(n_out)))
    return used_in / int(n_in), used_out / int(n_out)
